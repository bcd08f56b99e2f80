"""Deployment bundles: an IR folder packaged so that Ultralytics loads it like its own OpenVINO export.

``results/{model}/{h}x{w}/bundles/{fp32,fp16,int8,int8-ac}/`` holds

- ``model_openvino_model/`` -- the folder name Ultralytics' ``AutoBackend`` recognises (a path ending in
  ``_openvino_model``); in it ``model.xml``/``model.bin``, byte-identical to the IR that was validated and
  benchmarked (self-describing: ``rt_info/model_info``), and Ultralytics' ``metadata.yaml`` (task, imgsz [h, w],
  names, stride, batch 1, static), which ``AutoBackend`` reads for class names, input size and task;
- ``bundle.json`` -- what is in the bundle (sha256 of each file, source IR, shape, whether Ultralytics can load it);
- ``provenance.json`` -- see :mod:`ovyolo.provenance`.

An IR with the original YOLOv5 output (1 x N x (5+nc), objectness) cannot be run by Ultralytics as a detect model
(its predictor decodes 1 x (4+nc) x N, or 1 x K x 6 of an end-to-end model when metadata.yaml says ``end2end``),
so its bundle holds the IR folder ``model_ir/`` instead and ``bundle.json`` says why;
:mod:`ovyolo.deploy.predict` (``python -m ovyolo predict``) runs either.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ovyolo.atomic import atomic_dir, write_json
from ovyolo.errors import WorkflowError

ULTRALYTICS_DIR = "model_openvino_model"
ULTRALYTICS_LAYOUTS = ("ultralytics", "end2end")  # what Ultralytics' detect predictor decodes (ovyolo.layouts)
IR_DIR = "model_ir"
MANIFEST = "bundle.json"
NOT_LOADABLE = ("original YOLOv5 output layout 1 x N x (5+nc) with objectness: Ultralytics' detect predictor "
                "decodes only 1 x (4+nc) x N, so it would mis-read this IR; use `python -m ovyolo predict` instead")


def ultralytics_metadata(meta: dict, precision: str) -> dict:
    """The metadata.yaml Ultralytics' ``AutoBackend`` reads beside an OpenVINO IR (the keys its exporter writes).

    ``end2end`` is true for the end-to-end layout (1 x K x 6): ``AutoBackend`` then decodes the output as final
    boxes (score filter, no NMS), as for Ultralytics' own export with ``nms=False``; ``args.nms`` stays False (True
    would also mean end-to-end to ``AutoBackend``, and means "NMS embedded" to Ultralytics' exporter)."""
    from ovyolo import layouts

    names = meta["names"]
    names = {int(k): str(v) for k, v in (names.items() if isinstance(names, dict) else enumerate(names))}
    return {
        "description": f"ovyolo {precision} OpenVINO IR ({meta.get('family', 'unknown')} model) at "
                       f"{meta['imgsz'][0]}x{meta['imgsz'][1]}",
        "author": "ovyolo",
        "stride": int(meta["stride"]),
        "task": "detect",
        "batch": 1,
        "imgsz": [int(v) for v in meta["imgsz"]],
        "names": names,
        "args": {"batch": 1, "half": precision == "fp16", "int8": precision.startswith("int8"), "dynamic": False,
                 "nms": False},
        "channels": 3,
        "end2end": meta.get("layout") == layouts.END2END,
    }


def _ir_meta(ir_dir: Path) -> dict:
    """Our metadata.yaml of an IR folder (names, imgsz, stride, layout, precision); fails if absent."""
    import yaml

    path = ir_dir / "metadata.yaml"
    if not path.is_file():
        raise WorkflowError(f"{ir_dir} has no metadata.yaml; bundles are built from the workflow's IR folders")
    meta = yaml.safe_load(path.read_text()) or {}
    for key in ("names", "imgsz", "stride"):
        if key not in meta:
            raise WorkflowError(f"{path} has no '{key}'; re-run the stage that wrote {ir_dir}")
    return meta


