"""Test-only builder: a genuine original-YOLOv5 training-run layout, made with the YOLOv5 code itself."""
from __future__ import annotations

import importlib
from pathlib import Path

from ovyolo.errors import WorkflowError
from ovyolo.sources.yolov5_code import _import_side_effects_undone, yolov5_code


def _train_opt(run_dir: Path, *, imgsz: int, rect: bool, hyp: dict, data: str, cfg: str) -> dict:
    """``vars(opt)`` as YOLOv5 v7.0 train.py holds it when it saves a checkpoint (parse_opt defaults, main() checks)."""
    return {
        "weights": "", "cfg": cfg, "data": data, "hyp": dict(hyp), "epochs": 100, "batch_size": 16,
        "imgsz": int(imgsz), "rect": bool(rect), "resume": False, "nosave": False, "noval": False,
        "noautoanchor": False, "noplots": False, "evolve": None, "bucket": "", "cache": None,
        "image_weights": False, "device": "cpu", "multi_scale": False, "single_cls": False, "optimizer": "SGD",
        "sync_bn": False, "workers": 8, "project": str(run_dir.parent), "name": run_dir.name, "exist_ok": False,
        "quad": False, "cos_lr": False, "label_smoothing": 0.0, "patience": 100, "freeze": [0], "save_period": -1,
        "seed": 0, "local_rank": -1, "entity": None, "upload_dataset": False, "bbox_interval": -1,
        "artifact_alias": "latest", "save_dir": str(run_dir),
    }


def make_yolov5_run(run_dir: str | Path, *, imgsz: int = 1280, nc: int = 3, names=None, rect: bool = False,
                    stripped: bool = False, repo: str | Path | None = None, seed: int = 0) -> Path:
    """Write a genuine original-YOLOv5 training-run layout holding a freshly built YOLOv5n (untrained).

    Built with the YOLOv5 code itself (``models.yolo.Model(models/yolov5n.yaml, ch=3, nc=nc)``, its
    ``smart_optimizer`` and ``ModelEMA``), saved as train.py saves ``weights/best.pt``: epoch, best_fitness, model
    (half), ema (half), updates, optimizer, opt (``vars(opt)``), git, date. ``stripped=True`` gives the file as it
    is after training ends (train.py's ``strip_optimizer``: model = ema, optimizer/best_fitness/ema/updates None,
    epoch -1). Beside ``weights/``: ``opt.yaml`` (imgsz a single int, as train.py's ``--imgsz type=int``) and
    ``hyp.yaml``.
    """
    from copy import deepcopy
    from datetime import datetime

    import torch
    import yaml

    run_dir = Path(run_dir)
    names = list(names or [f"c{i}" for i in range(nc)])
    if len(names) != nc:
        raise WorkflowError(f"{len(names)} names given for nc={nc}")
    with yolov5_code(repo) as root, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        import models.yolo as yolo_mod  # noqa: PLC0415

        with _import_side_effects_undone():
            tu = importlib.import_module("utils.torch_utils")  # smart_optimizer, ModelEMA, de_parallel
        cfg = root / "models" / "yolov5n.yaml"
        hyp_file = root / "data" / "hyps" / "hyp.scratch-low.yaml"
        hyp = yaml.safe_load(hyp_file.read_text()) if hyp_file.is_file() else {"lr0": 0.01, "momentum": 0.937, "weight_decay": 0.0005}
        opt = _train_opt(run_dir, imgsz=imgsz, rect=rect, hyp=hyp, data=str(run_dir / "data.yaml"), cfg=str(cfg))
        model = yolo_mod.Model(str(cfg), ch=3, nc=nc, anchors=hyp.get("anchors"))
        batch_size, nbs = 16, 64
        accumulate = max(round(nbs / batch_size), 1)
        hyp["weight_decay"] *= batch_size * accumulate / nbs
        optimizer = tu.smart_optimizer(model, "SGD", hyp["lr0"], hyp["momentum"], hyp["weight_decay"])
        ema = tu.ModelEMA(model)
        model.nc, model.hyp = nc, hyp
        model.class_weights = torch.ones(nc)  # labels_to_class_weights(...) * nc for balanced labels
        model.names = dict(enumerate(names))  # check_dataset turns a names list into a dict
        ema.update_attr(model, include=["yaml", "nc", "hyp", "names", "stride", "class_weights"])
        ckpt = {
            "epoch": 0,
            "best_fitness": 0.0,
            "model": deepcopy(tu.de_parallel(model)).half(),
            "ema": deepcopy(ema.ema).half(),
            "updates": ema.updates,
            "optimizer": optimizer.state_dict(),
            "opt": opt,
            "git": {"remote": None, "branch": None, "commit": None},  # check_git_info() outside a git clone
            "date": datetime.now().isoformat(),
        }
        if stripped:  # utils.general.strip_optimizer, without its torch.load round trip
            ckpt["model"] = ckpt["ema"]
            for k in ("optimizer", "best_fitness", "ema", "updates"):
                ckpt[k] = None
            ckpt["epoch"] = -1
            for p in ckpt["model"].parameters():
                p.requires_grad = False
        (run_dir / "weights").mkdir(parents=True, exist_ok=True)
        torch.save(ckpt, run_dir / "weights" / "best.pt")

    def yaml_save(file: Path, data: dict) -> None:  # utils.general.yaml_save
        file.write_text(yaml.safe_dump({k: str(v) if isinstance(v, Path) else v for k, v in data.items()}, sort_keys=False))

    yaml_save(run_dir / "hyp.yaml", hyp)
    yaml_save(run_dir / "opt.yaml", opt)
    return run_dir


def clone_from_pip(dst: Path) -> Path:
    """A clone-style YOLOv5 tree: the PyPI package's models/ and utils/ with its 'yolov5.' import prefixes
    taken out again, i.e. the upstream repository's layout where the code imports itself as models/utils."""
    import re
    import shutil

    import yolov5

    src = Path(yolov5.__file__).parent
    for sub in ("models", "utils"):
        shutil.copytree(src / sub, dst / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for py in dst.rglob("*.py"):
        text = py.read_text()
        new = re.sub(r"\byolov5\.(models|utils)\b", r"\1", text)
        if new != text:
            py.write_text(new)
    shutil.copytree(src / "data" / "hyps", dst / "data" / "hyps")
    return dst
