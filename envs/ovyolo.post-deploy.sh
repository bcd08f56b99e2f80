#!/usr/bin/env bash
# Snakemake runs this after creating envs/ovyolo.yaml: YOLOv5's package without its unneeded dependencies.
set -euo pipefail
pip install --no-deps yolov5==7.0.14
