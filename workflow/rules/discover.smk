# Identify the model source once (source.json), then discover its deploy shape(s): a checkpoint, because the
# shape decides every path after it.


rule identify_source:
    input:
        unpack(source_files),
    output:
        f"{RESULTS}/{{model}}/source.json",
    log:
        f"{LOGS}/{{model}}/identify_source.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: 1
    params:
        source=lambda wc: model_source(wc.model),
        # only what changes how the model is loaded: a new imgsz must not re-identify (and re-export) it
        settings=lambda wc: loading_settings(wc.model),
    script:
        "../scripts/stage.py"


checkpoint discover_shape:
    input:
        source=f"{RESULTS}/{{model}}/source.json",
        data=data_yaml,
    output:
        f"{RESULTS}/{{model}}/shape.json",
    log:
        f"{LOGS}/{{model}}/discover_shape.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: 1
    params:
        settings=lambda wc: model_cfg(wc.model),
    script:
        "../scripts/stage.py"
