"""What an OpenVINO IR says about itself: its input shape (checked against the path's ``{h}x{w}``) and the
``rt_info/model_info`` section (labels, preprocessing, thresholds, output layout) that every IR the workflow writes
carries, in the keys Ultralytics' exporter and OpenVINO Model API use."""
from __future__ import annotations

from pathlib import Path

from ovyolo.errors import ShapeMismatchError, WorkflowError


def model_input_shape(model, where) -> list[int]:
    """The input dims of a read ``ov.Model`` with one image input (-1 for a dynamic axis)."""
    if len(model.inputs) != 1:
        raise WorkflowError(f"{where} has {len(model.inputs)} inputs; expected one image input")
    return [d.get_length() if d.is_static else -1 for d in model.inputs[0].get_partial_shape()]


def ir_input_shape(xml: str | Path) -> list[int]:
    """The input shape of an IR (``read_model`` only: nothing is compiled)."""
    import openvino as ov

    return model_input_shape(ov.Core().read_model(str(xml)), xml)


def check_ir(xml: str | Path, hw: tuple[int, int]) -> None:
    """Fail unless the IR input is exactly 1 x 3 x h x w."""
    dims = ir_input_shape(xml)
    want = [1, 3, int(hw[0]), int(hw[1])]
    if dims != want:
        raise ShapeMismatchError(f"{xml}: IR input is {dims} but its path says {want}; re-run the stage that wrote it")


PREDICT_CONF = 0.25  # Ultralytics' predict defaults: the thresholds a deployment starts from
PREDICT_IOU = 0.7
# model_info/model_type per output layout. OpenVINO Model API matches this name case-insensitively against its
# wrappers' __model__: "YOLOv8" (= its "YOLOv5" class) decodes 1 x (4+nc) x N. No Model API wrapper decodes the
# original YOLOv5 output (1 x N x (5+nc), objectness); "yolo_v5" is DL Streamer's converter name for it. Model API
# 0.4.7 has no wrapper for the end-to-end output (1 x K x 6, boxes already selected: YOLOv10 / YOLO26): its YOLO
# wrappers (YOLO, YOLOv4, YOLOF, YOLOX, YOLOv3-ONNX, YOLOv5, YOLOv8) all decode raw anchors, and "YOLOv8" would
# refuse the shape (nc + 4 != K); "yolo_end2end" names no wrapper, so create_model refuses it instead of misreading it.
MODEL_TYPES = {"ultralytics": "YOLOv8", "yolov5": "yolo_v5", "end2end": "yolo_end2end"}


def model_info(meta: dict) -> dict:
    """The ``model_info`` runtime-info section an IR carries so that it alone describes its preprocessing and
    labels (the keys Ultralytics' exporter and OpenVINO Model API use; values as Model API expects them)."""
    names = meta["names"]
    labels = [str(names[k]).replace(" ", "_") for k in sorted(names, key=int)] if isinstance(names, dict) else list(names)
    layout = meta.get("layout", "ultralytics")
    return {
        "model_type": MODEL_TYPES[layout],
        "labels": labels,
        "resize_type": "fit_to_window_letterbox",
        "pad_value": int(meta.get("preprocessing", {}).get("letterbox", {}).get("pad_value", 114)),
        "scale_values": [255.0],
        "mean_values": [0.0],
        "reverse_input_channels": True,  # the network wants RGB; Model API feeds BGR unless told to reverse
        "confidence_threshold": float(meta.get("thresholds", {}).get("conf", PREDICT_CONF)),
        "iou_threshold": float(meta.get("thresholds", {}).get("iou", PREDICT_IOU)),
        "imgsz": [int(v) for v in meta["imgsz"]],
        "stride": int(meta["stride"]),
        "output_layout": layout,
        "precision": str(meta.get("precision", "")),
        "task": "detect",
    }


def set_model_info(ov_model, meta: dict) -> dict:
    """Write :func:`model_info` into ``ov_model``'s runtime info (``rt_info/model_info``); returns it."""
    info = model_info(meta)
    for key, value in info.items():
        ov_model.set_rt_info(value, ["model_info", key])
    return info


_LIST_KEYS = {"labels": str, "imgsz": int, "scale_values": float, "mean_values": float}


