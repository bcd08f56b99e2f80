"""CPU benchmark of one variant on real letterboxed images: batch-1 latency and throughput.

* :func:`latency`: synchronous batch-1 inferences cycling through the images, after ``warmup`` untimed
  ones, until both ``min_iterations`` and ``min_seconds`` are reached; percentiles via numpy.
* :func:`throughput`: for OpenVINO variants a *separate* compile of the same IR with
  ``PERFORMANCE_HINT=THROUGHPUT`` (same precision hint and ``INFERENCE_NUM_THREADS``), driven by an
  ``AsyncInferQueue`` of ``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` requests; for torch/onnxruntime a
  sequential batch-1 loop (streams 1, requests 1, hint ``sequential``).
* :func:`run_benchmark`: both, plus the machine (:func:`system_info`) and the model's file size, as one
  JSON-ready dict.

All runtimes use exactly ``threads`` threads (OpenVINO ``INFERENCE_NUM_THREADS``, ONNX Runtime
``intra_op_num_threads``, ``torch.set_num_threads``).
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from ovyolo.errors import WorkflowError
from ovyolo.runtimes import DEVICE, Runner, compile_openvino, make_runner

MAX_IMAGES = 16
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "avx_vnni")
PACKAGES = ("torch", "openvino", "nncf", "onnxruntime", "ultralytics", "numpy", "onnx")


def _check_budget(min_iterations: int, min_seconds: float) -> None:
    if int(min_iterations) < 1 or float(min_seconds) < 0:
        raise WorkflowError(f"benchmark needs min_iterations >= 1 and min_seconds >= 0, got {min_iterations} and {min_seconds}")


def latency(runner: Runner, inputs: list[np.ndarray], *, warmup: int, min_iterations: int, min_seconds: float) -> dict:
    """Synchronous batch-1 latency in milliseconds, cycling through ``inputs``.

    Returns ``p50_ms, p90_ms, p99_ms, mean_ms, min_ms, max_ms, iterations, seconds, warmup``;
    ``seconds`` is the wall time of the timed loop.
    """
    _check_budget(min_iterations, min_seconds)
    if not inputs:
        raise WorkflowError("latency benchmark needs at least one input")
    inputs = [runner.check_input(x) for x in inputs]  # shape errors before any timing
    n = len(inputs)
    for i in range(int(warmup)):
        runner.infer(inputs[i % n])
    times: list[int] = []
    clock = time.perf_counter_ns
    start = clock()
    deadline = start + int(float(min_seconds) * 1e9)
    i = 0
    while True:
        t0 = clock()
        runner.infer(inputs[i % n])
        t1 = clock()
        times.append(t1 - t0)
        i += 1
        if i >= min_iterations and t1 >= deadline:
            break
    seconds = (clock() - start) / 1e9
    ms = np.asarray(times, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {
        "p50_ms": float(p50),
        "p90_ms": float(p90),
        "p99_ms": float(p99),
        "mean_ms": float(ms.mean()),
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
        "iterations": int(ms.size),
        "seconds": float(seconds),
        "warmup": int(warmup),
    }


def _sequential_throughput(runner: Runner, inputs: list[np.ndarray], min_iterations: int, min_seconds: float, warmup: int) -> dict:
    n = len(inputs)
    for i in range(warmup):
        runner.infer(inputs[i % n])
    start = time.perf_counter()
    i = 0
    while True:
        runner.infer(inputs[i % n])
        i += 1
        if i >= min_iterations and time.perf_counter() - start >= min_seconds:
            break
    seconds = time.perf_counter() - start
    return {
        "fps": i / seconds,
        "streams": 1,
        "requests": 1,
        "iterations": i,
        "seconds": seconds,
        "hint": "sequential",
        "inference_precision": runner.properties.get("inference_precision", "f32"),
    }


def _openvino_throughput(runner: Runner, inputs: list[np.ndarray], min_iterations: int, min_seconds: float) -> dict:
    import openvino as ov

    compiled, props = compile_openvino(runner.source, runner.threads, runner.precision_hint, "THROUGHPUT")
    nreq = max(1, int(props["optimal_requests"] or 1))
    queue = ov.AsyncInferQueue(compiled, nreq)
    n = len(inputs)
    # warm-up: one inference on every request (first runs allocate and tune), untimed
    for i in range(nreq):
        queue.start_async({0: inputs[i % n]}, share_inputs=True)
    queue.wait_all()
    start = time.perf_counter()
    i = 0
    while True:  # start_async blocks until a request is free, so this keeps all of them busy
        queue.start_async({0: inputs[i % n]}, share_inputs=True)
        i += 1
        if i >= min_iterations and time.perf_counter() - start >= min_seconds:
            break
    queue.wait_all()
    seconds = time.perf_counter() - start
    return {
        "fps": i / seconds,
        "streams": props["streams"],
        "requests": nreq,
        "iterations": i,
        "seconds": seconds,
        "hint": "THROUGHPUT",
        "inference_precision": props["inference_precision"],
    }


def throughput(runner: Runner, inputs: list[np.ndarray], *, min_iterations: int, min_seconds: float, warmup: int = 2) -> dict:
    """Throughput (frames per second) of ``runner``'s model on ``inputs``, batch 1.

    OpenVINO runners: the runner's IR is compiled again with ``PERFORMANCE_HINT=THROUGHPUT``, the
    runner's ``precision_hint`` and ``threads``, and kept busy by an ``AsyncInferQueue`` with
    ``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` requests until ``min_iterations`` inferences were submitted and
    ``min_seconds`` passed (then all are awaited). torch/onnxruntime: a sequential loop of ``runner.infer``.

    Returns ``fps, streams, requests, iterations, seconds, hint`` (``THROUGHPUT`` or ``sequential``) and
    ``inference_precision`` of the model that was timed.
    """
    _check_budget(min_iterations, min_seconds)
    if not inputs:
        raise WorkflowError("throughput benchmark needs at least one input")
    inputs = [runner.check_input(x) for x in inputs]
    if runner.is_openvino:
        return _openvino_throughput(runner, inputs, int(min_iterations), float(min_seconds))
    return _sequential_throughput(runner, inputs, int(min_iterations), float(min_seconds), int(warmup))


def _cpuinfo() -> tuple[str, set[str]]:
    name, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not name:
                    name = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
                if name and flags:
                    break
    except OSError:
        pass
    return name or platform.processor() or platform.machine(), flags


def _version(pkg: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def system_info(threads: int) -> dict:
    """The machine and software a benchmark ran on (versions from package metadata, nothing imported but OpenVINO)."""
    import openvino as ov

    name, flags = _cpuinfo()
    core = ov.Core()
    try:
        caps = [str(c) for c in core.get_property(DEVICE, "OPTIMIZATION_CAPABILITIES")]
    except Exception:  # noqa: BLE001
        caps = []
    try:
        ov_name = str(core.get_property(DEVICE, "FULL_DEVICE_NAME"))
    except Exception:  # noqa: BLE001
        ov_name = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "cpu_model": name,
        "openvino_device_name": ov_name,
        "logical_cores": os.cpu_count(),
        "usable_cores": affinity,
        "threads": int(threads),
        "cpu_flags": {f: f in flags for f in CPU_FLAGS},
        "openvino_cpu_capabilities": caps,
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}},
        "platform": platform.platform(),
        "python_implementation": sys.implementation.name,
    }


def load_inputs(images: list[Path], hw: tuple[int, int], max_images: int = MAX_IMAGES) -> list[np.ndarray]:
    """The first ``max_images`` images (sorted by path) letterboxed to ``hw`` as 1x3xHxW float32 arrays."""
    from ovyolo.letterbox import load_letterboxed, to_tensor

    chosen = sorted(Path(p) for p in images)[: max(1, int(max_images))]
    if not chosen:
        raise WorkflowError("benchmark needs at least one image; check the validation split of the data set")
    return [to_tensor(load_letterboxed(p, hw)[0]) for p in chosen]


def run_benchmark(
    variant: str,
    *,
    onnx: str | Path | None = None,
    xml: str | Path | None = None,
    source=None,
    precision_hint: str | None = None,
    images: list[Path],
    hw: tuple[int, int],
    threads: int,
    warmup: int,
    min_iterations: int,
    min_seconds: float,
    throughput_seconds: float,
    file_paths: list[Path],
    max_images: int = MAX_IMAGES,
) -> dict:
    """Benchmark one variant at ``hw`` on real images; one JSON-ready dict.

    ``onnx``/``xml``/``source``/``precision_hint`` go to :func:`ovyolo.runtimes.make_runner`.
    Throughput runs for ``throughput_seconds`` and at least ``min_iterations`` inferences.
    ``file_paths`` are the model's files on disk (e.g. model.xml + model.bin), summed for ``file_size_bytes``.
    """
    hw = (int(hw[0]), int(hw[1]))
    runner = make_runner(variant, onnx=onnx, xml=xml, source=source, threads=threads,
                         precision_hint=precision_hint, hw=hw)
    inputs = load_inputs(images, hw, max_images)
    lat = latency(runner, inputs, warmup=warmup, min_iterations=min_iterations, min_seconds=min_seconds)
    thr = throughput(runner, inputs, min_iterations=min_iterations, min_seconds=throughput_seconds)
    missing = [str(p) for p in file_paths if not Path(p).is_file()]
    if missing:
        raise WorkflowError(f"benchmark of {variant}: model file(s) {', '.join(missing)} do not exist")
    return {
        "variant": variant,
        "hw": [hw[0], hw[1]],
        "latency": lat,
        "throughput": thr,
        "inference_precision": runner.properties.get("inference_precision", "f32"),
        "threads": int(threads),
        "device": DEVICE,
        "runtime_properties": runner.properties,
        "images": len(inputs),
        "system": system_info(threads),
        "file_size_bytes": int(sum(Path(p).stat().st_size for p in file_paths)),
        "settings": {
            "warmup": int(warmup),
            "min_iterations": int(min_iterations),
            "min_seconds": float(min_seconds),
            "throughput_seconds": float(throughput_seconds),
        },
    }
