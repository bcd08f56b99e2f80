"""OpenVINO IR conversion (FP32 / FP16) with a metadata.yaml beside each model and the IR's own ``model_info``."""
from __future__ import annotations

from pathlib import Path

from ovyolo.atomic import atomic_dir
from ovyolo.errors import WorkflowError
from ovyolo.ir import PREDICT_CONF, PREDICT_IOU, check_ir, set_model_info


def metadata(info, hw: tuple[int, int], precision: str, source: str, extra: dict | None = None) -> dict:
    """What a deployment needs next to the IR: shape, stride, names, preprocessing, precision, source."""
    from ovyolo import layouts
    from ovyolo.data import letterbox

    meta = {
        "imgsz": [int(hw[0]), int(hw[1])],
        "stride": int(info.stride),
        "names": {i: n for i, n in enumerate(info.names)},
        "family": info.family,
        "layout": info.output_layout,
        "output_layout": layouts.describe(info.output_layout),
        "preprocessing": {
            "letterbox": {"pad_value": letterbox.PAD_VALUE, "centered": True, "scaleup": True},
            "color": "RGB",
            "layout": "NCHW",
            "scale": "1/255",
        },
        "precision": precision,
        "thresholds": {"conf": PREDICT_CONF, "iou": PREDICT_IOU},
        "source": str(source),
    }
    if extra:
        meta.update(extra)
    return meta


def save_ir(ov_model, out_dir: Path, *, compress_to_fp16: bool, meta: dict, hw: tuple[int, int]) -> None:
    """Save model.xml/.bin and metadata.yaml into ``out_dir`` atomically, checking the saved input shape. The IR's
    runtime info gets ``model_info`` (:func:`set_model_info`) from ``meta``, so the IR alone is self-describing."""
    import openvino as ov
    import yaml

    set_model_info(ov_model, meta)
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
