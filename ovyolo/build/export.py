"""The export_onnx stage: a static 1 x 3 x h x w ONNX of a model source, checked and tagged before it lands."""
from __future__ import annotations

from pathlib import Path

from ovyolo import sources
from ovyolo.errors import WorkflowError
from ovyolo.sources.onnx import check as check_onnx


def export(src: sources.ModelSource, hw: tuple[int, int], out: str | Path) -> Path:
    """Write ``out`` (model.onnx) for ``src`` at ``hw`` with the family's own exporter, atomically: the file is
    written beside ``out``, its input checked to be exactly 1x3xhxw and its one output to have the layout ``src``
    declares (:func:`ovyolo.layouts.check_shape`), our metadata (family, names, stride, layout) added, then renamed
    into place."""
    from ovyolo import layouts
    from ovyolo.shapes import check_stride
    from ovyolo.sources.onnx import output_dims, write_metadata

    out = Path(out)
    check_stride(hw, src.stride)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    tmp.unlink(missing_ok=True)
    try:
        sources.export_onnx(src, hw, tmp)
        check_onnx(tmp, hw)
        outs = output_dims(tmp)
        if len(outs) != 1:
            raise WorkflowError(f"the ONNX exported from {src.weights} has {len(outs)} outputs; a detector has one")
        layouts.check_shape(src.output_layout, outs[0], len(src.names) or None, src.weights, src.layout_from)
        write_metadata(tmp, src)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
