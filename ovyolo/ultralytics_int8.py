"""The incumbent for comparison: Ultralytics' own ``export(format="openvino", int8=True)`` of the same weights."""
from __future__ import annotations

import shutil
from pathlib import Path

from ovyolo.atomic import atomic_dir
from ovyolo.errors import WorkflowError


def export_ultralytics_int8(weights: str | Path, hw: tuple[int, int], data_yaml: str | Path, out_dir: str | Path) -> Path:
    """Export with Ultralytics at ``imgsz=(h, w)``, calibrating on the train split like our INT8 does.

    Works on a copy of the weights, so nothing is written beside the user's run. The IR lands in ``out_dir`` as
    model.xml/.bin with Ultralytics' metadata.yaml, checked to have input 1x3xhxw.
    """
    from ultralytics import YOLO

    from ovyolo.convert import check_ir

    weights, out_dir = Path(weights), Path(out_dir)
    if weights.suffix != ".pt":
        raise WorkflowError(f"the ultralytics-int8 variant needs an Ultralytics .pt checkpoint, not {weights.name}")
    with atomic_dir(out_dir) as tmp:
        work = tmp / "work"
        work.mkdir()
        local = work / "best.pt"
        shutil.copyfile(weights, local)
        produced = Path(YOLO(str(local)).export(format="openvino", int8=True, imgsz=[int(hw[0]), int(hw[1])],
                                               data=str(Path(data_yaml).resolve()), split="train", batch=1,
                                               device="cpu", verbose=False))
        xml = next(produced.glob("*.xml"))
        shutil.move(str(xml), tmp / "model.xml")
        shutil.move(str(xml.with_suffix(".bin")), tmp / "model.bin")
        if (produced / "metadata.yaml").exists():
            shutil.move(str(produced / "metadata.yaml"), tmp / "metadata.yaml")
        shutil.rmtree(work)
        check_ir(tmp / "model.xml", hw)
    return out_dir / "model.xml"
