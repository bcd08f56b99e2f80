"""Uncertainty for the measured table: bootstrap CIs of mAP drops, CIs of speed-ups and a verdict that respects them.

Accuracy
    :func:`matches_from_preds` runs pycocotools' ``COCOeval.evaluate()`` ONCE per variant, on exactly the data set
    :func:`ovyolo.evaluate.coco_eval` builds (same ids, ``iscrowd=0``, area range 'all', ``maxDets=[300]``), and
    keeps, per class, every scored detection in COCOeval.accumulate's order (images in id order, each image's
    detections by score, then a stable mergesort by score over all images) with its image, its matched flags at
    the 10 IoU thresholds and its ignored flags, plus the per-image count of non-ignored ground truth.
    :func:`map_from_matches` re-accumulates them exactly like ``COCOeval.accumulate`` (101-point interpolated
    precision made monotone, mean over classes with ground truth) with optional integer image weights: image
    ``i`` counts ``weights[i]`` times for its detections and its ground truth, which is what a bootstrap resample
    of images with replacement is. :func:`paired_bootstrap` draws the SAME image resamples for a reference and a
    variant and reports the drop (ref - var) with percentile CIs.

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

Speed
    :func:`ratio_ci` takes per-round times from interleaved rounds (each round times the reference and the
    variant back to back, so slow drift of the machine cancels in the per-round ratio ref/var). The point estimate
    is the median ratio; the default CI is the distribution-free order-statistic (binomial) CI for the median,
    ``[r_(j), r_(k+1-j)]`` with ``j`` the largest index such that ``P(Binomial(k, 1/2) < j) <= (1 - level)/2``.
    It assumes only independent rounds from one continuous distribution, is exact (conservative: the achieved
    ``coverage`` is reported) for any k, and does not suffer from the bootstrap's known undercoverage for a
    median of 8-12 points (a bootstrap median takes only a handful of distinct values). With fewer than 6 rounds
    95 % is unreachable; the CI is then [min, max] and ``coverage`` says what it really is.
    ``method="bootstrap"`` (percentile bootstrap of rounds) is available for comparison.

Verdict
    See :func:`verdict`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ovyolo.errors import WorkflowError

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)  # as COCOeval.Params
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)  # as COCOeval.Params
_T, _R = len(IOU_THRS), len(REC_THRS)
_EPS = np.spacing(1)
_CHUNK_ELEMS = 1 << 23  # resample-chunk size: rows x detections kept below ~8M per temporary array


# --------------------------------------------------------------------------- matches

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

    def same_ground_truth(self, other: "Matches") -> bool:
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
    """Match once with pycocotools ``COCOeval.evaluate()`` on the same data set as :func:`~ovyolo.evaluate.coco_eval`.

    Inputs are those of ``coco_eval``: ``preds[i]`` ``(M, 6)`` ``x1, y1, x2, y2, score, cls``; ``gts[i]``
    ``(K, 5)`` ``cls, x1, y1, x2, y2`` in original-image pixels; ``sizes[i]`` = (h, w). Classes outside
    ``range(len(names))`` are not scored (as in coco_eval). Cost: one COCOeval.evaluate (seconds for thousands
    of images); every later mAP / bootstrap works on the returned arrays.
    """
    from ovyolo.evaluate import cocoeval

    ev, _ = cocoeval(preds, gts, sizes, list(names))
    return matches_of(ev, gts, len(names))


def matches_of(ev, gts: list[np.ndarray], n_classes: int) -> Matches:
    """:class:`Matches` of an evaluated :func:`~ovyolo.evaluate.cocoeval` (``ev`` None: nothing could match)."""
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

    ``weights``: None (every image once: equals :func:`~ovyolo.evaluate.coco_eval`) or ``n_images`` non-negative
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


def _pct(x: np.ndarray, level: float) -> list[float] | None:
    x = x[~np.isnan(x)]
    if not len(x):
        return None
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(x, [100 * a, 100 * (1 - a)])
    return [float(lo), float(hi)]


def paired_bootstrap(matches_ref: Matches, matches_var: Matches, n: int = 1000, seed: int = 0,
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
        c = _pct(b, level)
        return {"mAP50": p50, "mAP50_ci": _pct(b50, level), "mAP50_95": p, "mAP50_95_ci": c, "ci": c}

    none = p_r is None
    return {
        "n": int(n), "seed": int(seed), "level": float(level), "images": int(matches_ref.n_images),
        "resamples_used": int(np.count_nonzero(~np.isnan(r))),
        "ref": block(p_r50, p_r, r50, r),
        "var": block(p_v50, p_v, v50, v),
        "drop": block(None if none else p_r50 - p_v50, None if none else p_r - p_v, r50 - v50, r - v),
    }


# --------------------------------------------------------------------------- speed

def median_ci_rank(k: int, level: float = 0.95) -> tuple[int, float]:
    """(j, coverage): the CI for the median of k iid values is [x_(j), x_(k+1-j)] (1-based order statistics);
    the ranks of :func:`ovyolo.interleave.median_ci`, the one implementation."""
    from ovyolo.interleave import median_ci

    ci = median_ci(np.arange(1.0, k + 1), level)
    return ci["rank_low"], (ci["coverage"] if k > 1 else 0.0)


def ratio_ci(per_round_ref_ms: Sequence[float], per_round_var_ms: Sequence[float], level: float = 0.95,
             n: int = 2000, seed: int = 0, method: str = "binomial") -> dict:
    """Speed-up of a variant over a reference from interleaved rounds: the median of per-round ``ref / var``.

    Returns ``{"ratio": median, "ci": [lo, hi], "rounds": k, "level": level, "coverage": achieved,
    "method": "binomial" | "bootstrap"}``; ratio > 1 means the variant is faster. ``method="binomial"``
    (default) is the distribution-free order-statistic CI for the median (``coverage`` is its exact coverage,
    >= level when k >= 6 for 95 %); ``"bootstrap"`` is a percentile bootstrap of rounds (``n`` resamples, ``seed``;
    ``coverage`` = nominal level). See the module docstring for why binomial is the default.
    """
    ref = np.asarray(per_round_ref_ms, dtype=np.float64).ravel()
    var = np.asarray(per_round_var_ms, dtype=np.float64).ravel()
    if ref.shape != var.shape or not len(ref):
        raise WorkflowError(
            f"ratio_ci needs the same non-zero number of rounds for both, got {len(ref)} and {len(var)}"
        )
    if not (np.isfinite(ref).all() and np.isfinite(var).all() and (ref > 0).all() and (var > 0).all()):
        raise WorkflowError("ratio_ci needs positive finite per-round times")
    r = np.sort(ref / var)
    k = len(r)
    if method == "binomial":
        j, cov = median_ci_rank(k, level)
        ci = [float(r[j - 1]), float(r[k - j])]
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        meds = np.median(r[rng.integers(0, k, size=(n, k))], axis=1)
        ci, cov = _pct(meds, level), float(level)
    else:
        raise WorkflowError(f"unknown ratio_ci method '{method}'; use 'binomial' or 'bootstrap'")
    return {"ratio": float(np.median(r)), "ci": ci, "rounds": int(k), "level": float(level),
            "coverage": float(cov), "method": method}


# --------------------------------------------------------------------------- verdict

def _fmt_speed(s: dict) -> str:
    return f"{s['ratio']:.2f}x [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]"


def _fmt_drop(d: dict) -> str:
    return f"{d['mAP50_95']:.3f} [{d['ci'][0]:.3f}, {d['ci'][1]:.3f}]"


DROP_DECIMALS = 3  # drops are compared at the resolution they are reported in (0.001 mAP50-95)


def _drop_key(row: dict) -> float:
    """A row's drop point estimate as compared in a tie-break: rounded to :data:`DROP_DECIMALS`, so that two drops
    printed alike (-0.027 vs -0.027) count as the same and the higher median speed-up decides."""
    return round(float(row["drop"]["mAP50_95"]), DROP_DECIMALS)


def verdict(rows: Sequence[dict], max_drop: float = 0.01, baseline: str = "openvino-fp32") -> dict:
    """Which variant to use: the fastest one whose accuracy loss is credibly within budget, if it is measurably faster.

    ``rows``: one per candidate variant, ``{"variant": id, "label": text, "speedup": {"ratio": r, "ci": [lo, hi]},
    "drop": {"mAP50_95": d, "ci": [lo, hi]}}``; speed-up and drop are relative to ``baseline`` (a row for the
    baseline itself is optional and ignored). Rules, in order:

    1. Acceptable: the drop CI's upper bound <= ``max_drop`` (so a variant that is probably fine but too
       uncertain is rejected: the budget must hold at the CI, not just at the point estimate).
    2. Measurably faster: speed-up CI lower bound > 1. A speed-up CI containing 1.0 is "no measurable
       difference in speed" and never a win; a CI entirely below 1 is "slower than the baseline".
    3. If no acceptable variant is measurably faster, the verdict recommends the baseline (there is no
       measurable speed gain to pay for any accuracy risk).
    4. Otherwise, among the acceptable, measurably faster variants keep those that are not measurably slower
       than any other of them (variant y is measurably faster than x when y's speed-up CI lies entirely above
       x's); among the kept ones, which are "not distinguishable in speed", the one with the smallest drop
       point estimate (at the reported 0.001 resolution) wins (ties: higher median speed-up). Disjoint CIs are a
       conservative test (disjoint 95 % CIs imply a real difference; overlap means we do not claim one), so the
       verdict only gives up accuracy for speed when the speed difference is measurable.

    Accuracy wording: a drop CI containing 0 is described as "no measurable difference" in mAP50-95.

    Returns ``{"winner": variant, "label": label, "is_baseline": bool, "speedup": {...} | None,
    "drop": {...} | None, "baseline": baseline, "max_drop": max_drop,
    "rows": [{"variant", "label", "status": "winner" | "lost", "acceptable": bool, "faster": bool,
    "reason": text}], "text": "a few human lines"}``.
    """
    cands = [r for r in rows if r["variant"] != baseline]
    info = []
    for r in cands:
        sp, dr = r["speedup"], r["drop"]
        acceptable = dr["ci"][1] <= max_drop
        faster = sp["ci"][0] > 1.0
        info.append({"row": r, "acceptable": acceptable, "faster": faster,
                     "speed_none": sp["ci"][0] <= 1.0 <= sp["ci"][1],
                     "drop_none": dr["ci"][0] <= 0.0 <= dr["ci"][1]})
    pool = [x for x in info if x["acceptable"] and x["faster"]]
    winner = None
    def beats(y, x):  # y measurably faster than x: disjoint speed-up CIs
        return y["row"]["speedup"]["ci"][0] > x["row"]["speedup"]["ci"][1]

    top = [x for x in pool if not any(beats(y, x) for y in pool)]  # not measurably slower than any
    if top:
        winner = min(top, key=lambda x: (_drop_key(x["row"]), -x["row"]["speedup"]["ratio"]))

    def acc_words(x):
        d = x["row"]["drop"]
        tail = "no measurable difference" if x["drop_none"] else (
            "measurably better" if d["ci"][1] < 0 else "measurable drop")
        return f"mAP50-95 drop {_fmt_drop(d)} ({tail})"

    out_rows = []
    for x in info:
        r = x["row"]
        sp = r["speedup"]
        if x is winner:
            reason = f"fastest within budget: speed-up {_fmt_speed(sp)}; {acc_words(x)}"
        elif not x["acceptable"]:
            d = r["drop"]
            if d["mAP50_95"] > max_drop:
                reason = f"mAP50-95 drop {_fmt_drop(d)} exceeds the budget {max_drop:g}"
            else:
                reason = (f"mAP50-95 drop {_fmt_drop(d)}: the CI's upper bound exceeds the budget {max_drop:g} "
                          f"(not shown to be within budget)")
        elif x["speed_none"]:
            reason = f"no measurable difference in speed from {baseline}: speed-up {_fmt_speed(sp)}"
        elif not x["faster"]:
            reason = f"slower than {baseline}: speed-up {_fmt_speed(sp)}"
        elif beats(winner, x) or x not in top:
            by = winner if beats(winner, x) else max((y for y in pool if beats(y, x)),
                                                      key=lambda y: y["row"]["speedup"]["ratio"])
            reason = f"slower: speed-up {_fmt_speed(sp)} vs {_fmt_speed(by['row']['speedup'])} ({by['row']['variant']})"
        else:
            w = winner["row"]
            if _drop_key(w) < _drop_key(r):
                why = f"{w['variant']} has the smaller mAP50-95 drop ({_fmt_drop(w['drop'])} vs {_fmt_drop(r['drop'])})"
            else:
                why = f"the same mAP50-95 drop ({_fmt_drop(r['drop'])}); {w['variant']} has the higher median speed-up"
            reason = (f"no measurable difference in speed from {w['variant']} ({_fmt_speed(sp)} vs "
                      f"{_fmt_speed(w['speedup'])}), and {why}")
        out_rows.append({"variant": r["variant"], "label": r.get("label", r["variant"]),
                         "status": "winner" if x is winner else "lost", "acceptable": x["acceptable"],
                         "faster": x["faster"], "reason": reason})

    base_label = next((r.get("label", baseline) for r in rows if r["variant"] == baseline), baseline)
    if winner is None:
        w_var, w_label, sp, dr = baseline, base_label, None, None
        head = (f"Recommend {base_label} (the baseline): no measurable speed gain over it from any variant "
                f"within the mAP50-95 budget {max_drop:g}.")
    else:
        r = winner["row"]
        w_var, w_label, sp, dr = r["variant"], r.get("label", r["variant"]), r["speedup"], r["drop"]
        head = (f"Recommend {w_label}: speed-up {_fmt_speed(sp)} over {base_label}, "
                f"{acc_words(winner)}, within the budget {max_drop:g}.")
    lines = [head] + [f"  {o['label']}: {o['reason']}" for o in out_rows if o["status"] != "winner"]
    return {"winner": w_var, "label": w_label, "is_baseline": winner is None, "speedup": sp, "drop": dr,
            "baseline": baseline, "max_drop": max_drop, "rows": out_rows, "text": "\n".join(lines)}
