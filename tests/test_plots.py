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


def _pipeline_result(ultralytics=True, ir=None):
    from ovyolo.measure.pipeline_bench import LABELS, ir_key, ir_label

    def c(key, median, lo, hi):
        return {"label": LABELS.get(key, key), "img_per_s": {"median": median, "low": lo, "high": hi},
                "core_ms_per_image": 2000 / median, "round_seconds": [32 / median] * 6}

    contenders = {"ours-int8": c("ours-int8", 181, 130, 208), "ours-fp32": c("ours-fp32", 88, 81, 128)}
    ir = ir or {(1, False): (150, None), (8, True): (275, (1.8, 1.5, 2.0))}
    speedups = {}
    for (b, streams), (median, sp) in ir.items():
        k = ir_key(b, streams)
        contenders[k] = {**c(k, median, median - 20, median + 20), "label": ir_label(b, streams), "batch": b,
                         "streams": streams}
        if sp:
            speedups[k] = {"ratio": sp[0], "ci": [sp[1], sp[2]]}
    if ultralytics:
        contenders.update({k: c(k, *v) for k, v in (("ultralytics-int8-folder", (121, 95, 147)),
                                                    ("ultralytics-int8-per-file", (75, 60, 80)))})
    return {"model": "demo", "hw": [160, 256], "images": 32, "rounds": 6, "threads": 2, "contenders": contenders,
            "batch": 8, "ir_alone": ir_key(8, True), "ir_speedup_over_batch1_sync": speedups,
            "batched_max_abs_diff_vs_batch1": {ir_key(8, True): 0.0},
            "ultralytics_reference": "ultralytics-int8-folder" if ultralytics else None,
            "ours_over_ultralytics": {"ratio": 1.41, "ci": [1.16, 1.86]} if ultralytics else None,
            "time_split_ms_per_image": {"ours-int8": {"decode_core_ms": 1.54, "pre_core_ms": 0.51,
                                                      "infer_and_rest_core_ms": 5.51, "post_core_ms": 0.78}},
            "not_measured": {} if ultralytics else {"ultralytics-int8-folder": "original YOLOv5 bundle",
                                                    "ultralytics-int8-per-file": "original YOLOv5 bundle"}}


def test_pipeline_line_and_plot(tmp_path, monkeypatch):
    """The verdict's pipeline line states what was measured (ours, the IR alone, Ultralytics' faster source and the
    per-round ratio, where our core-ms go), or why Ultralytics was not measured; the plot has a bar per contender."""
    from ovyolo.measure.pipeline_bench import pipeline_line

    line = pipeline_line(_pipeline_result())
    assert line.startswith("Pipeline, 32 val image files to detections (6 interleaved rounds, 2 threads): your INT8 "
                           "pipeline 181 img/s [130, 208] end to end at batch 8 (core-ms per image: decode 1.54, "
                           "letterbox 0.51, inference 5.51, outputs 0.78), the INT8 IR alone 275 img/s [255, 295]")
    assert line.endswith("folder source on the same bundle 121 img/s [95, 147]: ours 1.41x [1.16, 1.86] per round")
    assert pipeline_line(_pipeline_result(False)).endswith("Ultralytics' predict not measured: original YOLOv5 bundle")
    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig))
    plots.plot_pipelines([_pipeline_result(), _pipeline_result(False)], tmp_path / "p.png")
    bars = [len(ax.patches) for ax in figs[0].axes if ax.get_visible()]
    assert bars == [6, 4]
    assert "INT8 IR alone, batch 8, streams (async)" in [t.get_text() for t in figs[0].axes[0].get_yticklabels()]
    plots.plot_pipelines([], tmp_path / "none.png")  # no pipeline benchmark: a figure that says so
    assert "no pipeline benchmark" in " ".join(t.get_text() for ax in figs[1].axes for t in ax.texts)


def test_batch_line_names_the_fastest_and_every_equal_one():
    """What batch and streams buy, from the per-round speed-ups over one request at batch 1: the fastest by its
    median among those measurably faster, with every one whose CI reaches its lower end; none when nothing is."""
    from ovyolo.measure.pipeline_bench import batch_line

    line = batch_line(_pipeline_result(ir={(1, False): (150, None), (1, True): (200, (1.33, 1.2, 1.4)),
                                           (8, False): (280, (1.9, 1.85, 1.95)), (8, True): (270, (1.8, 1.5, 1.86))}))
    assert line.startswith("Batch and streams, the INT8 IR alone on ready tensors (6 interleaved rounds, 2 threads; "
                           "speed-up per image over one request at batch 1, per round): batch 1, one request at a "
                           "time 150 img/s; batch 1, streams (async) 200 img/s (1.33x [1.20, 1.40]); batch 8, one "
                           "request at a time 280 img/s (1.90x [1.85, 1.95]); batch 8, streams (async) 270 img/s "
                           "(1.80x [1.50, 1.86]). ")
    assert ("Fastest per image on this machine: batch 8, one request at a time, 1.90x (as fast within the CIs: batch "
            "8, streams (async)); batched outputs identical to batch 1") in line
    alone = batch_line(_pipeline_result(ir={(1, False): (150, None), (8, True): (270, (1.8, 1.7, 1.9)),
                                            (4, True): (200, (1.3, 1.2, 1.4))}))
    assert "Fastest per image on this machine: batch 8, streams (async), 1.80x; " in alone
    # the highest median is not measurably faster, another one is: say which, never crown the noisy one
    noisy = batch_line(_pipeline_result(ir={(1, False): (150, None), (1, True): (200, (1.32, 1.17, 1.55)),
                                            (8, True): (260, (1.73, 0.97, 2.02))}))
    assert ("Measurably faster per image than one request at batch 1 on this machine: batch 1, streams (async) (the "
            "highest median, batch 8, streams (async), 1.73x, CI from 0.97, is not measurably faster)") in noisy
    none = batch_line(_pipeline_result(ir={(1, False): (150, None), (8, True): (160, (1.05, 0.9, 1.2))}))
    assert ("Nothing is measurably faster per image than one request at batch 1 on this machine (highest median: "
            "batch 8, streams (async), 1.05x, CI from 0.90)") in none
    assert batch_line({**_pipeline_result(), "ir_speedup_over_batch1_sync": {}}) is None
