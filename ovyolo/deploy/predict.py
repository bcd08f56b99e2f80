"""Run a bundle or IR on images: ``python -m ovyolo predict <bundle-or-IR> <image|folder|glob|video> --out DIR``.

The IR describes itself (``rt_info/model_info``: labels, imgsz, output layout, thresholds; :mod:`ovyolo.ir`),
with metadata.yaml beside it as a fall-back for IRs written before that. Images are letterboxed to the IR's input
shape with :mod:`ovyolo.data.letterbox` and decoded with :func:`ovyolo.measure.evaluate.nms` -- the same code validation uses --
with the predictor's single best class per box (an end-to-end model's rows are only filtered by score, no NMS, as
Ultralytics' predictor does). Images run through :class:`ovyolo.deploy.pipeline.Pipeline` (decoding ahead in a
thread, asynchronous requests, the same boxes as :meth:`Detector.detect`). Writes ``DIR/detections.jsonl`` (one line
per image, streamed), ``DIR/detections.json`` (settings + the same records; boxes in original-image pixels, xyxy)
and, unless ``--no-draw``, ``DIR/<image name>`` with boxes drawn (a video only with ``--draw``).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ovyolo.deploy.pipeline import IMAGE_SUFFIXES  # noqa: F401 - re-exported (older callers)
from ovyolo.errors import WorkflowError

log = logging.getLogger(__name__)


@dataclass
class Detector:
    xml: Path
    hw: tuple[int, int]
    names: list[str]
    layout: str
    conf: float
    iou: float
    properties: dict = field(default_factory=dict)
    compiled: object = None
    batch: int = 1  # images per request the IR was compiled for (load(batch=...))
    _request: object = None

    def raw(self, tensor: np.ndarray) -> np.ndarray:
        """The raw output of one 1 x 3 x h x w tensor (an IR compiled at a larger batch gets zero images beside it)."""
        if self._request is None:
            self._request = self.compiled.create_infer_request()
        if self.batch > 1:
            tensor = np.concatenate([tensor, np.zeros((self.batch - 1, *tensor.shape[1:]), tensor.dtype)])
        self._request.infer({0: tensor}, share_inputs=True)
        return self._request.get_output_tensor(0).data[:1].copy()

    def decode(self, raw: np.ndarray, geo, conf: float | None = None, iou: float | None = None) -> np.ndarray:
        """One image's raw output -> (M, 6) ``x1, y1, x2, y2, score, cls`` in the original image's pixels (``geo``:
        its letterbox geometry): :func:`ovyolo.measure.evaluate.nms`, best class per box, as the predictor."""
        from ovyolo.measure.evaluate import nms

        det = nms(raw, self.layout, len(self.names), conf=self.conf if conf is None else conf,
                  iou=self.iou if iou is None else iou, multi_label=False)
        det[:, :4] = geo.boxes_to_source(det[:, :4])
        return det

    def detect(self, image_rgb: np.ndarray, conf: float | None = None, iou: float | None = None) -> np.ndarray:
        """(M, 6) ``x1, y1, x2, y2, score, cls`` in the original image's pixels, one synchronous request."""
        from ovyolo.data.letterbox import letterbox, to_tensor

        canvas, geo = letterbox(image_rgb, self.hw)
        return self.decode(self.raw(to_tensor(canvas)), geo, conf, iou)


def output_layout(info: dict, meta: dict, out_shape, nc: int, where) -> str:
    """The output layout an IR declares (its ``model_info``, our metadata.yaml ``layout``, or Ultralytics'
    metadata.yaml ``end2end``/``args.nms``), checked against its output shape; guessed from the shape only when
    nothing declares it."""
    from ovyolo import layouts

    declared, by = info.get("output_layout"), "rt_info model_info/output_layout"
    if not declared and meta.get("layout"):
        declared, by = meta["layout"], "metadata.yaml layout"
    if not declared:
        declared, by = layouts.from_ultralytics_metadata(meta), "Ultralytics metadata.yaml end2end"
    if declared:
        layouts.check_name(declared)
        layouts.check_shape(declared, out_shape, nc, where, by)
        return declared
    found = layouts.guess(out_shape, nc)
    if found is None:
        raise WorkflowError(f"{where}: cannot tell the output layout of shape {list(out_shape)} for {nc} classes, and "
                            "nothing beside it declares one")
    return found


