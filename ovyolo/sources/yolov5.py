"""Original YOLOv5 (github.com/ultralytics/yolov5) checkpoints: load with YOLOv5's own code, inspect, export to ONNX.

YOLOv5's own loaders (``attempt_load``, ``DetectMultiBackend``) call ``torch.load`` without
``weights_only=False`` (refused by torch >= 2.6) and first look relative paths up on the Hugging Face hub, so
none of them is used: the checkpoint is unpickled here with the code made importable by
:func:`ovyolo.sources.yolov5_code.yolov5_code`, and the compatibility updates of ``attempt_load`` are applied.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import NamedTuple

from ovyolo.errors import ShapeMismatchError, WorkflowError
from ovyolo.sources.yolov5_code import PIP_PIN, yolov5_code

OPSET = 17


class Loaded(NamedTuple):
    """What :func:`load` returns."""

    model: object  # the checkpoint's ema (else model) in float32, eval mode, unfused
    ckpt: dict
    stride: int
    names: list[str]
    train_args: dict  # ckpt['opt'] as a dict ({} if absent)


def _head(model):
    layers = getattr(model, "model", None)
    try:
        return list(layers)[-1]
    except TypeError:
        return None


def _compat(model) -> None:
    """The module compatibility updates YOLOv5's ``attempt_load`` applies to checkpoints of older versions."""
    import torch
    from torch import nn

    if not hasattr(model, "stride"):
        model.stride = torch.tensor([32.0])
    for m in model.modules():
        if type(m).__name__ in ("Detect", "Segment") and not isinstance(getattr(m, "anchor_grid", []), list):
            delattr(m, "anchor_grid")
            m.anchor_grid = [torch.zeros(1)] * m.nl
        elif isinstance(m, nn.Upsample) and not hasattr(m, "recompute_scale_factor"):
            m.recompute_scale_factor = None


