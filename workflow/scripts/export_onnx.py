"""Export the model to a static 1x3xHxW ONNX at the {h}x{w} of the path."""
import _repo  # noqa: F401  (puts the ovyolo package on sys.path)
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.discover import model_info
from ovyolo.export import export
from ovyolo.smk import hw_of, run


def main(smk):
    settings = smk.params.settings
    export(model_info(smk.params.source, settings), hw_of(smk.wildcards), smk.output[0], repo=settings.get("yolov5_repo"))


run(snakemake, main)  # noqa: F821
