"""results/summary.csv and the comparison plots."""
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo import summary
from ovyolo.smk import run


def main(smk):
    table = summary.rows(list(zip(smk.input.metrics, smk.input.benchmarks)))
    summary.write_csv(table, smk.output.csv)
    summary.plot_all(table, Path(smk.output.map).parent)


run(snakemake, main)  # noqa: F821
