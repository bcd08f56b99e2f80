"""ONNX models: the one place their input/output dims and our metadata are read, and dynamic inputs are fixed."""
from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

from ovyolo.errors import ShapeMismatchError, WorkflowError


def value_dims(value_info) -> list:
    """Dims of an ONNX graph input/output: ints, or the dim's name (or None) for a dynamic axis."""
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def _read(path: str | Path, *, weights: bool = False):
    import onnx

    try:
        return onnx.load(str(path), load_external_data=weights)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, OSError, ...
        raise WorkflowError(f"{path} is not a readable ONNX model ({exc}); re-export it") from exc


def _image_inputs(m) -> list:
    init = {t.name for t in m.graph.initializer}
    return [i for i in m.graph.input if i.name not in init]


def input_dims(path: str | Path) -> list:
    """The input dims of a one-input ONNX model (ints, or names/None for dynamic axes)."""
    inputs = _image_inputs(_read(path))
    if len(inputs) != 1:
        raise WorkflowError(f"{path} has {len(inputs)} inputs; a YOLO detector has one image input")
    return value_dims(inputs[0])


def output_dims(path: str | Path) -> list[list]:
    """The dims of every output of an ONNX model (ints, or names/None for dynamic axes)."""
    return [value_dims(o) for o in _read(path).graph.output]


def check(path: str | Path, hw: tuple[int, int]) -> None:
    """Fail unless the ONNX input is exactly 1 x 3 x h x w."""
    dims = input_dims(path)
    want = [1, 3, int(hw[0]), int(hw[1])]
    if dims != want:
        raise ShapeMismatchError(f"{path}: ONNX input is {dims} but its path says {want}; re-run export_onnx for this shape")


def _names(meta: dict) -> list[str]:
    try:
        parsed = ast.literal_eval(meta["names"])
    except (KeyError, ValueError, SyntaxError):
        return []
    return [parsed[k] for k in sorted(parsed)] if isinstance(parsed, dict) else list(parsed)


def _refuse_non_detectors(path, meta: dict, outputs: list) -> None:
    """One line, before any work, for an ONNX that is not a YOLO detector: Ultralytics' metadata ``task`` or
    ``head`` says so, or its outputs cannot be a detector's (one output of rank 3)."""
    from ovyolo.sources.base import REFUSED_HEADS, SUPPORTED

    task = meta.get("task")
    if task and task != "detect":
        raise WorkflowError(f"{path} is an Ultralytics {task} model (ONNX metadata task: {task}), not a detection "
                            f"model; supported are {SUPPORTED}")
    if meta.get("head") in REFUSED_HEADS:
        raise WorkflowError(f"{path} holds {REFUSED_HEADS[meta['head']]} (ONNX metadata head: {meta['head']}); "
                            f"supported are {SUPPORTED}")
    if len(outputs) != 1:
        raise WorkflowError(f"{path} has {len(outputs)} outputs ({', '.join(str(o) for o in outputs)}); a YOLO "
                            "detector has one (a segmentation model has two: boxes and mask prototypes); "
                            f"supported are {SUPPORTED}")
    if len(outputs[0]) != 3:
        raise WorkflowError(f"{path}: output of shape {outputs[0]} cannot be a YOLO detector's (rank 3: 1 x 4+nc x N, "
                            f"1 x N x 5+nc or 1 x K x 6; a classifier gives 1 x nc); supported are {SUPPORTED}")


def declared_layout(meta: dict) -> tuple[str | None, str]:
    """The layout an ONNX's metadata declares and which key said so: ours (``ovyolo_layout``, ``ovyolo_family``)
    first, then Ultralytics' (``end2end``, ``args.nms``); (None, "") when it says nothing."""
    from ovyolo import layouts

    if meta.get("ovyolo_layout") in layouts.LAYOUTS:
        return meta["ovyolo_layout"], "ONNX metadata ovyolo_layout"
    if meta.get("ovyolo_family") == "yolov5":
        return layouts.YOLOV5, "ONNX metadata ovyolo_family: yolov5"
    found = layouts.from_ultralytics_metadata(meta)
    if found:
        nms = re.search(r"'nms': (\w+)", meta.get("args", ""))
        return found, (f"Ultralytics ONNX metadata end2end: {meta.get('end2end', 'absent')}"
                       + (f", args.nms: {nms.group(1)}" if nms else ""))
    return None, ""


