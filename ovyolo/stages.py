"""The validate and benchmark stages: which files a variant runs, and the JSON each stage writes."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ovyolo import variants
from ovyolo.atomic import atomic_file, write_json

RUNNER_KEYS = ("source", "onnx", "xml")  # what make_runner takes: source.json (torch), the ONNX, or the IR
FILE_KEYS = ("weights", "onnx", "xml", "bin")  # the model's files on disk, summed for its size


def _runner_args(model_files: dict) -> dict:
    return {k: model_files[k] for k in RUNNER_KEYS if model_files.get(k)}


def _files_on_disk(model_files: dict) -> list[Path]:
    return [Path(model_files[k]) for k in FILE_KEYS if model_files.get(k)]


def validate_variant(model: str, variant: str, hw: tuple[int, int], *, model_files: dict, data_yaml, meta_yaml,
                     baseline, threads: int, conf: float, iou: float, out_metrics, out_outputs) -> dict:
    """Run ``variant`` over the val split letterboxed to ``hw``; write metrics.json and the raw outputs."""
    import yaml

    from ovyolo.data import load_dataset
    from ovyolo.evaluate import agreement, evaluate
    from ovyolo.runtimes import make_runner

    meta = yaml.safe_load(Path(meta_yaml).read_text())
    names = [meta["names"][k] for k in sorted(meta["names"])]
    images = load_dataset(data_yaml).images("val")
    runner = make_runner(variant, **_runner_args(model_files), threads=threads, hw=hw)
    t0 = time.perf_counter()
    result, raw = evaluate(runner.infer, images, hw, names, meta["layout"], conf=conf, iou=iou)
    result.update({
        "model": model, "variant": variant, "hw": [int(hw[0]), int(hw[1])], "seconds": time.perf_counter() - t0,
        "inference_precision": runner.properties.get("inference_precision", "f32"), "threads": threads,
        "agreement": None,
    })
    if baseline:
        ref = np.load(baseline)
        result["agreement"] = {"baseline": variants.BASELINE, **agreement(raw, ref)}
    with atomic_file(out_outputs) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, raw)
    write_json(out_metrics, result)
    return result


def benchmark_variant(model: str, variant: str, hw: tuple[int, int], *, model_files: dict, data_yaml, threads: int,
                      settings: dict, out) -> dict:
    """Latency and throughput of ``variant`` on real val images at ``hw``; write benchmark.json."""
    from ovyolo.bench import run_benchmark
    from ovyolo.data import load_dataset

    images = load_dataset(data_yaml).images("val")
    started = time.time()
    result = run_benchmark(
        variant, **_runner_args(model_files), images=images, hw=hw, threads=threads,
        warmup=settings["warmup"], min_iterations=settings["min_iterations"], min_seconds=settings["min_seconds"],
        throughput_seconds=settings["throughput_seconds"], file_paths=_files_on_disk(model_files),
        max_images=settings["images"],
    )
    result.update({"model": model, "started_at": started, "finished_at": time.time()})
    write_json(out, result)
    return result
