"""What a benchmark runs on: the letterboxed inputs (:func:`load_inputs`) and the machine (:func:`system_info`).

The timing itself is :mod:`ovyolo.interleave`: all variants of a shape in one process, in rounds.
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np

from ovyolo.errors import WorkflowError
from ovyolo.runtimes import DEVICE

MAX_IMAGES = 16
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "avx_vnni")
PACKAGES = ("torch", "openvino", "nncf", "onnxruntime", "ultralytics", "numpy", "onnx")


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
