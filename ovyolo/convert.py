"""OpenVINO IR conversion (FP32 / FP16) with a metadata.yaml beside each model."""
from __future__ import annotations

from pathlib import Path

from ovyolo.atomic import atomic_dir
from ovyolo.errors import ShapeMismatchError, WorkflowError

def model_input_shape(model, where) -> list[int]:
    """The input dims of a read ``ov.Model`` with one image input (-1 for a dynamic axis)."""
    if len(model.inputs) != 1:
        raise WorkflowError(f"{where} has {len(model.inputs)} inputs; expected one image input")
    return [d.get_length() if d.is_static else -1 for d in model.inputs[0].get_partial_shape()]


def ir_input_shape(xml: str | Path) -> list[int]:
    """The input shape of an IR (``read_model`` only: nothing is compiled)."""
    import openvino as ov

    return model_input_shape(ov.Core().read_model(str(xml)), xml)


def check_ir(xml: str | Path, hw: tuple[int, int]) -> None:
    """Fail unless the IR input is exactly 1 x 3 x h x w."""
    dims = ir_input_shape(xml)
    want = [1, 3, int(hw[0]), int(hw[1])]
    if dims != want:
        raise ShapeMismatchError(f"{xml}: IR input is {dims} but its path says {want}; re-run the stage that wrote it")


def metadata(info, hw: tuple[int, int], precision: str, source: str, extra: dict | None = None) -> dict:
    """What a deployment needs next to the IR: shape, stride, names, preprocessing, precision, source."""
    from ovyolo import letterbox

    meta = {
        "imgsz": [int(hw[0]), int(hw[1])],
        "stride": int(info.stride),
        "names": {i: n for i, n in enumerate(info.names)},
        "family": info.family,
        "layout": info.output_layout,
        "output_layout": "1 x (4+nc) x N, boxes cx,cy,w,h, no objectness" if info.output_layout == "ultralytics"
        else "1 x N x (5+nc), boxes cx,cy,w,h, objectness",
        "preprocessing": {
            "letterbox": {"pad_value": letterbox.PAD_VALUE, "centered": True, "scaleup": True},
            "color": "RGB",
            "layout": "NCHW",
            "scale": "1/255",
        },
        "precision": precision,
        "source": str(source),
    }
    if extra:
        meta.update(extra)
    return meta


def save_ir(ov_model, out_dir: Path, *, compress_to_fp16: bool, meta: dict, hw: tuple[int, int]) -> None:
    """Save model.xml/.bin and metadata.yaml into ``out_dir`` atomically, checking the saved input shape."""
    import openvino as ov
    import yaml

    with atomic_dir(out_dir) as tmp:
        ov.save_model(ov_model, str(tmp / "model.xml"), compress_to_fp16=compress_to_fp16)
        (tmp / "metadata.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
        check_ir(tmp / "model.xml", hw)


def convert(onnx_path: str | Path, hw: tuple[int, int], precision: str, out_dir: str | Path) -> Path:
    """ONNX -> IR at ``precision`` (fp32 or fp16) with ``ov.convert_model`` (its telemetry is declined by
    :mod:`ovyolo.offline`). ``convert_model`` folds shape subgraphs and fuses SiLU into Swish, which
    ``Core.read_model`` of the ONNX would leave in place (1185 vs 437 ops for YOLOv5u-n).

    Names, stride and family come from the ONNX's own metadata (written by export), so this stage needs
    nothing but the ONNX of the same ``{h}x{w}``.
    """
    import openvino as ov

    from ovyolo.sources.onnx import check as check_onnx
    from ovyolo.sources.onnx import read_metadata

    if precision not in ("fp32", "fp16"):
        raise WorkflowError(f"convert makes fp32 or fp16 IR, not '{precision}' (int8 comes from quantize)")
    check_onnx(onnx_path, hw)
    info = read_metadata(onnx_path)
    model = ov.convert_model(str(onnx_path))
    meta = metadata(info, hw, precision, onnx_path)
    save_ir(model, Path(out_dir), compress_to_fp16=precision == "fp16", meta=meta, hw=hw)
    return Path(out_dir) / "model.xml"
