"""The incumbent for comparison: Ultralytics' own ``export(format="openvino", int8=True)`` of the same weights."""
from __future__ import annotations

import shutil
from pathlib import Path

from ovyolo.atomic import atomic_dir
from ovyolo.errors import WorkflowError


def scratch_dataset(data_yaml: str | Path, out_dir: str | Path, splits: tuple[str, ...] = ("train",)) -> Path:
    """A stand-in for the user's data set that Ultralytics may write into: ``out_dir/{split}/images`` and
    ``.../labels`` hold one symlink per image and label file of the split, and ``out_dir/data.yaml`` points at them.

    Ultralytics writes ``labels.cache`` beside a split's label folder (and may rewrite a corrupt JPEG in place);
    with the symlinks both land in ``out_dir``, never in the user's data set. The first split also stands in for
    ``train`` / ``val`` when they are not among ``splits`` (Ultralytics requires the key). Returns the yaml's path.
    """
    import os

    import yaml

    from ovyolo.data.dataset import label_path, load_dataset

    ds = load_dataset(data_yaml)
    out_dir = Path(out_dir)
    doc = {"path": str(out_dir.resolve()), "names": dict(enumerate(ds.names))}
    for split in splits:
        images, labels = out_dir / split / "images", out_dir / split / "labels"
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        for i, f in enumerate(ds.images(split)):
            name = f"{i:07d}_{f.name}"
            os.symlink(Path(f).resolve(), images / name)
            lab = label_path(f)
            if lab.is_file():
                os.symlink(lab.resolve(), labels / Path(name).with_suffix(".txt"))
        doc[split] = f"{split}/images"
    doc.setdefault("train", doc[splits[0]])
    doc.setdefault("val", doc[splits[0]])
    (out_dir / "data.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return out_dir / "data.yaml"


def export_ultralytics_int8(weights: str | Path, hw: tuple[int, int], data_yaml: str | Path, out_dir: str | Path,
                            layout: str = "ultralytics") -> Path:
    """Export with Ultralytics at ``imgsz=(h, w)``, calibrating on the train split like our INT8 does, with the same
    head branch as ours (``layout`` from source.json: ``end2end`` exports the one-to-one branch, ``nms=False``).

    Works on a copy of the weights and a symlinked stand-in of the data set (:func:`scratch_dataset`), so nothing
    is written beside the user's run or into the data set (Ultralytics would leave ``labels.cache`` there). The IR lands in ``out_dir`` as
    model.xml/.bin with Ultralytics' metadata.yaml, checked to have input 1x3xhxw.
    """
    from ultralytics import YOLO

    from ovyolo.ir import check_ir
    from ovyolo.sources.ultralytics import export_nms_arg

    weights, out_dir = Path(weights), Path(out_dir)
    if weights.suffix != ".pt":
        raise WorkflowError(f"the ultralytics-int8 variant needs an Ultralytics .pt checkpoint, not {weights.name}")
    with atomic_dir(out_dir) as tmp:
        work = tmp / "work"
        work.mkdir()
        local = work / "best.pt"
        shutil.copyfile(weights, local)
        scratch_yaml = scratch_dataset(data_yaml, work / "data")
        produced = Path(YOLO(str(local)).export(format="openvino", int8=True, imgsz=[int(hw[0]), int(hw[1])],
                                               data=str(scratch_yaml), split="train", batch=1,
                                               nms=export_nms_arg(layout), device="cpu", verbose=False))
        xml = next(produced.glob("*.xml"))
        shutil.move(str(xml), tmp / "model.xml")
        shutil.move(str(xml.with_suffix(".bin")), tmp / "model.bin")
        if (produced / "metadata.yaml").exists():
            shutil.move(str(produced / "metadata.yaml"), tmp / "metadata.yaml")
        shutil.rmtree(work)
        check_ir(tmp / "model.xml", hw)
    return out_dir / "model.xml"
