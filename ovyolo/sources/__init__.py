"""Model sources: find, identify, trust, load and export a trained detector (training run dir, .pt or .onnx).

One module per family, each owning its loading, inspection and ONNX export:

* :mod:`ovyolo.sources.ultralytics`: Ultralytics checkpoints (YOLOv5u/v8/11 ...), via Ultralytics' own loader;
* :mod:`ovyolo.sources.yolov5`: original YOLOv5 checkpoints, via YOLOv5's code
  (:mod:`ovyolo.sources.yolov5_code` makes it importable);
* :mod:`ovyolo.sources.onnx`: ONNX models (and the one reader of ONNX dims and metadata).

:func:`identify` decides the family once (from the pickle's globals, read without unpickling) and the
``identify_source`` rule writes the result to ``results/{model}/source.json``; later jobs :func:`read` that
file instead of looking at the checkpoint again.
"""
from __future__ import annotations

from pathlib import Path

from ovyolo.errors import WorkflowError
from ovyolo.sources.base import (  # noqa: F401  (the package API: ModelSource and its files)
    ModelSource,
    read,
    read_train_args,
    require_trust,
    save,
    train_args_file,
    weights_path,
)


def checkpoint_family(path: Path) -> str | None:
    """Which code a checkpoint's pickle refers to, read without unpickling
    (``torch.serialization.get_unsafe_globals_in_checkpoint``): ultralytics, yolov5 or None."""
    import torch

    try:
        globs = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001 - not a zip checkpoint; loading will say what is wrong
        return None
    tops = {g.split(".")[0] for g in globs}
    if "ultralytics" in tops:
        return "ultralytics"
    if "models" in tops or any(g.startswith("yolov5.models.") for g in globs):
        return "yolov5"
    return None


def _unknown_checkpoint(path: Path, trusted: bool) -> WorkflowError:
    """The error for a checkpoint that refers to neither family's code (loaded only to say what it holds)."""
    import torch

    require_trust(path, trusted)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        return WorkflowError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); re-export or re-copy it")
    if not isinstance(ckpt, dict) or (ckpt.get("ema") or ckpt.get("model")) is None:
        return WorkflowError(f"{path} holds no 'model' entry; it is not a YOLO training checkpoint")
    model = ckpt.get("ema") or ckpt.get("model")
    return WorkflowError(f"{path} holds a {type(model).__name__} ({type(model).__module__}), not a YOLO detection model")


def _check_family(path: Path, found: str, wanted: str) -> None:
    if wanted not in ("auto", None) and wanted != found:
        raise WorkflowError(f"{path} is a{'n' if found[0] in 'ou' else ''} {found} {'model' if found == 'onnx' else 'checkpoint'} but config says family: {wanted}; fix or remove 'family:'")


def identify(source: str | Path, *, family: str = "auto", trusted: bool = False, stride: int = 32,
             repo: str | Path | None = None, head: str = "auto") -> ModelSource:
    """Identify a model source: family, stride, names, output layout, training args (args.yaml/opt.yaml beside the
    weights first, else the checkpoint's own copy). A checkpoint's family is read from its pickle's globals before
    anything is unpickled; it is then loaded (only if ``trusted``) with its family's own code. ``head`` (the
    config's ``head:``) picks the inference branch of a head that has two (:func:`ovyolo.layouts.for_head`)."""
    from ovyolo import layouts
    from ovyolo.sources import onnx, ultralytics, yolov5

    w = weights_path(source)
    if w.suffix == ".onnx":
        _check_family(w, "onnx", family)
        src = onnx.inspect(w, stride, head=head)
    else:
        found = checkpoint_family(w)
        if found is None:
            if family == "yolov5":
                found = "yolov5"  # a YOLOv5 pickle whose globals could not be listed: let its loader say why
            else:
                raise _unknown_checkpoint(w, trusted)
        _check_family(w, found, family)
        if found == "yolov5":
            src = yolov5.inspect(w, trusted=trusted, repo=repo)
            src.layout = layouts.for_head(head, ["one2many"], layouts.YOLOV5, w, "original YOLOv5 Detect")
            src.layout_from, src.heads = "original YOLOv5 checkpoint", ["one2many"]
        else:
            src = ultralytics.inspect(w, trusted=trusted, head=head)
    args, where = read_train_args(source)
    if args:
        src.train_args, src.train_args_from = args, where
    return src


def identify_with(source: str | Path, settings: dict) -> ModelSource:
    """:func:`identify` with a model's config settings (family, trust_checkpoint, stride, yolov5_repo, head)."""
    return identify(source, family=settings.get("family") or "auto", trusted=bool(settings.get("trust_checkpoint")),
                    stride=settings.get("stride") or 32, repo=settings.get("yolov5_repo"),
                    head=settings.get("head") or "auto")


def load_torch_model(src: ModelSource):
    """The checkpoint's ``ema`` (else ``model``) in float32, eval mode, Conv+BN fused, no gradients; a head with two
    branches runs the one ``src.output_layout`` names (set before fusing, which drops the other)."""
    if src.family == "yolov5":
        from ovyolo.sources import yolov5

        model = yolov5.load(src.weights, trusted=src.trusted, repo=src.repo).model
    elif src.family == "ultralytics":
        from ovyolo.sources import ultralytics

        model = ultralytics.load_checkpoint(src.weights, trusted=src.trusted)[0]
        ultralytics.select_head(model, src.output_layout)
    else:
        raise WorkflowError(f"{src.weights} is a {src.family} model; the torch variant needs a PyTorch checkpoint")
    model = model.float().eval()
    if hasattr(model, "fuse"):
        try:
            model = model.fuse(verbose=False)
        except TypeError:  # YOLOv5's fuse() takes no arguments
            model = model.fuse()
        model = model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def export_onnx(src: ModelSource, hw: tuple[int, int], out: Path) -> None:
    """Write the family's static ``1x3xhxw`` ONNX of ``src`` to ``out`` (no checks; see :func:`ovyolo.build.export.export`)."""
    from ovyolo.sources import onnx, ultralytics, yolov5

    if src.family == "ultralytics":
        ultralytics.export_onnx(src.weights, hw, out, layout=src.output_layout)
    elif src.family == "yolov5":
        yolov5.export_onnx(src.weights, hw, out, trusted=src.trusted, repo=src.repo)
    elif src.family == "onnx":
        onnx.reshape(src.weights, hw, out)
    else:
        raise WorkflowError(f"export of family '{src.family}' is not supported")
