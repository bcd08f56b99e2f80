"""Real reruns of the workflow on copies of the session's tiny run: a SIGKILL mid-quantize, and --cores 1 against
--cores 8 (their own file, so that pytest-xdist's --dist loadfile can give them a worker of their own; the dry-run
checks of what reruns are in test_workflow_e2e)."""
import json

import pytest
from workflow_helpers import REPO, copy_run, guarded_env, planned_jobs, snakemake

from ovyolo.build.quantize import count_quantized_ops
from ovyolo.ir import ir_input_shape

pytestmark = pytest.mark.e2e


def test_sigkill_mid_quantize_leaves_nothing_trusted_and_rerun_completes(tiny_run, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    wd = copy_run(tiny_run[0], tmp_path / "wf")
    base = wd / "results/demo/192x320"
    log = wd / "results/logs/demo/192x320/quantize.log"
    target = "results/demo/192x320/int8/model.xml"  # quantize alone: what runs after it is tested elsewhere
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd),
           "--configfile", str(wd / "config.yaml"), "--cores", "2", target, "--forcerun", "quantize"]
    log.unlink()  # the previous run's log also says "job start": wait for this run's own
    out = open(wd / "killed_run.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=guarded_env(wd))
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (log.exists() and "job start" in log.read_text()):
        time.sleep(0.1)
    assert proc.poll() is None, (wd / "killed_run.log").read_text()[-3000:]
    time.sleep(2.0)  # inside NNCF's statistics collection
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert "job end" not in log.read_text(), "quantize finished before the kill; the test did not test anything"
    # nothing a later step would take for good: no int8 IR in place (only a .tmp-* sibling at most)
    assert not (base / "int8/model.xml").exists() or not (base / "int8/model.bin").exists()
    snakemake(wd, "--unlock")
    jobs = planned_jobs(snakemake(wd, "-n"))
    assert "quantize" in jobs and "export_onnx" not in jobs and "demo_train" not in jobs
    snakemake(wd, "--cores", "2", target)  # the one real rerun of this module
    assert count_quantized_ops(base / "int8/model.xml") > 50 and ir_input_shape(base / "int8/model.xml") == [1, 3, 192, 320]
    assert not list((wd / "results").rglob(".tmp-*"))
    assert planned_jobs(snakemake(wd, "-n", target)) == {}


def test_a_cores_1_rerun_reproduces_the_cores_8_results(tiny_run, tmp_path):
    """Same numbers whether jobs ran side by side (--cores 8 on 2 cores) or one at a time (apart from timings)."""
    import hashlib

    wd = copy_run(tiny_run[0], tmp_path / "wf")
    base = wd / "results/demo/192x320"

    def snapshot():
        metrics = {v: {k: json.loads((base / v / "metrics.json").read_text())[k] for k in ("mAP50", "mAP50_95", "per_class")}
                   for v in ("openvino-fp32", "openvino-int8")}
        blobs = {p: hashlib.sha256((base / p).read_bytes()).hexdigest() for p in ("int8/model.bin", "fp32/model.bin", "calibration/images.npy")}
        return metrics, blobs

    before = snapshot()
    # only what the snapshot reads (and everything upstream of it): the timings, plots and bundles would cost a
    # minute of serial job starts and carry no numbers compared here; the other variants' metrics come from the
    # same upstream files by the same code
    targets = [f"results/demo/192x320/{v}/metrics.json" for v in ("openvino-fp32", "openvino-int8")]
    proc = snakemake(wd, "--cores", "1", *targets, "--forcerun", "export_onnx", "calibration")
    assert {"export_onnx", "convert", "calibration", "quantize", "validate"} <= set(planned_jobs(proc))
    assert snapshot() == before
