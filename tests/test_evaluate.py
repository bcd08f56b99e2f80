"""ovyolo.measure.evaluate: NMS decoding, COCO mAP with real pycocotools, letterbox round trip end to end, agreement."""
import numpy as np
import pytest

from ovyolo.data.letterbox import geometry
from ovyolo.errors import WorkflowError
from ovyolo.measure.evaluate import agreement, evaluate, gt_boxes, nms
from ovyolo.measure.scoring import coco_eval

pytestmark = pytest.mark.unit

NAMES = ["a", "b", "c"]
SIZE = (200, 300)


def _one_image(pred_rows, gt_rows, names=NAMES):
    preds = [np.array(pred_rows, dtype=np.float64).reshape(-1, 6)]
    gts = [np.array(gt_rows, dtype=np.float64).reshape(-1, 5)]
    return coco_eval(preds, gts, [SIZE], names)


# --------------------------------------------------------------------------- coco_eval

def test_perfect_predictions_give_one():
    gts = [np.array([[0, 10, 10, 60, 80], [1, 100, 20, 180, 90]], float), np.array([[2, 5, 5, 50, 50]], float)]
    preds = [np.array([[g[1], g[2], g[3], g[4], 1.0, g[0]] for g in gt]) for gt in gts]
    r = coco_eval(preds, gts, [SIZE, SIZE], NAMES)
    assert r["mAP50"] == pytest.approx(1.0) and r["mAP50_95"] == pytest.approx(1.0)
    assert (r["images"], r["instances"]) == (2, 3)
    assert r["per_class"]["b"] == {"mAP50": pytest.approx(1.0), "mAP50_95": pytest.approx(1.0), "instances": 1}


def test_one_of_two_missed_gives_51_of_101():
    # Recall reaches 0.5 at precision 1 and never more. COCOeval samples precision at the 101 recall thresholds
    # 0.00, 0.01, ..., 1.00: the 51 thresholds <= 0.5 get precision 1, the other 50 get 0 -> AP = 51/101.
    r = _one_image([[10, 10, 60, 60, 0.9, 0]], [[0, 10, 10, 60, 60], [0, 100, 100, 150, 150]])
    assert r["mAP50"] == pytest.approx(51 / 101, abs=1e-9)
    assert r["mAP50_95"] == pytest.approx(51 / 101, abs=1e-9)
    assert r["per_class"]["a"]["instances"] == 2


def test_shifted_box_counts_only_at_low_iou_thresholds():
    # GT 100x100, prediction shifted right by 23 px: IoU = (100-23)*100 / ((100+23)*100) = 77/123 = 0.626,
    # which matches at the thresholds 0.50, 0.55, 0.60 but not at 0.65 ... 0.95 -> 3 of 10 thresholds.
    assert 0.6 < 77 / 123 < 0.65
    r = _one_image([[23, 0, 123, 100, 0.8, 1]], [[1, 0, 0, 100, 100]])
    assert r["mAP50"] == pytest.approx(1.0)
    assert r["mAP50_95"] == pytest.approx(0.3)


def test_wrong_class_scores_zero_and_classes_without_gt_are_null():
    r = _one_image([[0, 0, 100, 100, 0.99, 1]], [[0, 0, 0, 100, 100]])
    assert r["mAP50"] == 0.0 and r["mAP50_95"] == 0.0
    assert r["per_class"]["a"] == {"mAP50": 0.0, "mAP50_95": 0.0, "instances": 1}
    assert r["per_class"]["b"] is None and r["per_class"]["c"] is None


def test_images_without_predictions_or_labels():
    empty_p, empty_g = np.zeros((0, 6)), np.zeros((0, 5))
    # GT but no predictions anywhere: 0, not a crash in pycocotools' loadRes
    r = coco_eval([empty_p, empty_p], [np.array([[2, 0, 0, 10, 10]], float), empty_g], [SIZE, SIZE], NAMES)
    assert r["mAP50"] == 0.0 and r["per_class"]["c"]["instances"] == 1 and r["images"] == 2
    # an image with neither, next to a perfect one, does not change the score
    r = coco_eval([np.array([[0, 0, 10, 10, 1.0, 2]]), empty_p], [np.array([[2, 0, 0, 10, 10]], float), empty_g],
                  [SIZE, SIZE], NAMES)
    assert r["mAP50_95"] == pytest.approx(1.0)
    # no ground truth at all: undefined
    r = coco_eval([np.array([[0, 0, 10, 10, 0.5, 0]])], [empty_g], [SIZE], NAMES)
    assert r["mAP50"] is None and r["mAP50_95"] is None and r["instances"] == 0
    assert all(v is None for v in r["per_class"].values())


