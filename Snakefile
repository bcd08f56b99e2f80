# YOLO -> OpenVINO FP32 / FP16 / INT8, with the image size in every path: results/{model}/{h}x{w}/...
# Run:  snakemake --cores 8        (settings in config.yaml, machine settings in profiles/default)
#       snakemake --cores 8 --configfile mine.yaml   (your config alone: config.yaml's demo is not added)

import os

from snakemake.utils import min_version

min_version("9.0")


# A config file given on the command line is the whole config (the schema fills in defaults); config.yaml is
# read only when none is given. Snakemake's default would merge the two, so the demo model would run as well.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# After a run, the report opens on the verdict (written by summarize); before, on the workflow description.
# (absolute: Snakemake resolves a relative report path against the Snakefile's folder, not the working directory)
VERDICT_RST = os.path.abspath("results/report/verdict.rst")


report: VERDICT_RST if os.path.exists(VERDICT_RST) else "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/discover.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/quantize.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/deploy.smk"


rule all:
    default_target: True
    input:
        discoveries(),
        final_targets,


onsuccess:
    print(results_banner())
