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

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ovyolo.errors import WorkflowError

RUN_ARGS_FILES = ("args.yaml", "opt.yaml")  # Ultralytics, original YOLOv5


@dataclass
class ModelSource:
    """What every stage needs to know about a model source, decided once by :func:`identify`."""

    weights: Path  # the .pt or .onnx file
    family: str  # ultralytics | yolov5 | onnx
    stride: int
    names: list[str]
    train_args: dict = field(default_factory=dict)
    train_args_from: str = ""  # "args.yaml", "opt.yaml", "checkpoint train_args", ...
    onnx_hw: tuple[int, int] | None = None  # static input of a given ONNX
    layout: str | None = None  # output layout: "ultralytics" (1 x 4+nc x N) or "yolov5" (1 x N x 5+nc)
    trusted: bool = False  # the user allowed unpickling this checkpoint
    repo: str | None = None  # the YOLOv5 code root for original YOLOv5 checkpoints (None: PyPI package)

    @property
    def output_layout(self) -> str:
        return self.layout or ("yolov5" if self.family == "yolov5" else "ultralytics")

    def to_json(self) -> dict:
        d = asdict(self)
        d["weights"] = str(self.weights)
        d["onnx_hw"] = list(self.onnx_hw) if self.onnx_hw else None
        d["output_layout"] = self.output_layout
        return d

    @classmethod
    def from_json(cls, d: dict) -> ModelSource:
        keys = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in d.items() if k in keys}
        kw["weights"] = Path(kw["weights"])
        kw["onnx_hw"] = tuple(kw["onnx_hw"]) if kw.get("onnx_hw") else None
        return cls(**kw)


def weights_path(source: str | Path) -> Path:
    """The weights file of a source: a run directory (``weights/best.pt``), a ``.pt`` or an ``.onnx``."""
    p = Path(source)
    if p.is_dir():
        for cand in (p / "weights" / "best.pt", p / "weights" / "last.pt", p / "best.pt"):
            if cand.is_file():
                return cand
        raise WorkflowError(f"model source {p} is a directory without weights/best.pt; point 'source:' at the run directory or the weights file")
    if not p.exists():
        raise WorkflowError(f"model source {p} does not exist; fix 'source:' in config.yaml")
    if p.suffix not in (".pt", ".pth", ".onnx"):
        raise WorkflowError(f"model source {p}: unknown file type '{p.suffix}'; use a training run directory, a .pt or an .onnx")
    return p


def train_args_file(source: str | Path) -> Path | None:
    """``args.yaml`` (Ultralytics) or ``opt.yaml`` (original YOLOv5) of a run directory or of a weights file in
    its ``weights/`` folder; None when there is none."""
    p = Path(source)
    run_dir = p if p.is_dir() else (p.parent.parent if p.parent.name == "weights" else p.parent)
    return next((run_dir / n for n in RUN_ARGS_FILES if (run_dir / n).is_file()), None)


def read_train_args(source: str | Path) -> tuple[dict, str]:
    """Training arguments of a run directory or a weights file, and the file's name they came from;
    ({}, "") when there is none (the checkpoint's own copy is read by the family's inspect)."""
    import yaml

    f = train_args_file(source)
    if f is None:
        return {}, ""
    doc = yaml.safe_load(f.read_text()) or {}
    return (doc if isinstance(doc, dict) else {}), f.name


def require_trust(path: Path, trusted: bool) -> None:
    """Refuse to unpickle a checkpoint the user has not marked as trusted."""
    if not trusted:
        raise WorkflowError(
            f"{path} is a pickled checkpoint and loading it runs code from the file; if you trust it, set 'trust_checkpoint: true' for this model"
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
             repo: str | Path | None = None) -> ModelSource:
    """Identify a model source: family, stride, names, training args (args.yaml/opt.yaml beside the weights
    first, else the checkpoint's own copy). A checkpoint's family is read from its pickle's globals before anything
    is unpickled; it is then loaded (only if ``trusted``) with its family's own code."""
    from ovyolo.sources import onnx, ultralytics, yolov5

    w = weights_path(source)
    if w.suffix == ".onnx":
        _check_family(w, "onnx", family)
        src = onnx.inspect(w, stride)
    else:
        found = checkpoint_family(w)
        if found is None:
            if family == "yolov5":
                found = "yolov5"  # a YOLOv5 pickle whose globals could not be listed: let its loader say why
            else:
                raise _unknown_checkpoint(w, trusted)
        _check_family(w, found, family)
        src = yolov5.inspect(w, trusted=trusted, repo=repo) if found == "yolov5" else ultralytics.inspect(w, trusted=trusted)
    args, where = read_train_args(source)
    if args:
        src.train_args, src.train_args_from = args, where
    return src


def identify_with(source: str | Path, settings: dict) -> ModelSource:
    """:func:`identify` with a model's config settings (family, trust_checkpoint, stride, yolov5_repo)."""
    return identify(source, family=settings.get("family") or "auto", trusted=bool(settings.get("trust_checkpoint")),
                    stride=settings.get("stride") or 32, repo=settings.get("yolov5_repo"))


def save(src: ModelSource, path: str | Path) -> None:
    """Write ``source.json`` (atomically)."""
    from ovyolo.atomic import write_json

    write_json(path, src.to_json())


def read(path: str | Path) -> ModelSource:
    """The ModelSource that :func:`identify` decided, from ``source.json``."""
    return ModelSource.from_json(json.loads(Path(path).read_text()))


def load_torch_model(src: ModelSource):
    """The checkpoint's ``ema`` (else ``model``) in float32, eval mode, Conv+BN fused, no gradients."""
    if src.family == "yolov5":
        from ovyolo.sources import yolov5

        model = yolov5.load(src.weights, trusted=src.trusted, repo=src.repo).model
    elif src.family == "ultralytics":
        from ovyolo.sources import ultralytics

        model = ultralytics.load_checkpoint(src.weights, trusted=src.trusted)[0]
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
    """Write the family's static ``1x3xhxw`` ONNX of ``src`` to ``out`` (no checks; see :func:`ovyolo.export.export`)."""
    from ovyolo.sources import onnx, ultralytics, yolov5

    if src.family == "ultralytics":
        ultralytics.export_onnx(src.weights, hw, out)
    elif src.family == "yolov5":
        yolov5.export_onnx(src.weights, hw, out, trusted=src.trusted, repo=src.repo)
    elif src.family == "onnx":
        onnx.reshape(src.weights, hw, out)
    else:
        raise WorkflowError(f"export of family '{src.family}' is not supported")
