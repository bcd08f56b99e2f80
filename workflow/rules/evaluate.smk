# Measure every variant at the deploy shape: accuracy (validate), speed (benchmark), then summary and plots.


rule ultralytics_int8:
    input:
        unpack(source_files),
        data=data_yaml,
    output:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/ultralytics-int8/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/ultralytics-int8/model.bin",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/ultralytics_int8.log",
    threads: THREADS
    conda:
        "../../envs/ovyolo.yaml"
    script:
        "../scripts/ultralytics_int8.py"


rule validate:
    input:
        unpack(variant_inputs),
        data=data_yaml,
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/fp32/metadata.yaml",
        baseline=baseline_outputs,
    output:
        metrics=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{variant}}/metrics.json",
        outputs=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{variant}}/outputs.npy",
    params:
        conf=config["evaluation"]["conf"],
        iou=config["evaluation"]["iou"],
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/validate_{{variant}}.log",
    threads: THREADS
    conda:
        "../../envs/ovyolo.yaml"
    script:
        "../scripts/validate.py"


rule benchmark:
    input:
        unpack(variant_inputs),
        data=data_yaml,
    output:
        f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{variant}}/benchmark.json",
    params:
        settings=canon(config["benchmark"]),
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/benchmark_{{variant}}.log",
    threads: THREADS
    resources:
        # the default profile sets bench=100 in all and 1 per other job: a benchmark runs alone
        bench=100,
    conda:
        "../../envs/ovyolo.yaml"
    script:
        "../scripts/benchmark.py"


rule summarize:
    input:
        metrics=lambda wc: measured("metrics.json"),
        benchmarks=lambda wc: measured("benchmark.json"),
    output:
        csv=report(
            f"{RESULTS}/summary.csv",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "all models, shapes and variants"},
        ),
        latency_vs_map=report(
            f"{RESULTS}/plots/latency_vs_map.png",
            caption="../report/latency_vs_map.rst",
            category="Comparison plots",
            labels={"plot": "latency vs mAP50-95"},
        ),
        speedup=report(
            f"{RESULTS}/plots/speedup.png",
            caption="../report/speedup.rst",
            category="Comparison plots",
            labels={"plot": "speed-up vs true f32"},
        ),
        size=report(
            f"{RESULTS}/plots/size.png",
            caption="../report/size.rst",
            category="Comparison plots",
            labels={"plot": "model size"},
        ),
        map=report(
            f"{RESULTS}/plots/map.png",
            caption="../report/map.rst",
            category="Comparison plots",
            labels={"plot": "mAP per variant"},
        ),
    log:
        f"{LOGS}/summarize.log",
    threads: 1
    conda:
        "../../envs/ovyolo.yaml"
    script:
        "../scripts/summarize.py"
