"""Export the model to a static 1x3xHxW ONNX at the {h}x{w} of the path."""
import _repo  # noqa: F401  (puts the ovyolo package on sys.path)
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.discover import model_info
from ovyolo.export import export
from ovyolo.smk import hw_of, run


def main(smk):
    export(model_info(smk.params.source, smk.params.settings), hw_of(smk.wildcards), smk.output[0])


run(snakemake, main)  # noqa: F821
