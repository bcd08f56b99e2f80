"""INT8 post-training quantization with NNCF (MIXED preset, the detect head's box decoding kept float)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ovyolo.errors import ShapeMismatchError


def head_ignored_names(ov_model) -> list[str]:
    """Names of the ops that decode boxes in the detect head, to keep out of quantization.

    The head is the module that owns the last Sigmoid (``/model.24`` in an Ultralytics ONNX). We ignore the ops
    directly in the head module (concat, split, anchor arithmetic, the class Sigmoid), its DFL sub-module
    (softmax + 1x1 conv over bins) and the op that produces the output -- but not the head's convolution
    branches (``/model.24/cv2.0/...``), which quantize well and hold most of its weights.
    """
    ops = ov_model.get_ordered_ops()
    sigmoids = [op.get_friendly_name() for op in ops if op.get_type_name() == "Sigmoid"]
    head = None
    if sigmoids:
        m = re.match(r"^(.*?model[./]\d+)[./]", sigmoids[-1])
        head = m.group(1) if m else None
    outputs = {r.input_value(0).get_node().get_friendly_name() for r in ov_model.get_results()}
    names: list[str] = []
    for op in ops:
        name, kind = op.get_friendly_name(), op.get_type_name()
        if kind in ("Parameter", "Result", "Constant"):
            continue
        in_head = head is not None and (name.startswith(f"{head}/dfl") or re.fullmatch(rf"{re.escape(head)}/[^/]+", name))
        if in_head or name in outputs:
            names.append(name)
    return names


def normalize_generated_names(ov_model) -> int:
    """Give every op whose friendly name OpenVINO generated (``<Type>_<instance id>``, e.g. ``Constant_50747``) a
    name that depends only on its position in the graph (``<Type>_g<k>``, topological order); returns how many.

    The instance id is a process-wide counter, so the same quantization run twice in one process wrote .xml files
    that differed in those names only (the .bin was identical). The weight FakeQuantize ops are folded into int8
    constants first (what ``ov.save_model`` would otherwise do while serialising, creating more such names).
    """
    from openvino._offline_transformations import compress_quantize_weights_transformation

    compress_quantize_weights_transformation(ov_model)
    n = 0
    for op in ov_model.get_ordered_ops():
        kind = op.get_type_name()
        if re.fullmatch(rf"{re.escape(kind)}_\d+", op.get_friendly_name()):
            op.set_friendly_name(f"{kind}_g{n}")
            n += 1
    return n


def recipe(preset=None, keep_head_float=None, fast_bias_correction=None) -> tuple[str, bool, bool]:
    """The INT8 recipe with every unset part taken from the config schema's ``quantization`` defaults."""
    from ovyolo.config import default

    q = default("quantization")
    return (q["preset"] if preset is None else preset,
            q["keep_head_float"] if keep_head_float is None else bool(keep_head_float),
            q["fast_bias_correction"] if fast_bias_correction is None else bool(fast_bias_correction))


def check_pair(fp32_xml: str | Path, calib: np.ndarray, hw: tuple[int, int]) -> None:
    """Refuse a calibration set whose images are not the model's input size, naming both shapes."""
    from ovyolo.ir import ir_input_shape

    model_shape = ir_input_shape(fp32_xml)
    calib_shape = [1, 3, int(calib.shape[2]), int(calib.shape[3])]
    if model_shape != calib_shape:
        raise ShapeMismatchError(
            f"calibration tensors are {calib_shape} but the model {fp32_xml} expects {model_shape}; "
            f"build the calibration set at {model_shape[2]}x{model_shape[3]} (same {{h}}x{{w}} as the model)"
        )
    if model_shape != [1, 3, int(hw[0]), int(hw[1])]:
        raise ShapeMismatchError(f"{fp32_xml}: IR input is {model_shape} but its path says [1, 3, {hw[0]}, {hw[1]}]")


