"""One pipeline from an image source to detections: used by ``python -m ovyolo predict`` and the pipeline benchmark.

A source (:func:`open_source`) is an image file, a folder, a glob (``"imgs/*.jpg"``) or a video file (OpenCV
``VideoCapture``); any iterable of ``(name, HxWx3 uint8 RGB)`` pairs works too (a camera). Frames are produced by a
generator, so memory does not grow with the source's length.

:class:`Pipeline` overlaps three things:

- a reader thread (:func:`ovyolo.data.prefetch.prefetch`) decodes and letterboxes the next images (:mod:`ovyolo.data.letterbox`, the one preprocessing) into
  a bounded queue;
- OpenVINO's ``AsyncInferQueue`` (:func:`ovyolo.measure.runtimes.ordered_infer`, the one in-order consumer, which
  validation runs too) runs as many requests as the compiled model's ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``,
  each of one image, or of ``batch`` images stacked when the detector was loaded at a batch
  (:func:`ovyolo.deploy.predict.load`, ``batch=``; the last request of a source is topped up with zero images);
- the calling thread decodes finished outputs with :meth:`ovyolo.deploy.predict.Detector.decode` (the exact
  :func:`ovyolo.measure.evaluate.nms`, best class per box, as ``Detector.detect``) and yields them in source order.

So the boxes are those of ``Detector.detect`` on each image; only the scheduling differs. Each stage's wall and
thread-CPU time is counted in :class:`Stats` (decode, preprocess, inference, postprocess).
"""
from __future__ import annotations

import glob
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ovyolo.data.prefetch import prefetch
from ovyolo.errors import WorkflowError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv"}
# THROUGHPUT (2 streams here) over LATENCY + as many requests: 1.27x [0.80, 1.43] img/s and 8.4 vs 11.4 core-ms per
# image (experiments/pipeline_bench.py, 2 vCPUs, loaded VM): not a win by the CI, but never measured slower and cheaper
PIPELINE_HINT = "THROUGHPUT"
# images per request for files and videos: 8 stacked letterboxed images per request, with the streams above, gave
# identical boxes and 1.25x the img/s of batch 1 (150 vs 118 img/s, demo INT8 bundle at 160x256, 96 JPEGs, 6
# interleaved rounds, 2-vCPU AMD EPYC); each run's pipeline.json measures it again (ovyolo.measure.pipeline_bench)
PIPELINE_BATCH = 8
PROGRESS_MIN = 100  # a progress bar (on a tty) for sources at least this long


@dataclass
class Source:
    """What :func:`open_source` found: image files (paths only, decoded on demand) or one video file."""

    kind: str  # "images" | "video"
    paths: list[Path] = field(default_factory=list)
    video: Path | None = None

    def __len__(self) -> int:
        if self.kind == "images":
            return len(self.paths)
        import cv2

        cap = cv2.VideoCapture(str(self.video))
        try:
            return max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))  # the container's count: may be approximate
        finally:
            cap.release()

    def frames(self, reduce_for: tuple[int, int] | None = None) -> Iterator[tuple]:
        """``(name, BGR frame)`` one at a time (cv2's order: no full-size channel swap; the pipeline swaps the
        letterboxed canvas); an unreadable image yields ``(name, None)`` (logged). ``reduce_for`` = (h, w): JPEGs
        are decoded at 1/2, 1/4 or 1/8 scale where that still covers an h x w letterbox (:func:`read_reduced`),
        yielded as ``(name, frame, (H, W) of the full image)``: an approximation, not the exact path."""
        from ovyolo.data.letterbox import read_bgr

        if self.kind == "images":
            for path in self.paths:
                try:
                    if reduce_for is not None and path.suffix.lower() in (".jpg", ".jpeg"):
                        yield (str(path), *read_reduced(path, reduce_for))
                        continue
                    yield str(path), read_bgr(path)
                except ValueError as exc:
                    log.warning("skipping unreadable image: %s", exc)
                    yield str(path), None
            return
        import cv2

        cap = cv2.VideoCapture(str(self.video))
        if not cap.isOpened():
            raise WorkflowError(f"{self.video}: OpenCV cannot open this video")
        try:
            i = 0
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield f"{self.video}#{i}", bgr
                i += 1
        finally:
            cap.release()


def read_reduced(path: Path, hw: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """A JPEG decoded by libjpeg at the smallest of 1/8, 1/4, 1/2 scale that is still no smaller than its letterbox
    at ``hw`` (else full size), BGR, and the full image's (H, W) (from the header, EXIF orientation applied)."""
    import cv2
    from PIL import Image

    from ovyolo.data.letterbox import read_bgr

    try:
        with Image.open(path) as im:
            w0, h0 = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated by 90 degrees: cv2 applies it too
                w0, h0 = h0, w0
    except Exception:  # noqa: BLE001 - let the exact reader decide (and name the error)
        return read_bgr(path), None
    r = min(hw[0] / h0, hw[1] / w0)
    for f, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)):
        if r * f <= 1.0:
            im = cv2.imdecode(np.fromfile(str(path), np.uint8), flag)
            if im is not None and im.dtype == np.uint8:
                return im, (h0, w0)
            break
    return read_bgr(path), (h0, w0)


