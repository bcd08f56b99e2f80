"""Ultralytics checkpoints (YOLOv5u/v8/11 ...): load with Ultralytics' own loader, inspect, export to ONNX."""
from __future__ import annotations

import shutil
from pathlib import Path

from ovyolo.errors import WorkflowError

OPSET = 17


def load_checkpoint(path: Path, *, trusted: bool):
    """``(model, ckpt)`` through ``ultralytics.nn.tasks.load_checkpoint`` (``torch_safe_load``, which maps the
    renamed modules of older Ultralytics checkpoints); model = ema else model, float32, eval, not fused.
    The checkpoint is a pickle: loaded only with ``trusted``."""
    from ovyolo.sources import require_trust

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


def inspect(path: Path, *, trusted: bool):
    """A :class:`~ovyolo.sources.ModelSource` of an Ultralytics detection checkpoint (names, stride, train args)."""
    from ovyolo.sources import ModelSource

    model, ckpt = load_checkpoint(path, trusted=trusted)
    module = type(model).__module__
    if not module.startswith("ultralytics") or _head(model) is None:
        raise WorkflowError(f"{path} holds a {type(model).__name__} ({module}), not a YOLO detection model")
    if type(model).__name__ not in ("DetectionModel", "Model"):
        raise WorkflowError(f"{path} holds a {type(model).__name__}, not a detection model; only detection models are supported")
    names = model.names
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    args = ckpt.get("train_args") or {}
    if not isinstance(args, dict):
        args = vars(args) if hasattr(args, "__dict__") else {}
    return ModelSource(Path(path), "ultralytics", int(max(model.stride)), names, args,
                       "checkpoint train_args" if args else "", trusted=trusted)


def export_onnx(weights: Path, hw: tuple[int, int], out: Path) -> None:
    """Export with Ultralytics' own exporter at a rectangular imgsz, without writing beside the user's weights."""
    from ultralytics import YOLO

    from ovyolo.atomic import atomic_dir
    from ovyolo.sources.onnx import check

    work = out.parent / f".export-{out.stem}"
    with atomic_dir(work) as tmp:
        local = tmp / Path(weights).name
        shutil.copyfile(weights, local)
        produced = YOLO(str(local)).export(
            format="onnx", imgsz=[int(hw[0]), int(hw[1])], opset=OPSET, simplify=True, dynamic=False, half=False,
            batch=1, device="cpu", nms=False, verbose=False,
        )
        check(produced, hw)
        shutil.move(str(produced), out)
    shutil.rmtree(work, ignore_errors=True)
