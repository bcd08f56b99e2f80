"""Decide the deploy shape(s) of a model and write shape.json with the reasons."""
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.discover import discover_model
from ovyolo.smk import run


def main(smk):
    discover_model(smk.wildcards.model, smk.input.source, smk.input.data, smk.params.settings, smk.output[0])


run(snakemake, main)  # noqa: F821
