"""What is not a YOLO detector is refused up front: one line naming what it is and what is supported, before any
export, and nothing is left behind (identify_source writes no source.json). Real Ultralytics models, freshly built."""
import shutil
from pathlib import Path

import pytest
import torch

from ovyolo.discover import identify_source
from ovyolo.errors import WorkflowError

pytestmark = pytest.mark.component

SUPPORTED = "supported are Ultralytics YOLO detection models"


def _checkpoint(path: Path, cls_name: str, model_yaml: str) -> Path:
    from ultralytics.nn import tasks

    model = getattr(tasks, cls_name)(model_yaml, nc=3, verbose=False)
    model.names = {0: "a", 1: "b", 2: "c"}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.half(), "ema": None, "train_args": {"imgsz": 64}}, path)
    return path


def _refused(source: Path, tmp_path: Path) -> str:
    out = tmp_path / "results" / "m" / "source.json"
    with pytest.raises(WorkflowError) as exc:
        identify_source(source, {"trust_checkpoint": True}, out)
    assert not (tmp_path / "results").exists()  # nothing left behind for a later step
    msg = str(exc.value)
    assert "\n" not in msg and SUPPORTED in msg
    return msg


@pytest.mark.parametrize("cls_name,model_yaml,what", [
    ("WorldModel", "yolov8s-worldv2.yaml", "YOLO-World model"),
    ("YOLOEModel", "yoloe-26n.yaml", "YOLOE model"),
    ("RTDETRDetectionModel", "yolov8-rtdetr.yaml", "RT-DETR model"),
    ("SegmentationModel", "yolo26n-seg.yaml", "segmentation model"),
    ("PoseModel", "yolo26n-pose.yaml", "pose model"),
    ("OBBModel", "yolo26n-obb.yaml", "oriented-box model"),
])
def test_checkpoints_that_are_not_yolo_detectors(tmp_path, cls_name, model_yaml, what):
    ckpt = _checkpoint(tmp_path / "w" / "best.pt", cls_name, model_yaml)
    assert what in _refused(ckpt, tmp_path)


@pytest.mark.parametrize("cls_name,model_yaml,what", [
    ("WorldModel", "yolov8s-worldv2.yaml", "YOLO-World model (open-vocabulary detection) (ONNX metadata head: WorldDetect)"),
    ("YOLOEModel", "yoloe-26n.yaml", "YOLOE model (open-vocabulary detection) (ONNX metadata head: YOLOEDetect)"),
    ("PoseModel", "yolo26n-pose.yaml", "pose model"),
    ("SegmentationModel", "yolo26n-seg.yaml", "segmentation model"),
    ("ClassificationModel", "yolo26n-cls.yaml", "classification"),
])
def test_onnx_exports_that_are_not_yolo_detectors(tmp_path, cls_name, model_yaml, what):
    """Ultralytics' own ONNX export of each: refused from its metadata (task / head) or its outputs."""
    from ultralytics import YOLO

    ckpt = _checkpoint(tmp_path / "w" / "best.pt", cls_name, model_yaml)
    onnx = Path(YOLO(str(ckpt)).export(format="onnx", imgsz=64, opset=17, verbose=False, device="cpu"))
    assert what in _refused(onnx, tmp_path)


def test_non_detector_onnx_without_metadata_is_refused_by_its_outputs(tmp_path, demo_data):
    """Metadata stripped: a segmentation export has two outputs; a pose export's one output does not fit the data's
    classes (refused at discovery, before export)."""
    import onnx
    from ultralytics import YOLO

    from ovyolo.discover import discover_model

    for cls_name, model_yaml in (("SegmentationModel", "yolo26n-seg.yaml"), ("PoseModel", "yolo26n-pose.yaml")):
        ckpt = _checkpoint(tmp_path / cls_name / "best.pt", cls_name, model_yaml)
        path = Path(YOLO(str(ckpt)).export(format="onnx", imgsz=64, opset=17, verbose=False, device="cpu"))
        m = onnx.load(str(path))
        del m.metadata_props[:]
        bare = tmp_path / f"{cls_name}.onnx"
        onnx.save(m, str(bare))
        if cls_name == "SegmentationModel":
            assert "has 2 outputs" in _refused(bare, tmp_path)
            continue
        out = tmp_path / "shape.json"
        with pytest.raises(WorkflowError) as exc:  # [1, 4 + 3 + 51, N] is no detector of the data's 3 classes
            discover_model("m", bare, demo_data, {"imgsz": "auto"}, out)
        assert "does not match its declared layout 'ultralytics'" in str(exc.value) and "(1, 7, N)" in str(exc.value)
        assert not out.exists()
    shutil.rmtree(tmp_path / "SegmentationModel", ignore_errors=True)
