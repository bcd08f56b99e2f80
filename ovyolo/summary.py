"""Summary table, verdict and comparison plots from the per-variant metrics/matches and the per-shape benchmark.

Accuracy: each variant's mAP50-95 drop against true f32 with a paired bootstrap CI (:func:`ovyolo.stats.paired_bootstrap`,
the same resample of val images for both). Speed: speed-ups over true f32 from the shape's interleaved benchmark
(medians of per-round ratios with a distribution-free CI, :mod:`ovyolo.interleave`). The verdict
(:func:`ovyolo.stats.verdict`) picks, per model and shape, the fastest variant within ``evaluation.max_drop``.
"""
from __future__ import annotations

import json
from pathlib import Path

from ovyolo import variants

BASELINE = variants.BASELINE  # true f32 (INFERENCE_PRECISION_HINT=f32): the baseline for drops and speed-ups
COLUMNS = [
    "model", "shape", "h", "w", "variant", "label", "verdict",
    "mAP50", "mAP50_95", "mAP50_95_ci_low", "mAP50_95_ci_high",
    "mAP50_95_drop", "mAP50_95_drop_ci_low", "mAP50_95_drop_ci_high",
    "mean_abs_diff_vs_fp32", "agreement_images",
    "latency_p50_ms", "latency_p99_ms", "speedup_vs_fp32", "speedup_ci_low", "speedup_ci_high", "speedup_ci_coverage",
    "fps", "throughput_speedup_vs_fp32", "throughput_streams", "throughput_requests",
    "file_size_mb", "ir_precision", "inference_precision", "threads", "rounds", "val_images", "skipped_val_images",
    "calibration_images", "shape_reason", "warnings", "provenance",
]
_rank = variants.rank  # the order variants appear in tables and plots


def _load(path) -> dict:
    return json.loads(Path(path).read_text())


def _hw_key(path: str) -> tuple[str, str]:
    """(model, "HxW") of a path results/{model}/{h}x{w}/..."""
    parts = Path(path).parts
    i = next(i for i in range(len(parts) - 1, 0, -1) if "x" in parts[i] and parts[i].replace("x", "").isdigit())
    return parts[i - 1], parts[i]


def _ir_precision(name: str) -> str:
    v = variants.get(name) if name in variants.names() else None
    if v is None or not v.is_openvino:
        return "fp32"
    return {"fp32": "fp32", "fp16": "fp16"}.get(v.ir, "int8")


MEANINGFUL_MAP = 0.05  # below this true-f32 mAP50-95 a shape's accuracy comparison carries no information


