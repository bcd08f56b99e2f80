# The embedded demo: a generated data set and a tiny model trained on it, offline.


rule demo_dataset:
    output:
        f"{DEMO}/dataset/data.yaml",
    log:
        f"{LOGS}/_demo/demo_dataset.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: 1
    params:
        seed=config["demo"]["seed"],
        n_train=config["demo"]["train_images"],
        n_val=config["demo"]["val_images"],
        frame=config["demo"]["frame"],
        classes=config["demo"]["classes"],
        object_size=config["demo"]["object_size"],
    script:
        "../scripts/stage.py"


rule demo_train:
    input:
        data=f"{DEMO}/dataset/data.yaml",
    output:
        weights=f"{DEMO}/run/weights/best.pt",
        args=f"{DEMO}/run/args.yaml",
        results=f"{DEMO}/run/results.csv",
    log:
        f"{LOGS}/_demo/demo_train.log",
    conda:
        "../../envs/ovyolo.yaml"
    threads: THREADS
    params:
        train=canon(config["demo"]["train"]),
        seed=config["demo"]["seed"],
    script:
        "../scripts/stage.py"
