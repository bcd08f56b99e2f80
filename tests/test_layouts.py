"""Output layouts (ovyolo.layouts): declared by the model, checked against the shape, guessed only when nothing says;
the end-to-end decoding is Ultralytics' own for `yolo val` / predict of NMS-free models."""
import numpy as np
import pytest

from ovyolo import layouts
from ovyolo.errors import WorkflowError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("layout,shape,nc,ok", [
    ("ultralytics", [1, 7, 840], 3, True),
    ("ultralytics", [1, 84, 21], 80, True),  # tiny input: fewer anchors than channels is still 4+nc
    ("ultralytics", [1, 8, 840], 3, False),  # a pose / obb head has channels after the classes
    ("ultralytics", [1, 840, 7], None, False),
    ("yolov5", [1, 2520, 8], 3, True),
    ("yolov5", [1, 2520, 7], 3, False),
    ("end2end", [1, 300, 6], 3, True),
    ("end2end", [1, 126, 6], None, True),
    ("end2end", [1, 7, 840], 3, False),
    ("end2end", [1, 300, 6, 1], 3, False),
])
def test_fits(layout, shape, nc, ok):
    assert layouts.fits(layout, shape, nc) is ok


def test_check_shape_names_both_and_who_declared():
    with pytest.raises(WorkflowError) as exc:
        layouts.check_shape("ultralytics", [1, 300, 6], 3, "m.onnx", "Ultralytics ONNX metadata end2end: False")
    msg = str(exc.value)
    assert "[1, 300, 6]" in msg and "'ultralytics'" in msg and "(1, 7, N) for 3 classes" in msg
    assert "end2end: False" in msg and "\n" not in msg


def test_guess_only_where_the_shape_tells():
    assert layouts.guess([1, 7, 840]) == "ultralytics"
    assert layouts.guess([1, 2520, 8]) == "yolov5"
    assert layouts.guess([1, 300, 6]) is None  # end-to-end, or original YOLOv5 with one class
    assert layouts.guess([1, 300, 6], nc=3) == "end2end"
    assert layouts.guess([1, 300, 6], nc=1) is None
    assert layouts.guess([1, "n", 6]) is None
    assert layouts.guess([1, 7, "n"]) == "ultralytics" and layouts.guess([1, "n", 8]) == "yolov5"


@pytest.mark.parametrize("meta,want", [
    ({"task": "detect", "end2end": "True", "args": "{'nms': False}"}, "end2end"),
    ({"task": "detect", "end2end": "False", "args": "{'nms': None}"}, "ultralytics"),
    ({"task": "detect", "end2end": "False", "args": "{'nms': True}"}, "end2end"),  # NMS embedded: 1 x 300 x 6
    ({"end2end": True, "args": {"nms": False}}, "end2end"),  # metadata.yaml, parsed
    ({"stride": "32"}, None),  # not Ultralytics' metadata
])
def test_ultralytics_metadata(meta, want):
    assert layouts.from_ultralytics_metadata(meta) == want


def test_head_setting_picks_a_branch_the_model_has():
    both = ["end2end", "one2many"]
    assert layouts.for_head("auto", both, "ultralytics", "m") == "end2end"
    assert layouts.for_head("one2many", both, "ultralytics", "m") == "ultralytics"
    assert layouts.for_head("auto", ["one2many"], "ultralytics", "m") == "ultralytics"
    with pytest.raises(WorkflowError, match=r"head: end2end asked for, but its Detect head has only the one2many"):
        layouts.for_head("end2end", ["one2many"], "ultralytics", "m", "Detect")


def test_end2end_decoding_is_ultralytics_non_max_suppression_end2end():
    """Rows above conf, the first max_det, nothing else: Ultralytics' own end2end branch on the same arrays."""
    import torch
    from ultralytics.utils.nms import non_max_suppression

    from ovyolo.measure.evaluate import nms

    rng = np.random.default_rng(0)
    for k, conf, max_det in ((300, 0.001, 300), (126, 0.25, 300), (300, 0.001, 50)):
        raw = np.zeros((1, k, 6), np.float32)
        xy = rng.uniform(0, 200, (k, 2))
        raw[0, :, :2], raw[0, :, 2:4] = xy, xy + rng.uniform(1, 50, (k, 2))
        raw[0, :, 4] = np.sort(rng.uniform(0, 1, k) ** 3)[::-1]  # the head returns its top K best first
        raw[0, :, 5] = rng.integers(0, 3, k)
        want = non_max_suppression(torch.from_numpy(raw), conf, 0.7, max_det=max_det, end2end=True)[0].numpy()
        got = nms(raw, "end2end", 3, conf=conf, iou=0.7, max_det=max_det)
        assert got.shape == want.shape and len(got) > 0
        np.testing.assert_array_equal(got, want)
    with pytest.raises(WorkflowError, match=r"end2end-layout output must be \(1, K, 6\).*got \(1, 7, 840\)"):
        nms(np.zeros((1, 7, 840), np.float32), "end2end", 3, conf=0.001, iou=0.7)


def test_predict_reads_the_declared_layout_and_checks_it():
    from ovyolo.deploy.predict import output_layout

    assert output_layout({"output_layout": "end2end"}, {}, [1, 300, 6], 3, "m.xml") == "end2end"
    assert output_layout({}, {"layout": "yolov5"}, [1, 2520, 8], 3, "m.xml") == "yolov5"
    # an Ultralytics export's metadata.yaml, not ours
    assert output_layout({}, {"task": "detect", "end2end": True, "args": {"nms": False}}, [1, 300, 6], 3, "x") == "end2end"
    assert output_layout({}, {}, [1, 7, 840], 3, "m.xml") == "ultralytics"  # nothing declares it: the shape
    with pytest.raises(WorkflowError, match=r"\[1, 7, 840\] does not match its declared layout 'end2end'"):
        output_layout({"output_layout": "end2end"}, {}, [1, 7, 840], 3, "m.xml")


def test_row_count_implies_the_stride():
    assert layouts.implied_stride("ultralytics", [1, 7, 8 * 12 + 4 * 6 + 2 * 3], (64, 96)) == 32
    assert layouts.implied_stride("ultralytics", [1, 7, 256 + 64 + 16 + 4], (128, 128)) == 64  # P6: stride 64 too
    assert layouts.implied_stride("yolov5", [1, 3 * (400 + 100 + 25), 8], (160, 160)) == 32
    assert layouts.implied_stride("end2end", [1, 300, 6], (640, 640)) is None  # K rows say nothing
    assert layouts.implied_stride("ultralytics", [1, 7, 1000], (64, 96)) is None