def build(metrics: list, matches: list, benchmarks: list, shapes: list, calibrations: list, *, max_drop: float,
          n_boot: int = 1000, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """The summary rows and one verdict per model x shape. Paths are grouped by their results/{model}/{h}x{w}."""
    from ovyolo import stats

    shape_of = {}
    for p in shapes:
        rec = _load(p)
        for s in rec["shapes"]:
            shape_of[(rec["model"], f"{s['h']}x{s['w']}")] = s["reason"]
    bench = {_hw_key(p): _load(p) for p in benchmarks}
    calib = {_hw_key(p): _load(p) for p in calibrations}
    groups: dict[tuple[str, str], dict[str, tuple[dict, str]]] = {}
    for mp, xp in zip(metrics, matches):
        m = _load(mp)
        groups.setdefault(_hw_key(mp), {})[m["variant"]] = (m, xp, mp)

    table, verdicts = [], []
    for key in sorted(groups, key=lambda k: (k[0], int(k[1].split("x")[0]) * int(k[1].split("x")[1]), k[1])):
        model, shape = key
        h, w = (int(v) for v in shape.split("x"))
        members = groups[key]
        b = bench.get(key, {})
        cal = calib.get(key, {})
        lat_ratios = ((b.get("ratios") or {}).get("latency") or {}).get("speedup_over_baseline", {})
        thr_ratios = ((b.get("ratios") or {}).get("throughput") or {}).get("speedup_over_baseline", {})
        base_matches = stats.load_matches(members[BASELINE][1]) if BASELINE in members else None
        shared_warnings = list(cal.get("warnings") or [])
        base_map = members[BASELINE][0].get("mAP50_95") if BASELINE in members else None
        if base_map is not None and base_map < MEANINGFUL_MAP:
            shared_warnings.append(
                f"true f32 scores mAP50-95 {base_map:.3f} at {shape}: the model finds (almost) none of the val objects "
                f"at this shape, so the mAP drops and the verdict's accuracy side mean nothing here; judge accuracy at "
                "a shape the model was trained for")
        rows, verdict_rows = [], []
        for name in sorted(members, key=_rank):
            m, xpath, mpath = members[name]
            mine = stats.load_matches(xpath)
            boot = stats.paired_bootstrap(base_matches, mine, n=n_boot, seed=seed) if base_matches is not None else None
            bv = (b.get("variants") or {}).get(name, {})
            lat = bv.get("latency") or {}
            if name == BASELINE:
                speed = {"median": 1.0, "ci_low": 1.0, "ci_high": 1.0, "coverage": None}
            else:
                speed = lat_ratios.get(name) or {}
            thr = bv.get("throughput") or {}
            warnings = list(shared_warnings)
            if m.get("skipped"):
                warnings.append(f"{m['skipped']} unreadable val image(s) skipped")
            agreement = m.get("agreement") or {}
            spec = variants.get(name) if name in variants.names() else None
            row = {
                "model": model, "shape": shape, "h": h, "w": w, "variant": name, "label": spec.label if spec else name,
                "mAP50": m["mAP50"], "mAP50_95": m["mAP50_95"],
                "mAP50_95_ci_low": boot["var"]["mAP50_95_ci"][0] if boot else None,
                "mAP50_95_ci_high": boot["var"]["mAP50_95_ci"][1] if boot else None,
                "mAP50_95_drop": boot["drop"]["mAP50_95"] if boot else None,
                "mAP50_95_drop_ci_low": boot["drop"]["mAP50_95_ci"][0] if boot else None,
                "mAP50_95_drop_ci_high": boot["drop"]["mAP50_95_ci"][1] if boot else None,
                "mean_abs_diff_vs_fp32": agreement.get("mean_abs_diff"),
                "agreement_images": agreement.get("images"),
                "latency_p50_ms": lat.get("p50_ms"), "latency_p99_ms": lat.get("p99_ms"),
                "speedup_vs_fp32": speed.get("median"), "speedup_ci_low": speed.get("ci_low"),
                "speedup_ci_high": speed.get("ci_high"), "speedup_ci_coverage": speed.get("coverage"),
                "fps": thr.get("fps"),
                "throughput_speedup_vs_fp32": 1.0 if name == BASELINE else (thr_ratios.get(name) or {}).get("median"),
                "throughput_streams": thr.get("streams"), "throughput_requests": thr.get("requests"),
                "file_size_mb": bv["file_size_bytes"] / 2**20 if bv.get("file_size_bytes") else None,
                "ir_precision": _ir_precision(name),
                "inference_precision": bv.get("inference_precision", m.get("inference_precision")),
                "threads": b.get("threads"), "rounds": (b.get("latency_run") or {}).get("rounds"),
                "val_images": m.get("images"), "skipped_val_images": m.get("skipped", 0),
                "calibration_images": cal.get("count"), "shape_reason": shape_of.get(key),
                "warnings": "; ".join(warnings),
                # the validate job's provenance: sha256 of the model files it ran, which have their own beside them
                "provenance": str(Path(mpath).parent / "provenance.json"),
                "round_medians_ms": lat.get("round_medians_ms"),
            }
            rows.append(row)
            if boot is not None and speed.get("median") is not None:
                verdict_rows.append({
                    "variant": name, "label": row["label"],
                    "speedup": {"ratio": speed["median"], "ci": [speed["ci_low"], speed["ci_high"]]},
                    "drop": {"mAP50_95": boot["drop"]["mAP50_95"], "ci": boot["drop"]["mAP50_95_ci"]},
                })
        v = stats.verdict(verdict_rows, max_drop=max_drop, baseline=BASELINE) if verdict_rows else None
        throughput = [throughput_line(r) for r in rows if r["variant"] in (BASELINE, variants.OURS_INT8)]
        for row in rows:
            row["verdict"] = None if v is None else ("winner" if row["variant"] == v["winner"] else "lost")
        verdicts.append({"model": model, "shape": shape, "shape_reason": shape_of.get(key), "warnings": shared_warnings,
                         "throughput": [t for t in throughput if t],
                         "calibration_images": cal.get("count"), "val_images": rows[0]["val_images"] if rows else None,
                         "verdict": v})
        table += rows
    return table, verdicts


THROUGHPUT_GAIN = 1.2  # what async throughput should add over latency mode to be worth its extra latency


def throughput_line(row: dict) -> str | None:
    """Async throughput against latency-mode FPS (1000 / p50) of one row, with the streams and requests used, and
    why the gain is small when it is under :data:`THROUGHPUT_GAIN`."""
    if not row.get("fps") or not row.get("latency_p50_ms"):
        return None
    sync_fps = 1000.0 / row["latency_p50_ms"]
    gain = row["fps"] / sync_fps
    streams, threads = row.get("throughput_streams"), row.get("threads")
    line = (f"{row['variant']}: {row['fps']:.1f} FPS async ({streams} streams, "
            f"{row.get('throughput_requests')} requests) = {gain:.2f}x its latency-mode "
            f"{sync_fps:.1f} FPS (batch 1, {threads} threads)")
    if gain < THROUGHPUT_GAIN:
        line += (f"; under {THROUGHPUT_GAIN}x because latency mode already runs each inference on all {threads} "
                 f"threads and the convolutions (most of the time, see the profile) use them fully: {streams} "
                 "parallel streams can only overlap the parts that do not (Concat, Reorder, the head), so on "
                 f"{threads} cores async mode gains little or nothing; it pays with more cores than one inference "
                 "can use")
    return line


def write_csv(table: list[dict], path: str | Path) -> None:
    import csv

    from ovyolo.atomic import atomic_file

    with atomic_file(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in table:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items() if k in COLUMNS})


