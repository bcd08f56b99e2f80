"""The variant registry: every measured variant of a model at one ``{h}x{w}``, in display order.

A variant is what is timed and scored: a model file (the weights, the ONNX, or an IR folder under
``results/{model}/{h}x{w}/``) run by one runtime with one precision hint. The config schema's enum, the rules'
wildcard constraint and inputs, the runners, the summary's order and labels and the tests all derive from
:data:`REGISTRY`. Adding a variant means one entry here, plus a runner in :mod:`ovyolo.measure.runtimes` if it runs
something new, plus the rule that builds its IR folder if that folder is new.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ovyolo.errors import WorkflowError

ALL_FAMILIES = ("ultralytics", "yolov5", "onnx")
CHECKPOINT_FAMILIES = ("ultralytics", "yolov5")


@dataclass(frozen=True)
class Variant:
    name: str
    runs: str  # "weights" (torch), "onnx" (onnxruntime) or "ir" (OpenVINO)
    label: str  # short text for tables and plots
    description: str
    ir: str | None = None  # the IR folder under {h}x{w}/ for runs == "ir"
    precision_hint: str | None = None  # OpenVINO INFERENCE_PRECISION_HINT
    families: tuple[str, ...] = ALL_FAMILIES  # the model families it applies to

    @property
    def is_openvino(self) -> bool:
        return self.runs == "ir"


REGISTRY: tuple[Variant, ...] = (
    Variant("torch", "weights", "PyTorch f32", "the checkpoint itself in PyTorch, float32, Conv+BN fused",
            families=CHECKPOINT_FAMILIES),
    Variant("onnxruntime", "onnx", "ONNX Runtime f32", "the exported static ONNX on ONNX Runtime's CPU provider"),
    Variant("openvino-fp32", "ir", "OpenVINO FP32 (true f32)",
            "FP32 IR with INFERENCE_PRECISION_HINT=f32: the baseline of every drop and speed-up", ir="fp32",
            precision_hint="f32"),
    Variant("openvino-fp32@bf16", "ir", "OpenVINO FP32 IR run in bf16",
            "FP32 IR with INFERENCE_PRECISION_HINT=bf16, what OpenVINO runs by default on a bf16-capable CPU",
            ir="fp32", precision_hint="bf16"),
    Variant("openvino-fp16", "ir", "OpenVINO FP16 IR", "FP16-compressed IR, executed in f32", ir="fp16",
            precision_hint="f32"),
    Variant("openvino-int8", "ir", "OpenVINO INT8 (ours)",
            "NNCF INT8 of the FP32 IR, calibrated at {h}x{w}; float parts in f32", ir="int8", precision_hint="f32"),
    Variant("openvino-int8@bf16", "ir", "OpenVINO INT8 (ours), float parts in bf16",
            "the same INT8 IR with INFERENCE_PRECISION_HINT=bf16: its non-quantized ops run in bf16, what OpenVINO "
            "runs by default on a bf16-capable CPU", ir="int8", precision_hint="bf16"),
    Variant("openvino-int8-ac", "ir", "OpenVINO INT8 within max_drop",
            "NNCF INT8 with accuracy control: ops reverted to float until the mAP50-95 drop on tuning images is "
            "within quantization.max_drop; float parts in f32", ir="int8-ac", precision_hint="f32"),
    Variant("ultralytics-int8", "ir", "Ultralytics' INT8",
            "Ultralytics' own export(format='openvino', int8=True) of the same weights at the same imgsz",
            ir="ultralytics-int8", precision_hint="f32", families=("ultralytics",)),
)

BASELINE = "openvino-fp32"  # true f32: every drop and speed-up is measured against it
INCUMBENT = "ultralytics-int8"  # the INT8 export users would otherwise use
OURS_INT8 = "openvino-int8"
OURS_INT8_AC = "openvino-int8-ac"  # only built when quantization.max_drop is set
_BY_NAME = {v.name: v for v in REGISTRY}
# The IR folders this workflow packages as deployment bundles (results/{model}/{h}x{w}/bundles/{ir}/, rule bundle).
# The verdict recommends only variants that run one of them (the file to ship); the others (torch, onnxruntime,
# Ultralytics' own INT8 export) are measured for comparison.
BUNDLED_IRS = ("fp32", "fp16", "int8", "int8-ac")


def names() -> list[str]:
    """All variant names in display order."""
    return [v.name for v in REGISTRY]


def get(name: str) -> Variant:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise WorkflowError(f"unknown variant '{name}'; use one of {', '.join(names())}") from None


def rank(name: str) -> int:
    """Display position (unknown names last)."""
    return names().index(name) if name in _BY_NAME else len(REGISTRY)


def bundle_of(name: str) -> str | None:
    """The bundle (IR folder name under ``bundles/``) that ships variant ``name``, or None for a comparison variant.
    An ``@bf16`` variant ships as its IR's bundle, run with the bf16 precision hint."""
    v = get(name)
    return v.ir if v.is_openvino and v.ir in BUNDLED_IRS else None


def comparison_only(requested: list[str]) -> list[str]:
    """The variants among ``requested`` that are measured for comparison but never recommended (no bundle)."""
    return [n for n in requested if bundle_of(n) is None]


def for_family(family: str, requested: list[str]) -> list[str]:
    """The requested variants that apply to a model of ``family``, in display order."""
    return [v.name for v in REGISTRY if v.name in requested and family in v.families]


BF16_MODES = ("auto", "always")


def without_unsupported_bf16(requested: list[str], mode: str, cpu_has_bf16: bool) -> tuple[list[str], dict[str, str]]:
    """The requested variants this machine measures, and those it leaves out with the reason.

    A variant whose precision hint is bf16 runs in f32 on a CPU without bf16 (OpenVINO falls back silently): it
    would repeat the f32 row of the same IR, at the cost of a validation and a share of every benchmark round. With
    ``mode`` "auto" such variants are left out where the CPU has no bf16; "always" measures them anyway."""
    if mode not in BF16_MODES:
        raise WorkflowError(f"evaluation.bf16 must be one of {', '.join(BF16_MODES)}, got '{mode}'")
    kept, left_out = [], {}
    for name in requested:
        why = not_measured_reason(name, mode, cpu_has_bf16)
        if why:
            left_out[name] = why
        else:
            kept.append(name)
    return kept, left_out


def not_measured_reason(name: str, mode: str, cpu_has_bf16: bool, node: str | None = None) -> str | None:
    """Why ``name`` is not measured on a CPU (``node``) with or without bf16 under ``evaluation.bf16: mode``, or
    None when it is measured. Decided by the job on the node that would measure it, never where the workflow is
    parsed (on a cluster that is the submit host)."""
    if mode not in BF16_MODES:
        raise WorkflowError(f"evaluation.bf16 must be one of {', '.join(BF16_MODES)}, got '{mode}'")
    spec = get(name)
    if mode == "always" or cpu_has_bf16 or spec.precision_hint != "bf16":
        return None
    same = next((v.name for v in REGISTRY if v.ir == spec.ir and v.precision_hint == "f32"), None)
    where = f"node {node} has" if node else "this CPU has"
    return (f"not measured: {where} no bf16, so OpenVINO would run it in f32" + (f", exactly as {same}" if same else "")
            + " (set evaluation.bf16: always to measure it)")


def wildcard_regex() -> str:
    """The ``{variant}`` wildcard constraint: exactly the registered names."""
    return "|".join(re.escape(n) for n in names())

