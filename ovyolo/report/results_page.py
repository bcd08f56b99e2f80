"""docs/results.md from a finished run: ``python -m ovyolo results-page [RESULTS] > docs/results.md``.

The page that says what the product measured, with where and when: date, workflow commit, machine (CPU, ISA flags
that matter to OpenVINO, its capabilities), threads, the load average when the benchmark started and ended (the VM
may be shared), the workflow's wall time (first job start to last job end, from the jobs' logs), and per model and
shape the summary table and the verdict. Every number comes from the run's files; nothing is typed by hand.
"""
from __future__ import annotations

import csv
import json
import re
import sys
import time
from pathlib import Path

from ovyolo.report.verdict import per_class_blocks, to_markdown

ISA = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def _fmt_ci(value, low, high, digits=3, suffix="") -> str:
    if value in ("", None):
        return "-"
    v = f"{float(value):.{digits}f}{suffix}"
    if low in ("", None) or high in ("", None):
        return v
    return f"{v} [{float(low):.{digits}f}, {float(high):.{digits}f}]"


def wall_time(results: Path) -> tuple[float, int] | None:
    """(seconds from the first job's start to the last job's end, number of jobs), from the 'job start/end' lines
    every job writes to its log; None without logs."""
    starts, ends = [], []
    for log in (results / "logs").rglob("*.log"):
        text = log.read_text(errors="replace")
        a, b = re.search(r"job start (\d+\.\d+)", text), re.search(r"job end (\d+\.\d+)", text)
        if a and b:
            starts.append(float(a.group(1)))
            ends.append(float(b.group(1)))
    return (max(ends) - min(starts), len(starts)) if starts else None


def page(results: str | Path = "results") -> str:
    results = Path(results)
    verdict = json.loads((results / "verdict.json").read_text())
    with open(results / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    lines = ["# Measured: the last default run", "",
             "Generated from a finished run by `python -m ovyolo results-page results > docs/results.md`; every number "
             "below comes from that run's files (summary.csv, verdict.json, benchmark.json, the jobs' logs and "
             "provenance). Do not edit by hand.", ""]
    wall = wall_time(results)
    for item in verdict["verdicts"]:
        model, shape = item["model"], item["shape"]
        shape_dir = results / model / shape
        bench = json.loads((shape_dir / "benchmark.json").read_text()) if (shape_dir / "benchmark.json").is_file() else {}
        prov = shape_dir / "provenance-benchmark.json"
        commit = json.loads(prov.read_text()).get("workflow_commit") if prov.is_file() else None
        sysinfo = bench.get("system") or {}
        flags = sysinfo.get("cpu_flags") or {}
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(bench["started_at"])) if bench.get("started_at") else "?"
        lines += [f"## {model} @ {shape}", "",
                  f"- Run: {when}, workflow commit `{commit}`" + (
                      f"; the whole workflow took {int(wall[0] // 60)} min {int(wall[0] % 60)} s of wall time "
                      f"(first job start to last job end, {wall[1]} jobs)" if wall else ""),
                  f"- Machine: {sysinfo.get('cpu_model')}, {sysinfo.get('logical_cores')} logical cores; "
                  + ", ".join(f"{k} {'yes' if flags.get(k) else 'no'}" for k in ISA if k in flags)
                  + f"; OpenVINO capabilities {', '.join(sysinfo.get('openvino_cpu_capabilities') or [])}; "
                  f"OpenVINO {(sysinfo.get('versions') or {}).get('openvino')}, node {bench.get('node')}",
                  f"- Benchmark: {bench.get('threads')} threads, {(bench.get('settings') or {}).get('rounds')} interleaved "
                  f"rounds x {(bench.get('settings') or {}).get('seconds_per_round')} s per variant"
                  f" in {len(bench.get('processes') or []) or 1} process(es); load average "
                  f"(1, 5, 15 min) when it started: {sysinfo.get('load_average')}",
                  "", "| variant | mAP50-95 [95% CI] | drop vs true f32 [95% CI] | p50 ms | speed-up [CI] | FPS | MiB | "
                      "IR / ran in |", "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if (r["model"], r["shape"]) != (model, shape):
                continue
            lines.append(
                f"| {r['variant']} | {_fmt_ci(r['mAP50_95'], r['mAP50_95_ci_low'], r['mAP50_95_ci_high'])} | "
                f"{_fmt_ci(r['mAP50_95_drop'], r['mAP50_95_drop_ci_low'], r['mAP50_95_drop_ci_high'])} | "
                f"{_fmt_ci(r['latency_p50_ms'], None, None, 1)} | "
                f"{_fmt_ci(r['speedup_vs_fp32'], r['speedup_ci_low'], r['speedup_ci_high'], 2, 'x')} | "
                f"{_fmt_ci(r['fps'], None, None, 0)} | {_fmt_ci(r['file_size_mb'], None, None, 1)} | "
                f"{r['ir_precision']} / {r['inference_precision']} |")
        v = item.get("verdict") or {}
        lines += ["", "Verdict:", ""] + [f"- {ln.strip()}" for ln in (v.get("text") or "").splitlines() if ln.strip()]
        if item.get("not_measured"):
            lines += [f"- {name}: {why}" for name, why in item["not_measured"].items()]
        if item.get("ship"):
            lines += ["", f"Ship: `{item['ship']['bundle']}`: `{item['ship']['command']}`"]
        if item.get("pipeline"):
            lines += ["", item["pipeline"] + "."]
        if item.get("batch"):
            lines += ["", item["batch"] + "."]
        if item.get("square"):
            lines += ["", item["square"] + "."]
        per_class = per_class_blocks(item)
        if per_class:
            lines += ["", to_markdown(per_class).rstrip()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    print(page(args[0] if args else "results"), end="")
    return 0