def quantize(fp32_xml: str | Path, calibration: str | Path, hw: tuple[int, int], out_dir: str | Path,
             *, preset: str | None = None, keep_head_float: bool | None = None,
             fast_bias_correction: bool | None = None, subset_size: int | None = None,
             ignored_patterns: list[str] | None = None, float_names: list[str] | None = None) -> dict:
    """Quantize the FP32 IR with the calibration set of the same h x w; write ``out_dir`` (model.xml/.bin,
    metadata.yaml) atomically. Shapes are checked before NNCF starts. Returns a summary of what was done.
    The recipe (``preset``, ``keep_head_float``, ``fast_bias_correction``) defaults to the config's
    ``quantization`` section (:func:`recipe`).

    Kept float (NNCF ignored scope): the head's box decoding with ``keep_head_float`` (:func:`head_ignored_names`),
    ops matching ``ignored_patterns`` (regular expressions, e.g. NNCF's YOLO26 recipe ``.*one2one.*``) and the ops
    named in ``float_names``."""
    preset, keep_head_float, fast_bias_correction = recipe(preset, keep_head_float, fast_bias_correction)
    from ovyolo.build import calibration as cal

    fp32_xml = Path(fp32_xml)
    arr = cal.load(calibration)
    check_pair(fp32_xml, arr, hw)  # before any heavy import or work

    import nncf
    import openvino as ov
    import yaml

    from ovyolo.build.convert import save_ir

    model = ov.Core().read_model(str(fp32_xml))
    ignored = head_ignored_names(model) if keep_head_float else []
    ignored += [n for n in (float_names or []) if n not in ignored]
    n = len(arr) if subset_size is None else min(subset_size, len(arr))
    dataset = nncf.Dataset(range(n), lambda i: np.ascontiguousarray(arr[i][None], dtype=np.float32) / 255.0)
    qmodel = nncf.quantize(
        model, dataset,
        preset=nncf.QuantizationPreset.MIXED if preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE,
        subset_size=n,
        fast_bias_correction=fast_bias_correction,
        ignored_scope=(nncf.IgnoredScope(names=ignored, patterns=list(ignored_patterns or []), validate=False)
                       if ignored or ignored_patterns else None),
    )
    meta_path = fp32_xml.parent / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text()) if meta_path.exists() else {}
    summary = {"preset": preset, "calibration_images": n, "ignored_ops": len(ignored), "fast_bias_correction": fast_bias_correction}
    if ignored_patterns:
        summary["ignored_patterns"] = list(ignored_patterns)
    meta.update({"precision": "int8", "source": str(fp32_xml), "quantization": summary})
    normalize_generated_names(qmodel)
    save_ir(qmodel, Path(out_dir), compress_to_fp16=False, meta=meta, hw=hw)
    return summary


def count_quantized_ops(xml: str | Path) -> int:
    """How many FakeQuantize / int8 convert ops an IR holds (0 for a float model)."""
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    n = 0
    for op in model.get_ordered_ops():
        t = op.get_type_name()
        if t == "FakeQuantize":
            n += 1
        elif t == "Constant" and op.get_element_type().get_type_name() in ("i8", "u8"):
            n += 1
    return n


LAYER_TYPES = ("Convolution", "GroupConvolution", "MatMul", "FullyConnected")


def int8_layers(xml: str | Path) -> dict:
    """How many compute layers (convolutions, MatMul / FullyConnected) of an IR the OpenVINO CPU plugin runs in int8
    and which it runs in float: read from the compiled model's runtime graph (``runtimePrecision`` u8/i8), i.e. what
    actually executes, not what the IR asks for. Returns ``{"int8": n, "float": m, "float_names": [...]}``."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1})
    q, f = 0, []
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if str(info["layerType"].astype(str)) not in LAYER_TYPES:
            continue
        if str(info["runtimePrecision"].astype(str)) in ("u8", "i8"):
            q += 1
        else:
            f.append(str(info["originalLayersNames"].astype(str)))
    return {"int8": q, "float": len(f), "float_names": f}
