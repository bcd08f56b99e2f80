"""The pipeline benchmark of one ``{model}/{h}x{w}``: image files on disk to detections, end to end (JPEG decoding,
letterbox, inference, decoding of the outputs), for our pipeline (:class:`ovyolo.deploy.pipeline.Pipeline`, at the
batch ``python -m ovyolo predict`` uses) on the INT8 and the true-f32 bundle, against Ultralytics' ``YOLO(<our INT8
bundle>).predict`` on the same files (its folder source and its per-file loop; the faster is the reference), and the
INT8 IR alone on ready tensors at each of ``batches`` images per request, one request at a time (LATENCY) and with
OpenVINO's THROUGHPUT streams (an ``AsyncInferQueue``): what batch and streams buy on this machine, and the
inference ceiling of the pipeline. Every contender runs the whole image set once per round (the IR alone on the
first 16 files' tensors as many times as makes ~0.25 s), in a rotated order, interleaved in this one process: drift
on a shared machine cancels in the per-round ratio, reported as a median with its distribution-free CI. Writes
``pipeline.json`` (rule ``pipeline_benchmark``, config section ``pipeline``).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

OURS_INT8, OURS_FP32 = "ours-int8", "ours-fp32"
ULTRALYTICS_FOLDER, ULTRALYTICS_LOOP = "ultralytics-int8-folder", "ultralytics-int8-per-file"
LABELS = {OURS_INT8: "our INT8 pipeline", OURS_FP32: "our true-f32 pipeline",
          ULTRALYTICS_FOLDER: "YOLO(INT8 bundle).predict, folder source",
          ULTRALYTICS_LOOP: "YOLO(INT8 bundle).predict, one file at a time"}
IR_SECONDS = 0.25  # each IR-alone contender repeats its images to about this long a round
IR_IMAGES = 16  # the IR alone runs the first 16 files' tensors (a multiple of every default batch), repeated


def ir_key(batch: int, streams: bool) -> str:
    """The name of an IR-alone contender: ``int8-ir-b8-streams``, ``int8-ir-b1-sync``."""
    return f"int8-ir-b{int(batch)}-{'streams' if streams else 'sync'}"


def ir_label(batch: int, streams: bool) -> str:
    return f"INT8 IR alone, batch {int(batch)}, " + ("streams (async)" if streams else "one request at a time")


def stacked(tensors: list, batch: int) -> list:
    """``tensors`` (1 x 3 x h x w each) as requests of ``batch`` (the last one topped up by cycling); batch 1: the
    tensors themselves, not copies."""
    if batch == 1:
        return list(tensors)
    k = -(-len(tensors) // batch)
    return [np.concatenate([tensors[(i * batch + j) % len(tensors)] for j in range(batch)]) for i in range(k)]


class _IrAlone:
    """The INT8 IR on ready letterboxed tensors, ``batch`` images per request: one synchronous request at a time
    (LATENCY, the caller's threads) or an ``AsyncInferQueue`` of the THROUGHPUT compile's optimal number of
    requests."""

    def __init__(self, core, xml, stacks: list, batch: int, streams: bool, threads: int):
        import openvino as ov

        from ovyolo.ir import with_batch
        from ovyolo.measure.runtimes import DEVICE, openvino_config

        self.batch, self.streams = int(batch), bool(streams)
        model = with_batch(core.read_model(str(xml)), self.batch, xml)
        self.compiled = core.compile_model(model, DEVICE, openvino_config(threads, "f32",
                                                                          "THROUGHPUT" if streams else "LATENCY"))
        self.requests = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) if streams else 1
        self.stacks = stacks  # :func:`stacked`, shared by the contenders of one batch
        self.images_per_pass = len(stacks) * self.batch
        self.queue = ov.AsyncInferQueue(self.compiled, self.requests) if streams else None
        self.request = None if streams else self.compiled.create_infer_request()
        self.passes = 1

    def __call__(self) -> None:
        for _ in range(self.passes):
            for x in self.stacks:
                if self.queue is not None:
                    self.queue.start_async({0: x}, share_inputs=True)
                else:
                    self.request.infer({0: x}, share_inputs=True)
        if self.queue is not None:
            self.queue.wait_all()

    def outputs(self) -> np.ndarray:
        """The raw outputs of one pass, image by image (one request at a time, for the agreement check)."""
        req = self.compiled.create_infer_request()
        return np.concatenate([req.infer({0: x})[0].copy() for x in self.stacks])

    @property
    def images(self) -> int:
        return self.passes * self.images_per_pass


def _ultralytics_split(results, wall_s: float) -> dict:
    """Ultralytics' own per-image counters (``Results.speed``); decoding and the rest = wall minus those."""
    sp = {k: float(np.mean([r.speed[k] for r in results])) for k in ("preprocess", "inference", "postprocess")}
    wall_ms = 1000.0 * wall_s / max(1, len(results))
    return {"wall_ms": wall_ms, **{f"{k}_ms": v for k, v in sp.items()}, "decode_and_rest_ms": wall_ms - sum(sp.values())}


def pipeline_benchmark(model: str, hw: tuple[int, int], *, int8_bundle, fp32_bundle, images: list, threads: int,
                       rounds: int, out, batches) -> dict:
    """Time the contenders (module docstring) on ``images`` (paths), ``rounds`` interleaved rounds, the IR alone at
    each of ``batches`` (the config's ``pipeline.batches``; 1 and the pipeline's own batch are always added); write
    ``out``."""
    import openvino as ov

    from ovyolo.atomic import write_json
    from ovyolo.data.letterbox import letterbox, read_rgb, to_tensor
    from ovyolo.deploy.bundle import MANIFEST
    from ovyolo.deploy.pipeline import Pipeline, Source
    from ovyolo.deploy.predict import load_for
    from ovyolo.ir import BatchError
    from ovyolo.measure.ci import median_ci, ratio_ci
    from ovyolo.system import system_info

    images = [Path(p) for p in images]
    n = len(images)
    int8_bundle, fp32_bundle = Path(int8_bundle), Path(fp32_bundle)
    manifest = json.loads((int8_bundle / MANIFEST).read_text())
    not_measured = {}
    source = Source("images", paths=images)
    int8 = load_for(source, int8_bundle, threads=threads)  # what python -m ovyolo predict runs on these files
    fp32 = load_for(source, fp32_bundle, threads=threads)
    batch = int8.batch
    pipe8, pipe32 = Pipeline(int8), Pipeline(fp32)
    tensors = [to_tensor(letterbox(read_rgb(f), hw)[0]) for f in images[:IR_IMAGES]]  # the IR alone's inputs
    core = ov.Core()
    batches = sorted({int(b) for b in batches} | {1, batch})
    irs = {}
    for b in batches:
        stacks = stacked(tensors, b)
        for streams in (False, True):
            try:
                irs[ir_key(b, streams)] = _IrAlone(core, int8.xml, stacks, b, streams, threads)
            except BatchError as exc:
                not_measured[ir_key(b, streams)] = str(exc)
    ir_alone = ir_key(batch, True)  # the pipeline's own inference, alone: its ceiling
    # a batched request computes per image what batch 1 computes (ovyolo.ir.with_batch): checked on these images
    ref = irs[ir_key(1, False)].outputs() if ir_key(1, False) in irs else None
    agreement = {}
    for k, c in irs.items():
        if ref is not None and c.batch > 1:
            o = c.outputs()[: len(ref)]
            agreement[k] = float(np.abs(o - ref[: len(o)]).max())
    splits: dict[str, list[dict]] = {OURS_INT8: [], OURS_FP32: [], ULTRALYTICS_FOLDER: [], ULTRALYTICS_LOOP: []}
    with tempfile.TemporaryDirectory(prefix="ovyolo_pipeline_") as tmp:
        folder = Path(tmp)  # exactly these images, for Ultralytics' folder source
        for f in images:
            (folder / f.name).symlink_to(f.resolve())

        def ours(pipe, key):
            def run():
                for _ in pipe.run(folder):
                    pass
                splits[key].append(pipe.stats.per_image_ms())
            return run

        contenders = {OURS_INT8: ours(pipe8, OURS_INT8), OURS_FP32: ours(pipe32, OURS_FP32), **irs}
        if manifest.get("ultralytics_loadable"):
            from ultralytics import YOLO

            from ovyolo.deploy.bundle import ULTRALYTICS_DIR

            yolo = YOLO(str(int8_bundle / ULTRALYTICS_DIR), task="detect")

            def folder_source():
                t0 = time.perf_counter()
                res = list(yolo.predict(str(folder), imgsz=list(hw), stream=True, verbose=False))
                splits[ULTRALYTICS_FOLDER].append(_ultralytics_split(res, time.perf_counter() - t0))

            def per_file():
                t0 = time.perf_counter()
                res = [yolo.predict(str(f), imgsz=list(hw), verbose=False)[0] for f in images]
                splits[ULTRALYTICS_LOOP].append(_ultralytics_split(res, time.perf_counter() - t0))

            contenders.update({ULTRALYTICS_FOLDER: folder_source, ULTRALYTICS_LOOP: per_file})
        else:
            why = manifest.get("reason") or "Ultralytics cannot load this bundle"
            not_measured.update({ULTRALYTICS_FOLDER: why, ULTRALYTICS_LOOP: why})
        for run in contenders.values():  # warm-up: compiled caches, Ultralytics' predictor set-up
            run()
        t0 = time.perf_counter()
        irs[ir_key(1, False)]()
        passes = max(1, round(IR_SECONDS / max(time.perf_counter() - t0, 1e-6)))
        for c in irs.values():
            c.passes = passes
        for v in splits.values():
            v.clear()
        names = list(contenders)
        wall = {k: [] for k in names}
        core = {k: [] for k in names}
        load_avg = [list(os.getloadavg())]
        for r in range(int(rounds)):
            for k in names[r % len(names):] + names[: r % len(names)]:
                c0, t0 = time.process_time(), time.perf_counter()
                contenders[k]()
                wall[k].append(time.perf_counter() - t0)
                core[k].append(time.process_time() - c0)
            load_avg.append(list(os.getloadavg()))
    count = {k: (irs[k].images if k in irs else n) for k in names}
    label = {**LABELS, **{k: ir_label(c.batch, c.streams) for k, c in irs.items()}}
    per = {k: {"label": label[k], "images_per_round": count[k], "img_per_s": median_ci(count[k] / np.asarray(wall[k])),
               "core_ms_per_image": float(np.median(core[k]) * 1000 / count[k]), "round_seconds": wall[k]}
           for k in names}
    for k, c in irs.items():
        per[k].update({"batch": c.batch, "streams": c.streams, "infer_requests": c.requests})
    # per round, img/s of each IR contender over one request at batch 1 (the same rounds: drift cancels)
    base = ir_key(1, False)
    ir_speedups = {k: ratio_ci(np.asarray(wall[base]) / count[base], np.asarray(wall[k]) / count[k])
                   for k in irs if k != base} if base in irs else {}
    ref_key = max((k for k in (ULTRALYTICS_FOLDER, ULTRALYTICS_LOOP) if k in per),
              key=lambda k: per[k]["img_per_s"]["median"], default=None)
    split = {k: {s: round(float(np.mean([row[s] for row in v])), 4) for s in v[0]} for k, v in splits.items() if v}
    result = {
        "model": model, "hw": list(hw), "images": n, "rounds": int(rounds), "threads": int(threads),
        "int8_bundle": str(int8_bundle), "fp32_bundle": str(fp32_bundle), "infer_requests": pipe8.requests,
        "batch": batch, "contenders": per, "ultralytics_reference": ref_key, "ir_alone": ir_alone,
        "ours_over_ultralytics": ratio_ci(np.asarray(wall[ref_key]), np.asarray(wall[OURS_INT8])) if ref_key else None,
        "ours_over_ir_alone": ratio_ci(np.asarray(wall[ir_alone]) / count[ir_alone], np.asarray(wall[OURS_INT8]) / n),
        "ir_speedup_over_batch1_sync": ir_speedups, "ir_passes_per_round": passes,
        "batched_max_abs_diff_vs_batch1": agreement,
        "time_split_ms_per_image": split, "not_measured": not_measured,
        "load_average_per_round": load_avg, "system": system_info(threads),
    }
    write_json(out, result)
    return result


def pipeline_line(p: dict) -> str:
    """The verdict's line: what a user's INT8 pipeline does end to end, the IR alone, Ultralytics' predict."""
    c = p["contenders"]

    def ips(k):
        m = c[k]["img_per_s"]
        return f"{m['median']:.0f} img/s [{m['low']:.0f}, {m['high']:.0f}]"

    s = p["time_split_ms_per_image"].get(OURS_INT8) or {}
    split = ", ".join(f"{name} {s[key]:.2f}" for name, key in (("decode", "decode_core_ms"), ("letterbox", "pre_core_ms"),
                                                               ("inference", "infer_and_rest_core_ms"),
                                                               ("outputs", "post_core_ms")) if key in s)
    batch = p.get("batch", 1)
    line = (f"Pipeline, {p['images']} val image files to detections ({p['rounds']} interleaved rounds, "
            f"{p['threads']} threads): your INT8 pipeline {ips(OURS_INT8)} end to end"
            + (f" at batch {batch}" if batch > 1 else "")
            + (f" (core-ms per image: {split})" if split else "")
            + f", the INT8 IR alone {ips(p.get('ir_alone', 'int8-ir-alone'))}, your true-f32 pipeline "
            + ips(OURS_FP32))
    ref = p.get("ultralytics_reference")
    if ref:
        r = p["ours_over_ultralytics"]
        line += (f"; Ultralytics' {LABELS[ref]} on the same bundle {ips(ref)}: ours {r['ratio']:.2f}x "
                 f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}] per round")
    else:
        line += "; Ultralytics' predict not measured: " + "; ".join(sorted(set(p["not_measured"].values())))
    return line


