"""What the discovered shape buys: the rectangular ``{h}x{w}`` against the square ``S x S`` (``S = max(h, w)``) that a
plain ``yolo export imgsz=S`` builds, in true f32 and in our INT8.

The four IRs are timed together, interleaved in rounds like the benchmark (each fed the same val images letterboxed
to its own shape; the rounds spread over ``benchmark.processes`` fresh processes), so the rectangular-over-square
speed-up of each precision is a per-round ratio with its CI (:func:`ovyolo.measure.interleave.run_in_processes`). Accuracy: both shapes were validated on the same val images,
so the mAP50-95 difference (rectangular minus square) has a paired-bootstrap CI
(:func:`ovyolo.measure.bootstrap.paired_bootstrap`). One record, ``results/{model}/{h}x{w}/square.json``; one verdict
line (:func:`square_line`) and one plot (:func:`ovyolo.report.plots.plot_squares`).
"""
from __future__ import annotations

import time

from ovyolo import variants
from ovyolo.atomic import write_json
from ovyolo.errors import WorkflowError
from ovyolo.measure.ci import fmt

PRECISIONS = {"fp32": variants.BASELINE, "int8": variants.OURS_INT8}  # precision -> the variant timed as it
KINDS = ("rect", "square")


def square_of(hw: tuple[int, int]) -> tuple[int, int] | None:
    """The square a plain ``imgsz=max(h, w)`` export builds for the long side of ``hw``; None when ``hw`` is square
    (nothing to compare)."""
    h, w = int(hw[0]), int(hw[1])
    return None if h == w else (max(h, w), max(h, w))


def contender(kind: str, precision: str) -> str:
    return f"{kind}-{precision}"


def _speed_word(s: dict) -> str:
    lo, hi = s["ci_low"], s["ci_high"]
    if lo is not None and lo > 1:
        return "faster"
    if hi is not None and hi < 1:
        return "slower"
    return "no measurable difference"


def compare_square(model: str, hw: tuple[int, int], *, irs: dict, matches: dict, data_yaml, threads: int,
                   settings: dict, n_boot: int, seed: int, out) -> dict:
    """Time the rectangular and the square IR of each precision interleaved and compare their accuracy; write
    ``out`` (square.json).

    ``irs`` / ``matches`` map :func:`contender` names (``rect-fp32``, ``square-int8``, ...) to the IR's model.xml
    and to the validation's matches.npz of that IR. ``settings`` is the config's ``benchmark`` section (rounds,
    seconds per round, images...); only latency is timed here."""
    from ovyolo.data.dataset import load_dataset
    from ovyolo.measure.bootstrap import paired_bootstrap
    from ovyolo.measure.interleave import run_in_processes, settings_from_config
    from ovyolo.measure.runtimes import node_name
    from ovyolo.measure.scoring import load_matches

    hw = (int(hw[0]), int(hw[1]))
    sq = square_of(hw)
    if sq is None:
        raise WorkflowError(f"{model} at {hw[0]}x{hw[1]} is square already: there is no square shape to compare with")
    want = [contender(k, p) for k in KINDS for p in PRECISIONS]
    missing = [n for n in want if n not in irs or n not in matches]
    if missing:
        raise WorkflowError(f"square comparison of {model}: no IR or matches for {', '.join(missing)}")
    shape = {"rect": hw, "square": sq}
    runs = {contender(k, p): {"variant": v, "xml": irs[contender(k, p)], "hw": shape[k],
                              "precision_hint": variants.get(v).precision_hint}
            for k in KINDS for p, v in PRECISIONS.items()}
    pairs = [[contender("rect", p), contender("square", p)] for p in PRECISIONS]
    started = time.time()
    timing = run_in_processes(runs, load_dataset(data_yaml).images("val"), hw, threads,
                             settings_from_config(settings, throughput=False, baseline=contender("square", "fp32"),
                                                  pairs=pairs))
    lat = timing["ratios"]["latency"]["pairs"]
    speedup, accuracy = {}, {}
    for p in PRECISIONS:
        r = lat[f"{contender('rect', p)} over {contender('square', p)}"]
        speedup[p] = {k: r[k] for k in ("median", "ci_low", "ci_high", "coverage", "per_round")}
        boot = paired_bootstrap(load_matches(matches[contender("square", p)]), load_matches(matches[contender("rect", p)]),
                                n_boot, seed)
        lo, hi = boot["drop"]["mAP50_95_ci"] or (None, None)
        accuracy[p] = {"rect": boot["var"]["mAP50_95"], "square": boot["ref"]["mAP50_95"],
                       "diff": None if boot["drop"]["mAP50_95"] is None else -boot["drop"]["mAP50_95"],
                       "ci": None if lo is None else [-hi, -lo], "images": boot["images"], "level": boot["level"]}
    result = {
        "model": model, "hw": list(hw), "square_hw": list(sq), "pixels_ratio": sq[0] * sq[1] / (hw[0] * hw[1]),
        "threads": timing["threads"], "images": timing["images"], "rounds": timing["latency_run"]["rounds"],
        "system": timing["system"], "settings": timing["settings"],
        "latency_ms": {n: {k: timing["variants"][n]["latency"][k] for k in ("p50_ms", "round_medians_ms")}
                       for n in want},
        "inference_precision": {n: timing["variants"][n]["inference_precision"] for n in want},
        "speedup": speedup, "accuracy": accuracy,
        "definition": "speed-up: square round median / rectangular round median per round, median over rounds; "
                      "accuracy: rectangular minus square mAP50-95, paired bootstrap over the val images",
        "started_at": started, "finished_at": time.time(), "node": node_name(),
    }
    write_json(out, result)
    return result


def square_line(r: dict) -> str:
    """The verdict's line: what the discovered rectangular shape buys over the square export, measured."""
    h, w = r["hw"]
    s = r["square_hw"][0]

    def speed(p):
        x = r["speedup"][p]
        return f"{x['median']:.2f}x [{x['ci_low']:.2f}, {x['ci_high']:.2f}] ({_speed_word(x)})"

    def acc(p):
        a = r["accuracy"][p]
        if a["diff"] is None:
            return "not comparable (no ground truth)"
        return f"{fmt(a['diff'], '+.4f')} [{fmt(a['ci'][0], '+.4f')}, {fmt(a['ci'][1], '+.4f')}]"

    level = next(iter(r["accuracy"].values()))
    return (f"Shape: the rectangular {h}x{w} against the square {s}x{s} a plain `yolo export imgsz={s}` builds "
            f"({r['pixels_ratio']:.2f}x the pixels), timed interleaved ({r['rounds']} rounds, {r['threads']} threads): "
            f"speed-up of {h}x{w} in true f32 {speed('fp32')}, in our INT8 {speed('int8')}; mAP50-95 of {h}x{w} "
            f"minus {s}x{s}: true f32 {acc('fp32')}, INT8 {acc('int8')} ({100 * level['level']:.0f}% paired "
            f"bootstrap over the {level['images']} val images)")
