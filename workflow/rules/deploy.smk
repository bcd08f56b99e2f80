# Deployment bundles: each IR precision packaged so that Ultralytics loads it like its own OpenVINO export
# (model_openvino_model/ + metadata.yaml), with bundle.json and provenance.json. See docs/deploy.md.


rule bundle:
    input:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{bundle}}/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{bundle}}/model.bin",
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{bundle}}/metadata.yaml",
    output:
        directory(f"{RESULTS}/{{model}}/{{h}}x{{w}}/bundles/{{bundle}}"),
    wildcard_constraints:
        bundle=r"fp32|fp16|int8",
    params:
        workflow_dir=workflow.basedir,
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/bundle_{{bundle}}.log",
    threads: 1
    conda:
        "../../envs/ovyolo.yaml"
    script:
        "../scripts/bundle.py"

