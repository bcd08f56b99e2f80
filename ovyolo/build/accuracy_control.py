"""INT8 within an accuracy budget: NNCF ``quantize_with_accuracy_control`` steered by dataset-level mAP50-95.

The plain INT8 IR (:mod:`ovyolo.build.quantize`) is built first, in NNCF's own first step, with exactly the settings of
``int8/`` (same FP32 IR, same calibration array, same preset, same ignored head ops, same bias correction). NNCF
then measures the FP32 and INT8 metric on a *tuning set* and, while ``fp32 - int8 > max_drop`` (absolute
mAP50-95), reverts the most harmful quantized op groups to float, one group per iteration.

Metric. :func:`dataset_map` scores a compiled model on the tuning images with the letterbox, NMS and COCOeval of
:func:`ovyolo.measure.evaluate.evaluate` (the numbers are the same kind as in ``metrics.json``).

Ranking (a deliberate choice). The validation function returns a plain float, not ``(float, per_item)``, so
NNCF ranks op groups by how far each group's INT8 outputs move from the FP32 outputs on the ranking subset, not
by a per-image metric. mAP of a single image with one to four objects is a step function (one box crossing an
IoU threshold moves it by 0.1 or more), so per-image mAP ranks groups by noise; and NNCF's metric mode would run
the full NMS + COCOeval per image per group, which costs far more. Output differences are smooth, cheap (one
inference per image per group) and correlate with the dataset mAP that decides when to stop.

Images. The images that steer accuracy control are never the images that report mAP: by default the tuning set
is train images that are *not* in the calibration manifest, chosen in the calibration's own seeded order (see
:func:`select_tuning_images`). A user may point it at the val split (``ac_tuning_split: val``); then the drop
reported on val is optimistic and ``accuracy_control.json`` says so (``optimistic_val_drop: true``).

Record. ``accuracy_control.json`` beside the IR holds the FP32, initial INT8 and final metrics on the tuning set,
the ops reverted to float (name, type, in order, with the metric after each step, including steps NNCF undid),
the iterations, the limits in effect and the time. These come from hooks around two NNCF calls (the revert of an
op group and the validation function), never from NNCF's log. ``accuracy_control.png`` plots the mAP drop
against the number of reverted ops.
"""
from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ovyolo.build.calibration import MIN_TUNING_IMAGES
from ovyolo.errors import WorkflowError
from ovyolo.layouts import LAYOUTS

log = logging.getLogger(__name__)

SUPPORTED_LAYOUTS = LAYOUTS  # every layout validation decodes
REPORT = "accuracy_control.json"
PLOT = "accuracy_control.png"


def check_settings(max_drop, tuning_images: int, max_iterations: int, family: str | None = None) -> None:
    """Refuse bad settings with one clear line, before any quantization work starts."""
    if max_drop is None:
        raise WorkflowError("quantization.max_drop is not set: the openvino-int8-ac variant needs an mAP50-95 budget")
    if isinstance(max_drop, bool) or not isinstance(max_drop, (int, float)) or not 0 <= max_drop <= 1:
        raise WorkflowError(
            f"quantization.max_drop must be an absolute mAP50-95 drop between 0 and 1 (e.g. 0.01), got {max_drop!r}"
        )
    if int(tuning_images) < MIN_TUNING_IMAGES:
        raise WorkflowError(
            f"quantization.ac_tuning_images is {tuning_images}; accuracy control needs at least {MIN_TUNING_IMAGES} "
            "images to measure mAP on"
        )
    if int(max_iterations) < 1:
        raise WorkflowError(f"quantization.ac_max_iterations must be at least 1, got {max_iterations}")
    if family is not None and family not in ("ultralytics", "yolov5", "onnx"):
        raise WorkflowError(f"accuracy control does not know model family '{family}'")


def check_model(meta: dict) -> None:
    """Refuse an FP32 IR whose outputs accuracy control cannot score (from its metadata.yaml), before any work."""
    layout, family = meta.get("layout"), meta.get("family")
    if layout not in SUPPORTED_LAYOUTS:
        raise WorkflowError(
            f"accuracy control cannot score a model with output layout {layout!r} (family {family!r}); "
            f"it supports {', '.join(SUPPORTED_LAYOUTS)}: remove quantization.max_drop for this model"
        )
    if not meta.get("names"):
        raise WorkflowError("accuracy control needs class names in the FP32 IR's metadata.yaml")