def verdict_text(verdicts: list[dict], max_drop: float, profile_lines: list[str] | None = None,
                 left_out: dict[str, str] | None = None) -> str:
    """The verdict as Markdown: one section per model x shape; ``left_out``: requested variants not measured here,
    with why (:func:`ovyolo.variants.without_unsupported_bf16`)."""
    lines = ["# Verdict", "",
             f"Fastest variant whose mAP50-95 drop against true f32 stays within {max_drop:g} (upper end of its "
             "95% paired-bootstrap CI); speed-ups are medians of interleaved per-round ratios with their CI. A CI "
             "that contains 1.0 (speed) or 0 (accuracy) is no measurable difference.", ""]
    for item in verdicts:
        lines.append(f"## {item['model']} @ {item['shape']}")
        lines.append("")
        if item.get("shape_reason"):
            lines.append(f"Shape: {item['shape_reason']}.")
        lines.append(f"Val images: {item.get('val_images')}; calibration images: {item.get('calibration_images')}.")
        for w in item.get("warnings") or []:
            lines.append(f"WARNING: {w}")
        for t in item.get("throughput") or []:
            lines.append(f"Throughput: {t}.")
        lines.append("")
        v = item["verdict"]
        lines += ([f"- {ln.strip()}" for ln in v["text"].splitlines() if ln.strip()] if v
                  else ["- no verdict (baseline not measured)"])
        lines.append("")
    if left_out:
        lines += ["## Requested but not measured on this machine", ""]
        lines += [f"- {name}: {why}" for name, why in left_out.items()] + [""]
    if profile_lines:
        lines += ["## Where the time goes (OpenVINO per-op counters, results/{model}/{h}x{w}/profile.json)", ""]
        lines += [f"- {ln}" for ln in profile_lines] + [""]
    return "\n".join(lines).rstrip() + "\n"


