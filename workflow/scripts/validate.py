"""mAP of one variant on the val split at {h}x{w}, and its agreement with true-f32 OpenVINO."""
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.smk import hw_of, run
from ovyolo.stages import validate_variant


def main(smk):
    validate_variant(smk.wildcards.model, smk.wildcards.variant, hw_of(smk.wildcards), model_files=dict(smk.input),
                     data_yaml=smk.input.data, meta_yaml=smk.input.meta, baseline=smk.input.baseline or None,
                     threads=smk.threads, conf=smk.params.conf, iou=smk.params.iou,
                     out_metrics=smk.output.metrics, out_outputs=smk.output.outputs, out_matches=smk.output.matches)


run(snakemake, main)  # noqa: F821
