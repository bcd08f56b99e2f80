"""ovyolo: take trained YOLO detectors to OpenVINO FP32/FP16/INT8, with the image size in every path.

Importing the package changes nothing in the process: the offline environment (telemetry opt-outs, Ultralytics'
font, no auto-installs; :mod:`ovyolo.offline`) is set by the workflow, its rule runner (:mod:`ovyolo.smk`) and the
command-line tools, or by a program that calls :func:`ovyolo.offline.prepare` before importing Ultralytics,
OpenVINO or NNCF.
"""

__version__ = "0.3.0"