def load(path: str | Path, *, threads: int | None = None, precision_hint: str = "f32",
         conf: float | None = None, iou: float | None = None, performance_hint: str = "LATENCY",
         batch: int = 1) -> Detector:
    """Compile a bundle / IR folder / .xml on CPU (``INFERENCE_PRECISION_HINT`` f32 by default: true FP32;
    ``PERFORMANCE_HINT`` LATENCY for one request at a time, THROUGHPUT for :class:`ovyolo.deploy.pipeline.Pipeline`;
    ``batch``: images per request, the static batch-1 IR reshaped by :func:`ovyolo.ir.with_batch`)."""
    import os

    import openvino as ov
    import yaml

    from ovyolo.deploy.bundle import find_ir
    from ovyolo.ir import PREDICT_CONF, PREDICT_IOU, model_input_shape, read_model_info, with_batch
    from ovyolo.measure.runtimes import DEVICE, openvino_config, openvino_properties

    xml = find_ir(path)
    core = ov.Core()
    model = core.read_model(str(xml))
    dims = model_input_shape(model, xml)
    if len(dims) != 4 or dims[0] != 1 or dims[1] != 3 or min(dims) <= 0:
        raise WorkflowError(f"{xml}: input is {dims}; predict runs static 1 x 3 x h x w IRs")
    info = read_model_info(model)
    meta_path = xml.parent / "metadata.yaml"
    meta = (yaml.safe_load(meta_path.read_text()) or {}) if meta_path.is_file() else {}
    names = info.get("labels")
    if not names and meta.get("names") is not None:
        m = meta["names"]
        names = [str(m[k]) for k in sorted(m, key=int)] if isinstance(m, dict) else [str(v) for v in m]
    if not names:
        raise WorkflowError(f"{xml} names no classes (no rt_info model_info/labels, no metadata.yaml names)")
    out_shape = [d.get_length() for d in model.outputs[0].get_partial_shape()]
    layout = output_layout(info, meta, out_shape, len(names), xml)
    threads = int(threads or os.environ.get("OVYOLO_THREADS") or os.cpu_count() or 1)
    if int(batch) < 1:
        raise WorkflowError(f"batch {batch}: images per request must be at least 1")
    model = with_batch(model, int(batch), xml)
    compiled = core.compile_model(model, DEVICE, openvino_config(threads, precision_hint, performance_hint))
    det = Detector(xml, (dims[2], dims[3]), list(names), layout,
                   float(conf if conf is not None else info.get("confidence_threshold", PREDICT_CONF)),
                   float(iou if iou is not None else info.get("iou_threshold", PREDICT_IOU)),
                   {"requested_precision_hint": precision_hint, "batch": int(batch), **openvino_properties(compiled)},
                   compiled, int(batch))
    return det


def load_for(source, model: str | Path, batch: int | None = None, **kw) -> Detector:
    """:func:`load` for the pipeline on ``source``: THROUGHPUT, ``batch`` images per request, or by default
    :func:`ovyolo.deploy.pipeline.pipeline_batch`'s, falling back to one per request (logged) for an IR that cannot
    take another batch (:class:`ovyolo.ir.BatchError`: a batch asked for explicitly is an error instead)."""
    from ovyolo.deploy.pipeline import PIPELINE_HINT, pipeline_batch
    from ovyolo.ir import BatchError

    try:
        return load(model, performance_hint=PIPELINE_HINT, batch=batch or pipeline_batch(source), **kw)
    except BatchError as exc:
        if batch:
            raise
        log.info("%s: running one image per request", exc)
        return load(model, performance_hint=PIPELINE_HINT, batch=1, **kw)


def list_images(source: str | Path) -> list[Path]:
    """The image files of an image, a folder or a glob (sorted); see :func:`ovyolo.deploy.pipeline.open_source`."""
    from ovyolo.deploy.pipeline import open_source

    src = open_source(source)
    if src.kind != "images":
        raise WorkflowError(f"{source}: a video, not images")
    return src.paths


