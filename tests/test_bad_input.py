"""Bad input: each case gives one clear line (what, where, and the fix) before any heavy work."""
import numpy as np
import pytest
import torch
import yaml

from ovyolo.build import calibration
from ovyolo.data.dataset import load_dataset
from ovyolo.discover import discover_model
from ovyolo.errors import WorkflowError
from ovyolo.sources import identify_with as model_info
from ovyolo.sources.onnx import inspect as inspect_onnx

pytestmark = pytest.mark.component

TRUST = {"trust_checkpoint": True}


def one_line(exc) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


def test_missing_checkpoint(tmp_path):
    with pytest.raises(WorkflowError) as exc:
        model_info(tmp_path / "nope" / "best.pt", TRUST)
    assert "does not exist" in one_line(exc) and "source" in str(exc.value)
    (tmp_path / "run").mkdir()
    with pytest.raises(WorkflowError, match="without weights/best.pt"):
        model_info(tmp_path / "run", TRUST)


def test_corrupt_checkpoint(tmp_path):
    f = tmp_path / "best.pt"
    f.write_bytes(b"\x80\x02this is not a checkpoint")
    with pytest.raises(WorkflowError) as exc:
        model_info(f, TRUST)
    assert "not a readable PyTorch checkpoint" in one_line(exc)


def test_untrusted_checkpoint_is_not_unpickled(fp32_ir):
    with pytest.raises(WorkflowError) as exc:
        model_info(fp32_ir["run"], {"trust_checkpoint": False})
    assert "trust_checkpoint: true" in one_line(exc)


def test_checkpoint_that_is_not_a_detection_model(tmp_path):
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "linear.pt")
    with pytest.raises(WorkflowError) as exc:
        model_info(tmp_path / "linear.pt", TRUST)
    assert "not a YOLO detection model" in one_line(exc)
    torch.save({"epoch": 3}, tmp_path / "nomodel.pt")
    with pytest.raises(WorkflowError, match="no 'model' entry"):
        model_info(tmp_path / "nomodel.pt", TRUST)
    from ultralytics.nn.tasks import ClassificationModel

    torch.save({"model": ClassificationModel("yolov8n-cls.yaml", nc=3, verbose=False)}, tmp_path / "cls.pt")
    with pytest.raises(WorkflowError) as exc:
        model_info(tmp_path / "cls.pt", TRUST)
    assert "ClassificationModel" in one_line(exc)


def test_family_that_does_not_match(fp32_ir):
    with pytest.raises(WorkflowError) as exc:
        model_info(fp32_ir["run"], {"trust_checkpoint": True, "family": "onnx"})
    assert "ultralytics checkpoint but config says family: onnx" in one_line(exc)


def test_unknown_source_type(tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"x")
    with pytest.raises(WorkflowError, match="unknown file type '.tflite'"):
        model_info(tmp_path / "model.tflite", TRUST)


def _onnx_with_input(path, dims):
    import onnx
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, dims)
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, dims)
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["out"])], "g", [inp], [out])
    onnx.save(helper.make_model(graph), str(path))


@pytest.mark.parametrize("dims", [[1, 3, 320], [1, 1, 320, 320], [1, 4, 320, 320]])
def test_onnx_of_wrong_rank_or_channels(tmp_path, dims):
    _onnx_with_input(tmp_path / "m.onnx", dims)
    with pytest.raises(WorkflowError) as exc:
        inspect_onnx(tmp_path / "m.onnx")
    assert "is not N x 3 x H x W" in one_line(exc)


def test_corrupt_onnx(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"garbage")
    with pytest.raises(WorkflowError, match="not a readable ONNX model"):
        inspect_onnx(tmp_path / "m.onnx")


def test_data_yaml_missing_empty_or_unlabelled(tmp_path, fp32_ir, demo_data):
    out = tmp_path / "shape.json"
    with pytest.raises(WorkflowError) as exc:
        discover_model("m", fp32_ir["run"], tmp_path / "missing.yaml", TRUST, out)
    assert "data.yaml not found" in one_line(exc)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"train": "nowhere/images", "val": "nowhere/images", "names": ["circle", "square", "triangle"]}))
    with pytest.raises(WorkflowError) as exc:
        discover_model("m", fp32_ir["run"], bad, TRUST, out)
    assert "does not exist" in one_line(exc)
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "data.yaml").write_text(yaml.safe_dump({"train": "images", "val": "images", "names": ["circle", "square", "triangle"]}))
    with pytest.raises(WorkflowError, match="val split has no images"):
        discover_model("m", fp32_ir["run"], empty / "data.yaml", TRUST, out)
    # images but no labels
    nolab = tmp_path / "nolab"
    (nolab / "images").mkdir(parents=True)
    for img in load_dataset(demo_data).images("val")[:2]:
        (nolab / "images" / img.name).write_bytes(img.read_bytes())
    (nolab / "data.yaml").write_text(yaml.safe_dump({"train": "images", "val": "images", "names": ["circle", "square", "triangle"]}))
    with pytest.raises(WorkflowError) as exc:
        discover_model("m", fp32_ir["run"], nolab / "data.yaml", TRUST, out)
    assert "has a label file" in one_line(exc)
    assert not out.exists()


def test_classes_that_disagree_between_model_and_data(tmp_path, fp32_ir, demo_data):
    doc = yaml.safe_load(demo_data.read_text())
    root = demo_data.parent
    for names, needle in ((["a", "b"], "the model has 3 classes but"), (["circle", "square", "star"], "class 2 is 'triangle'")):
        f = tmp_path / f"d{len(names)}.yaml"
        f.write_text(yaml.safe_dump({**doc, "path": str(root), "names": names}))
        with pytest.raises(WorkflowError) as exc:
            discover_model("m", fp32_ir["run"], f, TRUST, tmp_path / "shape.json")
        assert needle in one_line(exc)


def test_odd_images_are_converted_or_skipped_and_counted(tmp_path, demo_data):
    from PIL import Image

    src = load_dataset(demo_data).images("train")
    d = tmp_path / "images"
    d.mkdir()
    rgb = np.asarray(Image.open(src[0]).convert("RGB"))
    Image.fromarray(rgb).convert("L").save(d / "gray.png")
    Image.fromarray(rgb).convert("RGBA").save(d / "rgba.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(d / "deep16.png")
    (d / "corrupt.png").write_bytes(b"\x89PNG broken")
    files = sorted(d.iterdir()) + src[:6]
    man = calibration.build(files, (192, 320), 100, tmp_path / "cal")
    assert man["count"] == 9 and [s["file"].endswith("corrupt.png") for s in man["skipped"]] == [True]
    assert any("skipped 1 unreadable" in w for w in man["warnings"])
    arr = np.load(tmp_path / "cal" / "images.npy")
    assert arr.shape == (9, 3, 192, 320)
