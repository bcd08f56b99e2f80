"""Run the real Snakemake workflow in a temporary directory."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
NETGUARD = Path(__file__).resolve().parent / "netguard"


def guarded_env(workdir: Path) -> dict:
    """Environment in which every Python process refuses and records network use (tests/netguard)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(NETGUARD)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["OVYOLO_NETGUARD_LOG"] = str(workdir / "netguard.log")
    return env

# OpenVINO Model API, installed with --no-deps by the README's test command (its opencv-python-headless would
# replace our OpenCV): tests/test_model_api.py; tests/test_environment.py checks the command installs this pin
MODEL_API_PIN = "openvino-model-api==0.4.7"

TINY = {
    "models": {"demo": {"source": "demo", "data": "demo", "trust_checkpoint": True}},
    "calibration": {"size": 12},
    "demo": {"train_images": 16, "val_images": 6, "train": {"epochs": 2, "batch": 8, "imgsz": 320}},
    # processes 2: every run spreads its rounds over fresh processes, as the default (3) does
    "benchmark": {"warmup": 1, "rounds": 6, "seconds_per_round": 0.02, "min_iterations_per_round": 2, "images": 4,
                  "processes": 2},
    "profile": {"iterations": 6, "rounds": 2, "images": 2},
    "pipeline": {"images": 4, "rounds": 2},
    # the square comparison (on by default) is built and checked by its own test on a copy of this run
    "square": {"enabled": False},
}


def snakemake(workdir: Path, *args: str, config: dict | None = None, check: bool = True, timeout: int = 900,
              sort_keys: bool = True):
    cfg = workdir / "config.yaml"
    if config is not None:
        cfg.write_text(yaml.safe_dump(config, sort_keys=sort_keys))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(cfg), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=guarded_env(workdir))
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def planned_jobs(proc) -> dict[str, int]:
    """Rule -> job count from a dry run's 'Job stats' table (empty if nothing to do)."""
    from ovyolo.plan import job_counts

    return job_counts(proc.stdout + proc.stderr)


def planned_job_list(proc) -> list[tuple[str, dict]]:
    """Every job of a dry run as (rule, wildcards), from its per-job blocks ("rule x:" ... "wildcards: a=1, b=2")."""
    jobs, current = [], None
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line.strip())
        if m:
            current = (m.group(1), {})
            jobs.append(current)
            continue
        m = re.match(r"^wildcards: (.*)$", line.strip())
        if m and current is not None:
            current[1].update(dict(kv.split("=", 1) for kv in m.group(1).split(", ")))
    return jobs


def job_intervals(workdir: Path) -> dict[str, tuple[float, float]]:
    """log file -> (start, end) epoch seconds, from the 'job start/end' lines every job logs."""
    out = {}
    for log in (workdir / "results" / "logs").rglob("*.log"):
        text = log.read_text(errors="replace")
        start = re.search(r"job start (\d+\.\d+)", text)
        end = re.search(r"job end (\d+\.\d+)", text)
        if start and end:
            out[str(log.relative_to(workdir))] = (float(start.group(1)), float(end.group(1)))
    return out


def copy_run(run_dir: Path, dest: Path) -> Path:
    """A private copy of a completed run's directory (mtimes and Snakemake's metadata preserved), for a test that
    changes something: the session's shared run stays read-only."""
    import shutil

    shutil.copytree(run_dir, dest, symlinks=True)
    return dest
