"""INT8 within an mAP50-95 budget: NNCF accuracy control from the FP32 IR and the calibration set of int8/."""
from pathlib import Path

import yaml

import ovyolo  # noqa: F401  (offline environment first)
from ovyolo import accuracy_control as ac
from ovyolo.data import load_dataset
from ovyolo.smk import hw_of, run


def main(smk):
    q = smk.params.quantization
    ac.check_settings(q.get("max_drop"), q["ac_tuning_images"], q["ac_max_iterations"])
    meta = yaml.safe_load(Path(smk.input.meta).read_text()) or {}
    ac.check_model(meta)
    split = q["ac_tuning_split"]
    images, record = ac.select_tuning_images(load_dataset(smk.input.data).images(split), smk.input.manifest,
                                             q["ac_tuning_images"], split=split)
    names = [meta["names"][k] for k in sorted(meta["names"])]
    ac.quantize_ac(smk.input.xml, smk.input.calibration, hw_of(smk.wildcards), Path(smk.output.xml).parent, images,
                   max_drop=q["max_drop"], names=names, layout=meta["layout"], preset=q["preset"],
                   keep_head_float=q["keep_head_float"], fast_bias_correction=q["fast_bias_correction"],
                   max_iterations=q["ac_max_iterations"], ranking_subset_size=q.get("ac_ranking_images"),
                   threads=smk.threads, conf=smk.params.conf, iou=smk.params.iou, tuning_record=record)


run(snakemake, main)  # noqa: F821
