"""What every stage needs to know about a model source (:class:`ModelSource`), where its files are, and whether
it may be unpickled. The family modules (:mod:`ovyolo.sources.ultralytics`, :mod:`~ovyolo.sources.yolov5`,
:mod:`~ovyolo.sources.onnx`) build a ModelSource; :mod:`ovyolo.sources` decides which one runs."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ovyolo.errors import WorkflowError

RUN_ARGS_FILES = ("args.yaml", "opt.yaml")  # Ultralytics, original YOLOv5
SUPPORTED = ("Ultralytics YOLO detection models (YOLOv3, YOLOv5u, v6, v8, v9, v10, 11, 12, YOLO26, P6 variants "
             "included), original YOLOv5 checkpoints, and ONNX exports of these")
DETECTION_MODELS = ("DetectionModel", "Model")  # Ultralytics' detector class; "Model": an old YOLOv5u name
# what we refuse, by model class (checkpoints) and by head class (checkpoints, and Ultralytics' ONNX metadata 'head')
REFUSED_MODELS = {
    "WorldModel": "a YOLO-World model (open-vocabulary detection)",
    "YOLOEModel": "a YOLOE model (open-vocabulary detection)",
    "YOLOESegModel": "a YOLOE segmentation model (open-vocabulary)",
    "RTDETRDetectionModel": "an RT-DETR model (transformer decoder)",
    "SegmentationModel": "a segmentation model (SegmentationModel), not a detection model",
    "PoseModel": "a pose model (PoseModel), not a detection model",
    "OBBModel": "an oriented-box model (OBBModel), not a detection model",
    "ClassificationModel": "a ClassificationModel, not a detection model",
    "SemanticSegmentationModel": "a semantic segmentation model, not a detection model",
    "DepthModel": "a depth model, not a detection model",
}
REFUSED_HEADS = {
    "WorldDetect": "a YOLO-World model (open-vocabulary detection)",
    "YOLOEDetect": "a YOLOE model (open-vocabulary detection)",
    "YOLOESegment": "a YOLOE segmentation model (open-vocabulary)",
    "YOLOESegment26": "a YOLOE segmentation model (open-vocabulary)",
    "RTDETRDecoder": "an RT-DETR model (transformer decoder)",
    **{h: f"a segmentation model (head {h}), not a detection model" for h in ("Segment", "Segment26")},
    **{h: f"a pose model (head {h}), not a detection model" for h in ("Pose", "Pose26")},
    **{h: f"an oriented-box model (head {h}), not a detection model" for h in ("OBB", "OBB26")},
    "Classify": "a classification model (head Classify), not a detection model",
}


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
    layout: str | None = None  # output layout (ovyolo.layouts): ultralytics, yolov5 or end2end
    layout_from: str = ""  # what declared the layout: the checkpoint's head, ONNX metadata, config head:, the shape
    head_class: str | None = None  # the detect head's class (Detect, v10Detect, ...) or Ultralytics' metadata 'head'
    heads: list[str] = field(default_factory=list)  # a checkpoint's inference branches: end2end and/or one2many
    output_dims: list | None = None  # a given ONNX's output dims (checked against the data's classes)
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


def save(src: ModelSource, path: str | Path) -> None:
    """Write ``source.json`` (atomically)."""
    from ovyolo.atomic import write_json

    write_json(path, src.to_json())


def read(path: str | Path) -> ModelSource:
    """The ModelSource that :func:`identify` decided, from ``source.json``."""
    return ModelSource.from_json(json.loads(Path(path).read_text()))
