"""The machine and software a measurement ran on: the one collector of CPU, OpenVINO capabilities and package
versions, used by every benchmark, profile and provenance record."""
from __future__ import annotations

import os
import platform
import sys

# CPU flags that decide which OpenVINO kernels run (int8 dot products, bf16, AMX)
CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
             "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "amx_fp16")
PACKAGES = ("ovyolo", "openvino", "nncf", "torch", "torchvision", "ultralytics", "onnx", "onnxruntime", "numpy",
            "opencv-python", "opencv-python-headless", "pycocotools", "snakemake", "yolov5")
ALWAYS_LISTED = ("openvino", "nncf", "torch", "ultralytics", "numpy")  # named even when not installed


def _cpuinfo() -> tuple[str | None, set[str]]:
    name, flags = None, set()
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
    return name, flags


def package_versions(names=PACKAGES) -> dict:
    """Installed distribution versions (None for one not installed, listed only for :data:`ALWAYS_LISTED`), and
    OpenVINO's build string."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        import openvino as ov

        out["openvino_build"] = ov.get_version()
    except ImportError:
        pass
    return {k: v for k, v in out.items() if v is not None or k in ALWAYS_LISTED}


def _openvino_cpu() -> tuple[list[str], str | None]:
    try:
        import openvino as ov

        core = ov.Core()
        caps = [str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
        name = str(core.get_property("CPU", "FULL_DEVICE_NAME"))
    except Exception:  # noqa: BLE001 - no OpenVINO, or no CPU plugin
        return [], None
    return caps, name


def system_info(threads: int | None = None) -> dict:
    """CPU model and ISA flags, cores, OpenVINO's CPU capabilities, package versions, Python and platform;
    ``threads``: what the measurement used (None where it does not apply)."""
    name, flags = _cpuinfo()
    caps, ov_name = _openvino_cpu()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return {
        "cpu_model": name or platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "openvino_device_name": ov_name,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "threads": None if threads is None else int(threads),
        "cpu_flags": {f: f in flags for f in CPU_FLAGS},
        "openvino_cpu_capabilities": caps,
        "versions": {"python": platform.python_version(), **package_versions()},
        "platform": platform.platform(),
        "python_implementation": sys.implementation.name,
        "load_average": _load_average(),
    }


def _load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages when the record is made: how busy the machine was (it may be shared)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None
