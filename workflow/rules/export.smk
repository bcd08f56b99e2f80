# Export to a static-shape ONNX, then to OpenVINO IR in FP32 and FP16. Every path carries {h}x{w}.


rule export_onnx:
    input:
        # what identify_source decided (it depends on the weights, so new weights re-export)
        source=f"{RESULTS}/{{model}}/source.json",
    output:
        f"{RESULTS}/{{model}}/{{h}}x{{w}}/model.onnx",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/export_onnx.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    script:
        "../scripts/stage.py"


rule convert:
    input:
        f"{RESULTS}/{{model}}/{{h}}x{{w}}/model.onnx",
    output:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{precision}}/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{precision}}/model.bin",
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{precision}}/metadata.yaml",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/convert_{{precision}}.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: 1
    script:
        "../scripts/stage.py"
