"""Export the model to a static 1x3xHxW ONNX at the {h}x{w} of the path."""
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo import sources
from ovyolo.export import export
from ovyolo.smk import hw_of, run


def main(smk):
    export(sources.read(smk.input.source), hw_of(smk.wildcards), smk.output[0])


run(snakemake, main)  # noqa: F821
