"""ovyolo: take trained YOLO detectors to OpenVINO FP32/FP16/INT8, with the image size in every path.

Importing this package first makes the process offline-safe (see :mod:`ovyolo.offline`), so that any
later import of Ultralytics, OpenVINO or NNCF finds the opt-outs already in place.
"""
from ovyolo import offline as _offline

_offline.prepare()

__version__ = "0.1.0"