def load(weights: str | Path, *, trusted: bool, repo: str | Path | None = None) -> Loaded:
    """Load an original YOLOv5 training checkpoint (``weights_only=False``: only for trusted files).

    Returns :class:`Loaded` (model: ema else model, float32, eval, not fused; ckpt; stride; names; train args).
    """
    import torch

    path = Path(weights)
    if not path.is_file():
        raise WorkflowError(f"YOLOv5 weights {path} do not exist; fix 'source:' in config.yaml")
    from ovyolo.sources.base import require_trust

    require_trust(path, trusted)
    with yolov5_code(repo) as root:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        except ModuleNotFoundError as exc:
            top = (exc.name or "").split(".")[0]
            if top == "yolov5":
                raise WorkflowError(f"{path} was written by the PyPI yolov5 package's own train.py (it refers to '{exc.name}'); pip install {PIP_PIN} and leave 'yolov5_repo:' unset") from exc
            raise WorkflowError(f"{path} needs module '{exc.name}', which the YOLOv5 code at {root} lacks; point 'yolov5_repo:' at a YOLOv5 clone of the version that trained it") from exc
        except AttributeError as exc:  # "Can't get attribute 'X' on <module 'models.common'>": another version
            raise WorkflowError(f"{path} was written by a YOLOv5 version whose classes the code at {root} lacks ({exc}); point 'yolov5_repo:' at a clone of that version") from exc
        except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
            raise WorkflowError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); re-copy it") from exc
    if not isinstance(ckpt, dict) or (ckpt.get("ema") or ckpt.get("model")) is None:
        raise WorkflowError(f"{path} holds no 'model' entry; it is not a YOLOv5 training checkpoint")
    model = ckpt.get("ema") or ckpt.get("model")
    module = type(model).__module__
    if not module.startswith(("models.", "yolov5.models.")):
        raise WorkflowError(f"{path} holds a {type(model).__name__} from '{module}', not an original YOLOv5 model; use family: ultralytics for Ultralytics checkpoints")
    head = _head(model)
    kind = type(head).__name__ if head is not None else None
    if kind != "Detect" or type(model).__name__ not in ("DetectionModel", "Model"):
        raise WorkflowError(f"{path} holds a YOLOv5 {type(model).__name__} with a {kind} head; only detection models (Detect head) are supported")
    model = model.float().eval()
    _compat(model)
    for p in model.parameters():
        p.requires_grad_(False)
    names = getattr(model, "names", None) or [str(i) for i in range(int(head.nc))]
    names = [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else [str(n) for n in names]
    args = ckpt.get("opt") or {}
    if not isinstance(args, dict):
        args = dict(vars(args)) if hasattr(args, "__dict__") else {}
    return Loaded(model, ckpt, int(max(model.stride)), names, args)


def expected_rows(hw: tuple[int, int], strides, anchors_per_level: int = 3) -> int:
    """Number of output rows N of a YOLOv5 Detect head at ``hw``: anchors x sum over levels of (h/s)*(w/s)."""
    h, w = hw
    return int(anchors_per_level * sum((h // int(s)) * (w // int(s)) for s in strides))


def export_onnx(weights: str | Path, hw: tuple[int, int], out: str | Path, *, trusted: bool,
                       repo: str | Path | None = None) -> Path:
    """Export an original YOLOv5 checkpoint to a static 1x3xhxw ONNX (output ``output0``: 1 x N x (5+nc)).

    Prepares the model the way YOLOv5's export.py does: Conv+BN fused (``model.fuse()``), eval mode, and on the
    Detect head ``inplace=False``, ``dynamic=False``, ``export=True`` (forward returns only the decoded boxes),
    then two dry runs. Legacy TorchScript exporter (``dynamo=False``), opset 17, constant folding. The file is
    written beside ``out`` and renamed into place after its input and output shapes are checked.
    """
    import onnx
    import torch

    from ovyolo.shapes import check_stride
    from ovyolo.sources.onnx import value_dims

    h, w = int(hw[0]), int(hw[1])
    out = Path(out)
    loaded = load(weights, trusted=trusted, repo=repo)
    check_stride((h, w), loaded.stride)
    model = loaded.model
    head = _head(model)
    with yolov5_code(repo):  # fuse() and the forward pass call back into YOLOv5 helpers
        logging.getLogger("yolov5").setLevel(logging.WARNING)
        model = model.fuse().eval()
        for m in model.modules():
            if type(m).__name__ == "Detect":
                m.inplace, m.dynamic, m.export = False, False, True
        im = torch.zeros(1, 3, h, w)
        with torch.no_grad():
            for _ in range(2):
                y = model(im)
    y = y[0] if isinstance(y, (tuple, list)) else y
    nc = int(head.nc)
    want = (1, expected_rows((h, w), head.stride.tolist(), int(head.na)), 5 + nc)
    if tuple(y.shape) != want:
        raise ShapeMismatchError(f"{weights}: YOLOv5 model output at {h}x{w} is {tuple(y.shape)}, expected {want}")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    tmp.unlink(missing_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            torch.onnx.export(
                model, im, str(tmp), dynamo=False, opset_version=OPSET, do_constant_folding=True,
                input_names=["images"], output_names=["output0"], dynamic_axes=None, verbose=False,
            )
        m = onnx.load(str(tmp))
        onnx.checker.check_model(m)
        init = {t.name for t in m.graph.initializer}
        inputs = [i for i in m.graph.input if i.name not in init]
        got_in = value_dims(inputs[0]) if len(inputs) == 1 else None
        if got_in != [1, 3, h, w]:
            raise ShapeMismatchError(f"{out}: exported ONNX input is {got_in}, not [1, 3, {h}, {w}]")
        got_out = [value_dims(o) for o in m.graph.output]
        if [o.name for o in m.graph.output] != ["output0"] or got_out[0] != list(want):
            raise ShapeMismatchError(f"{out}: exported ONNX outputs are {[o.name for o in m.graph.output]} {got_out}, expected output0 {list(want)}")
        for k, v in {"stride": str(loaded.stride), "names": repr(dict(enumerate(loaded.names)))}.items():
            m.metadata_props.add(key=k, value=v)  # as YOLOv5's export.py records them
        onnx.save(m, str(tmp))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def inspect(path: Path, *, trusted: bool, repo: str | Path | None = None):
    """A :class:`~ovyolo.sources.ModelSource` of an original YOLOv5 checkpoint (loads it with YOLOv5's code)."""
    from ovyolo.sources.base import ModelSource

    got = load(path, trusted=trusted, repo=repo)
    return ModelSource(Path(path), "yolov5", got.stride, got.names, got.train_args,
                       "checkpoint opt" if got.train_args else "", trusted=trusted,
                       repo=str(repo) if repo else None)
