"""Package the {bundle} IR of this {h}x{w} as a deployment bundle Ultralytics can load."""
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.bundle import build_bundle
from ovyolo.smk import hw_of, run


def main(smk):
    build_bundle(Path(smk.input.xml).parent, smk.output[0], hw_of(smk.wildcards), smk.wildcards.bundle,
                 workflow_dir=smk.params.workflow_dir)


run(snakemake, main)  # noqa: F821
