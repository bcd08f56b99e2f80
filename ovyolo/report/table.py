"""The summary table (results/summary.csv) and the per-shape verdicts, from the per-variant metrics/matches and the per-shape benchmark.

Accuracy: each variant's mAP50-95 drop against true f32 with a paired bootstrap CI (:func:`ovyolo.measure.bootstrap.paired_bootstrap`,
the same resample of val images for both). Speed: speed-ups over true f32 from the shape's interleaved benchmark
(medians of per-round ratios with a distribution-free CI, :mod:`ovyolo.measure.interleave`). The verdict
(:func:`ovyolo.report.verdict.verdict`) picks, per model and shape, the fastest variant within ``evaluation.max_drop``.
"""
from __future__ import annotations

import json
from pathlib import Path

from ovyolo import variants
from ovyolo.measure.bootstrap import paired_bootstrap, per_class_drop
from ovyolo.measure.pipeline_bench import batch_line, pipeline_line
from ovyolo.measure.scoring import load_matches
from ovyolo.measure.square import square_line
from ovyolo.report.verdict import ship, timing_line, verdict
from ovyolo.shapes import hw_name, model_and_shape

BASELINE = variants.BASELINE  # true f32 (INFERENCE_PRECISION_HINT=f32): the baseline for drops and speed-ups
COLUMNS = [
    "model", "shape", "h", "w", "variant", "label", "verdict",
    "mAP50", "mAP50_95", "mAP50_95_ci_low", "mAP50_95_ci_high",
    "mAP50_95_drop", "mAP50_95_drop_ci_low", "mAP50_95_drop_ci_high",
    "mean_abs_diff_vs_fp32", "agreement_images",
    "latency_p50_ms", "latency_p99_ms", "speedup_vs_fp32", "speedup_ci_low", "speedup_ci_high", "speedup_ci_coverage",
    "fps", "throughput_speedup_vs_fp32", "throughput_streams", "throughput_requests",
    "file_size_mb", "ir_precision", "inference_precision", "threads", "rounds", "val_images", "skipped_val_images",
    "calibration_images", "shape_reason", "warnings", "provenance",
]
_rank = variants.rank  # the order variants appear in tables and plots


def _load(path) -> dict:
    return json.loads(Path(path).read_text())


def _key(path) -> tuple[str, str]:
    """(model, "HxW") of a path results/{model}/{h}x{w}/..."""
    model, hw = model_and_shape(path)
    return model, hw_name(hw)


def _ir_precision(name: str) -> str:
    v = variants.get(name) if name in variants.names() else None
    if v is None or not v.is_openvino:
        return "fp32"
    return {"fp32": "fp32", "fp16": "fp16"}.get(v.ir, "int8")


MEANINGFUL_MAP = 0.05  # below this true-f32 mAP50-95 a shape's accuracy comparison carries no information


