"""Original YOLOv5 (github.com/ultralytics/yolov5) checkpoints: load, export to ONNX, and build test runs.

Their pickles name classes by the repository's own top-level modules (``models.yolo.DetectionModel``,
``models.common.Conv``), so that code must be importable while loading: either a user's clone (``repo``) or the
PyPI ``yolov5`` package (7.0.14), whose ``models/yolo.py`` appends the package folder to ``sys.path`` so that the
top-level names ``models`` and ``utils`` resolve inside it.

Facts about that code this module works around (read from yolov5 7.0.14 and the upstream repository):

* Importing it changes process state: ``OMP_NUM_THREADS``/``NUMEXPR_MAX_THREADS`` (cpu_count - 1), numpy, torch
  and pandas print options, ``cv2.setNumThreads(0)``, a ``yolov5`` logger at INFO, and it creates
  ``~/.config/Ultralytics`` unless ``YOLOV5_CONFIG_DIR`` is set. :func:`yolov5_code` restores the first group,
  quiets the logger and points the config dir into our cache.
* It imports ``pkg_resources`` (``setuptools<81``), which warns that it is deprecated; that warning is silenced.
* Its own loaders (``attempt_load``, ``DetectMultiBackend``, ``strip_optimizer``) call ``torch.load`` without
  ``weights_only=False`` (refused by torch >= 2.6) and first look relative paths up on the Hugging Face hub;
  none of them is used here.
* ``sys.modules`` caches ``models``/``utils``: a process that imported them from one code root keeps them. This
  module drops those entries when a different root is asked for, and checks where ``models.yolo`` came from.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator, NamedTuple

from ovyolo.errors import ShapeMismatchError, WorkflowError

PIP_PIN = "yolov5==7.0.14"
FIX = f"set 'yolov5_repo:' to a YOLOv5 clone or pip install {PIP_PIN}"
OPSET = 17
_TOP = ("models", "utils")  # the top-level module names a YOLOv5 pickle refers to
_ENV_TOUCHED = ("OMP_NUM_THREADS", "NUMEXPR_MAX_THREADS", "TF_CPP_MIN_LOG_LEVEL")


class Loaded(NamedTuple):
    """What :func:`load_yolov5` returns."""

    model: object  # the checkpoint's ema (else model) in float32, eval mode, unfused
    ckpt: dict
    stride: int
    names: list[str]
    train_args: dict  # ckpt['opt'] as a dict ({} if absent)


# ---------------------------------------------------------------------------------------------------------------
# Making the code importable


def _module_root(mod) -> Path | None:
    """The folder that holds a top-level module (a package's parent, or a module file's folder)."""
    f = getattr(mod, "__file__", None)
    if f:
        p = Path(f).resolve()
        return p.parent.parent if p.name == "__init__.py" else p.parent
    paths = list(getattr(mod, "__path__", []) or [])  # namespace package
    return Path(paths[0]).resolve().parent if paths else None


def _forget_other_roots(root: Path) -> None:
    """Drop cached ``models``/``utils`` modules that were imported from somewhere other than ``root``."""
    for top in _TOP:
        mod = sys.modules.get(top)
        if mod is not None and _module_root(mod) != root:
            for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
                del sys.modules[name]


def _prepare_env() -> None:
    """Opt-outs for the YOLOv5 code, set before its first import (keeps its settings dir in our cache)."""
    from ovyolo.offline import config_dir

    cfg = config_dir().parent / "yolov5"
    with contextlib.suppress(OSError):
        cfg.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLOV5_CONFIG_DIR", str(cfg))
    os.environ.setdefault("YOLOv5_AUTOINSTALL", "False")
    os.environ.setdefault("YOLOv5_VERBOSE", "False")


@contextlib.contextmanager
def _import_side_effects_undone() -> Iterator[None]:
    """Undo what importing the YOLOv5 code changes process-wide (thread env vars, print options, cv2 threads)."""
    import numpy as np
    import torch

    env = {k: os.environ.get(k) for k in _ENV_TOUCHED}
    np_opts = np.get_printoptions()
    torch_opts = dict(vars(torch._tensor_str.PRINT_OPTS)) if hasattr(torch, "_tensor_str") else None
    threads = torch.get_num_threads()
    cv2_threads = pd_cols = None
    with contextlib.suppress(Exception):
        import cv2

        cv2_threads = cv2.getNumThreads()
    with contextlib.suppress(Exception):
        import pandas as pd

        pd_cols = pd.get_option("display.max_columns")
    try:
        yield
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        np.set_printoptions(**np_opts)
        if torch_opts is not None:
            vars(torch._tensor_str.PRINT_OPTS).update(torch_opts)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if cv2_threads is not None:
            import cv2

            cv2.setNumThreads(cv2_threads)
        if pd_cols is not None:
            import pandas as pd

            pd.set_option("display.max_columns", pd_cols)
        logging.getLogger("yolov5").setLevel(logging.WARNING)  # its model summaries and "Fusing layers..."


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated")
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*pkg_resources.*")
        yield


def _pip_root() -> Path:
    try:
        with _import_side_effects_undone():
            import yolov5  # noqa: F401 - its models/yolo.py puts the package folder on sys.path
    except ModuleNotFoundError as exc:
        if exc.name == "yolov5":
            raise WorkflowError(f"this is an original YOLOv5 checkpoint and no YOLOv5 code is available; {FIX}") from exc
        need = "'setuptools<81'" if exc.name == "pkg_resources" else f"'{exc.name}'"
        raise WorkflowError(f"the PyPI yolov5 package cannot be imported: module '{exc.name}' is missing; pip install {need}") from exc
    except ImportError as exc:
        raise WorkflowError(f"the PyPI yolov5 package cannot be imported ({exc}); reinstall it with pip install {PIP_PIN} 'setuptools<81'") from exc
    return Path(sys.modules["yolov5"].__file__).resolve().parent


def _clone_root(repo: str | Path) -> Path:
    root = Path(repo).expanduser().resolve()
    if not (root / "models" / "yolo.py").is_file():
        if not root.exists():
            raise WorkflowError(f"yolov5_repo {repo} does not exist; set 'yolov5_repo:' to a YOLOv5 clone (git clone https://github.com/ultralytics/yolov5) or remove it to use pip's {PIP_PIN}")
        raise WorkflowError(f"yolov5_repo {repo} has no models/yolo.py; set 'yolov5_repo:' to the top folder of a YOLOv5 clone (the one holding models/ and utils/)")
    return root


@contextlib.contextmanager
def yolov5_code(repo: str | Path | None = None) -> Iterator[Path]:
    """Make the original YOLOv5 code importable as ``models``/``utils`` for the duration; yields its root folder.

    With ``repo``: that clone is put first on ``sys.path``. Without: the PyPI ``yolov5`` package is imported (it
    adds its own folder to ``sys.path`` for good) and its folder is put first for the duration, so that no other
    ``utils`` module on the path shadows it. ``models``/``utils`` cached from another root are dropped first.
    Modules stay imported afterwards (loaded models need their classes); only our ``sys.path`` entry is removed.
    """
    _prepare_env()
    with _quiet_warnings():
        root = _clone_root(repo) if repo else _pip_root()
        _forget_other_roots(root)
        entry = str(root)
        sys.path.insert(0, entry)
        try:
            try:
                with _import_side_effects_undone():
                    import models.yolo as yolo_mod  # noqa: PLC0415
            except ImportError as exc:
                hint = "pip install 'setuptools<81' (it imports pkg_resources)" if getattr(exc, "name", None) == "pkg_resources" else FIX
                raise WorkflowError(f"the YOLOv5 code at {root} cannot be imported ({type(exc).__name__}: {exc}); {hint}") from exc
            if Path(yolo_mod.__file__).resolve() != root / "models" / "yolo.py":
                raise WorkflowError(f"'models.yolo' resolves to {yolo_mod.__file__}, not the YOLOv5 code at {root}; a 'models' package elsewhere on sys.path shadows it; run from another directory or {FIX}")
            yield root
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


# ---------------------------------------------------------------------------------------------------------------
# Loading


def _head(model):
    layers = getattr(model, "model", None)
    try:
        return list(layers)[-1]
    except TypeError:
        return None


def _compat(model) -> None:
    """The module compatibility updates YOLOv5's ``attempt_load`` applies to checkpoints of older versions."""
    import torch
    from torch import nn

    if not hasattr(model, "stride"):
        model.stride = torch.tensor([32.0])
    for m in model.modules():
        if type(m).__name__ in ("Detect", "Segment") and not isinstance(getattr(m, "anchor_grid", []), list):
            delattr(m, "anchor_grid")
            m.anchor_grid = [torch.zeros(1)] * m.nl
        elif isinstance(m, nn.Upsample) and not hasattr(m, "recompute_scale_factor"):
            m.recompute_scale_factor = None


