# The embedded demo: a generated data set and a tiny model trained on it, offline.


rule demo_dataset:
    output:
        f"{DEMO}/dataset/data.yaml",
    params:
        seed=config["demo"]["seed"],
        n_train=config["demo"]["train_images"],
        n_val=config["demo"]["val_images"],
        frame=config["demo"]["frame"],
        classes=config["demo"]["classes"],
    log:
        f"{LOGS}/_demo/demo_dataset.log",
    threads: 1
    conda:
        "../../envs/ovyolo.yaml"
    script:
        "../scripts/demo_dataset.py"


rule demo_train:
    input:
        data=f"{DEMO}/dataset/data.yaml",
    output:
        weights=f"{DEMO}/run/weights/best.pt",
        args=f"{DEMO}/run/args.yaml",
        results=f"{DEMO}/run/results.csv",
    params:
        train=canon(config["demo"]["train"]),
        seed=config["demo"]["seed"],
    log:
        f"{LOGS}/_demo/demo_train.log",
    threads: THREADS
    conda:
        "../../envs/ovyolo.yaml"
    script:
        "../scripts/demo_train.py"
