"""ONNX models: the one place their input/output dims and our metadata are read, and dynamic inputs are fixed."""
from __future__ import annotations

import ast
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


def inspect(path: Path, stride: int = 32):
    """A :class:`~ovyolo.sources.ModelSource` of an ONNX: static input (if any), output layout, and the names,
    stride and training size from Ultralytics' (or our) metadata."""
    from ovyolo.sources import ModelSource

    m = _read(path)
    inputs = _image_inputs(m)
    if len(inputs) != 1:
        raise WorkflowError(f"{path} has {len(inputs)} inputs; a YOLO detector has one image input")
    dims = [d if isinstance(d, int) and d > 0 else None for d in value_dims(inputs[0])]
    if len(dims) != 4 or dims[1] not in (3, None):
        raise WorkflowError(f"{path}: input shape {dims} is not N x 3 x H x W; export the detector with a 1x3xHxW image input")
    meta = {p.key: p.value for p in m.metadata_props}
    if meta.get("stride", "").isdigit():
        stride = int(meta["stride"])
    args = {}
    if "imgsz" in meta:
        try:
            args["imgsz"] = ast.literal_eval(meta["imgsz"])
        except (ValueError, SyntaxError):
            pass
    layout = None
    out_dims = [d if isinstance(d, int) and d > 0 else None for d in value_dims(m.graph.output[0])] if m.graph.output else []
    if len(out_dims) == 3 and out_dims[1] and out_dims[2]:
        # boxes are the long axis: 1 x (4+nc) x N is Ultralytics, 1 x N x (5+nc) original YOLOv5
        layout = "ultralytics" if out_dims[1] < out_dims[2] else "yolov5"
    if meta.get("ovyolo_family") == "yolov5":
        layout = "yolov5"
    static = (dims[2], dims[3]) if dims[2] and dims[3] else None
    return ModelSource(Path(path), "onnx", stride, _names(meta), args, "ONNX metadata" if args else "",
                       onnx_hw=static, layout=layout, trusted=True)


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
    """Record family, names and stride in the exported ONNX itself, so later stages need only this file."""
    import onnx

    m = _read(path, weights=True)
    props = {p.key: p.value for p in m.metadata_props}
    props.update({"ovyolo_family": source.family, "names": repr(dict(enumerate(source.names))), "stride": str(source.stride)})
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
