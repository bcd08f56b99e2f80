"""Settings that cannot take effect give one line saying why (ovyolo.notes), never silence."""
import copy

import pytest

from ovyolo.config import validate
from ovyolo.notes import config_notes, family_notes

pytestmark = pytest.mark.unit

MODEL = {"source": "/runs/train7", "data": "/data/cars.yaml"}


def notes(raw):
    return config_notes(raw, validate(copy.deepcopy(raw)))


def test_a_plain_config_has_no_notes():
    assert notes({"models": {"m": dict(MODEL)}}) == []
    assert notes({"models": {"m": dict(MODEL)}, "quantization": {"max_drop": 0.01}}) == []  # default list: int8-ac built


def test_max_drop_with_a_list_that_omits_int8_ac_says_it_is_not_built():
    raw = {"models": {"m": dict(MODEL)}, "quantization": {"max_drop": 0.01},
           "evaluation": {"variants": ["openvino-fp32", "openvino-int8"]}}
    (line,) = notes(raw)
    assert "does not list openvino-int8-ac: int8-ac/ is not built; add openvino-int8-ac to evaluation.variants" in line
    raw["evaluation"]["variants"].append("openvino-int8-ac")
    assert notes(raw) == []


def test_int8_ac_or_ac_settings_without_max_drop_say_so():
    raw = {"models": {"m": dict(MODEL)}, "evaluation": {"variants": ["openvino-fp32", "openvino-int8-ac"]},
           "quantization": {"ac_tuning_images": 16, "ac_max_iterations": 3}}
    lines = notes(raw)
    assert len(lines) == 2 and "quantization.max_drop is not set: int8-ac/ is not built" in lines[0]
    assert lines[1].startswith("quantization.ac_max_iterations, quantization.ac_tuning_images take effect only with")


def test_square_with_explicit_sizes_and_unused_demo_settings():
    raw = {"models": {"m": {**MODEL, "square": True, "imgsz": [736, 1280]}}, "demo": {"seed": 3}}
    lines = notes(raw)
    assert lines == ["models.m.square applies to imgsz auto only; imgsz [736, 1280] is used as given",
                     "demo: no model has source: demo or data: demo, so the demo settings are not used"]
    raw["models"]["m"]["imgsz"] = ["auto", 640]
    assert len(notes(raw)) == 1


def test_family_notes():
    requested = ["torch", "openvino-fp32", "ultralytics-int8"]
    (line,) = family_notes("cam", "onnx", requested, {})
    assert line.startswith("models.cam: torch, ultralytics-int8 not measured for this onnx model (torch applies to ultralytics/yolov5")
    (line,) = family_notes("v5", "yolov5", requested, {})
    assert "ultralytics-int8 not measured for this yolov5 model (ultralytics-int8 applies to ultralytics models only)" in line
    assert family_notes("u", "ultralytics", requested, {}) == []
    assert "yolov5_repo is used only for original YOLOv5" in family_notes("u", "ultralytics", [], {"yolov5_repo": "/x"})[0]
    assert "stride applies to ONNX sources" in family_notes("u", "ultralytics", [], {"stride": 64})[0]
    assert family_notes("o", "onnx", [], {"stride": 16}, stride=32) == [
        "models.o.stride 16 is not used: the ONNX's metadata gives stride 32"]
    assert family_notes("o", "onnx", [], {"stride": 32}, stride=32) == []
    assert family_notes("o", "onnx", [], {}, stride=64) == []  # not set by the user: nothing to report
