# Shape discovery: a checkpoint, because the shape decides every path after it.


checkpoint discover_shape:
    input:
        unpack(source_inputs),
        data=data_yaml,
    output:
        f"{RESULTS}/{{model}}/shape.json",
    params:
        source=lambda wc: model_source(wc.model),
        settings=lambda wc: model_cfg(wc.model),
    log:
        f"{LOGS}/{{model}}/discover_shape.log",
    threads: 1
    conda:
        "../../envs/ovyolo.yaml"
    script:
        "../scripts/discover_shape.py"
