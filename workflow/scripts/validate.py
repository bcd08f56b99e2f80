"""mAP of one variant on the val split at {h}x{w}, and its agreement with true-f32 OpenVINO."""
import os

# Validations run beside other jobs (Snakemake may start --cores / threads of them at once): OpenMP threads that
# spin while waiting are then preempted by the other jobs: the torch validation of the default run took 114 s for 200
# images (1.8 img/s, 192x320); with passive waits 27 s (7.3 img/s, at the since smaller 160x256 demo shape: about
# 1.5x of that gain is the shape). Passive waiting hands the core back. Set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import ovyolo  # noqa: E402,F401  (offline environment first)
from ovyolo.smk import hw_of, run  # noqa: E402
from ovyolo.stages import validate_variant  # noqa: E402


def main(smk):
    validate_variant(smk.wildcards.model, smk.wildcards.variant, hw_of(smk.wildcards), model_files=dict(smk.input),
                     data_yaml=smk.input.data, meta_yaml=smk.input.meta, baseline=smk.input.baseline or None,
                     threads=smk.threads, conf=smk.params.conf, iou=smk.params.iou,
                     out_metrics=smk.output.metrics, out_outputs=smk.output.outputs, out_matches=smk.output.matches)


run(snakemake, main)  # noqa: F821
