# Measure every variant at the deploy shape: accuracy (validate), speed (benchmark), then summary and plots.


rule ultralytics_int8:
    input:
        unpack(source_files),
        data=data_yaml,
        # the head branch (end-to-end or one-to-many) identify_source decided, so that both INT8s run the same one
        source=f"{RESULTS}/{{model}}/source.json",
    output:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/ultralytics-int8/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/ultralytics-int8/model.bin",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/ultralytics_int8.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    script:
        "../scripts/stage.py"


rule validate:
    input:
        unpack(variant_inputs),
        data=data_yaml,
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/fp32/metadata.yaml",
        baseline=baseline_outputs,
    output:
        metrics=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{variant}}/metrics.json",
        outputs=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{variant}}/outputs.npy",
        matches=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{variant}}/matches.npz",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/validate_{{variant}}.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: VALIDATE_THREADS
    resources:
        cpu=VALIDATE_THREADS,
    params:
        conf=config["evaluation"]["conf"],
        iou=config["evaluation"]["iou"],
        # only an @bf16 variant depends on it (its node decides whether it can measure it)
        bf16=lambda wc: bf16_setting([wc.variant]),
    script:
        "../scripts/stage.py"


rule benchmark:
    """Every variant of one model x shape, timed interleaved in rounds in one process (a new INT8 re-times them all)."""
    input:
        shape_model_files,
        data=data_yaml,
    output:
        f"{RESULTS}/{{model}}/{{h}}x{{w}}/benchmark.json",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/benchmark.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    resources:
        # the default profile sets bench=100 in all and 1 per other job: a benchmark runs alone
        bench=100,
    params:
        settings=canon(config["benchmark"]),
        variant_files=variant_files,
        bf16=lambda wc: bf16_setting(variants_of(wc.model)),
    script:
        "../scripts/stage.py"


rule summarize:
    input:
        metrics=lambda wc: measured("metrics.json"),
        matches=lambda wc: measured("matches.npz"),
        benchmarks=lambda wc: per_shape("benchmark.json"),
        shapes=lambda wc: discoveries(),
        calibrations=lambda wc: per_shape("calibration/manifest.json"),
        profiles=lambda wc: per_shape("profile.json"),
        pipelines=lambda wc: pipeline_files(),
        squares=lambda wc: square_files(),
        # the verdict names the recommended variant's bundle: every one it can recommend exists first
        bundles=lambda wc: shipped_bundles(),
    output:
        csv=report(
            f"{RESULTS}/summary.csv",
            caption="../report/summary.rst",
            category="2. Summary",
            labels={"table": "all models, shapes and variants"},
        ),
        verdict=report(
            f"{RESULTS}/verdict.md",
            caption="../report/verdict.rst",
            category="1. Verdict",
            labels={"verdict": "per model and shape"},
        ),
        verdict_json=f"{RESULTS}/verdict.json",
        verdict_rst=f"{RESULTS}/report/verdict.rst",
        latency_vs_map=report(
            f"{RESULTS}/plots/latency_vs_map.png",
            caption="../report/latency_vs_map.rst",
            category="3. Comparison plots",
            labels={"plot": "latency vs mAP50-95"},
        ),
        drop=report(
            f"{RESULTS}/plots/drop.png",
            caption="../report/drop.rst",
            category="3. Comparison plots",
            labels={"plot": "mAP50-95 drop vs the budget"},
        ),
        speedup=report(
            f"{RESULTS}/plots/speedup.png",
            caption="../report/speedup.rst",
            category="3. Comparison plots",
            labels={"plot": "speed-up vs true f32"},
        ),
        rounds=report(
            f"{RESULTS}/plots/rounds.png",
            caption="../report/rounds.rst",
            category="3. Comparison plots",
            labels={"plot": "latency round by round"},
        ),
        size=report(
            f"{RESULTS}/plots/size.png",
            caption="../report/size.rst",
            category="3. Comparison plots",
            labels={"plot": "model size"},
        ),
        map=report(
            f"{RESULTS}/plots/map.png",
            caption="../report/map.rst",
            category="3. Comparison plots",
            labels={"plot": "mAP per variant"},
        ),
        pipeline=report(
            f"{RESULTS}/plots/pipeline.png",
            caption="../report/pipeline.rst",
            category="3. Comparison plots",
            labels={"plot": "image files to detections"},
        ),
        square=report(
            f"{RESULTS}/plots/square.png",
            caption="../report/square.rst",
            category="3. Comparison plots",
            labels={"plot": "rectangular vs square shape"},
        ),
        profile=report(
            f"{RESULTS}/plots/profile.png",
            caption="../report/profile.rst",
            category="3. Comparison plots",
            labels={"plot": "where the time goes"},
        ),
    log:
        f"{LOGS}/summarize.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: 1
    params:
        evaluation=canon(config["evaluation"]),
    script:
        "../scripts/stage.py"


