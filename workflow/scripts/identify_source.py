"""Identify a model source (family, trust, stride, names, training args) once and write source.json."""
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.discover import identify_source
from ovyolo.smk import run


def main(smk):
    identify_source(smk.params.source, smk.params.settings, smk.output[0])


run(snakemake, main)  # noqa: F821