def write_verdict(verdicts: list[dict], max_drop: float, md: str | Path, js: str | Path, rst: str | Path,
                  profile_lines: list[str] | None = None, left_out: dict[str, str] | None = None) -> None:
    from ovyolo.atomic import atomic_file, write_json

    text = verdict_text(verdicts, max_drop, profile_lines, left_out)
    with atomic_file(md) as tmp:
        tmp.write_text(text)
    write_json(js, {"max_drop": max_drop, "verdicts": verdicts, "not_measured": dict(left_out or {})})
    body = ["Verdict", "=======", "", "This is the first thing to read: for each model and deploy shape, the fastest",
            "variant that keeps the accuracy budget, with confidence intervals. Details below in the Summary table",
            "and the comparison plots. Every row of summary.csv names, in its ``provenance`` column, the",
            "provenance.json of its measurement (sha256 of every input, the rule's parameters, package versions, CPU,",
            "threads, the workflow's git commit, the time); each artifact folder has its own.", "", "::", ""]
    body += ["    " + ln for ln in text.splitlines()]
    with atomic_file(rst) as tmp:
        tmp.write_text("\n".join(body) + "\n")


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points not dominated by another (lower latency and higher accuracy is better)."""
    keep = []
    for i, (lat, acc) in enumerate(points):
        dominated = any((l2 <= lat and a2 >= acc) and (l2 < lat or a2 > acc) for j, (l2, a2) in enumerate(points) if j != i)
        if not dominated:
            keep.append(i)
    return sorted(keep, key=lambda i: points[i][0])


def _groups(table):
    keys = list(dict.fromkeys((r["model"], r["shape"]) for r in table))
    return [(k, [r for r in table if (r["model"], r["shape"]) == k]) for k in keys]


COLS = 2  # panels per row: many models x shapes wrap into rows instead of one endless strip


def _figure(n: int, title: str, width: float = 6.4, height: float = 4.8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(COLS, max(1, n))
    rows = (max(1, n) + cols - 1) // cols
    import textwrap

    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    fig.suptitle(textwrap.fill(title, width=int(9 * width * cols)))  # ~9 title characters per inch: never cut off
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _save(fig, path):
    from ovyolo.atomic import atomic_file

    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)


def _err(value, low, high):
    """Asymmetric error bar lengths (0 where a bound is unknown)."""
    if value is None:
        return [0.0, 0.0]
    return [max(0.0, value - low) if low is not None else 0.0, max(0.0, high - value) if high is not None else 0.0]


def _latency_ci(row) -> tuple[float | None, float | None]:
    from ovyolo.interleave import median_ci

    rm = row.get("round_medians_ms")
    if not rm:
        return None, None
    ci = median_ci(rm)
    return ci["low"], ci["high"]


def plot_all(table: list[dict], out_dir: str | Path) -> dict[str, Path]:
    """latency_vs_map.png, speedup.png, rounds.png, size.png, map.png: one panel per model x shape, two per row."""
    import numpy as np

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = _groups(table)
    paths = {}
    title = lambda model, shape: f"{model} @ {shape} (h x w)"  # noqa: E731

    fig, axes = _figure(len(groups), "Latency vs accuracy: p50 with the CI of its round medians; mAP50-95 with its bootstrap CI")
    markers = "osD^vP*Xh<>"
    for ax, ((model, shape), rs) in zip(axes, groups):
        pts = []
        for i, r in enumerate(rs):
            x, y = r["latency_p50_ms"], r["mAP50_95"]
            if x is None:
                continue
            lo, hi = _latency_ci(r)
            # one marker and colour per variant, named in the legend: labels on the points would overlap where
            # variants tie (fp32, fp16 and onnxruntime score alike)
            ax.errorbar(x, y, xerr=np.array(_err(x, lo, hi))[:, None],
                        yerr=np.array(_err(y, r["mAP50_95_ci_low"], r["mAP50_95_ci_high"]))[:, None],
                        fmt=markers[i % len(markers)], capsize=3, ms=6, label=r["variant"])
            pts.append((x, y))
        front = pareto(pts)
        if len(front) >= 2:
            ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="grey", label="Pareto front")
        ax.set_xscale("log")  # torch can be 10x slower than INT8: a linear axis would squash the rest
        ax.legend(fontsize=7, loc="best")
        ax.set(title=title(model, shape), xlabel="latency p50 [ms], log scale (lower is better)", ylabel="mAP50-95 (val)")
        ax.grid(alpha=0.3, which="both")
    paths["latency_vs_map"] = out_dir / "latency_vs_map.png"
    _save(fig, paths["latency_vs_map"])

    fig, axes = _figure(len(groups), "Speed-up over true-f32 OpenVINO: median of per-round ratios, whiskers = CI")
    for ax, ((model, shape), rs) in zip(axes, groups):
        rs = [r for r in rs if r["speedup_vs_fp32"] is not None]
        x = np.arange(len(rs))
        vals = [r["speedup_vs_fp32"] for r in rs]
        err = np.array([_err(r["speedup_vs_fp32"], r["speedup_ci_low"], r["speedup_ci_high"]) for r in rs]).T.reshape(2, -1)
        ax.bar(x, vals, yerr=err, capsize=4, color="tab:blue")
        for xi, r in zip(x, rs):  # the value just above its whisker
            top = r["speedup_ci_high"] if r["speedup_ci_high"] is not None else r["speedup_vs_fp32"]
            ax.text(xi, top, f"{r['speedup_vs_fp32']:.2f}x", ha="center", va="bottom", fontsize=8)
        ax.margins(y=0.12)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xticks(x, [r["variant"] for r in rs], rotation=30, ha="right")
        ax.set(title=title(model, shape), ylabel="speed-up vs openvino-fp32 (f32)")
    paths["speedup"] = out_dir / "speedup.png"
    _save(fig, paths["speedup"])

    fig, axes = _figure(len(groups), "Latency round by round (each point: one round's median, interleaved)")
    for ax, ((model, shape), rs) in zip(axes, groups):
        rs = [r for r in rs if r.get("round_medians_ms")]
        data = [r["round_medians_ms"] for r in rs]
        if data:
            ax.boxplot(data, showfliers=False)
            for i, d in enumerate(data, start=1):
                ax.scatter(np.full(len(d), i) + np.linspace(-0.12, 0.12, len(d)), d, s=10, color="tab:orange", zorder=3)
            ax.set_xticks(np.arange(1, len(rs) + 1), [r["variant"] for r in rs], rotation=30, ha="right")
        ax.set_yscale("log")  # variants differ by 10x and more; the spread within each is what matters
        ax.set(title=title(model, shape), ylabel="round median latency [ms], log scale")
        ax.grid(alpha=0.3, axis="y", which="both")
    paths["rounds"] = out_dir / "rounds.png"
    _save(fig, paths["rounds"])

    fig, axes = _figure(len(groups), "Model size on disk")
    for ax, ((model, shape), rs) in zip(axes, groups):
        bars = ax.bar([r["variant"] for r in rs], [r["file_size_mb"] or 0 for r in rs], color="tab:blue")
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set(title=title(model, shape), ylabel="model file size [MiB]")
        ax.tick_params(axis="x", rotation=30)
    paths["size"] = out_dir / "size.png"
    _save(fig, paths["size"])

    fig, axes = _figure(len(groups), "Accuracy per variant (val split at the deploy shape); whiskers = bootstrap CI of mAP50-95")
    for ax, ((model, shape), rs) in zip(axes, groups):
        x = np.arange(len(rs))
        ax.bar(x - 0.2, [r["mAP50"] for r in rs], 0.4, label="mAP50", color="tab:green")
        err = np.array([_err(r["mAP50_95"], r["mAP50_95_ci_low"], r["mAP50_95_ci_high"]) for r in rs]).T.reshape(2, -1)
        ax.bar(x + 0.2, [r["mAP50_95"] for r in rs], 0.4, yerr=err, capsize=3, label="mAP50-95", color="tab:blue")
        ax.set_xticks(x, [r["variant"] for r in rs], rotation=30, ha="right")
        ax.set(title=title(model, shape), ylabel="mAP", ylim=(0, 1.25), yticks=np.linspace(0, 1, 6))
        ax.legend(loc="upper center", ncol=2, fontsize=8)  # above the bars: the axis reaches 1.25
    paths["map"] = out_dir / "map.png"
    _save(fig, paths["map"])
    return paths


# --------------------------------------------------------------------------------------------------
# where the time goes (results/{model}/{h}x{w}/profile.json from the profile rule, ovyolo.profile): summarize draws
# plots/profile.png and adds these lines to the verdict


def profile_lines(profile_paths: list) -> list[str]:
    """One verdict line per model x shape x OpenVINO variant: its total counter time and largest categories."""
    from ovyolo.profile import LABELS

    lines = []
    for p in profile_paths:
        prof = _load(p)
        model, shape = prof.get("model") or _hw_key(str(p))[0], f"{prof['hw'][0]}x{prof['hw'][1]}"
        for name in sorted(prof["variants"], key=_rank):
            v = prof["variants"][name]
            cats = sorted(((c, d) for c, d in v["categories"].items() if d["share"] >= 0.03), key=lambda cd: -cd[1]["ms"])
            parts = ", ".join(f"{LABELS.get(c, c)} {100 * d['share']:.0f}%" for c, d in cats)
            lines.append(f"{model} @ {shape} {name} ({v['inference_precision']}): {v['total_ms']:.1f} ms of "
                         f"counters per inference; {parts}")
        lines += layer_lines(prof, f"{model} @ {shape}")
    return lines


def _layer(r: dict) -> str:
    return f"{r['layer']} {r['speedup']:.2f}x"


def layer_lines(prof: dict, where: str) -> list[str]:
    """Convolution-by-convolution lines of one profile (:func:`ovyolo.profile.compare_layers`): each INT8 IR
    against true f32 (which layers gain least, which would be better kept float) and ours against Ultralytics'."""
    from ovyolo.profile import compare_layers

    lines = []
    for a, b in (("openvino-int8", "openvino-fp32"), ("openvino-int8-ac", "openvino-fp32"),
                 ("ultralytics-int8", "openvino-fp32")):
        c = compare_layers(prof, a, b)
        if c is None:
            continue
        keep = ("; no faster in int8 in this profile (candidates to keep float; per-layer counters are noisy, so "
                "confirm with an interleaved benchmark): " + ", ".join(_layer(r) for r in c["not_faster"][:5])
                if c["not_faster"] else "; every layer that runs an int8 kernel is faster than its float kernel")
        lines.append(f"{where} {a} vs {b}, convolution by convolution ({c['layers']} layers): {c['ms']:.1f} vs "
                     f"{c['other_ms']:.1f} ms ({c['speedup']:.2f}x); least gain "
                     + ", ".join(_layer(r) for r in c["least"]) + keep)
    c = compare_layers(prof, "openvino-int8", "ultralytics-int8")
    if c is not None:
        lines.append(f"{where} openvino-int8 vs ultralytics-int8, convolution by convolution ({c['layers']} layers, "
                     f"{c['same_kernels']} on the same kernel): {c['ms']:.1f} vs {c['other_ms']:.1f} ms "
                     f"({c['speedup']:.3f}x); largest single-layer difference {c['largest_difference_ms']:.2f} ms (counters show "
                     f"where the time goes; which is faster, the interleaved benchmark decides)")
    return lines


