"""Make this process offline-safe before Ultralytics, OpenVINO or NNCF are imported.

What phones home, and how each is stopped (measured on this machine; see ARCHITECTURE.md, "Facts"):

* Ultralytics ``check_font`` downloads ``Arial.ttf`` into ``$YOLO_CONFIG_DIR/Ultralytics/`` when it is not
  there; we place matplotlib's DejaVuSans there under the names it asks for. ``YOLO_OFFLINE=1`` makes its
  online check answer "offline" (so no analytics events), and ``YOLO_AUTOINSTALL=False`` stops its pip installs.
* NNCF telemetry is off when ``NNCF_CI`` is set; OpenVINO's telemetry (``ov.convert_model``) declines when
  ``CI=true`` (set here for our own processes only).
* ``HF_HUB_OFFLINE=1`` keeps the PyPI ``yolov5`` loader away from the Hugging Face hub.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")

ENV = {
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "False",
    "YOLO_VERBOSE": os.environ.get("YOLO_VERBOSE", "False"),
    "NNCF_CI": "1",
    "CI": "true",
    "HF_HUB_OFFLINE": "1",
    "MPLBACKEND": "Agg",
}


def config_dir() -> Path:
    """The Ultralytics config dir we use: ``$YOLO_CONFIG_DIR`` if set, else ``~/.cache/ovyolo``."""
    if os.environ.get("YOLO_CONFIG_DIR"):
        return Path(os.environ["YOLO_CONFIG_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ovyolo" / "ultralytics"


def prepare() -> dict[str, str]:
    """Set the opt-out environment and place the fonts; returns the variables it set. Idempotent."""
    os.environ.update(ENV)
    cfg = config_dir()
    os.environ["YOLO_CONFIG_DIR"] = str(cfg)
    font_dir = cfg / "Ultralytics"
    missing = [n for n in FONT_NAMES if not (font_dir / n).exists()]
    if missing:
        try:
            import matplotlib

            src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
            font_dir.mkdir(parents=True, exist_ok=True)
            for name in missing:
                tmp = font_dir / f".{name}.{os.getpid()}.tmp"
                shutil.copyfile(src, tmp)
                os.replace(tmp, font_dir / name)
        except (ImportError, OSError):  # plotting fonts are optional; never fatal
            pass
    return {**ENV, "YOLO_CONFIG_DIR": str(cfg)}
