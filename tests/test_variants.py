"""The variant registry is the one list: schema, wildcard, summary order and runners derive from it."""
import re
from pathlib import Path

import pytest
import yaml

from ovyolo import variants
from ovyolo.errors import WorkflowError

REPO = Path(__file__).resolve().parent.parent


def test_schema_enum_and_default_equal_the_registry():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    ev = schema["properties"]["evaluation"]["properties"]["variants"]
    assert ev["items"]["enum"] == variants.names()
    assert ev["default"] == variants.names()


def test_default_config_lists_registered_variants_only():
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    assert set(cfg["evaluation"]["variants"]) <= set(variants.names())


def test_wildcard_matches_exactly_the_names():
    rx = re.compile(f"^(?:{variants.wildcard_regex()})$")
    for name in variants.names():
        assert rx.match(name)
    for other in ("openvino-fp32@bf", "openvino", "int8", "openvino-fp32Xbf16", "torch/extra"):
        assert not rx.match(other)


def test_every_variant_is_runnable_and_well_formed():
    seen = set()
    for v in variants.REGISTRY:
        assert v.name not in seen
        seen.add(v.name)
        assert v.runs in ("weights", "onnx", "ir")
        assert (v.ir is not None) == (v.runs == "ir")
        assert v.precision_hint in (None, "f32", "bf16", "f16")
        assert set(v.families) <= set(variants.ALL_FAMILIES) and v.families
    assert variants.get(variants.BASELINE).precision_hint == "f32"


def test_family_filter_keeps_display_order():
    req = list(reversed(variants.names()))
    assert variants.for_family("onnx", req) == [n for n in variants.names() if n not in ("torch", "ultralytics-int8")]
    assert variants.for_family("yolov5", req) == [n for n in variants.names() if n != "ultralytics-int8"]
    assert variants.for_family("ultralytics", ["ultralytics-int8", "torch"]) == ["torch", "ultralytics-int8"]


def test_unknown_variant_is_one_clear_error():
    with pytest.raises(WorkflowError, match="unknown variant 'tensorrt'; use one of torch"):
        variants.get("tensorrt")
    assert variants.rank("tensorrt") == len(variants.REGISTRY)


def test_bf16_variants_are_left_out_only_where_the_cpu_has_no_bf16():
    requested = ["openvino-fp32", "openvino-fp32@bf16", "openvino-int8", "openvino-int8@bf16", "ultralytics-int8"]
    kept, left_out = variants.without_unsupported_bf16(requested, "auto", cpu_has_bf16=False)
    assert kept == ["openvino-fp32", "openvino-int8", "ultralytics-int8"]
    assert set(left_out) == {"openvino-fp32@bf16", "openvino-int8@bf16"}
    assert "exactly as openvino-int8" in left_out["openvino-int8@bf16"] and "bf16: always" in left_out["openvino-int8@bf16"]
    assert variants.without_unsupported_bf16(requested, "auto", cpu_has_bf16=True) == (requested, {})
    assert variants.without_unsupported_bf16(requested, "always", cpu_has_bf16=False) == (requested, {})
    with pytest.raises(WorkflowError, match="evaluation.bf16"):
        variants.without_unsupported_bf16(requested, "sometimes", cpu_has_bf16=False)