def inspect(path: Path, stride: int = 32, head: str = "auto"):
    """A :class:`~ovyolo.sources.ModelSource` of an ONNX: static input (if any), output layout, and the names,
    stride and training size from Ultralytics' (or our) metadata.

    The layout is what the metadata declares (:func:`declared_layout`); ``head`` (config ``head:``) may only
    confirm it (an ONNX holds one branch). Without metadata, ``head: end2end`` declares it, else the shape decides
    (:func:`ovyolo.layouts.guess`); a shape that does not fit the layout is refused, naming both."""
    from ovyolo import layouts
    from ovyolo.sources.base import ModelSource

    m = _read(path)
    inputs = _image_inputs(m)
    if len(inputs) != 1:
        raise WorkflowError(f"{path} has {len(inputs)} inputs; a YOLO detector has one image input")
    dims = [d if isinstance(d, int) and d > 0 else None for d in value_dims(inputs[0])]
    if len(dims) != 4 or dims[1] not in (3, None):
        raise WorkflowError(f"{path}: input shape {dims} is not N x 3 x H x W; export the detector with a 1x3xHxW image input")
    meta = {p.key: p.value for p in m.metadata_props}
    out_dims = [[d if isinstance(d, int) and d > 0 else None for d in value_dims(o)] for o in m.graph.output]
    _refuse_non_detectors(path, meta, out_dims)
    out_dims = out_dims[0]
    if meta.get("stride", "").isdigit():
        stride = int(meta["stride"])
    args = {}
    if "imgsz" in meta:
        try:
            args["imgsz"] = ast.literal_eval(meta["imgsz"])
        except (ValueError, SyntaxError):
            pass
    names = _names(meta)
    nc = len(names) or None
    layout, by = declared_layout(meta)
    if layout is not None and head not in ("auto", None):
        wanted = layouts.END2END if head == layouts.END2END else "one2many"
        has = layouts.END2END if layout == layouts.END2END else "one2many"
        if wanted != has:
            raise WorkflowError(
                f"{path} holds the {has} head ({by}) but config says head: {head}; an ONNX holds one branch: set "
                f"head: auto, or export the model again with Ultralytics' nms={'False' if head == 'end2end' else 'None'}")
    if layout is None and head == layouts.END2END:
        layout, by = layouts.END2END, "config head: end2end"
    if layout is None and head == "one2many":
        layout = layouts.ULTRALYTICS if layouts.fits(layouts.ULTRALYTICS, out_dims, nc) else layouts.YOLOV5
        by = f"config head: one2many, output shape {out_dims}"
    if layout is None:
        layout = layouts.guess(out_dims, nc)
        by = f"guessed from the output shape {out_dims}: nothing in the ONNX declares it"
        if layout is None:
            raise WorkflowError(
                f"{path}: cannot tell the output layout of {out_dims} (no metadata says it: it may be an end-to-end "
                "1 x K x 6 output or original YOLOv5 with one class); set head: end2end or head: one2many for this model")
    layouts.check_shape(layout, out_dims, nc, path, by)
    static = (dims[2], dims[3]) if dims[2] and dims[3] else None
    implied = layouts.implied_stride(layout, out_dims, static) if static and "stride" not in meta else None
    if implied and implied != stride:
        raise WorkflowError(
            f"{path}: {out_dims} output rows at {static[0]}x{static[1]} mean detection strides up to {implied}, but "
            f"the stride is {stride} (the ONNX has no stride metadata; config stride:, default 32): set stride: {implied}")
    return ModelSource(Path(path), "onnx", stride, names, args, "ONNX metadata" if args else "",
                       onnx_hw=static, layout=layout, layout_from=by, head_class=meta.get("head"),
                       output_dims=out_dims, trusted=True)


def reshape(src: Path, hw: tuple[int, int], out: Path) -> None:
    """A given ONNX: copy if static at ``hw``; fix dynamic H/W to ``hw``; refuse another static shape."""
    dims = input_dims(src)
    want = [1, 3, int(hw[0]), int(hw[1])]
    if dims == want:
        shutil.copyfile(src, out)
        return
    if all(isinstance(d, int) and d for d in dims):
        raise ShapeMismatchError(f"{src} has a static input {dims}, not {want}; re-export it at {hw[0]}x{hw[1]} or set imgsz to [{dims[2]}, {dims[3]}]")
    import onnx

    m = _read(src, weights=True)
    for d, v in zip(_image_inputs(m)[0].type.tensor_type.shape.dim, want):
        d.ClearField("dim_param")
        d.dim_value = v
    onnx.save(m, str(out))


def write_metadata(path: Path, source) -> None:
    """Record family, names, stride and output layout in the exported ONNX itself, so later stages need only this
    file."""
    import onnx

    m = _read(path, weights=True)
    props = {p.key: p.value for p in m.metadata_props}
    props.update({"ovyolo_family": source.family, "ovyolo_layout": source.output_layout,
                  "names": repr(dict(enumerate(source.names))), "stride": str(source.stride)})
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))


def read_metadata(path: str | Path):
    """The ModelSource (family, names, stride, layout) an exported ONNX records about the model it came from."""
    src = inspect(Path(path))
    fam = {p.key: p.value for p in _read(path).metadata_props}.get("ovyolo_family")
    if fam:
        src.family = fam
    return src