def select_tuning_images(images: list[Path], calibration_manifest: dict | str | Path, n: int, *, split: str = "train",
                         seed: int | None = None) -> tuple[list[Path], dict]:
    """The tuning set: up to ``n`` images of ``split`` that are not in the calibration manifest.

    Train images are taken in the calibration's seeded permutation order (the manifest's ``seed``), skipping
    those it used, so with a calibration that took the first N of that order the tuning set is the next ones.
    Unreadable images are skipped. Fewer than :data:`MIN_TUNING_IMAGES` usable images is an error.
    Returns the chosen paths and a record for the report.
    """
    from ovyolo.data.letterbox import load_letterboxed

    if not isinstance(calibration_manifest, dict):
        calibration_manifest = json.loads(Path(calibration_manifest).read_text())
    used = {str(Path(f).resolve()) for f in calibration_manifest.get("files", [])}
    seed = calibration_manifest.get("seed", 0) if seed is None else seed
    hw = tuple(calibration_manifest.get("hw", (64, 64)))
    order = np.random.default_rng(seed).permutation(len(images))
    chosen, skipped, excluded = [], 0, 0
    for idx in order:
        if len(chosen) >= n:
            break
        f = Path(images[int(idx)])
        if str(f.resolve()) in used:
            excluded += 1
            continue
        try:
            load_letterboxed(f, hw)
        except ValueError:
            skipped += 1
            continue
        chosen.append(f)
    if len(chosen) < MIN_TUNING_IMAGES:
        raise WorkflowError(
            f"accuracy control found only {len(chosen)} usable {split} images outside the calibration set "
            f"({len(images)} in the split, {len(used)} used for calibration); it needs at least {MIN_TUNING_IMAGES}: "
            "lower calibration.size, or add train images"
        )
    record = {"split": split, "requested": int(n), "count": len(chosen), "files": [str(f) for f in chosen],
              "excluded_calibration_images": excluded, "skipped_unreadable": skipped, "seed": seed,
              "optimistic_val_drop": split == "val"}
    if len(chosen) < n:
        record["warning"] = f"only {len(chosen)} of {n} requested tuning images available"
        log.warning(record["warning"])
    return chosen, record


@dataclass
class TuningItem:
    tensor: np.ndarray  # 1x3xhxw float32 in [0, 1]
    geo: object  # letterbox Geometry
    gt: np.ndarray  # (K, 5) cls, x1, y1, x2, y2 in source pixels


def load_items(images: list[Path], hw: tuple[int, int]) -> list[TuningItem]:
    from ovyolo.data.letterbox import load_letterboxed, to_tensor
    from ovyolo.measure.evaluate import gt_boxes

    items = []
    for f in images:
        canvas, geo = load_letterboxed(f, hw)
        items.append(TuningItem(np.ascontiguousarray(to_tensor(canvas), dtype=np.float32), geo,
                                gt_boxes(f, (geo.src_h, geo.src_w))))
    return items


def dataset_map(predict, items, names: list[str], layout: str, conf: float, iou: float) -> float:
    """mAP50-95 of ``predict`` (1x3xhxw -> raw output) over ``items``, with the validation's NMS and COCOeval."""
    from ovyolo.measure.evaluate import nms
    from ovyolo.measure.scoring import coco_eval

    preds, gts, sizes = [], [], []
    for it in items:
        det = nms(np.asarray(predict(it.tensor), dtype=np.float32), layout, len(names), conf=conf, iou=iou)
        det[:, :4] = it.geo.boxes_to_source(det[:, :4])
        preds.append(det)
        gts.append(it.gt)
        sizes.append((it.geo.src_h, it.geo.src_w))
    m = coco_eval(preds, gts, sizes, names)["mAP50_95"]
    return 0.0 if m is None else float(m)


