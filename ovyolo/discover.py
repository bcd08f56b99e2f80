"""The discover_shape stage: read the model and the data, decide the deploy shape(s), write shape.json."""
from __future__ import annotations

from pathlib import Path

from ovyolo.errors import WorkflowError


def check_names(model_names: list[str], data_names: list[str], data_yaml) -> None:
    """Model and data must agree on the classes (count, and names where the model has them)."""
    if model_names and len(model_names) != len(data_names):
        raise WorkflowError(
            f"the model has {len(model_names)} classes but {data_yaml} has {len(data_names)}; point 'data:' at the data set the model was trained on"
        )
    generic = all(n == f"class{i}" or n == str(i) for i, n in enumerate(model_names))
    if model_names and not generic and list(model_names) != list(data_names):
        diff = next(i for i, (a, b) in enumerate(zip(model_names, data_names)) if a != b)
        raise WorkflowError(
            f"class {diff} is '{model_names[diff]}' in the model but '{data_names[diff]}' in {data_yaml}; use the data set the model was trained on"
        )


def identify_source(source: str | Path, settings: dict, out: str | Path) -> dict:
    """Write ``results/{model}/source.json``: the model source as :func:`ovyolo.sources.identify` decided it (a
    refused model raises before anything is written)."""
    from ovyolo import sources

    src = sources.identify_with(source, settings)
    sources.save(src, out)
    return src.to_json()


def discover_model(name: str, info, data_yaml: str | Path, settings: dict, out: str | Path) -> dict:
    """Write ``results/{model}/shape.json``: the deploy shapes, the reason for each and the evidence.

    ``info`` is a :class:`~ovyolo.sources.ModelSource`, the path of its source.json, or a model source path
    (identified here with ``settings``)."""
    from ovyolo import sources
    from ovyolo.atomic import write_json
    from ovyolo.data.dataset import image_sizes, label_path, load_dataset
    from ovyolo.shapes import discover, train_imgsz

    if not isinstance(info, sources.ModelSource):
        info = sources.read(info) if str(info).endswith(".json") else sources.identify_with(info, settings)
    ds = load_dataset(data_yaml)
    check_names(info.names, ds.names, data_yaml)
    if info.output_dims:  # a given ONNX: its one output must be a detector's for the data's classes
        from ovyolo import layouts

        layouts.check_shape(info.output_layout, info.output_dims, len(ds.names),
                            f"{info.weights} (with the {len(ds.names)} classes of {data_yaml})", info.layout_from)
    val = ds.images("val")
    if not val:
        raise WorkflowError(f"{data_yaml}: the val split has no images; add images to it")
    if not any(label_path(f).is_file() for f in val):
        raise WorkflowError(
            f"{data_yaml}: none of the {len(val)} val images has a label file (looked for e.g. {label_path(val[0])}); "
            "put YOLO .txt labels in labels/ beside images/"
        )
    if not ds.images("train"):
        raise WorkflowError(f"{data_yaml}: the train split has no images; calibration needs train images")
    size = train_imgsz(info.train_args)
    size_from = info.train_args_from
    if size is None and info.onnx_hw:
        size, size_from = max(info.onnx_hw), "the ONNX static input"
    spec = settings.get("imgsz", "auto")
    if info.onnx_hw and spec in ("auto", None):
        spec = [list(info.onnx_hw)]  # a static ONNX has exactly one shape
    try:
        record = discover(train_size=size, train_size_from=size_from, stride=info.stride, frame_sizes=image_sizes(val),
                          imgsz_spec=spec, square=settings.get("square", False))
    except WorkflowError as exc:  # name the model whose setting it is
        raise WorkflowError(f"models.{name}: {exc}") from None
    record.update({"model": name, "source": str(info.weights), "family": info.family, "weights": str(info.weights),
                   # a static ONNX exists at this one shape only (no square comparison: ovyolo.measure.square)
                   "static_onnx_hw": list(info.onnx_hw) if info.onnx_hw else None,
                   "names": info.names, "data": str(data_yaml)})
    write_json(out, record)
    return record
