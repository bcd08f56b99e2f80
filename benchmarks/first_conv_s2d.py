"""Experiment (issue #11): the first convolution rewritten as SpaceToDepth(2) + a stride-1 convolution.

The first convolution of a YOLO runs on the 3 image channels (YOLOv5u: 6x6 stride 2), which int8 and f32 kernels
both handle poorly (8% of INT8 convolution time for 5% of the multiply-adds at 736x1280). The same arithmetic as
SpaceToDepth(block 2) followed by a stride-1 convolution on 4x the channels (YOLOv5's old Focus layer) is exact:
the kernel is zero-padded to an even size and its taps regrouped by input phase. This script rewrites a shape's
FP32 IR that way, checks the outputs agree, quantizes it with the shape's own calibration set
(:func:`ovyolo.quantize.quantize`, the workflow's recipe), and profiles original and rewritten FP32 and INT8
interleaved (:func:`ovyolo.profile.profile`). Writes ``first_conv_s2d.json`` in ``--out-dir``.

    python benchmarks/first_conv_s2d.py results/demo/736x1280 --data results/_demo/dataset/data.yaml
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ovyolo  # noqa: E402,F401 - offline opt-outs before OpenVINO/NNCF are imported


def space_to_depth_first_conv(model):
    """Replace the convolution fed by the model's input (stride 2, square kernel) in place; returns the model."""
    import openvino.opset13 as ops

    par = model.get_parameters()[0]
    conv = next((t.get_node() for t in par.output(0).get_target_inputs()
                 if t.get_node().get_type_name() == "Convolution"), None)
    if conv is None:
        raise SystemExit("the input does not feed a Convolution directly")
    attrs = conv.get_attributes()
    h, w = (d.get_length() for d in list(par.get_partial_shape())[2:])
    (pb, _), (pe, _) = attrs["pads_begin"], attrs["pads_end"]
    if attrs["strides"] != [2, 2] or attrs["dilations"] != [1, 1] or h % 2 or w % 2 \
            or len(set(attrs["pads_begin"])) != 1 or len(set(attrs["pads_end"])) != 1:
        raise SystemExit(f"first convolution is not a square stride-2 one on an even-sized input: {attrs}")
    weights = conv.input_value(1).get_node().get_data().astype(np.float32)  # O, C, K, K
    o, c, k, _ = weights.shape
    shift = pb % 2  # an odd padding moves the taps by one so that the padded input starts on an even row
    k2 = -(-(k + shift) // 2) * 2
    padded = np.zeros((o, c, k2, k2), np.float32)
    padded[:, :, shift:shift + k, shift:shift + k] = weights
    ks = k2 // 2  # depth_first: new channel = c * 4 + dy * 2 + dx
    regrouped = padded.reshape(o, c, ks, 2, ks, 2).transpose(0, 1, 3, 5, 2, 4).reshape(o, 4 * c, ks, ks)
    begin = (pb + shift) // 2
    ends = [(n + pb + pe - k) // 2 + ks - begin - n // 2 for n in (h, w)]
    if min(ends) < 0:
        raise SystemExit(f"cannot express the padding {attrs} after SpaceToDepth")
    s2d = ops.space_to_depth(par.output(0), "depth_first", 2)
    new = ops.convolution(s2d, ops.constant(regrouped), [1, 1], [begin, begin], ends, [1, 1])
    new.set_friendly_name(conv.get_friendly_name())
    for target in list(conv.output(0).get_target_inputs()):
        target.replace_source_output(new.output(0))
    model.validate_nodes_and_infer_types()
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="results/{model}/{h}x{w} with fp32/, int8/, calibration/")
    ap.add_argument("--data", required=True, help="data.yaml whose val split supplies the profiled images")
    ap.add_argument("--out-dir", type=Path, default=Path("first_conv_s2d"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=60)
    args = ap.parse_args(argv)

    import openvino as ov
    import yaml

    from ovyolo.bench import load_inputs
    from ovyolo.convert import save_ir
    from ovyolo.data import load_dataset
    from ovyolo.profile import profile
    from ovyolo.quantize import quantize
    from ovyolo.shapes import hw_of_folder

    hw = hw_of_folder(args.folder)
    out = args.out_dir
    core = ov.Core()
    model = space_to_depth_first_conv(core.read_model(str(args.folder / "fp32" / "model.xml")))
    meta = yaml.safe_load((args.folder / "fp32" / "metadata.yaml").read_text())
    save_ir(model, out / "fp32", compress_to_fp16=False, meta={**meta, "rewrite": "first conv as SpaceToDepth"}, hw=hw)
    inputs = load_inputs(load_dataset(args.data).images("val"), hw, 8)
    cfg = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": args.threads}
    ref, new = (core.compile_model(str(x), "CPU", cfg) for x in (args.folder / "fp32" / "model.xml", out / "fp32" / "model.xml"))
    a, b = ref({0: inputs[0]})[0], new({0: inputs[0]})[0]
    rel = float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))
    print(f"f32 outputs, rewritten vs original: max abs diff relative to max {rel:.2e}")
    quantize(out / "fp32" / "model.xml", args.folder / "calibration", hw, out / "int8")
    runs = {"fp32": ("openvino-fp32", args.folder / "fp32"), "fp32-s2d": ("openvino-fp32", out / "fp32"),
            "int8": ("openvino-int8", args.folder / "int8"), "int8-s2d": ("openvino-int8", out / "int8")}
    res = profile({k: {"variant": v, "xml": d / "model.xml"} for k, (v, d) in runs.items()}, inputs, hw, args.threads,
                  iterations=args.iterations)
    report = {"hw": list(hw), "threads": args.threads, "f32_max_rel_diff": rel, "variants": {}}
    for name, v in res["variants"].items():
        first = [d for d in v["conv_layers"]][:1]
        report["variants"][name] = {"total_ms": v["total_ms"], "wall_ms": v["wall_ms"], "first_conv": first,
                                    "kernels": v["by_exec_type"][:6]}
        print(f"{name:9s} total {v['total_ms']:7.2f} ms  wall {v['wall_ms']:7.2f} ms  first conv "
              f"{first[0]['exec_type']} {first[0]['ms']:.2f} ms" if first else name)
    (out / "first_conv_s2d.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {out / 'first_conv_s2d.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
