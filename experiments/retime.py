#!/usr/bin/env python
"""Re-time the IRs of one results/{model}/{h}x{w} folder twice, interleaved, and check the runs agree.

Answer (2026-11-28, commit 78c8a7c): the two runs agree within 1.5-4.5%, each inside the other's CI; see
experiments/README.md.

    python experiments/retime.py results/demo/192x320 --data results/_demo/dataset/data.yaml --out retime.json

The folder's IRs (fp32/, fp16/, int8/, ultralytics-int8/, each model.xml; missing ones are skipped, fp32
and int8 are required) become the variants openvino-fp32 (hint f32, "true f32"), openvino-fp32@bf16,
openvino-fp16, openvino-int8 and ultralytics-int8. Two interleaved runs (ovyolo.measure.interleave.run_interleaved)
follow each other in this process, each building its own runners and using its own round-order seed. For
each run the script prints every variant's speed-up over true f32 (median of per-round ratios and its
distribution-free CI) and then whether the two runs' openvino-int8 speed-ups agree: within +-7% of each
other (max/min - 1 <= 0.07) and each median inside the other run's CI. Everything goes to --out as JSON.
Exit status 0, or 3 with --strict when the runs disagree.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ovyolo import offline  # noqa: E402

offline.prepare()  # offline opt-outs before OpenVINO is imported
from ovyolo.atomic import write_json  # noqa: E402
from ovyolo.errors import WorkflowError  # noqa: E402
from ovyolo.shapes import model_and_shape  # noqa: E402

# variant -> (folder, make_runner kwargs besides xml)
IR_VARIANTS = {
    "openvino-fp32": ("fp32", {}),
    "openvino-fp32@bf16": ("fp32", {}),
    "openvino-fp16": ("fp16", {}),
    "openvino-int8": ("int8", {}),
    "ultralytics-int8": ("ultralytics-int8", {}),
}
REQUIRED = ("openvino-fp32", "openvino-int8")
KEY = "openvino-int8"
TOLERANCE = 0.07


def find_variants(folder: Path, wanted: list[str] | None) -> tuple[dict, list[str]]:
    variants, skipped = {}, []
    for name, (sub, kw) in IR_VARIANTS.items():
        if wanted and name not in wanted:
            continue
        xml = folder / sub / "model.xml"
        if xml.is_file():
            variants[name] = {"xml": xml, **kw}
        else:
            skipped.append(f"{name} ({xml} missing)")
    missing = [v for v in REQUIRED if v not in variants]
    if missing:
        raise WorkflowError(f"{folder}: needs {', '.join(missing)}; found {', '.join(variants) or 'no IR'}")
    return variants, skipped


def val_images(data: str | None, images: str | None) -> list[Path]:
    from ovyolo.data.dataset import IMAGE_SUFFIXES, load_dataset

    if bool(data) == bool(images):
        raise WorkflowError("give exactly one of --data data.yaml (its val split) or --images FOLDER")
    if data:
        return load_dataset(data).images("val")
    folder = Path(images)
    if not folder.is_dir():
        raise WorkflowError(f"--images {folder} is not a folder")
    found = sorted(f for f in folder.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise WorkflowError(f"--images {folder} holds no images")
    return found


def fmt(s: dict) -> str:
    return f"{s['median']:.3f}x  CI [{s['ci_low']:.3f}, {s['ci_high']:.3f}] ({100 * s['coverage']:.1f}%)"


def compare(a: dict, b: dict) -> dict:
    """Do two runs' speed-ups (median + CI) agree: within TOLERANCE of each other and each inside the other's CI?"""
    ratio = max(a["median"], b["median"]) / min(a["median"], b["median"])
    return {
        "run1": a["median"], "run2": b["median"],
        "relative_difference": ratio - 1,
        "within_tolerance": bool(ratio - 1 <= TOLERANCE),
        "tolerance": TOLERANCE,
        "run1_in_run2_ci": bool(b["ci_low"] <= a["median"] <= b["ci_high"]),
        "run2_in_run1_ci": bool(a["ci_low"] <= b["median"] <= a["ci_high"]),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="results/{model}/{h}x{w}")
    ap.add_argument("--data", help="data.yaml whose val split supplies the images")
    ap.add_argument("--images", help="a folder of images instead of --data")
    ap.add_argument("--out", type=Path, default=None, help="JSON output (default: FOLDER/retime.json)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds-per-round", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0, help="run 1 uses seed, run 2 seed+1 (different round orders)")
    ap.add_argument("--variants", nargs="+", choices=list(IR_VARIANTS), help="subset of the variants")
    ap.add_argument("--no-throughput", action="store_true", help="latency only (halves the time)")
    ap.add_argument("--strict", action="store_true", help="exit 3 when the two runs disagree")
    args = ap.parse_args(argv)

    from ovyolo.measure.interleave import run_interleaved

    try:
        folder = args.folder
        hw = model_and_shape(folder)[1]
        variants, skipped = find_variants(folder, args.variants)
        images = val_images(args.data, args.images)
    except WorkflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or folder / "retime.json"
    print(f"{folder}: {hw[0]}x{hw[1]}, {len(variants)} variants ({', '.join(variants)}), threads {args.threads}, "
          f"{args.rounds} rounds x {args.seconds_per_round} s")
    for s in skipped:
        print(f"  skipped {s}")
    runs = []
    for i in range(2):
        settings = {"rounds": args.rounds, "seconds_per_round": args.seconds_per_round, "seed": args.seed + i,
                    "throughput": not args.no_throughput}
        t0 = time.perf_counter()
        res = run_interleaved(variants, images, hw, args.threads, settings)
        runs.append(res)
        lr = res["ratios"]["latency"]
        print(f"\nrun {i + 1} ({time.perf_counter() - t0:.0f} s; round orders seeded {args.seed + i}):")
        for name, v in res["variants"].items():
            line = f"  {name:20s} {v['inference_precision']:>5s}  p50 {v['latency']['p50_ms']:7.2f} ms"
            if v["throughput"]:
                line += f"  {v['throughput']['fps']:7.1f} FPS"
            if name in lr["speedup_over_baseline"]:
                line += f"   latency speed-up over true f32 {fmt(lr['speedup_over_baseline'][name])}"
            print(line)
        for label, p in lr["pairs"].items():
            print(f"  {label}: {fmt(p)}")
    a = runs[0]["ratios"]["latency"]["speedup_over_baseline"][KEY]
    b = runs[1]["ratios"]["latency"]["speedup_over_baseline"][KEY]
    agreement = compare(a, b)
    ok = agreement["within_tolerance"] and agreement["run1_in_run2_ci"] and agreement["run2_in_run1_ci"]
    print(f"\n{KEY} latency speed-up over true f32 (openvino-fp32, hint f32):")
    print(f"  run 1: {fmt(a)}\n  run 2: {fmt(b)}")
    print(f"  differ by {100 * agreement['relative_difference']:.1f}% "
          f"({'within' if agreement['within_tolerance'] else 'OUTSIDE'} +-{100 * TOLERANCE:.0f}%); "
          f"run 1 in run 2's CI: {'yes' if agreement['run1_in_run2_ci'] else 'NO'}; "
          f"run 2 in run 1's CI: {'yes' if agreement['run2_in_run1_ci'] else 'NO'}")
    print(f"  -> {'the runs agree' if ok else 'the runs DISAGREE'}")
    report = {
        "folder": str(folder), "hw": list(hw), "threads": args.threads, "variants": list(variants),
        "skipped": skipped, "key": KEY, "agreement": {**agreement, "agree": bool(ok)},
        "speedups": {f"run{i + 1}": r["ratios"]["latency"]["speedup_over_baseline"] for i, r in enumerate(runs)},
        "runs": runs,
    }
    write_json(out, report)
    print(f"wrote {out}")
    return 3 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
