"""The plan before the work: ``python -m ovyolo plan [--cores N] [snakemake options, e.g. --configfile mine.yaml]``.

A first ``snakemake -n`` lists only identification, discovery and ``all``: the deploy shapes decide every path after
them (``discover_shape`` is a checkpoint), so the jobs after discovery are unknown until it has run. This command
runs identification and discovery for real (``snakemake --until discover_shape``: cheap for a user's model; for
``source: demo`` it generates and trains the demo first), then a dry run of the whole workflow, and prints per
model the deploy shapes with their reasons, the variants measured at each shape and the jobs the run will do, by
rule, plus every ``NOTE:`` (a setting that cannot take effect) and ``ERROR:`` line. The run that follows reuses
the identification and discovery it made.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

from ovyolo import variants as _variants
from ovyolo.errors import WorkflowError

_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def job_counts(text: str) -> dict[str, int]:
    """Rule -> job count from a dry run's 'Job stats' table (empty if nothing to do)."""
    if "Nothing to be done" in text or "Job stats:" not in text:
        return {}
    jobs = {}
    for line in text.split("Job stats:", 1)[1].splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m:
            if jobs:
                break
            continue
        if m.group(1) != "total":
            jobs[m.group(1)] = int(m.group(2))
    return jobs


def jobs_by_shape(text: str) -> dict[tuple[str | None, str | None], Counter]:
    """(model, "HxW") -> Counter of rules from a dry run's job listing; (model, None) for a model's jobs before
    discovery, (None, None) for jobs of no model (the demo, summarize, all). Validate jobs also count per variant
    under the rule name ``validate:<variant>``."""
    out: dict[tuple[str | None, str | None], Counter] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _JOB.match(line)
        if not m:
            continue
        wc = {}
        for nxt in lines[i + 1:i + 12]:
            if _JOB.match(nxt) or not nxt.strip():
                break
            w = _WILDCARDS.match(nxt)
            if w:
                wc = dict(part.split("=", 1) for part in w.group(1).split(", ") if "=" in part)
                break
        shape = f"{wc['h']}x{wc['w']}" if "h" in wc and "w" in wc else None
        c = out.setdefault((wc.get("model"), shape), Counter())
        c[m.group(1)] += 1
        if "variant" in wc:
            c[f"validate:{wc['variant']}"] += 0  # remember the variant (a zero count keeps the rule totals right)
    return out


