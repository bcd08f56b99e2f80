#!/usr/bin/env python
"""Which INT8 recipe for an end-to-end (NMS-free, 1 x K x 6) head? Ours, NNCF's YOLO26 recipe, and what the per-op
profile points at, each timed interleaved and scored with paired-bootstrap CIs on one trained model.

    python experiments/end2end_int8.py results/yolo26/128x192 --data /work/cache/yolo26/dataset/data.yaml \\
        --out-dir /work/cache/yolo26/recipes

FOLDER is results/{model}/{h}x{w} of a workflow run (fp32/ + calibration/; ultralytics-int8/ is added as a
reference row when present). Recipes (ovyolo.quantize.quantize options):

* ``ours``: the workflow's default as it was (MIXED, the head's box decoding float, fast bias correction);
* ``nncf-yolo26``: NNCF's YOLO26 example (examples/post_training_quantization/openvino/yolo26): MIXED, ignored
  scope ``.*one2one.*`` (the whole one-to-one branch float), full bias correction, nothing else ignored;
* ``ours+one2one-float``: ours plus NNCF's ignored pattern; ``ours+full-bc``: ours with full bias correction;
* ``profile-float``: ours plus the layers the per-op profile (ovyolo.profile, ours vs true f32, convolution by
  convolution) finds no faster in int8 (omitted when there is none).

Speed: every IR and true f32 timed interleaved in one process (ovyolo.interleave.run_interleaved), speed-up =
median of per-round ratios with its distribution-free CI, over true f32 and over ``ours``. Accuracy: each IR on the
val split (ovyolo.measure.evaluate.evaluate, end-to-end decoding), mAP50-95 drop vs true f32 and vs ours with a paired image
bootstrap (ovyolo.measure.bootstrap.paired_bootstrap).

The rule, fixed before measuring: the default stays ``ours`` unless ours breaks the budget (upper end of its drop CI
vs true f32 above --max-drop) or another recipe keeps the budget and is measurably faster than ours (its speed-up
over ours has a CI entirely above 1); then the fastest such recipe (highest median speed-up over ours) wins.
ovyolo.report.verdict.verdict's ranking of all recipes against true f32 is printed beside it (it breaks speed ties by the drop
point estimate, which here is noise). Writes OUT_DIR/end2end_int8.json and .md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ovyolo import offline  # noqa: E402

offline.prepare()  # offline opt-outs before OpenVINO/NNCF are imported
from ovyolo.atomic import write_json  # noqa: E402
from ovyolo.shapes import model_and_shape  # noqa: E402

OURS = "ours"
F32 = "true-f32"
U8 = "ultralytics-int8"
ONE2ONE = [".*one2one.*"]
RECIPES = {
    OURS: {"preset": "mixed", "keep_head_float": True, "fast_bias_correction": True},
    "nncf-yolo26": {"preset": "mixed", "keep_head_float": False, "fast_bias_correction": False,
                    "ignored_patterns": ONE2ONE},
    "ours+one2one-float": {"preset": "mixed", "keep_head_float": True, "fast_bias_correction": True,
                           "ignored_patterns": ONE2ONE},
    "ours+full-bc": {"preset": "mixed", "keep_head_float": True, "fast_bias_correction": False},
}
PROFILE = "profile-float"


def profile_points_at(fp32_xml: Path, ours_xml: Path, inputs, hw, threads: int, iterations: int) -> dict:
    """Ours vs true f32 convolution by convolution: the layers whose int8 kernel is not faster (names as in the
    FP32 IR, so that they can be kept float), and the per-category shares of both."""
    import openvino as ov

    from ovyolo.measure.profile import compare_layers, profile

    prof = profile({"openvino-fp32": {"xml": fp32_xml}, "openvino-int8": {"xml": ours_xml}}, inputs, hw, threads,
                   iterations=iterations, rounds=6)
    cmp = compare_layers(prof, "openvino-int8", "openvino-fp32")
    op_names = {op.get_friendly_name() for op in ov.Core().read_model(str(fp32_xml)).get_ordered_ops()}
    not_faster = [r for r in (cmp or {}).get("not_faster", [])]
    names = [r["other_layer"] for r in not_faster if r["other_layer"] in op_names]
    shares = {v: {c: round(d["share"], 4) for c, d in prof["variants"][v]["categories"].items() if d["share"] > 0}
              for v in prof["variants"]}
    return {"not_faster": [{k: r[k] for k in ("layer", "other_layer", "kernel", "other_kernel", "ms", "other_ms",
                                              "speedup")} for r in not_faster],
            "float_names": names, "conv_speedup": cmp["speedup"] if cmp else None, "shares": shares,
            "layers": cmp["layers"] if cmp else None}


def pick_recipe(rows: dict, max_drop: float) -> dict:
    """The rule of the module docstring: ours, unless it breaks the budget or a recipe within it is measurably
    faster than ours."""
    within = {n: r for n, r in rows.items() if n not in (F32, U8) and r["drop_vs_f32"]["mAP50_95_ci"][1] <= max_drop}
    ours_ok = OURS in within
    faster = {n: r for n, r in within.items() if n != OURS and r["speedup_vs_ours"]["ci_low"] > 1.0}
    if ours_ok and not faster:
        return {"recipe": OURS, "why": f"ours keeps the budget {max_drop:g} and no recipe within it is measurably "
                                       "faster than ours (every speed-up-over-ours CI reaches 1.0 or below)"}
    pool = faster or within
    if not pool:
        return {"recipe": None, "why": f"no recipe keeps the budget {max_drop:g}"}
    best = max(pool, key=lambda n: rows[n]["speedup_vs_ours"]["median"] if n != OURS else 1.0)
    return {"recipe": best, "why": ("measurably faster than ours within the budget" if faster
                                    else "ours breaks the budget; the fastest recipe within it")}


def fmt_speed(s: dict | None) -> str:
    return "-" if not s else f"{s['median']:.3f}x [{s['ci_low']:.3f}, {s['ci_high']:.3f}]"


def fmt_drop(d: dict | None) -> str:
    if not d:
        return "-"
    lo, hi = d["mAP50_95_ci"]
    return f"{d['mAP50_95']:+.4f} [{lo:+.4f}, {hi:+.4f}]"


def markdown(res: dict) -> str:
    lines = [f"# INT8 recipes for the end-to-end head at {res['hw'][0]}x{res['hw'][1]} ({res['folder']})", "",
             f"Threads {res['threads']}, {res['timing']['rounds']} interleaved rounds x "
             f"{res['timing']['seconds_per_round']} s, load average before/after {res['load_before']} / "
             f"{res['load_after']}; {res['val_images']} val images, {res['bootstrap']} paired bootstrap resamples; "
             f"{res['calibration_images']} calibration images. Speed-ups: median of per-round ratios [95% CI]; "
             "drops: mAP50-95 point [95% CI], positive = worse.", "",
             "| recipe | kept float (ignored scope) | fast bias corr. | int8 / float layers | MiB | "
             "speed-up vs true f32 | speed-up vs ours | mAP50-95 | drop vs true f32 | drop vs ours |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in res["rows"].items():
        s = r.get("settings") or {}
        kept = "-" if name in (F32, U8) else ", ".join(filter(None, [
            "head decoding" if s.get("keep_head_float") else "",
            " ".join(s.get("ignored_patterns") or []),
            f"{len(s.get('float_names') or [])} profiled layers" if s.get("float_names") else ""])) or "nothing"
        if name == U8:
            kept = "Ultralytics' scope (every Sigmoid, ops under the head module)"
        lines.append(
            f"| {name} | {kept} | {s.get('fast_bias_correction', '-')} | {r['int8_layers']} / {r['float_layers']} | "
            f"{r['file_size_bytes'] / 2**20:.2f} | {fmt_speed(r.get('speedup_vs_f32'))} | "
            f"{fmt_speed(r.get('speedup_vs_ours'))} | {r['mAP50_95']:.4f} | {fmt_drop(r.get('drop_vs_f32'))} | "
            f"{fmt_drop(r.get('drop_vs_ours'))} |")
    v = res["verdict"]
    lines += ["", f"Default recipe (rule of the script's docstring): **{res['pick']['recipe']}**: {res['pick']['why']}.",
              "", f"For comparison, ovyolo.report.verdict.verdict over the recipes against true f32 (max_drop {res['max_drop']:g}; "
              "it breaks speed ties by the drop point estimate):", ""]
    lines += [f"- {ln}" for ln in v["text"].splitlines()]
    p = res["profile"]
    lines += ["", f"Profile (ours vs true f32, {p['layers']} convolutions): int8 convolutions {p['conv_speedup']:.2f}x "
              f"faster in sum; {len(p['not_faster'])} not faster in int8"
              + (": " + ", ".join(f"{r['other_layer']} {r['speedup']:.2f}x" for r in p["not_faster"][:8])
                 if p["not_faster"] else "") + ".", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="results/{model}/{h}x{w} with fp32/ and calibration/")
    ap.add_argument("--data", required=True, help="data.yaml whose val split is scored and timed on")
    ap.add_argument("--out-dir", type=Path, default=None, help="default FOLDER/end2end_recipes")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--seconds-per-round", type=float, default=0.5)
    ap.add_argument("--profile-iterations", type=int, default=120)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--max-drop", type=float, default=0.01)
    ap.add_argument("--reuse", action="store_true", help="keep recipe IRs already in OUT_DIR")
    args = ap.parse_args(argv)

    import yaml
    from int8_recipes import quantize_all, score

    from ovyolo.build import calibration as cal
    from ovyolo.build.quantize import int8_layers
    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.letterbox import load_inputs
    from ovyolo.measure.bootstrap import paired_bootstrap
    from ovyolo.measure.interleave import run_interleaved
    from ovyolo.report.verdict import verdict

    t_start = time.perf_counter()
    folder = args.folder
    hw = model_and_shape(folder)[1]
    fp32_xml = folder / "fp32" / "model.xml"
    meta = yaml.safe_load((folder / "fp32" / "metadata.yaml").read_text())
    names = [meta["names"][k] for k in sorted(meta["names"])]
    layout = meta["layout"]
    images = load_dataset(args.data).images("val")
    out_dir = args.out_dir or folder / "end2end_recipes"
    load_before = os.getloadavg()
    print(f"{folder}: {hw[0]}x{hw[1]}, layout {layout}, threads {args.threads}, load {load_before}", flush=True)
    irs = quantize_all(fp32_xml, folder / "calibration", hw, out_dir, RECIPES, args.reuse)
    prof = profile_points_at(fp32_xml, irs[OURS]["xml"], load_inputs(images, hw, 8), hw, args.threads,
                             args.profile_iterations)
    print(f"  profile: {len(prof['not_faster'])} layers not faster in int8", flush=True)
    if prof["float_names"]:
        irs.update(quantize_all(fp32_xml, folder / "calibration", hw, out_dir,
                                {PROFILE: {**RECIPES[OURS], "float_names": prof["float_names"]}}, args.reuse))
    timed = {F32: {"variant": "openvino-fp32", "xml": fp32_xml, "precision_hint": "f32"}}
    timed.update({n: {"variant": "openvino-int8", "xml": r["xml"], "precision_hint": "f32"} for n, r in irs.items()})
    u8_xml = folder / "ultralytics-int8" / "model.xml"
    if u8_xml.is_file():
        timed[U8] = {"variant": "ultralytics-int8", "xml": u8_xml, "precision_hint": "f32"}
    t0 = time.perf_counter()
    timing = run_interleaved(timed, images, hw, args.threads, {
        "rounds": args.rounds, "seconds_per_round": args.seconds_per_round, "throughput": False, "baseline": F32,
        "pairs": [[n, OURS] for n in timed if n not in (OURS, F32)]})
    print(f"  timed in {time.perf_counter() - t0:.0f} s", flush=True)
    lat = timing["ratios"]["latency"]
    scores = {}
    for n, spec in timed.items():
        t0 = time.perf_counter()
        scores[n] = score(spec["xml"], images, hw, names, layout, args.threads)
        print(f"  scored {n}: mAP50-95 {scores[n][0]['mAP50_95']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows, verdict_rows = {}, []
    for n, spec in timed.items():
        xml = Path(spec["xml"])
        counts = int8_layers(xml)
        row = {"settings": irs[n]["settings"] if n in irs else None, "xml": str(xml),
               "file_size_bytes": xml.stat().st_size + xml.with_suffix(".bin").stat().st_size,
               "int8_layers": counts["int8"], "float_layers": counts["float"],
               "mAP50": scores[n][0]["mAP50"], "mAP50_95": scores[n][0]["mAP50_95"],
               "latency_p50_ms": timing["variants"][n]["latency"]["p50_ms"]}
        if n != F32:
            sp = lat["speedup_over_baseline"][n]
            row["speedup_vs_f32"] = {k: sp[k] for k in ("median", "ci_low", "ci_high", "coverage")}
            row["drop_vs_f32"] = paired_bootstrap(scores[F32][1], scores[n][1], n=args.bootstrap, seed=0)["drop"]
        if n not in (F32, OURS):
            sp = lat["pairs"][f"{n} over {OURS}"]
            row["speedup_vs_ours"] = {k: sp[k] for k in ("median", "ci_low", "ci_high", "coverage")}
            row["drop_vs_ours"] = paired_bootstrap(scores[OURS][1], scores[n][1], n=args.bootstrap, seed=0)["drop"]
        if n in irs:
            verdict_rows.append({"variant": n, "label": n,
                                 "speedup": {"ratio": row["speedup_vs_f32"]["median"],
                                             "ci": [row["speedup_vs_f32"]["ci_low"], row["speedup_vs_f32"]["ci_high"]]},
                                 "drop": row["drop_vs_f32"]})
        rows[n] = row
    v = verdict(verdict_rows, max_drop=args.max_drop, baseline=F32)
    pick = pick_recipe(rows, args.max_drop)
    res = {"folder": str(folder), "hw": list(hw), "layout": layout, "threads": args.threads, "val_images": len(images),
           "calibration_images": int(cal.load(folder / "calibration").shape[0]), "bootstrap": args.bootstrap,
           "max_drop": args.max_drop, "load_before": [round(x, 2) for x in load_before],
           "load_after": [round(x, 2) for x in os.getloadavg()],
           "timing": {"rounds": args.rounds, "seconds_per_round": args.seconds_per_round,
                      "orders": timing["latency_run"]["orders"], "system": timing["system"]},
           "profile": prof, "rows": rows, "pick": pick, "verdict": v, "wall_seconds": time.perf_counter() - t_start}
    write_json(out_dir / "end2end_int8.json", res)
    text = markdown(res)
    (out_dir / "end2end_int8.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
