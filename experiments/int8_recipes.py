#!/usr/bin/env python
"""Which NNCF recipe makes the fastest INT8 at no accuracy cost? Quantize one FP32 IR several ways, time and score.

Answer (2026-11-28, commit 679de82): no recipe is measurably faster than the default; see experiments/README.md.

    python experiments/int8_recipes.py results/demo/192x320 --data results/_demo/dataset/data.yaml \\
        --out-dir results/demo/192x320/recipes

FOLDER is results/{model}/{h}x{w} holding fp32/model.xml (+ metadata.yaml) and calibration/ (the workflow's
calibration set at the same h x w). Every recipe of RECIPES (ovyolo.build.quantize.quantize options: preset
mixed/performance, keep_head_float, fast_bias_correction) quantizes that FP32 IR into OUT_DIR/<recipe>/.
Then, in this one process:

* speed: true f32 (the FP32 IR, hint f32), every recipe (hint f32) timed interleaved in rounds
  (ovyolo.measure.interleave.run_interleaved, latency only); speed-up = median of per-round ratios with its
  distribution-free CI, over true f32 and over ``ours`` (the workflow's default recipe);
* accuracy: each IR scored on the val split (ovyolo.measure.evaluate.evaluate), mAP50-95 drop vs true f32 and vs ours
  with a paired image bootstrap (ovyolo.measure.bootstrap.paired_bootstrap).

A recipe "wins" only if it is measurably faster than ours (CI of the speed-up over ours entirely above 1) and
costs no accuracy (upper end of its drop-vs-f32 CI <= --max-drop, and of its drop-vs-ours CI <= --max-drop).
Writes OUT_DIR/int8_recipes.json and OUT_DIR/int8_recipes.md (the table).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ovyolo import offline  # noqa: E402

offline.prepare()  # offline opt-outs before OpenVINO/NNCF are imported
from ovyolo.atomic import write_json  # noqa: E402
from ovyolo.errors import WorkflowError  # noqa: E402
from ovyolo.shapes import model_and_shape  # noqa: E402

OURS = "ours"
# name -> ovyolo.build.quantize.quantize keyword arguments; "ours" is the workflow's default (config.yaml quantization:)
RECIPES = {
    OURS: {"preset": "mixed", "keep_head_float": True, "fast_bias_correction": True},
    "performance": {"preset": "performance", "keep_head_float": True, "fast_bias_correction": True},
    "head-int8": {"preset": "mixed", "keep_head_float": False, "fast_bias_correction": True},
    "performance+head-int8": {"preset": "performance", "keep_head_float": False, "fast_bias_correction": True},
    "full-bias-correction": {"preset": "mixed", "keep_head_float": True, "fast_bias_correction": False},
}
F32 = "true-f32"


def quantize_all(fp32_xml: Path, calibration: Path, hw, out_dir: Path, recipes: dict, reuse: bool) -> dict:
    from ovyolo.build.quantize import quantize

    out = {}
    for name, kw in recipes.items():
        xml = out_dir / name / "model.xml"
        t0 = time.perf_counter()
        if not (reuse and xml.is_file()):
            quantize(fp32_xml, calibration, hw, out_dir / name, **kw)
            print(f"  quantized {name} in {time.perf_counter() - t0:.0f} s", flush=True)
        out[name] = {"xml": xml, "settings": kw,
                     "file_size_bytes": xml.stat().st_size + xml.with_suffix(".bin").stat().st_size}
    return out


def score(xml: Path, images, hw, names, layout, threads: int):
    from ovyolo.measure.evaluate import evaluate
    from ovyolo.measure.runtimes import make_runner
    from ovyolo.measure.scoring import matches_from_preds

    runner = make_runner("openvino-fp32", xml=xml, threads=threads, precision_hint="f32", hw=hw)
    ev = evaluate(runner.infer, images, hw, names, layout)
    return ev.result, matches_from_preds(ev.preds, ev.gts, ev.sizes, names)


def fmt_speed(s: dict | None) -> str:
    return "-" if not s else f"{s['median']:.3f}x [{s['ci_low']:.3f}, {s['ci_high']:.3f}]"


def fmt_drop(d: dict | None) -> str:
    if not d:
        return "-"
    lo, hi = d["mAP50_95_ci"]
    return f"{d['mAP50_95']:+.4f} [{lo:+.4f}, {hi:+.4f}]"


def markdown(res: dict) -> str:
    lines = [f"# INT8 recipes at {res['hw'][0]}x{res['hw'][1]} ({res['folder']})", "",
             f"Threads {res['threads']}, {res['timing']['rounds']} interleaved rounds x "
             f"{res['timing']['seconds_per_round']} s; {res['val_images']} val images, {res['bootstrap']} paired "
             f"bootstrap resamples; {res['calibration_images']} calibration images. Speed-ups: median of per-round "
             "ratios [95% CI]; drops: mAP50-95 point [95% CI], positive = worse. A recipe wins if faster than ours "
             f"by the CI and no drop CI exceeds {res['max_drop']:g}.", "",
             "| setting | preset | head float | fast bias corr. | MiB | speed-up vs true f32 | speed-up vs ours | "
             "mAP50-95 | drop vs true f32 | drop vs ours | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    f32 = res["rows"][F32]
    lines.append(f"| {F32} | - | - | - | {f32['file_size_bytes'] / 2**20:.2f} | 1 | - | {f32['mAP50_95']:.4f} | - | - | baseline |")
    for name, r in res["rows"].items():
        if name == F32:
            continue
        s = r["settings"]
        lines.append(f"| {name} | {s['preset']} | {s['keep_head_float']} | {s['fast_bias_correction']} | "
                     f"{r['file_size_bytes'] / 2**20:.2f} | {fmt_speed(r['speedup_vs_f32'])} | "
                     f"{fmt_speed(r['speedup_vs_ours'])} | {r['mAP50_95']:.4f} | {fmt_drop(r['drop_vs_f32'])} | "
                     f"{fmt_drop(r['drop_vs_ours'])} | {r['verdict']} |")
    lines += ["", f"Winners: {', '.join(res['winners']) or 'none (keep ours)'}", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="results/{model}/{h}x{w} with fp32/ and calibration/")
    ap.add_argument("--data", required=True, help="data.yaml whose val split is scored and timed on")
    ap.add_argument("--out-dir", type=Path, default=None, help="default FOLDER/recipes")
    ap.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds-per-round", type=float, default=0.5)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--max-drop", type=float, default=0.01)
    ap.add_argument("--reuse", action="store_true", help="keep recipe IRs already in OUT_DIR")
    args = ap.parse_args(argv)

    import yaml

    from ovyolo.data.dataset import load_dataset
    from ovyolo.measure.bootstrap import paired_bootstrap
    from ovyolo.measure.interleave import run_interleaved

    t_start = time.perf_counter()
    folder = args.folder
    try:
        hw = model_and_shape(folder)[1]
        fp32_xml = folder / "fp32" / "model.xml"
        if not fp32_xml.is_file():
            raise WorkflowError(f"{fp32_xml} does not exist")
        calibration = folder / "calibration"
        meta = yaml.safe_load((folder / "fp32" / "metadata.yaml").read_text())
        names = [meta["names"][k] for k in sorted(meta["names"])]
        images = load_dataset(args.data).images("val")
    except (WorkflowError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    recipes = {n: RECIPES[n] for n in args.recipes}
    if OURS not in recipes:
        recipes = {OURS: RECIPES[OURS], **recipes}
    out_dir = args.out_dir or folder / "recipes"
    print(f"{folder}: {hw[0]}x{hw[1]}, recipes {', '.join(recipes)}, threads {args.threads}", flush=True)
    irs = quantize_all(fp32_xml, calibration, hw, out_dir, recipes, args.reuse)

    timed = {F32: {"variant": "openvino-fp32", "xml": fp32_xml, "precision_hint": "f32"}}
    timed.update({n: {"variant": "openvino-int8", "xml": r["xml"], "precision_hint": "f32"} for n, r in irs.items()})
    settings = {"rounds": args.rounds, "seconds_per_round": args.seconds_per_round, "throughput": False,
                "baseline": F32, "pairs": [[n, OURS] for n in irs if n != OURS]}
    t0 = time.perf_counter()
    timing = run_interleaved(timed, images, hw, args.threads, settings)
    print(f"  timed in {time.perf_counter() - t0:.0f} s", flush=True)
    lat = timing["ratios"]["latency"]

    scores = {}
    for n in timed:
        t0 = time.perf_counter()
        scores[n] = score(timed[n]["xml"], images, hw, names, meta.get("layout", "ultralytics"), args.threads)
        print(f"  scored {n}: mAP50-95 {scores[n][0]['mAP50_95']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)

    rows = {F32: {"settings": None, "file_size_bytes": fp32_xml.stat().st_size + fp32_xml.with_suffix(".bin").stat().st_size,
                  "mAP50": scores[F32][0]["mAP50"], "mAP50_95": scores[F32][0]["mAP50_95"],
                  "latency_p50_ms": timing["variants"][F32]["latency"]["p50_ms"]}}
    winners = []
    for n, r in irs.items():
        b_f32 = paired_bootstrap(scores[F32][1], scores[n][1], n=args.bootstrap, seed=0)
        b_ours = paired_bootstrap(scores[OURS][1], scores[n][1], n=args.bootstrap, seed=0) if n != OURS else None
        sp = lat["speedup_over_baseline"][n]
        sp_ours = lat["pairs"].get(f"{n} over {OURS}")
        row = {"settings": r["settings"], "file_size_bytes": r["file_size_bytes"], "xml": str(r["xml"]),
               "mAP50": scores[n][0]["mAP50"], "mAP50_95": scores[n][0]["mAP50_95"],
               "latency_p50_ms": timing["variants"][n]["latency"]["p50_ms"],
               "speedup_vs_f32": {k: sp[k] for k in ("median", "ci_low", "ci_high", "coverage")},
               "speedup_vs_ours": {k: sp_ours[k] for k in ("median", "ci_low", "ci_high", "coverage")} if sp_ours else None,
               "drop_vs_f32": b_f32["drop"], "drop_vs_ours": b_ours["drop"] if b_ours else None}
        if n == OURS:
            row["verdict"] = "ours (reference)"
        else:
            faster = sp_ours["ci_low"] > 1.0
            slower = sp_ours["ci_high"] < 1.0
            ok = b_f32["drop"]["mAP50_95_ci"][1] <= args.max_drop and b_ours["drop"]["mAP50_95_ci"][1] <= args.max_drop
            if faster and ok:
                row["verdict"] = "WINS"
                winners.append(n)
            else:
                speed = "faster" if faster else ("slower" if slower else "no measurable speed difference")
                acc = "within budget" if ok else "accuracy not shown within budget"
                row["verdict"] = f"{speed}; {acc}"
        rows[n] = row
    res = {"folder": str(folder), "hw": list(hw), "threads": args.threads, "val_images": len(images),
           "calibration_images": int(__import__("ovyolo.build.calibration", fromlist=["load"]).load(calibration).shape[0]),
           "bootstrap": args.bootstrap, "max_drop": args.max_drop,
           "timing": {"rounds": args.rounds, "seconds_per_round": args.seconds_per_round,
                      "orders": timing["latency_run"]["orders"], "system": timing["system"]},
           "rows": rows, "winners": winners, "wall_seconds": time.perf_counter() - t_start}
    write_json(out_dir / "int8_recipes.json", res)
    text = markdown(res)
    (out_dir / "int8_recipes.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
