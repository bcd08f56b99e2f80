"""Summary table and comparison plots from the per-variant metrics.json / benchmark.json files."""
from __future__ import annotations

import json
from pathlib import Path

from ovyolo import variants

BASELINE = variants.BASELINE  # true f32 (INFERENCE_PRECISION_HINT=f32): the baseline for drops and speed-ups
COLUMNS = [
    "model", "shape", "h", "w", "variant", "mAP50", "mAP50_95", "mAP50_95_drop", "mean_abs_diff_vs_fp32",
    "latency_p50_ms", "latency_p99_ms", "fps", "speedup_vs_fp32", "file_size_mb", "inference_precision", "threads",
]
_rank = variants.rank  # the order variants appear in tables and plots


def rows(pairs: list[tuple[str | Path, str | Path]]) -> list[dict]:
    """One row per (metrics.json, benchmark.json) pair of a model x shape x variant."""
    out = []
    for mpath, bpath in pairs:
        m = json.loads(Path(mpath).read_text())
        b = json.loads(Path(bpath).read_text())
        h, w = (int(v) for v in m["hw"])
        out.append({
            "model": m["model"], "shape": f"{h}x{w}", "h": h, "w": w, "variant": m["variant"],
            "mAP50": m["mAP50"], "mAP50_95": m["mAP50_95"],
            "mean_abs_diff_vs_fp32": (m.get("agreement") or {}).get("mean_abs_diff"),
            "latency_p50_ms": b["latency"]["p50_ms"], "latency_p99_ms": b["latency"]["p99_ms"],
            "fps": b["throughput"]["fps"], "file_size_mb": b["file_size_bytes"] / 2**20,
            "inference_precision": b["inference_precision"], "threads": b["threads"],
        })
    ref = {(r["model"], r["shape"]): r for r in out if r["variant"] == BASELINE}
    for r in out:
        base = ref.get((r["model"], r["shape"]))
        r["mAP50_95_drop"] = base["mAP50_95"] - r["mAP50_95"] if base else None
        r["speedup_vs_fp32"] = base["latency_p50_ms"] / r["latency_p50_ms"] if base and r["latency_p50_ms"] else None
    out.sort(key=lambda r: (r["model"], r["h"] * r["w"], r["shape"], _rank(r["variant"])))
    return [{k: r.get(k) for k in COLUMNS} for r in out]


def write_csv(table: list[dict], path: str | Path) -> None:
    import csv

    from ovyolo.atomic import atomic_file

    with atomic_file(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for r in table:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


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


def _figure(n: int, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(6.4 * n, 4.8), squeeze=False)
    fig.suptitle(title)
    return fig, axes[0]


def _save(fig, path):
    from ovyolo.atomic import atomic_file

    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)


def plot_all(table: list[dict], out_dir: str | Path) -> dict[str, Path]:
    """Write latency_vs_map.png, speedup.png, size.png and map.png; one panel per model x shape."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = _groups(table)
    paths = {}

    fig, axes = _figure(len(groups), "Latency vs accuracy (batch 1, p50); dashed: Pareto front")
    for ax, ((model, shape), rs) in zip(axes, groups):
        pts = [(r["latency_p50_ms"], r["mAP50_95"]) for r in rs]
        markers = "os^vDP*X"
        for i, (r, (x, y)) in enumerate(zip(rs, pts)):
            # a legend, not annotations: variants with equal numbers (fp32/fp16/onnxruntime) would overlap
            ax.scatter(x, y, s=50, marker=markers[i % len(markers)], label=r["variant"])
        front = pareto(pts)
        ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="grey", label="Pareto front")
        ax.legend(fontsize=8, loc="best")
        ax.set(title=f"{model} @ {shape} (h x w)", xlabel="latency p50 [ms]", ylabel="mAP50-95 (val)")
        ax.grid(alpha=0.3)
    paths["latency_vs_map"] = out_dir / "latency_vs_map.png"
    _save(fig, paths["latency_vs_map"])

    for key, col, ylabel, title in (
        ("speedup", "speedup_vs_fp32", "speed-up vs openvino-fp32 (f32), p50", "Speed-up over true-f32 OpenVINO"),
        ("size", "file_size_mb", "model file size [MiB]", "Model size on disk"),
    ):
        fig, axes = _figure(len(groups), title)
        for ax, ((model, shape), rs) in zip(axes, groups):
            vals = [r[col] or 0 for r in rs]
            bars = ax.bar([r["variant"] for r in rs], vals, color="tab:blue")
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
            if key == "speedup":
                ax.axhline(1.0, color="grey", lw=0.8)
            ax.set(title=f"{model} @ {shape} (h x w)", ylabel=ylabel)
            ax.tick_params(axis="x", rotation=30)
        paths[key] = out_dir / f"{key}.png"
        _save(fig, paths[key])

    fig, axes = _figure(len(groups), "Accuracy per variant (val split, letterboxed to the deploy shape)")
    for ax, ((model, shape), rs) in zip(axes, groups):
        import numpy as np

        x = np.arange(len(rs))
        ax.bar(x - 0.2, [r["mAP50"] for r in rs], 0.4, label="mAP50")
        ax.bar(x + 0.2, [r["mAP50_95"] for r in rs], 0.4, label="mAP50-95")
        ax.set_xticks(x, [r["variant"] for r in rs], rotation=30)
        ax.set(title=f"{model} @ {shape} (h x w)", ylabel="mAP", ylim=(0, 1))
        ax.legend()
    paths["map"] = out_dir / "map.png"
    _save(fig, paths["map"])
    return paths
