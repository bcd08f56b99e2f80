"""Benchmark runners and harness on tiny models built here (real OpenVINO, ONNX Runtime and torch; no mocks)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ovyolo.data.letterbox import load_inputs
from ovyolo.errors import ShapeMismatchError, WorkflowError
from ovyolo.measure.interleave import run_interleaved
from ovyolo.measure.runtimes import cpu_supports_bf16, make_runner
from ovyolo.system import CPU_FLAGS, system_info

HW = (32, 64)  # tiny conv net input
YOLO_HW = (64, 96)  # tiny YOLOv5u-n input
# torch's legacy ONNX exporter warns
pytestmark = [pytest.mark.component, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

FAST = {"rounds": 6, "seconds_per_round": 0.02, "min_iterations_per_round": 2, "warmup": 1}


def _write_images(folder: Path, n: int = 3) -> list[Path]:
    """A few synthetic RGB pictures (shapes on noise) whose aspect differs from the model's, so they are padded."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        arr = rng.integers(0, 256, size=(90 + 10 * i, 140, 3), dtype=np.uint8)
        im = Image.fromarray(arr)
        d = ImageDraw.Draw(im)
        d.rectangle([10, 10, 60, 50], fill=(255, 0, 0))
        d.ellipse([70, 20, 120, 70], fill=(0, 200, 50))
        p = folder / f"img{i}.png"
        im.save(p)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small conv net exported to ONNX (opset 17) and converted to FP32 and FP16 IR."""
    import openvino as ov
    import torch

    root = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.SiLU(),
        torch.nn.Conv2d(8, 7, 3, stride=2, padding=1), torch.nn.Sigmoid(), torch.nn.Flatten(2),
    ).eval()
    onnx_path = root / "model.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, *HW), str(onnx_path), dynamo=False, opset_version=17,
                      input_names=["images"], output_names=["output0"])
    model = ov.convert_model(str(onnx_path))
    for name, fp16 in (("fp32", False), ("fp16", True)):
        (root / name).mkdir()
        ov.save_model(model, str(root / name / "model.xml"), compress_to_fp16=fp16)
    return {"root": root, "onnx": onnx_path, "fp32": root / "fp32" / "model.xml", "fp16": root / "fp16" / "model.xml",
            "images": _write_images(root / "images")}


@pytest.fixture(scope="module")
def yolo(tmp_path_factory):
    """An untrained YOLOv5u-n (nc=3) checkpoint and its ONNX from Ultralytics' own exporter at 64x96."""
    import torch
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    root = tmp_path_factory.mktemp("yolo")
    torch.manual_seed(0)
    model = DetectionModel("yolov5n.yaml", nc=3, verbose=False)
    ckpt = root / "ckpt.pt"
    # like a real training checkpoint: half-precision weights, no EMA
    torch.save({"model": model.half(), "ema": None, "train_args": {"imgsz": 64}}, ckpt)
    onnx_path = YOLO(str(ckpt)).export(format="onnx", imgsz=list(YOLO_HW), opset=17, simplify=True, dynamic=False,
                                       half=False, batch=1, device="cpu", nms=False, verbose=False)
    from ovyolo.sources import identify

    return {"weights": ckpt, "source": identify(ckpt, trusted=True), "onnx": Path(onnx_path),
            "images": _write_images(root / "images")}


def _check_variant(res: dict, name: str, openvino: bool) -> None:
    v = res["variants"][name]
    lat, thr = v["latency"], v["throughput"]
    assert 0 < lat["min_ms"] <= lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert len(lat["round_medians_ms"]) == FAST["rounds"] and lat["iterations"] >= FAST["rounds"] * 2
    assert thr["fps"] > 0 and len(thr["round_fps"]) == FAST["rounds"]
    assert thr["hint"] == ("THROUGHPUT" if openvino else "sequential")