def _parse_info(key: str, text: str):
    """A saved rt_info value (always text: lists space-separated, booleans YES/NO) back as a Python value."""
    if key in _LIST_KEYS:
        return [_LIST_KEYS[key](v) if _LIST_KEYS[key] is str else _LIST_KEYS[key](float(v)) for v in text.split()]
    if text in ("YES", "True", "true"):
        return True
    if text in ("NO", "False", "false"):
        return False
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def read_model_info(xml_or_model) -> dict:
    """The ``model_info`` section of a saved IR (path or read ``ov.Model``) as Python values ({} if it has none)."""
    import openvino as ov

    model = xml_or_model if isinstance(xml_or_model, ov.Model) else ov.Core().read_model(str(xml_or_model))
    if not model.has_rt_info(["model_info"]):
        return {}
    keys = model.get_rt_info()["model_info"]
    return {k: _parse_info(k, str(model.get_rt_info(["model_info", k]).value)) for k in sorted(keys)}


def batch_agnostic_reshapes(model) -> int:
    """Let a static batch-1 IR run at another batch: a Reshape whose target shape is a constant starting with the
    batch (1), applied to a tensor whose first dim is that batch, gets 0 there instead (``special_zero``: "copy the
    input's dim"), so it follows the batch. The static ONNX exports of YOLO heads bake the batch into such Reshapes
    (the DFL's ``[1, 4, 16, N]``), which makes OpenVINO refuse ``model.reshape([B, 3, h, w])``. Edits ``model`` in
    place; returns how many Reshapes changed. Whether the result keeps the images apart is for the caller to
    check: :func:`with_batch` checks every shape; the pipeline benchmark and the tests compare the outputs."""
    import numpy as np
    import openvino as ov

    changed = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Reshape":
            continue
        target = op.input_value(1).get_node()
        data = op.input_value(0).get_partial_shape()
        if target.get_type_name() != "Constant" or data.rank.is_dynamic or data.rank.get_length() == 0:
            continue
        dims = np.array(target.get_vector())
        if len(dims) == 0 or dims[0] != 1 or not data[0].is_static or data[0].get_length() != 1:
            continue
        dims[0] = 0
        const = ov.opset13.constant(dims.astype(target.get_element_type().to_dtype()))
        op.input(1).replace_source_output(const.output(0))
        op.set_special_zero(True)
        changed += 1
    return changed


class BatchError(WorkflowError):
    """An IR that cannot run at another batch than 1 (:func:`with_batch`)."""


def _batch_checked_shapes(model) -> dict:
    """The static output shapes of the ops that could move images across the batch: every Reshape and the results."""
    return {op.get_friendly_name(): [list(op.get_output_partial_shape(i).to_shape())
                                     for i in range(op.get_output_size())]
            for op in model.get_ordered_ops() if op.get_type_name() in ("Reshape", "Result")}


def with_batch(model, batch: int, where):
    """``model`` (a read ``ov.Model`` with a static 1 x 3 x h x w input) reshaped to ``batch`` x 3 x h x w
    (:func:`batch_agnostic_reshapes` first). The result is kept only if every Reshape and every output has its
    batch-1 shape with the first dim times ``batch`` (images stay apart: no Reshape folds one image into another's
    rows); else one clear :class:`BatchError` (e.g. YOLO12's area attention, whose Reshapes fix the number of areas
    times the batch as a constant)."""
    dims = model_input_shape(model, where)
    if int(batch) == dims[0]:
        return model
    if len(dims) != 4 or dims[0] != 1 or min(dims) <= 0:
        raise BatchError(f"{where}: input is {dims}; only a static 1 x 3 x h x w IR can be run at batch {batch}")
    before = _batch_checked_shapes(model)
    batch_agnostic_reshapes(model)
    try:
        model.reshape([int(batch), *dims[1:]])
    except Exception as exc:  # noqa: BLE001 - OpenVINO's shape-inference errors are long; name the cause in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BatchError(f"{where}: OpenVINO cannot run this IR at batch {batch} ({first[:200]}); "
                         "use batch 1") from None
    after = _batch_checked_shapes(model)
    for name, shapes in before.items():
        for old, new in zip(shapes, after.get(name, [])):
            if old and new != [old[0] * int(batch), *old[1:]]:
                raise BatchError(f"{where}: at batch {batch}, {name} would be {new} instead of {old} with its first "
                                 f"dim times {batch}: its images would mix; use batch 1")
    return model
