"""What a run tells its user, from real (tiny) Snakemake runs: the plan before the work, one line for a size that
is not a stride multiple, NOTE lines for settings that cannot take effect, an end-of-run banner that names only
what exists and commands that work as typed, and a verdict that names the file to ship and the command that runs it.

Every command a run suggests is run here exactly as printed (``bash -c``, from another folder than the run's).
"""
import copy
import json
import shutil
import subprocess

import pytest
import yaml
from workflow_helpers import TINY, copy_run, guarded_env, snakemake

from ovyolo import variants
from ovyolo.plan import job_counts, jobs_by_shape

pytestmark = pytest.mark.e2e


def shell(line: str, cwd, env_dir):
    """A printed command, run as a user types it into a shell (`snakemake` and `python` from PATH)."""
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=guarded_env(env_dir), capture_output=True, text=True,
                          timeout=900)


def banner(proc) -> list[str]:
    out = proc.stdout
    assert "\nResults:\n" in out, out[-3000:]
    return out.split("\nResults:\n", 1)[1].splitlines()


def suggested(lines, prefix: str) -> str:
    (line,) = [ln.strip() for ln in lines if ln.strip().startswith(prefix)]
    return line.split(": ", 1)[1] if prefix.endswith(":") else line[len(prefix):].strip()


@pytest.fixture
def user(tiny_run, tmp_path):
    """A user's training run and data set (the tiny run's), outside the working directory."""
    shutil.copytree(tiny_run[0] / "results/_demo/run", tmp_path / "user/runs/detect/train")
    shutil.copytree(tiny_run[0] / "results/_demo/dataset", tmp_path / "user/data")
    wd = tmp_path / "wf"
    wd.mkdir()

    def config(imgsz):
        return {"models": {"cars": {"source": str(tmp_path / "user/runs/detect/train"),
                                    "data": str(tmp_path / "user/data/data.yaml"), "trust_checkpoint": True,
                                    "imgsz": imgsz}},
                "calibration": {"size": 8}, "benchmark": TINY["benchmark"], "profile": TINY["profile"]}
    return wd, config


def plan(wd, *args):
    import sys

    return subprocess.run([sys.executable, "-m", "ovyolo", "plan", "--cores", "2", *args], cwd=wd, env=guarded_env(wd),
                          capture_output=True, text=True, timeout=900)


