"""The comparison plots: every variant named on latency_vs_map.png with no label over another, a legend entry only
for what is drawn, and the drop-vs-budget plot."""
import pytest

from ovyolo import variants
from ovyolo.report import plots

pytestmark = pytest.mark.unit


def _row(variant, p50, m, drop, dlo, dhi, speed=1.0):
    return {"model": "demo", "shape": "160x256", "variant": variant, "latency_p50_ms": p50, "mAP50_95": m,
            "mAP50_95_ci_low": m - 0.01, "mAP50_95_ci_high": m + 0.01, "mAP50": m + 0.05,
            "mAP50_95_drop": drop, "mAP50_95_drop_ci_low": dlo, "mAP50_95_drop_ci_high": dhi,
            "round_medians_ms": [p50 * f for f in (0.97, 0.99, 1.0, 1.01, 1.03, 1.0)],
            "speedup_vs_fp32": speed, "speedup_ci_low": speed * 0.95, "speedup_ci_high": speed * 1.05,
            "file_size_mb": 3.0}


# four variants at the same place (three INT8s that tie), two more apart: the case that hid markers before
ROWS = [_row("openvino-fp32", 5.6, 0.905, 0.0, 0.0, 0.0),
        _row("openvino-fp16", 5.6, 0.905, 0.0, 0.0, 0.0),
        _row("openvino-int8", 2.9, 0.883, 0.022, 0.016, 0.026, 1.9),
        _row("openvino-int8@bf16", 2.9, 0.883, 0.022, 0.016, 0.026, 1.9),
        _row("ultralytics-int8", 2.9, 0.883, 0.022, 0.016, 0.026, 1.9),
        _row("openvino-fp32@bf16", 3.2, 0.903, 0.002, 0.000, 0.004, 1.6)]


def test_every_point_is_named_and_no_label_covers_another(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: (figs.append(fig), path.write_bytes(b"\x89PNG")))
    paths = plots.plot_all(ROWS, tmp_path, max_drop=0.01)
    assert set(paths) == {"latency_vs_map", "drop", "speedup", "rounds", "size", "map"}
    ax = figs[0].axes[0]
    figs[0].canvas.draw()
    labels = [t for t in ax.texts]
    assert sorted(t.get_text() for t in labels) == sorted(r["variant"] for r in ROWS)
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t) for t in labels]  # the text itself, without the line to its point
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (labels[i].get_text(), labels[j].get_text())
    # the legend has only what is drawn as a line: the Pareto front
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Pareto front"]
    # drop.png: one row per non-baseline variant, green within the budget, red not, and the budget line
    drop_ax = figs[1].axes[0]
    ticks = [t.get_text().splitlines()[0] for t in drop_ax.get_yticklabels()]
    assert sorted(ticks) == sorted(r["variant"] for r in ROWS if r["variant"] != variants.BASELINE)
    assert any(abs(line.get_xdata()[0] - 0.01) < 1e-12 for line in drop_ax.get_lines())
    colors = {c.get_children()[0].get_color() for c in drop_ax.containers}
    assert colors == {"tab:green", "tab:red"}
    for f in figs:
        plt.close(f)
