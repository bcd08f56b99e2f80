"""All variants of one model x shape timed together, interleaved in rounds, on real letterboxed val images."""
import ovyolo  # noqa: F401  (offline environment first)
from ovyolo.smk import hw_of, run
from ovyolo.stages import benchmark_shape


def main(smk):
    benchmark_shape(smk.wildcards.model, hw_of(smk.wildcards), variant_files=smk.params.variant_files,
                    data_yaml=smk.input.data, threads=smk.threads, settings=smk.params.settings, out=smk.output[0])


run(snakemake, main)  # noqa: F821
