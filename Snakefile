# YOLO -> OpenVINO FP32 / FP16 / INT8, with the image size in every path: results/{model}/{h}x{w}/...
# Run:  snakemake --cores 8        (settings in config.yaml, machine settings in profiles/default)


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/discover.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/quantize.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        final_targets,
    default_target: True


onsuccess:
    print(results_banner())