def _run(cmd: list[str], cwd: str | None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def _config(files: list[str], workdir: Path) -> dict:
    """The config the run will use: the --configfile(s) merged in order, else config.yaml (as the Snakefile)."""
    import yaml

    from ovyolo.config import validate

    def merge(a: dict, b: dict) -> dict:
        for k, v in b.items():
            a[k] = merge(a.get(k) or {}, v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    paths = [Path(f) for f in files] or [workdir / "config.yaml"]
    cfg: dict = {}
    for p in paths:
        if not p.is_file():
            raise WorkflowError(f"config file {p} not found")
        cfg = merge(cfg, yaml.safe_load(p.read_text()) or {})
    return validate(cfg)


def plan(snakemake_args: list[str], cores: int | None = None, snakefile: str | None = None) -> tuple[int, str]:
    """Run identification + discovery for real, then the dry run; return (exit code, the text to print)."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--configfile", "--configfiles", nargs="+", default=[])
    ap.add_argument("--directory", "-d", default=None)
    known, _ = ap.parse_known_args(snakemake_args)
    workdir = Path(known.directory or ".")
    if snakefile is None:
        here = Path("Snakefile")
        snakefile = str(here if here.is_file() else Path(__file__).resolve().parent.parent / "Snakefile")
    base = [sys.executable, "-m", "snakemake", "--snakefile", snakefile, *snakemake_args]
    cores_arg = ["--cores", str(cores or os.cpu_count() or 1)]
    out: list[str] = []

    found = _run([*base, *cores_arg, "--until", "discover_shape"], None)
    text = found.stdout + found.stderr
    notes = list(dict.fromkeys(ln for ln in text.splitlines() if ln.startswith("NOTE: ")))
    errors = list(dict.fromkeys(ln for ln in text.splitlines() if ln.startswith("ERROR")))
    if found.returncode != 0:
        out += errors or text.strip().splitlines()[-20:]
        out.append("The plan stopped at identification/discovery; fix the line above and run it again.")
        return 1, "\n".join(out + notes)

    dry = _run([*base, "-n"], None)
    text = dry.stdout + dry.stderr
    if dry.returncode != 0:
        out += [ln for ln in text.splitlines() if ln.startswith("ERROR")] or text.strip().splitlines()[-20:]
        return 1, "\n".join(out)
    notes += [ln for ln in text.splitlines() if ln.startswith("NOTE: ") and ln not in notes]
    counts, by_shape = job_counts(text), jobs_by_shape(text)
    cfg = _config(known.configfile, workdir)
    configs = " ".join(known.configfile) or "config.yaml"
    out.append(f"Plan for {configs} (identification and discovery done; nothing else has run):")

    order = list(counts)  # the dry run's own order of rules (its Job stats table)

    def jobs_line(c: Counter) -> str:
        rules = sorted(((r, n) for r, n in c.items() if ":" not in r),
                       key=lambda rn: order.index(rn[0]) if rn[0] in order else len(order))
        return ", ".join(f"{r} {n}" for r, n in rules) + f"  ({sum(n for _, n in rules)} jobs)"

    for model in cfg["models"]:
        rec_path = workdir / "results" / model / "shape.json"
        rec = json.loads(rec_path.read_text()) if rec_path.is_file() else {}
        out += ["", f"{model}: {rec.get('family', '?')} model, {rec.get('source', '?')}"]
        for s in rec.get("shapes", []):
            shape = f"{s['h']}x{s['w']}"
            out.append(f"  {shape}: {s['reason']}")
            c = by_shape.get((model, shape))
            if c:
                variants = sorted((r.split(":", 1)[1] for r in c if r.startswith("validate:")), key=_variants.rank)
                if variants:
                    out.append(f"    variants measured: {', '.join(variants)}")
                out.append(f"    jobs: {jobs_line(c)}")
            else:
                out.append("    jobs: none (up to date)")
        deployed = {f"{s['h']}x{s['w']}" for s in rec.get("shapes", [])}
        for (m, shape), c in by_shape.items():  # a shape built only to be compared with (config `square`)
            if m == model and shape is not None and shape not in deployed:
                side = shape.split("x")[0]
                out.append(f"  {shape}: not a deploy shape: the square a plain `yolo export imgsz={side}` builds, "
                           "compared with the rectangular shape (square.enabled)")
                out.append(f"    jobs: {jobs_line(c)}")
    shared = by_shape.get((None, None))
    if shared:
        out += ["", f"not per model: {jobs_line(shared)}"]
    total = sum(counts.values())
    out += [""]
    if notes:
        out += notes + [""]
    here = Path(snakefile).resolve() == (workdir / "Snakefile").resolve()
    run = shlex.join(["snakemake", "--cores", str(cores or os.cpu_count() or 1),
                      *([] if here else ["--snakefile", snakefile]), *snakemake_args])
    out.append(f"Total: {total} jobs. Run them: {run}" if total else "Nothing to do: every result is up to date.")
    return 0, "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from ovyolo import offline

    offline.prepare()  # the Snakemake runs it starts inherit the offline environment

    ap = argparse.ArgumentParser(prog="python -m ovyolo plan", description=__doc__.splitlines()[0],
                                 epilog="Other options (e.g. --configfile mine.yaml) are passed to snakemake.")
    ap.add_argument("--cores", type=int, default=None, help="for identification/discovery (default: all)")
    ap.add_argument("--snakefile", default=None, help="default: ./Snakefile, else the one of this package's workflow")
    args, rest = ap.parse_known_args(argv)
    try:
        code, text = plan(rest, cores=args.cores, snakefile=args.snakefile)
    except WorkflowError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
