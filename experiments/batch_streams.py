#!/usr/bin/env python
"""INT8 throughput at batch 1, 4 and 8 and with async streams, interleaved: what wins on this machine?

Question (issue 21, part 3): multi-camera users ask for batching. Is one synchronous request at batch 4 or 8 faster
per image than one at batch 1 (Ultralytics found a batched synchronous request ~2x faster than per-image async on
an AMD EPYC, its PR 25921), and does an AsyncInferQueue at batch 1 with OpenVINO's THROUGHPUT streams beat both?

    python experiments/batch_streams.py results/demo/160x256 --weights results/_demo/run/weights/best.pt \
        --data results/_demo/dataset/data.yaml --out batch_streams.json

Our INT8 IR cannot be reshaped to another batch as it is (the head's DFL Reshape has the batch 1 baked in: OpenVINO
refuses ``model.reshape([4, 3, h, w])``; the product's ``ovyolo.ir.with_batch`` since rewrites those Reshapes), so
for each batch B > 1 the script exports the weights at batch B with Ultralytics' exporter (the product's arguments,
``batch=B``), converts it and quantizes it with the product's recipe (``ovyolo.build.quantize.quantize``'s NNCF
call: the same calibration images of the shape, grouped in batches of B, the head's box decoding kept float). Batch
1 is the run's own ``int8/`` IR. Every contender is compiled with 2 threads and hint f32 for the float parts; "sync
bB" runs one request at a time (LATENCY hint), "async b1" keeps an ``AsyncInferQueue`` of the THROUGHPUT compile's
optimal number of requests busy. Each round gives every contender ``--seconds`` in a round order that alternates; a
contender's img/s in a round is images done / wall time. The speed-up of each over "sync b1" is the median of the
per-round ratios with its distribution-free CI (``ovyolo.measure.ci.median_ci``). Writes ``--out`` (JSON) and prints
one verdict line.

The inputs are the shape's val images letterboxed by the product (``ovyolo.data.letterbox.load_inputs``), stacked B
at a time; decoding of the outputs is not timed (it is the same per image whatever the batch).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ovyolo import offline

offline.prepare()  # offline opt-outs before Ultralytics and OpenVINO are imported
from ovyolo.atomic import write_json  # noqa: E402
from ovyolo.shapes import model_and_shape  # noqa: E402


def batched_int8(weights: Path, hw: tuple[int, int], batch: int, calibration: Path, work: Path) -> Path:
    """Export at ``batch``, convert, quantize with the product's recipe; the INT8 model.xml."""
    import nncf
    import openvino as ov
    from ultralytics import YOLO

    from ovyolo.build import calibration as cal
    from ovyolo.build.quantize import head_ignored_names, recipe
    from ovyolo.sources.ultralytics import OPSET

    local = work / f"b{batch}" / weights.name
    local.parent.mkdir(parents=True)
    shutil.copyfile(weights, local)
    onnx = YOLO(str(local)).export(format="onnx", imgsz=list(hw), opset=OPSET, simplify=True, dynamic=False,
                                   half=False, batch=batch, device="cpu", verbose=False)
    model = ov.convert_model(onnx)
    preset, keep_head_float, fast_bias_correction = recipe()
    arr = cal.load(calibration)
    groups = len(arr) // batch
    data = nncf.Dataset(range(groups), lambda i: np.ascontiguousarray(arr[i * batch:(i + 1) * batch],
                                                                        dtype=np.float32) / 255.0)
    ignored = head_ignored_names(model) if keep_head_float else []
    q = nncf.quantize(model, data, subset_size=groups, fast_bias_correction=fast_bias_correction,
                      preset=nncf.QuantizationPreset.MIXED if preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE,
                      ignored_scope=nncf.IgnoredScope(names=ignored, validate=False) if ignored else None)
    xml = local.parent / "int8.xml"
    ov.save_model(q, str(xml), compress_to_fp16=False)
    return xml


class Sync:
    def __init__(self, core, xml, batch, threads):
        self.batch = batch
        self.compiled = core.compile_model(str(xml), "CPU", {"PERFORMANCE_HINT": "LATENCY",
                                                             "INFERENCE_NUM_THREADS": threads,
                                                             "INFERENCE_PRECISION_HINT": "f32"})
        self.request = self.compiled.create_infer_request()

    def run(self, xs, seconds):
        start, n, i = time.perf_counter(), 0, 0
        while n < 2 * self.batch or time.perf_counter() - start < seconds:
            self.request.infer({0: xs[i % len(xs)]}, share_inputs=True)
            n += self.batch
            i += 1
        return n / (time.perf_counter() - start)


