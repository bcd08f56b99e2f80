"""End to end: the real workflow (Snakemake, Ultralytics, torch, OpenVINO, NNCF) on a tiny config."""
import copy
import json
import re

import numpy as np
import pytest
import yaml
from workflow_helpers import TINY, copy_run, guarded_env, job_intervals, planned_job_list, planned_jobs, snakemake

from ovyolo import variants as _variants
from ovyolo.build.quantize import count_quantized_ops
from ovyolo.ir import ir_input_shape
from ovyolo.measure.runtimes import cpu_supports_bf16
from ovyolo.sources.onnx import input_dims as onnx_input_shape

pytestmark = pytest.mark.e2e

REQUESTED = ["torch", "onnxruntime", "openvino-fp32", "openvino-fp32@bf16", "openvino-fp16", "openvino-int8", "openvino-int8@bf16", "ultralytics-int8"]
# evaluation.bf16 "auto" (TINY's default): the @bf16 variants are measured only where the CPU has bf16
VARIANTS, LEFT_OUT = _variants.without_unsupported_bf16(REQUESTED, "auto", cpu_supports_bf16())
# every requested variant gets a validate job, on any CPU: the job's node decides whether it measures a @bf16 one
INT8_RUNS = sum(v in REQUESTED for v in ("openvino-int8", "openvino-int8@bf16"))  # validations of the INT8 IR


@pytest.fixture
def run(tiny_run):
    """The session's complete run of the TINY config (conftest). Tests only read it; a test that changes anything
    works on its own copy (:func:`copy_of`), so no test depends on another having run."""
    return tiny_run[0], tiny_run[1]


def proc_text(run) -> str:
    return run[1].stdout + run[1].stderr


def copy_of(run, tmp_path):
    """A private copy of the completed run's directory (:func:`workflow_helpers.copy_run`)."""
    return copy_run(run[0], tmp_path / "wf")


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


def test_the_whole_run_attempted_no_network_access(run, tmp_path):
    """Every Python process of the run had the socket guard loaded; it recorded no attempt at all."""
    import subprocess
    import sys

    wd, _ = run
    log = wd / "netguard.log"
    assert not log.exists() or log.read_text() == "", log.read_text()[:2000]
    loaded = (wd / "netguard.log.loaded").read_text()
    # snakemake itself and each job's script (every rule runs workflow/scripts/stage.py) ran with the guard in place
    import re

    finished = re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", proc_text(run))
    jobs = [r for r in finished if r != "all"]
    assert "--snakefile" in loaded and {"demo_train", "quantize", "benchmark"} <= set(jobs)
    assert len(re.findall(r"\.stage\.py$", loaded, re.M)) == len(jobs) > 20
    # the guard is really active in child processes: a connection attempt is refused and recorded
    env = guarded_env(tmp_path)
    probe = "import socket\ntry:\n    socket.create_connection(('198.51.100.1', 80), timeout=1)\nexcept OSError as e:\n    print(e)"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True).stdout
    assert "blocked by test guard" in out and (tmp_path / "netguard.log").read_text()


def test_the_demo_run_looks_like_a_users_run(run):
    wd, _ = run
    runs = wd / "results/_demo/run"
    assert (runs / "weights/best.pt").is_file()
    assert yaml.safe_load((runs / "args.yaml").read_text())["imgsz"] == 320


def test_nothing_to_do_after_a_complete_run(run):
    wd, _ = run
    assert planned_jobs(snakemake(wd, "-n")) == {}


def test_a_complete_run_moved_elsewhere_plans_nothing(run, tmp_path):
    """No absolute path in any rule's params: the run copied to another folder, with the workflow itself copied
    elsewhere too (a cluster that mounts the project at another path), plans nothing."""
    import shutil
    import subprocess
    import sys

    from workflow_helpers import REPO

    wd = copy_of(run, tmp_path)
    project = tmp_path / "project"
    shutil.copytree(REPO / "workflow", project / "workflow", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "profiles", project / "profiles")
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, project / name)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(project / "Snakefile"), "--directory",
                           str(wd), "--configfile", str(wd / "config.yaml"), "-n"], capture_output=True, text=True,
                          env=guarded_env(wd), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert planned_jobs(proc) == {}, (proc.stdout + proc.stderr)[-3000:]


def test_key_order_of_the_config_does_not_rerun_anything(run):
    wd, _ = run

    def reverse(d):
        return {k: reverse(d[k]) for k in reversed(list(d))} if isinstance(d, dict) else d

    assert planned_jobs(snakemake(wd, "-n", config=reverse(TINY), sort_keys=False)) == {}
    snakemake(wd, "-n", config=TINY)  # leave the config file as the run wrote it


