"""Exact graph rewrites of the FP32 IR before quantization: does any make our INT8 measurably faster? (issue #11)

Answer (2026-11-28/30, commit d007cb1): none is faster (ties or slower); see experiments/README.md.

Both our INT8 and Ultralytics' are NNCF INT8 of the same weights, run by OpenVINO on the same convolution kernels
(``ovyolo.measure.profile.compare_layers``), so a recipe cannot separate them; only a graph that computes the same thing
differently can. Each rewrite here is exact in real arithmetic (f32 outputs are compared with the original):

* ``s2d``: the first convolution (stride 2 on the 3 image channels, 8% of INT8 convolution time for 5% of the
  multiply-adds at 736x1280) as SpaceToDepth(2) + a stride-1 convolution on 4x the channels (YOLOv5's old
  Focus layer): the kernel is zero-padded to an even size and its taps regrouped by input phase.
* ``s2d-transpose``: the same with Reshape/Transpose/Reshape instead of SpaceToDepth (ops OpenVINO's
  low-precision transformations pass int8 through).
* ``merge-siblings``: convolutions that read the same tensor with the same geometry (a C3 block's cv1/cv2, the
  detect head's box and class branches), each followed by a bias Add and Swish, as one convolution with the
  output channels of all, then a split.

For every rewrite: rewrite the shape's FP32 IR, check it, quantize it with the shape's own calibration set and
the workflow's recipe (:func:`ovyolo.build.quantize.quantize`), then time ours, every rewritten INT8 and Ultralytics'
INT8 interleaved in one process (:func:`ovyolo.measure.interleave.run_interleaved`, latency, hint f32) and report each
rewrite's speed-up over ours and over Ultralytics' with its CI; then OpenVINO's per-op counters of every timed IR
(:func:`ovyolo.measure.profile.profile`; the first convolution and the largest non-convolution kernels). A rewrite wins only if the lower CI end of its
speed-up over ours is > 1. Writes ``graph_rewrites.json`` in ``--out-dir``.

    python experiments/graph_rewrites.py results/demo/736x1280 --data results/_demo/dataset/data.yaml
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ovyolo import offline  # noqa: E402

offline.prepare()  # offline opt-outs before OpenVINO/NNCF are imported
from ovyolo.atomic import write_json  # noqa: E402
from ovyolo.shapes import model_and_shape  # noqa: E402


def _first_conv(model):
    par = model.get_parameters()[0]
    conv = next((t.get_node() for t in par.output(0).get_target_inputs()
                 if t.get_node().get_type_name() == "Convolution"), None)
    if conv is None:
        raise SystemExit("the input does not feed a Convolution directly")
    return par, conv


def _phase_conv(model, to_phases):
    """The first convolution (square, stride 2) as ``to_phases(input)`` (N, 4C, H/2, W/2; channel c*4+dy*2+dx)
    followed by a stride-1 convolution with the regrouped kernel."""
    import openvino.opset13 as ops

    par, conv = _first_conv(model)
    attrs = conv.get_attributes()
    h, w = (d.get_length() for d in list(par.get_partial_shape())[2:])
    pb, pe = attrs["pads_begin"][0], attrs["pads_end"][0]
    if attrs["strides"] != [2, 2] or attrs["dilations"] != [1, 1] or h % 2 or w % 2 \
            or len(set(attrs["pads_begin"])) != 1 or len(set(attrs["pads_end"])) != 1:
        raise SystemExit(f"first convolution is not a square stride-2 one on an even-sized input: {attrs}")
    weights = conv.input_value(1).get_node().get_data().astype(np.float32)  # O, C, K, K
    o, c, k, _ = weights.shape
    shift = pb % 2  # an odd padding moves the taps by one so that the padded input starts on an even row
    k2 = -(-(k + shift) // 2) * 2
    padded = np.zeros((o, c, k2, k2), np.float32)
    padded[:, :, shift:shift + k, shift:shift + k] = weights
    ks = k2 // 2
    regrouped = padded.reshape(o, c, ks, 2, ks, 2).transpose(0, 1, 3, 5, 2, 4).reshape(o, 4 * c, ks, ks)
    begin = (pb + shift) // 2
    ends = [(n + pb + pe - k) // 2 + ks - begin - n // 2 for n in (h, w)]
    if min(ends) < 0:
        raise SystemExit(f"cannot express the padding {attrs} after the phase split")
    new = ops.convolution(to_phases(par.output(0), c, h, w), ops.constant(regrouped), [1, 1], [begin, begin], ends, [1, 1])
    new.set_friendly_name(conv.get_friendly_name())
    for target in list(conv.output(0).get_target_inputs()):
        target.replace_source_output(new.output(0))
    return 1


def space_to_depth(model):
    import openvino.opset13 as ops

    return _phase_conv(model, lambda x, c, h, w: ops.space_to_depth(x, "depth_first", 2))


def space_to_depth_by_transpose(model):
    import openvino.opset13 as ops

    def phases(x, c, h, w):
        r = ops.reshape(x, np.array([1, c, h // 2, 2, w // 2, 2], np.int64), False)
        t = ops.transpose(r, np.array([0, 1, 3, 5, 2, 4], np.int64))
        return ops.reshape(t, np.array([1, 4 * c, h // 2, w // 2], np.int64), False)

    return _phase_conv(model, phases)


def _conv_bias_swish(conv):
    """(conv, bias array or None, swish) when ``conv`` feeds only a Swish, directly or through an Add of a constant
    (the folded batch norm; an untrained model's zero bias is folded away), else None."""
    nxt = [t.get_node() for t in conv.output(0).get_target_inputs()]
    if len(nxt) != 1:
        return None
    bias = None
    if nxt[0].get_type_name() == "Add" and nxt[0].input_value(1).get_node().get_type_name() == "Constant":
        bias = nxt[0].input_value(1).get_node().get_data()
        nxt = [t.get_node() for t in nxt[0].output(0).get_target_inputs()]
    if len(nxt) != 1 or nxt[0].get_type_name() != "Swish":
        return None
    return conv, bias, nxt[0]


def merge_siblings(model):
    import openvino.opset13 as ops

    groups: dict = {}
    for op in model.get_ordered_ops():
        if op.get_type_name() == "Convolution":
            src = op.input_value(0)
            groups.setdefault((src.get_node().get_friendly_name(), src.get_index()), []).append(op)
    merged = 0
    for convs in groups.values():
        chains = [_conv_bias_swish(c) for c in convs]
        if len(chains) < 2 or any(ch is None for ch in chains):
            continue
        attrs = [c.get_attributes() for c, _, _ in chains]
        if any(a != attrs[0] for a in attrs) or len({tuple(c.input_value(1).get_shape())[1:] for c, _, _ in chains}) != 1:
            continue
        kernels = [c.input_value(1).get_node().get_data() for c, _, _ in chains]
        a = attrs[0]
        conv = ops.convolution(chains[0][0].input_value(0), ops.constant(np.concatenate(kernels, 0)), a["strides"],
                               a["pads_begin"], a["pads_end"], a["dilations"])
        biases = [np.zeros((1, k.shape[0], 1, 1), k.dtype) if b is None else b for (_, b, _), k in zip(chains, kernels)]
        act = ops.swish(ops.add(conv, ops.constant(np.concatenate(biases, 1))))
        split = ops.variadic_split(act, np.int64(1), np.array([k.shape[0] for k in kernels], np.int64))
        for i, (_, _, swish) in enumerate(chains):
            for target in list(swish.output(0).get_target_inputs()):
                target.replace_source_output(split.output(i))
        merged += 1
    return merged


REWRITES = {"s2d": space_to_depth, "s2d-transpose": space_to_depth_by_transpose, "merge-siblings": merge_siblings}


MAX_DIFF_OF_RANGE = 1e-4  # f32 summation order differs; anything larger is a wrong rewrite, not rounding


def f32_output(core, model, x: np.ndarray, threads: int) -> np.ndarray:
    """The first output of ``model`` (an ov.Model or an .xml path) on ``x``, run in true f32."""
    cfg = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads}
    return core.compile_model(model if not isinstance(model, Path) else str(model), "CPU", cfg)({0: x})[0]


