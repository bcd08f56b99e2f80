# Deployment bundles: each IR precision packaged so that Ultralytics loads it like its own OpenVINO export
# (model_openvino_model/ + metadata.yaml), with bundle.json and provenance.json. See README, "Deploying the results".


rule bundle:
    input:
        xml=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{bundle}}/model.xml",
        bin=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{bundle}}/model.bin",
        meta=f"{RESULTS}/{{model}}/{{h}}x{{w}}/{{bundle}}/metadata.yaml",
    output:
        directory(f"{RESULTS}/{{model}}/{{h}}x{{w}}/bundles/{{bundle}}"),
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/bundle_{{bundle}}.log",
    wildcard_constraints:
        # the IR folders the verdict can recommend (ovyolo.variants.BUNDLED_IRS)
        bundle="|".join(_variants.BUNDLED_IRS),
    conda:
        "../../envs/ovyolo.yaml"
    threads: 1
    script:
        "../scripts/stage.py"


rule gallery:
    """Val images with the ground truth and every f32-hinted OpenVINO variant's detections side by side, the images
    where the variants disagree most with true f32 first (in the report)."""
    input:
        lambda wc: sorted(
            {
                f
                for v, fs in variant_files(wc).items()
                if _variants.get(v).precision_hint == "f32"
                for f in fs.values()
            }
        ),
        data=data_yaml,
    output:
        png=report(
            f"{RESULTS}/{{model}}/{{h}}x{{w}}/gallery.png",
            caption="../report/gallery.rst",
            category="5. Detections",
            subcategory="{model} @ {h}x{w}",
            labels={"plot": "FP32 vs INT8 detections"},
        ),
        json=f"{RESULTS}/{{model}}/{{h}}x{{w}}/gallery.json",
    log:
        f"{LOGS}/{{model}}/{{h}}x{{w}}/gallery.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: 1
    params:
        irs=lambda wc: {
            v: fs["xml"]
            for v, fs in variant_files(wc).items()
            if _variants.get(v).is_openvino
            and _variants.get(v).precision_hint == "f32"
        },
    script:
        "../scripts/stage.py"
