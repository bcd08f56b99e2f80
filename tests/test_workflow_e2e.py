"""End to end: the real workflow (Snakemake, Ultralytics, torch, OpenVINO, NNCF) on a tiny config."""
import copy
import json

import numpy as np
import pytest
import yaml

from ovyolo.convert import ir_input_shape
from ovyolo.export import onnx_input_shape
from ovyolo.quantize import count_quantized_ops

from workflow_helpers import TINY, planned_jobs, snakemake


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("wf")
    proc = snakemake(wd, "--cores", "2", config=TINY)
    return wd, proc


def test_every_artifact_exists_and_matches_its_path(run):
    wd, proc = run
    shape = json.loads((wd / "results/demo/shape.json").read_text())
    assert [(s["h"], s["w"]) for s in shape["shapes"]] == [(192, 320)]
    assert "360x640" in shape["shapes"][0]["reason"] and shape["train_imgsz"] == 320
    base = wd / "results/demo/192x320"
    assert onnx_input_shape(base / "model.onnx") == [1, 3, 192, 320]
    for prec in ("fp32", "fp16", "int8"):
        assert ir_input_shape(base / prec / "model.xml") == [1, 3, 192, 320]
        meta = yaml.safe_load((base / prec / "metadata.yaml").read_text())
        assert meta["imgsz"] == [192, 320] and meta["precision"] == prec
        assert meta["names"] == {0: "circle", 1: "square", 2: "triangle"}
    cal = np.load(base / "calibration/images.npy", mmap_mode="r")
    assert cal.shape == (12, 3, 192, 320)
    assert count_quantized_ops(base / "int8/model.xml") > 50
    assert count_quantized_ops(base / "fp32/model.xml") == 0
    assert "results/demo/192x320/" in proc.stdout + proc.stderr  # the banner says where the results are
    # no temporary leftovers of the atomic writes
    assert not list((wd / "results").rglob(".tmp-*"))


def test_the_demo_run_looks_like_a_users_run(run):
    wd, _ = run
    runs = wd / "results/_demo/run"
    assert (runs / "weights/best.pt").is_file()
    assert yaml.safe_load((runs / "args.yaml").read_text())["imgsz"] == 320


def test_nothing_to_do_after_a_complete_run(run):
    wd, _ = run
    assert planned_jobs(snakemake(wd, "-n")) == {}


def test_calibration_size_reruns_only_calibration_and_quantize(run):
    wd, _ = run
    cfg = copy.deepcopy(TINY)
    cfg["calibration"]["size"] = 10
    jobs = planned_jobs(snakemake(wd, "-n", config=cfg))
    assert set(jobs) - {"all"} == {"calibration", "quantize"}, jobs
    # and for real: training, export and convert outputs stay untouched
    base = wd / "results/demo/192x320"
    before = {p: p.stat().st_mtime_ns for p in [base / "model.onnx", base / "fp32/model.xml", wd / "results/_demo/run/weights/best.pt"]}
    snakemake(wd, "--cores", "2", config=cfg)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert np.load(base / "calibration/images.npy", mmap_mode="r").shape[0] == 10
    assert planned_jobs(snakemake(wd, "-n", config=cfg)) == {}


def test_bad_config_is_one_line_before_any_job(tmp_path):
    cfg = copy.deepcopy(TINY)
    cfg["calibration"]["sise"] = 3
    proc = snakemake(tmp_path, "-n", config=cfg, check=False)
    assert proc.returncode != 0
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if "calibration.sise" in l]
    assert lines and lines[0].startswith("ERROR: config error: unknown key 'calibration.sise'")
    assert not (tmp_path / "results").exists()
