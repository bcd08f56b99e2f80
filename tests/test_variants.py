"""The variant registry is the one list: schema, wildcard, summary order and runners derive from it."""
import re
from pathlib import Path

import pytest
import yaml

from ovyolo import variants
from ovyolo.errors import WorkflowError

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent


def test_schema_enum_and_default_equal_the_registry():
    schema = yaml.safe_load((REPO / "ovyolo/config.schema.yaml").read_text())
    ev = schema["properties"]["evaluation"]["properties"]["variants"]
    assert ev["items"]["enum"] == variants.names()
    assert ev["default"] == variants.names()


def test_shipped_configs_do_not_pin_the_variant_list():
    """config.yaml and configs/*.yaml measure every variant (the schema's default, the registry), so that setting
    quantization.max_drop alone builds and measures int8-ac (an explicit list without it gets a NOTE instead)."""
    from ovyolo.config import load

    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        raw = yaml.safe_load(path.read_text())
        assert "variants" not in (raw.get("evaluation") or {}), path
        cfg = load(path)
        assert cfg["evaluation"]["variants"] == variants.names(), path
        raw.setdefault("quantization", {})["max_drop"] = 0.01
        from ovyolo.config import validate

        assert variants.OURS_INT8_AC in validate(raw)["evaluation"]["variants"]


def test_bundles_ship_every_variant_the_verdict_can_recommend():
    shipped = [n for n in variants.names() if variants.bundle_of(n)]
    assert shipped == ["openvino-fp32", "openvino-fp32@bf16", "openvino-fp16", "openvino-int8", "openvino-int8@bf16",
                       "openvino-int8-ac"]
    assert variants.bundle_of("openvino-int8@bf16") == "int8" and variants.bundle_of("openvino-int8-ac") == "int8-ac"
    assert variants.comparison_only(variants.names()) == ["torch", "onnxruntime", "ultralytics-int8"]
    assert set(variants.BUNDLED_IRS) == {variants.get(n).ir for n in shipped}
    from ovyolo.deploy.bundle import ultralytics_metadata

    meta = {"names": ["a"], "imgsz": [192, 320], "stride": 32}
    assert [ultralytics_metadata(meta, b)["args"]["int8"] for b in variants.BUNDLED_IRS] == [False, False, True, True]


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


def test_the_node_decides_with_its_own_name_in_the_reason():
    why = variants.not_measured_reason("openvino-int8@bf16", "auto", False, "bench-07")
    assert why.startswith("not measured: node bench-07 has no bf16") and "exactly as openvino-int8" in why
    assert variants.not_measured_reason("openvino-int8@bf16", "auto", True, "bench-07") is None
    assert variants.not_measured_reason("openvino-int8@bf16", "always", False, "bench-07") is None
    assert variants.not_measured_reason("openvino-int8", "auto", False, "bench-07") is None
