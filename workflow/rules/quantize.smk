# Calibration set (train images letterboxed to exactly {h}x{w}) and NNCF INT8 quantization.


rule calibration:
    input:
        data=data_yaml,
    output:
        images=f"{RESULTS}/{{model}}/{{h}}x{{w}}/calibration/images.npy",
        manifest=f"{RESULTS}/{{model}}/{{h}}x{{w}}/calibration/manifest.json",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/calibration.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: 1
    params:
        size=config["calibration"]["size"],
        seed=config["calibration"]["seed"],
        reserve=(
            config["quantization"]["ac_tuning_images"]
            if config["quantization"].get("max_drop") is not None
            else 0
        ),
    script:
        "../scripts/stage.py"


rule quantize:
    input:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/fp32/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/fp32/model.bin",
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/fp32/metadata.yaml",
        calibration=f"{RESULTS}/{{model}}/{{h}}x{{w}}/calibration/images.npy",
    output:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/int8/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/int8/model.bin",
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/int8/metadata.yaml",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/quantize.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    params:
        # only the recipe: accuracy-control settings (max_drop, ac_*) must not re-quantize the plain INT8
        quantization={
            k: config["quantization"][k]
            for k in ("fast_bias_correction", "keep_head_float", "preset")
        },
    script:
        "../scripts/stage.py"


rule quantize_ac:
    input:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/fp32/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/fp32/model.bin",
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/fp32/metadata.yaml",
        calibration=f"{RESULTS}/{{model}}/{{h}}x{{w}}/calibration/images.npy",
        manifest=f"{RESULTS}/{{model}}/{{h}}x{{w}}/calibration/manifest.json",
        data=data_yaml,
    output:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/int8-ac/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/int8-ac/model.bin",
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/int8-ac/metadata.yaml",
        report=f"{RESULTS}/{{model}}/{{h}}x{{w}}/int8-ac/accuracy_control.json",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/quantize_ac.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    params:
        quantization=canon(config["quantization"]),
        conf=config["evaluation"]["conf"],
        iou=config["evaluation"]["iou"],
    script:
        "../scripts/stage.py"
