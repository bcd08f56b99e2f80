"""Train the tiny demo model with Ultralytics (built from its yaml; nothing downloaded)."""
import logging
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.smk import run
from ovyolo.demo import best_map50, train_demo


def main(smk):
    train_demo(smk.input.data, Path(smk.output.weights).parent.parent, threads=smk.threads, seed=smk.params.seed,
               **smk.params.train)
    logging.getLogger("ovyolo.demo").info("best val mAP50 during training: %.4f", best_map50(smk.output.results))


run(snakemake, main)  # noqa: F821
