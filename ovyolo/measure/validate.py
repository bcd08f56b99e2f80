"""The validate stage of one variant: mAP on the val split at ``{h}x{w}``, the raw outputs of the first images (for
the agreement with true f32) and the per-image COCO matches (for the paired bootstrap)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ovyolo import variants
from ovyolo.atomic import atomic_file, write_json
from ovyolo.measure.runtimes import runner_args

VALIDATE_HINT = "THROUGHPUT"


def not_measured_record(model: str, variant: str, hw: tuple[int, int], why: str, out_metrics, out_outputs,
                        out_matches) -> dict:
    """What a validate job writes for a variant its node does not measure: metrics.json with ``measured: false``
    and the reason (no mAP: nothing a later step could take for a measurement), an empty outputs.npy and matches
    of no image."""
    from ovyolo.measure.runtimes import node_name
    from ovyolo.measure.scoring import Matches, save_matches

    record = {"model": model, "variant": variant, "hw": [int(hw[0]), int(hw[1])], "measured": False,
              "not_measured": why, "node": node_name()}
    save_matches(Matches(0, np.zeros((0, 0), np.int64), ()), out_matches)
    with atomic_file(out_outputs) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.zeros((0,), np.float32))
    write_json(out_metrics, record)
    return record


def validate_variant(model: str, variant: str, hw: tuple[int, int], *, model_files: dict, data_yaml, meta_yaml,
                     baseline, threads: int, conf: float, iou: float, bf16_mode: str, out_metrics, out_outputs,
                     out_matches) -> dict:
    """Run ``variant`` over the val split letterboxed to ``hw``; write metrics.json, the raw outputs of the first
    images (agreement with the baseline) and the per-image COCO matches (matches.npz, for the paired bootstrap).
    A variant this node does not measure (``bf16_mode``, :func:`ovyolo.measure.runtimes.not_measured_here`) gets
    :func:`not_measured_record` instead."""
    import yaml

    from ovyolo.measure.runtimes import not_measured_here

    why = not_measured_here(variant, bf16_mode)
    if why:
        return not_measured_record(model, variant, hw, why, out_metrics, out_outputs, out_matches)

    from ovyolo.data.dataset import load_dataset
    from ovyolo.measure.evaluate import agreement, evaluate
    from ovyolo.measure.runtimes import make_runner
    from ovyolo.measure.scoring import save_matches

    meta = yaml.safe_load(Path(meta_yaml).read_text())
    names = [meta["names"][k] for k in sorted(meta["names"])]
    images = load_dataset(data_yaml).images("val")
    # THROUGHPUT: OpenVINO's streams of one thread each, one batch-1 request per stream in flight (the outputs are
    # those of the benchmark's LATENCY compilation: tests/test_validate_pipeline.py; torch/onnxruntime ignore it);
    # no CPU pinning: validation jobs run side by side
    runner = make_runner(variant, **runner_args(model_files), threads=threads, hw=hw, performance_hint=VALIDATE_HINT,
                         cpu_pinning=False)
    t0 = time.perf_counter()
    ev = evaluate(runner, images, hw, names, meta["layout"], conf=conf, iou=iou)
    result, raw = ev.result, ev.raw
    result.update({
        "model": model, "variant": variant, "hw": [int(hw[0]), int(hw[1])], "seconds": time.perf_counter() - t0,
        "inference_precision": runner.properties.get("inference_precision", "f32"), "threads": threads,
        "streams": runner.properties.get("streams"), "performance_hint": runner.properties.get("performance_hint"),
        "agreement": None, "measured": True,
    })
    if baseline:
        ref = np.load(baseline)
        n = min(len(ref), len(raw))
        result["agreement"] = {"baseline": variants.BASELINE, "images": int(n), **agreement(raw[:n], ref[:n])}
    save_matches(ev.matches, out_matches)
    with atomic_file(out_outputs) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, raw)
    write_json(out_metrics, result)
    return result
