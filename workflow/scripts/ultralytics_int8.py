"""The incumbent's row: Ultralytics' own OpenVINO INT8 export of the same weights at {h}x{w}."""
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.ultralytics_int8 import export_ultralytics_int8
from ovyolo.smk import hw_of, run


def main(smk):
    export_ultralytics_int8(smk.input.weights, hw_of(smk.wildcards), smk.input.data, Path(smk.output.xml).parent)


run(snakemake, main)  # noqa: F821