def draw(image_rgb: np.ndarray, det: np.ndarray, names: list[str]) -> np.ndarray:
    """The image (BGR, for cv2.imwrite) with boxes and 'label score' drawn."""
    import cv2

    out = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)  # a copy; ~4x faster than numpy's [..., ::-1]
    for x1, y1, x2, y2, score, cls in det:
        c = int(cls)
        color = tuple(int(v) for v in np.random.default_rng(c).integers(64, 256, 3))
        p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))
        cv2.rectangle(out, p1, p2, color, 2)
        cv2.putText(out, f"{names[c] if c < len(names) else c} {score:.2f}", (p1[0], max(p1[1] - 4, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
    return out


def _record(res, names: list[str], output: str | None) -> dict:
    rec = {"image": res.name, "output": output, "height": res.height, "width": res.width,
           "detections": [{"box": [round(float(v), 2) for v in b[:4]], "score": round(float(b[4]), 5),
                           "class": int(b[5]), "label": names[int(b[5])]} for b in res.det]}
    if res.error:
        rec["error"] = res.error
    return rec


def predict(model: str | Path, source: str | Path, out_dir: str | Path, *, conf: float | None = None,
            iou: float | None = None, threads: int | None = None, precision_hint: str = "f32",
            draw_images: bool | None = None, progress: bool | None = None, batch: int | None = None) -> dict:
    """Detect on every image or video frame of ``source`` with :class:`ovyolo.deploy.pipeline.Pipeline`; stream one
    JSON line per image into ``out_dir/detections.jsonl`` and write ``detections.json`` (the run's settings and the
    same records) from it at the end. ``batch``: images per request (default
    :func:`ovyolo.deploy.pipeline.pipeline_batch`: 8 for files and videos; the boxes are those of batch 1).
    ``draw_images`` (default: for images, not for a video): drawn images ``out_dir/<image name>``, or
    ``out_dir/<video stem>.mp4``. Returns the settings with image and detection counts."""
    import cv2

    from ovyolo.deploy.pipeline import Pipeline, open_source

    src = open_source(source)
    det = load_for(src, model, batch, threads=threads, precision_hint=precision_hint, conf=conf, iou=iou)
    draw_images = src.kind == "images" if draw_images is None else bool(draw_images)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: dict[str, int] = {}
    for p in src.paths:
        seen[p.name] = seen.get(p.name, 0) + 1
    pipe = Pipeline(det, keep_images=draw_images, progress=progress)
    header = {"model": str(det.xml), "imgsz": list(det.hw), "output_layout": det.layout, "names": det.names,
              "conf": det.conf, "iou": det.iou, "runtime": {**det.properties, "infer_requests": pipe.requests}}
    jsonl, writer, n_images, n_det = out_dir / "detections.jsonl", None, 0, 0
    try:
        with open(jsonl, "w") as fh:
            for res in pipe.run(src):
                output = None
                if draw_images and res.image is not None:
                    drawn = draw(res.image, res.det, det.names)
                    if src.kind == "video":
                        output = f"{src.video.stem}.mp4"
                        if writer is None:
                            cap = cv2.VideoCapture(str(src.video))
                            fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
                            cap.release()
                            writer = cv2.VideoWriter(str(out_dir / output), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                                     (res.width, res.height))
                        writer.write(drawn)
                    else:
                        name = Path(res.name).name
                        output = name if seen.get(name, 0) <= 1 else f"{res.index:05d}_{name}"
                        cv2.imwrite(str(out_dir / output), drawn)
                rec = _record(res, det.names, output)
                if src.kind == "video":
                    rec["frame"] = res.index
                fh.write(json.dumps(rec) + "\n")
                n_images += 1
                n_det += len(res.det)
    finally:
        if writer is not None:
            writer.release()
    with open(out_dir / "detections.json", "w") as out, open(jsonl) as lines:  # streamed: memory flat in the source
        out.write(json.dumps(header, indent=2)[:-2] + ',\n  "images": [')
        for k, line in enumerate(lines):
            out.write(("," if k else "") + "\n    " + line.rstrip("\n"))
        out.write("\n  ]\n}\n")
    return {**header, "images": n_images, "detections": n_det, "stats": pipe.stats.per_image_ms()}


def main(argv: list[str] | None = None) -> int:
    from ovyolo import offline

    offline.prepare()  # before OpenVINO is imported: telemetry opt-outs

    ap = argparse.ArgumentParser(prog="python -m ovyolo predict", description=__doc__.splitlines()[0])
    ap.add_argument("model", help="bundle folder, *_openvino_model folder, IR folder or model.xml")
    ap.add_argument("source", help="an image, a folder of images, a glob (quoted: 'imgs/*.jpg') or a video file")
    ap.add_argument("--out", required=True, help="folder for detections.jsonl, detections.json and drawn images")
    ap.add_argument("--draw", action=argparse.BooleanOptionalAction, default=None,
                    help="write drawn images (default) / a drawn video (only with --draw); --no-draw: detections only")
    ap.add_argument("--conf", type=float, default=None, help="score threshold (default: the IR's, else 0.25)")
    ap.add_argument("--iou", type=float, default=None, help="NMS IoU threshold (default: the IR's, else 0.7)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--precision-hint", default="f32", help="OpenVINO INFERENCE_PRECISION_HINT (default f32)")
    ap.add_argument("--batch", type=int, default=None,
                    help="images per request (default: 8 for files and videos, fewer for fewer files; same boxes)")
    args = ap.parse_args(argv)
    try:
        res = predict(args.model, args.source, args.out, conf=args.conf, iou=args.iou, threads=args.threads,
                      precision_hint=args.precision_hint, draw_images=args.draw, batch=args.batch)
    except WorkflowError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print(f"{res['images']} images, {res['detections']} detections at {res['imgsz'][0]}x{res['imgsz'][1]} "
          f"({res['stats']['img_per_s']} img/s) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