class _Recorder:
    """Hooks around NNCF's op-group revert and the validation function: what was reverted and the metric after."""

    def __init__(self, n_items: int):
        self.n_items = n_items
        self.metrics: list[float] = []  # every full-set validation, in call order
        self.reverts: list[dict] = []  # every revert NNCF made, with the metric of the validation that followed
        self.hook_ok = True

    def on_metric(self, value: float, n: int) -> None:
        if n == self.n_items:  # NNCF's mode probe validates one item: not a measurement
            self.metrics.append(value)
            if self.reverts and self.reverts[-1]["metric"] is None:
                self.reverts[-1]["metric"] = value

    @contextlib.contextmanager
    def hooked(self):
        from nncf.quantization.algorithms.accuracy_control import algorithm

        original = getattr(algorithm, "revert_operations_to_floating_point_precision", None)
        if original is None:  # another NNCF: no step record, the metrics are still recorded
            log.warning("NNCF %s has no revert hook: accuracy_control.json lists no reverted ops", nncf_version())
            self.hook_ok = False
            yield self
            return

        def revert(operations, quantizers, *args, **kwargs):
            self.reverts.append({"ops": [{"name": op.node_name, "type": op.node_type} for op in operations],
                                 "quantizers": len(quantizers), "metric": None})
            return original(operations, quantizers, *args, **kwargs)

        algorithm.revert_operations_to_floating_point_precision = revert
        try:
            yield self
        finally:
            algorithm.revert_operations_to_floating_point_precision = original


def nncf_version() -> str:
    import nncf

    return nncf.__version__


