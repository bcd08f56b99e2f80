"""The output layouts of a YOLO detector's one output, and the one place they are named, described and checked.

* ``ultralytics``: ``1 x (4+nc) x N`` -- cx, cy, w, h, then one score per class, no objectness (Ultralytics' Detect
  head with the one-to-many branch: YOLOv3/v5u/v6/v8/v9/11/12, and YOLOv10/YOLO26 exported with ``nms=None``).
  Decoded with NMS.
* ``yolov5``: ``1 x N x (5+nc)`` -- cx, cy, w, h, objectness, class probabilities (original YOLOv5). Decoded with NMS.
* ``end2end``: ``1 x K x 6`` -- x1, y1, x2, y2, score, class, already selected by the model (the one-to-one head
  of YOLOv10 and YOLO26, K = min(max_det, anchors), best first; or a model exported with NMS inside). No NMS.

A model says which it has (a checkpoint's head, Ultralytics' ONNX metadata ``end2end``/``args.nms``, our own
``ovyolo_layout``); :func:`guess` reads the shape only for an ONNX that says nothing, and :func:`check_shape`
refuses a shape that contradicts the declared layout, naming both.
"""
from __future__ import annotations

from ovyolo.errors import WorkflowError

ULTRALYTICS = "ultralytics"
YOLOV5 = "yolov5"
END2END = "end2end"
LAYOUTS = (ULTRALYTICS, YOLOV5, END2END)
DESCRIPTIONS = {
    ULTRALYTICS: "1 x (4+nc) x N, boxes cx,cy,w,h, class scores, no objectness; NMS after",
    YOLOV5: "1 x N x (5+nc), boxes cx,cy,w,h, objectness, class probabilities; NMS after",
    END2END: "1 x K x 6, boxes x1,y1,x2,y2, score, class; selected by the model (end-to-end head), no NMS",
}
# the config's models.<name>.head values (default in workflow/schemas/config.schema.yaml) -> what they ask for
HEADS = ("auto", "end2end", "one2many")
NMS_LAYOUTS = (ULTRALYTICS, YOLOV5)


def describe(layout: str) -> str:
    check_name(layout)
    return DESCRIPTIONS[layout]


def check_name(layout: str) -> str:
    if layout not in LAYOUTS:
        raise WorkflowError(f"unknown output layout '{layout}'; use one of {', '.join(LAYOUTS)}")
    return layout


def expected(layout: str, nc: int | None) -> str:
    """The shape a layout requires, as text (``nc`` None: any class count)."""
    c = "nc" if nc is None else str(nc)
    return {ULTRALYTICS: f"(1, {'4+nc' if nc is None else 4 + nc}, N)",
            YOLOV5: f"(1, N, {'5+nc' if nc is None else 5 + nc})",
            END2END: "(1, K, 6)"}[check_name(layout)] + ("" if nc is None else f" for {c} classes")


def fits(layout: str, shape, nc: int | None = None) -> bool:
    """Whether an output shape (ints; None or <= 0 for a dynamic axis) can be ``layout`` with ``nc`` classes."""
    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if len(dims) != 3 or dims[0] not in (1, None):
        return False
    a, b = dims[1], dims[2]
    if layout == ULTRALYTICS:
        if a is None:
            return True
        return a == 4 + nc if nc is not None else a > 4 and (b is None or a < b)
    if layout == YOLOV5:
        if b is None:
            return True
        return b == 5 + nc if nc is not None else b > 5 and (a is None or b < a)
    if layout == END2END:
        return b in (6, None)
    check_name(layout)
    return False


def check_shape(layout: str, shape, nc: int | None, where, declared_by: str = "") -> None:
    """Refuse an output shape that cannot be ``layout`` (one line naming both, and who declared the layout)."""
    if not fits(layout, shape, nc):
        by = f" ({declared_by})" if declared_by else ""
        raise WorkflowError(
            f"{where}: output shape {list(shape)} does not match its declared layout '{layout}'{by}, which is "
            f"{expected(layout, nc)}; is this a detection model with the head it says it has?")


