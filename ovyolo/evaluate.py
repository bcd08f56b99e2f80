"""Accuracy of a detector on a letterboxed val split: decoding + NMS, COCO mAP (pycocotools) and output agreement.

Every variant (PyTorch, ONNX Runtime, OpenVINO FP32/FP16/INT8) goes through :func:`evaluate` with the same
preprocessing (:mod:`ovyolo.letterbox`), the same NMS and the same COCOeval, so their numbers are comparable.
"""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Callable

import numpy as np

from ovyolo.errors import WorkflowError

log = logging.getLogger(__name__)

LAYOUTS = ("ultralytics", "yolov5")
MAX_DET = 300
MAX_NMS = 30000  # Ultralytics' cap on NMS candidates
RAW_IMAGES = 32  # images whose raw outputs are kept for the agreement with the fp32 reference
PROGRESS_SECONDS = 10.0


def nms(raw: np.ndarray, layout: str, nc: int, conf: float = 0.001, iou: float = 0.7,
        max_det: int = MAX_DET, multi_label: bool = True) -> np.ndarray:
    """Decode one image's raw output and run class-aware NMS, as Ultralytics' ``non_max_suppression`` does for
    ``yolo val`` (``multi_label=True``, conf 0.001, iou 0.7, max_det 300, at most 30000 candidates).

    ``layout`` "ultralytics": ``raw`` is ``(1, 4 + nc, N)`` (cx, cy, w, h, then per-class scores);
    "yolov5": ``(1, N, 5 + nc)`` (cx, cy, w, h, objectness, class probabilities; score = obj * cls).
    ``multi_label``: a box yields one candidate per class scoring above ``conf`` (Ultralytics' validator; only with
    more than one class); otherwise each box keeps its single best class (Ultralytics' predictor). Candidates with
    score <= ``conf`` are dropped. Returns an ``(M, 6)`` float32 array ``x1, y1, x2, y2, score, cls`` in
    network-input (canvas) pixels, best first, M <= max_det.
    """
    import torch
    import torchvision

    raw = np.asarray(raw, dtype=np.float32)
    if layout == "ultralytics":
        if raw.ndim != 3 or raw.shape[0] != 1 or raw.shape[1] != 4 + nc:
            raise WorkflowError(f"ultralytics-layout output must be (1, {4 + nc}, N) for {nc} classes, got {raw.shape}")
        rows = raw[0].T
        boxes, scores = rows[:, :4], rows[:, 4:]
    elif layout == "yolov5":
        if raw.ndim != 3 or raw.shape[0] != 1 or raw.shape[2] != 5 + nc:
            raise WorkflowError(f"yolov5-layout output must be (1, N, {5 + nc}) for {nc} classes, got {raw.shape}")
        rows = raw[0]
        boxes, scores = rows[:, :4], rows[:, 5:] * rows[:, 4:5]
    else:
        raise WorkflowError(f"unknown output layout '{layout}'; use one of {', '.join(LAYOUTS)}")
    if multi_label and nc > 1:
        box_i, cls = np.nonzero(scores > conf)
        best = scores[box_i, cls]
        boxes = boxes[box_i]
    else:
        cls = scores.argmax(1)
        best = scores[np.arange(len(scores)), cls]
        keep = best > conf
        boxes, best, cls = boxes[keep], best[keep], cls[keep]
    if not len(best):
        return np.zeros((0, 6), dtype=np.float32)
    if len(best) > MAX_NMS:
        top = np.argsort(-best, kind="stable")[:MAX_NMS]
        boxes, best, cls = boxes[top], best[top], cls[top]
    xyxy = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], axis=1)
    t_boxes, t_scores = torch.from_numpy(xyxy), torch.from_numpy(np.ascontiguousarray(best))
    idx = torchvision.ops.batched_nms(t_boxes, t_scores, torch.from_numpy(cls), iou)[:max_det].numpy()
    return np.concatenate([xyxy[idx], best[idx, None], cls[idx, None].astype(np.float32)], axis=1).astype(np.float32)


def _ap(precision: np.ndarray) -> tuple[float | None, float | None]:
    """(AP at IoU 0.5, AP averaged over IoU 0.5:0.95) from a COCOeval ``precision[T, R]`` slice; None if no GT."""
    if (precision < 0).all():
        return None, None
    return float(precision[0].mean()), float(precision.mean())