def rewrite_checked(core, fp32_xml, name: str, x: np.ndarray, reference: np.ndarray, threads: int):
    """The FP32 IR with rewrite ``name`` applied: (model, places rewritten, max output difference / output range).
    Refuses (SystemExit) a rewrite that found nothing to rewrite or changed the outputs beyond f32 rounding."""
    model = core.read_model(str(fp32_xml))
    places = REWRITES[name](model)
    model.validate_nodes_and_infer_types()
    if not places:
        raise SystemExit(f"{name}: nothing to rewrite in {fp32_xml}")
    out = f32_output(core, model, x, threads)
    rel = float(np.abs(out - reference).max() / max(np.abs(reference).max(), 1e-12))
    if rel > MAX_DIFF_OF_RANGE:
        raise SystemExit(f"{name}: outputs differ from the original by {rel:.1e} of their range; the rewrite is wrong")
    return model, places, rel


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="results/{model}/{h}x{w} with fp32/, int8/, calibration/ (ultralytics-int8/ if any)")
    ap.add_argument("--data", required=True, help="data.yaml whose val split supplies the timed images")
    ap.add_argument("--out-dir", type=Path, default=Path("graph_rewrites"))
    ap.add_argument("--rewrites", nargs="+", choices=sorted(REWRITES), default=list(REWRITES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seconds-per-round", type=float, default=1.0)
    ap.add_argument("--profile-iterations", type=int, default=60, help="per-op counters afterwards (0: none)")
    args = ap.parse_args(argv)

    import openvino as ov
    import yaml

    from ovyolo.build.convert import save_ir
    from ovyolo.build.quantize import quantize
    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.letterbox import load_inputs
    from ovyolo.measure.interleave import run_interleaved
    from ovyolo.measure.profile import profile

    hw = model_and_shape(args.folder)[1]
    images = load_dataset(args.data).images("val")
    x = load_inputs(images, hw, 1)[0]
    core = ov.Core()
    fp32_xml = args.folder / "fp32" / "model.xml"
    reference = f32_output(core, fp32_xml, x, args.threads)
    meta = yaml.safe_load((args.folder / "fp32" / "metadata.yaml").read_text())
    report = {"folder": str(args.folder), "hw": list(hw), "threads": args.threads, "rewrites": {}}
    timed = {"ours": {"variant": "openvino-int8", "xml": args.folder / "int8" / "model.xml"}}
    if (args.folder / "ultralytics-int8" / "model.xml").exists():
        timed["ultralytics"] = {"variant": "ultralytics-int8", "xml": args.folder / "ultralytics-int8" / "model.xml"}
    for name in args.rewrites:
        model, changed, rel = rewrite_checked(core, fp32_xml, name, x, reference, args.threads)
        print(f"{name}: {changed} place(s) rewritten; f32 outputs vs the original: max diff {rel:.1e} of their range")
        save_ir(model, args.out_dir / name / "fp32", compress_to_fp16=False, meta={**meta, "rewrite": name}, hw=hw)
        quantize(args.out_dir / name / "fp32" / "model.xml", args.folder / "calibration", hw, args.out_dir / name / "int8")
        report["rewrites"][name] = {"places": changed, "f32_max_diff_of_range": rel}
        timed[name] = {"variant": "openvino-int8", "xml": args.out_dir / name / "int8" / "model.xml"}
    pairs = [[n, other] for n in args.rewrites for other in ("ours", "ultralytics") if other in timed] + \
            ([["ours", "ultralytics"]] if "ultralytics" in timed else [])
    res = run_interleaved(timed, images, hw, args.threads,
                          {"rounds": args.rounds, "seconds_per_round": args.seconds_per_round, "throughput": False,
                           "baseline": "ours", "pairs": pairs})
    report["timing"] = res
    print(f"\n{hw[0]}x{hw[1]}, {args.rounds} rounds x {args.seconds_per_round} s, {args.threads} threads")
    for n, v in res["variants"].items():
        print(f"  {n:15s} p50 {v['latency']['p50_ms']:8.2f} ms")
    for key, r in res["ratios"]["latency"]["pairs"].items():
        verdict = ("too few rounds for a CI at the level (use >= 6)" if not r["meets_level"] else "faster"
                   if r["ci_low"] > 1 else "slower" if r["ci_high"] < 1 else "no measurable difference")
        print(f"  {key:30s} {r['median']:.3f}x [{r['ci_low']:.3f}, {r['ci_high']:.3f}]  {verdict}")
        report["rewrites"].get(key.split(" over ")[0], {})[f"speedup over {key.split(' over ')[1]}"] = \
            {k: r[k] for k in ("median", "ci_low", "ci_high", "coverage", "meets_level")} | {"verdict": verdict}
    if args.profile_iterations:  # where the time went: the first layers of each IR (ovyolo.measure.profile counters)
        prof = profile({n: {"variant": t["variant"], "xml": t["xml"]} for n, t in timed.items()},
                       load_inputs(images, hw, 8), hw, args.threads, iterations=args.profile_iterations)
        report["profile"] = {}
        print("\nper-op counters, mean ms per inference:")
        for n, v in prof["variants"].items():
            first = [k for k in v["by_exec_type"] if not k["kernel"].startswith("Convolution")][:3]
            head = v["conv_layers"][0]
            report["profile"][n] = {"total_ms": v["total_ms"], "first_conv": head, "kernels": v["by_exec_type"][:8]}
            print(f"  {n:15s} total {v['total_ms']:7.2f}  first conv {head['exec_type']} {head['ms']:.2f}  "
                  + ", ".join(f"{k['kernel']} {k['ms']:.2f}" for k in first))
    write_json(args.out_dir / "graph_rewrites.json", report)
    print(f"wrote {args.out_dir / 'graph_rewrites.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