def test_the_plan_shows_shapes_and_jobs_before_the_heavy_ones(user):
    """`python -m ovyolo plan`: identification and discovery for real, the rest as a dry run; a user's
    `imgsz: [736, 1280]` goes through the schema and discovery to a 736x1280 deploy shape."""
    wd, config = user
    (wd / "mine.yaml").write_text(yaml.safe_dump(config([736, 1280])))
    proc = plan(wd, "--configfile", "mine.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "cars: ultralytics model" in out and "  736x1280: explicit imgsz [736, 1280] from config" in out
    shape = json.loads((wd / "results/cars/shape.json").read_text())
    assert [(s["h"], s["w"]) for s in shape["shapes"]] == [(736, 1280)]
    assert not (wd / "results/cars/736x1280").exists()  # nothing after discovery has run
    # the same numbers as Snakemake's own dry run, per rule
    dry = subprocess.run(["bash", "-c", suggested(out.splitlines(), "Total:").split("Run them: ", 1)[1] + " -n"],
                         cwd=wd, env=guarded_env(wd), capture_output=True, text=True, timeout=600)
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = job_counts(dry.stdout + dry.stderr)
    # the deploy shape and the square 1280x1280 it is compared with (square.enabled, the default), each once
    assert f"Total: {sum(counts.values())} jobs." in out and counts["quantize"] == 2 and counts["export_onnx"] == 2
    assert "  1280x1280: not a deploy shape: the square a plain `yolo export imgsz=1280` builds" in out
    measured = sorted(r.split(":", 1)[1] for r in jobs_by_shape(dry.stdout + dry.stderr)[("cars", "736x1280")]
                      if r.startswith("validate:"))
    assert len(measured) + 2 == counts["validate"] and len(measured) >= 4  # + true f32 and INT8 at the square
    assert f"    variants measured: {', '.join(sorted(measured, key=variants.rank))}" in out
    deploy_jobs, square_jobs = [ln for ln in out.splitlines() if ln.startswith("    jobs: ")]
    assert "export_onnx 1" in deploy_jobs and "quantize 1" in deploy_jobs and f"validate {len(measured)}" in deploy_jobs
    assert "export_onnx 1" in square_jobs and "quantize 1" in square_jobs and "validate 2" in square_jobs


def test_a_size_off_the_stride_is_one_error_line_naming_the_nearest(user):
    """`imgsz: [720, 1280]` passes the schema and stops at discovery, the first job after identification, with one
    line naming 736x1280 (and the lower option): in the plan and in the run."""
    wd, config = user
    snakemake(wd, "-n", config=config([720, 1280]))  # the schema takes it: the stride is the model's to decide
    proc = plan(wd, "--configfile", "config.yaml")
    want = "ERROR: models.cars: imgsz [720, 1280] is not a multiple of the model stride 32; use [736, 1280] (736x1280) or [704, 1280] (704x1280)"
    assert proc.returncode == 1 and [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] == [want]
    run = snakemake(wd, "--cores", "2", config=config([720, 1280]), check=False)
    text = run.stdout + run.stderr
    assert run.returncode != 0 and [ln for ln in text.splitlines() if ln.startswith("ERROR")] == [want]
    assert sorted(p.name for p in (wd / "results/cars").iterdir() if p.is_dir()) == []  # no shape tree started


def test_max_drop_alone_builds_int8_ac_and_a_list_without_it_says_so_once(tiny_run, tmp_path):
    """TINY, like the shipped config.yaml, does not pin evaluation.variants: max_drop alone plans int8-ac/ (IR,
    validation, bundle). An explicit list without openvino-int8-ac gets one NOTE line, once per run."""
    wd = copy_run(tiny_run[0], tmp_path / "wf")
    cfg = copy.deepcopy(TINY)
    cfg["quantization"] = {"max_drop": 0.01}
    dry = snakemake(wd, "-n", config=cfg)
    text = dry.stdout + dry.stderr
    jobs = jobs_by_shape(text)[("demo", "192x320")]
    assert jobs["quantize_ac"] == 1 and "validate:openvino-int8-ac" in jobs and "NOTE" not in text
    assert "results/demo/192x320/bundles/int8-ac" in text
    cfg["evaluation"] = {"variants": ["openvino-fp32", "openvino-int8"]}
    text = (lambda p: p.stdout + p.stderr)(snakemake(wd, "-n", config=cfg))
    notes = [ln for ln in text.splitlines() if ln.startswith("NOTE:")]
    assert notes == ["NOTE: quantization.max_drop is set but evaluation.variants does not list openvino-int8-ac: "
                     "int8-ac/ is not built; add openvino-int8-ac to evaluation.variants (or remove the list: every "
                     "variant is measured)"]
    assert "quantize_ac" not in job_counts(text)


def test_partial_target_banner_then_the_commands_it_suggests(tiny_run, tmp_path):
    """After a partial target the banner names no verdict, summary or plot that does not exist and suggests the
    whole run; that command, typed from another folder, runs; its banner names the bundle to ship and the report
    command, and both run as typed; the verdict's own command runs on the demo's val images in the run's folder."""
    wd = copy_run(tiny_run[0], tmp_path / "wf")
    for p in ("summary.csv", "verdict.md", "verdict.json", "plots", "report"):
        shutil.rmtree(wd / "results" / p) if (wd / "results" / p).is_dir() else (wd / "results" / p).unlink()
    proc = snakemake(wd, "--cores", "2", "results/demo/192x320/profile.json", "--forcerun", "profile")
    lines = banner(proc)
    text = "\n".join(lines)
    assert "results/demo/192x320/" in text
    for missing in ("verdict.md", "summary.csv", "plots/", "--report"):  # no file that is not there, no report
        assert missing not in text, text
    whole = suggested(lines, "The verdict, summary, plots and HTML report come with the whole run:")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = shell(whole, elsewhere, wd)
    assert run.returncode == 0, run.stderr[-4000:]
    lines = banner(run)
    assert (wd / "results/verdict.md").read_text().strip() in run.stdout
    ship = json.loads((wd / "results/verdict.json").read_text())["verdicts"][0]["ship"]
    winner = json.loads((wd / "results/verdict.json").read_text())["verdicts"][0]["verdict"]["winner"]
    assert ship["variant"] == winner and ship["bundle"] == f"results/demo/192x320/bundles/{variants.bundle_of(winner)}"
    assert (wd / ship["bundle"] / "bundle.json").is_file()
    assert f"Ship: `{ship['bundle']}`" in (wd / "results/verdict.md").read_text() and ship["command"] in (wd / "results/verdict.md").read_text()
    assert ship["command"] == (f"python -m ovyolo predict {ship['bundle']} results/_demo/dataset/images/val --out "
                               "predictions/demo/192x320" + ("" if ship["precision_hint"] == "f32" else f" --precision-hint {ship['precision_hint']}"))
    for prefix, made in (("Ship demo @ 192x320:", wd / "predictions/demo/192x320/detections.json"),
                         ("HTML report:", wd / "report.html")):
        line = suggested(lines, prefix)
        line = line.split("; run it: ", 1)[1] if prefix.startswith("Ship") else line
        done = shell(line, elsewhere, wd)
        assert done.returncode == 0 and made.is_file(), (line, done.stderr[-3000:])
    assert len(json.loads((wd / "predictions/demo/192x320/detections.json").read_text())["images"]) == 6
    # the verdict's command as written there, in the run's folder, and its Ultralytics line
    shutil.rmtree(wd / "predictions")
    assert shell(ship["command"], wd, wd).returncode == 0 and (wd / "predictions/demo/192x320/detections.json").is_file()
    yolo = shell(f'python -c "{ship["ultralytics"]}"', wd, wd)
    assert yolo.returncode == 0, yolo.stderr[-3000:]
