"""The square comparison's arithmetic and its verdict line, and the verdict's timing line (the workflow run is in
test_workflow_e2e)."""
import pytest

from ovyolo.errors import WorkflowError
from ovyolo.measure.ci import fmt
from ovyolo.measure.square import compare_square, square_line, square_of

pytestmark = pytest.mark.unit


def test_the_square_is_the_long_side_and_a_square_shape_has_none():
    assert square_of((160, 256)) == (256, 256)
    assert square_of((736, 1280)) == (1280, 1280)
    assert square_of((1280, 736)) == (1280, 1280)
    assert square_of((320, 320)) is None


def test_a_square_shape_is_refused_before_anything_loads(tmp_path):
    with pytest.raises(WorkflowError, match="square already"):
        compare_square("m", (320, 320), irs={}, matches={}, data_yaml=tmp_path / "none.yaml", threads=1,
                       settings={}, n_boot=10, seed=0, out=tmp_path / "square.json")
    assert not (tmp_path / "square.json").exists()


def test_a_rounded_zero_never_prints_with_a_minus():
    assert fmt(-0.00001, "+.4f") == "+0.0000" and fmt(-0.0123, "+.4f") == "-0.0123" and fmt(0.0456, "+.4f") == "+0.0456"
    assert fmt(-0.0001, ".3f") == "0.000" and fmt(None, ".1f") == "-"


def _record(f32, int8, diff):
    def speed(ci):
        return {"median": sum(ci) / 2, "ci_low": ci[0], "ci_high": ci[1]}

    acc = {"diff": diff[0], "ci": list(diff[1]), "images": 200, "level": 0.95}
    return {"hw": [160, 256], "square_hw": [256, 256], "pixels_ratio": 1.6, "rounds": 10, "threads": 2,
            "speedup": {"fp32": speed(f32), "int8": speed(int8)}, "accuracy": {"fp32": acc, "int8": acc}}


def test_the_line_calls_a_speed_up_only_what_its_interval_says():
    line = square_line(_record((1.4, 1.6), (0.9, 1.2), (-0.001, (-0.004, 0.002))))
    assert "160x256 against the square 256x256" in line and "imgsz=256" in line and "1.60x the pixels" in line
    assert "true f32 1.50x [1.40, 1.60] (faster)" in line
    assert "our INT8 1.05x [0.90, 1.20] (no measurable difference)" in line
    assert "-0.0010 [-0.0040, +0.0020]" in line and "200 val images" in line
    assert "(slower)" in square_line(_record((0.7, 0.9), (0.8, 0.95), (0.0, (0.0, 0.0))))


def test_the_timing_line_says_what_the_speed_up_intervals_cover():
    from ovyolo.report.verdict import timing_line

    spread = timing_line({"threads": 2, "latency_run": {"rounds": 10},
                          "processes": [{"rounds": 4}, {"rounds": 3}, {"rounds": 3}]})
    assert "10 interleaved rounds, 2 threads, over 3 fresh processes" in spread and "includes the difference" in spread
    one = timing_line({"threads": 2, "latency_run": {"rounds": 10}})
    assert "in one process" in one and "covers this process only" in one
    assert timing_line({}) is None


def test_the_verdict_table_never_prints_a_rounded_zero_with_a_minus():
    from ovyolo.report.verdict import _glance_row

    row = _glance_row({"variant": "openvino-fp16", "p50_ms": 2.9, "speedup": 1.0, "speedup_ci": [0.99, 1.01],
                       "mAP50_95": 0.897, "drop": -0.0001, "drop_ci": [-0.0003, 0.0002], "verdict": "no speed gain"})
    assert row[4] == "0.000 [0.000, 0.000]"
    assert _glance_row({**dict(zip(("variant", "p50_ms", "speedup", "speedup_ci", "mAP50_95", "verdict"),
                                   ("v", 1.0, 1.2, [1.1, 1.3], 0.8, "x"))),
                        "drop": -0.012, "drop_ci": [-0.02, -0.004]})[4] == "-0.012 [-0.020, -0.004]"
