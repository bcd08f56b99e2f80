"""Parity with `yolo val`: the same weights, split and shape give the same mAP50-95 when scored the same way.

Ultralytics' validator runs in-process (offline, plots=False) on a symlinked stand-in of the val split, so its
labels.cache is not written into the data set.
"""
import pytest
from trained_demo import HW, IMGSZ, trained_demo

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return trained_demo(tmp_path_factory)


def _yolo_val(weights, data_yaml, tmp_path, **kw):
    from ultralytics import YOLO

    from ovyolo.build.ultralytics_int8 import scratch_dataset

    yaml_copy = scratch_dataset(data_yaml, tmp_path / "valdata", splits=("val",))
    m = YOLO(str(weights)).val(data=str(yaml_copy), split="val", imgsz=IMGSZ, device="cpu", workers=0, plots=False,
                               verbose=False, save_json=False, project=str(tmp_path / "runs"), name="val", **kw)
    return {"mAP50": float(m.box.map50), "mAP50_95": float(m.box.map)}


def _ours(demo, hw, **kw):
    from ovyolo.data.dataset import load_dataset
    from ovyolo.measure.evaluate import evaluate
    from ovyolo.measure.runtimes import make_runner
    from ovyolo.sources import identify

    ds = load_dataset(demo["data"])
    runner = make_runner("torch", source=identify(demo["weights"], trusted=True), threads=2, hw=hw)
    return evaluate(runner.infer, ds.images("val"), hw, ds.names, "ultralytics", **kw)


# rect=False: every image letterboxed to IMGSZ x IMGSZ, as our letterbox does at (IMGSZ, IMGSZ). (yolo val's default
# rect=True pads each batch shape by half a stride: 360x640 frames at imgsz 320 become 180x320 inside a 224x352
# canvas, which our letterbox, filling the canvas, does not produce; see README, "Our mAP and `yolo val`'s".)
@pytest.mark.parametrize("rect, hw", [(False, (IMGSZ, IMGSZ))])
def test_torch_map_matches_yolo_val_scored_the_same_way(demo, tmp_path, rect, hw):
    theirs = _yolo_val(demo["weights"], demo["data"], tmp_path, rect=rect)
    ours = _ours(demo, hw)
    assert theirs["mAP50_95"] > 0.2, theirs  # a model that detects something, or the comparison proves nothing
    assert ours.result["ultralytics"]["mAP50_95"] == pytest.approx(theirs["mAP50_95"], abs=0.005)
    assert ours.result["ultralytics"]["mAP50"] == pytest.approx(theirs["mAP50"], abs=0.005)
    # and the COCO number (our primary) on the very same detections stays close to it
    assert ours.result["mAP50_95"] == pytest.approx(theirs["mAP50_95"], abs=0.03)


def test_evaluation_exposes_the_per_image_lists_coco_eval_consumes(demo):
    from ovyolo.measure.scoring import coco_eval

    ev = _ours(demo, HW, raw_images=4)
    result, raw = ev.result, ev.raw
    assert raw.shape[0] == 4 and result["raw_images"] == 4
    n = result["images"]
    assert len(ev.preds) == len(ev.gts) == len(ev.sizes) == len(ev.files) == n
    assert all(p.shape[1] == 6 and len(p) <= 300 for p in ev.preds) and all(g.shape[1] == 5 for g in ev.gts)
    assert set(ev.sizes) == {(360, 640)}
    again = coco_eval(ev.preds, ev.gts, ev.sizes, ["circle", "square", "triangle"])
    assert again["mAP50_95"] == result["mAP50_95"]
