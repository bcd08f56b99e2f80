"""Where the time goes: per-op-category time from OpenVINO's performance counters (ovyolo.measure.profile)."""
import json

import pytest

from ovyolo.errors import WorkflowError
from ovyolo.measure import profile
from ovyolo.report.plots import plot_profiles

pytestmark = pytest.mark.component

HW = (192, 320)


def test_categorize_by_kernel_and_node():
    in_head = lambda name: name.startswith("/model.24/") and name.count("/") == 2  # noqa: E731
    assert profile.categorize("Convolution", "jit_avx2_1x1_I8", "/model.2/cv1/conv/Conv") == "conv_int8"
    assert profile.categorize("Convolution", "brgconv_avx512_u8", "/model.2/cv1/conv/Conv") == "conv_int8"
    assert profile.categorize("Convolution", "brgconv_avx2_f32", "/model.2/cv1/conv/Conv") == "conv_float"
    assert profile.categorize("Convolution", "brgconv_avx512_bf16", "/model.24/cv2.0/Conv", in_head) == "conv_float"
    assert profile.categorize("Reorder", "jit_uni_I8", "/model.24/Concat", in_head) == "reorder"
    assert profile.categorize("FakeQuantize", "jit_avx2_f32", "/model.3/act/Mul/fq") == "quant_convert"
    assert profile.categorize("Concat", "ref_f32", "/model.24/Concat", in_head) == "head_float"
    assert profile.categorize("Concat", "ref_I8", "/model.13/Concat", in_head) == "concat"
    assert profile.categorize("Subgraph", "jit_avx2_f32", "/model.3/act/Mul") == "activations"
    assert profile.categorize("Interpolate", "jit_avx2_I8", "/model.11/Resize") == "resize"
    assert profile.categorize("MaxPool", "jit_avx2_I8", "/model.9/m/MaxPool") == "pooling"
    assert profile.categorize("Transpose", "unknown_f32", "/model.20/Transpose") == "other"


@pytest.fixture(scope="module")
def int8_xml(fp32_ir, demo_data, tmp_path_factory):
    from ovyolo.build import calibration
    from ovyolo.build.quantize import quantize
    from ovyolo.data.dataset import load_dataset

    root = tmp_path_factory.mktemp("profile_int8")
    images = load_dataset(demo_data).images("train")
    calibration.build(images, HW, 16, root / "calibration")
    quantize(fp32_ir["xml"], root / "calibration", HW, root / "int8")
    return root / "int8" / "model.xml"


