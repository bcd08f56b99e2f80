"""The comparison plots of the summary (results/plots/*.png): one panel per model x shape, two per row."""
from __future__ import annotations

import json
from pathlib import Path

from ovyolo import variants
from ovyolo.measure.ci import median_ci
from ovyolo.measure.profile import LABELS


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


def _label_points(ax, pts: list[tuple[float, float]], names: list[str], min_gap: float = 11.0) -> None:
    """Name every point with a label to its right, joined by a thin line; labels that would overlap (points at
    nearly the same place) are pushed apart vertically, at least ``min_gap`` points, so none hides another."""
    if not pts:
        return
    fig = ax.figure
    fig.canvas.draw()  # transforms are final only after the limits are
    to_px = ax.transData.transform
    px = [to_px(p) for p in pts]
    per_pt = fig.dpi / 72.0
    order = sorted(range(len(pts)), key=lambda i: px[i][1])
    placed: list[tuple[float, float]] = []  # (x, y) of placed labels, display pixels
    ys = {}
    for i in order:
        x, y = px[i][0] + 14 * per_pt, px[i][1]
        for px_, py_ in placed:
            if abs(px_ - x) < 90 * per_pt and y - py_ < min_gap * per_pt:
                y = py_ + min_gap * per_pt
        placed.append((x, y))
        ys[i] = y
    for i, name in enumerate(names):
        dy = (ys[i] - px[i][1]) / per_pt
        ax.annotate(name, pts[i], xytext=(14, dy), textcoords="offset points", fontsize=6.5, va="center",
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey"}, zorder=10,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})


def _plain_log_ticks(axis) -> None:
    """Tick labels of a log axis as plain numbers (3, 5, 10) instead of 3x10^0."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(fmt)


def _latency_ci(row) -> tuple[float | None, float | None]:
    rm = row.get("round_medians_ms")
    if not rm:
        return None, None
    ci = median_ci(rm)
    return ci["low"], ci["high"]


def plot_all(table: list[dict], out_dir: str | Path, max_drop: float) -> dict[str, Path]:
    """latency_vs_map.png, drop.png, speedup.png, rounds.png, size.png, map.png: one panel per model x shape, two
    per row. ``max_drop``: the accuracy budget drawn on drop.png."""
    import numpy as np

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = _groups(table)
    paths = {}
    title = lambda model, shape: f"{model} @ {shape} (h x w)"  # noqa: E731

    fig, axes = _figure(len(groups), "Latency vs accuracy: p50 with the CI of its round medians; mAP50-95 with its bootstrap CI")
    markers = "osD^vP*Xh<>"
    for ax, ((model, shape), rs) in zip(axes, groups):
        pts, names = [], []
        drawn = [r for r in rs if r["latency_p50_ms"] is not None]
        for i, r in enumerate(drawn):
            x, y = r["latency_p50_ms"], r["mAP50_95"]
            lo, hi = _latency_ci(r)
            # hollow markers, larger first: a marker at the same place as another stays visible around it
            ax.errorbar(x, y, xerr=np.array(_err(x, lo, hi))[:, None],
                        yerr=np.array(_err(y, r["mAP50_95_ci_low"], r["mAP50_95_ci_high"]))[:, None],
                        fmt=markers[i % len(markers)], capsize=3, ms=13 - 6 * i / max(1, len(drawn) - 1),
                        mfc="none", mew=1.6, elinewidth=0.8, alpha=0.9, zorder=2 + i)
            pts.append((x, y))
            names.append(r["variant"])
        front = pareto(pts)
        if len(front) >= 2:
            ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="grey", lw=1.2,
                    label="Pareto front", zorder=1)
        ax.set_xscale("log")  # torch can be 10x slower than INT8: a linear axis would squash the rest
        _label_points(ax, pts, names)
        _plain_log_ticks(ax.xaxis)
        if len(front) >= 2:  # the points are named on the plot; the legend holds only the line
            ax.legend(fontsize=7, loc="lower right")
        ax.set(title=title(model, shape), xlabel="latency p50 [ms], log scale (lower is better)", ylabel="mAP50-95 (val)")
        ax.grid(alpha=0.3, which="both")
    paths["latency_vs_map"] = out_dir / "latency_vs_map.png"
    _save(fig, paths["latency_vs_map"])

    fig, axes = _figure(len(groups), f"mAP50-95 drop against true f32, paired-bootstrap 95% CI, and the budget "
                                     f"(evaluation.max_drop = {max_drop:g})")
    for ax, ((model, shape), rs) in zip(axes, groups):
        rs = [r for r in rs if r["mAP50_95_drop"] is not None and r["variant"] != variants.BASELINE]
        y = np.arange(len(rs))[::-1]
        for yi, r in zip(y, rs):
            d, lo, hi = r["mAP50_95_drop"], r["mAP50_95_drop_ci_low"], r["mAP50_95_drop_ci_high"]
            within = hi is not None and hi <= max_drop
            ax.errorbar(d, yi, xerr=np.array(_err(d, lo, hi))[:, None], fmt="o", capsize=4,
                        color="tab:green" if within else "tab:red")
        ax.axvline(max_drop, color="tab:red", ls="--", lw=1, label=f"budget {max_drop:g}")
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.set_yticks(y, [f"{r['variant']}\n{r['mAP50_95_drop']:.3f}" + (
            f" [{r['mAP50_95_drop_ci_low']:.3f}, {r['mAP50_95_drop_ci_high']:.3f}]"
            if r["mAP50_95_drop_ci_low"] is not None else "") for r in rs], fontsize=8)
        ax.set_ylim(-0.7, len(rs) - 0.3)
        ax.margins(x=0.1)
        ax.legend(fontsize=7, loc="best")
        ax.set(title=title(model, shape), xlabel="mAP50-95 drop vs true f32 (green: CI within the budget; red: not)")
        ax.grid(alpha=0.3, axis="x")
    paths["drop"] = out_dir / "drop.png"
    _save(fig, paths["drop"])

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



def plot_profiles(profiles: list, path) -> Path:
    """Stacked bars per OpenVINO variant (ms per inference by op category), one panel per profile (a profile.json
    path or its dict): plots/profile.png of the summary and each shape's own profile.png."""
    import numpy as np

    profs = [p if isinstance(p, dict) else json.loads(Path(p).read_text()) for p in profiles]
    fig, axes = _figure(len(profs), "Where the time goes: OpenVINO per-op counters by category (labels: share)")
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("tab10")
    for ax, prof in zip(axes, profs):
        names = sorted(prof["variants"], key=variants.rank)
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


def plot_pipelines(results: list[dict], path) -> Path:
    """plots/pipeline.png: per model x shape, image files to detections in img/s per contender (median of the
    interleaved rounds, whiskers = its CI), from each shape's pipeline.json; a note when there is none."""
    import numpy as np


    fig, axes = _figure(max(1, len(results)), "Image files to detections, end to end (decoding included): img/s per "
                                              "round, median and CI")
    if not results:
        axes[0].set_visible(True)
        axes[0].axis("off")
        axes[0].text(0.5, 0.5, "no pipeline benchmark in this run (pipeline.enabled: false, or no INT8 and FP32 "
                               "bundles)", ha="center", va="center", wrap=True)
    for ax, p in zip(axes, results):
        names = list(p["contenders"])
        med = [p["contenders"][k]["img_per_s"]["median"] for k in names]
        err = np.array([_err(p["contenders"][k]["img_per_s"]["median"], p["contenders"][k]["img_per_s"]["low"],
                             p["contenders"][k]["img_per_s"]["high"]) for k in names]).T.reshape(2, -1)
        y = np.arange(len(names))[::-1]
        ours = [k.startswith("ours") for k in names]
        bars = ax.barh(y, med, xerr=err, capsize=4, color=["tab:blue" if o else "tab:grey" for o in ours])
        ax.bar_label(bars, fmt="%.0f", padding=14, fontsize=8)
        ax.set_yticks(y, [p["contenders"][k]["label"] for k in names], fontsize=8)
        ax.margins(x=0.2)
        ax.set(title=f"{p['model']} @ {p['hw'][0]}x{p['hw'][1]} (h x w), {p['images']} files, {p['threads']} threads",
               xlabel="images per second (higher is better)")
        ax.grid(alpha=0.3, axis="x")
    path = Path(path)
    _save(fig, path)
    return path


def plot_squares(results: list[dict], path) -> Path:
    """plots/square.png: per model x shape that is not square, two panels: the rectangular shape's speed-up over the
    square export (true f32 and our INT8, median per-round ratio with its CI) and its mAP50-95 difference (paired
    bootstrap CI); a note when there is none."""
    import numpy as np

    from ovyolo.measure.ci import fmt

    fig, axes = _figure(max(1, 2 * len(results)), "What the rectangular shape buys over the square export: "
                                                  "speed-up and mAP50-95 difference, with CIs")
    if not results:
        axes[0].set_visible(True)
        axes[0].axis("off")
        axes[0].text(0.5, 0.5, "no square comparison in this run (square.enabled: false, or every shape is square)",
                     ha="center", va="center", wrap=True)
    labels = {"fp32": "true f32", "int8": "our INT8"}
    for i, r in enumerate(results):
        ax_s, ax_a = axes[2 * i], axes[2 * i + 1]
        names = [p for p in labels if p in r["speedup"]]
        y = np.arange(len(names))[::-1]
        title = f"{r['model']}: {r['hw'][0]}x{r['hw'][1]} vs {r['square_hw'][0]}x{r['square_hw'][1]}"
        sp = [r["speedup"][p] for p in names]
        err = np.array([_err(x["median"], x["ci_low"], x["ci_high"]) for x in sp]).T.reshape(2, -1)
        bars = ax_s.barh(y, [x["median"] for x in sp], xerr=err, capsize=4, color="tab:blue")
        ax_s.bar_label(bars, fmt="%.2fx", padding=14, fontsize=8)
        ax_s.axvline(1.0, color="black", lw=1)
        ax_s.set_yticks(y, [labels[p] for p in names], fontsize=8)
        ax_s.margins(x=0.25)
        ax_s.set(title=f"{title}: speed-up ({r['rounds']} rounds)", xlabel="square latency / rectangular latency")
        ax_s.grid(alpha=0.3, axis="x")
        acc = [r["accuracy"][p] for p in names]
        diffs = [a["diff"] if a["diff"] is not None else 0.0 for a in acc]
        aerr = np.array([_err(a["diff"], *(a["ci"] or (None, None))) for a in acc]).T.reshape(2, -1)
        ax_a.errorbar(diffs, y, xerr=aerr, fmt="o", capsize=4, color="tab:green")
        for yy, d in zip(y, diffs):
            ax_a.annotate(fmt(d, '+.4f'), (d, yy), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
        ax_a.axvline(0.0, color="black", lw=1)
        ax_a.set_yticks(y, [labels[p] for p in names], fontsize=8)
        ax_a.set_ylim(-0.7, len(names) - 0.3)
        ax_a.set(title=f"{title}: mAP50-95 difference", xlabel="rectangular minus square (95% paired bootstrap)")
        ax_a.grid(alpha=0.3, axis="x")
    path = Path(path)
    _save(fig, path)
    return path
