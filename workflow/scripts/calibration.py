"""Letterbox train images to exactly {h}x{w} for calibration."""
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo import calibration
from ovyolo.data import load_dataset
from ovyolo.smk import hw_of, run


def main(smk):
    images = load_dataset(smk.input.data).images("train")
    calibration.build(images, hw_of(smk.wildcards), smk.params.size, Path(smk.output.images).parent, seed=smk.params.seed,
                      reserve=smk.params.get("reserve", 0))


run(snakemake, main)  # noqa: F821
