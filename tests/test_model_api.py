"""OpenVINO Model API (``openvino-model-api``, installed with ``--no-deps``) reads our IRs from their rt_info alone:
``Model.create_model`` picks its YOLOv8 wrapper for the trained demo's INT8 IR and finds our pipeline's detections;
an end-to-end IR (YOLO26, 1 x K x 6), which no Model API 0.4.x wrapper decodes, is refused with an error.

Without the package the tests fail on CI (CI=true) and skip elsewhere, saying how to install it."""
from pathlib import Path

import numpy as np
import pytest
from conftest import RUNNING_IN_CI, make_ultralytics_run
from workflow_helpers import MODEL_API_PIN

from ovyolo.report.gallery import matched

pytestmark = pytest.mark.component

INSTALL = f"pip install --no-deps {MODEL_API_PIN}"


def model_api_model():
    """``model_api.models.Model``; a failure on CI when the package is missing, a skip with the reason elsewhere."""
    try:
        from model_api.models import Model
    except ImportError as exc:
        why = f"openvino-model-api is not installed ({exc}); install it with: {INSTALL}"
        if RUNNING_IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return Model


def test_model_api_finds_our_pipelines_detections(trained_irs):
    """create_model on the INT8 IR alone (no model_type, no thresholds given): its YOLOv8 wrapper with our rt_info's
    thresholds; on the demo's val and train images (BGR, as Model API takes them) >= 99% of our pipeline's
    detections matched by Model API's (same class, IoU >= 0.9) and the other way round, at least 100 compared."""
    Model = model_api_model()
    import cv2
    from model_api.models import YOLOv8

    from ovyolo.data.dataset import load_dataset
    from ovyolo.deploy.pipeline import PIPELINE_HINT, Pipeline, Source
    from ovyolo.deploy.predict import load
    from ovyolo.ir import read_model_info

    xml = Path(trained_irs["int8"])
    info = read_model_info(xml)
    assert info["model_type"] == "YOLOv8"
    model = Model.create_model(str(xml), device="CPU", nthreads=2)
    assert type(model) is YOLOv8
    assert model.params.labels == info["labels"]
    assert (model.params.confidence_threshold, model.params.iou_threshold) == (
        pytest.approx(info["confidence_threshold"]), pytest.approx(info["iou_threshold"]))

    conf = float(model.params.confidence_threshold)
    ds = load_dataset(trained_irs["demo"]["data"])
    images = sorted(ds.images("val")) + sorted(ds.images("train"))  # 32 val images alone have < 100 detections
    pipe = Pipeline(load(xml.parent, threads=2, conf=conf, performance_hint=PIPELINE_HINT))
    ours = list(pipe.run(Source("images", paths=images)))
    assert [r.name for r in ours] == [str(p) for p in images]
    n_ours = n_api = hit_ours = hit_api = 0
    for path, r in zip(images, ours):
        assert r.error is None
        res = model(cv2.imread(str(path)))  # BGR, as Model API takes images
        api = np.column_stack([res.bboxes.astype(np.float32), res.scores, res.labels]).reshape(-1, 6)
        assert (api[:, 4] > conf).all() and (r.det[:, 4] > conf).all()
        n_ours, n_api = n_ours + len(r.det), n_api + len(api)
        hit_ours += matched(r.det, api, 0.9)
        hit_api += matched(api, r.det, 0.9)
    assert n_ours >= 100, n_ours
    assert hit_ours >= 0.99 * n_ours and hit_api >= 0.99 * n_api, (hit_ours, n_ours, hit_api, n_api)


@pytest.fixture(scope="module")
def yolo26_ir(tmp_path_factory):
    """A fresh (untrained) YOLO26n exported with its end-to-end head at 64x96 and converted to FP32 (~5 s)."""
    from ovyolo.build.convert import convert
    from ovyolo.build.export import export
    from ovyolo.sources import identify_with

    model_api_model()  # fail or skip before building
    root = tmp_path_factory.mktemp("y26_model_api")
    hw = (64, 96)
    run = make_ultralytics_run(root / "run", names=["circle", "square", "triangle"], imgsz=96,
                               model_yaml="yolo26n.yaml")
    onnx = export(identify_with(run, {"trust_checkpoint": True}), hw, root / "64x96" / "model.onnx")
    return convert(onnx, hw, "fp32", root / "64x96" / "fp32")


def test_model_api_refuses_an_end2end_ir(yolo26_ir):
    """Model API 0.4.x has no wrapper for the end-to-end output (1 x K x 6): our rt_info names ``yolo_end2end``, so
    create_model raises instead of returning a wrapper; forcing its YOLOv8 wrapper raises too (its shape check)."""
    Model = model_api_model()
    from model_api.models.model import WrapperError

    from ovyolo.ir import read_model_info

    info = read_model_info(yolo26_ir)
    assert info["model_type"] == "yolo_end2end" and info["output_layout"] == "end2end"
    with pytest.raises(WrapperError, match="There is no model with name yolo_end2end"):
        Model.create_model(str(yolo26_ir), device="CPU", nthreads=2)
    with pytest.raises(WrapperError, match="number of labels must be smaller than out_shape"):
        Model.create_model(str(yolo26_ir), model_type="YOLOv8", device="CPU", nthreads=2)