def test_coco_eval_is_silent(capsys):
    _one_image([[0, 0, 100, 100, 0.99, 0]], [[0, 0, 0, 100, 100]])
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- nms

def _ultralytics_raw(rows_xywh, scores):
    """(1, 4+nc, N) from N boxes (cx, cy, w, h) and an (N, nc) score matrix."""
    return np.concatenate([np.asarray(rows_xywh, np.float32), np.asarray(scores, np.float32)], 1).T[None]


def test_nms_decodes_suppresses_duplicates_keeps_other_classes_and_applies_conf():
    boxes = [[50, 60, 20, 10], [51, 60, 20, 10], [50, 60, 20, 10], [200, 100, 30, 30]]
    scores = [[0.9, 0, 0], [0.8, 0, 0], [0, 0, 0.7], [0, 0.0005, 0]]
    out = nms(_ultralytics_raw(boxes, scores), "ultralytics", 3, conf=0.001, iou=0.7)
    # the 0.8 duplicate is suppressed, the class-2 box on the same spot is kept, the 0.0005 box is below conf
    assert out.shape == (2, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], [40, 55, 60, 65, 0.9, 0], rtol=1e-6)
    np.testing.assert_allclose(out[1], [40, 55, 60, 65, 0.7, 2], rtol=1e-6)
    assert len(nms(_ultralytics_raw(boxes, scores), "ultralytics", 3, conf=0.75, iou=0.7)) == 1
    assert len(nms(_ultralytics_raw(boxes, scores), "ultralytics", 3, conf=0.001, iou=0.99)) == 3  # duplicates survive
    assert len(nms(_ultralytics_raw(boxes, scores), "ultralytics", 3, conf=0.001, iou=0.7, max_det=1)) == 1
    assert nms(_ultralytics_raw(boxes, np.zeros((4, 3))), "ultralytics", 3, conf=0.001, iou=0.7).shape == (0, 6)


def test_nms_layouts_agree():
    rng = np.random.default_rng(0)
    n, nc = 500, 4
    xywh = np.concatenate([rng.uniform(0, 320, (n, 2)), rng.uniform(5, 80, (n, 2))], 1).astype(np.float32)
    obj = rng.uniform(0, 1, (n, 1)).astype(np.float32)
    cls = rng.uniform(0, 1, (n, nc)).astype(np.float32)
    v5 = nms(np.concatenate([xywh, obj, cls], 1)[None], "yolov5", nc, conf=0.25, iou=0.7)
    ul = nms(_ultralytics_raw(xywh, obj * cls), "ultralytics", nc, conf=0.25, iou=0.7)
    assert 10 < len(v5) < n
    np.testing.assert_array_equal(v5, ul)


def test_nms_rejects_wrong_shapes():
    with pytest.raises(WorkflowError, match=r"\(1, 7, N\)"):
        nms(np.zeros((1, 8, 10)), "ultralytics", 3, conf=0.001, iou=0.7)
    with pytest.raises(WorkflowError, match="unknown output layout"):
        nms(np.zeros((1, 7, 10)), "yolov8", 3, conf=0.001, iou=0.7)


# --------------------------------------------------------------------------- evaluate end to end

HW = (192, 320)


@pytest.fixture(scope="module")
def val_images(tmp_path_factory):
    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.demo import generate_demo_dataset

    ds = load_dataset(generate_demo_dataset(tmp_path_factory.mktemp("evaldata"), n_train=0, n_val=5))
    return ds.images("val")