def plot_profiles(profile_paths: list, path) -> Path:
    """plots/profile.png: one panel per model x shape, stacked bars per OpenVINO variant (ms by op category)."""
    import numpy as np

    from ovyolo.profile import LABELS

    profs = [_load(p) for p in profile_paths]
    fig, axes = _figure(len(profs), "Where the time goes: OpenVINO per-op counters by category (labels: share)")
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("tab10")
    for ax, prof in zip(axes, profs):
        names = sorted(prof["variants"], key=_rank)
        cats = prof["categories"]
        bottom = np.zeros(len(names))
        for i, c in enumerate(cats):
            vals = np.array([prof["variants"][n]["categories"][c]["ms"] for n in names])
            if not vals.any():
                continue
            ax.bar(names, vals, bottom=bottom, label=LABELS.get(c, c), color=colors(i % 10))
            for x, n in enumerate(names):
                share = prof["variants"][n]["categories"][c]["share"]
                if share >= 0.08:
                    ax.text(x, bottom[x] + vals[x] / 2, f"{100 * share:.0f}%", ha="center", va="center", fontsize=7)
            bottom += vals
        ax.set(title=f"{prof.get('model', '')} @ {prof['hw'][0]}x{prof['hw'][1]} (h x w)",
               ylabel="ms per inference (sum of counters)")
        ax.tick_params(axis="x", rotation=30)
        # room above the tallest bar for the legend (3 columns), so that it never hides a bar
        ax.set_ylim(0, max(float(bottom.max()), 1e-6) * 1.45)
        ax.legend(fontsize=6, loc="upper center", ncol=3)
    path = Path(path)
    _save(fig, path)
    return path
