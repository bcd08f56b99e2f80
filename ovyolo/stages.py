"""The validate and benchmark stages: which files a variant runs, and the JSON each stage writes."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ovyolo import variants
from ovyolo.atomic import atomic_file, write_json
from ovyolo.errors import WorkflowError

RUNNER_KEYS = ("source", "onnx", "xml")  # what make_runner takes: source.json (torch), the ONNX, or the IR
FILE_KEYS = ("weights", "onnx", "xml", "bin")  # the model's files on disk, summed for its size


def _runner_args(model_files: dict) -> dict:
    return {k: model_files[k] for k in RUNNER_KEYS if model_files.get(k)}


def _files_on_disk(model_files: dict) -> list[Path]:
    return [Path(model_files[k]) for k in FILE_KEYS if model_files.get(k)]


def validate_variant(model: str, variant: str, hw: tuple[int, int], *, model_files: dict, data_yaml, meta_yaml,
                     baseline, threads: int, conf: float, iou: float, out_metrics, out_outputs, out_matches) -> dict:
    """Run ``variant`` over the val split letterboxed to ``hw``; write metrics.json, the raw outputs of the first
    images (agreement with the baseline) and the per-image COCO matches (matches.npz, for the paired bootstrap)."""
    import yaml

    from ovyolo import stats
    from ovyolo.data import load_dataset
    from ovyolo.evaluate import agreement, evaluate
    from ovyolo.runtimes import make_runner

    meta = yaml.safe_load(Path(meta_yaml).read_text())
    names = [meta["names"][k] for k in sorted(meta["names"])]
    images = load_dataset(data_yaml).images("val")
    runner = make_runner(variant, **_runner_args(model_files), threads=threads, hw=hw)
    t0 = time.perf_counter()
    ev = evaluate(runner.infer, images, hw, names, meta["layout"], conf=conf, iou=iou)
    result, raw = ev
    result.update({
        "model": model, "variant": variant, "hw": [int(hw[0]), int(hw[1])], "seconds": time.perf_counter() - t0,
        "inference_precision": runner.properties.get("inference_precision", "f32"), "threads": threads,
        "agreement": None,
    })
    if baseline:
        ref = np.load(baseline)
        n = min(len(ref), len(raw))
        result["agreement"] = {"baseline": variants.BASELINE, "images": int(n), **agreement(raw[:n], ref[:n])}
    stats.save_matches(ev.matches, out_matches)
    with atomic_file(out_outputs) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, raw)
    write_json(out_metrics, result)
    return result


def benchmark_shape(model: str, hw: tuple[int, int], *, variant_files: dict, data_yaml, threads: int, settings: dict,
                    out) -> dict:
    """All variants of one ``{model}/{h}x{w}`` timed together, interleaved in rounds in this one process
    (:func:`ovyolo.interleave.run_interleaved`): latency, throughput and speed-ups with CIs; write benchmark.json.

    ``variant_files`` maps each variant to its model files (``source``/``weights``, ``onnx`` or ``xml``/``bin``).
    ``settings`` is the config's ``benchmark`` section."""
    import os
    import socket

    from ovyolo.data import load_dataset
    from ovyolo.interleave import run_interleaved

    images = load_dataset(data_yaml).images("val")
    runs = {}
    for name, files in variant_files.items():
        spec = variants.get(name)
        runs[name] = {**_runner_args(files), "precision_hint": spec.precision_hint if spec.is_openvino else None}
    started = time.time()
    result = run_interleaved(runs, images, hw, threads, {
        "rounds": settings["rounds"], "seconds_per_round": settings["seconds_per_round"],
        "min_iterations_per_round": settings["min_iterations_per_round"], "warmup": settings["warmup"],
        "seed": settings["seed"], "throughput": settings["throughput"], "max_images": settings["images"],
        "baseline": variants.BASELINE, "pairs": [[variants.OURS_INT8, variants.INCUMBENT]],
    })
    for name, files in variant_files.items():
        paths = _files_on_disk(files)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise WorkflowError(f"benchmark of {name}: model file(s) {', '.join(missing)} do not exist")
        result["variants"][name]["file_size_bytes"] = int(sum(p.stat().st_size for p in paths))
    result.update({"model": model, "started_at": started, "finished_at": time.time(),
                   "node": os.environ.get("SLURMD_NODENAME") or socket.gethostname()})
    write_json(out, result)
    return result
