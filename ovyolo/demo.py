"""The embedded demo: a deterministic synthetic data set and a tiny detector trained on it with Ultralytics, laid
out like a user's run (``weights/best.pt`` + ``args.yaml``). Offline, CPU only, nothing downloaded."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from ovyolo.atomic import atomic_dir

SHAPES = ("circle", "square", "triangle")


def _draw(rng: np.random.Generator, h: int, w: int, n_classes: int, max_objects: int):
    import cv2

    # Smooth noisy background with a random tint, so the network must look at shape, not just colour.
    # A soft random texture on a dark background, so the shapes stand out but are not trivially flat.
    base = rng.integers(20, 90, size=3)
    noise = rng.normal(0, 12, size=(h // 16, w // 16, 3))
    bg = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC) + base
    img = np.clip(bg + rng.normal(0, 4, size=(h, w, 3)), 0, 255).astype(np.uint8)
    labels = []
    boxes: list[tuple[float, float, float, float]] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cls = int(rng.integers(0, n_classes))
        size = int(rng.integers(min(h, w) // 6, min(h, w) // 3))
        for _try in range(20):
            x0 = int(rng.integers(0, w - size))
            y0 = int(rng.integers(0, h - size))
            box = (x0, y0, x0 + size, y0 + size)
            if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in boxes):
                break
        else:
            continue
        boxes.append(box)
        colour = tuple(int(c) for c in rng.integers(150, 256, size=3))
        kind = SHAPES[cls % len(SHAPES)]
        if kind == "circle":
            cv2.circle(img, (x0 + size // 2, y0 + size // 2), size // 2, colour, -1, cv2.LINE_AA)
        elif kind == "square":
            cv2.rectangle(img, (x0, y0), (x0 + size - 1, y0 + size - 1), colour, -1)
        else:
            pts = np.array([[x0 + size // 2, y0], [x0, y0 + size - 1], [x0 + size - 1, y0 + size - 1]], np.int32)
            cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
        labels.append((cls, (x0 + size / 2) / w, (y0 + size / 2) / h, size / w, size / h))
    return img, labels


def generate_demo_dataset(
    out_dir: str | Path,
    *,
    seed: int = 0,
    n_train: int = 64,
    n_val: int = 32,
    frame_hw: tuple[int, int] = (360, 640),
    names: tuple[str, ...] = SHAPES,
    max_objects: int = 4,
) -> Path:
    """Write a deterministic YOLO dataset (``images/{train,val}``, ``labels/...``, ``data.yaml``).

    Train and val images come from one seeded stream, so they never repeat each other. Returns the yaml path.
    """
    import cv2

    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    h, w = frame_hw
    for split, count in (("train", n_train), ("val", n_val)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img, labels = _draw(rng, h, w, len(names), max_objects)
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


def train_demo(data_yaml: str | Path, run_dir: str | Path, *, threads: int = 2, seed: int = 0,
               model: str = "yolov5n.yaml", imgsz: int = 256, epochs: int = 18, batch: int = 8,
               lr0: float = 0.03, monitor_images: int = 32, validate_every_epoch: bool = False) -> Path:
    """Train from a model yaml (random init, no download) and place the run at ``run_dir`` atomically.

    Few images and a short schedule: warm-up is off (Ultralytics' 100-iteration minimum would cover the whole
    run) and rectangular batches keep the 16:9 frames at 160x256 instead of 256x256 mosaics. Ultralytics validates
    after the last epoch (or every epoch with ``validate_every_epoch``) on the first ``monitor_images`` val images
    (sorted) only, so that the val split the workflow measures on can be large without slowing training down.
    The defaults are the config's (workflow/schemas/config.schema.yaml, demo.train).
    """
    import torch
    from ultralytics import YOLO

    from ovyolo.data import load_dataset

    torch.set_num_threads(threads)
    run_dir = Path(run_dir)
    ds = load_dataset(data_yaml)
    with atomic_dir(run_dir) as tmp:
        monitor = tmp / "monitor"
        monitor.mkdir()
        val = sorted(ds.images("val"))[: max(1, int(monitor_images))]
        (monitor / "val.txt").write_text("".join(f"{p.resolve()}\n" for p in val))
        (monitor / "train.txt").write_text("".join(f"{p.resolve()}\n" for p in ds.images("train")))
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
            val=validate_every_epoch,
        )
        last = tmp / "weights" / "last.pt"
        if last.exists():
            last.unlink()  # best.pt is what users deploy; last.pt would only double the disk use
        import shutil

        shutil.rmtree(monitor)
    return run_dir / "weights" / "best.pt"


def best_map50(results_csv: str | Path) -> float:
    """Highest val mAP50 in an Ultralytics results.csv (the epoch best.pt was saved from has the best fitness)."""
    import csv

    with open(results_csv) as f:
        rows = list(csv.DictReader(f))
    key = next(k for k in rows[0] if k.strip() == "metrics/mAP50(B)")
    return max(float(r[key]) for r in rows)