def batch_line(p: dict) -> str | None:
    """The verdict's batch-and-streams line: the INT8 IR alone at each batch, one request at a time and with
    streams, as img/s and per-round speed-ups over one request at batch 1; the fastest per image on this machine (the
    highest median, when its CI is above 1; every contender whose CI reaches its lower end is named with it: equal
    is equal), else which are measurably faster, else that none is; whether the batched outputs are those of
    batch 1. None for a pipeline.json without IR contenders at more than one batch."""
    c, sp = p["contenders"], p.get("ir_speedup_over_batch1_sync") or {}
    base = ir_key(1, False)
    if base not in c or not sp:
        return None
    keys = [base, *sorted(sp, key=lambda k: (c[k]["batch"], c[k]["streams"]))]

    def part(k):
        m = c[k]["img_per_s"]["median"]
        text = f"{c[k]['label'].removeprefix('INT8 IR alone, ')} {m:.0f} img/s"
        if k in sp:
            text += f" ({sp[k]['ratio']:.2f}x [{sp[k]['ci'][0]:.2f}, {sp[k]['ci'][1]:.2f}])"
        return text

    line = (f"Batch and streams, the INT8 IR alone on ready tensors ({p['rounds']} interleaved rounds, "
            f"{p['threads']} threads; speed-up per image over one request at batch 1, per round): "
            + "; ".join(part(k) for k in keys) + ". ")
    short = {k: c[k]["label"].removeprefix("INT8 IR alone, ") for k in sp}
    best = max(sp, key=lambda k: sp[k]["ratio"])  # the highest median
    measurable = sorted((k for k in sp if sp[k]["ci"][0] > 1.0), key=lambda k: -sp[k]["ratio"])
    highest = f"{short[best]}, {sp[best]['ratio']:.2f}x, CI from {sp[best]['ci'][0]:.2f}"
    if best in measurable:
        # as fast: every other contender whose CI reaches the best's lower end (equal is equal)
        tied = [k for k in sp if k != best and sp[k]["ci"][1] >= sp[best]["ci"][0]]
        line += f"Fastest per image on this machine: {short[best]}, {sp[best]['ratio']:.2f}x"
        if tied:
            line += " (as fast within the CIs: " + ", ".join(short[k] for k in sorted(tied, key=lambda k: -sp[k]["ratio"])) + ")"
    elif measurable:
        line += ("Measurably faster per image than one request at batch 1 on this machine: "
                 + ", ".join(short[k] for k in measurable) + f" (the highest median, {highest}, is not measurably "
                 "faster)")
    else:
        line += f"Nothing is measurably faster per image than one request at batch 1 on this machine (highest median: {highest})"
    skipped = sorted({why for k, why in (p.get("not_measured") or {}).items() if k.startswith("int8-ir-")})
    if skipped:
        line += "; other batches not measured: " + "; ".join(skipped)
    diffs = p.get("batched_max_abs_diff_vs_batch1") or {}
    if diffs:
        worst = max(diffs.values())
        line += ("; batched outputs identical to batch 1" if worst == 0 else
                 f"; batched outputs within {worst:.2g} (max |diff|) of batch 1")
    return line