rule profile:
    """Where the time goes: OpenVINO per-op performance counters of every OpenVINO variant of one model x shape,
    summed by op category (int8/float convolutions, head, activations, Concat, Reorder, ...).
    """
    input:
        # the IRs of the shape's OpenVINO variants (from the registry), each once
        lambda wc: sorted(
            {
                f
                for v, fs in variant_files(wc).items()
                if _variants.get(v).is_openvino
                for f in fs.values()
            }
        ),
        data=data_yaml,
    output:
        json=f"{RESULTS}/{{model}}/{{h}}x{{w}}/profile.json",
        png=report(
            f"{RESULTS}/{{model}}/{{h}}x{{w}}/profile.png",
            caption="../report/profile.rst",
            category="4. Where the time goes",
            subcategory="{model} @ {h}x{w}",
            labels={"plot": "per-op-category time"},
        ),
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/profile.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    resources:
        # like the benchmark: the profile runs alone (the default profile gives every other job bench=1)
        bench=100,
    params:
        variant_files=lambda wc: {
            v: fs
            for v, fs in variant_files(wc).items()
            if _variants.get(v).is_openvino
        },
        iterations=config["profile"]["iterations"],
        rounds=config["profile"]["rounds"],
        images=config["profile"]["images"],
        bf16=lambda wc: bf16_setting(variants_of(wc.model)),
    script:
        "../scripts/stage.py"


rule pipeline_benchmark:
    """Image files to detections, end to end: our pipeline on the INT8 and FP32 bundles against Ultralytics'
    YOLO(INT8 bundle).predict on the same files and the INT8 IR alone at each batch, one request at a time and with
    streams, interleaved in rounds in one process.
    """
    input:
        int8=f"{RESULTS}/{{model}}/{{h}}x{{w}}/bundles/int8",
        fp32=f"{RESULTS}/{{model}}/{{h}}x{{w}}/bundles/fp32",
        data=data_yaml,
    output:
        f"{RESULTS}/{{model}}/{{h}}x{{w}}/pipeline.json",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/pipeline_benchmark.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    resources:
        # timed like the benchmark: alone
        bench=100,
    params:
        images=config["pipeline"]["images"],
        rounds=config["pipeline"]["rounds"],
        batches=config["pipeline"]["batches"],
    script:
        "../scripts/stage.py"


rule compare_square:
    """What the discovered shape buys: the rectangular {h}x{w} against the square max(h, w) x max(h, w) a plain
    `yolo export imgsz=...` builds, true f32 and our INT8 timed interleaved in one process, mAP50-95 difference with
    its paired-bootstrap CI.
    """
    input:
        unpack(square_inputs),
        data=data_yaml,
    output:
        f"{RESULTS}/{{model}}/{{h}}x{{w}}/square.json",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/compare_square.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    resources:
        # timed like the benchmark: alone
        bench=100,
    params:
        settings=canon(config["benchmark"]),
        bootstrap=config["evaluation"]["bootstrap"],
        seed=config["evaluation"]["seed"],
    script:
        "../scripts/stage.py"
