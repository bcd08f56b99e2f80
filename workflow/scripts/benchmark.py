"""Latency and throughput of one variant at {h}x{w} on real letterboxed val images."""
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.smk import hw_of, run
from ovyolo.stages import benchmark_variant


def main(smk):
    benchmark_variant(smk.wildcards.model, smk.wildcards.variant, hw_of(smk.wildcards), model_files=dict(smk.input),
                      data_yaml=smk.input.data, threads=smk.threads,
                      settings=smk.params.settings, out=smk.output[0])


run(snakemake, main)  # noqa: F821
