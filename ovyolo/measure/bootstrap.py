"""The paired image bootstrap of mAP drops: :func:`paired_bootstrap` draws the SAME image resamples for a reference
and a variant and reports the drop (ref - var) with percentile CIs, re-accumulating the per-image COCO matches of
:mod:`ovyolo.measure.scoring` exactly like ``COCOeval.accumulate`` with integer image weights.

:func:`map_from_matches` re-accumulates (101-point interpolated precision made monotone, mean over classes with
ground truth) with optional integer image weights: image ``i`` counts ``weights[i]`` times for its detections and
its ground truth, which is what a bootstrap resample of images with replacement is.

Vectorisation. For a class and an IoU threshold only the true-positive points matter: interpolated
precision at recall threshold r is ``max{precision_j : recall_j >= r}`` and every false-positive point is
dominated by the TP point before it (same recall, more false positives). So
AP = sum over TP points j of envelope_j x (number of recall thresholds first reached at j) / 101.
Per resample (a row of image counts) this needs the weighted running count of TPs (over the TP points
only) and of all detections ranked up to each TP (one running sum per class over the detections ranked
above its last TP, shared by the 10 thresholds); "thresholds reached" comes from a per-row lookup table
over integer TP counts that makes COCOeval's float test ``tp / npig >= r``. An image drawn 0 times adds
nothing (a dominated point). All rows of a chunk of resamples go through numpy at once.
Equality with COCOeval (to 1e-9, in practice ~1e-15) is tested.

Tie note: with unit weights the result equals COCOeval exactly (ties included). ``weights[i] = k`` equals a
data set with k copies of image i; if scores tie ACROSS different images the copies' interleaving in
COCOeval's sort can differ from a weighted point, changing AP by a tie-order effect far below the resampling
noise (no ties -> exact).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ovyolo.errors import WorkflowError
from ovyolo.measure.ci import percentile_ci
from ovyolo.measure.scoring import _R, _T, REC_THRS, Matches

_EPS = np.spacing(1)
_CHUNK_ELEMS = 1 << 23  # resample-chunk size: rows x detections kept below ~8M per temporary array


# --------------------------------------------------------------------------- weighted accumulate

@dataclass(frozen=True)
class _Prepared:
    """Per class: images of the detections ranked up to the last TP, TP positions per threshold, etc."""
    img_head: np.ndarray          # images of detections [0, last TP] in rank order
    tp_pos: list                  # per threshold: ranks of the true positives
    tp_img: list                  # per threshold: their images
    tp_in_u: list                 # per threshold: index of each TP into u (positions needing a detection count)
    u: np.ndarray                 # sorted union of TP ranks over thresholds
    ign_img: list                 # per threshold: images of ignored detections before the last TP (or None)
    ign_count_at_tp: list         # per threshold: how many ignored detections rank at or before each TP
    gt: np.ndarray                # (n_images,) non-ignored GT


def _prepare(matches: Matches) -> list[_Prepared]:
    out = []
    for k, cm in enumerate(matches.classes):
        tp = cm.matched & ~cm.ignored
        tp_pos = [np.flatnonzero(tp[t]) for t in range(_T)]
        u = np.unique(np.concatenate(tp_pos)) if any(len(x) for x in tp_pos) else np.zeros(0, np.int64)
        last = int(u[-1]) + 1 if len(u) else 0
        ign_img, ign_cnt = [], []
        for t in range(_T):
            ig = np.flatnonzero(cm.ignored[t, :last])
            ign_img.append(cm.image[ig] if len(ig) else None)
            ign_cnt.append(np.searchsorted(ig, tp_pos[t], side="right") if len(ig) else None)
        out.append(_Prepared(cm.image[:last], tp_pos, [cm.image[p] for p in tp_pos],
                             [np.searchsorted(u, p) for p in tp_pos], u, ign_img, ign_cnt, matches.gt[k]))
    return out


def _ap_batch(prep: _Prepared, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AP[b, t] of one class for weight rows ``w`` (B, n_images), and the (B,) non-ignored GT totals.

    At each TP point j (per threshold): TP = weighted running TP count, precision = TP / (TP + FP + eps)
    exactly as COCOeval (TP + FP = non-ignored detections ranked at or above j, an exact integer), envelope =
    reverse running max. ``reached[b, j]`` = number of recall thresholds r with ``tp / npig >= r`` at TP point
    j (a per-row lookup table over integer counts, the same float test as COCOeval);
    AP = sum_j envelope_j x (reached_j - reached_{j-1}) / 101.
    """
    b = w.shape[0]
    npig = w @ prep.gt
    ap = np.zeros((b, _T))
    if not len(prep.u):
        return ap, npig
    acc = w.dtype
    all_at_u = np.add.accumulate(np.take(w, prep.img_head, axis=1), axis=1, dtype=acc)[:, prep.u]
    m = int(npig.max()) + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        lut = np.searchsorted(REC_THRS, np.arange(m)[None, :] / np.maximum(npig, 1)[:, None], side="right")
    lut = lut.astype(np.int32).ravel()
    off = (np.arange(b) * m).astype(np.int64 if b * m >= 2 ** 31 - 1 else np.int32)[:, None]
    for t in range(_T):
        n = len(prep.tp_pos[t])
        if not n:
            continue
        tp = np.add.accumulate(np.take(w, prep.tp_img[t], axis=1), axis=1, dtype=acc)
        seen = all_at_u if n == len(prep.u) else all_at_u[:, prep.tp_in_u[t]]
        if prep.ign_img[t] is not None:
            ign = np.add.accumulate(np.take(w, prep.ign_img[t], axis=1), axis=1, dtype=acc)
            seen = seen - np.concatenate([np.zeros((b, 1), acc), ign], axis=1)[:, prep.ign_count_at_tp[t]]
        pr = tp / np.add(seen, _EPS, dtype=np.float64)
        env = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        reached = np.take(lut, tp + off)
        newly = np.diff(reached, axis=1, prepend=0)
        ap[:, t] = np.einsum("ij,ij->i", env, newly.astype(np.float64)) / _R
    return ap, npig