def guess(shape, nc: int | None = None) -> str | None:
    """The layout of an output that nothing declares, from its shape; None when the shape cannot tell.

    ``1 x a x b`` with a < b is Ultralytics (boxes are the long axis); ``b == 6`` is end-to-end or original YOLOv5
    with one class, which only ``nc`` tells apart (else None: the caller asks the user for ``head:``)."""
    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if len(dims) != 3 or (dims[1] is None and dims[2] is None):
        return None
    a, b = dims[1], dims[2]
    if a is None:  # 1 x N x c with a dynamic N: boxes are rows
        return None if b == 6 else YOLOV5
    if b is None:  # 1 x c x N
        return ULTRALYTICS
    if nc is not None:
        found = [lay for lay in LAYOUTS if fits(lay, dims, nc)]
        return found[0] if len(found) == 1 else None
    if a < b:
        return ULTRALYTICS
    if b == 6:
        return None
    return YOLOV5


# the detection levels of Ultralytics' model families: P3-P5 (most), P3-P6 (the -p6 models), P2-P5 (the -p2 models)
STRIDE_SETS = ((8, 16, 32), (8, 16, 32, 64), (4, 8, 16, 32))
ROWS_PER_CELL = {ULTRALYTICS: 1, YOLOV5: 3}  # anchor-free: one row per grid cell; original YOLOv5: three anchors


def implied_stride(layout: str, shape, hw: tuple[int, int]) -> int | None:
    """The largest stride an NMS-layout output's row count implies at input ``hw`` (one of :data:`STRIDE_SETS`
    matches exactly), or None when it cannot tell (end-to-end K rows, dynamic, or no set matches)."""
    import math

    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if layout not in ROWS_PER_CELL or len(dims) != 3:
        return None
    rows = dims[2] if layout == ULTRALYTICS else dims[1]
    if rows is None:
        return None
    found = {max(s) for s in STRIDE_SETS
             if ROWS_PER_CELL[layout] * sum(math.ceil(hw[0] / t) * math.ceil(hw[1] / t) for t in s) == rows}
    return found.pop() if len(found) == 1 else None


def from_ultralytics_metadata(meta: dict) -> str | None:
    """The layout an Ultralytics export's metadata declares: ``end2end`` (one-to-one head, or NMS embedded with
    ``args.nms``) or ``ultralytics``; None if ``meta`` is not Ultralytics' (no ``end2end``/``args``/``task`` keys).
    Values may be Python literals as text (ONNX metadata) or parsed (metadata.yaml). Ultralytics' own
    ``AutoBackend`` decides the same way (``end2end or args.nms``)."""
    import ast

    def parse(v):
        if isinstance(v, str):
            try:
                return ast.literal_eval(v)
            except (ValueError, SyntaxError):
                return v
        return v

    if not any(k in meta for k in ("end2end", "args", "task")):
        return None
    args = parse(meta.get("args")) or {}
    e2e = bool(parse(meta.get("end2end", False))) or bool(isinstance(args, dict) and args.get("nms"))
    return END2END if e2e else ULTRALYTICS


def for_head(head: str, available: list[str], one2many_layout: str, where, head_class: str = "") -> str:
    """The layout of the head the config asks for (``auto``: end-to-end where the model has one), among the heads
    a checkpoint has (``available``: ``end2end`` and/or ``one2many``); one line naming what is there otherwise."""
    if head not in HEADS:
        raise WorkflowError(f"head: {head!r} is not one of {', '.join(HEADS)}")
    what = f"{head_class} head" if head_class else "head"
    if head == "auto":
        return END2END if END2END in available else one2many_layout
    if head not in available:
        has = " and ".join(available) or "no usable"
        raise WorkflowError(
            f"{where}: head: {head} asked for, but its {what} has only the {has} branch "
            f"({'only YOLOv10 and YOLO26 heads have an end-to-end branch' if head == END2END else 'fused away'}); "
            "set head: auto")
    return END2END if head == END2END else one2many_layout