def build(metrics: list, matches: list, benchmarks: list, shapes: list, calibrations: list, *, max_drop: float,
          n_boot: int, seed: int, profiles: list = (), pipelines: list = (),
          squares: list = ()) -> tuple[list[dict], list[dict]]:
    """The summary rows and one verdict per model x shape. Paths are grouped by their results/{model}/{h}x{w}.
    ``n_boot`` / ``seed``: the paired bootstrap's resamples and seed (``evaluation.bootstrap`` / ``.seed``).

    The verdict recommends only variants the workflow ships as a bundle (:func:`ovyolo.variants.comparison_only`
    are measured for comparison) and names the winner's bundle with the commands that run it
    (:func:`ovyolo.report.verdict.ship`)."""
    shape_of, data_of = {}, {}
    for p in shapes:
        rec = _load(p)
        for s in rec["shapes"]:
            shape_of[(rec["model"], f"{s['h']}x{s['w']}")] = s["reason"]
        data_of[rec["model"]] = rec.get("data")
    bench = {_key(p): _load(p) for p in benchmarks}
    calib = {_key(p): _load(p) for p in calibrations}
    profs = {_key(p): _load(p) for p in profiles}
    pipes = {_key(p): _load(p) for p in pipelines}
    squares_of = {_key(p): _load(p) for p in squares}
    groups: dict[tuple[str, str], dict[str, tuple[dict, str]]] = {}
    not_measured: dict[tuple[str, str], dict[str, str]] = {}
    for mp, xp in zip(metrics, matches):
        m = _load(mp)
        groups.setdefault(_key(mp), {})
        if m.get("measured", True):
            groups[_key(mp)][m["variant"]] = (m, xp, mp)
        else:  # a record of why the node did not measure it (validate's not_measured_record): no row, a line
            not_measured.setdefault(_key(mp), {})[m["variant"]] = m["not_measured"]

    table, verdicts = [], []
    for key in sorted(groups, key=lambda k: (k[0], int(k[1].split("x")[0]) * int(k[1].split("x")[1]), k[1])):
        model, shape = key
        h, w = (int(v) for v in shape.split("x"))
        members = groups[key]
        b = bench.get(key, {})
        cal = calib.get(key, {})
        lat_ratios = ((b.get("ratios") or {}).get("latency") or {}).get("speedup_over_baseline", {})
        thr_ratios = ((b.get("ratios") or {}).get("throughput") or {}).get("speedup_over_baseline", {})
        base_matches = load_matches(members[BASELINE][1]) if BASELINE in members else None
        shared_warnings = list(cal.get("warnings") or [])
        base_map = members[BASELINE][0].get("mAP50_95") if BASELINE in members else None
        if base_map is not None and base_map < MEANINGFUL_MAP:
            shared_warnings.append(
                f"true f32 scores mAP50-95 {base_map:.3f} at {shape}: the model finds (almost) none of the val objects "
                f"at this shape, so the mAP drops and the verdict's accuracy side mean nothing here; judge accuracy at "
                "a shape the model was trained for")
        rows, verdict_rows, per_class = [], [], {}
        for name in sorted(members, key=_rank):
            m, xpath, mpath = members[name]
            mine = load_matches(xpath)
            boot = paired_bootstrap(base_matches, mine, n=n_boot, seed=seed) if base_matches is not None else None
            bv = (b.get("variants") or {}).get(name, {})
            lat = bv.get("latency") or {}
            if name == BASELINE:
                speed = {"median": 1.0, "ci_low": 1.0, "ci_high": 1.0, "coverage": None}
            else:
                speed = lat_ratios.get(name) or {}
            thr = bv.get("throughput") or {}
            warnings = list(shared_warnings)
            if m.get("skipped"):
                warnings.append(f"{m['skipped']} unreadable val image(s) skipped")
            agreement = m.get("agreement") or {}
            spec = variants.get(name) if name in variants.names() else None
            row = {
                "model": model, "shape": shape, "h": h, "w": w, "variant": name, "label": spec.label if spec else name,
                "mAP50": m["mAP50"], "mAP50_95": m["mAP50_95"],
                "mAP50_95_ci_low": boot["var"]["mAP50_95_ci"][0] if boot else None,
                "mAP50_95_ci_high": boot["var"]["mAP50_95_ci"][1] if boot else None,
                "mAP50_95_drop": boot["drop"]["mAP50_95"] if boot else None,
                "mAP50_95_drop_ci_low": boot["drop"]["mAP50_95_ci"][0] if boot else None,
                "mAP50_95_drop_ci_high": boot["drop"]["mAP50_95_ci"][1] if boot else None,
                "mean_abs_diff_vs_fp32": agreement.get("mean_abs_diff"),
                "agreement_images": agreement.get("images"),
                "latency_p50_ms": lat.get("p50_ms"), "latency_p99_ms": lat.get("p99_ms"),
                "speedup_vs_fp32": speed.get("median"), "speedup_ci_low": speed.get("ci_low"),
                "speedup_ci_high": speed.get("ci_high"), "speedup_ci_coverage": speed.get("coverage"),
                "fps": thr.get("fps"),
                "throughput_speedup_vs_fp32": 1.0 if name == BASELINE else (thr_ratios.get(name) or {}).get("median"),
                "throughput_streams": thr.get("streams"), "throughput_requests": thr.get("requests"),
                "file_size_mb": bv["file_size_bytes"] / 2**20 if bv.get("file_size_bytes") else None,
                "ir_precision": _ir_precision(name),
                "inference_precision": bv.get("inference_precision", m.get("inference_precision")),
                "threads": b.get("threads"), "rounds": (b.get("latency_run") or {}).get("rounds"),
                "val_images": m.get("images"), "skipped_val_images": m.get("skipped", 0),
                "calibration_images": cal.get("count"), "shape_reason": shape_of.get(key),
                "warnings": "; ".join(warnings),
                # the validate job's provenance: sha256 of the model files it ran, which have their own beside them
                "provenance": str(Path(mpath).parent / "provenance.json"),
                "round_medians_ms": lat.get("round_medians_ms"),
            }
            rows.append(row)
            if boot is not None and name != BASELINE:
                class_names = list(m.get("per_class") or {})
                per_class[name] = [{**c, "name": class_names[c["class"]] if c["class"] < len(class_names)
                                    else str(c["class"])}
                                   for c in per_class_drop(base_matches, mine, n=n_boot, seed=seed)]
            if boot is not None and speed.get("median") is not None:
                verdict_rows.append({
                    "variant": name, "label": row["label"],
                    "speedup": {"ratio": speed["median"], "ci": [speed["ci_low"], speed["ci_high"]]},
                    "drop": {"mAP50_95": boot["drop"]["mAP50_95"], "ci": boot["drop"]["mAP50_95_ci"]},
                    "file_size_mb": row["file_size_mb"],
                })
        v = (verdict(verdict_rows, max_drop=max_drop, baseline=BASELINE,
                     comparison_only=variants.comparison_only([r["variant"] for r in verdict_rows]))
             if verdict_rows else None)
        throughput = [throughput_line(r, conv_share(profs.get(key), r["variant"])) for r in rows
                      if r["variant"] in (BASELINE, variants.OURS_INT8)]
        for row in rows:
            row["verdict"] = None if v is None else ("winner" if row["variant"] == v["winner"] else "lost")
        shorts = {o["variant"]: o["short"] for o in (v or {}).get("rows", [])}
        if v is not None:
            shorts[BASELINE] = "recommended" if v["is_baseline"] else "baseline"
        glance = [{"variant": r["variant"], "label": r["label"], "p50_ms": r["latency_p50_ms"],
                   "speedup": r["speedup_vs_fp32"], "speedup_ci": [r["speedup_ci_low"], r["speedup_ci_high"]],
                   "mAP50_95": r["mAP50_95"], "drop": r["mAP50_95_drop"],
                   "drop_ci": [r["mAP50_95_drop_ci_low"], r["mAP50_95_drop_ci_high"]],
                   "verdict": shorts.get(r["variant"], "not compared")} for r in rows]
        verdicts.append({"model": model, "shape": shape, "shape_reason": shape_of.get(key), "warnings": shared_warnings,
                         "ours_vs_incumbent": ours_vs_incumbent(members, n_boot, seed),
                         "throughput": [t for t in throughput if t],
                         "calibration_images": cal.get("count"), "val_images": rows[0]["val_images"] if rows else None,
                         "verdict": v, "table": glance, "per_class": per_class,
                         "pipeline": pipeline_line(pipes[key]) if key in pipes else None,
                         "batch": batch_line(pipes[key]) if key in pipes else None,
                         "square": square_line(squares_of[key]) if key in squares_of else None,
                         "timing": timing_line(b), "not_measured": dict(sorted(not_measured.get(key, {}).items(),
                                                                    key=lambda kv: variants.rank(kv[0]))),
                         "ship": ship(v["winner"], str(Path(members[v["winner"]][2]).parent.parent), data_of.get(model))
                         if v and v["winner"] in members else None})
        table += rows
    return table, verdicts