def _map_batch(prepared: list[_Prepared], w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mAP50, mAP50_95) per weight row of ``w`` (B, n_images); NaN where no class has ground truth in that row."""
    s50, s, n = np.zeros(len(w)), np.zeros(len(w)), np.zeros(len(w))
    for prep in prepared:
        ap, npig = _ap_batch(prep, w)
        valid = npig > 0
        s50 += np.where(valid, ap[:, 0], 0.0)
        s += np.where(valid, ap.mean(axis=1), 0.0)
        n += valid
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, s50 / n, np.nan), np.where(n > 0, s / n, np.nan)


def _weights_array(matches: Matches, weights) -> np.ndarray:
    if weights is None:
        return np.ones((1, matches.n_images), np.int64)
    w = np.asarray(weights)
    if w.shape != (matches.n_images,):
        raise WorkflowError(f"weights must have one entry per image ({matches.n_images}), got shape {w.shape}")
    if not np.issubdtype(w.dtype, np.integer):
        if not np.array_equal(w, np.round(w)):
            raise WorkflowError("weights must be whole numbers (how many times each image is drawn)")
        w = np.round(w)
    if (w < 0).any():
        raise WorkflowError("weights must be >= 0")
    return w.astype(np.int64)[None, :]


def map_from_matches(matches: Matches, weights=None) -> tuple[float | None, float | None]:
    """(mAP50, mAP50_95) re-accumulated exactly like COCOeval.accumulate; image i counts ``weights[i]`` times.

    ``weights``: None (every image once: equals :func:`~ovyolo.measure.scoring.coco_eval`) or ``n_images`` non-negative
    integers. The mean is over classes with ground truth under these weights; (None, None) if there is none.
    """
    m50, m = _map_batch(_prepare(matches), _weights_array(matches, weights))
    return (None, None) if np.isnan(m[0]) else (float(m50[0]), float(m[0]))


def resample_weights(n_images: int, n: int, seed: int = 0) -> np.ndarray:
    """(n, n_images) int32 counts: row b = how often each image is drawn in bootstrap resample b (with replacement)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_images, size=(n, n_images))
    flat = (draws + np.arange(n)[:, None] * n_images).ravel()
    return np.bincount(flat, minlength=n * n_images).reshape(n, n_images).astype(np.int32)


