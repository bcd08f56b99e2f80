"""YOLO-format datasets: reading a ``data.yaml``, its images and labels, the way Ultralytics reads them."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ovyolo.errors import WorkflowError

log = logging.getLogger(__name__)

# Ultralytics' IMG_FORMATS (ultralytics.data.utils)
IMAGE_SUFFIXES = {".avif", ".bmp", ".dng", ".heic", ".heif", ".jp2", ".jpeg", ".jpg", ".mpo", ".png",
                  ".tif", ".tiff", ".webp"}


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


def _split_path(entry: str, root: Path) -> Path:
    """A split entry resolved as Ultralytics' ``check_det_dataset`` does: ``root / entry``, and if that does not
    exist and the entry starts with ``../`` (Roboflow exports: ``train: ../train/images`` beside the yaml), ``root /
    entry[3:]``."""
    p = Path(entry)
    if p.is_absolute():
        return p
    x = (root / p).resolve()
    if not x.exists() and entry.startswith("../"):
        alt = (root / entry[3:]).resolve()
        if alt.exists():
            log.info("split path %s does not exist; using %s as Ultralytics does", x, alt)
            return alt
    return x


def _collect(entry, root: Path, where: Path) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    files: list[Path] = []
    for e in entries:
        p = _split_path(str(e), root)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        elif p.is_file() and p.suffix == ".txt":
            for line in p.read_text().splitlines():
                line = line.strip()
                if line:
                    q = Path(line)
                    files.append(q if q.is_absolute() else (p.parent / q))
        else:
            raise WorkflowError(f"{where}: split path {p} does not exist; fix the path (relative to 'path:' or the yaml's folder)")
    return files


def _root(doc: dict, path: Path) -> Path:
    """The data set root: ``path:`` if given (absolute; relative to the yaml's folder, else to the working
    directory as Ultralytics reads it), else the yaml's folder (Ultralytics' default too)."""
    if not doc.get("path"):
        return path.parent.resolve()
    root = Path(str(doc["path"]))
    if root.is_absolute():
        return root
    beside = (path.parent / root).resolve()
    if beside.exists() or not root.exists():
        return beside
    return root.resolve()


def load_dataset(path: str | Path) -> Dataset:
    """Parse a YOLO data.yaml (``path``, ``train``, ``val``, ``names``) with Ultralytics' path rules.

    As ``ultralytics.data.utils.check_det_dataset`` (which we do not call: it may download, and resolves a
    relative ``path:`` against the working directory only): split entries are relative to ``path:`` (default: the
    yaml's folder); a ``../x`` entry that does not exist falls back to ``x`` (Roboflow exports); a ``validation:`` key
    stands for ``val:``; ``nc:`` without ``names:`` gives ``class_0 ...``. Nothing is downloaded or written.
    """
    path = Path(path)
    if not path.is_file():
        raise WorkflowError(f"data.yaml not found: {path}; set 'data:' of the model in config.yaml to an existing file")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}); fix the file") from exc
    if not isinstance(doc, dict):
        raise WorkflowError(f"{path}: expected a mapping with train/val/names keys")
    if "val" not in doc and "validation" in doc:
        log.warning("%s: renaming 'validation' to 'val' as Ultralytics does", path)
        doc["val"] = doc.pop("validation")
    if doc.get("names") is None and isinstance(doc.get("nc"), int) and doc["nc"] > 0:
        doc["names"] = [f"class_{i}" for i in range(doc["nc"])]
    if "names" not in doc:
        raise WorkflowError(f"{path}: missing 'names' (the class names); add it")
    names = _names(doc["names"], path)
    if isinstance(doc.get("nc"), int) and doc["nc"] != len(names):
        raise WorkflowError(f"{path}: 'names' has {len(names)} entries but 'nc: {doc['nc']}'; make them agree")
    root = _root(doc, path)
    ds = Dataset(path, names)
    for split in ("train", "val", "test"):
        if doc.get(split):
            try:
                ds.splits[split] = _collect(doc[split], root, path)
            except WorkflowError as exc:
                if split != "test":
                    raise
                # Roboflow exports name a test split that often is not there; Ultralytics checks only val
                log.warning("ignoring the test split: %s", exc)
    return ds


def label_path(image: Path) -> Path:
    """The YOLO label file of an image, as Ultralytics' ``img2label_paths``: the last ``/images/`` of the path
    becomes ``/labels/`` and the suffix ``.txt`` (an image outside any ``images`` folder has its label beside it)."""
    parts = list(Path(image).parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _warn(image: Path, msg: str) -> None:
    log.warning("%s: %s", label_path(image), msg)


def read_labels(image: Path) -> np.ndarray:
    """Labels as an (N, 5) float array ``class, cx, cy, w, h`` normalised to the image; empty if none.

    Read as Ultralytics' ``verify_image_label`` reads them: a row of ``class x1 y1 x2 y2 ...`` (a segment polygon,
    more than six numbers) becomes the polygon's bounding box (``ultralytics.utils.ops.segments2boxes``); exact
    duplicate rows are dropped. Odd files are logged as warnings: a file mixing polygon and box rows (Ultralytics
    drops such an image as corrupt; we read each row by its own kind), rows of 2-4 or 6 numbers (first five used),
    coordinates outside [0, 1.01]. The file is only read, never rewritten.
    """
    image = Path(image)
    lp = label_path(image)
    if not lp.is_file():
        return np.zeros((0, 5), dtype=np.float64)
    try:
        text = lp.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        _warn(image, f"unreadable label file ({exc}); image counted without labels")
        return np.zeros((0, 5), dtype=np.float64)
    rows, kinds = [], set()
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            vals = [float(v) for v in line.split()]
        except ValueError:
            _warn(image, f"line {n} is not numbers ({line.strip()[:40]!r}); skipped")
            continue
        if len(vals) > 6:
            kinds.add("polygon")
            xy = np.asarray(vals[1 : 1 + 2 * ((len(vals) - 1) // 2)], dtype=np.float64).reshape(-1, 2)
            if (len(vals) - 1) % 2:
                _warn(image, f"line {n}: polygon with an odd number of coordinates; last one ignored")
            x1, y1 = xy.min(0)
            x2, y2 = xy.max(0)
            rows.append([vals[0], (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1])
        elif len(vals) == 5:
            kinds.add("box")
            rows.append(vals)
        else:
            _warn(image, f"line {n} has {len(vals)} numbers (a box row has 5, a polygon row 7 or more); "
                  + ("first five used" if len(vals) == 6 else "skipped"))
            if len(vals) == 6:
                kinds.add("box")
                rows.append(vals[:5])
    if len(kinds) == 2:
        _warn(image, "mixes polygon and box rows (Ultralytics ignores such an image as corrupt); "
              "each row read as its own kind")
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    if len(arr):
        if arr[:, 1:].max() > 1.01 or arr[:, 1:].min() < -0.01:
            _warn(image, "coordinates outside 0..1: labels must be normalised to the image size")
        _, idx = np.unique(arr, axis=0, return_index=True)
        if len(idx) < len(arr):
            _warn(image, f"{len(arr) - len(idx)} duplicate label row(s) dropped, as Ultralytics does")
            arr = arr[np.sort(idx)]
    return arr


# EXIF orientations that transpose the image (5: transpose, 6: rotate 90 CW, 7: transverse, 8: rotate 270 CW)
_SWAPS_AXES = {5, 6, 7, 8}


def image_size(image: str | Path) -> tuple[int, int]:
    """(height, width) of an image as it is read (EXIF orientation applied, as cv2 and Ultralytics'
    ``exif_size`` do), from the header only. Raises on an unreadable file."""
    from PIL import Image

    with Image.open(image) as im:
        w, h = im.size
        try:
            orientation = im.getexif().get(0x0112)
        except Exception:  # noqa: BLE001 - a broken EXIF block means no orientation
            orientation = None
    return (w, h) if orientation in _SWAPS_AXES else (h, w)


def image_sizes(images: list[Path]) -> list[tuple[int, int]]:
    """(height, width) of each image as read (EXIF-corrected), from its header; unreadable files are left out."""
    sizes = []
    for f in images:
        try:
            sizes.append(image_size(f))
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