def test_metrics_and_benchmarks_carry_every_field(run):
    wd, _ = run
    base = wd / "results/demo/192x320"
    for v in VARIANTS:
        m = json.loads((base / v / "metrics.json").read_text())
        assert m["hw"] == [192, 320] and m["variant"] == v and m["images"] == 6
        assert 0 <= m["mAP50_95"] <= m["mAP50"] <= 1 and set(m["per_class"]) == {"circle", "square", "triangle"}
        assert (m["agreement"] is None) == (v == "openvino-fp32")
        assert (base / v / "matches.npz").is_file()
    # one interleaved benchmark for the whole shape: every variant timed in the same rounds
    b = json.loads((base / "benchmark.json").read_text())
    assert b["kind"] == "interleaved" and b["threads"] == 2 and b["hw"] == [192, 320] and b["node"]
    assert b["system"]["cpu_model"] and b["system"]["versions"]["openvino"]
    assert set(b["variants"]) == set(VARIANTS) and len(b["latency_run"]["orders"]) == 6
    assert {tuple(sorted(o)) for o in b["latency_run"]["orders"]} == {tuple(sorted(VARIANTS))}
    assert len({tuple(o) for o in b["latency_run"]["orders"]}) > 1  # the order changes between rounds
    # the rounds spread over benchmark.processes (2 in TINY) fresh processes, and the verdict says so
    assert [p["rounds"] for p in b["processes"]] == [3, 3] and len({p["pid"] for p in b["processes"]}) == 2
    assert "Timing: 6 interleaved rounds, 2 threads, over 2 fresh processes" in (wd / "results/verdict.md").read_text()
    for v in VARIANTS:
        bv = b["variants"][v]
        lat = bv["latency"]
        assert lat["min_ms"] <= lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"] and len(lat["round_medians_ms"]) == 6
        assert bv["throughput"]["fps"] > 0 and bv["file_size_bytes"] > 0
        expected = "bf16" if v.endswith("@bf16") and b["system"]["cpu_flags"].get("avx512_bf16") else "f32"
        assert bv["inference_precision"] == expected, (v, bv["inference_precision"])
    ratios = b["ratios"]["latency"]
    assert set(ratios["speedup_over_baseline"]) == set(VARIANTS) - {"openvino-fp32"}
    assert "openvino-int8 over ultralytics-int8" in ratios["pairs"]
    # torch, onnxruntime and true-f32 OpenVINO run the same weights: same accuracy, near-identical raw outputs
    ref = json.loads((base / "openvino-fp32/metrics.json").read_text())
    for v in ("torch", "onnxruntime"):
        m = json.loads((base / v / "metrics.json").read_text())
        assert abs(m["mAP50_95"] - ref["mAP50_95"]) < 1e-3 and m["agreement"]["max_abs_diff"] < 0.05


