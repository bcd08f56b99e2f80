"""Val images with FP32 vs INT8 (and the other variants') detections, most-disagreeing first."""
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo import gallery
from ovyolo.atomic import write_json
from ovyolo.data import load_dataset
from ovyolo.smk import run


def main(smk):
    rows = gallery.build(dict(smk.params.irs), load_dataset(smk.input.data).images("val"), smk.output.png,
                         threads=smk.threads)
    write_json(smk.output.json, {"ranked": rows})


run(snakemake, main)  # noqa: F821
