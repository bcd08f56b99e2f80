"""Shape discovery: which h x w a model is deployed at, and why.

The training size is one number (square mosaics). For a data set whose frames share an aspect ratio, the
deploy shape is the smallest stride multiple that holds the letterboxed frame (720x1280 at 1280 ->
736x1280; 360x640 at 320 -> 192x320). Mixed aspect ratios give imgsz x imgsz. An explicit ``imgsz`` wins
and must be a stride multiple.
"""
from __future__ import annotations

import math
import re

from ovyolo.errors import WorkflowError

# Share of images that must have the dominant frame size for a rectangular deploy shape.
DOMINANT_SHARE = 0.9


def _ceil_to(v: float, stride: int) -> int:
    return max(stride, int(math.ceil(round(v, 6) / stride)) * stride)


def deploy_shape(train_imgsz: int, stride: int, frame_hw: tuple[int, int]) -> tuple[int, int]:
    """Smallest stride multiple that holds a ``frame_hw`` frame letterboxed with long side ``train_imgsz``."""
    fh, fw = frame_hw
    r = train_imgsz / max(fh, fw)
    return _ceil_to(fh * r, stride), _ceil_to(fw * r, stride)


def nearest_valid(v: int, stride: int) -> tuple[int, int]:
    """The stride multiples just below and above ``v`` (the lower one at least ``stride``)."""
    lo = max(stride, (v // stride) * stride)
    hi = int(math.ceil(v / stride)) * stride
    return lo, hi


AUTO = "auto"


def parse_imgsz(spec) -> list:
    """Config ``imgsz`` -> list of items, each ``(h, w)`` or ``"auto"`` (the discovered shape).

    Accepts ``auto``, an int (square), ``[h, w]``, or a list whose items are any of those, e.g.
    ``[auto, 640]``: the discovered deploy shape and 640x640 side by side.
    """
    bad = f"imgsz: {spec!r} is not a size; use auto, an int, [h, w] or a list of those"
    if spec is None or spec == AUTO:
        return [AUTO]
    if isinstance(spec, bool):
        raise WorkflowError(bad)
    if isinstance(spec, int):
        return [(spec, spec)]
    if isinstance(spec, (list, tuple)):
        if len(spec) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            return [(int(spec[0]), int(spec[1]))]
        out: list = []
        for item in spec:
            if isinstance(item, (list, tuple)) and not (len(item) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in item)):
                raise WorkflowError(bad)
            out += parse_imgsz(item)
        if not out:
            raise WorkflowError("imgsz: empty list; use auto, an int, [h, w] or a list of those")
        return list(dict.fromkeys(out))
    raise WorkflowError(bad)


def check_stride(hw: tuple[int, int], stride: int) -> tuple[int, int]:
    """Raise a clear error unless both sides are positive stride multiples."""
    h, w = hw
    if h <= 0 or w <= 0:
        raise WorkflowError(f"imgsz [{h}, {w}] must be positive")
    if h % stride or w % stride:
        (h0, h1), (w0, w1) = nearest_valid(h, stride), nearest_valid(w, stride)
        options = sorted({(h0, w0), (h1, w1), (h0, w1), (h1, w0)}, key=lambda s: (abs(s[0] - h) + abs(s[1] - w), s))
        near = " or ".join(f"[{a}, {b}]" for a, b in options[:2])
        raise WorkflowError(f"imgsz [{h}, {w}] is not a multiple of the model stride {stride}; use {near}")
    return h, w


def train_imgsz(args: dict) -> int | None:
    """The square training size from args.yaml/opt.yaml (``imgsz`` int, or a list in newer YOLOv5)."""
    v = args.get("imgsz", args.get("img_size"))
    if isinstance(v, (list, tuple)) and v:
        v = max(int(x) for x in v)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def discover(
    *,
    train_size: int | None,
    train_size_from: str,
    stride: int,
    frame_sizes: list[tuple[int, int]],
    imgsz_spec=None,
    square: bool = False,
    dominant_share: float = DOMINANT_SHARE,
) -> dict:
    """Decide the deploy shapes. Returns a dict with ``shapes`` (list of {h, w, reason}) and the evidence."""
    from ovyolo.data import dominant_size

    record: dict = {"stride": stride, "train_imgsz": train_size, "train_imgsz_from": train_size_from}
    if frame_sizes:
        hw, share = dominant_size(frame_sizes)
        record["frames"] = {"count": len(frame_sizes), "dominant_hw": list(hw), "dominant_share": round(share, 4)}
    shapes: dict[tuple[int, int], str] = {}
    for item in parse_imgsz(imgsz_spec):
        if item == AUTO:
            (h, w), reason = _auto_shape(train_size, train_size_from, stride, frame_sizes, square, dominant_share)
        else:
            h, w = check_stride(item, stride)
            reason = f"explicit imgsz [{h}, {w}] from config"
        shapes.setdefault((h, w), reason)
    record["shapes"] = [{"h": h, "w": w, "reason": r} for (h, w), r in shapes.items()]
    return record


def _auto_shape(train_size, train_size_from, stride, frame_sizes, square, dominant_share) -> tuple[tuple[int, int], str]:
    from ovyolo.data import dominant_size

    if train_size is None:
        raise WorkflowError(
            "no training size found (no args.yaml/opt.yaml, none in the checkpoint or ONNX); set 'imgsz:' for this model in config.yaml"
        )
    base = f"train imgsz {train_size} from {train_size_from}"
    if train_size % stride:
        raise WorkflowError(f"{base} is not a multiple of the model stride {stride}; set 'imgsz:' for this model in config.yaml")
    square_hw = (train_size, train_size)
    if square:
        return square_hw, f"{base}; square requested in config -> {train_size}x{train_size}"
    if not frame_sizes:
        return square_hw, f"{base}; no readable val images to take an aspect ratio from -> square {train_size}x{train_size}"
    (fh, fw), share = dominant_size(frame_sizes)
    pct = f"{share * 100:.0f}%"
    if share < dominant_share:
        return square_hw, (f"{base}; mixed frame sizes (the most common, {fh}x{fw}, is only {pct} of {len(frame_sizes)} val "
                           f"images, below {dominant_share * 100:.0f}%) -> square {train_size}x{train_size}")
    h, w = deploy_shape(train_size, stride, (fh, fw))
    return (h, w), (f"{base}; {pct} of {len(frame_sizes)} val images are {fh}x{fw} -> letterboxed to long side "
                    f"{train_size}, rounded up to stride {stride} -> {h}x{w}")


def hw_of_folder(folder) -> tuple[int, int]:
    """(h, w) from a shape folder's name, ``results/{model}/{h}x{w}`` (for the scripts in benchmarks/)."""
    from pathlib import Path

    m = re.fullmatch(r"(\d+)x(\d+)", Path(folder).name)
    if not m:
        raise WorkflowError(f"{folder}: the folder name must be {{h}}x{{w}} (e.g. results/demo/160x256)")
    return int(m.group(1)), int(m.group(2))
