"""YOLO-format datasets: reading a ``data.yaml`` and generating the embedded synthetic demo set."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ovyolo.errors import WorkflowError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class Dataset:
    """A parsed data.yaml: class names and the image files of each split."""

    yaml_path: Path
    names: list[str]
    splits: dict[str, list[Path]] = field(default_factory=dict)

    def images(self, split: str) -> list[Path]:
        if split not in self.splits:
            raise WorkflowError(f"{self.yaml_path}: no '{split}' split; add '{split}:' (a folder or list file) to it")
        return self.splits[split]


def _names(raw, where: Path) -> list[str]:
    if isinstance(raw, dict):
        return [str(raw[k]) for k in sorted(raw, key=int)]
    if isinstance(raw, list) and raw:
        return [str(n) for n in raw]
    raise WorkflowError(f"{where}: 'names' must be a non-empty list or an index->name mapping")


def _collect(entry, root: Path, where: Path) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    files: list[Path] = []
    for e in entries:
        p = Path(str(e))
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file() and p.suffix == ".txt":
            for line in p.read_text().splitlines():
                line = line.strip()
                if line:
                    q = Path(line)
                    files.append(q if q.is_absolute() else (p.parent / q))
        else:
            raise WorkflowError(f"{where}: split path {p} does not exist; fix the path (relative to 'path:' or the yaml's folder)")
    return files


def load_dataset(path: str | Path) -> Dataset:
    """Parse a YOLO data.yaml (``path``, ``train``, ``val``, ``names``)."""
    path = Path(path)
    if not path.is_file():
        raise WorkflowError(f"data.yaml not found: {path}; set 'data:' of the model in config.yaml to an existing file")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}); fix the file") from exc
    if not isinstance(doc, dict):
        raise WorkflowError(f"{path}: expected a mapping with train/val/names keys")
    if "names" not in doc:
        raise WorkflowError(f"{path}: missing 'names' (the class names); add it")
    root = Path(doc["path"]) if doc.get("path") else Path(".")
    if not root.is_absolute():
        root = (path.parent / root).resolve()
    ds = Dataset(path, _names(doc["names"], path))
    for split in ("train", "val", "test"):
        if doc.get(split):
            ds.splits[split] = _collect(doc[split], root, path)
    return ds


def label_path(image: Path) -> Path:
    """The YOLO label file of an image: ``.../images/...x.jpg`` -> ``.../labels/...x.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def read_labels(image: Path) -> np.ndarray:
    """Labels as an (N, 5) float array ``class, cx, cy, w, h`` normalised to the image; empty if none."""
    lp = label_path(image)
    if not lp.exists():
        return np.zeros((0, 5), dtype=np.float64)
    rows = [line.split() for line in lp.read_text().splitlines() if line.strip()]
    arr = np.array([[float(v) for v in r[:5]] for r in rows], dtype=np.float64)
    return arr.reshape(-1, 5)


def image_sizes(images: list[Path]) -> list[tuple[int, int]]:
    """(height, width) of each image from its header; unreadable files are left out."""
    from PIL import Image

    sizes = []
    for f in images:
        try:
            with Image.open(f) as im:
                w, h = im.size
            sizes.append((h, w))
        except Exception:  # noqa: BLE001 - unreadable files are skipped here and counted where they are used
            continue
    return sizes


def dominant_size(sizes: list[tuple[int, int]]) -> tuple[tuple[int, int], float]:
    """The most common (h, w) and the share of images that have it."""
    if not sizes:
        raise WorkflowError("no readable images to take the frame size from")
    (hw, n), = Counter(sizes).most_common(1)
    return hw, n / len(sizes)


# --------------------------------------------------------------------------- synthetic demo data

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
            cv2.imwrite(str(out / "images" / split / f"{stem}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            (out / "labels" / split / f"{stem}.txt").write_text(
                "".join(f"{c} {x:.6f} {y:.6f} {bw:.6f} {bh:.6f}\n" for c, x, y, bw, bh in labels)
            )
    data_yaml = out / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump({"train": "images/train", "val": "images/val", "names": list(names)}, sort_keys=False)
    )
    return data_yaml
