"""Make the original YOLOv5 code (github.com/ultralytics/yolov5) importable, so its checkpoints can be unpickled.

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
* ``sys.modules`` caches ``models``/``utils``: a process that imported them from one code root keeps them. This
  module drops those entries when a different root is asked for, and checks where ``models.yolo`` came from.

Loading and export live in :mod:`ovyolo.sources.yolov5`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from ovyolo.errors import WorkflowError

PIP_PIN = "yolov5==7.0.14"
FIX = f"set 'yolov5_repo:' to a YOLOv5 clone or pip install {PIP_PIN}"
_TOP = ("models", "utils")  # the top-level module names a YOLOv5 pickle refers to
_ENV_TOUCHED = ("OMP_NUM_THREADS", "NUMEXPR_MAX_THREADS", "TF_CPP_MIN_LOG_LEVEL")

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
