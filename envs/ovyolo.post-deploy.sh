#!/usr/bin/env bash
# Snakemake runs this after creating envs/ovyolo.yaml: YOLOv5's package without its unneeded dependencies.
# The ovyolo package itself must also be importable in the env: `pip install --no-deps -e <workflow folder>`
# inside it (README, "Conda").
set -euo pipefail
pip install --no-deps yolov5==7.0.14
