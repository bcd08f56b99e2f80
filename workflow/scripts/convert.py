"""Convert the ONNX of this {h}x{w} to OpenVINO IR at {precision}."""
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.convert import convert
from ovyolo.smk import hw_of, run


def main(smk):
    convert(smk.input[0], hw_of(smk.wildcards), smk.wildcards.precision, Path(smk.output.xml).parent)


run(snakemake, main)  # noqa: F821
