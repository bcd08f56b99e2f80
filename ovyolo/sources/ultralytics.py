"""Ultralytics checkpoints (YOLOv5u/v8/11 ...): load with Ultralytics' own loader, inspect, export to ONNX."""
from __future__ import annotations

import shutil
from pathlib import Path

from ovyolo import layouts
from ovyolo.errors import WorkflowError
from ovyolo.sources.base import DETECTION_MODELS, REFUSED_HEADS, REFUSED_MODELS, SUPPORTED

OPSET = 17


def load_checkpoint(path: Path, *, trusted: bool):
    """``(model, ckpt)`` through ``ultralytics.nn.tasks.load_checkpoint`` (``torch_safe_load``, which maps the
    renamed modules of older Ultralytics checkpoints); model = ema else model, float32, eval, not fused.
    The checkpoint is a pickle: loaded only with ``trusted``."""
    from ovyolo.sources.base import require_trust

    require_trust(path, trusted)
    if not Path(path).is_file():
        raise WorkflowError(f"weights {path} do not exist; fix 'source:' in config.yaml")
    from ultralytics.nn import tasks

    try:
        model, ckpt = tasks.load_checkpoint(str(path), device="cpu")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("models", "utils"):
            raise WorkflowError(
                f"{path} is an original YOLOv5 checkpoint and needs its code ('{exc.name}'); set 'yolov5_repo:' to a YOLOv5 clone or install the 'yolov5' package"
            ) from exc
        raise WorkflowError(f"{path}: cannot load checkpoint ({exc})") from exc
    except (AttributeError, KeyError) as exc:
        if "model" in str(exc) or isinstance(exc, AttributeError):
            raise WorkflowError(f"{path} holds no 'model' entry; it is not a YOLO training checkpoint") from exc
        raise WorkflowError(f"{path}: cannot load checkpoint ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        if "github.com/ultralytics/yolov5" in str(exc):  # torch_safe_load's message for a 'models' module
            raise WorkflowError(
                f"{path} is an original YOLOv5 checkpoint and needs its code; set 'family: yolov5' (with 'yolov5_repo:' to a YOLOv5 clone, or install the 'yolov5' package)"
            ) from exc
        if "references types outside" in str(exc):
            raise WorkflowError(f"{path} holds no 'model' entry; it is not a YOLO training checkpoint") from exc
        raise WorkflowError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {first[:200]}); re-export or re-copy it") from exc
    return model, ckpt


def _head(model):
    layers = getattr(model, "model", None)
    try:
        head = list(layers)[-1]
    except TypeError:
        return None
    return head if hasattr(head, "stride") and hasattr(head, "nc") else None


def head_branches(head) -> list[str]:
    """The inference branches a Detect head has: ``end2end`` (the one-to-one branch of YOLOv10 / YOLO26) and/or
    ``one2many`` (the branch decoded with NMS; fusing an end-to-end model may have removed it)."""
    out = []
    if getattr(head, "one2one_cv2", None) is not None:
        out.append(layouts.END2END)
    if getattr(head, "cv2", None) is not None:
        out.append("one2many")
    return out


def refuse_unsupported(path, model_class: str, head_class: str | None = None) -> None:
    """One line for a model that is not a YOLO detector this workflow measures, naming what is supported."""
    what = REFUSED_MODELS.get(model_class) or REFUSED_HEADS.get(head_class or "")
    if what is None and model_class not in DETECTION_MODELS:
        what = f"a {model_class}, not a detection model"
    if what:
        raise WorkflowError(f"{path} holds {what}; supported are {SUPPORTED}")


def inspect(path: Path, *, trusted: bool, head: str = "auto"):
    """A :class:`~ovyolo.sources.ModelSource` of an Ultralytics detection checkpoint (names, stride, train args,
    head class and branches, the output layout of the branch ``head`` picks)."""
    from ovyolo.sources.base import ModelSource

    model, ckpt = load_checkpoint(path, trusted=trusted)
    module = type(model).__module__
    if module.startswith("ultralytics"):
        layers = list(getattr(model, "model", None) or [])
        refuse_unsupported(path, type(model).__name__, type(layers[-1]).__name__ if layers else None)
    if not module.startswith("ultralytics") or _head(model) is None:
        raise WorkflowError(f"{path} holds a {type(model).__name__} ({module}), not a YOLO detection model")
    det = _head(model)
    names = model.names
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    args = ckpt.get("train_args") or {}
    if not isinstance(args, dict):
        args = vars(args) if hasattr(args, "__dict__") else {}
    branches = head_branches(det)
    layout = layouts.for_head(head, branches, layouts.ULTRALYTICS, path, type(det).__name__)
    return ModelSource(Path(path), "ultralytics", int(max(model.stride)), names, args,
                       "checkpoint train_args" if args else "", layout=layout,
                       layout_from=f"checkpoint head {type(det).__name__} ({', '.join(branches)}), head: {head}",
                       head_class=type(det).__name__, heads=branches, trusted=trusted)


def select_head(model, layout: str) -> None:
    """Make a loaded model run the branch of ``layout`` (Ultralytics' own ``end2end`` switch), before fusing."""
    if hasattr(model, "end2end") and getattr(_head(model), "one2one_cv2", None) is not None:
        model.end2end = layout == layouts.END2END


def export_nms_arg(layout: str):
    """Ultralytics' ``nms`` export argument for a layout: False exports the end-to-end (one-to-one) branch,
    None (its default, "external NMS") the one-to-many branch."""
    return False if layout == layouts.END2END else None


def export_onnx(weights: Path, hw: tuple[int, int], out: Path, layout: str = layouts.ULTRALYTICS) -> None:
    """Export with Ultralytics' own exporter at a rectangular imgsz, without writing beside the user's weights; the
    head's branch follows ``layout`` (:func:`export_nms_arg`)."""
    from ultralytics import YOLO

    from ovyolo.atomic import atomic_dir
    from ovyolo.sources.onnx import check

    work = out.parent / f".export-{out.stem}"
    with atomic_dir(work) as tmp:
        local = tmp / Path(weights).name
        shutil.copyfile(weights, local)
        produced = YOLO(str(local)).export(
            format="onnx", imgsz=[int(hw[0]), int(hw[1])], opset=OPSET, simplify=True, dynamic=False, half=False,
            batch=1, device="cpu", nms=export_nms_arg(layout), verbose=False,
        )
        check(produced, hw)
        shutil.move(str(produced), out)
    shutil.rmtree(work, ignore_errors=True)
