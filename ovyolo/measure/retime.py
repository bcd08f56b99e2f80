"""Measure a finished shape's IRs on another machine (the target edge device, a box outside the cluster):
``python -m ovyolo benchmark results/{model}/{h}x{w} --data data.yaml [--threads N] [--out benchmark.json]``.

Copy the shape folder's IR folders (``fp32/``, ``int8/``, ... each with model.xml/.bin) and a few val images with
their data.yaml to the machine, install the package there (``pip install -e .`` of this repository), and run this:
every OpenVINO variant whose IR folder is present is timed interleaved in rounds in one process, exactly as the
workflow's ``benchmark`` rule does (:func:`ovyolo.measure.benchmark.benchmark_shape`, the config's ``benchmark``
defaults, ``evaluation.bf16: auto`` decided on this machine), and the speed-ups over true f32 are printed and
written to ``--out`` with this machine's CPU, capabilities, threads and load average.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def shape_variants(folder: Path) -> dict:
    """variant -> its model files, for the OpenVINO variants whose IR folder is in ``folder``."""
    from ovyolo import variants

    out = {}
    for v in variants.REGISTRY:
        if v.is_openvino and (folder / v.ir / "model.xml").is_file():
            out[v.name] = {"xml": str(folder / v.ir / "model.xml"), "bin": str(folder / v.ir / "model.bin")}
    return out


def main(argv: list[str] | None = None) -> int:
    from ovyolo import offline

    offline.prepare()
    from ovyolo import variants
    from ovyolo.config import default
    from ovyolo.errors import WorkflowError
    from ovyolo.measure.benchmark import benchmark_shape
    from ovyolo.shapes import model_and_shape

    ap = argparse.ArgumentParser(prog="python -m ovyolo benchmark", description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a results/{model}/{h}x{w} folder holding IR folders (fp32/, int8/, ...)")
    ap.add_argument("--data", required=True, help="a data.yaml whose val images are timed (a few are enough)")
    ap.add_argument("--threads", type=int, default=None, help="inference threads (default: this machine's cores)")
    ap.add_argument("--out", type=Path, default=Path("benchmark.json"))
    args = ap.parse_args(argv)
    try:
        model, hw = model_and_shape(args.folder)
        files = shape_variants(args.folder)
        if variants.BASELINE not in files:
            raise WorkflowError(f"{args.folder} has no {variants.get(variants.BASELINE).ir}/model.xml: the true-f32 "
                                "baseline of every speed-up; copy it too")
        threads = args.threads or len(os.sched_getaffinity(0))
        res = benchmark_shape(model, hw, variant_files=files, data_yaml=args.data, threads=threads,
                              settings=default("benchmark"), bf16_mode=default("evaluation.bf16"), out=args.out)
    except WorkflowError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    speed = res["ratios"]["latency"]["speedup_over_baseline"]
    print(f"{model} @ {hw[0]}x{hw[1]} on {res['system']['cpu_model']} ({threads} threads), speed-up over true f32:")
    for name, s in speed.items():
        print(f"  {name}: {s['median']:.2f}x [{s['ci_low']:.2f}, {s['ci_high']:.2f}]")
    for name, why in res.get("not_measured", {}).items():
        print(f"  {name}: {why}")
    print(f"-> {args.out}")
    return 0
