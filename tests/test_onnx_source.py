"""ONNX given directly as the model source: a static input is used as is, a dynamic one fixed to the deploy shape."""
import json
import shutil
from pathlib import Path

import pytest

from ovyolo.build.convert import convert
from ovyolo.build.export import export
from ovyolo.discover import discover_model
from ovyolo.errors import ShapeMismatchError, WorkflowError
from ovyolo.sources import identify_with as model_info
from ovyolo.sources.onnx import input_dims as onnx_input_shape

pytestmark = pytest.mark.component

SETTINGS = {"family": "auto", "stride": 32, "imgsz": "auto"}


@pytest.fixture(scope="module")
def dynamic_onnx(fp32_ir, tmp_path_factory):
    from ultralytics import YOLO

    d = tmp_path_factory.mktemp("dyn")
    shutil.copyfile(fp32_ir["run"] / "weights/best.pt", d / "best.pt")
    out = YOLO(str(d / "best.pt")).export(format="onnx", dynamic=True, imgsz=320, opset=17, simplify=False, verbose=False)
    return d / "best.onnx" if out is None else type(d)(out)


def test_static_onnx_keeps_its_shape(fp32_ir, demo_data, tmp_path):
    rec = discover_model("m", fp32_ir["onnx"], demo_data, SETTINGS, tmp_path / "shape.json")
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(192, 320)] and rec["family"] == "onnx"
    info = model_info(fp32_ir["onnx"], SETTINGS)
    assert info.names == ["circle", "square", "triangle"] and info.output_layout == "ultralytics"
    out = export(info, (192, 320), tmp_path / "192x320/model.onnx")
    assert onnx_input_shape(out) == [1, 3, 192, 320]
    xml = convert(out, (192, 320), "fp32", tmp_path / "192x320/fp32")
    assert xml.exists()
    with pytest.raises(ShapeMismatchError, match=r"static input \[1, 3, 192, 320\], not \[1, 3, 320, 320\]"):
        export(info, (320, 320), tmp_path / "320x320/model.onnx")


def test_dynamic_onnx_is_fixed_to_the_deploy_shape(dynamic_onnx, demo_data, tmp_path):
    assert onnx_input_shape(dynamic_onnx)[2:] != [192, 320]
    rec = discover_model("m", dynamic_onnx, demo_data, SETTINGS, tmp_path / "shape.json")
    # Ultralytics writes imgsz into the ONNX metadata: it is the training size, and the data decide the shape
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(192, 320)]
    assert json.loads((tmp_path / "shape.json").read_text())["train_imgsz_from"] == "ONNX metadata"
    out = export(model_info(dynamic_onnx, SETTINGS), (192, 320), tmp_path / "model.onnx")
    assert onnx_input_shape(out) == [1, 3, 192, 320]


def test_onnx_without_any_size_needs_imgsz(tmp_path, demo_data):
    import onnx
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, "h", "w"])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 7, "n"])  # a detector's output, 3 classes
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [1, 7, -1])
    graph = helper.make_graph([helper.make_node("Reshape", ["images", "shape"], ["out"])], "g", [inp], [out],
                              initializer=[shape])
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    with pytest.raises(WorkflowError, match="set 'imgsz:'"):
        discover_model("m", tmp_path / "m.onnx", demo_data, SETTINGS, tmp_path / "shape.json")
    rec = discover_model("m", tmp_path / "m.onnx", demo_data, {**SETTINGS, "imgsz": [192, 320]}, tmp_path / "shape.json")
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(192, 320)]


def test_p6_onnx_keeps_stride_64(tmp_path, demo_data):
    """A P6 ONNX: Ultralytics' metadata gives 64; without metadata the row count does, and a config stride that
    contradicts it is refused; export and convert keep 64."""
    import onnx
    import yaml
    from conftest import make_ultralytics_run
    from ultralytics import YOLO

    from ovyolo.ir import read_model_info
    from ovyolo.sources import identify_with

    run = make_ultralytics_run(tmp_path / "run", names=["a", "b", "c"], imgsz=128, model_yaml="yolov8n-p6.yaml")
    onnx_path = Path(YOLO(str(run / "weights" / "best.pt")).export(format="onnx", imgsz=[128, 192], opset=17,
                                                                    verbose=False, device="cpu"))
    assert identify_with(onnx_path, {"stride": 32}).stride == 64  # metadata wins over the config default
    m = onnx.load(str(onnx_path))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "bare.onnx"))
    with pytest.raises(WorkflowError, match="mean detection strides up to 64, but the stride is 32.*set stride: 64"):
        identify_with(tmp_path / "bare.onnx", {"stride": 32})
    src = identify_with(tmp_path / "bare.onnx", {"stride": 64})
    xml = convert(export(src, (128, 192), tmp_path / "e" / "model.onnx"), (128, 192), "fp32", tmp_path / "e" / "fp32")
    assert read_model_info(xml)["stride"] == 64
    assert yaml.safe_load((xml.parent / "metadata.yaml").read_text())["stride"] == 64