def bootstrap_maps(matches: Matches, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mAP50[B], mAP50_95[B]) for each row of ``weights`` (B, n_images); NaN for a row without any GT."""
    prepared = _prepare(matches)
    longest = max([len(p.img_head) for p in prepared] + [matches.n_images, 1])
    step = max(1, _CHUNK_ELEMS // longest)
    parts = [_map_batch(prepared, weights[i:i + step]) for i in range(0, len(weights), step)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def paired_bootstrap(matches_ref: Matches, matches_var: Matches, n: int, seed: int,
                     level: float = 0.95) -> dict:
    """Paired image bootstrap of the mAP drop ``ref - var`` (same resamples of images for both variants).

    Returns (numbers are floats, CIs ``[lo, hi]`` percentile intervals at ``level``)::

        {"n": 1000, "seed": 0, "level": 0.95, "images": N, "resamples_used": n_without_NaN,
         "ref":  {"mAP50": x, "mAP50_ci": [lo, hi], "mAP50_95": x, "mAP50_95_ci": [lo, hi], "ci": [lo, hi]},
         "var":  {... same keys ...},
         "drop": {... same keys: point = ref - var on all images, CIs of the paired differences ...}}

    ``"ci"`` repeats ``"mAP50_95_ci"`` so ``result["drop"]`` is directly a :func:`verdict` row's ``drop``.
    Both match sets must come from the same images and labels (checked). A resample in which no class has
    ground truth is dropped (counted out of ``resamples_used``).
    """
    if not matches_ref.same_ground_truth(matches_var):
        raise WorkflowError("paired_bootstrap needs both variants evaluated on the same images and labels")
    if n < 1 or not 0 < level < 1:
        raise WorkflowError(f"paired_bootstrap needs n >= 1 and 0 < level < 1, got n={n}, level={level}")
    w = resample_weights(matches_ref.n_images, n, seed)
    r50, r = bootstrap_maps(matches_ref, w)
    v50, v = bootstrap_maps(matches_var, w)
    p_r50, p_r = map_from_matches(matches_ref)
    p_v50, p_v = map_from_matches(matches_var)

    def block(p50, p, b50, b):
        c = percentile_ci(b, level)
        return {"mAP50": p50, "mAP50_ci": percentile_ci(b50, level), "mAP50_95": p, "mAP50_95_ci": c, "ci": c}

    none = p_r is None
    return {
        "n": int(n), "seed": int(seed), "level": float(level), "images": int(matches_ref.n_images),
        "resamples_used": int(np.count_nonzero(~np.isnan(r))),
        "ref": block(p_r50, p_r, r50, r),
        "var": block(p_v50, p_v, v50, v),
        "drop": block(None if none else p_r50 - p_v50, None if none else p_r - p_v, r50 - v50, r - v),
    }


def per_class_drop(matches_ref: Matches, matches_var: Matches, n: int, seed: int, level: float = 0.95) -> list[dict]:
    """Per class, the AP50-95 drop ``ref - var`` with its paired-bootstrap CI: the same resamples of images as
    :func:`paired_bootstrap` (same ``n`` and ``seed``), each class's AP accumulated as in COCOeval.

    Returns one dict per class with ground truth, ``{"class": k, "gt": boxes, "ref": AP, "var": AP, "drop": ref - var,
    "ci": [lo, hi] | None}``; a resample in which the class has no ground truth does not count for its CI. The mean of
    the drops over these classes is the mAP50-95 drop."""
    if not matches_ref.same_ground_truth(matches_var):
        raise WorkflowError("per_class_drop needs both variants evaluated on the same images and labels")
    w = resample_weights(matches_ref.n_images, n, seed)
    ones = np.ones((1, matches_ref.n_images), np.int64)
    out = []
    for k, (a, b) in enumerate(zip(_prepare(matches_ref), _prepare(matches_var))):
        if not a.gt.sum():
            continue
        step = max(1, _CHUNK_ELEMS // max(len(a.img_head), len(b.img_head), matches_ref.n_images, 1))
        diffs = []
        for i in range(0, n, step):
            ap_a, npig = _ap_batch(a, w[i:i + step])
            ap_b, _ = _ap_batch(b, w[i:i + step])
            diffs.append(np.where(npig > 0, ap_a.mean(axis=1) - ap_b.mean(axis=1), np.nan))
        ref, var = float(_ap_batch(a, ones)[0].mean()), float(_ap_batch(b, ones)[0].mean())
        out.append({"class": k, "gt": int(a.gt.sum()), "ref": ref, "var": var, "drop": ref - var,
                    "ci": percentile_ci(np.concatenate(diffs), level)})
    return out