def pipeline_batch(source) -> int:
    """Images per request for ``source``: :data:`PIPELINE_BATCH` for a video and for image files (no more than
    there are files); 1 for any other iterable (a camera: each frame's detections without waiting for the next)."""
    if isinstance(source, Source):
        return PIPELINE_BATCH if source.kind == "video" else max(1, min(PIPELINE_BATCH, len(source.paths)))
    return 1


def open_source(source: str | Path) -> Source:
    """An image file, a video file, a folder of images (sorted) or a glob of images (sorted)."""
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return Source("video", video=path)
        return Source("images", paths=[path])
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise WorkflowError(f"{source}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return Source("images", paths=found)
    if glob.has_magic(str(source)):
        found = sorted(Path(p) for p in glob.glob(str(source), recursive=True)
                       if Path(p).suffix.lower() in IMAGE_SUFFIXES and Path(p).is_file())
        if not found:
            raise WorkflowError(f"{source}: the pattern matches no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return Source("images", paths=found)
    raise WorkflowError(f"{source}: no such image, video, folder or glob")


@dataclass
class Result:
    """One image's detections: ``det`` (M, 6) ``x1, y1, x2, y2, score, cls`` in its own pixels; ``image`` the RGB
    frame when the pipeline keeps images (for drawing), else None; ``error`` set for an unreadable image."""

    index: int
    name: str
    height: int
    width: int
    det: np.ndarray
    image: np.ndarray | None = None
    error: str | None = None


@dataclass
class Stats:
    """Where the time went: sums over the images of wall and thread-CPU seconds per stage (decode and preprocess in
    the reader thread, postprocess in the caller's), inference wall time per request (submit to callback: a
    latency, overlapping other requests), the run's wall and process CPU seconds."""

    images: int = 0
    skipped: int = 0
    requests: int = 0
    wall_s: float = 0.0
    process_cpu_s: float = 0.0
    decode_s: float = 0.0
    decode_cpu_s: float = 0.0
    pre_s: float = 0.0
    pre_cpu_s: float = 0.0
    infer_s: float = 0.0
    post_s: float = 0.0
    post_cpu_s: float = 0.0

    def per_image_ms(self) -> dict:
        """Milliseconds per image of each stage (wall and core), img/s, and the core-ms left for inference (process
        CPU minus the host stages: OpenVINO's threads plus Python's overhead)."""
        n = max(self.images, 1)
        ms = lambda s: round(1000.0 * s / n, 4)  # noqa: E731
        host_cpu = self.decode_cpu_s + self.pre_cpu_s + self.post_cpu_s
        return {"images": self.images, "skipped": self.skipped, "requests": self.requests,
                "img_per_s": round(self.images / self.wall_s, 3) if self.wall_s > 0 else None,
                "wall_ms": ms(self.wall_s), "core_ms": ms(self.process_cpu_s),
                "decode_ms": ms(self.decode_s), "decode_core_ms": ms(self.decode_cpu_s),
                "pre_ms": ms(self.pre_s), "pre_core_ms": ms(self.pre_cpu_s),
                "infer_latency_ms": ms(self.infer_s), "infer_and_rest_core_ms": ms(self.process_cpu_s - host_cpu),
                "post_ms": ms(self.post_s), "post_core_ms": ms(self.post_cpu_s)}


@dataclass
class _Item:
    index: int
    name: str
    height: int = 0
    width: int = 0
    geo: object = None
    tensor: np.ndarray | None = None
    image: np.ndarray | None = None
    error: str | None = None
    scale_back: tuple[float, float] | None = None  # (y, x): decoded at reduced scale -> full-image pixels
    readable: bool = True


class Pipeline:
    """Source -> detections with a reader thread and an ``AsyncInferQueue`` (see the module docstring).

    ``detector``: a :class:`ovyolo.deploy.predict.Detector` (:func:`ovyolo.deploy.predict.load`; compile it with
    ``performance_hint=PIPELINE_HINT`` for streams). ``requests``: infer requests in flight (default: the compiled
    model's ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``), each of ``detector.batch`` images; ``prefetch``: letterboxed images
    waiting in the queue (default 2 x requests x batch); ``keep_images``: hand each frame back in
    :attr:`Result.image` (to draw it; reduced when ``reduced_decode``); ``progress``: a tqdm bar on stderr (None: only on a tty and for sources of at least
    ``PROGRESS_MIN`` images); ``reduced_decode``: decode JPEG files at 1/2-1/8 scale when the letterbox is that much
    smaller (:func:`read_reduced`; faster, approximate: the boxes move, see experiments/pipeline_bench.py).
    """

    def __init__(self, detector, *, requests: int | None = None, prefetch: int | None = None,
                 keep_images: bool = False, progress: bool | None = None, reduced_decode: bool = False):
        if detector.compiled is None:
            raise WorkflowError("the pipeline needs a compiled detector (ovyolo.deploy.predict.load)")
        import torchvision  # noqa: F401 - the NMS's import (seconds) is paid here, not in the first image's timing

        self.detector = detector
        optimal = int(detector.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.requests = max(1, int(requests or optimal))
        self.prefetch = max(1, int(prefetch or 2 * self.requests * detector.batch))
        self.keep_images = keep_images
        self.reduced_decode = reduced_decode
        self.progress = progress
        self.stats = Stats(requests=self.requests)

    # -- the reading stage (run ahead in a thread by ovyolo.data.prefetch) ---------------------------------------------
    def _read(self, frames: Iterable, bgr: bool) -> Iterator[_Item]:
        import cv2

        from ovyolo.data.letterbox import letterbox, to_tensor

        st = self.stats
        it = iter(frames)
        index = 0
        while True:
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                name, image, *full = next(it)
            except StopIteration:
                return
            w1, c1 = time.perf_counter(), time.thread_time()
            item = _Item(index, str(name))
            index += 1
            if image is None:
                item.error, item.readable = "unreadable", False
            else:
                item.height, item.width = int(image.shape[0]), int(image.shape[1])
                if full and full[0] is not None and tuple(full[0]) != (item.height, item.width):
                    item.scale_back = (full[0][0] / item.height, full[0][1] / item.width)
                    item.height, item.width = int(full[0][0]), int(full[0][1])
                canvas, item.geo = letterbox(image, self.detector.hw)  # per channel: the order does not matter
                item.tensor = to_tensor(canvas, bgr=bgr)
                if self.keep_images:
                    item.image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if bgr else image
            w2, c2 = time.perf_counter(), time.thread_time()
            st.decode_s += w1 - w0
            st.decode_cpu_s += c1 - c0
            st.pre_s += w2 - w1
            st.pre_cpu_s += c2 - c1
            yield item

    # -- the consuming side -------------------------------------------------------------------------------------------
    def _finish(self, item: _Item, raw: np.ndarray | None, infer_s: float, error: BaseException | None) -> Result:
        st = self.stats
        if not item.readable:  # unreadable: nothing was submitted
            st.skipped += 1
            return Result(item.index, item.name, 0, 0, np.zeros((0, 6), np.float32), None, item.error)
        if error is not None:
            raise WorkflowError(f"{item.name}: inference failed: {type(error).__name__}: {error}")
        w0, c0 = time.perf_counter(), time.thread_time()
        det = self.detector.decode(raw, item.geo)
        if item.scale_back is not None:
            det[:, [1, 3]] = (det[:, [1, 3]] * item.scale_back[0]).clip(0, item.height)
            det[:, [0, 2]] = (det[:, [0, 2]] * item.scale_back[1]).clip(0, item.width)
        st.post_s += time.perf_counter() - w0
        st.post_cpu_s += time.thread_time() - c0
        st.infer_s += infer_s
        st.images += 1
        return Result(item.index, item.name, item.height, item.width, det, item.image)

    def run(self, source: str | Path | Source | Iterable) -> Iterator[Result]:
        """Detections for every frame of ``source``, in its order (a generator: consume it to run the pipeline).
        ``source``: a path or glob (:func:`open_source`), a :class:`Source`, or an iterable of ``(name, HxWx3 uint8
        RGB)`` pairs."""
        from ovyolo.measure.runtimes import ordered_infer

        src = open_source(source) if isinstance(source, (str, Path)) else source
        bgr = isinstance(src, Source)
        frames = (src.frames(self.detector.hw if self.reduced_decode else None)) if bgr else src
        total = None
        if self.progress is not False:
            try:
                total = len(src)
            except TypeError:
                total = None
        show = self.progress if self.progress is not None else \
            bool(sys.stderr.isatty() and total is not None and total >= PROGRESS_MIN)
        bar = None
        if show:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="img", file=sys.stderr)
        self.stats = st = Stats(requests=self.requests)
        w0, c0 = time.perf_counter(), time.process_time()
        items = prefetch(self._read(frames, bgr), self.prefetch, name="ovyolo-reader")

        def tensors():  # each tensor handed over once: the item keeps only what decoding its output needs
            for item in items:
                x, item.tensor = item.tensor, None
                yield item, x

        stream = ordered_infer(self.detector.compiled, self.requests, tensors(), self.detector.batch)
        try:
            for item, raw, infer_s, error in stream:
                yield self._finish(item, raw, infer_s, error)
                if bar is not None:
                    bar.update(1)
        finally:
            stream.close()  # waits for the requests in flight
            items.close()
            st.wall_s = time.perf_counter() - w0
            st.process_cpu_s = time.process_time() - c0
            if bar is not None:
                bar.close()
