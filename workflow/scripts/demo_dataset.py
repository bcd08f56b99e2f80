"""Generate the embedded demo data set (deterministic, offline)."""
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.atomic import atomic_dir
from ovyolo.demo import generate_demo_dataset
from ovyolo.smk import run


def main(smk):
    out = Path(smk.output[0]).parent
    with atomic_dir(out) as tmp:
        generate_demo_dataset(tmp, seed=smk.params.seed, n_train=smk.params.n_train, n_val=smk.params.n_val,
                              frame_hw=tuple(smk.params.frame), names=tuple(smk.params.classes))


run(snakemake, main)  # noqa: F821
