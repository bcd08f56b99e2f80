"""NNCF INT8 quantization of the FP32 IR with the calibration set of the same {h}x{w}."""
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.quantize import quantize
from ovyolo.smk import hw_of, run


def main(smk):
    q = smk.params.quantization
    quantize(smk.input.xml, smk.input.calibration, hw_of(smk.wildcards), Path(smk.output.xml).parent,
             preset=q["preset"], keep_head_float=q["keep_head_float"], fast_bias_correction=q["fast_bias_correction"])


run(snakemake, main)  # noqa: F821
