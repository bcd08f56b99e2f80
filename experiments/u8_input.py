#!/usr/bin/env python
"""Does feeding u8 NHWC frames into the IR (OpenVINO preprocessing) beat converting them to f32 NCHW on the host?

Answer (2026-11-28, commit 0bf1a1e): no measurable difference at 736x1280; see experiments/README.md.

    python experiments/u8_input.py results/demo/736x1280 --data results/_demo/dataset/data.yaml --out u8_input.json

A camera frame arrives as ``H x W x 3`` uint8. Our IRs take ``1 x 3 x H x W`` float32 in [0, 1], so the host
transposes and scales every frame (``ovyolo.data.letterbox.to_tensor``) and OpenVINO then reorders the 4-byte
tensor into its blocked layout. OpenVINO's ``PrePostProcessor`` can instead declare the input as u8 NHWC and put
the conversion (``convert_element_type`` f32, ``scale`` 255, layout NHWC -> NCHW) into the compiled model.

For each IR (fp32/ hinted f32, int8/) of the folder, three runners are timed interleaved in rounds in this one
process (``ovyolo.measure.interleave.interleaved_latency``), all fed the same letterboxed u8 canvases:

* ``<ir>/host-f32``: ``to_tensor`` on the host, then the IR as the workflow runs it (what a deployment pays);
* ``<ir>/model-only``: the IR on tensors converted beforehand (what the workflow's benchmark times);
* ``<ir>/u8-nhwc``: the IR with the u8 NHWC preprocessing built in, fed the canvas as is.

Speed-ups are medians of per-round ratios over ``host-f32`` with distribution-free CIs; the outputs of
``u8-nhwc`` and ``host-f32`` are compared on every image (they must agree to float rounding). Writes --out.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from ovyolo import offline  # noqa: E402

offline.prepare()  # offline opt-outs before OpenVINO is imported
from ovyolo.atomic import write_json  # noqa: E402
from ovyolo.errors import WorkflowError  # noqa: E402


class _Feed:
    """A runner for interleaved_latency. ``run`` takes what the deployment has (a canvas or a tensor); ``infer``
    takes an image index into ``inputs``, so that every runner, whatever its input kind, sees the same images."""

    def __init__(self, request, prepare):
        self._request, self._prepare = request, prepare
        self.inputs: list = []

    def check_input(self, i):
        return i

    def run(self, x):
        self._request.infer({0: self._prepare(x)}, share_inputs=True)
        return self._request.get_output_tensor(0).data.copy()

    def infer(self, i):
        return self.run(self.inputs[i])


def compile_variants(xml: Path, threads: int) -> dict:
    import openvino as ov
    from openvino.preprocess import PrePostProcessor

    from ovyolo.data.letterbox import to_tensor
    from ovyolo.measure.runtimes import openvino_config

    core = ov.Core()
    cfg = openvino_config(threads, "f32", "LATENCY")
    plain = core.compile_model(core.read_model(str(xml)), "CPU", cfg)
    model = core.read_model(str(xml))
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    ppp.input().preprocess().convert_element_type(ov.Type.f32).scale(255.0)
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    u8 = core.compile_model(ppp.build(), "CPU", cfg)
    return {
        "host-f32": _Feed(plain.create_infer_request(), lambda canvas: to_tensor(canvas)),
        "model-only": _Feed(plain.create_infer_request(), lambda tensor: tensor),
        "u8-nhwc": _Feed(u8.create_infer_request(), lambda canvas: canvas[None]),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="results/{model}/{h}x{w} with fp32/ and int8/ IRs")
    ap.add_argument("--data", required=True, help="data.yaml whose val images are letterboxed and cycled through")
    ap.add_argument("--irs", nargs="+", default=["fp32", "int8"])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds-per-round", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.letterbox import load_letterboxed, to_tensor
    from ovyolo.measure.interleave import interleaved_latency, ratios
    from ovyolo.shapes import model_and_shape

    hw = model_and_shape(args.folder)[1]
    canvases = [load_letterboxed(p, hw)[0] for p in sorted(load_dataset(args.data).images("val"))[: args.images]]
    tensors = [to_tensor(c) for c in canvases]
    runners, agreement = {}, {}
    for ir in args.irs:
        xml = args.folder / ir / "model.xml"
        if not xml.is_file():
            raise WorkflowError(f"{xml} does not exist")
        for kind, r in compile_variants(xml, args.threads).items():
            r.inputs = tensors if kind == "model-only" else canvases
            runners[f"{ir}/{kind}"] = r
        diffs = [float(np.abs(runners[f"{ir}/u8-nhwc"].run(c) - runners[f"{ir}/host-f32"].run(c)).max())
                 for c in canvases]
        agreement[ir] = {"max_abs_diff_u8_vs_host": max(diffs)}

    t0 = time.time()
    lat = interleaved_latency(runners, list(range(len(canvases))), rounds=args.rounds,
                              seconds_per_round=args.seconds_per_round, min_iterations_per_round=3, warmup=5, seed=0)
    result = {"folder": str(args.folder), "hw": list(hw), "threads": args.threads, "images": len(canvases),
              "machine": {"cpu": platform.processor() or platform.machine(), "node": platform.node()},
              "started_at": t0, "latency": lat, "agreement": agreement, "speedups": {}}
    for ir in args.irs:
        r = ratios({"variants": {k.split("/", 1)[1]: v for k, v in lat["variants"].items() if k.startswith(ir + "/")}},
                   baseline="host-f32", pairs=())
        result["speedups"][ir] = {k: {f: v[f] for f in ("median", "ci_low", "ci_high", "coverage")}
                                  for k, v in r["speedup_over_baseline"].items()}
    write_json(args.out, result)
    for name, v in lat["variants"].items():
        print(f"{name:22s} p50 {v['p50_ms']:8.2f} ms")
    for ir, s in result["speedups"].items():
        for name, sp in s.items():
            print(f"{ir}: {name} over host-f32: {sp}")
    print("agreement:", agreement)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