def _steps(rec: _Recorder, fp32: float, kept_final: list[dict] | None) -> list[dict]:
    """Each revert with the mAP drop after it and whether NNCF kept it (a step that made things worse is undone)."""
    steps, reverted = [], 0
    for i, r in enumerate(rec.reverts):
        steps.append({"iteration": i + 1, "ops": r["ops"], "quantizers": r["quantizers"], "metric": r["metric"],
                      "drop": None if r["metric"] is None else fp32 - r["metric"]})
    # NNCF undoes a step when the drop grew after a previous step that already grew it: the next revert is then
    # applied to the model before that step. Mark kept steps by comparing with the final reverted op list.
    final_names = {o["name"] for o in kept_final} if kept_final is not None else None
    for s in steps:
        s["kept"] = None if final_names is None else all(o["name"] in final_names for o in s["ops"])
        if s["kept"]:
            reverted += len(s["ops"])
        s["reverted_ops_so_far"] = reverted
    return steps


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = [0], [report["int8_drop"]]
    for s in report["steps"]:
        if s["drop"] is not None:
            xs.append(s["reverted_ops_so_far"] if s["kept"] else s["reverted_ops_so_far"] + len(s["ops"]))
            ys.append(s["drop"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, ys, "o-", label="after each revert step")
    ax.axhline(report["max_drop"], color="r", ls="--", label=f"max_drop {report['max_drop']:g}")
    ax.set_xlabel("ops reverted to float")
    ax.set_ylabel(f"mAP50-95 drop vs FP32 (tuning set, {report['tuning']['count']} {report['tuning']['split']} imgs)")
    ax.set_title("INT8 accuracy control")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def quantize_ac(fp32_xml: str | Path, calibration: str | Path, hw: tuple[int, int], out_dir: str | Path,
                tuning_images: list[Path], *, max_drop: float, names: list[str], layout: str,
                preset: str | None = None, keep_head_float: bool | None = None,
                fast_bias_correction: bool | None = None, max_iterations: int | None = None,
                ranking_subset_size: int | None = None,
                threads: int = 1, conf: float | None = None, iou: float | None = None, tuning_record: dict | None = None,
                subset_size: int | None = None) -> dict:
    """Build the accuracy-controlled INT8 IR into ``out_dir`` (model.xml/.bin, metadata.yaml,
    accuracy_control.json, accuracy_control.png). Returns the report."""
    from ovyolo.build import calibration as cal
    from ovyolo.build.quantize import check_pair, head_ignored_names, recipe
    from ovyolo.config import default

    preset, keep_head_float, fast_bias_correction = recipe(preset, keep_head_float, fast_bias_correction)
    max_iterations = default("quantization.ac_max_iterations") if max_iterations is None else max_iterations
    conf = default("evaluation.conf") if conf is None else conf
    iou = default("evaluation.iou") if iou is None else iou
    check_settings(max_drop, len(tuning_images), max_iterations)
    if layout not in SUPPORTED_LAYOUTS:
        raise WorkflowError(f"accuracy control cannot score output layout '{layout}'; use one of {SUPPORTED_LAYOUTS}")
    fp32_xml = Path(fp32_xml)
    arr = cal.load(calibration)
    check_pair(fp32_xml, arr, hw)
    items = load_items(tuning_images, hw)

    import nncf
    import openvino as ov
    import yaml
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    from ovyolo.build.convert import save_ir
    from ovyolo.measure.runtimes import openvino_config

    t0 = time.time()
    core = ov.Core()
    model = core.read_model(str(fp32_xml))
    ignored = head_ignored_names(model) if keep_head_float else []
    n = len(arr) if subset_size is None else min(subset_size, len(arr))
    calib_ds = nncf.Dataset(range(n), lambda i: np.ascontiguousarray(arr[i][None], dtype=np.float32) / 255.0)
    tune_ds = nncf.Dataset(items, lambda it: it.tensor)
    rec = _Recorder(len(items))
    ov_cfg = openvino_config(threads, "f32", "LATENCY")

    def validation_fn(compiled_model, data_items) -> float:
        data_items = list(data_items)
        # NNCF compiles with INFERENCE_PRECISION_HINT=f32 (OVPreparedModel), so this is true f32 as in validation
        request = compiled_model.create_infer_request()
        out = compiled_model.outputs[0]
        m = dataset_map(lambda x: request.infer({0: x})[out], data_items, names, layout, conf, iou)
        rec.on_metric(m, len(data_items))
        return m

    restorer = AdvancedAccuracyRestorerParameters(
        max_num_iterations=int(max_iterations), num_ranking_workers=1,
        ranking_subset_size=min(ranking_subset_size or len(items), len(items)),
    )
    with rec.hooked():
        qmodel = nncf.quantize_with_accuracy_control(
            model, calib_ds, tune_ds, validation_fn, max_drop=float(max_drop), drop_type=nncf.DropType.ABSOLUTE,
            preset=nncf.QuantizationPreset.MIXED if preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE,
            subset_size=n, fast_bias_correction=fast_bias_correction,
            ignored_scope=nncf.IgnoredScope(names=ignored, validate=False) if ignored else None,
            advanced_accuracy_restorer_parameters=restorer,
        )
    seconds = time.time() - t0
    fp32_m = rec.metrics[0] if rec.metrics else None
    int8_m = rec.metrics[1] if len(rec.metrics) > 1 else None
    final_m = dataset_map(_infer_fn(core, qmodel, ov_cfg), items, names, layout, conf, iou)

    # Reverts NNCF kept, in order (a group it undid goes back into its ranking and may come back later).
    reverted = _kept_reverts(rec, float(max_drop))
    steps = _steps(rec, fp32_m if fp32_m is not None else final_m, reverted)
    report = {
        "max_drop": float(max_drop), "drop_type": "absolute mAP50-95",
        "fp32_map50_95": fp32_m, "int8_map50_95": int8_m, "final_map50_95": final_m,
        "int8_drop": None if fp32_m is None or int8_m is None else fp32_m - int8_m,
        "final_drop": None if fp32_m is None else fp32_m - final_m,
        "within_budget": None if fp32_m is None else (fp32_m - final_m) <= float(max_drop) + 1e-12,
        "reverted_ops": reverted if rec.hook_ok else None,
        "reverted_count": len(reverted) if rec.hook_ok else None, "iterations": len(rec.reverts), "steps": steps,
        "ranking": "output differences vs FP32 (validation_fn returns a float, not per-image values)",
        "limits": {"max_num_iterations": int(max_iterations), "ranking_subset_size": restorer.ranking_subset_size,
                   "num_ranking_workers": 1, "tune_hyperparams": False, "restore_mode": "activations and weights"},
        "quantization": {"preset": preset, "keep_head_float": keep_head_float, "ignored_ops": len(ignored),
                         "fast_bias_correction": fast_bias_correction, "calibration_images": n},
        "tuning": tuning_record or {"count": len(items), "split": "?"},
        "optimistic_val_drop": bool((tuning_record or {}).get("optimistic_val_drop", False)),
        "inference_precision": "f32", "seconds": round(seconds, 2),
        "nncf_version": nncf.__version__, "openvino_version": ov.get_version(),
    }
    meta_path = fp32_xml.parent / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text()) if meta_path.exists() else {}
    meta.update({"precision": "int8", "source": str(fp32_xml),
                 "quantization": {**report["quantization"], "accuracy_control": {
                     "max_drop": float(max_drop), "reverted_ops": len(reverted),
                     "tuning_split": report["tuning"]["split"],
                     "tuning_images": report["tuning"]["count"]}}})
    out_dir = Path(out_dir)
    save_ir(qmodel, out_dir, compress_to_fp16=False, meta=meta, hw=hw)
    (out_dir / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    try:
        plot(report, out_dir / PLOT)
    except Exception as exc:  # noqa: BLE001 - the plot is a convenience; the JSON is the record
        log.warning("could not draw %s: %s", out_dir / PLOT, exc)
    return report


def _kept_reverts(rec: _Recorder, max_drop: float) -> list[dict]:
    """Reverted ops in order, without the groups NNCF undid.

    NNCF (``QuantizationAccuracyRestorer._apply``) undoes step k when its drop is larger than step k-1's and the
    step before was not itself an undo; the undone group goes back into the ranking. We replay that rule on the
    recorded metrics.
    """
    kept: list[dict] = []
    prev_drop = None
    step_back = True
    base = rec.metrics[0] if rec.metrics else 0.0
    if len(rec.metrics) > 1:
        prev_drop = base - rec.metrics[1]
    for r in rec.reverts:
        kept.append(r)
        if r["metric"] is None or prev_drop is None:
            continue
        drop = base - r["metric"]
        if drop <= max_drop:  # NNCF stops here and keeps the step
            break
        if drop <= prev_drop or step_back:
            step_back = False
        else:
            kept.pop()
            step_back = True
        prev_drop = drop
    ops: list[dict] = []
    for r in kept:
        ops += r["ops"]
    return ops


def _infer_fn(core, model, cfg):
    compiled = core.compile_model(model, "CPU", cfg)
    request = compiled.create_infer_request()
    out = compiled.outputs[0]
    return lambda x: request.infer({0: x})[out]


def quantize_ac_stage(fp32_xml, calibration, manifest, meta_yaml, data_yaml, hw: tuple[int, int], out_dir,
                      quantization: dict, *, threads: int, conf: float, iou: float) -> dict:
    """The ``quantize_ac`` rule: the settings and the model checked first (one line each), the tuning images chosen
    (never calibration or val images unless ``ac_tuning_split: val``), then :func:`quantize_ac`."""
    import yaml

    from ovyolo.data.dataset import load_dataset

    q = quantization
    check_settings(q.get("max_drop"), q["ac_tuning_images"], q["ac_max_iterations"])
    meta = yaml.safe_load(Path(meta_yaml).read_text()) or {}
    check_model(meta)
    split = q["ac_tuning_split"]
    images, record = select_tuning_images(load_dataset(data_yaml).images(split), manifest, q["ac_tuning_images"],
                                          split=split)
    names = [meta["names"][k] for k in sorted(meta["names"])]
    return quantize_ac(fp32_xml, calibration, hw, out_dir, images, max_drop=q["max_drop"], names=names,
                       layout=meta["layout"], preset=q["preset"], keep_head_float=q["keep_head_float"],
                       fast_bias_correction=q["fast_bias_correction"], max_iterations=q["ac_max_iterations"],
                       ranking_subset_size=q.get("ac_ranking_images"), threads=threads, conf=conf, iou=iou,
                       tuning_record=record)