def ours_vs_incumbent(members: dict, n_boot: int, seed: int) -> dict | None:
    """mAP50-95 of our INT8 minus Ultralytics' INT8 on the same val images, with the paired-bootstrap CI (None
    unless both were measured): positive = ours better."""
    if variants.OURS_INT8 not in members or variants.INCUMBENT not in members:
        return None
    b = paired_bootstrap(load_matches(members[variants.INCUMBENT][1]), load_matches(members[variants.OURS_INT8][1]),
                         n=n_boot, seed=seed)
    d = b["drop"]  # incumbent - ours
    return {"ours": variants.OURS_INT8, "incumbent": variants.INCUMBENT, "mAP50_95_diff": -d["mAP50_95"],
            "ci": [-d["mAP50_95_ci"][1], -d["mAP50_95_ci"][0]], "images": b["images"], "level": b["level"]}


def conv_share(profile: dict | None, variant: str) -> float | None:
    """The share of a variant's per-op counter time spent in convolutions (int8 and float), from its profile."""
    v = (profile or {}).get("variants", {}).get(variant)
    if not v:
        return None
    return sum(v["categories"].get(c, {}).get("share", 0.0) for c in ("conv_int8", "conv_float"))


def throughput_line(row: dict, conv: float | None = None) -> str | None:
    """What was measured of async throughput against latency mode for one row: FPS, streams and requests the
    THROUGHPUT hint chose, the ratio to latency-mode FPS (1000 / p50), threads, and (``conv``, from the shape's
    profile) the share of the variant's time in convolutions. No explanation beyond these numbers."""
    if not row.get("fps") or not row.get("latency_p50_ms"):
        return None
    sync_fps = 1000.0 / row["latency_p50_ms"]
    gain = row["fps"] / sync_fps
    line = (f"{row['variant']}: {row['fps']:.1f} FPS async ({row.get('throughput_streams')} streams, "
            f"{row.get('throughput_requests')} requests) vs {sync_fps:.1f} FPS in latency mode (batch 1, "
            f"{row.get('threads')} threads): async is {gain:.2f}x latency mode here")
    if conv is not None:
        line += f"; convolutions are {100 * conv:.0f}% of its per-op counter time (profile)"
    return line


def write_csv(table: list[dict], path: str | Path) -> None:
    import csv

    from ovyolo.atomic import atomic_file

    with atomic_file(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in table:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items() if k in COLUMNS})


