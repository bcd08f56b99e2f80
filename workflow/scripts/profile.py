"""Per-op-category time (OpenVINO performance counters) of every OpenVINO variant of one model x shape."""
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.profile import profile_shape
from ovyolo.smk import hw_of, run


def main(smk):
    profile_shape(smk.wildcards.model, hw_of(smk.wildcards), variant_files=smk.params.variant_files,
                  data_yaml=smk.input.data, threads=smk.threads, out=smk.output.json, plot=smk.output.png,
                  iterations=smk.params.iterations, rounds=smk.params.rounds, images=smk.params.images)


run(snakemake, main)  # noqa: F821