def load_yolov5(weights: str | Path, *, trusted: bool, repo: str | Path | None = None) -> Loaded:
    """Load an original YOLOv5 training checkpoint (``weights_only=False``: only for trusted files).

    Returns :class:`Loaded` (model: ema else model, float32, eval, not fused; ckpt; stride; names; train args).
    """
    import torch

    path = Path(weights)
    if not path.is_file():
        raise WorkflowError(f"YOLOv5 weights {path} do not exist; fix 'source:' in config.yaml")
    from ovyolo.model import require_trust

    require_trust(path, trusted)
    with yolov5_code(repo) as root:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        except ModuleNotFoundError as exc:
            top = (exc.name or "").split(".")[0]
            if top == "yolov5":
                raise WorkflowError(f"{path} was written by the PyPI yolov5 package's own train.py (it refers to '{exc.name}'); pip install {PIP_PIN} and leave 'yolov5_repo:' unset") from exc
            raise WorkflowError(f"{path} needs module '{exc.name}', which the YOLOv5 code at {root} lacks; point 'yolov5_repo:' at a YOLOv5 clone of the version that trained it") from exc
        except AttributeError as exc:  # "Can't get attribute 'X' on <module 'models.common'>": another version
            raise WorkflowError(f"{path} was written by a YOLOv5 version whose classes the code at {root} lacks ({exc}); point 'yolov5_repo:' at a clone of that version") from exc
        except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
            raise WorkflowError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); re-copy it") from exc
    if not isinstance(ckpt, dict) or (ckpt.get("ema") or ckpt.get("model")) is None:
        raise WorkflowError(f"{path} holds no 'model' entry; it is not a YOLOv5 training checkpoint")
    model = ckpt.get("ema") or ckpt.get("model")
    module = type(model).__module__
    if not module.startswith(("models.", "yolov5.models.")):
        raise WorkflowError(f"{path} holds a {type(model).__name__} from '{module}', not an original YOLOv5 model; use family: ultralytics for Ultralytics checkpoints")
    head = _head(model)
    kind = type(head).__name__ if head is not None else None
    if kind != "Detect" or type(model).__name__ not in ("DetectionModel", "Model"):
        raise WorkflowError(f"{path} holds a YOLOv5 {type(model).__name__} with a {kind} head; only detection models (Detect head) are supported")
    model = model.float().eval()
    _compat(model)
    for p in model.parameters():
        p.requires_grad_(False)
    names = getattr(model, "names", None) or [str(i) for i in range(int(head.nc))]
    names = [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else [str(n) for n in names]
    args = ckpt.get("opt") or {}
    if not isinstance(args, dict):
        args = dict(vars(args)) if hasattr(args, "__dict__") else {}
    return Loaded(model, ckpt, int(max(model.stride)), names, args)


# ---------------------------------------------------------------------------------------------------------------
# Export


def expected_rows(hw: tuple[int, int], strides, anchors_per_level: int = 3) -> int:
    """Number of output rows N of a YOLOv5 Detect head at ``hw``: anchors x sum over levels of (h/s)*(w/s)."""
    h, w = hw
    return int(anchors_per_level * sum((h // int(s)) * (w // int(s)) for s in strides))


def _onnx_dims(vi) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in vi.type.tensor_type.shape.dim]


def export_yolov5_onnx(weights: str | Path, hw: tuple[int, int], out: str | Path, *, trusted: bool,
                       repo: str | Path | None = None) -> Path:
    """Export an original YOLOv5 checkpoint to a static 1x3xhxw ONNX (output ``output0``: 1 x N x (5+nc)).

    Prepares the model the way YOLOv5's export.py does: Conv+BN fused (``model.fuse()``), eval mode, and on the
    Detect head ``inplace=False``, ``dynamic=False``, ``export=True`` (forward returns only the decoded boxes),
    then two dry runs. Legacy TorchScript exporter (``dynamo=False``), opset 17, constant folding. The file is
    written beside ``out`` and renamed into place after its input and output shapes are checked.
    """
    import onnx
    import torch

    from ovyolo.shapes import check_stride

    h, w = int(hw[0]), int(hw[1])
    out = Path(out)
    loaded = load_yolov5(weights, trusted=trusted, repo=repo)
    check_stride((h, w), loaded.stride)
    model = loaded.model
    head = _head(model)
    with yolov5_code(repo):  # fuse() and the forward pass call back into YOLOv5 helpers
        logging.getLogger("yolov5").setLevel(logging.WARNING)
        model = model.fuse().eval()
        for m in model.modules():
            if type(m).__name__ == "Detect":
                m.inplace, m.dynamic, m.export = False, False, True
        im = torch.zeros(1, 3, h, w)
        with torch.no_grad():
            for _ in range(2):
                y = model(im)
    y = y[0] if isinstance(y, (tuple, list)) else y
    nc = int(head.nc)
    want = (1, expected_rows((h, w), head.stride.tolist(), int(head.na)), 5 + nc)
    if tuple(y.shape) != want:
        raise ShapeMismatchError(f"{weights}: YOLOv5 model output at {h}x{w} is {tuple(y.shape)}, expected {want}")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    tmp.unlink(missing_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            torch.onnx.export(
                model, im, str(tmp), dynamo=False, opset_version=OPSET, do_constant_folding=True,
                input_names=["images"], output_names=["output0"], dynamic_axes=None, verbose=False,
            )
        m = onnx.load(str(tmp))
        onnx.checker.check_model(m)
        init = {t.name for t in m.graph.initializer}
        inputs = [i for i in m.graph.input if i.name not in init]
        got_in = _onnx_dims(inputs[0]) if len(inputs) == 1 else None
        if got_in != [1, 3, h, w]:
            raise ShapeMismatchError(f"{out}: exported ONNX input is {got_in}, not [1, 3, {h}, {w}]")
        got_out = [_onnx_dims(o) for o in m.graph.output]
        if [o.name for o in m.graph.output] != ["output0"] or got_out[0] != list(want):
            raise ShapeMismatchError(f"{out}: exported ONNX outputs are {[o.name for o in m.graph.output]} {got_out}, expected output0 {list(want)}")
        for k, v in {"stride": str(loaded.stride), "names": repr(dict(enumerate(loaded.names)))}.items():
            m.metadata_props.add(key=k, value=v)  # as YOLOv5's export.py records them
        onnx.save(m, str(tmp))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ---------------------------------------------------------------------------------------------------------------
# A genuine training-run layout, for tests


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
