"""Letterboxing: the single preprocessing shared by calibration, validation and benchmarking.

An image of size H0 x W0 is scaled by ``r = min(h / H0, w / W0)`` (aspect ratio kept), resized to
``round(H0 r) x round(W0 r)`` with bilinear interpolation (``cv2.INTER_LINEAR``, as Ultralytics' ``LetterBox`` and
its val loader do, for down- and upscaling alike) and padded evenly with grey (114) to exactly ``h x w``. The same
geometry (scale and padding) maps predicted boxes back to the original image. Images are read as Ultralytics reads
them (cv2, EXIF orientation applied).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ovyolo.errors import WorkflowError

PAD_VALUE = 114


@dataclass(frozen=True)
class Geometry:
    """How an original image maps into the letterboxed canvas."""

    src_h: int
    src_w: int
    dst_h: int
    dst_w: int
    scale: float
    new_h: int  # size of the resized image inside the canvas
    new_w: int
    top: int  # padding above / left of the resized image
    left: int

    def to_dict(self) -> dict:
        return asdict(self)

    def boxes_to_source(self, xyxy: np.ndarray) -> np.ndarray:
        """Map xyxy boxes from canvas coordinates back to the original image, clipped to it."""
        out = np.asarray(xyxy, dtype=np.float64).copy()
        out[..., [0, 2]] = (out[..., [0, 2]] - self.left) / self.scale
        out[..., [1, 3]] = (out[..., [1, 3]] - self.top) / self.scale
        out[..., [0, 2]] = out[..., [0, 2]].clip(0, self.src_w)
        out[..., [1, 3]] = out[..., [1, 3]].clip(0, self.src_h)
        return out

    def boxes_to_canvas(self, xyxy: np.ndarray) -> np.ndarray:
        """Map xyxy boxes from the original image into canvas coordinates."""
        out = np.asarray(xyxy, dtype=np.float64).copy()
        out[..., [0, 2]] = out[..., [0, 2]] * self.scale + self.left
        out[..., [1, 3]] = out[..., [1, 3]] * self.scale + self.top
        return out


def geometry(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> Geometry:
    """Compute the letterbox geometry for an image of ``src_hw`` on a canvas of ``dst_hw``."""
    src_h, src_w = (int(v) for v in src_hw)
    dst_h, dst_w = (int(v) for v in dst_hw)
    if min(src_h, src_w, dst_h, dst_w) <= 0:
        raise ValueError(f"letterbox needs positive sizes, got source {src_h}x{src_w} and target {dst_h}x{dst_w}")
    scale = min(dst_h / src_h, dst_w / src_w)
    new_h = min(dst_h, max(1, int(round(src_h * scale))))
    new_w = min(dst_w, max(1, int(round(src_w * scale))))
    top = (dst_h - new_h) // 2
    left = (dst_w - new_w) // 2
    return Geometry(src_h, src_w, dst_h, dst_w, scale, new_h, new_w, top, left)


def letterbox(image: np.ndarray, dst_hw: tuple[int, int]) -> tuple[np.ndarray, Geometry]:
    """Letterbox an HxWx3 uint8 image to exactly ``dst_hw``; returns the canvas and its geometry."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"letterbox expects an HxWx3 image, got shape {tuple(image.shape)}")
    geo = geometry(image.shape[:2], dst_hw)
    if (geo.new_h, geo.new_w) != image.shape[:2]:
        image = cv2.resize(image, (geo.new_w, geo.new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((geo.dst_h, geo.dst_w, 3), PAD_VALUE, dtype=np.uint8)
    canvas[geo.top : geo.top + geo.new_h, geo.left : geo.left + geo.new_w] = image
    return canvas, geo


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB, upright: as Ultralytics' ``imread`` does (cv2 decoding, which applies
    the EXIF orientation), with Pillow (``exif_transpose``) for what cv2 cannot decode.

    Grayscale, RGBA and 16-bit images are converted (alpha dropped, 16-bit scaled to 8-bit); an unreadable
    file raises ``ValueError`` naming it.
    """
    import cv2

    im, order = _read(path)
    return cv2.cvtColor(im, cv2.COLOR_BGR2RGB) if order == "bgr" else im  # cvtColor: ~4x a numpy [..., ::-1] copy


def read_bgr(path: str | Path) -> np.ndarray:
    """:func:`read_rgb` with the channels in cv2's order (BGR): no channel swap of the full-size image; letterbox it
    and swap in :func:`to_tensor` (``bgr=True``) for the same tensor."""
    import cv2

    im, order = _read(path)
    return cv2.cvtColor(im, cv2.COLOR_RGB2BGR) if order == "rgb" else im


def _read(path: str | Path) -> tuple[np.ndarray, str]:
    import cv2

    try:
        buf = np.fromfile(str(path), np.uint8)
    except OSError as exc:
        raise ValueError(f"cannot read image {path}: {type(exc).__name__}: {exc}") from exc
    im = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if im is not None:
        if im.dtype == np.uint16:
            im = (im >> 8).astype(np.uint8)
        return im, "bgr"
    return _read_rgb_pil(path), "rgb"


def _read_rgb_pil(path: str | Path) -> np.ndarray:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                top = 65535.0 if arr.max() > 255 else 255.0
                arr = (arr / top * 255.0).round().clip(0, 255).astype(np.uint8)
                return np.repeat(arr[..., None], 3, axis=2)
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 - PIL raises OSError; Ultralytics' patched Image.open may raise ImportError
        raise ValueError(f"cannot read image {path}: {type(exc).__name__}: {exc}") from exc


def to_tensor(canvas: np.ndarray, bgr: bool = False) -> np.ndarray:
    """HxWx3 uint8 RGB (``bgr``: BGR, swapped here) -> 1x3xHxW float32 RGB in [0, 1], the network input: each value
    ``float32(v) / 255`` (float32 division), bit for bit what ``canvas.transpose(2, 0, 1).astype(float32) / 255``
    gives, from contiguous planes (``cv2.split``; 3.5 instead of 11.9 core-ms at 736x1280 on the AMD VM)."""
    import cv2

    out = np.empty((1, 3, *canvas.shape[:2]), np.float32)
    planes = cv2.split(np.ascontiguousarray(canvas))
    for c in range(3):
        out[0, c] = planes[2 - c if bgr else c]
    out /= np.float32(255.0)
    return out


def load_letterboxed(path: str | Path, dst_hw: tuple[int, int]) -> tuple[np.ndarray, Geometry]:
    """Read an image file and letterbox it: returns the HxWx3 uint8 canvas and the geometry."""
    return letterbox(read_rgb(path), dst_hw)


def load_inputs(images: list[Path], hw: tuple[int, int], max_images: int) -> list[np.ndarray]:
    """The first ``max_images`` images (sorted by path) letterboxed to ``hw`` as 1x3xHxW float32 arrays."""
    chosen = sorted(Path(p) for p in images)[: max(1, int(max_images))]
    if not chosen:
        raise WorkflowError("benchmark needs at least one image; check the validation split of the data set")
    return [to_tensor(load_letterboxed(p, hw)[0]) for p in chosen]
