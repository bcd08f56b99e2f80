"""Calibration set: train-split images letterboxed to exactly h x w, stored as one uint8 N x 3 x h x w array."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ovyolo.atomic import atomic_dir
from ovyolo.errors import ShapeMismatchError, WorkflowError

log = logging.getLogger(__name__)

# Below this many usable images the INT8 ranges are not worth trusting: fail instead of quantizing.
MIN_IMAGES = 8
MIN_TUNING_IMAGES = 8  # accuracy control (ovyolo.build.accuracy_control) needs this many images outside calibration
ARRAY = "images.npy"
MANIFEST = "manifest.json"


def build(images: list[Path], hw: tuple[int, int], size: int, out_dir: str | Path, *, seed: int = 0,
          reserve: int = 0) -> dict:
    """Letterbox up to ``size`` images (an evenly spread, seeded choice) into ``out_dir``; returns the manifest.

    ``reserve``: leave at least this many images of the split out of the calibration set (accuracy control tunes on
    them: :mod:`ovyolo.build.accuracy_control` takes the next images of the same seeded order), as long as at least
    :data:`MIN_IMAGES` remain for calibration.
    """
    from ovyolo.data.letterbox import load_letterboxed

    h, w = int(hw[0]), int(hw[1])
    if not images:
        raise WorkflowError("the calibration split has no images; check 'train:' in data.yaml")
    order = np.random.default_rng(seed).permutation(len(images))
    requested = size
    if reserve > 0 and len(images) < MIN_IMAGES + MIN_TUNING_IMAGES:
        raise WorkflowError(
            f"the train split has {len(images)} images; quantization.max_drop needs at least "
            f"{MIN_IMAGES + MIN_TUNING_IMAGES} ({MIN_IMAGES} to calibrate, {MIN_TUNING_IMAGES} other ones to tune on)"
        )
    if reserve > 0 and len(images) - reserve < size:
        size = max(MIN_IMAGES, len(images) - reserve)
    chosen, skipped, arrays = [], [], []
    for idx in order:
        if len(chosen) >= size:
            break
        f = images[int(idx)]
        try:
            canvas, _ = load_letterboxed(f, (h, w))
        except ValueError as exc:
            skipped.append({"file": str(f), "why": str(exc)})
            continue
        arrays.append(canvas.transpose(2, 0, 1))
        chosen.append(str(f))
    warnings = []
    if skipped:
        msg = f"skipped {len(skipped)} unreadable image(s), e.g. {skipped[0]['file']}: {skipped[0]['why']}"
        log.warning(msg)
        warnings.append(msg)
    if len(chosen) < MIN_IMAGES:
        raise WorkflowError(
            f"only {len(chosen)} readable calibration images (need at least {MIN_IMAGES}); add train images or fix the unreadable ones"
        )
    if size < requested:
        msg = (f"calibration uses {size} of {len(images)} train images (calibration.size {requested}): "
               f"{reserve} are reserved for accuracy control (quantization.max_drop is set)")
        log.warning(msg)
        warnings.append(msg)
    elif len(chosen) < size:
        msg = f"calibration size {size} requested but only {len(chosen)} usable train images; using {len(chosen)}"
        log.warning(msg)
        warnings.append(msg)
    manifest = {
        "hw": [h, w], "count": len(chosen), "requested": requested, "reserved": int(reserve), "files": chosen,
        "skipped": skipped,
        "warnings": warnings, "seed": seed, "dtype": "uint8", "layout": "NCHW RGB, letterboxed (pad 114)",
    }
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / ARRAY, np.stack(arrays))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load(path: str | Path, hw: tuple[int, int] | None = None) -> np.ndarray:
    """Open a calibration array (memory-mapped) and, if ``hw`` is given, check it is N x 3 x h x w."""
    path = Path(path)
    if path.is_dir():
        path = path / ARRAY
    if not path.is_file():
        raise WorkflowError(f"calibration set {path} does not exist; run the calibration rule first")
    arr = np.load(path, mmap_mode="r")
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise WorkflowError(f"{path}: calibration array has shape {arr.shape}, expected N x 3 x H x W")
    if hw is not None and tuple(arr.shape[2:]) != (int(hw[0]), int(hw[1])):
        raise ShapeMismatchError(
            f"calibration set {path} holds {arr.shape[2]}x{arr.shape[3]} images but the model input is {hw[0]}x{hw[1]}; "
            f"build the calibration set at {hw[0]}x{hw[1]}"
        )
    return arr