def cocoeval(preds: list[np.ndarray], gts: list[np.ndarray], sizes: list[tuple[int, int]], names: list[str]):
    """pycocotools' ``COCOeval`` (bbox, up to :data:`MAX_DET` detections per image, area range 'all') with
    ``evaluate()`` run on our per-image lists; ``(ev, gt_counts)``, ``ev`` None when there is nothing to match.

    ``preds[i]``: ``(M, 6)`` ``x1, y1, x2, y2, score, cls``; ``gts[i]``: ``(K, 5)`` ``cls, x1, y1, x2, y2``; both in
    original-image pixels; ``sizes[i]`` = (h, w). Image ``i`` gets id ``i + 1``, class ``c`` category ``c + 1``.
    ``gt_counts[k]``: ground-truth boxes of class ``k``. The one place the COCO data set is built
    (:func:`coco_eval` and :func:`ovyolo.stats.matches_from_preds` both start here).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not (len(preds) == len(gts) == len(sizes)):
        raise WorkflowError(
            f"coco_eval needs one entry per image: {len(preds)} preds, {len(gts)} gts, {len(sizes)} sizes"
        )
    images, anns, dets = [], [], []
    for i, (p, g, (h, w)) in enumerate(zip(preds, gts, sizes), start=1):
        images.append({"id": i, "height": int(h), "width": int(w)})
        for c, x1, y1, x2, y2 in np.asarray(g, dtype=np.float64).reshape(-1, 5):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c) + 1, "iscrowd": 0,
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})
        for x1, y1, x2, y2, s, c in np.asarray(p, dtype=np.float64).reshape(-1, 6):
            dets.append({"image_id": i, "category_id": int(c) + 1, "score": s, "bbox": [x1, y1, x2 - x1, y2 - y1]})
    n_classes = len(names)
    gt_cls = np.asarray([a["category_id"] - 1 for a in anns], dtype=int)
    counts = np.bincount(gt_cls[(gt_cls >= 0) & (gt_cls < n_classes)], minlength=n_classes)
    if not (dets and anns):
        return None, counts
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns,
                  "categories": [{"id": k + 1, "name": n} for k, n in enumerate(names)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.params.maxDets = [MAX_DET]
        ev.params.areaRng, ev.params.areaRngLbl = [[0.0, 1e10]], ["all"]
        ev.evaluate()
    return ev, counts


def coco_eval(preds: list[np.ndarray], gts: list[np.ndarray], sizes: list[tuple[int, int]],
              names: list[str], *, with_matches: bool = False):
    """COCO bbox mAP (pycocotools COCOeval, 101-point interpolation, IoU 0.50:0.05:0.95, all areas) of the lists
    :func:`cocoeval` takes. Up to :data:`MAX_DET` detections per image are scored (the NMS cap, not COCO's 100).
    Overall mAP is the mean over classes that have ground truth (None if none has); per-class values are None for
    classes without ground truth.

    ``with_matches``: return ``(result, matches)``, the per-image :class:`ovyolo.stats.Matches` of the same
    ``COCOeval.evaluate()`` (for the paired bootstrap), so that a validation matches its detections once.
    """
    n_classes = len(names)
    ev, counts = cocoeval(preds, gts, sizes, names)
    matches = None
    if with_matches:
        from ovyolo.stats import matches_of

        matches = matches_of(ev, gts, n_classes)  # before accumulate(), which only reads evalImgs
    # precision[T=10, R=101, K] as COCOeval.accumulate lays it out; -1 where a class has no GT
    precision = np.where(counts > 0, 0.0, -1.0)[None, None, :].repeat(10, 0).repeat(101, 1)
    if ev is not None:
        with contextlib.redirect_stdout(io.StringIO()):
            ev.accumulate()
        precision = ev.eval["precision"][:, :, :n_classes, 0, -1]
    per_class = {}
    for k, name in enumerate(names):
        m50, m = _ap(precision[:, :, k])
        per_class[name] = None if m is None else {"mAP50": m50, "mAP50_95": m, "instances": int(counts[k])}
    valid = precision[:, :, counts > 0]
    result = {
        "mAP50": float(valid[0].mean()) if valid.size else None,
        "mAP50_95": float(valid.mean()) if valid.size else None,
        "per_class": per_class,
        "images": len(preds),
        "instances": int(sum(len(np.asarray(g).reshape(-1, 5)) for g in gts)),
    }
    return (result, matches) if with_matches else result


def ultralytics_eval(preds: list[np.ndarray], gts: list[np.ndarray], names: list[str]) -> dict:
    """mAP computed as ``yolo val`` computes it, on the same per-image lists :func:`coco_eval` takes.

    Uses Ultralytics' own code: ``box_iou``, the validator's ``match_predictions`` (greedy, by confidence, per IoU
    threshold 0.50:0.05:0.95) and ``ap_per_class`` (pooled over images, continuous 101-point interpolated area
    under the precision envelope, classes with ground truth). Returns ``{"mAP50", "mAP50_95"}`` (None if no GT).
    """
    import torch
    from types import SimpleNamespace

    from ultralytics.engine.validator import BaseValidator
    from ultralytics.utils.metrics import ap_per_class, box_iou

    matcher = SimpleNamespace(iouv=torch.linspace(0.5, 0.95, 10))
    tps, confs, pcls, tcls = [], [], [], []
    for p, g in zip(preds, gts):
        p = np.asarray(p, dtype=np.float32).reshape(-1, 6)
        g = np.asarray(g, dtype=np.float32).reshape(-1, 5)
        tcls.append(g[:, 0])
        confs.append(p[:, 4])
        pcls.append(p[:, 5])
        if len(p) and len(g):
            iou = box_iou(torch.from_numpy(g[:, 1:]), torch.from_numpy(p[:, :4]))
            tps.append(BaseValidator.match_predictions(matcher, torch.from_numpy(p[:, 5]), torch.from_numpy(g[:, 0]),
                                                       iou).numpy())
        else:
            tps.append(np.zeros((len(p), 10), dtype=bool))
    target_cls = np.concatenate(tcls) if tcls else np.zeros(0)
    if not len(target_cls):
        return {"mAP50": None, "mAP50_95": None}
    if not sum(len(c) for c in confs):
        return {"mAP50": 0.0, "mAP50_95": 0.0}
    ap = ap_per_class(np.concatenate(tps), np.concatenate(confs), np.concatenate(pcls), target_cls)[5]
    return {"mAP50": float(ap[:, 0].mean()), "mAP50_95": float(ap.mean())}


def gt_boxes(image_path: str | Path, hw_src: tuple[int, int]) -> np.ndarray:
    """An image's YOLO labels as ``(K, 5)`` ``cls, x1, y1, x2, y2`` in pixels of the ``hw_src`` = (h, w) image."""
    from ovyolo.data import read_labels

    lab = read_labels(Path(image_path))
    h, w = hw_src
    out = np.empty_like(lab)
    out[:, 0] = lab[:, 0]
    out[:, 1], out[:, 3] = (lab[:, 1] - lab[:, 3] / 2) * w, (lab[:, 1] + lab[:, 3] / 2) * w
    out[:, 2], out[:, 4] = (lab[:, 2] - lab[:, 4] / 2) * h, (lab[:, 2] + lab[:, 4] / 2) * h
    return out


class Evaluation(tuple):
    """What :func:`evaluate` returns: unpacks as ``(result, raw)`` (as before), and carries the per-image lists.

    - ``result``: the metrics dict (see :func:`evaluate`).
    - ``raw``: float32 ``(k, *raw.shape[1:])``, the raw outputs of the first ``k = min(raw_images, n)`` images read
      (in the given order; only these are kept, for the agreement with the fp32 reference).
    - ``preds``: list of n float32 ``(M_i, 6)`` ``x1, y1, x2, y2, score, cls``, original-image pixels, M_i <= 300.
    - ``gts``: list of n float64 ``(K_i, 5)`` ``cls, x1, y1, x2, y2``, original-image pixels.
    - ``sizes``: list of n ``(h, w)`` ints, the images as read (EXIF orientation applied).
    - ``files``: list of n ``str`` paths, the images read (unreadable ones are left out of all four lists).

    - ``matches``: the per-image COCO matches (:class:`ovyolo.stats.Matches`) of the same COCOeval as ``result``.

    ``coco_eval(ev.preds, ev.gts, ev.sizes, names)`` reproduces ``result``'s COCO numbers exactly.
    """

    def __new__(cls, result: dict, raw: np.ndarray, preds: list, gts: list, sizes: list, files: list, matches=None):
        obj = super().__new__(cls, (result, raw))
        obj.result, obj.raw, obj.preds, obj.gts, obj.sizes, obj.files = result, raw, preds, gts, sizes, files
        obj.matches = matches
        return obj


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def evaluate(predict: Callable[[np.ndarray], np.ndarray], images: list[Path], hw: tuple[int, int], names: list[str],
             layout: str, conf: float = 0.001, iou: float = 0.7, *, multi_label: bool = True,
             raw_images: int = RAW_IMAGES, progress_seconds: float = PROGRESS_SECONDS) -> Evaluation:
    """Letterbox each image to ``hw``, run ``predict`` (1x3xHxW float32 -> raw batch-1 output), NMS, map boxes
    back to the original image and score against its labels with :func:`coco_eval`.

    Streams: memory does not grow with the raw outputs of the split; only the per-image detections (after NMS) and
    the raw outputs of the first ``raw_images`` images are kept. Progress (images done of total, rate, time left)
    is logged at least every ``progress_seconds``.

    Returns an :class:`Evaluation`, which unpacks as ``(result, raw)``. ``result`` holds the COCO metrics (primary:
    ``mAP50``, ``mAP50_95``, ``per_class``, ``images``, ``instances``), ``ultralytics`` (the same detections scored as
    ``yolo val`` scores them, :func:`ultralytics_eval`), and ``conf``, ``iou``, ``hw``, ``layout``, ``multi_label``,
    ``skipped`` (unreadable images) and ``raw_images`` (how many images ``raw`` holds).
    """
    import time

    from ovyolo.letterbox import load_letterboxed, to_tensor

    preds, gts, sizes, files, raws, skipped = [], [], [], [], [], 0
    total, t0 = len(images), time.perf_counter()
    last = t0
    for n, path in enumerate(images, start=1):
        try:
            canvas, geo = load_letterboxed(path, hw)
        except ValueError as exc:
            log.warning("skipping unreadable val image: %s", exc)
            skipped += 1
            continue
        raw = np.asarray(predict(to_tensor(canvas)), dtype=np.float32)
        det = nms(raw, layout, len(names), conf=conf, iou=iou, multi_label=multi_label)
        det[:, :4] = geo.boxes_to_source(det[:, :4])
        preds.append(det)
        gts.append(gt_boxes(path, (geo.src_h, geo.src_w)))
        sizes.append((geo.src_h, geo.src_w))
        files.append(str(path))
        if len(raws) < raw_images:
            raws.append(raw)
        now = time.perf_counter()
        if now - last >= progress_seconds:
            rate = n / (now - t0)
            log.info("validated %d/%d images (%.1f img/s), about %s left", n, total, rate,
                     _duration((total - n) / rate))
            last = now
    if not preds:
        raise WorkflowError(f"none of the {len(images)} val images could be read; check the dataset's val split")
    elapsed = time.perf_counter() - t0
    log.info("validated %d/%d images in %s (%.1f img/s, %d unreadable)", len(preds), total, _duration(elapsed),
             len(preds) / max(elapsed, 1e-9), skipped)
    result, matches = coco_eval(preds, gts, sizes, names, with_matches=True)
    result.update({"ultralytics": ultralytics_eval(preds, gts, names), "conf": conf, "iou": iou,
                   "hw": [int(hw[0]), int(hw[1])], "layout": layout, "multi_label": bool(multi_label),
                   "skipped": skipped, "raw_images": len(raws)})
    raw = np.concatenate(raws, axis=0).astype(np.float32, copy=False)
    return Evaluation(result, raw, preds, gts, sizes, files, matches)


def agreement(raw: np.ndarray, ref: np.ndarray) -> dict:
    """How closely raw outputs match a reference of the same shape: mean/max absolute and relative mean difference."""
    raw, ref = np.asarray(raw, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if raw.shape != ref.shape:
        raise WorkflowError(
            f"raw outputs of shape {tuple(raw.shape)} cannot be compared with the reference of shape "
            f"{tuple(ref.shape)}; both must come from the same val images at the same size"
        )
    diff = np.abs(raw - ref)
    scale = float(np.abs(ref).mean()) if ref.size else 0.0
    mean = float(diff.mean()) if diff.size else 0.0
    return {
        "mean_abs_diff": mean,
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "rel_mean_abs_diff": mean / scale if scale > 0 else (0.0 if mean == 0 else float("inf")),
    }
