"""The Slurm profile against a real single-node Slurm (Debian's slurmctld/slurmd/munge) started by this test.

The tiny configuration runs once locally (every variant) and once, with two of its variants, through
`--workflow-profile profiles/slurm`; every job of the Slurm run must be a Slurm job (ids in Snakemake's log, the
jobs known to slurmctld, in the right partition, the benchmarks on a whole node), and both runs must agree on the
shape, the IR input shapes and the mAP values they both measured.
Skips, with a one-line reason, only when this machine cannot install or start Slurm, and never in CI (``CI=true``
in the environment the tests started with): there the same reason fails the test.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import RUNNING_IN_CI
from slurm_cluster import SlurmCluster, SlurmUnavailable, ensure_installed
from workflow_helpers import REPO, TINY, guarded_env

from ovyolo import variants
from ovyolo.ir import ir_input_shape
from ovyolo.measure.runtimes import cpu_supports_bf16
from ovyolo.sources.onnx import input_dims as onnx_input_shape

pytestmark = pytest.mark.system

BENCH_PARTITION = "bench"  # the test cluster's stand-in for the target-hardware partition
SHAPE = "192x320"
TIMINGS = {}
# The Slurm run measures two variants (the local run measures all): every rule kind still runs as a Slurm job, in
# about half the jobs; the two runs must agree on what both measured.
SLURM_VARIANTS = ["openvino-fp32", "openvino-int8"]
SLURM_CONFIG = {**TINY, "evaluation": {"variants": SLURM_VARIANTS}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        ensure_installed()
        c = SlurmCluster(tmp_path_factory.mktemp("slurm"), partitions=("debug", BENCH_PARTITION)).start()
    except SlurmUnavailable as e:
        if RUNNING_IN_CI:  # CI can install and start Slurm (root, apt): there a skip would hide a failure
            pytest.fail(f"CI=true but Slurm could not be installed or started: {e}")
        pytest.skip(f"no Slurm on this machine: {e}")
    yield c
    c.stop()


def run_until_done(cmd: list[str], env: dict, timeout: float, log_path) -> tuple[int, str]:
    """Run snakemake; past the timeout stop it with SIGINT (SIGTERM would wait for the Slurm jobs)."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            rc = None
    text = log_path.read_text(errors="replace")
    if rc is None:
        raise AssertionError(f"snakemake on Slurm did not finish within {timeout:.0f} s:\n{text[-6000:]}")
    return rc, text


@pytest.fixture
def local_run(tiny_run):
    """The session's local run of the TINY config, every variant (conftest)."""
    TIMINGS["local"] = tiny_run[2]
    return tiny_run[0]


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    wd = tmp_path_factory.mktemp("slurm-run")
    cfg = wd / "config.yaml"
    cfg.write_text(yaml.safe_dump(SLURM_CONFIG))
    env = cluster.env(guarded_env(wd))
    env["OVYOLO_BENCH_PARTITION"] = BENCH_PARTITION
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd),
           "--configfile", str(cfg), "--workflow-profile", str(REPO / "profiles/slurm"),
           # test-only: a first status check after 1 s instead of the profile's value, and keep every job's log
           "--slurm-init-seconds-before-status-checks", "1", "--slurm-keep-successful-logs"]
    t0 = time.monotonic()
    rc, text = run_until_done(cmd, env, timeout=2400, log_path=wd / "snakemake.log")
    TIMINGS["slurm"] = time.monotonic() - t0
    assert rc == 0, f"snakemake on Slurm failed ({rc}):\n{text[-8000:]}\n{cluster.root}/log"
    return wd, text


def scontrol_job(cluster, jobid: str) -> dict:
    out = subprocess.run(["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True,
                         env=cluster.env(), timeout=30)
    assert out.returncode == 0, out.stderr
    fields = {}
    for token in out.stdout.split():
        if "=" in token:
            key, value = token.split("=", 1)
            fields[key] = value
    return fields


def test_every_job_ran_through_slurm(cluster, slurm_run):
    wd, text = slurm_run
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", text))
    finished = dict(re.findall(r"Finished jobid: (\d+) \(Rule: (\w+)\)", text))
    assert submitted and finished, text[-4000:]
    # every finished job except the local 'all' target was a Slurm job
    assert {j for j, rule in finished.items() if rule != "all"} <= set(submitted), (finished, submitted)
    rules = {}
    for jobid in submitted.values():
        job = scontrol_job(cluster, jobid)
        assert job["JobState"] == "COMPLETED", job
        rule = re.match(r"rule_([a-z_0-9]+?)(?:_wildcards_|$)", job["Comment"]).group(1)
        rules.setdefault(rule, []).append(job)
    assert {"demo_dataset", "demo_train", "discover_shape", "export_onnx", "convert", "calibration", "quantize",
            "validate", "summarize"} <= set(rules), sorted(rules)
    bench_rules = [r for r in rules if r in ("benchmark", "benchmark_shape", "pipeline_benchmark")]
    assert "benchmark" in bench_rules and "pipeline_benchmark" in bench_rules, sorted(rules)
    for rule, jobs in rules.items():
        for job in jobs:
            if rule in bench_rules:  # the target-hardware partition, a whole node to itself
                assert job["Partition"] == BENCH_PARTITION and job["OverSubscribe"] == "NO", job
            else:
                assert job["Partition"] == "debug" and job["OverSubscribe"] != "NO", job
            # cpus_per_task = the rule's threads; memory and time limits from the profile
            assert int(job["MinMemoryNode"].rstrip("M")) >= 500, job
            assert job["TimeLimit"] != "UNLIMITED", job
    # the plugin's per-job Slurm logs
    assert list((wd / ".snakemake/slurm_logs").rglob("*.log"))
    # and no Python process of the run tried the network
    log = wd / "netguard.log"
    assert not log.exists() or log.read_text() == "", log.read_text()[:2000]


def test_slurm_and_local_runs_agree(local_run, slurm_run):
    wd_slurm, _ = slurm_run
    print(f"\nwall time: local {TIMINGS['local']:.0f} s, Slurm {TIMINGS['slurm']:.0f} s")
    runs = {"local": local_run, "slurm": wd_slurm}
    shapes = {k: json.loads((wd / "results/demo/shape.json").read_text()) for k, wd in runs.items()}
    assert shapes["local"] == shapes["slurm"]
    assert [(s["h"], s["w"]) for s in shapes["slurm"]["shapes"]] == [(192, 320)]
    for wd in runs.values():
        base = wd / "results/demo" / SHAPE
        assert onnx_input_shape(base / "model.onnx") == [1, 3, 192, 320]
        for prec in ("fp32", "int8"):
            assert ir_input_shape(base / prec / "model.xml") == [1, 3, 192, 320]
    metrics = {}
    for k, wd in runs.items():
        files = sorted((wd / "results/demo" / SHAPE).glob("*/metrics.json"))
        recs = {f.parent.name: json.loads(f.read_text()) for f in files}
        metrics[k] = {v: {m: r[m] for m in ("mAP50", "mAP50_95")} for v, r in recs.items() if r["measured"]}
    requested = [v for v in variants.for_family("ultralytics", variants.names()) if v != variants.OURS_INT8_AC]
    measured, _ = variants.without_unsupported_bf16(requested, "auto", cpu_supports_bf16())  # evaluation.bf16: auto
    assert sorted(metrics["local"]) == sorted(measured)  # the local run: every default variant
    assert sorted(metrics["slurm"]) == sorted(SLURM_VARIANTS)
    assert metrics["slurm"] == {v: metrics["local"][v] for v in SLURM_VARIANTS}
    assert (wd_slurm / "results/summary.csv").is_file()