def _perfect_predictor(images, layout, geo, n_anchors=32):
    """A ``predict`` that returns, for the images in order, a raw output holding exactly their labelled boxes,
    placed on the canvas with ``geo``."""
    it = iter(images)

    def predict(x):
        assert x.shape == (1, 3, *HW) and x.dtype == np.float32
        gt = gt_boxes(next(it), (geo.src_h, geo.src_w))
        xyxy = geo.boxes_to_canvas(gt[:, 1:])
        xywh = np.zeros((n_anchors, 4))
        xywh[: len(gt)] = np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], 1)
        scores = np.zeros((n_anchors, len(NAMES)))
        scores[np.arange(len(gt)), gt[:, 0].astype(int)] = 0.9
        if layout == "ultralytics":
            return _ultralytics_raw(xywh, scores)
        obj = (scores.max(1, keepdims=True) > 0).astype(np.float64)
        return np.concatenate([xywh, obj, scores], 1)[None].astype(np.float32)

    return predict


@pytest.mark.parametrize("layout", ["ultralytics", "yolov5"])
def test_evaluate_rectangular_letterbox_round_trip(val_images, layout):
    geo = geometry((360, 640), HW)
    assert (geo.top, geo.left) == (6, 0)  # really rectangular with padding
    ev = evaluate(_perfect_predictor(val_images, layout, geo), val_images, HW, NAMES, layout)
    result, raw = ev.result, ev.raw
    assert result["mAP50"] == pytest.approx(1.0) and result["mAP50_95"] == pytest.approx(1.0)
    assert result["images"] == 5 and result["instances"] == sum(len(gt_boxes(p, (360, 640))) for p in val_images)
    assert (result["hw"], result["layout"], result["skipped"]) == ([192, 320], layout, 0)
    expected = (5, 4 + len(NAMES), 32) if layout == "ultralytics" else (5, 32, 5 + len(NAMES))
    assert raw.shape == expected and raw.dtype == np.float32


def test_evaluate_with_wrong_square_geometry_scores_lower(val_images):
    wrong = geometry((360, 640), (320, 320))  # as if the model ran at a square 320: 64 px too low on the canvas
    result = evaluate(_perfect_predictor(val_images, "ultralytics", wrong), val_images, HW, NAMES, "ultralytics").result
    assert result["mAP50_95"] < 0.5


def test_evaluate_skips_unreadable_images(val_images, tmp_path):
    bad = tmp_path / "images" / "broken.png"
    bad.parent.mkdir()
    bad.write_bytes(b"not a png")
    images = [val_images[0], bad, val_images[1]]
    geo = geometry((360, 640), HW)
    ev = evaluate(_perfect_predictor([val_images[0], val_images[1]], "ultralytics", geo), images, HW, NAMES,
                  "ultralytics")
    result, raw = ev.result, ev.raw
    assert result["skipped"] == 1 and result["images"] == 2 and len(raw) == 2
    assert result["mAP50"] == pytest.approx(1.0)
    with pytest.raises(WorkflowError, match="none of the 1"):
        evaluate(lambda x: x, [bad], HW, NAMES, "ultralytics")


def test_gt_boxes_to_pixels(tmp_path):
    img = tmp_path / "images" / "x.png"
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "x.txt").write_text("2 0.5 0.25 0.1 0.5\n")
    np.testing.assert_allclose(gt_boxes(img, (360, 640)), [[2, 288, 0, 352, 180]])
    assert gt_boxes(tmp_path / "images" / "none.png", (360, 640)).shape == (0, 5)


# --------------------------------------------------------------------------- agreement

def test_agreement():
    ref = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert agreement(ref.copy(), ref) == {"mean_abs_diff": 0.0, "max_abs_diff": 0.0, "rel_mean_abs_diff": 0.0}
    shifted = ref.copy()
    shifted[0, 0, 0] += 2.4
    a = agreement(shifted, ref)
    assert a["max_abs_diff"] == pytest.approx(2.4, rel=1e-6)
    assert a["mean_abs_diff"] == pytest.approx(0.1, rel=1e-6)
    assert a["rel_mean_abs_diff"] == pytest.approx(0.1 / 11.5, rel=1e-6)
    with pytest.raises(WorkflowError, match=r"\(2, 3, 4\).*\(2, 4, 3\)") as exc:
        agreement(ref, ref.reshape(2, 4, 3))
    assert "\n" not in str(exc.value)
