"""Scoring detections: the COCO data set and pycocotools' ``COCOeval`` (the one place it is built), mAP as COCO
and as ``yolo val`` compute it, and the per-image matches that the paired bootstrap (:mod:`ovyolo.measure.bootstrap`)
re-accumulates.

:func:`matches_of` keeps, per class, every scored detection in COCOeval.accumulate's order (images in id order, each
image's detections by score, then a stable mergesort by score over all images) with its image, its matched flags at
the 10 IoU thresholds and its ignored flags, plus the per-image count of non-ignored ground truth.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ovyolo.errors import WorkflowError

MAX_DET = 300  # detections per image scored (the NMS cap, not COCO's 100)
IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)  # as COCOeval.Params
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)  # as COCOeval.Params
_T, _R = len(IOU_THRS), len(REC_THRS)


@dataclass(frozen=True)
class ClassMatches:
    """One class's scored detections over all images, in COCOeval.accumulate's order (score descending).

    ``score`` (n,) float64; ``image`` (n,) int64 image index (0-based, order of the input lists);
    ``matched`` (10, n) bool: matched to a ground truth at IoU threshold 0.50, 0.55, ..., 0.95;
    ``ignored`` (10, n) bool: COCOeval's dtIgnore (matched to an ignored GT, or unmatched outside the area range).
    """
    score: np.ndarray
    image: np.ndarray
    matched: np.ndarray
    ignored: np.ndarray


@dataclass(frozen=True)
class Matches:
    """Per-image COCO matching of one variant's predictions: everything mAP (and its bootstrap) needs.

    ``gt`` (n_classes, n_images) int64: non-ignored ground-truth boxes per class and image;
    ``classes``: one :class:`ClassMatches` per class. Build with :func:`matches_from_preds`.
    """
    n_images: int
    gt: np.ndarray
    classes: tuple

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def same_ground_truth(self, other: Matches) -> bool:
        return self.n_images == other.n_images and np.array_equal(self.gt, other.gt)


def save_matches(matches: Matches, path) -> None:
    """Store :class:`Matches` as one compressed ``.npz`` (so the COCO matching runs once per variant)."""
    arrays = {"n_images": np.int64(matches.n_images), "gt": matches.gt}
    for k, cm in enumerate(matches.classes):
        arrays.update({f"score_{k}": cm.score, f"image_{k}": cm.image,
                       f"matched_{k}": cm.matched, f"ignored_{k}": cm.ignored})
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_matches(path) -> Matches:
    """Read what :func:`save_matches` wrote (plain arrays only, no pickle)."""
    with np.load(path, allow_pickle=False) as z:
        gt = z["gt"]
        classes = tuple(ClassMatches(z[f"score_{k}"], z[f"image_{k}"], z[f"matched_{k}"], z[f"ignored_{k}"])
                        for k in range(gt.shape[0]))
        return Matches(int(z["n_images"]), gt, classes)


def _empty_class() -> ClassMatches:
    return ClassMatches(np.zeros(0), np.zeros(0, np.int64), np.zeros((_T, 0), bool), np.zeros((_T, 0), bool))


def _gt_counts_numpy(gts: list[np.ndarray], n_classes: int) -> np.ndarray:
    """Non-ignored GT per class and image by COCOeval's rule for area 'all' (ignored: area < 0 or > 1e10)."""
    out = np.zeros((n_classes, len(gts)), np.int64)
    for i, g in enumerate(gts):
        g = np.asarray(g, dtype=np.float64).reshape(-1, 5)
        area = (g[:, 3] - g[:, 1]) * (g[:, 4] - g[:, 2])
        c = g[:, 0].astype(int)
        keep = (c >= 0) & (c < n_classes) & (area >= 0) & (area <= 1e10)
        np.add.at(out[:, i], c[keep], 1)
    return out


def matches_from_preds(preds: list[np.ndarray], gts: list[np.ndarray], sizes: list[tuple[int, int]],
                       names: Sequence[str]) -> Matches:
    """Match once with pycocotools ``COCOeval.evaluate()`` on the same data set as :func:`~ovyolo.measure.scoring.coco_eval`.

    Inputs are those of ``coco_eval``: ``preds[i]`` ``(M, 6)`` ``x1, y1, x2, y2, score, cls``; ``gts[i]``
    ``(K, 5)`` ``cls, x1, y1, x2, y2`` in original-image pixels; ``sizes[i]`` = (h, w). Classes outside
    ``range(len(names))`` are not scored (as in coco_eval). Cost: one COCOeval.evaluate (seconds for thousands
    of images); every later mAP / bootstrap works on the returned arrays.
    """
    ev, _ = cocoeval(preds, gts, sizes, list(names))
    return matches_of(ev, gts, len(names))


def matches_of(ev, gts: list[np.ndarray], n_classes: int) -> Matches:
    """:class:`Matches` of an evaluated :func:`~ovyolo.measure.scoring.cocoeval` (``ev`` None: nothing could match)."""
    if ev is None:  # coco_eval skips accumulate here too: nothing can match
        return Matches(len(gts), _gt_counts_numpy(gts, n_classes), tuple(_empty_class() for _ in range(n_classes)))
    return matches_from_cocoeval(ev, n_classes)


def matches_from_cocoeval(ev, n_classes: int) -> Matches:
    """:class:`Matches` from a COCOeval after ``evaluate()`` with one area range and one maxDets value.

    Category ids must be 1..n_classes and image ids the sorted ``params.imgIds`` (image index = position).
    """
    p = ev.params
    if len(p.areaRng) != 1 or len(p.maxDets) != 1 or len(p.iouThrs) != _T:
        raise WorkflowError("matches_from_cocoeval needs one area range, one maxDets value and 10 IoU thresholds")
    img_ids = list(p.imgIds)
    n_img, max_det = len(img_ids), p.maxDets[-1]
    gt_count = np.zeros((n_classes, n_img), np.int64)
    classes = []
    for k in range(n_classes):
        if k + 1 not in p.catIds:
            classes.append(_empty_class())
            continue
        kk = p.catIds.index(k + 1)
        scores, img, dtm, dti = [], [], [], []
        for i in range(n_img):
            e = ev.evalImgs[kk * n_img + i]  # evalImgs is [cat][area][image]
            if e is None:
                continue
            gt_count[k, i] = int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0))
            s = np.asarray(e["dtScores"][:max_det], dtype=np.float64)
            scores.append(s)
            img.append(np.full(len(s), i, np.int64))
            dtm.append(np.asarray(e["dtMatches"])[:, :max_det].reshape(_T, -1))
            dti.append(np.asarray(e["dtIgnore"])[:, :max_det].reshape(_T, -1))
        if not scores:
            classes.append(_empty_class())
            continue
        s = np.concatenate(scores)
        order = np.argsort(-s, kind="mergesort")  # COCOeval.accumulate's exact order
        classes.append(ClassMatches(s[order], np.concatenate(img)[order],
                                    np.concatenate(dtm, axis=1)[:, order] != 0,
                                    np.concatenate(dti, axis=1)[:, order] != 0))
    return Matches(n_img, gt_count, tuple(classes))




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
    (:func:`coco_eval` and :func:`ovyolo.measure.scoring.matches_from_preds` both start here).
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

    ``with_matches``: return ``(result, matches)``, the per-image :class:`ovyolo.measure.scoring.Matches` of the same
    ``COCOeval.evaluate()`` (for the paired bootstrap), so that a validation matches its detections once.
    """
    n_classes = len(names)
    ev, counts = cocoeval(preds, gts, sizes, names)
    matches = None
    if with_matches:
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
    from types import SimpleNamespace

    import torch
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
