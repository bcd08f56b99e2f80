"""Accuracy of a detector on a letterboxed val split: decoding + NMS, COCO mAP (pycocotools) and output agreement.

Every variant (PyTorch, ONNX Runtime, OpenVINO FP32/FP16/INT8) goes through :func:`evaluate` with the same
preprocessing (:mod:`ovyolo.data.letterbox`), the same NMS and the same COCOeval, so their numbers are comparable.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ovyolo.errors import WorkflowError
from ovyolo.layouts import END2END, LAYOUTS
from ovyolo.measure.scoring import MAX_DET, Matches, coco_eval, ultralytics_eval

log = logging.getLogger(__name__)

MAX_NMS = 30000  # Ultralytics' cap on NMS candidates
RAW_IMAGES = 32  # images whose raw outputs are kept for the agreement with the fp32 reference
PROGRESS_SECONDS = 10.0


def nms(raw: np.ndarray, layout: str, nc: int, conf: float, iou: float,
        max_det: int = MAX_DET, multi_label: bool = True) -> np.ndarray:
    """Decode one image's raw output and run class-aware NMS, as Ultralytics' ``non_max_suppression`` does for
    ``yolo val`` (``multi_label=True``, conf 0.001, iou 0.7, max_det 300, at most 30000 candidates); an end-to-end
    output is only filtered, as ``yolo val`` does for such models.

    ``layout`` "ultralytics": ``raw`` is ``(1, 4 + nc, N)`` (cx, cy, w, h, then per-class scores);
    "yolov5": ``(1, N, 5 + nc)`` (cx, cy, w, h, objectness, class probabilities; score = obj * cls).
    "end2end": ``(1, K, 6)`` (x1, y1, x2, y2, score, class), rows already selected by the model's one-to-one head
    (top K = min(max_det, anchors), best first): the rows with score > ``conf``, the first ``max_det`` of them --
    what Ultralytics' ``non_max_suppression(..., end2end=True)`` does for ``yolo val`` and ``predict`` of an
    end-to-end model; ``iou`` and ``multi_label`` do not apply (no NMS, one class per row).
    ``multi_label``: a box yields one candidate per class scoring above ``conf`` (Ultralytics' validator; only with
    more than one class); otherwise each box keeps its single best class (Ultralytics' predictor). Candidates with
    score <= ``conf`` are dropped. Returns an ``(M, 6)`` float32 array ``x1, y1, x2, y2, score, cls`` in
    network-input (canvas) pixels, best first, M <= max_det.
    """
    import torch
    import torchvision

    raw = np.asarray(raw, dtype=np.float32)
    if layout == END2END:
        if raw.ndim != 3 or raw.shape[0] != 1 or raw.shape[2] != 6:
            raise WorkflowError(f"end2end-layout output must be (1, K, 6) (x1, y1, x2, y2, score, class), got {raw.shape}")
        rows = raw[0]
        return np.ascontiguousarray(rows[rows[:, 4] > conf][:max_det], dtype=np.float32)
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


def decoding(layout: str, multi_label: bool) -> str:
    """How :func:`nms` turns a raw output of ``layout`` into detections, in words (recorded in metrics.json)."""
    if layout == END2END:
        return (f"no NMS (end-to-end head): rows with score > conf, first max_det={MAX_DET}, as yolo val does for "
                "end-to-end models")
    return (f"class-aware NMS{', multi-label' if multi_label else ', best class per box'}, score > conf, "
            f"max_det={MAX_DET}, at most {MAX_NMS} candidates, as yolo val")


def gt_boxes(image_path: str | Path, hw_src: tuple[int, int]) -> np.ndarray:
    """An image's YOLO labels as ``(K, 5)`` ``cls, x1, y1, x2, y2`` in pixels of the ``hw_src`` = (h, w) image."""
    from ovyolo.data.dataset import read_labels

    lab = read_labels(Path(image_path))
    h, w = hw_src
    out = np.empty_like(lab)
    out[:, 0] = lab[:, 0]
    out[:, 1], out[:, 3] = (lab[:, 1] - lab[:, 3] / 2) * w, (lab[:, 1] + lab[:, 3] / 2) * w
    out[:, 2], out[:, 4] = (lab[:, 2] - lab[:, 4] / 2) * h, (lab[:, 2] + lab[:, 4] / 2) * h
    return out


@dataclass
class Evaluation:
    """What :func:`evaluate` returns.

    - ``result``: the metrics dict (see :func:`evaluate`).
    - ``raw``: float32 ``(k, *raw.shape[1:])``, the raw outputs of the first ``k = min(raw_images, n)`` images read
      (in the given order; only these are kept, for the agreement with the fp32 reference).
    - ``preds``: list of n float32 ``(M_i, 6)`` ``x1, y1, x2, y2, score, cls``, original-image pixels, M_i <= 300.
    - ``gts``: list of n float64 ``(K_i, 5)`` ``cls, x1, y1, x2, y2``, original-image pixels.
    - ``sizes``: list of n ``(h, w)`` ints, the images as read (EXIF orientation applied).
    - ``files``: list of n ``str`` paths, the images read (unreadable ones are left out of all four lists).
    - ``matches``: the per-image COCO matches (:class:`ovyolo.measure.scoring.Matches`) of the same COCOeval as
      ``result``.

    ``coco_eval(ev.preds, ev.gts, ev.sizes, names)`` reproduces ``result``'s COCO numbers exactly.
    """

    result: dict
    raw: np.ndarray
    preds: list
    gts: list
    sizes: list
    files: list
    matches: Matches | None = None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


PREFETCH = 8  # images read and letterboxed ahead of the inference (memory: a few canvases)


def _read_items(images: list[Path], hw: tuple[int, int]) -> Iterator[tuple]:
    """``(path, 1x3xHxW float32, geometry, labels)`` per readable image, ``(path, None, error, None)`` otherwise:
    what the reading thread of :func:`evaluate` produces (exact full-size decoding and letterboxing)."""
    from ovyolo.data.letterbox import load_letterboxed, to_tensor

    for path in images:
        try:
            canvas, geo = load_letterboxed(path, hw)
        except ValueError as exc:
            yield path, None, exc, None
            continue
        yield path, to_tensor(canvas), geo, gt_boxes(path, (geo.src_h, geo.src_w))


def evaluate(predict, images: list[Path], hw: tuple[int, int], names: list[str],
             layout: str, conf: float | None = None, iou: float | None = None, *, multi_label: bool = True,
             raw_images: int = RAW_IMAGES, progress_seconds: float = PROGRESS_SECONDS) -> Evaluation:
    """Letterbox each image to ``hw``, run ``predict`` (1x3xHxW float32 -> raw batch-1 output), NMS, map boxes
    back to the original image and score against its labels with :func:`coco_eval`. ``conf`` / ``iou``: the NMS
    thresholds, by default the config's ``evaluation.conf`` / ``.iou``.

    ``predict``: a callable, or a :class:`~ovyolo.measure.runtimes.Runner`, whose :meth:`infer_all` keeps several
    batch-1 requests in flight (OpenVINO). Either way one pipeline runs: a thread reads, letterboxes and loads the
    labels of the next ``PREFETCH`` images (:func:`ovyolo.data.prefetch.prefetch`) while the current ones are
    inferred; outputs are decoded in the images' order, so the numbers are those of a plain loop.

    Streams: memory does not grow with the raw outputs of the split; only the per-image detections (after NMS) and
    the raw outputs of the first ``raw_images`` images are kept. Progress (images done of total, rate, time left)
    is logged at least every ``progress_seconds``.

    Returns an :class:`Evaluation`; its ``result`` holds the COCO metrics (primary:
    ``mAP50``, ``mAP50_95``, ``per_class``, ``images``, ``instances``), ``ultralytics`` (the same detections scored as
    ``yolo val`` scores them, :func:`ultralytics_eval`), and ``conf``, ``iou``, ``hw``, ``layout``, ``multi_label``,
    ``skipped`` (unreadable images) and ``raw_images`` (how many images ``raw`` holds).
    """
    import time

    from ovyolo.config import default
    from ovyolo.data.prefetch import prefetch

    conf = default("evaluation.conf") if conf is None else conf
    iou = default("evaluation.iou") if iou is None else iou
    infer_all = getattr(predict, "infer_all", None)
    if infer_all is None:
        def infer_all(pairs):
            for key, x in pairs:
                yield key, predict(x)

    preds, gts, sizes, files, raws, skipped = [], [], [], [], [], 0
    total, t0 = len(images), time.perf_counter()
    last = t0

    def readable():
        nonlocal skipped
        for path, tensor, geo, gt in prefetch(_read_items(images, hw), PREFETCH, name="ovyolo-val-reader"):
            if tensor is None:
                log.warning("skipping unreadable val image: %s", geo)
                skipped += 1
                continue
            yield (path, geo, gt), tensor

    for n, ((path, geo, gt), raw) in enumerate(infer_all(readable()), start=1):
        raw = np.asarray(raw, dtype=np.float32)
        det = nms(raw, layout, len(names), conf=conf, iou=iou, multi_label=multi_label)
        det[:, :4] = geo.boxes_to_source(det[:, :4])
        preds.append(det)
        gts.append(gt)
        sizes.append((geo.src_h, geo.src_w))
        files.append(str(path))
        if len(raws) < raw_images:
            raws.append(raw)
        now = time.perf_counter()
        if now - last >= progress_seconds:
            done = n + skipped
            rate = done / (now - t0)
            log.info("validated %d/%d images (%.1f img/s), about %s left", done, total, rate,
                     _duration((total - done) / rate))
            last = now
    if not preds:
        raise WorkflowError(f"none of the {len(images)} val images could be read; check the dataset's val split")
    elapsed = time.perf_counter() - t0
    log.info("validated %d/%d images in %s (%.1f img/s, %d unreadable)", len(preds), total, _duration(elapsed),
             len(preds) / max(elapsed, 1e-9), skipped)
    result, matches = coco_eval(preds, gts, sizes, names, with_matches=True)
    e2e = layout == END2END
    result.update({"ultralytics": ultralytics_eval(preds, gts, names), "conf": conf, "iou": None if e2e else iou,
                   "max_det": MAX_DET, "decoding": decoding(layout, multi_label and len(names) > 1),
                   "hw": [int(hw[0]), int(hw[1])], "layout": layout, "multi_label": bool(multi_label) and not e2e,
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
