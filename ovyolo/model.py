"""Model sources: find, identify and load a trained detector (training run dir, .pt or .onnx)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ovyolo.errors import WorkflowError

FAMILIES = ("ultralytics", "yolov5", "onnx")


@dataclass
class ModelInfo:
    """What later stages need to know about a model source."""

    weights: Path  # the .pt or .onnx file
    family: str  # ultralytics | yolov5 | onnx
    stride: int
    names: list[str]
    train_args: dict
    train_args_from: str  # "args.yaml", "opt.yaml", "checkpoint train_args", ...
    onnx_hw: tuple[int, int] | None = None  # static input of a given ONNX
    layout: str | None = None  # output layout: "ultralytics" (1 x 4+nc x N) or "yolov5" (1 x N x 5+nc)

    @property
    def output_layout(self) -> str:
        return self.layout or ("yolov5" if self.family == "yolov5" else "ultralytics")


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


def require_trust(path: Path, trusted: bool) -> None:
    """Refuse to unpickle a checkpoint the user has not marked as trusted."""
    if not trusted:
        raise WorkflowError(
            f"{path} is a pickled checkpoint and loading it runs code from the file; if you trust it, set 'trust_checkpoint: true' for this model"
        )


def load_checkpoint(path: Path, *, trusted: bool) -> dict:
    """Load a PyTorch checkpoint. YOLO checkpoints are pickles (loading runs code), so this needs ``trusted``."""
    import torch

    require_trust(path, trusted)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("models", "utils"):
            raise WorkflowError(
                f"{path} is an original YOLOv5 checkpoint and needs its code ('{exc.name}'); set 'yolov5_repo:' to a YOLOv5 clone or install the 'yolov5' package"
            ) from exc
        raise WorkflowError(f"{path}: cannot load checkpoint ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        raise WorkflowError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); re-export or re-copy it") from exc
    if not isinstance(ckpt, dict) or (ckpt.get("ema") or ckpt.get("model")) is None:
        raise WorkflowError(f"{path} holds no 'model' entry; it is not a YOLO training checkpoint")
    return ckpt


def sniff_family(path: Path) -> str | None:
    """Which code a checkpoint's pickle refers to, read without unpickling: ultralytics, yolov5 or None."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            pkl = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            data = z.read(pkl) if pkl else b""
    except (zipfile.BadZipFile, OSError):
        return None
    if b"ultralytics.nn" in data:
        return "ultralytics"
    if b"models.yolo" in data or b"yolov5.models" in data:
        return "yolov5"
    return None


def _detect_module(model):
    head = list(model.model)[-1] if hasattr(model, "model") else None
    if head is None or not hasattr(head, "stride") or not hasattr(head, "nc"):
        return None
    return head


def inspect_checkpoint(path: Path, ckpt: dict, family: str = "auto") -> ModelInfo:
    """Family, stride, class names and training args of a loaded checkpoint."""
    model = ckpt.get("ema") or ckpt.get("model")
    module = type(model).__module__
    detected = "ultralytics" if module.startswith("ultralytics") else ("yolov5" if module.startswith("models.") else None)
    if detected is None or _detect_module(model) is None:
        raise WorkflowError(f"{path} holds a {type(model).__name__} ({module}), not a YOLO detection model")
    if type(model).__name__ not in ("DetectionModel", "Model"):
        raise WorkflowError(f"{path} holds a {type(model).__name__}, not a detection model; only detection models are supported")
    if family != "auto" and family != detected:
        raise WorkflowError(f"{path} is a {detected} checkpoint but config says family: {family}; fix or remove 'family:'")
    names = model.names
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    args_key = "train_args" if detected == "ultralytics" else "opt"
    args = ckpt.get(args_key) or {}
    if not isinstance(args, dict):
        args = vars(args) if hasattr(args, "__dict__") else {}
    return ModelInfo(path, detected, int(max(model.stride)), names, args, f"checkpoint {args_key}" if args else "")


def inspect_onnx(path: Path, stride: int = 32) -> ModelInfo:
    """Input shape (static or not), class names (Ultralytics metadata) of an ONNX model."""
    import ast

    import onnx

    try:
        m = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001
        raise WorkflowError(f"{path} is not a readable ONNX model ({exc}); re-export it") from exc
    inputs = [i for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    if len(inputs) != 1:
        raise WorkflowError(f"{path} has {len(inputs)} inputs; a YOLO detector has one image input")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1] not in (3, None):
        raise WorkflowError(f"{path}: input shape {dims} is not N x 3 x H x W; export the detector with a 1x3xHxW image input")
    meta = {p.key: p.value for p in m.metadata_props}
    names: list[str] = []
    if "names" in meta:
        try:
            parsed = ast.literal_eval(meta["names"])
            names = [parsed[k] for k in sorted(parsed)] if isinstance(parsed, dict) else list(parsed)
        except (ValueError, SyntaxError):
            names = []
    if "stride" in meta and meta["stride"].isdigit():
        stride = int(meta["stride"])
    args = {}
    if "imgsz" in meta:
        try:
            args["imgsz"] = ast.literal_eval(meta["imgsz"])
        except (ValueError, SyntaxError):
            pass
    static = (dims[2], dims[3]) if dims[2] and dims[3] else None
    layout = None
    out_dims = [d.dim_value or None for d in m.graph.output[0].type.tensor_type.shape.dim] if m.graph.output else []
    if len(out_dims) == 3 and out_dims[1] and out_dims[2]:
        # boxes are the long axis: 1 x (4+nc) x N is Ultralytics, 1 x N x (5+nc) original YOLOv5
        layout = "ultralytics" if out_dims[1] < out_dims[2] else "yolov5"
    fam = meta.get("ovyolo_family")
    if fam == "yolov5":
        layout = "yolov5"
    return ModelInfo(path, "onnx", stride, names, args, "ONNX metadata" if args else "", static, layout)


def inspect_source(source: str | Path, *, family: str = "auto", trusted: bool = False, stride: int = 32,
                   repo: str | Path | None = None) -> ModelInfo:
    """Identify a model source. Reads training args from args.yaml/opt.yaml beside the weights first.

    The family of a checkpoint is read from its pickle's module names before anything is unpickled; original
    YOLOv5 checkpoints are then loaded with YOLOv5's code (``repo`` or the PyPI ``yolov5`` package)."""
    from ovyolo.shapes import read_train_args

    w = weights_path(source)
    if w.suffix == ".onnx":
        if family not in ("auto", "onnx"):
            raise WorkflowError(f"{w} is an ONNX model but config says family: {family}; fix or remove 'family:'")
        info = inspect_onnx(w, stride)
    else:
        sniffed = sniff_family(w)
        if family != "auto" and sniffed and sniffed != family:
            raise WorkflowError(f"{w} is a {sniffed} checkpoint but config says family: {family}; fix or remove 'family:'")
        fam = sniffed or (family if family != "auto" else None)
        if fam == "yolov5":
            from ovyolo.yolov5 import load_yolov5

            got = load_yolov5(w, trusted=trusted, repo=repo)
            info = ModelInfo(w, "yolov5", got.stride, got.names, got.train_args, "checkpoint opt" if got.train_args else "")
        else:
            info = inspect_checkpoint(w, load_checkpoint(w, trusted=trusted), family)
    args, where = read_train_args(source)
    if args:
        info.train_args, info.train_args_from = args, where
    return info