def test_summary_has_a_row_per_variant(run):
    import csv

    wd, _ = run
    with open(wd / "results/summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["variant"] for r in rows] == VARIANTS
    assert {"mAP50", "mAP50_95", "mAP50_95_drop", "latency_p50_ms", "latency_p99_ms", "fps", "speedup_vs_fp32",
            "file_size_mb", "inference_precision", "threads", "mAP50_95_drop_ci_low", "mAP50_95_drop_ci_high",
            "speedup_ci_low", "speedup_ci_high", "calibration_images", "shape_reason", "verdict"} <= set(rows[0])
    fp32 = next(r for r in rows if r["variant"] == "openvino-fp32")
    assert float(fp32["speedup_vs_fp32"]) == 1.0 and float(fp32["mAP50_95_drop"]) == 0.0
    assert float(fp32["mAP50_95_drop_ci_low"]) == float(fp32["mAP50_95_drop_ci_high"]) == 0.0
    for r in rows:
        assert float(r["speedup_ci_low"]) <= float(r["speedup_vs_fp32"]) <= float(r["speedup_ci_high"])
        assert float(r["mAP50_95_drop_ci_low"]) <= float(r["mAP50_95_drop"]) <= float(r["mAP50_95_drop_ci_high"])
        assert r["calibration_images"] == "12" and "360x640" in r["shape_reason"] and r["ir_precision"]
    assert sum(r["verdict"] == "winner" for r in rows) == 1
    verdict = (wd / "results/verdict.md").read_text()
    assert "## demo @ 192x320" in verdict and "Recommend " in verdict
    assert verdict.strip() in proc_text(run)  # printed at the end of the run
    for name in ("latency_vs_map", "drop", "speedup", "rounds", "size", "map", "profile"):
        assert (wd / f"results/plots/{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Where the time goes" in verdict and "openvino-int8" in verdict.split("## Where the time goes")[1]
    # the profile follows the config's profile section, and the verdict compares the INT8 IRs layer by layer
    prof = json.loads((wd / "results/demo/192x320/profile.json").read_text())
    assert (prof["iterations_per_variant"], prof["rounds"], prof["images"]) == (6, 2, 2) == tuple(TINY["profile"].values())
    assert "openvino-int8 vs openvino-fp32, convolution by convolution" in verdict
    # image files to detections: our pipeline (INT8, FP32), the IR alone, Ultralytics' predict on our INT8 bundle
    pipe = json.loads((wd / "results/demo/192x320/pipeline.json").read_text())
    # ... and the INT8 IR alone at batch 1, 4 and 8 (the schema's default), one request at a time and with streams;
    # our pipeline runs the 4 files as one request of 4 (python -m ovyolo predict's batch for 4 files)
    assert set(pipe["contenders"]) == {"ours-int8", "ours-fp32", "ultralytics-int8-folder", "ultralytics-int8-per-file",
                                       *(f"int8-ir-b{b}-{m}" for b in (1, 4, 8) for m in ("sync", "streams"))}
    assert pipe["batch"] == 4 and pipe["ir_alone"] == "int8-ir-b4-streams"
    assert pipe["batched_max_abs_diff_vs_batch1"] and max(pipe["batched_max_abs_diff_vs_batch1"].values()) < 1e-3
    assert (pipe["images"], pipe["rounds"]) == (4, 2) == tuple(TINY["pipeline"].values())
    assert all(len(c["round_seconds"]) == 2 and c["img_per_s"]["median"] > 0 for c in pipe["contenders"].values())
    assert pipe["ultralytics_reference"] in ("ultralytics-int8-folder", "ultralytics-int8-per-file")
    assert "- Pipeline, 4 val image files to detections (2 interleaved rounds" in verdict
    assert "- Batch and streams, the INT8 IR alone on ready tensors (2 interleaved rounds" in verdict
    assert ("openvino-int8 vs ultralytics-int8, convolution by convolution" in verdict) == ("ultralytics-int8" in VARIANTS)
    # the paired CI of our INT8 minus Ultralytics' INT8 (same val images), in the verdict and verdict.json
    assert ("openvino-int8 minus ultralytics-int8, mAP50-95: " in verdict) == ("ultralytics-int8" in VARIANTS)
    ovi = json.loads((wd / "results/verdict.json").read_text())["verdicts"][0]["ours_vs_incumbent"]
    if "ultralytics-int8" in VARIANTS:
        assert ovi["ci"][0] <= ovi["mAP50_95_diff"] <= ovi["ci"][1] and ovi["images"] == 6
    # requested variants this node cannot run as asked are named with why (decided by their jobs on the node),
    # never silently dropped and never taken for a measurement
    for name in REQUESTED:
        m = json.loads((wd / f"results/demo/192x320/{name}/metrics.json").read_text())
        assert (name in LEFT_OUT) == (f"- {name}: not measured: node " in verdict) == (m["measured"] is False)
        assert (name in LEFT_OUT) == ("mAP50_95" not in m)


def test_a_variant_its_node_does_not_measure_is_a_record_not_a_row(run, tmp_path, monkeypatch):
    """What an @bf16 validate job writes on a node without bf16 (whatever this machine has): a metrics.json with
    measured false and why, which the summary lists and never takes for a measurement."""
    from ovyolo.measure.validate import not_measured_record
    from ovyolo.report import table
    from ovyolo.report.verdict import verdict_text

    wd = copy_of(run, tmp_path)
    monkeypatch.chdir(wd)  # the summary runs in the workflow's working directory (relative data paths)
    base = wd / "results/demo/192x320"
    why = _variants.not_measured_reason("openvino-fp32@bf16", "auto", False, "node-x")
    v = base / "openvino-fp32@bf16"
    v.mkdir(exist_ok=True)
    not_measured_record("demo", "openvino-fp32@bf16", (192, 320), why, v / "metrics.json", v / "outputs.npy",
                        v / "matches.npz")
    names = [n for n in VARIANTS if n != "openvino-fp32@bf16"] + ["openvino-fp32@bf16"]
    rows, verdicts = table.build([base / n / "metrics.json" for n in names], [base / n / "matches.npz" for n in names],
                                 [base / "benchmark.json"], [wd / "results/demo/shape.json"],
                                 [base / "calibration/manifest.json"], max_drop=0.01, n_boot=100, seed=0)
    assert "openvino-fp32@bf16" not in [r["variant"] for r in rows] and len(rows) == len(names) - 1
    assert verdicts[0]["not_measured"] == {"openvino-fp32@bf16": why} and "node node-x has no bf16" in why
    assert f"- openvino-fp32@bf16: {why}" in verdict_text(verdicts, 0.01)


def test_the_results_page_comes_from_the_run(run):
    """docs/results.md is generated from a run's files: every row and the verdict of the run are on the page."""
    import csv

    from ovyolo.report.results_page import page, wall_time

    wd, _ = run
    text = page(wd / "results")
    with open(wd / "results/summary.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        assert f"| {r['variant']} | " in text and f"{float(r['latency_p50_ms']):.1f}" in text
    verdict = json.loads((wd / "results/verdict.json").read_text())["verdicts"][0]["verdict"]["text"]
    assert verdict.splitlines()[0].strip() in text
    seconds, jobs = wall_time(wd / "results")
    assert jobs > 20 and 0 < seconds < 3600 and "load average" in text and "workflow commit `" in text


def test_benchmarks_never_overlap_other_jobs(run):
    wd, _ = run
    spans = job_intervals(wd)
    bench = {k: v for k, v in spans.items() if k.endswith(("/benchmark.log", "/pipeline_benchmark.log"))}
    assert len(bench) == 2 and len(spans) > len(bench)  # the benchmark and the pipeline benchmark: each alone
    for name, (b0, b1) in bench.items():
        for other, (o0, o1) in spans.items():
            if other != name:
                assert o1 <= b0 or o0 >= b1, f"{other} overlapped {name}"


def test_validations_at_once_never_ask_for_more_threads_than_the_machine_has(run):
    """--cores 8 on this machine: the validation jobs running at any moment hold at most os.cpu_count() threads
    (the "cpu" bound of local runs, workflow/rules/common.smk)."""
    import os

    wd, _ = run
    spans = job_intervals(wd)
    validations = {}
    for name, span in spans.items():
        if "/validate_" in name:
            threads = re.search(r"job start \S+ threads (\d+)", (wd / name).read_text())
            validations[name] = (span, int(threads.group(1)))
    assert len(validations) >= 4 and {t for _, t in validations.values()} == {1}
    for name, ((start, _end), _threads) in validations.items():
        at_once = sum(t for (s0, s1), t in validations.values() if s0 <= start < s1)
        assert at_once <= (os.cpu_count() or 1), f"{at_once} validation threads at once when {name} started"


def test_html_report_contains_the_plots(run, tmp_path):
    wd = copy_of(run, tmp_path)
    snakemake(wd, "--report", "report.html")
    html = (wd / "report.html").read_text(errors="replace")
    for name in ("latency_vs_map.png", "drop.png", "speedup.png", "rounds.png", "size.png", "map.png", "summary.csv",
                 "verdict.md"):
        assert name in html
    # the report opens on the verdict page: the recommendation, the table, how it decides
    assert "How the verdict decides" in html and "speed-up [CI]" in html and ": deploy " in html
    assert "gallery.png" in html  # val images, FP32 vs INT8 detections side by side


def test_calibration_size_reruns_only_calibration_and_quantize(run, tmp_path):
    wd = copy_of(run, tmp_path)
    cfg = copy.deepcopy(TINY)
    cfg["calibration"]["size"] = 10
    jobs = planned_jobs(snakemake(wd, "-n", config=cfg))
    # calibration and quantize, and what measures the new INT8 model: never training, export or convert
    # (validate: openvino-int8 and, where measured, openvino-int8@bf16: the same INT8 IR under two precision hints)
    assert jobs == {"calibration": 1, "quantize": 1, "validate": INT8_RUNS, "benchmark": 1, "profile": 1, "bundle": 1,
                    "gallery": 1, "pipeline_benchmark": 1, "summarize": 1, "all": 1}, jobs


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("benchmark", "rounds", 7, {"benchmark": 1, "summarize": 1, "all": 1}),
        ("evaluation", "iou", 0.6, {"validate": len(REQUESTED), "summarize": 1, "all": 1}),
        ("evaluation", "max_drop", 0.02, {"summarize": 1, "all": 1}),
        ("profile", "iterations", 5, {"profile": 1, "summarize": 1, "all": 1}),
        ("quantization", "preset", "performance", {"quantize": 1, "validate": INT8_RUNS, "benchmark": 1, "profile": 1,
                                                    "bundle": 1, "gallery": 1, "pipeline_benchmark": 1, "summarize": 1,
                                                    "all": 1}),
        ("pipeline", "rounds", 3, {"pipeline_benchmark": 1, "summarize": 1, "all": 1}),
    ],
)
def test_each_setting_reruns_only_what_it_affects(run, tmp_path, section, key, value, expected):
    wd = copy_of(run, tmp_path)
    cfg = copy.deepcopy(TINY)
    cfg.setdefault(section, {})[key] = value
    assert planned_jobs(snakemake(wd, "-n", config=cfg)) == expected


def test_a_new_imgsz_adds_a_tree_and_keeps_the_old_one(run, tmp_path):
    """imgsz as a list: one results/{model}/{h}x{w}/ tree per shape. Adding a shape plans the new tree's jobs and,
    in the old tree, only what measures the shape's variants together (benchmark, profile, gallery: the variant
    list changed) and the summary."""
    wd = copy_of(run, tmp_path)
    cfg = copy.deepcopy(TINY)
    cfg["models"]["demo"]["imgsz"] = [[192, 320], 320]
    cfg.setdefault("evaluation", {})["variants"] = ["openvino-fp32", "openvino-int8"]
    snakemake(wd, "--cores", "1", "--until", "discover_shape", config=cfg)  # the checkpoint: then the plan is whole
    shape = json.loads((wd / "results/demo/shape.json").read_text())
    assert [(s["h"], s["w"]) for s in shape["shapes"]] == [(192, 320), (320, 320)]
    jobs = planned_job_list(snakemake(wd, "-n", config=cfg))
    old = sorted(rule for rule, wc in jobs if (wc.get("h"), wc.get("w")) == ("192", "320"))
    new = sorted(rule for rule, wc in jobs if (wc.get("h"), wc.get("w")) == ("320", "320"))
    assert old == ["benchmark", "gallery", "profile"], old
    assert {"export_onnx", "convert", "calibration", "quantize", "validate", "benchmark", "bundle"} <= set(new), new
    assert new.count("validate") == 2 and new.count("convert") == 2 and "demo_train" not in {r for r, _ in jobs}


def test_bad_config_is_one_line_before_any_job(tmp_path):
    cfg = copy.deepcopy(TINY)
    cfg["calibration"]["sise"] = 3
    proc = snakemake(tmp_path, "-n", config=cfg, check=False)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "calibration.sise" in line]
    assert lines and lines[0].startswith("ERROR: config error: unknown key 'calibration.sise'")
    assert not (tmp_path / "results").exists()


