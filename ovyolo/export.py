"""ONNX export at a static 1 x 3 x h x w input, checked after writing."""
from __future__ import annotations

import shutil
from pathlib import Path

from ovyolo.atomic import atomic_dir
from ovyolo.errors import ShapeMismatchError, WorkflowError

OPSET = 17


def onnx_input_shape(path: str | Path) -> list:
    """The input dims of an ONNX model (ints, or names/None for dynamic axes)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    init = {t.name for t in m.graph.initializer}
    inp = [i for i in m.graph.input if i.name not in init][0]
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in inp.type.tensor_type.shape.dim]


def check_onnx(path: str | Path, hw: tuple[int, int]) -> None:
    """Fail unless the ONNX input is exactly 1 x 3 x h x w."""
    dims = onnx_input_shape(path)
    want = [1, 3, int(hw[0]), int(hw[1])]
    if dims != want:
        raise ShapeMismatchError(f"{path}: ONNX input is {dims} but its path says {want}; re-run export_onnx for this shape")


def export_ultralytics(weights: Path, hw: tuple[int, int], out: Path) -> None:
    """Export with Ultralytics' own exporter at a rectangular imgsz, without writing beside the user's weights."""
    from ultralytics import YOLO

    with atomic_dir(out.parent / f".export-{out.stem}") as tmp:
        local = tmp / weights.name
        shutil.copyfile(weights, local)
        produced = YOLO(str(local)).export(
            format="onnx", imgsz=[int(hw[0]), int(hw[1])], opset=OPSET, simplify=True, dynamic=False, half=False,
            batch=1, device="cpu", nms=False, verbose=False,
        )
        check_onnx(produced, hw)
        shutil.move(str(produced), out)
    shutil.rmtree(out.parent / f".export-{out.stem}", ignore_errors=True)


def reshape_onnx(src: Path, hw: tuple[int, int], out: Path) -> None:
    """A given ONNX: copy if static at ``hw``; fix dynamic H/W to ``hw``; refuse another static shape."""
    import onnx

    dims = onnx_input_shape(src)
    want = [1, 3, int(hw[0]), int(hw[1])]
    if dims == want:
        shutil.copyfile(src, out)
        return
    if all(isinstance(d, int) and d for d in dims):
        raise ShapeMismatchError(f"{src} has a static input {dims}, not {want}; re-export it at {hw[0]}x{hw[1]} or set imgsz to [{dims[2]}, {dims[3]}]")
    m = onnx.load(str(src))
    init = {t.name for t in m.graph.initializer}
    inp = [i for i in m.graph.input if i.name not in init][0]
    for d, v in zip(inp.type.tensor_type.shape.dim, want):
        d.ClearField("dim_param")
        d.dim_value = v
    onnx.save(m, str(out))


def write_metadata(path: Path, info) -> None:
    """Record family, names and stride in the ONNX itself, so later stages need only this file."""
    import onnx

    m = onnx.load(str(path))
    props = {p.key: p.value for p in m.metadata_props}
    props.update({"ovyolo_family": info.family, "names": repr(dict(enumerate(info.names))), "stride": str(info.stride)})
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))


def read_metadata(path: str | Path):
    """ModelInfo (family, names, stride) from an exported ONNX's metadata."""
    import onnx

    from ovyolo.model import inspect_onnx

    info = inspect_onnx(Path(path))
    m = onnx.load(str(path), load_external_data=False)
    fam = {p.key: p.value for p in m.metadata_props}.get("ovyolo_family")
    if fam:
        info.family = fam
    return info


def export(info, hw: tuple[int, int], out: str | Path, *, repo: str | Path | None = None) -> Path:
    """Write ``out`` (model.onnx) for the model at ``hw``, atomically, and check its input shape."""
    from ovyolo.shapes import check_stride

    out = Path(out)
    check_stride(hw, info.stride)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    tmp.unlink(missing_ok=True)
    try:
        if info.family == "ultralytics":
            export_ultralytics(info.weights, hw, tmp)
        elif info.family == "yolov5":
            from ovyolo.yolov5 import export_yolov5_onnx

            export_yolov5_onnx(info.weights, hw, tmp, trusted=True, repo=repo)  # trust was checked when info was made
        elif info.family == "onnx":
            reshape_onnx(info.weights, hw, tmp)
        else:
            raise WorkflowError(f"export of family '{info.family}' is not supported yet")
        check_onnx(tmp, hw)
        write_metadata(tmp, info)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
