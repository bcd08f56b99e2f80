"""results/summary.csv, the verdict and the comparison plots."""
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo import summary
from ovyolo.smk import run


def main(smk):
    ev = smk.params.evaluation
    table, verdicts = summary.build(list(smk.input.metrics), list(smk.input.matches), list(smk.input.benchmarks),
                                    list(smk.input.shapes), list(smk.input.calibrations), max_drop=ev["max_drop"],
                                    n_boot=ev["bootstrap"], seed=ev["seed"])
    summary.write_csv(table, smk.output.csv)
    profiles = list(smk.input.profiles)
    summary.write_verdict(verdicts, ev["max_drop"], smk.output.verdict, smk.output.verdict_json, smk.output.verdict_rst,
                          profile_lines=summary.profile_lines(profiles), left_out=dict(smk.params.left_out))
    summary.plot_all(table, Path(smk.output.map).parent)
    summary.plot_profiles(profiles, smk.output.profile)
    print(Path(smk.output.verdict).read_text())


run(snakemake, main)  # noqa: F821
