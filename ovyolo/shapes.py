"""Shape discovery: which h x w a model is deployed at, and why.

The training size is one number (square mosaics). For a data set whose frames share an aspect ratio, the
deploy shape is the smallest stride multiple that holds the letterboxed frame (720x1280 at 1280 ->
736x1280; 360x640 at 320 -> 192x320). Mixed aspect ratios give imgsz x imgsz. An explicit ``imgsz`` wins
and must be a stride multiple.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

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
IMGSZ_GRAMMAR = ("auto; an int (one square size, 640); [h, w] (one shape, [736, 1280]); or a list of sizes, each "
                 "auto, an int or [h, w] ([[736, 1280], 640], [auto, 640]); a list of exactly two ints is always one "
                 "[h, w]")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_hw(v) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_int(x) for x in v)


def parse_imgsz(spec) -> list:
    """Config ``imgsz`` -> list of items, each ``(h, w)`` or ``"auto"`` (the discovered shape).

    The grammar (the schema's, workflow/schemas/config.schema.yaml), without ambiguity:

    - ``auto`` -> the discovered deploy shape; ``640`` -> one square shape 640x640;
    - ``[736, 1280]`` -> one shape, h x w: a list of exactly two ints is always one ``[h, w]``;
    - any other list is a list of sizes, each ``auto``, an int or ``[h, w]``: ``[[736, 1280], 640]``,
      ``[auto, 640]``, ``[auto, [736, 1280]]`` (two squares: ``[[640, 640], 320]``).
    """
    bad = f"imgsz: {spec!r} is not a size; use {IMGSZ_GRAMMAR}"
    if spec is None or spec == AUTO:
        return [AUTO]
    if _is_int(spec):
        return [(spec, spec)]
    if _is_hw(spec):
        return [(int(spec[0]), int(spec[1]))]
    if not isinstance(spec, (list, tuple)):
        raise WorkflowError(bad)
    if not spec:
        raise WorkflowError(f"imgsz: empty list; use {IMGSZ_GRAMMAR}")
    out: list = []
    for item in spec:
        if item == AUTO:
            out.append(AUTO)
        elif _is_int(item):
            out.append((item, item))
        elif _is_hw(item):
            out.append((int(item[0]), int(item[1])))
        else:
            raise WorkflowError(bad)
    return list(dict.fromkeys(out))


def check_stride(hw: tuple[int, int], stride: int) -> tuple[int, int]:
    """Raise one clear line unless both sides are positive stride multiples; it names the nearest valid shapes,
    the rounded-up one first (discovery also rounds up), e.g. [720, 1280] at stride 32: 736x1280 or 704x1280."""
    h, w = hw
    if h <= 0 or w <= 0:
        raise WorkflowError(f"imgsz [{h}, {w}] must be positive")
    if h % stride or w % stride:
        (h0, h1), (w0, w1) = nearest_valid(h, stride), nearest_valid(w, stride)
        cands = {(h0, h0), (h1, h1)} if h == w else {(h0, w0), (h1, w1), (h0, w1), (h1, w0)}
        options = sorted(cands, key=lambda s: (abs(s[0] - h) + abs(s[1] - w), -s[0] * s[1], s))
        near = " or ".join(f"[{a}, {b}] ({a}x{b})" for a, b in options[:2])
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
    from ovyolo.data.dataset import dominant_size

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
    from ovyolo.data.dataset import dominant_size

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


HW_PATTERN = re.compile(r"(\d+)x(\d+)")


def parse_hw(text: str) -> tuple[int, int]:
    """``"160x256"`` -> ``(160, 256)``: the one parser of the ``{h}x{w}`` in every path."""
    m = HW_PATTERN.fullmatch(str(text))
    if not m:
        raise WorkflowError(f"'{text}' is not a shape; expected {{h}}x{{w}}, e.g. 160x256")
    return int(m.group(1)), int(m.group(2))


def hw_name(hw) -> str:
    """``(160, 256)`` -> ``"160x256"``, the shape's folder name."""
    return f"{int(hw[0])}x{int(hw[1])}"


def model_and_shape(path) -> tuple[str, tuple[int, int]]:
    """``(model, (h, w))`` of a path inside a shape folder, ``results/{model}/{h}x{w}[/...]`` (the last
    ``{h}x{w}`` part of the path, and the folder above it)."""
    parts = Path(path).parts
    for i in range(len(parts) - 1, 0, -1):
        if HW_PATTERN.fullmatch(parts[i]):
            return parts[i - 1], parse_hw(parts[i])
    raise WorkflowError(f"{path} is not inside a results/{{model}}/{{h}}x{{w}} folder (e.g. results/demo/160x256)")
