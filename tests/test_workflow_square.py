"""The square comparison through the real workflow, on a copy of the session's tiny run (its own file, so that
pytest-xdist's --dist loadfile can give it a worker of its own)."""
import copy
import json

import pytest
from workflow_helpers import TINY, copy_run, job_intervals, planned_jobs, snakemake

from ovyolo.build.quantize import count_quantized_ops
from ovyolo.ir import ir_input_shape

pytestmark = pytest.mark.e2e


def test_the_square_comparison_builds_the_square_irs_and_times_them_with_the_rectangular_ones(tiny_run, tmp_path):
    """square.enabled (the default; TINY switches it off): the square 320x320 a plain imgsz=320 export builds, in
    true f32 and our INT8, beside the discovered 192x320: exactly the jobs that takes, IRs of the square shape, one
    interleaved timing job that runs alone, a verdict line and a plot; then nothing left to do."""
    wd = copy_run(tiny_run[0], tmp_path / "wf")
    cfg = copy.deepcopy(TINY)
    cfg["square"] = {"enabled": True}
    jobs = planned_jobs(snakemake(wd, "-n", config=cfg))
    assert jobs == {"export_onnx": 1, "convert": 1, "calibration": 1, "quantize": 1, "validate": 2,
                    "compare_square": 1, "summarize": 1, "all": 1}, jobs
    snakemake(wd, "--cores", "8", config=cfg)
    sq = wd / "results/demo/320x320"
    assert ir_input_shape(sq / "fp32/model.xml") == [1, 3, 320, 320] == ir_input_shape(sq / "int8/model.xml")
    assert count_quantized_ops(sq / "int8/model.xml") > 50
    rec = json.loads((wd / "results/demo/192x320/square.json").read_text())
    assert rec["hw"] == [192, 320] and rec["square_hw"] == [320, 320]
    assert abs(rec["pixels_ratio"] - 320 * 320 / (192 * 320)) < 1e-9
    for precision in ("fp32", "int8"):
        s = rec["speedup"][precision]
        assert len(s["per_round"]) == TINY["benchmark"]["rounds"] and s["ci_low"] <= s["median"] <= s["ci_high"]
        a = rec["accuracy"][precision]
        assert a["images"] == TINY["demo"]["val_images"] and a["ci"][0] <= a["diff"] <= a["ci"][1]
    # each IR timed at its own shape, with the precision it was asked for
    assert rec["inference_precision"]["rect-fp32"] == "f32" == rec["inference_precision"]["square-fp32"]
    spans = job_intervals(wd)
    (c0, c1), = [v for k, v in spans.items() if k.endswith("/compare_square.log")]
    assert all(o1 <= c0 or o0 >= c1 for k, (o0, o1) in spans.items() if not k.endswith("/compare_square.log"))
    verdict = (wd / "results/verdict.md").read_text()
    assert "the rectangular 192x320 against the square 320x320" in verdict
    assert f"{rec['speedup']['int8']['median']:.2f}x" in verdict
    assert (wd / "results/plots/square.png").stat().st_size > 10_000
    from ovyolo.report.results_page import page

    assert "the rectangular 192x320 against the square 320x320" in page(wd / "results")  # docs/results.md has it too
    assert planned_jobs(snakemake(wd, "-n", config=cfg)) == {}
