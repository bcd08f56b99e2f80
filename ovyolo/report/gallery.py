"""Detections you can see: val images with the ground truth and each OpenVINO variant's boxes side by side, the
images where the variants disagree most with true f32 first (``results/{model}/{h}x{w}/gallery.png``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ovyolo import variants


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (N, 4) and (M, 4) x1, y1, x2, y2 boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def matched(ref: np.ndarray, det: np.ndarray, iou_thr: float) -> int:
    """How many boxes of ``ref`` (rows x1, y1, x2, y2, score, class) have a distinct same-class partner in ``det``
    at IoU >= ``iou_thr`` (greedy, best score first)."""
    if not len(ref) or not len(det):
        return 0
    ious = _iou(ref[:, :4], det[:, :4]) * (ref[:, None, 5] == det[None, :, 5])
    used, n = np.zeros(len(det), bool), 0
    for i in np.argsort(-ref[:, 4], kind="stable"):
        cand = np.where(used, -1.0, ious[i])
        j = int(np.argmax(cand))
        if cand[j] >= iou_thr:
            used[j], n = True, n + 1
    return n


def disagreement(ref: np.ndarray, det: np.ndarray, iou_thr: float = 0.5) -> float:
    """Share of boxes (of both sets) without a same-class partner at IoU >= ``iou_thr`` in the other set
    (:func:`matched`): 0 when two variants find the same objects, 1 when they share none."""
    n = len(ref) + len(det)
    return 0.0 if n == 0 else 1.0 - 2 * matched(ref, det, iou_thr) / n


def build(irs: dict[str, str | Path], images: list[Path], out_png: str | Path, *, baseline: str = variants.BASELINE,
          show: int = 4, scan: int = 48, threads: int = 1) -> list[dict]:
    """Run every IR in ``irs`` (variant -> model.xml, true-f32 inference) on the first ``scan`` val images (sorted),
    rank the images by their largest disagreement with ``baseline`` and draw the ``show`` worst: one row per image,
    the ground truth first, then one column per variant. Returns the ranked rows (image, disagreement per variant)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ovyolo.atomic import atomic_file
    from ovyolo.data.letterbox import read_rgb
    from ovyolo.deploy.predict import draw, load
    from ovyolo.measure.evaluate import gt_boxes

    detectors = {name: load(xml, threads=threads) for name, xml in irs.items()}
    names = detectors[baseline].names
    rows = []
    for path in sorted(Path(p) for p in images)[:scan]:
        try:
            rgb = read_rgb(path)
        except ValueError:
            continue
        dets = {name: d.detect(rgb) for name, d in detectors.items()}
        dis = {name: disagreement(dets[baseline], det) for name, det in dets.items() if name != baseline}
        rows.append({"image": str(path), "disagreement": dis, "_rgb": rgb, "_dets": dets})
    rows.sort(key=lambda r: (-max(r["disagreement"].values(), default=0.0), r["image"]))
    top = rows[:show]
    cols = ["ground truth", *irs]
    fig, axes = plt.subplots(max(1, len(top)), len(cols), figsize=(3.2 * len(cols), 2.2 * max(1, len(top))),
                             squeeze=False)
    for r, row in enumerate(top):
        h, w = row["_rgb"].shape[:2]
        gt = gt_boxes(row["image"], (h, w))
        gt_det = np.concatenate([gt[:, 1:5], np.ones((len(gt), 1)), gt[:, :1]], axis=1) if len(gt) else np.zeros((0, 6))
        for c, col in enumerate(cols):
            det = gt_det if c == 0 else row["_dets"][col]
            axes[r][c].imshow(draw(row["_rgb"], det, names)[..., ::-1])
            label = col if c == 0 else f"{col} ({len(det)} boxes" + (
                f", disagreement {row['disagreement'][col]:.2f})" if col in row["disagreement"] else ")")
            axes[r][c].set_title(f"{Path(row['image']).name}: {label}" if c == 0 else label, fontsize=7)
            axes[r][c].axis("off")
    for ax in axes.ravel()[len(top) * len(cols):]:
        ax.axis("off")
    fig.suptitle(f"Val images where the variants disagree most with {baseline} (boxes: conf >= 0.25, true f32 inference)",
                 fontsize=9)
    fig.tight_layout()
    with atomic_file(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