def test_runners_agree_and_record_f32(tiny):
    x = load_inputs(tiny["images"], HW, 16)[0]
    ref = make_runner("onnxruntime", onnx=tiny["onnx"], threads=1, precision_hint=None).infer(x)
    assert ref.shape == (1, 7, (HW[0] // 4) * (HW[1] // 4))
    for variant, xml in (("openvino-fp32", tiny["fp32"]), ("openvino-fp16", tiny["fp16"]),
                         ("openvino-int8", tiny["fp32"]), ("ultralytics-int8", tiny["fp32"])):
        r = make_runner(variant, xml=xml, threads=2, precision_hint=None)
        assert r.variant == variant and r.input_hw == HW
        assert r.properties["inference_precision"] == "f32"  # read back from the compiled model
        assert r.properties["threads"] == 2 and r.properties["performance_hint"] == "LATENCY"
        out = r.infer(x)
        assert out.shape == ref.shape and out.dtype == np.float32
        np.testing.assert_allclose(out, ref, atol=2e-3 if variant == "openvino-fp16" else 1e-5)


def test_bf16_variant_records_what_is_in_effect(tiny):
    r = make_runner("openvino-fp32@bf16", xml=tiny["fp32"], threads=1, precision_hint=None)
    assert r.properties["requested_precision_hint"] == "bf16"
    assert r.properties["inference_precision"] == ("bf16" if cpu_supports_bf16() else "f32")
    # an explicit hint overrides the variant's default
    r32 = make_runner("openvino-fp32@bf16", xml=tiny["fp32"], threads=1, precision_hint="f32")
    assert r32.properties["inference_precision"] == "f32"


def test_interleaved_run_of_four_variants_records_what_ran(tiny):
    runs = {"openvino-fp32": {"xml": tiny["fp32"]}, "openvino-fp32@bf16": {"xml": tiny["fp32"], "precision_hint": "bf16"},
            "openvino-fp16": {"xml": tiny["fp16"]}, "onnxruntime": {"onnx": tiny["onnx"]}}
    res = run_interleaved(runs, tiny["images"], HW, 1, FAST)
    json.dumps(res)  # JSON-ready as is
    assert res["hw"] == list(HW) and res["threads"] == 1 and res["system"]["threads"] == 1
    for name in runs:
        _check_variant(res, name, openvino=name != "onnxruntime")
    want = "bf16" if cpu_supports_bf16() else "f32"
    assert res["variants"]["openvino-fp32@bf16"]["inference_precision"] == want
    assert res["variants"]["openvino-fp32"]["inference_precision"] == "f32"
    assert set(res["ratios"]["latency"]["speedup_over_baseline"]) == set(runs) - {"openvino-fp32"}


def test_torch_matches_onnxruntime_and_benchmarks(yolo):
    x = load_inputs(yolo["images"], YOLO_HW, 16)[0]
    rt = make_runner("torch", source=yolo["source"], threads=1, precision_hint=None, hw=YOLO_HW)
    ro = make_runner("onnxruntime", onnx=yolo["onnx"], threads=1, precision_hint=None, hw=YOLO_HW)
    assert rt.properties["threads"] == 1 and rt.properties["inference_precision"] == "f32"
    a, b = rt.infer(x), ro.infer(x)
    n = sum((YOLO_HW[0] // s) * (YOLO_HW[1] // s) for s in (8, 16, 32))
    assert a.shape == b.shape == (1, 4 + 3, n)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)

    res = run_interleaved({"torch": {"source": yolo["source"]}, "onnxruntime": {"onnx": yolo["onnx"]}},
                          yolo["images"], YOLO_HW, 1, {**FAST, "baseline": "onnxruntime"})
    json.dumps(res)
    assert res["variants"]["torch"]["inference_precision"] == "f32"
    _check_variant(res, "torch", openvino=False)
    assert set(res["ratios"]["latency"]["speedup_over_baseline"]) == {"torch"}


def test_torch_checkpoint_needs_trust(yolo):
    with pytest.raises(WorkflowError, match="trust_checkpoint"):
        make_runner("torch", source=dataclasses.replace(yolo["source"], trusted=False), threads=1, precision_hint=None)


def test_shape_mismatch_names_both_shapes(tiny, yolo):
    r = make_runner("openvino-fp32", xml=tiny["fp32"], threads=1, precision_hint=None)
    with pytest.raises(ShapeMismatchError) as exc:
        r.infer(np.zeros((1, 3, 64, 32), np.float32))
    assert "[1, 3, 32, 64]" in str(exc.value) and "[1, 3, 64, 32]" in str(exc.value)

    with pytest.raises(ShapeMismatchError) as exc:
        make_runner("onnxruntime", onnx=tiny["onnx"], threads=1, precision_hint=None, hw=(64, 64))
    assert "[1, 3, 32, 64]" in str(exc.value) and "[1, 3, 64, 64]" in str(exc.value)

    rt = make_runner("torch", source=yolo["source"], threads=1, precision_hint=None, hw=YOLO_HW)
    with pytest.raises(ShapeMismatchError) as exc:
        rt.infer(np.zeros((1, 3, 96, 64), np.float32))
    assert "[1, 3, 64, 96]" in str(exc.value) and "[1, 3, 96, 64]" in str(exc.value)

    with pytest.raises(ShapeMismatchError):  # images letterboxed to another size never reach timing
        run_interleaved({"openvino-fp32": {"xml": tiny["fp32"]}}, tiny["images"], (64, 64), 1, FAST)


def test_bad_requests_are_workflow_errors(tiny):
    with pytest.raises(WorkflowError, match="unknown variant .tensorrt"):
        make_runner("tensorrt", onnx=tiny["onnx"], threads=1, precision_hint=None)
    with pytest.raises(WorkflowError, match="needs xml"):
        make_runner("openvino-fp32", onnx=tiny["onnx"], threads=1, precision_hint=None)
    with pytest.raises(WorkflowError, match="f32 only"):
        make_runner("onnxruntime", onnx=tiny["onnx"], threads=1, precision_hint="bf16")
    with pytest.raises(WorkflowError, match="threads"):
        make_runner("onnxruntime", onnx=tiny["onnx"], threads=0, precision_hint=None)


def test_system_info():
    info = system_info(2)
    assert info["cpu_model"] and info["logical_cores"] >= 1 and info["threads"] == 2
    assert set(info["cpu_flags"]) == set(CPU_FLAGS) and all(isinstance(v, bool) for v in info["cpu_flags"].values())
    assert "FP32" in info["openvino_cpu_capabilities"]
    assert ("BF16" in info["openvino_cpu_capabilities"]) == cpu_supports_bf16()
    for pkg in ("python", "torch", "openvino", "nncf", "onnxruntime", "ultralytics"):
        assert info["versions"][pkg], pkg
    assert info["platform"]
    json.dumps(info)