@pytest.fixture(scope="module")
def profiled(fp32_ir, int8_xml, demo_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("profile_out")
    files = {"openvino-fp32": {"xml": str(fp32_ir["xml"])}, "openvino-int8": {"xml": str(int8_xml)},
             "openvino-int8@bf16": {"xml": str(int8_xml)}, "onnxruntime": {"onnx": str(fp32_ir["onnx"])}}
    res = profile.profile_shape("demo", HW, variant_files=files, data_yaml=demo_data, threads=2,
                                out=out / "profile.json", iterations=6, rounds=2, images=3, bf16_mode="always")
    plot_profiles([res], out / "profile.png")  # what the profile rule draws beside its JSON
    return res, out


def test_profile_categories_sum_to_the_total(profiled):
    res, out = profiled
    assert json.loads((out / "profile.json").read_text())["variants"].keys() == res["variants"].keys()
    assert profile.ordered(res) == ["openvino-fp32", "openvino-int8", "openvino-int8@bf16"]  # onnxruntime left out
    assert profile.ordered(json.loads((out / "profile.json").read_text())) == profile.ordered(res)
    assert (out / "profile.png").stat().st_size > 0
    for name, v in res["variants"].items():
        cats = v["categories"]
        assert set(cats) == set(profile.CATEGORIES)
        assert v["total_ms"] > 0 and v["iterations"] == 6 and v["total_median_ms"] > 0
        assert all(c["median_ms"] >= 0 for c in cats.values())
        assert sum(c["ms"] for c in cats.values()) == pytest.approx(v["total_ms"], rel=1e-9)
        assert sum(c["share"] for c in cats.values()) == pytest.approx(1.0)
        assert v["top_ops"] and v["top_ops"][0]["ms"] >= v["top_ops"][-1]["ms"]
        assert v["inference_precision"] in ("f32", "bf16")
    assert res["variants"]["openvino-int8@bf16"]["precision_hint"] == "bf16"
    assert res["variants"]["openvino-int8"]["precision_hint"] == "f32"


def test_int8_convolutions_only_in_the_int8_ir(profiled):
    res, _ = profiled
    fp32, int8 = res["variants"]["openvino-fp32"]["categories"], res["variants"]["openvino-int8"]["categories"]
    assert fp32["conv_int8"]["ms"] == 0 and fp32["conv_int8"]["nodes"] == 0 and fp32["conv_float"]["ms"] > 0
    assert int8["conv_int8"]["ms"] > 0 and int8["conv_int8"]["share"] > 0.3
    assert fp32["head_float"]["nodes"] > 0  # the head's box decoding is found by name
    assert "| openvino-int8 |" in profile.table(res)


def test_profile_refuses_non_openvino_and_empty(fp32_ir):
    with pytest.raises(WorkflowError, match="not an OpenVINO variant"):
        profile.profile({"torch": {"xml": fp32_ir["xml"]}}, [object()], HW, 1, iterations=2, rounds=1)
    with pytest.raises(WorkflowError, match="at least one OpenVINO variant"):
        profile.profile({}, [object()], HW, 1, iterations=2, rounds=1)


def test_summary_reads_profiles(profiled, tmp_path):
    from ovyolo.report.verdict import profile_lines

    _, out = profiled
    lines = profile_lines([out / "profile.json"])
    assert len(lines) == 4 and lines[0].startswith("demo @ 192x320 openvino-fp32 (")
    assert lines[3].startswith("demo @ 192x320 openvino-int8 vs openvino-fp32, convolution by convolution (")
    assert "convolutions float" in lines[0] and "convolutions int8" in lines[1]
    assert plot_profiles([out / "profile.json"], tmp_path / "profile.png").stat().st_size > 0


def test_seed_736x1280_config_is_valid():
    from pathlib import Path

    import yaml

    from ovyolo.config import validate

    cfg = validate(yaml.safe_load((Path(__file__).resolve().parent.parent / "configs/seed-736x1280.yaml").read_text()))
    from ovyolo.shapes import parse_imgsz

    assert parse_imgsz(cfg["models"]["demo"]["imgsz"]) == [(736, 1280)]
    assert "openvino-int8@bf16" in cfg["evaluation"]["variants"]


def test_convolutions_compared_layer_by_layer(profiled):
    res, out = profiled
    fp32, int8 = res["variants"]["openvino-fp32"], res["variants"]["openvino-int8"]
    # the same network: the same number of executed convolutions, float kernels in one, int8 in the other
    assert len(fp32["conv_layers"]) == len(int8["conv_layers"]) == fp32["categories"]["conv_float"]["nodes"]
    assert not any(profile.is_int8_exec(c["exec_type"]) for c in fp32["conv_layers"])
    assert sum(profile.is_int8_exec(c["exec_type"]) for c in int8["conv_layers"]) == int8["categories"]["conv_int8"]["nodes"]
    assert sum(c["ms"] for c in int8["conv_layers"]) == pytest.approx(
        int8["categories"]["conv_int8"]["ms"] + int8["categories"]["conv_float"]["ms"])
    c = profile.compare_layers(res, "openvino-int8", "openvino-fp32", top=2)
    assert c["layers"] == len(int8["conv_layers"]) and len(c["rows"]) == c["layers"]
    assert c["speedup"] == pytest.approx(c["other_ms"] / c["ms"])
    assert c["least"][0]["speedup"] <= c["least"][1]["speedup"] <= c["most"][1]["speedup"] <= c["most"][0]["speedup"]
    assert all(r["speedup"] <= 1.0 and r["kernel"] != r["other_kernel"] for r in c["not_faster"])
    # the DFL conv is float in both IRs: it says nothing about int8, so it is not among the least/most gaining
    assert any(r["kernel"] == r["other_kernel"] for r in c["rows"])
    assert all(r["kernel"] != r["other_kernel"] for r in c["least"] + c["most"])
    # the JSON file keeps the layer lists, so summarize can compare them
    again = json.loads((out / "profile.json").read_text())
    assert profile.compare_layers(again, "openvino-int8", "openvino-fp32")["layers"] == c["layers"]
    # not comparable: a missing variant, or graphs with a different number of convolutions
    assert profile.compare_layers(res, "openvino-int8", "ultralytics-int8") is None
    cut = json.loads(json.dumps(res))
    cut["variants"]["openvino-fp32"]["conv_layers"].pop()
    assert profile.compare_layers(cut, "openvino-int8", "openvino-fp32") is None
