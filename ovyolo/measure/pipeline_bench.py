"""The pipeline benchmark of one ``{model}/{h}x{w}``: image files on disk to detections, end to end (JPEG decoding,
letterbox, inference, decoding of the outputs), for our pipeline (:class:`ovyolo.deploy.pipeline.Pipeline`) on the
INT8 and the true-f32 bundle, against Ultralytics' ``YOLO(<our INT8 bundle>).predict`` on the same files (its
folder source and its per-file loop; the faster is the reference) and the INT8 IR alone on ready tensors (the
inference ceiling). Every contender runs the whole image set once per round, in a rotated order, interleaved in
this one process: drift on a shared machine cancels in the per-round ratio, reported as a median with its
distribution-free CI. Writes ``pipeline.json`` (rule ``pipeline_benchmark``, config section ``pipeline``).
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
IR_ALONE = "int8-ir-alone"
LABELS = {OURS_INT8: "our INT8 pipeline", OURS_FP32: "our true-f32 pipeline",
          ULTRALYTICS_FOLDER: "YOLO(INT8 bundle).predict, folder source",
          ULTRALYTICS_LOOP: "YOLO(INT8 bundle).predict, one file at a time", IR_ALONE: "INT8 IR alone (ready tensors)"}


def _ultralytics_split(results, wall_s: float) -> dict:
    """Ultralytics' own per-image counters (``Results.speed``); decoding and the rest = wall minus those."""
    sp = {k: float(np.mean([r.speed[k] for r in results])) for k in ("preprocess", "inference", "postprocess")}
    wall_ms = 1000.0 * wall_s / max(1, len(results))
    return {"wall_ms": wall_ms, **{f"{k}_ms": v for k, v in sp.items()}, "decode_and_rest_ms": wall_ms - sum(sp.values())}


def pipeline_benchmark(model: str, hw: tuple[int, int], *, int8_bundle, fp32_bundle, images: list, threads: int,
                       rounds: int, out) -> dict:
    """Time the contenders (module docstring) on ``images`` (paths), ``rounds`` interleaved rounds; write ``out``."""
    import openvino as ov

    from ovyolo.atomic import write_json
    from ovyolo.data.letterbox import letterbox, read_rgb, to_tensor
    from ovyolo.deploy.bundle import MANIFEST
    from ovyolo.deploy.pipeline import Pipeline
    from ovyolo.deploy.predict import load
    from ovyolo.measure.ci import median_ci, ratio_ci
    from ovyolo.system import system_info

    images = [Path(p) for p in images]
    n = len(images)
    int8_bundle, fp32_bundle = Path(int8_bundle), Path(fp32_bundle)
    manifest = json.loads((int8_bundle / MANIFEST).read_text())
    not_measured = {}
    int8 = load(int8_bundle, threads=threads, performance_hint="THROUGHPUT")
    fp32 = load(fp32_bundle, threads=threads, performance_hint="THROUGHPUT")
    pipe8, pipe32 = Pipeline(int8), Pipeline(fp32)
    tensors = [to_tensor(letterbox(read_rgb(f), hw)[0]) for f in images]
    queue = ov.AsyncInferQueue(int8.compiled, pipe8.requests)
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

        def ir_alone():
            for t in tensors:
                queue.start_async({0: t}, share_inputs=True)
            queue.wait_all()

        contenders = {OURS_INT8: ours(pipe8, OURS_INT8), OURS_FP32: ours(pipe32, OURS_FP32), IR_ALONE: ir_alone}
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
    per = {k: {"label": LABELS[k], "img_per_s": median_ci(n / np.asarray(wall[k])),
               "core_ms_per_image": float(np.median(core[k]) * 1000 / n), "round_seconds": wall[k]} for k in names}
    ref = max((k for k in (ULTRALYTICS_FOLDER, ULTRALYTICS_LOOP) if k in per),
              key=lambda k: per[k]["img_per_s"]["median"], default=None)
    split = {k: {s: round(float(np.mean([row[s] for row in v])), 4) for s in v[0]} for k, v in splits.items() if v}
    result = {
        "model": model, "hw": list(hw), "images": n, "rounds": int(rounds), "threads": int(threads),
        "int8_bundle": str(int8_bundle), "fp32_bundle": str(fp32_bundle), "infer_requests": pipe8.requests,
        "contenders": per, "ultralytics_reference": ref,
        "ours_over_ultralytics": ratio_ci(np.asarray(wall[ref]), np.asarray(wall[OURS_INT8])) if ref else None,
        "ours_over_ir_alone": ratio_ci(np.asarray(wall[IR_ALONE]), np.asarray(wall[OURS_INT8])),
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
    line = (f"Pipeline, {p['images']} val image files to detections ({p['rounds']} interleaved rounds, "
            f"{p['threads']} threads): your INT8 pipeline {ips(OURS_INT8)} end to end"
            + (f" (core-ms per image: {split})" if split else "")
            + f", the INT8 IR alone {ips(IR_ALONE)}, your true-f32 pipeline {ips(OURS_FP32)}")
    ref = p.get("ultralytics_reference")
    if ref:
        r = p["ours_over_ultralytics"]
        line += (f"; Ultralytics' {LABELS[ref]} on the same bundle {ips(ref)}: ours {r['ratio']:.2f}x "
                 f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}] per round")
    else:
        line += "; Ultralytics' predict not measured: " + "; ".join(sorted(set(p["not_measured"].values())))
    return line