class Async:
    def __init__(self, core, xml, threads):
        import openvino as ov

        self.batch = 1
        self.compiled = core.compile_model(str(xml), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT",
                                                             "INFERENCE_NUM_THREADS": threads,
                                                             "INFERENCE_PRECISION_HINT": "f32"})
        self.requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.streams = str(self.compiled.get_property("NUM_STREAMS"))
        self.queue = ov.AsyncInferQueue(self.compiled, self.requests)

    def run(self, xs, seconds):
        start, n = time.perf_counter(), 0
        while n < 2 * self.requests or time.perf_counter() - start < seconds:
            self.queue.start_async({0: xs[n % len(xs)]}, share_inputs=True)
            n += 1
        self.queue.wait_all()
        return n / (time.perf_counter() - start)


def main(argv=None) -> int:
    import openvino as ov

    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.letterbox import load_inputs
    from ovyolo.measure.ci import median_ci
    from ovyolo.system import system_info

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--batches", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("batch_streams.json"))
    args = ap.parse_args(argv)
    model, hw = model_and_shape(args.folder)
    singles = load_inputs(load_dataset(args.data).images("val"), hw, args.images)
    core = ov.Core()
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="batch-streams-") as tmp:
        xmls = {1: args.folder / "int8" / "model.xml"}
        for b in args.batches:
            xmls[b] = batched_int8(args.weights, hw, b, args.folder / "calibration" / "images.npy", Path(tmp))
        build_seconds = time.time() - t0
        contenders = {f"sync b{b}": Sync(core, xml, b, args.threads) for b, xml in xmls.items()}
        contenders["async b1"] = Async(core, xmls[1], args.threads)
        inputs = {name: [np.concatenate([singles[(i * c.batch + k) % len(singles)] for k in range(c.batch)])
                         for i in range(max(1, len(singles) // c.batch))] for name, c in contenders.items()}
        for name, c in contenders.items():  # warm-up
            c.run(inputs[name], 0.2)
        # the batched IRs compute what batch 1 computes: outputs of the same images, relative to their magnitude
        ref_out = np.concatenate([contenders["sync b1"].request.infer({0: x})[0] for x in singles[:8]])
        agreement = {}
        for b in args.batches:
            c = contenders[f"sync b{b}"]
            out = np.concatenate([c.request.infer({0: np.concatenate(singles[i:i + b])})[0].copy()
                                  for i in range(0, 8, b)])[: len(ref_out)]
            agreement[f"sync b{b}"] = float(np.abs(out - ref_out).mean() / np.abs(ref_out).mean())
        names = list(contenders)
        per_round = {n: [] for n in names}
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for n in order:
                per_round[n].append(contenders[n].run(inputs[n], args.seconds))
    ref = np.asarray(per_round["sync b1"])
    result = {"model": model, "hw": list(hw), "threads": args.threads, "rounds": args.rounds, "seconds": args.seconds,
              "build_seconds": build_seconds, "system": system_info(args.threads),
              "async": {"requests": contenders["async b1"].requests, "streams": contenders["async b1"].streams},
              "mean_abs_diff_vs_b1_relative": agreement,
              "contenders": {}}
    for n in names:
        ci = median_ci(np.asarray(per_round[n]) / ref)
        result["contenders"][n] = {"img_per_s_median": float(np.median(per_round[n])), "img_per_s": per_round[n],
                                   "speedup_over_sync_b1": {"median": ci["median"], "low": ci["low"],
                                                            "high": ci["high"]}}
    sp = {n: result["contenders"][n]["speedup_over_sync_b1"] for n in names}
    measurably = [n for n in names[1:] if sp[n]["low"] > 1]
    best = max(measurably, key=lambda n: sp[n]["median"], default=None)
    # every contender whose CI overlaps the best's is as good: equal is equal
    tied = [n for n in measurably if best and sp[n]["high"] >= sp[best]["low"]]
    parts = [f"{n} {result['contenders'][n]['img_per_s_median']:.0f} img/s"
             + ("" if n == "sync b1" else " ({median:.2f}x [{low:.2f}, {high:.2f}])".format(
                 **result["contenders"][n]["speedup_over_sync_b1"])) for n in names]
    result["verdict"] = (f"INT8 at {hw[0]}x{hw[1]}, {args.threads} threads, {args.rounds} interleaved rounds: "
                         + ", ".join(parts) + "; "
                         + (f"{' and '.join(tied)} {'are' if len(tied) > 1 else 'is'} measurably faster per image "
                            "than one request at batch 1" + (" (equal within their CIs)" if len(tied) > 1 else "")
                            if best else "nothing is measurably faster per image than one request at batch 1"))
    write_json(args.out, result)
    print(result["verdict"])
    print("outputs vs batch 1 (mean |diff| / mean |output|): "
          + ", ".join(f"{k} {v:.4f}" for k, v in agreement.items()))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
