#!/usr/bin/env python
"""Build the trained YOLO26n that the end-to-end (NMS-free) head is measured on: a generated data set of its own
(not the demo's) and a short Ultralytics training run, laid out like a user's run, plus a --configfile for it.

    python experiments/yolo26_trained.py --root /work/cache/yolo26            # ~10 min on 2 idle cores

ROOT/dataset/      data.yaml, images/{train,val}, labels/{train,val}   (N_TRAIN train, N_VAL val frames, 384x640)
ROOT/run/          weights/best.pt + args.yaml                          (yolo26n.yaml, random init, imgsz 256)
ROOT/config.yaml   models.yolo26: {source: ROOT/run, data: ROOT/dataset/data.yaml, trust_checkpoint: true}
ROOT/train.json    the settings, the wall time and `yolo val` of best.pt (the NMS-free head, nms=False)

The data differ from the demo's (ovyolo.demo): four classes (disc, bar, wedge, cross) of random aspect ratio and
size, up to six per frame, partly overlapping, on a striped textured background, 384x640 JPEG frames. Nothing is
downloaded; training uses ovyolo.demo.train_demo (SGD, no warm-up, rect batches). Re-running with an existing ROOT
keeps what is there (delete ROOT/run to retrain).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from ovyolo import offline  # noqa: E402

offline.prepare()  # offline environment before Ultralytics is imported

CLASSES = ("disc", "bar", "wedge", "cross")
FRAME = (384, 640)
N_TRAIN, N_VAL = 320, 240


def _frame(rng: np.random.Generator, h: int, w: int):
    import cv2

    yy, xx = np.mgrid[0:h, 0:w]
    angle, period = rng.uniform(0, np.pi), rng.uniform(18, 60)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)[..., None]
    base = rng.integers(30, 110, size=3)
    img = base + 14 * stripes * rng.uniform(0.3, 1.0, size=3) + rng.normal(0, 6, size=(h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    labels, placed = [], []
    for _ in range(int(rng.integers(1, 7))):
        cls = int(rng.integers(0, len(CLASSES)))
        bw = int(rng.integers(min(h, w) // 9, min(h, w) // 3))
        bh = int(np.clip(bw * rng.uniform(0.6, 1.6), 16, h - 2))
        for _try in range(30):
            x0, y0 = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            box = (x0, y0, x0 + bw, y0 + bh)
            # at most a little overlap with what is there (IoU < 0.2)
            if all(_iou(box, b) < 0.2 for b in placed):
                break
        else:
            continue
        placed.append(box)
        colour = tuple(int(c) for c in rng.integers(140, 256, size=3))
        x1, y1 = x0 + bw - 1, y0 + bh - 1
        if CLASSES[cls] == "disc":
            cv2.ellipse(img, ((x0 + x1) // 2, (y0 + y1) // 2), (bw // 2, bh // 2), 0, 0, 360, colour, -1, cv2.LINE_AA)
        elif CLASSES[cls] == "bar":
            cv2.rectangle(img, (x0, y0), (x1, y1), colour, -1)
        elif CLASSES[cls] == "wedge":
            pts = np.array([[x0, y0], [x1, (y0 + y1) // 2], [x0, y1]], np.int32)
            cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
        else:
            t = max(3, min(bw, bh) // 4)
            cv2.rectangle(img, ((x0 + x1) // 2 - t // 2, y0), ((x0 + x1) // 2 + t // 2, y1), colour, -1)
            cv2.rectangle(img, (x0, (y0 + y1) // 2 - t // 2), (x1, (y0 + y1) // 2 + t // 2), colour, -1)
        labels.append((cls, (x0 + bw / 2) / w, (y0 + bh / 2) / h, bw / w, bh / h))
    return img, labels


def _iou(a, b) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def generate(out: Path, *, seed: int = 19, n_train: int = N_TRAIN, n_val: int = N_VAL) -> Path:
    import cv2

    from ovyolo.atomic import atomic_dir

    if (out / "data.yaml").is_file():
        return out / "data.yaml"
    rng = np.random.default_rng(seed)
    with atomic_dir(out) as tmp:
        for split, count in (("train", n_train), ("val", n_val)):
            (tmp / "images" / split).mkdir(parents=True)
            (tmp / "labels" / split).mkdir(parents=True)
            for i in range(count):
                img, labels = _frame(rng, *FRAME)
                cv2.imwrite(str(tmp / "images" / split / f"{split}_{i:05d}.jpg"), img[..., ::-1],
                            [cv2.IMWRITE_JPEG_QUALITY, 92])
                (tmp / "labels" / split / f"{split}_{i:05d}.txt").write_text(
                    "".join(f"{c} {x:.6f} {y:.6f} {bw:.6f} {bh:.6f}\n" for c, x, y, bw, bh in labels))
        (tmp / "data.yaml").write_text(yaml.safe_dump(
            {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": list(CLASSES)},
            sort_keys=False))
    return out / "data.yaml"


def yolo_val(weights: Path, data: Path, imgsz: int) -> dict:
    """`yolo val` of the checkpoint with the NMS-free head (nms=False), as Ultralytics scores an end-to-end model."""
    from ultralytics import YOLO

    m = YOLO(str(weights)).val(data=str(data), imgsz=imgsz, batch=8, device="cpu", plots=False, verbose=False,
                               nms=False, workers=0)
    return {"mAP50": float(m.box.map50), "mAP50_95": float(m.box.map), "imgsz": imgsz, "rect": True, "nms": False}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("/work/cache/yolo26"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    from ovyolo.data.demo import train_demo

    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    data = generate(root / "dataset")
    run = root / "run"
    settings = {"model": "yolo26n.yaml", "imgsz": args.imgsz, "epochs": args.epochs, "batch": 16, "lr0": 0.02,
                "seed": 0}
    seconds = None
    if not (run / "weights" / "best.pt").is_file():
        t0 = time.time()
        train_demo(data, run, threads=args.threads, monitor_images=48, **settings)
        seconds = round(time.time() - t0, 1)
    (root / "config.yaml").write_text(yaml.safe_dump({"models": {"yolo26": {
        "source": str(run), "data": str(data), "trust_checkpoint": True}}}, sort_keys=False))
    record = {"settings": settings, "train_seconds": seconds, "train_images": N_TRAIN, "val_images": N_VAL,
              "frame": list(FRAME), "classes": list(CLASSES),
              "yolo_val": yolo_val(run / "weights" / "best.pt", data, args.imgsz)}
    prev = json.loads((root / "train.json").read_text()) if (root / "train.json").is_file() else {}
    if seconds is None:
        record["train_seconds"] = prev.get("train_seconds")
    (root / "train.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
