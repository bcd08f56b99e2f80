"""Accuracy of a detector on a letterboxed val split: decoding + NMS, COCO mAP (pycocotools) and output agreement.

Every variant (PyTorch, ONNX Runtime, OpenVINO FP32/FP16/INT8) goes through :func:`evaluate` with the same
preprocessing (:mod:`ovyolo.letterbox`), the same NMS and the same COCOeval, so their numbers are comparable.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Callable

import numpy as np

from ovyolo.errors import WorkflowError

LAYOUTS = ("ultralytics", "yolov5")
MAX_DET = 300


def nms(raw: np.ndarray, layout: str, nc: int, conf: float = 0.001, iou: float = 0.7,
        max_det: int = MAX_DET) -> np.ndarray:
    """Decode one image's raw output and run class-aware NMS.

    ``layout`` "ultralytics": ``raw`` is ``(1, 4 + nc, N)`` (cx, cy, w, h, then per-class scores);
    "yolov5": ``(1, N, 5 + nc)`` (cx, cy, w, h, objectness, class probabilities; score = obj * cls).
    Each box keeps its single best class; boxes with score <= ``conf`` are dropped. Returns an ``(M, 6)``
    float32 array ``x1, y1, x2, y2, score, cls`` in network-input (canvas) pixels, best first, M <= max_det.
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
    cls = scores.argmax(1)
    best = scores[np.arange(len(scores)), cls]
    keep = best > conf
    boxes, best, cls = boxes[keep], best[keep], cls[keep]
    if not len(best):
        return np.zeros((0, 6), dtype=np.float32)
    xyxy = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], axis=1)
    t_boxes, t_scores = torch.from_numpy(xyxy), torch.from_numpy(np.ascontiguousarray(best))
    idx = torchvision.ops.batched_nms(t_boxes, t_scores, torch.from_numpy(cls), iou)[:max_det].numpy()
    return np.concatenate([xyxy[idx], best[idx, None], cls[idx, None].astype(np.float32)], axis=1).astype(np.float32)


def _ap(precision: np.ndarray) -> tuple[float | None, float | None]:
    """(AP at IoU 0.5, AP averaged over IoU 0.5:0.95) from a COCOeval ``precision[T, R]`` slice; None if no GT."""
    if (precision < 0).all():
        return None, None
    return float(precision[0].mean()), float(precision.mean())


def coco_eval(preds: list[np.ndarray], gts: list[np.ndarray], sizes: list[tuple[int, int]],
              names: list[str]) -> dict:
    """COCO bbox mAP (pycocotools COCOeval, 101-point interpolation, IoU 0.50:0.05:0.95, all areas).

    ``preds[i]``: ``(M, 6)`` ``x1, y1, x2, y2, score, cls``; ``gts[i]``: ``(K, 5)`` ``cls, x1, y1, x2, y2``; both in
    original-image pixels; ``sizes[i]`` = (h, w). Up to :data:`MAX_DET` detections per image are scored (the
    NMS cap, not COCO's 100). Overall mAP is the mean over classes that have ground truth (None if none has);
    per-class values are None for classes without ground truth.
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
    # precision[T=10, R=101, K] as COCOeval.accumulate lays it out; -1 where a class has no GT
    precision = np.where(counts > 0, 0.0, -1.0)[None, None, :].repeat(10, 0).repeat(101, 1)
    if dets and anns:
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns,
                      "categories": [{"id": k + 1, "name": n} for k, n in enumerate(names)]}
        with contextlib.redirect_stdout(io.StringIO()):
            gt.createIndex()
            ev = COCOeval(gt, gt.loadRes(dets), "bbox")
            ev.params.maxDets = [MAX_DET]
            ev.params.areaRng, ev.params.areaRngLbl = [[0.0, 1e10]], ["all"]
            ev.evaluate()
            ev.accumulate()
        precision = ev.eval["precision"][:, :, :n_classes, 0, -1]
    per_class = {}
    for k, name in enumerate(names):
        m50, m = _ap(precision[:, :, k])
        per_class[name] = None if m is None else {"mAP50": m50, "mAP50_95": m, "instances": int(counts[k])}
    valid = precision[:, :, counts > 0]
    return {
        "mAP50": float(valid[0].mean()) if valid.size else None,
        "mAP50_95": float(valid.mean()) if valid.size else None,
        "per_class": per_class,
        "images": len(images),
        "instances": len(anns),
    }


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


def evaluate(predict: Callable[[np.ndarray], np.ndarray], images: list[Path], hw: tuple[int, int], names: list[str],
             layout: str, conf: float = 0.001, iou: float = 0.7) -> tuple[dict, np.ndarray]:
    """Letterbox each image to ``hw``, run ``predict`` (1x3xHxW float32 -> raw batch-1 output), NMS, map boxes
    back to the original image and score against its labels with :func:`coco_eval`.

    Returns the metrics (plus ``conf``, ``iou``, ``hw``, ``layout`` and ``skipped``, the count of unreadable
    images) and the raw outputs stacked as float32 ``(n_read_images, *raw.shape[1:])``.
    """
    from ovyolo.letterbox import load_letterboxed, to_tensor

    preds, gts, sizes, raws, skipped = [], [], [], [], 0
    for path in images:
        try:
            canvas, geo = load_letterboxed(path, hw)
        except ValueError:
            skipped += 1
            continue
        raw = np.asarray(predict(to_tensor(canvas)), dtype=np.float32)
        det = nms(raw, layout, len(names), conf=conf, iou=iou)
        det[:, :4] = geo.boxes_to_source(det[:, :4])
        preds.append(det)
        gts.append(gt_boxes(path, (geo.src_h, geo.src_w)))
        sizes.append((geo.src_h, geo.src_w))
        raws.append(raw)
    if not raws:
        raise WorkflowError(f"none of the {len(images)} val images could be read; check the dataset's val split")
    result = coco_eval(preds, gts, sizes, names)
    result.update({"conf": conf, "iou": iou, "hw": [int(hw[0]), int(hw[1])], "layout": layout, "skipped": skipped})
    return result, np.concatenate(raws, axis=0).astype(np.float32, copy=False)


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
