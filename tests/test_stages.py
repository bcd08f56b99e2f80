"""The stages through the package API, on a real (untrained) YOLOv5u-n: export, convert, calibrate, quantize."""
import json

import numpy as np
import pytest
import yaml

from ovyolo.build import calibration
from ovyolo.build.convert import convert
from ovyolo.build.quantize import count_quantized_ops, quantize
from ovyolo.data.dataset import load_dataset
from ovyolo.errors import ShapeMismatchError, WorkflowError
from ovyolo.ir import check_ir, ir_input_shape
from ovyolo.sources.onnx import check as check_onnx
from ovyolo.sources.onnx import input_dims as onnx_input_shape

pytestmark = pytest.mark.component


def test_export_is_static_at_the_path_shape(fp32_ir):
    assert onnx_input_shape(fp32_ir["onnx"]) == [1, 3, 192, 320]
    with pytest.raises(ShapeMismatchError, match=r"\[1, 3, 192, 320\].*\[1, 3, 320, 320\]"):
        check_onnx(fp32_ir["onnx"], (320, 320))


def test_fp32_and_fp16_ir_with_metadata(fp32_ir, tmp_path):
    assert ir_input_shape(fp32_ir["xml"]) == [1, 3, 192, 320]
    meta = yaml.safe_load((fp32_ir["xml"].parent / "metadata.yaml").read_text())
    assert meta["imgsz"] == [192, 320] and meta["precision"] == "fp32" and meta["stride"] == 32
    assert meta["names"] == {0: "circle", 1: "square", 2: "triangle"}
    xml16 = convert(fp32_ir["onnx"], (192, 320), "fp16", tmp_path / "fp16")
    assert (tmp_path / "fp16" / "model.bin").stat().st_size < 0.6 * (fp32_ir["xml"].parent / "model.bin").stat().st_size
    check_ir(xml16, (192, 320))
    with pytest.raises(ShapeMismatchError):
        check_ir(xml16, (320, 320))


def test_convert_refuses_onnx_of_another_shape(fp32_ir, tmp_path):
    with pytest.raises(ShapeMismatchError, match="its path says"):
        convert(fp32_ir["onnx"], (320, 320), "fp32", tmp_path / "fp32")
    assert not (tmp_path / "fp32").exists()


def test_export_rejects_non_stride_shape(fp32_ir, tmp_path):
    from ovyolo.build.export import export

    with pytest.raises(WorkflowError, match="stride 32"):
        export(fp32_ir["info"], (200, 320), tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_calibration_set_is_exactly_hw_and_warns_when_short(demo_data, tmp_path):
    images = load_dataset(demo_data).images("train")
    man = calibration.build(images, (192, 320), 300, tmp_path / "cal")
    arr = np.load(tmp_path / "cal" / "images.npy")
    assert arr.shape == (16, 3, 192, 320) and arr.dtype == np.uint8
    assert man["count"] == 16 and man["warnings"] and "only 16" in man["warnings"][0]
    assert json.loads((tmp_path / "cal" / "manifest.json").read_text())["hw"] == [192, 320]
    with pytest.raises(WorkflowError, match="at least"):
        calibration.build(images[:3], (192, 320), 300, tmp_path / "cal2")
    assert not (tmp_path / "cal2").exists()


def test_quantize_guard_refuses_calibration_of_another_shape(fp32_ir, demo_data, tmp_path):
    """The yolov5 export.py mistake: calibration tensors of one shape for a model of another."""
    images = load_dataset(demo_data).images("train")
    calibration.build(images, (320, 320), 10, tmp_path / "cal320")
    out = tmp_path / "int8"
    with pytest.raises(ShapeMismatchError) as exc:
        quantize(fp32_ir["xml"], tmp_path / "cal320" / "images.npy", (192, 320), out)
    msg = str(exc.value)
    assert "[1, 3, 320, 320]" in msg and "[1, 3, 192, 320]" in msg and "\n" not in msg
    assert not out.exists()
    assert not list(tmp_path.glob(".tmp-int8*"))


def test_quantize_produces_int8_ir(fp32_ir, demo_data, tmp_path):
    images = load_dataset(demo_data).images("train")
    calibration.build(images, (192, 320), 10, tmp_path / "cal")
    summary = quantize(fp32_ir["xml"], tmp_path / "cal" / "images.npy", (192, 320), tmp_path / "int8")
    assert summary["calibration_images"] == 10 and summary["ignored_ops"] > 0
    xml = tmp_path / "int8" / "model.xml"
    assert ir_input_shape(xml) == [1, 3, 192, 320]
    assert count_quantized_ops(xml) > 50 and count_quantized_ops(fp32_ir["xml"]) == 0
    meta = yaml.safe_load((tmp_path / "int8" / "metadata.yaml").read_text())
    assert meta["precision"] == "int8" and meta["imgsz"] == [192, 320]
    # the head's box decoding stays float: no FakeQuantize feeds the DFL softmax
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    soft = [op for op in model.get_ordered_ops() if op.get_type_name() in ("Softmax", "SoftMax")]
    assert soft and all(op.input_value(0).get_node().get_type_name() != "FakeQuantize" for op in soft)


def test_bare_pt_takes_its_training_size_from_the_checkpoint(fp32_ir, demo_data, tmp_path):
    import shutil

    from ovyolo.discover import discover_model

    bare = tmp_path / "best.pt"
    shutil.copyfile(fp32_ir["run"] / "weights/best.pt", bare)  # no args.yaml anywhere near it
    rec = discover_model("m", bare, demo_data, {"trust_checkpoint": True}, tmp_path / "shape.json")
    assert rec["train_imgsz_from"] == "checkpoint train_args" and rec["train_imgsz"] == 320
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(192, 320)]