def _copy_ir(ir_dir: Path, dest: Path, meta: dict) -> bool:
    """Copy model.xml/.bin into ``dest`` byte for byte; an IR written before IRs carried ``model_info`` is
    re-saved with it instead (weights unchanged). Returns True if it was copied as is."""
    from ovyolo.ir import read_model_info, set_model_info

    dest.mkdir(parents=True)
    xml = ir_dir / "model.xml"
    if read_model_info(xml):
        shutil.copyfile(xml, dest / "model.xml")
        shutil.copyfile(ir_dir / "model.bin", dest / "model.bin")
        return True
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    set_model_info(model, meta)
    ov.save_model(model, str(dest / "model.xml"), compress_to_fp16=False)
    return False


def build_bundle(ir_dir: str | Path, out_dir: str | Path, hw: tuple[int, int], precision: str,
                 provenance_params: dict | None = None, workflow_dir: str | Path | None = None) -> dict:
    """Package the IR folder ``ir_dir`` (model.xml/.bin + our metadata.yaml) as ``out_dir`` (atomically).

    Checks the IR input is 1 x 3 x h x w first. Returns the manifest written to ``bundle.json``.
    """
    import yaml

    from ovyolo.ir import check_ir
    from ovyolo.provenance import hash_inputs, write_provenance

    ir_dir, out_dir = Path(ir_dir), Path(out_dir)
    check_ir(ir_dir / "model.xml", hw)
    meta = _ir_meta(ir_dir)
    layout = meta.get("layout", "ultralytics")
    loadable = layout in ULTRALYTICS_LAYOUTS
    with atomic_dir(out_dir) as tmp:
        model_dir = tmp / (ULTRALYTICS_DIR if loadable else IR_DIR)
        copied = _copy_ir(ir_dir, model_dir, meta)
        if loadable:
            (model_dir / "metadata.yaml").write_text(yaml.safe_dump(ultralytics_metadata(meta, precision), sort_keys=False))
        else:
            shutil.copyfile(ir_dir / "metadata.yaml", model_dir / "metadata.yaml")
        files = {str(Path(k).relative_to(tmp)): v for k, v in hash_inputs([model_dir]).items()}
        manifest = {
            "precision": precision,
            "imgsz": [int(hw[0]), int(hw[1])],
            "names": meta["names"],
            "output_layout": layout,
            "model_dir": model_dir.name,
            "ultralytics_loadable": loadable,
            "reason": None if loadable else NOT_LOADABLE,
            "source_ir": str(ir_dir),
            "ir_copied_unchanged": copied,
            "files": files,
            "usage": (f"ultralytics.YOLO('{out_dir / model_dir.name}').predict(img, imgsz=[{hw[0]}, {hw[1]}])"
                      if loadable else f"python -m ovyolo predict {out_dir} IMAGES --out DIR"),
        }
        write_json(tmp / MANIFEST, manifest)
        write_provenance(tmp, inputs=[ir_dir / "model.xml", ir_dir / "model.bin", ir_dir / "metadata.yaml"],
                         params={"precision": precision, "imgsz": [int(hw[0]), int(hw[1])], **(provenance_params or {})},
                         extra={"stage": "bundle"}, workflow_dir=workflow_dir)
    return manifest


def find_ir(path: str | Path) -> Path:
    """The model.xml of a bundle folder, a ``*_openvino_model`` / IR folder, or an .xml path."""
    path = Path(path)
    if path.is_file() and path.suffix == ".xml":
        return path
    if not path.is_dir():
        raise WorkflowError(f"{path} is neither an IR (.xml), an IR folder nor a bundle folder")
    for pattern in ("model.xml", "*.xml", f"{ULTRALYTICS_DIR}/*.xml", f"{IR_DIR}/*.xml", "*_openvino_model/*.xml"):
        found = sorted(path.glob(pattern))
        if found:
            return found[0]
    raise WorkflowError(f"no OpenVINO IR (.xml) in {path}")
