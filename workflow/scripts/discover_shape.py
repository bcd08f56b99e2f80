"""Decide the deploy shape(s) of a model and write shape.json with the reasons."""
import _repo  # noqa: F401  (puts the ovyolo package on sys.path)
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.discover import discover_model
from ovyolo.smk import run


def main(smk):
    discover_model(smk.wildcards.model, smk.params.source, smk.input.data, smk.params.settings, smk.output[0])


run(snakemake, main)  # noqa: F821