def test_your_own_configfile_runs_only_your_models(run, tmp_path):
    """`--configfile mine.yaml` is the whole config: config.yaml's demo model is neither trained nor measured; a
    dry run lists every model's discovery; the banner's report command names the user's config file."""
    import shutil

    demo = run[0] / "results/_demo"
    user = tmp_path / "user"
    shutil.copytree(demo / "run", user / "runs/detect/train")  # a user's training run and data set, elsewhere
    shutil.copytree(demo / "dataset", user / "data")
    wd = tmp_path / "wf"
    wd.mkdir()
    mine = {
        "models": {
            "mine": {"source": str(user / "runs/detect/train"), "data": str(user / "data/data.yaml"), "trust_checkpoint": True},
            "mine-square": {"source": str(user / "runs/detect/train"), "data": str(user / "data/data.yaml"),
                            "trust_checkpoint": True, "square": True},
        },
        "calibration": {"size": 8},
        # the real run measures one variant (test time): what it shows is whose models run, not the variants
        "evaluation": {"variants": ["openvino-fp32"]},
        "benchmark": TINY["benchmark"],
        "profile": TINY["profile"],
        "pipeline": {"enabled": False},
        "square": {"enabled": False},
    }
    dry = planned_jobs(snakemake(wd, "-n", config=mine))
    assert dry.get("identify_source") == 2 and dry.get("discover_shape") == 2, dry
    assert "demo_train" not in dry and "demo_dataset" not in dry
    del mine["models"]["mine-square"]  # the real run with one of them (test time)
    proc = snakemake(wd, "--cores", "2", config=mine)
    assert sorted(p.name for p in (wd / "results").iterdir() if p.is_dir() and p.name not in ("logs", "report", "plots")) == ["mine"]
    import csv

    with open(wd / "results/summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted({(r["model"], r["shape"]) for r in rows}) == [("mine", "192x320")]
    (report,) = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("HTML report: snakemake --report report.html")]
    assert report.endswith(f" --configfile {wd / 'config.yaml'}")  # run as typed in test_run_output.py
