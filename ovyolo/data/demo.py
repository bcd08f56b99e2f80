"""The embedded demo: a deterministic synthetic data set and a tiny detector trained on it with Ultralytics, laid
out like a user's run (``weights/best.pt`` + ``args.yaml``). Offline, CPU only, nothing downloaded."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import yaml

from ovyolo.atomic import atomic_dir

log = logging.getLogger(__name__)

SHAPES = ("circle", "square", "triangle")
# One colour per class (RGB), so that a person tells the classes apart at a glance (shape and colour both differ);
# classes beyond the palette reuse it in order (their shape still differs for up to three classes).
PALETTE = ((240, 90, 40), (40, 130, 245), (245, 215, 40), (70, 205, 90), (215, 70, 210), (60, 220, 230))


def _shape_alpha(kind: str, size: int) -> np.ndarray:
    """Coverage (0..1) of a filled ``kind`` drawn anti-aliased to fill a ``size`` x ``size`` patch."""
    import cv2

    mask = np.zeros((size, size), np.uint8)
    s16 = 16  # cv2's sub-pixel coordinates (shift=4)
    c = (size - 1) / 2
    if kind == "circle":
        cv2.circle(mask, (round(c * s16), round(c * s16)), round((size - 1) / 2 * s16), 255, -1, cv2.LINE_AA, 4)
    elif kind == "square":
        mask[:] = 255
    else:
        pts = np.array([[c, 0], [0, size - 1], [size - 1, size - 1]]) * s16
        cv2.fillPoly(mask, [np.rint(pts).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255.0


def _draw(rng: np.random.Generator, h: int, w: int, n_classes: int, max_objects: int,
          object_size: tuple[float, float], colours: str):
    import cv2

    # A soft random texture on a dark background, so the shapes stand out but are not trivially flat.
    base = rng.integers(20, 90, size=3)
    noise = rng.normal(0, 12, size=(max(1, h // 16), max(1, w // 16), 3))
    bg = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC) + base
    img = np.clip(bg + rng.normal(0, 4, size=(h, w, 3)), 0, 255).astype(np.uint8)
    labels = []
    boxes: list[tuple[float, float, float, float]] = []
    lo, hi = (max(4, int(round(f * min(h, w)))) for f in object_size)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cls = int(rng.integers(0, n_classes))
        size = int(rng.integers(lo, hi + 1))
        if size >= min(h, w):
            continue
        for _try in range(20):
            x0 = int(rng.integers(0, w - size))
            y0 = int(rng.integers(0, h - size))
            box = (x0, y0, x0 + size, y0 + size)
            if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in boxes):
                break
        else:
            continue
        boxes.append(box)
        if colours == "class":
            ref = np.array(PALETTE[cls % len(PALETTE)])
            colour = np.clip(ref + rng.integers(-20, 21, size=3), 0, 255)
        else:
            colour = rng.integers(150, 256, size=3)
        alpha = _shape_alpha(SHAPES[cls % len(SHAPES)], size)
        patch = img[y0:y0 + size, x0:x0 + size].astype(np.float32)
        img[y0:y0 + size, x0:x0 + size] = np.rint(patch + alpha[..., None] * (colour - patch)).astype(np.uint8)
        # the label is the box of the pixels the shape covers (at least half), so it is exactly learnable
        rows, cols = np.nonzero(alpha >= 0.5)
        bx1, by1, bx2, by2 = x0 + cols.min(), y0 + rows.min(), x0 + cols.max() + 1, y0 + rows.max() + 1
        labels.append((cls, (bx1 + bx2) / 2 / w, (by1 + by2) / 2 / h, (bx2 - bx1) / w, (by2 - by1) / h))
    return img, labels


def generate_demo_dataset(
    out_dir: str | Path,
    *,
    seed: int | None = None,
    n_train: int | None = None,
    n_val: int | None = None,
    frame_hw: tuple[int, int] | None = None,
    names: tuple[str, ...] | None = None,
    max_objects: int = 4,
    object_size: tuple[float, float] | None = None,
    colours: str = "class",
) -> Path:
    """Write a deterministic YOLO dataset (``images/{train,val}``, ``labels/...``, ``data.yaml``).

    Train and val images come from one seeded stream, so they never repeat each other. Returns the yaml path.
    Unset arguments take the config's ``demo`` defaults (the schema: seed, train_images, val_images, frame,
    classes, object_size).
    ``object_size``: the range of an object's side as a fraction of the frame's short side. ``colours``: "class"
    (one colour per class, :data:`PALETTE`, jittered) or "random" (the demo before; see docs/demo.md).
    """
    import cv2

    from ovyolo.config import default
    from ovyolo.errors import WorkflowError

    demo = default("demo")
    seed = demo["seed"] if seed is None else seed
    n_train = demo["train_images"] if n_train is None else n_train
    n_val = demo["val_images"] if n_val is None else n_val
    frame_hw = tuple(demo["frame"]) if frame_hw is None else frame_hw
    names = tuple(demo["classes"]) if names is None else names
    object_size = tuple(demo["object_size"]) if object_size is None else object_size

    lo, hi = object_size
    if not 0 < lo <= hi <= 1:
        raise WorkflowError(f"demo.object_size must be [min, max] with 0 < min <= max <= 1 (fractions of the frame's "
                            f"short side), got {list(object_size)}")
    if colours not in ("class", "random"):
        raise WorkflowError(f"demo colours must be 'class' or 'random', got {colours!r}")
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    h, w = frame_hw
    for split, count in (("train", n_train), ("val", n_val)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img, labels = _draw(rng, h, w, len(names), max_objects, object_size, colours)
            stem = f"{split}_{i:05d}"
            # JPEG, as camera frames arrive (and 10x faster to write, 3x faster to read than PNG)
            cv2.imwrite(str(out / "images" / split / f"{stem}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            (out / "labels" / split / f"{stem}.txt").write_text(
                "".join(f"{c} {x:.6f} {y:.6f} {bw:.6f} {bh:.6f}\n" for c, x, y, bw, bh in labels)
            )
    data_yaml = out / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump({"train": "images/train", "val": "images/val", "names": list(names)}, sort_keys=False)
    )
    return data_yaml


MIN_VISIBLE = 0.3  # a crop keeps a cut object's label if at least this share of its box is inside the crop


def cut_native_crops(images: list[Path], out_dir: Path, size: int, seed: int = 0) -> list[Path]:
    """Cut ``size`` x ``size`` pieces of ``images`` at native scale (no resize), one per labelled object, placed at
    random so that the object lies wholly inside (where it fits). Objects cut by the crop keep their clipped box if at
    least :data:`MIN_VISIBLE` of it is inside; the others' pixels are greyed (114, Ultralytics' padding), so no
    unlabelled shape remains. Writes ``out_dir/images/*.jpg`` and ``out_dir/labels/*.txt``; returns the images.

    For a model deployed at the full frame size: trained on the crops at imgsz ``size``, it sees every object at the
    pixel size it has in the frame (a 720x1280 frame at 736x1280 is not scaled), at a fraction of the cost.
    """
    import cv2

    from ovyolo.data.dataset import read_labels

    rng = np.random.default_rng(seed)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    written = []
    for image in images:
        img = cv2.imread(str(image))
        if img is None:
            continue
        h, w = img.shape[:2]
        lab = read_labels(image)
        boxes = np.stack([lab[:, 1] - lab[:, 3] / 2, lab[:, 2] - lab[:, 4] / 2,
                          lab[:, 1] + lab[:, 3] / 2, lab[:, 2] + lab[:, 4] / 2], axis=1) * [w, h, w, h] if len(lab) \
            else np.zeros((0, 4))
        ch, cw = min(size, h), min(size, w)
        for k, (x1, y1, x2, y2) in enumerate(boxes):
            lo_x, hi_x = max(0, int(np.ceil(x2)) - cw), min(int(x1), w - cw)
            lo_y, hi_y = max(0, int(np.ceil(y2)) - ch), min(int(y1), h - ch)
            cx = int(rng.integers(lo_x, hi_x + 1)) if hi_x >= lo_x else int(np.clip((x1 + x2 - cw) / 2, 0, w - cw))
            cy = int(rng.integers(lo_y, hi_y + 1)) if hi_y >= lo_y else int(np.clip((y1 + y2 - ch) / 2, 0, h - ch))
            crop = img[cy:cy + ch, cx:cx + cw].copy()
            rows = []
            for c, (a1, b1, a2, b2) in zip(lab[:, 0], boxes):
                q1, r1 = max(a1 - cx, 0), max(b1 - cy, 0)
                q2, r2 = min(a2 - cx, cw), min(b2 - cy, ch)
                if q2 <= q1 or r2 <= r1:
                    continue
                if (q2 - q1) * (r2 - r1) >= MIN_VISIBLE * (a2 - a1) * (b2 - b1):
                    rows.append(f"{int(c)} {(q1 + q2) / 2 / cw:.6f} {(r1 + r2) / 2 / ch:.6f} "
                                f"{(q2 - q1) / cw:.6f} {(r2 - r1) / ch:.6f}\n")
                else:
                    crop[int(r1):int(np.ceil(r2)), int(q1):int(np.ceil(q2))] = 114
            stem = f"{Path(image).stem}_{k}"
            cv2.imwrite(str(out_dir / "images" / f"{stem}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
            (out_dir / "labels" / f"{stem}.txt").write_text("".join(rows))
            written.append((out_dir / "images" / f"{stem}.jpg").resolve())
    return written


def train_demo(data_yaml: str | Path, run_dir: str | Path, *, threads: int = 2, seed: int | None = None,
               **settings) -> Path:
    """Train from a model yaml (random init, no download) and place the run at ``run_dir`` atomically.

    Few images and a short schedule: warm-up is off (Ultralytics' 100-iteration minimum would cover the whole
    run), the optimizer steps after every batch (Ultralytics accumulates gradients up to a nominal batch of 64
    images: one step per epoch on 64 images; measured: mAP50-95 0.63 -> 0.88 at the same cost, docs/demo.md) and
    rectangular batches keep the 16:9 frames at 160x256 instead of 256x256 mosaics. Ultralytics validates after the
    last epoch (or every epoch with ``validate_every_epoch``) on the first ``monitor_images`` val images (sorted)
    only, so that the val split the workflow measures on can be large without slowing training down.
    ``native_crops``: train (and monitor) on imgsz x imgsz pieces cut from the frames at native scale
    (:func:`cut_native_crops`) instead of whole frames scaled to imgsz: for a model deployed at the full frame size.
    ``settings``: the config's ``demo.train`` keys (model, imgsz, epochs, batch, lr0, monitor_images,
    validate_every_epoch, native_crops); unset ones, and ``seed``, take the schema's defaults.
    """
    from ovyolo.config import default
    from ovyolo.errors import WorkflowError

    train = default("demo.train")
    unknown = sorted(set(settings) - set(train))
    if unknown:
        raise WorkflowError(f"unknown demo.train setting(s) {', '.join(unknown)}; known: {', '.join(train)}")
    train.update(settings)
    seed = default("demo.seed") if seed is None else seed
    model, imgsz, epochs, batch, lr0 = train["model"], train["imgsz"], train["epochs"], train["batch"], train["lr0"]
    monitor_images, validate_every_epoch = train["monitor_images"], train["validate_every_epoch"]
    native_crops = train["native_crops"]
    import shutil

    import torch
    from ultralytics import YOLO

    from ovyolo.data.dataset import load_dataset

    torch.set_num_threads(threads)
    run_dir = Path(run_dir)
    ds = load_dataset(data_yaml)
    with atomic_dir(run_dir) as tmp:
        monitor = tmp / "monitor"
        monitor.mkdir()
        val = sorted(ds.images("val"))[: max(1, int(monitor_images))]
        train = [p.resolve() for p in ds.images("train")]
        if native_crops:
            frames = len(train)
            train = cut_native_crops(train, monitor / "train", imgsz, seed)
            val = cut_native_crops(val, monitor / "val", imgsz, seed + 1)
            log.info("training on %d native-scale %dx%d crops of %d train frames (monitoring on %d crops of val "
                     "frames)", len(train), imgsz, imgsz, frames, len(val))
        (monitor / "val.txt").write_text("".join(f"{Path(p).resolve()}\n" for p in val))
        (monitor / "train.txt").write_text("".join(f"{p}\n" for p in train))
        (monitor / "data.yaml").write_text(yaml.safe_dump({
            "train": str((monitor / "train.txt").resolve()), "val": str((monitor / "val.txt").resolve()),
            "names": list(ds.names)}, sort_keys=False))
        yolo = YOLO(model)
        # Ultralytics' select_device sets torch to cpu_count - 1 threads for CPU training (1 of 2 cores here);
        # the job was given `threads` cores, so give them back once the trainer has picked its device.
        for event in ("on_pretrain_routine_end", "on_train_epoch_start"):
            yolo.add_callback(event, lambda _trainer: torch.set_num_threads(threads))
        yolo.train(
            data=str(monitor / "data.yaml"), imgsz=imgsz, epochs=epochs, batch=batch, rect=True, workers=0,
            device="cpu", project=str(tmp.parent.resolve()), name=tmp.name, exist_ok=True, plots=False,
            amp=False, seed=seed, deterministic=True, warmup_epochs=0, optimizer="SGD", lr0=lr0, verbose=False,
            val=validate_every_epoch, nbs=batch,
            # without per-epoch validation there is no best epoch to keep: write the checkpoint at the last epoch
            # only (Ultralytics saves every epoch otherwise: 0.8 s each on the AMD VM, 24 epochs)
            save=bool(validate_every_epoch),
        )
        last = tmp / "weights" / "last.pt"
        if last.exists():
            last.unlink()  # best.pt is what users deploy; last.pt would only double the disk use
        shutil.rmtree(monitor)
    return run_dir / "weights" / "best.pt"


def best_map50(results_csv: str | Path) -> float:
    """Highest val mAP50 in an Ultralytics results.csv (the epoch best.pt was saved from has the best fitness)."""
    import csv

    with open(results_csv) as f:
        rows = list(csv.DictReader(f))
    key = next(k for k in rows[0] if k.strip() == "metrics/mAP50(B)")
    return max(float(r[key]) for r in rows)
