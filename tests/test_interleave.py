"""Interleaved timing on a real YOLOv5u-n IR at 192x320 (real OpenVINO, no mocks). Never asserts a speed."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from ovyolo.data.dataset import load_dataset
from ovyolo.data.letterbox import load_inputs
from ovyolo.errors import ShapeMismatchError, WorkflowError
from ovyolo.measure.ci import median_ci
from ovyolo.measure.interleave import interleaved_latency, interleaved_throughput, ratios, round_orders, run_interleaved
from ovyolo.measure.runtimes import make_runner

HW = (192, 320)
pytestmark = [pytest.mark.component, pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # the fixture's legacy ONNX export
FAST = dict(seconds_per_round=0.05, min_iterations_per_round=2, warmup=1)  # tiny rounds: the structure, not speed
LAT_KEYS = {"p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "max_ms", "iterations", "round_medians_ms",
            "round_iterations", "seconds"}


@pytest.fixture(scope="module")
def images(demo_data):
    return load_dataset(demo_data).images("val")


@pytest.fixture(scope="module")
def inputs(images):
    return load_inputs(images, HW, max_images=3)


@pytest.fixture(scope="module")
def runners(fp32_ir):
    return {
        "openvino-fp32": make_runner("openvino-fp32", xml=fp32_ir["xml"], threads=2, hw=HW),
        "openvino-fp32@bf16": make_runner("openvino-fp32@bf16", xml=fp32_ir["xml"], threads=2, hw=HW),
        "onnxruntime": make_runner("onnxruntime", onnx=fp32_ir["onnx"], threads=2, hw=HW),
    }


def test_median_ci_known_answers():
    # n = 10: ranks 2 and 9, coverage 1 - 2 * (1 + 10) / 1024 = 0.9785
    ci = median_ci([5, 3, 9, 1, 7, 2, 10, 4, 8, 6])
    assert (ci["rank_low"], ci["rank_high"], ci["low"], ci["high"], ci["median"]) == (2, 9, 2.0, 9.0, 5.5)
    assert ci["coverage"] == pytest.approx(1 - 22 / 1024) and round(ci["coverage"], 3) == 0.979 and ci["meets_level"]
    # n = 12: ranks 3 and 10, coverage 1 - 2 * 79 / 4096; n = 20: ranks 6 and 15
    assert (median_ci(range(12))["rank_low"], median_ci(range(12))["rank_high"]) == (3, 10)
    assert median_ci(range(12))["coverage"] == pytest.approx(1 - 158 / 4096)
    assert (median_ci(range(20))["rank_low"], median_ci(range(20))["rank_high"]) == (6, 15)
    # n = 6: min..max reaches 1 - 2/64 = 0.969; n = 5 cannot reach 95% (0.9375): min..max, flagged
    assert median_ci(range(6))["coverage"] == pytest.approx(62 / 64) and median_ci(range(6))["meets_level"]
    five = median_ci([3, 1, 2, 5, 4])
    assert (five["low"], five["high"], five["meets_level"]) == (1.0, 5.0, False)
    assert five["coverage"] == pytest.approx(0.9375)
    # a higher level widens: n = 10 at 99% -> min..max (0.998)
    assert (median_ci(range(10), 0.99)["rank_low"], median_ci(range(10), 0.99)["coverage"]) == (1, pytest.approx(1 - 2 / 1024))
    for bad in ([], [1.0, math.nan]):
        with pytest.raises(WorkflowError):
            median_ci(bad)
    with pytest.raises(WorkflowError):
        median_ci([1, 2], level=1.5)


def test_round_orders_alternate_and_are_seeded():
    names = ["a", "b", "c", "d"]
    plan = round_orders(names, 6, seed=3)
    assert plan == round_orders(names, 6, seed=3)  # seeded
    assert all(sorted(o) == names for o in plan)
    for r in range(0, 6, 2):  # every odd round mirrors the round before it
        assert plan[r + 1] == plan[r][::-1]
    assert round_orders(names, 3, order="alternate") == [names, names[::-1], names]
    assert all(sorted(o) == names for o in round_orders(names, 5, order="shuffle"))
    with pytest.raises(WorkflowError, match="round order"):
        round_orders(names, 2, order="random")


def test_latency_round_structure(runners, inputs):
    res = interleaved_latency(runners, inputs, rounds=4, seed=1, **FAST)
    json.dumps(res)
    assert res["rounds"] == 4 and len(res["orders"]) == 4
    assert res["orders"] == round_orders(list(runners), 4, seed=1)
    assert res["orders"][1] == res["orders"][0][::-1] and res["orders"][3] == res["orders"][2][::-1]
    assert set(res["variants"]) == set(runners)
    for st in res["variants"].values():
        assert set(st) == LAT_KEYS
        assert len(st["round_medians_ms"]) == 4 and len(st["round_iterations"]) == 4
        assert all(n >= FAST["min_iterations_per_round"] for n in st["round_iterations"])
        assert st["iterations"] == sum(st["round_iterations"])
        assert 0 < st["min_ms"] <= st["p50_ms"] <= st["p90_ms"] <= st["p99_ms"] <= st["max_ms"]
        assert all(st["min_ms"] <= m <= st["max_ms"] for m in st["round_medians_ms"])
    # min_iterations rules when the time budget is zero
    res0 = interleaved_latency(runners, inputs, rounds=2, seconds_per_round=0.0, min_iterations_per_round=3, warmup=0,
                               seed=0, round_warmup=0)
    assert all(st["round_iterations"] == [3, 3] for st in res0["variants"].values())


def test_identical_runners_speedup_ci_contains_one(fp32_ir, inputs):
    """The same IR compiled twice under two names: no systematic difference, so the CI holds 1.0.

    With identical runners the per-round ratios straddle 1 by chance, so a 95% interval would miss 1.0 in
    about 1 run in 50 by construction; the assertion uses min..max of 12 rounds (coverage 1 - 2/4096), which
    fails only if one name is systematically favoured (e.g. by its place in the round)."""
    pair = {name: make_runner("openvino-fp32", xml=fp32_ir["xml"], threads=2, hw=HW) for name in ("openvino-fp32", "twin")}
    res = interleaved_latency(pair, inputs, rounds=12, seed=0, **FAST)
    wide = ratios(res, "openvino-fp32", pairs=[("twin", "openvino-fp32")], level=0.999)
    s = wide["speedup_over_baseline"]["twin"]
    assert (s["rank_low"], s["rank_high"]) == (1, 12) and s["coverage"] == pytest.approx(1 - 2 / 4096)
    assert s["ci_low"] <= 1.0 <= s["ci_high"], s["per_round"]
    assert len(s["per_round"]) == 12
    assert wide["pairs"]["twin over openvino-fp32"]["median"] == pytest.approx(s["median"])
    default = ratios(res, "openvino-fp32")
    assert default["speedup_over_baseline"]["twin"]["coverage"] == pytest.approx(1 - 158 / 4096)
    assert default["pairs"] == {}  # openvino-int8 / ultralytics-int8 were not measured


def test_ratios_arithmetic():
    lat = {"variants": {
        "openvino-fp32": {"round_medians_ms": [10.0, 12.0, 11.0, 10.0, 9.0, 10.0]},
        "openvino-int8": {"round_medians_ms": [5.0, 6.0, 5.5, 5.0, 4.5, 5.0]},
        "ultralytics-int8": {"round_medians_ms": [5.5, 6.6, 6.05, 5.5, 4.95, 5.5]},
    }}
    r = ratios(lat)
    assert r["speedup_over_baseline"]["openvino-int8"]["per_round"] == pytest.approx([2.0] * 6)
    assert r["speedup_over_baseline"]["ultralytics-int8"]["median"] == pytest.approx(2 / 1.1)
    p = r["pairs"]["openvino-int8 over ultralytics-int8"]
    assert p["median"] == pytest.approx(1.1) and p["ci_low"] == pytest.approx(1.1) and p["coverage"] == pytest.approx(62 / 64)
    thr = {"variants": {"openvino-fp32": {"round_fps": [100.0, 90.0]}, "openvino-int8": {"round_fps": [250.0, 180.0]}}}
    assert ratios(thr)["speedup_over_baseline"]["openvino-int8"]["per_round"] == pytest.approx([2.5, 2.0])
    assert ratios(lat, baseline="torch")["baseline_present"] is False


def test_shape_mismatch_raises_before_any_inference(fp32_ir, images):
    calls = []
    real = make_runner("openvino-fp32", xml=fp32_ir["xml"], threads=2, hw=HW)
    counted = dataclasses.replace(real, _infer=lambda x: calls.append(1) or real._infer(x))
    wrong = load_inputs(images, (192, 192), max_images=2)
    for fn in (interleaved_latency, interleaved_throughput):
        with pytest.raises(ShapeMismatchError) as exc:
            fn({"openvino-fp32": counted}, wrong, rounds=50, seconds_per_round=10.0, warmup=100,
               min_iterations_per_round=3, seed=0)
        assert "[1, 3, 192, 320]" in str(exc.value) and "[1, 3, 192, 192]" in str(exc.value)
    assert calls == []
    with pytest.raises(ShapeMismatchError):  # images letterboxed to the path's shape, IR of another shape
        run_interleaved({"openvino-fp32": {"xml": fp32_ir["xml"]}}, images, (192, 192), 2, {"rounds": 1})


def test_throughput_rounds(runners, inputs):
    res = interleaved_throughput(runners, inputs, rounds=2, seed=2, **FAST)
    json.dumps(res)
    assert res["orders"] == round_orders(list(runners), 2, seed=2)
    for name, t in res["variants"].items():
        assert len(t["round_fps"]) == 2 and all(f > 0 for f in t["round_fps"])
        assert t["fps"] == pytest.approx(float(np.median(t["round_fps"])))
        assert t["iterations"] == sum(t["round_iterations"]) and min(t["round_iterations"]) >= 2
        if runners[name].is_openvino:
            assert t["hint"] == "THROUGHPUT" and t["streams"] >= 1 and t["requests"] >= 1
        else:
            assert (t["hint"], t["streams"], t["requests"]) == ("sequential", 1, 1)
    assert res["variants"]["openvino-fp32"]["inference_precision"] == "f32"


def test_run_interleaved_json(fp32_ir, images):
    variants = {"openvino-fp32": {"xml": fp32_ir["xml"]},
                "openvino-int8": {"xml": fp32_ir["xml"]},  # stands in for an INT8 IR: only the plumbing is tested
                "fp32-again": {"variant": "openvino-fp32", "xml": fp32_ir["xml"], "precision_hint": "f32"}}
    settings = {"rounds": 3, "seconds_per_round": 0.05, "warmup": 1, "max_images": 2, "throughput_rounds": 2}
    res = run_interleaved(variants, images, HW, 2, settings)
    json.loads(json.dumps(res))
    assert res["hw"] == [192, 320] and res["threads"] == 2 and res["images"] == 2
    assert res["settings"]["rounds"] == 3 and res["settings"]["throughput_seconds_per_round"] == 0.05
    assert len(res["latency_run"]["orders"]) == 3 and len(res["throughput_run"]["orders"]) == 2
    for name, v in res["variants"].items():
        assert v["inference_precision"] == "f32" and v["properties"]["threads"] == 2
        assert len(v["latency"]["round_medians_ms"]) == 3 and len(v["throughput"]["round_fps"]) == 2
    assert res["variants"]["fp32-again"]["variant"] == "openvino-fp32"
    lr = res["ratios"]["latency"]
    assert set(lr["speedup_over_baseline"]) == {"openvino-int8", "fp32-again"}
    assert set(res["ratios"]["throughput"]["speedup_over_baseline"]) == {"openvino-int8", "fp32-again"}
    assert res["system"]["threads"] == 2
    with pytest.raises(WorkflowError, match="unknown interleaved benchmark setting"):
        run_interleaved(variants, images, HW, 2, {"round": 3})


def test_split_rounds_spreads_every_round_and_never_makes_an_empty_process():
    from ovyolo.measure.interleave import split_rounds

    assert split_rounds(10, 3) == [4, 3, 3] and split_rounds(6, 2) == [3, 3]
    assert split_rounds(2, 3) == [1, 1] and split_rounds(5, 1) == [5]


def test_rounds_spread_over_fresh_processes_are_merged_into_one_result(fp32_ir, images, tmp_path):
    """run_in_processes: each part in its own new process (its pid differs from this one's and the others'), every
    round of every process in the merged rounds, latency statistics over all iterations, ratios over all rounds;
    two IRs of different shapes timed together (the square comparison's use)."""
    import os

    from ovyolo.measure.interleave import run_in_processes

    variants = {"openvino-fp32": {"xml": fp32_ir["xml"]},
                "fp32-again": {"variant": "openvino-fp32", "xml": fp32_ir["xml"], "precision_hint": "f32"}}
    settings = {"rounds": 5, "seconds_per_round": 0.02, "warmup": 1, "max_images": 2, "throughput_rounds": 3,
                "processes": 2}
    res = run_in_processes(variants, images, HW, 2, settings)
    json.loads(json.dumps(res))
    pids = [p["pid"] for p in res["processes"]]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert [p["rounds"] for p in res["processes"]] == [3, 2] and [p["seed"] for p in res["processes"]] == [0, 1]
    assert res["latency_run"]["rounds"] == 5 and len(res["latency_run"]["orders"]) == 5
    assert res["throughput_run"]["rounds"] == 3
    for v in res["variants"].values():
        lat = v["latency"]
        assert len(lat["round_medians_ms"]) == 5 and lat["iterations"] == sum(lat["round_iterations"])
        assert lat["min_ms"] <= lat["p50_ms"] <= lat["max_ms"] and "round_times_ns" not in lat
        assert len(v["throughput"]["round_fps"]) == 3
    s = res["ratios"]["latency"]["speedup_over_baseline"]["fp32-again"]
    assert len(s["per_round"]) == 5 and s["ci_low"] <= s["median"] <= s["ci_high"]
    # one process: the same as run_interleaved, in this process
    one = run_in_processes(variants, images, HW, 2, {**settings, "processes": 1})
    assert one["pid"] == os.getpid() and "processes" not in one
    # IRs of two shapes in one run: each gets the images letterboxed to its own shape (a runner refuses another)
    from ovyolo.build.convert import convert
    from ovyolo.build.export import export

    square = convert(export(fp32_ir["info"], (320, 320), tmp_path / "model.onnx"), (320, 320), "fp32", tmp_path / "fp32")
    two = run_in_processes({"openvino-fp32": {"xml": fp32_ir["xml"]},
                            "square": {"variant": "openvino-fp32", "xml": square, "hw": [320, 320]}},
                           images, HW, 2, {**settings, "throughput": False, "processes": 1})
    assert two["variants"]["square"]["hw"] == [320, 320] and two["variants"]["openvino-fp32"]["hw"] == [192, 320]
    assert two["throughput_run"] is None
