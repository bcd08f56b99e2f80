"""Every rule's stage, in one place: ``ovyolo.stages.<rule>(smk)`` is what the rule of that name runs.

The workflow's single script (``workflow/scripts/stage.py``) hands its ``snakemake`` object to
:func:`ovyolo.smk.run`, which sets up the log, threads and the offline environment and calls the function named
after the rule. Each function only unpacks the rule's inputs, outputs, params and wildcards and calls the package
function that does the work; the logic and its tests live there.
"""
from __future__ import annotations

import json
from pathlib import Path


def _hw(smk) -> tuple[int, int]:
    return int(smk.wildcards["h"]), int(smk.wildcards["w"])


def _folder(path) -> Path:
    return Path(path).parent


def workflow_dir(smk) -> Path:
    """The workflow's checkout (``workflow/scripts/..``): where provenance reads the git commit from."""
    return Path(smk.scriptdir).resolve().parent.parent


# --------------------------------------------------------------------------------------------- the demo


def demo_dataset(smk) -> None:
    from ovyolo.atomic import atomic_dir
    from ovyolo.data.demo import generate_demo_dataset

    p = smk.params
    with atomic_dir(_folder(smk.output[0])) as tmp:
        generate_demo_dataset(tmp, seed=p.seed, n_train=p.n_train, n_val=p.n_val, frame_hw=tuple(p.frame),
                              names=tuple(p.classes), object_size=tuple(p.object_size))


def demo_train(smk) -> None:
    import logging

    from ovyolo.data.demo import best_map50, train_demo

    train_demo(smk.input.data, _folder(smk.output.weights).parent, threads=smk.threads, seed=smk.params.seed,
               **smk.params.train)
    logging.getLogger("ovyolo.demo").info("best val mAP50 during training: %.4f", best_map50(smk.output.results))


# --------------------------------------------------------------------------------------------- sources and shapes


def identify_source(smk) -> None:
    from ovyolo.discover import identify_source as identify

    identify(smk.params.source, smk.params.settings, smk.output[0])


def discover_shape(smk) -> None:
    from ovyolo.discover import discover_model

    discover_model(smk.wildcards.model, smk.input.source, smk.input.data, smk.params.settings, smk.output[0])


# --------------------------------------------------------------------------------------------- build


def export_onnx(smk) -> None:
    from ovyolo import sources
    from ovyolo.build.export import export

    export(sources.read(smk.input.source), _hw(smk), smk.output[0])


def convert(smk) -> None:
    from ovyolo.build.convert import convert as to_ir

    to_ir(smk.input[0], _hw(smk), smk.wildcards.precision, _folder(smk.output.xml))


def calibration(smk) -> None:
    from ovyolo.build import calibration as cal
    from ovyolo.data.dataset import load_dataset

    images = load_dataset(smk.input.data).images("train")
    cal.build(images, _hw(smk), smk.params.size, _folder(smk.output.images), seed=smk.params.seed,
              reserve=smk.params.reserve)


def quantize(smk) -> None:
    from ovyolo.build.quantize import quantize as to_int8

    q = smk.params.quantization
    to_int8(smk.input.xml, smk.input.calibration, _hw(smk), _folder(smk.output.xml), preset=q["preset"],
            keep_head_float=q["keep_head_float"], fast_bias_correction=q["fast_bias_correction"])


def quantize_ac(smk) -> None:
    from ovyolo.build import accuracy_control as ac

    ac.quantize_ac_stage(smk.input.xml, smk.input.calibration, smk.input.manifest, smk.input.meta, smk.input.data,
                         _hw(smk), _folder(smk.output.xml), smk.params.quantization, threads=smk.threads,
                         conf=smk.params.conf, iou=smk.params.iou)


def ultralytics_int8(smk) -> None:
    from ovyolo import sources
    from ovyolo.build.ultralytics_int8 import export_ultralytics_int8

    export_ultralytics_int8(smk.input.weights, _hw(smk), smk.input.data, _folder(smk.output.xml),
                            layout=sources.read(smk.input.source).output_layout)


# --------------------------------------------------------------------------------------------- measure


def validate(smk) -> None:
    from ovyolo.measure.validate import validate_variant

    validate_variant(smk.wildcards.model, smk.wildcards.variant, _hw(smk), model_files=dict(smk.input),
                     data_yaml=smk.input.data, meta_yaml=smk.input.meta, baseline=smk.input.baseline or None,
                     threads=smk.threads, conf=smk.params.conf, iou=smk.params.iou,
                     bf16_mode=smk.params.bf16 or "always", out_metrics=smk.output.metrics, out_outputs=smk.output.outputs, out_matches=smk.output.matches)


def benchmark(smk) -> None:
    from ovyolo.measure.benchmark import benchmark_shape

    benchmark_shape(smk.wildcards.model, _hw(smk), variant_files=smk.params.variant_files, data_yaml=smk.input.data,
                    threads=smk.threads, settings=smk.params.settings, bf16_mode=smk.params.bf16 or "always",
                    out=smk.output[0])


def pipeline_benchmark(smk) -> None:
    from ovyolo.data.dataset import load_dataset
    from ovyolo.measure.pipeline_bench import pipeline_benchmark as run

    images = load_dataset(smk.input.data).images("val")[: smk.params.images]
    run(smk.wildcards.model, _hw(smk), int8_bundle=smk.input.int8, fp32_bundle=smk.input.fp32, images=images,
        threads=smk.threads, rounds=smk.params.rounds, out=smk.output[0], batches=smk.params.batches)


def compare_square(smk) -> None:
    from ovyolo.measure.square import KINDS, PRECISIONS, contender
    from ovyolo.measure.square import compare_square as run

    names = [(k, p) for k in KINDS for p in PRECISIONS]
    p = smk.params
    run(smk.wildcards.model, _hw(smk), irs={contender(k, q): smk.input[f"{k}_{q}_xml"] for k, q in names},
        matches={contender(k, q): smk.input[f"{k}_{q}_matches"] for k, q in names}, data_yaml=smk.input.data,
        threads=smk.threads, settings=p.settings, n_boot=p.bootstrap, seed=p.seed, out=smk.output[0])


def profile(smk) -> None:
    from ovyolo.measure.profile import profile_shape
    from ovyolo.report.plots import plot_profiles

    p = smk.params
    result = profile_shape(smk.wildcards.model, _hw(smk), variant_files=p.variant_files, data_yaml=smk.input.data,
                           threads=smk.threads, out=smk.output.json, iterations=p.iterations, rounds=p.rounds,
                           images=p.images, bf16_mode=p.bf16 or "always")
    plot_profiles([result], smk.output.png)


# --------------------------------------------------------------------------------------------- report and deploy


def gallery(smk) -> None:
    from ovyolo.atomic import write_json
    from ovyolo.data.dataset import load_dataset
    from ovyolo.report.gallery import build

    rows = build(dict(smk.params.irs), load_dataset(smk.input.data).images("val"), smk.output.png,
                 threads=smk.threads)
    write_json(smk.output.json, {"ranked": rows})


def bundle(smk) -> None:
    from ovyolo.deploy.bundle import build_bundle

    build_bundle(_folder(smk.input.xml), smk.output[0], _hw(smk), smk.wildcards.bundle,
                 workflow_dir=workflow_dir(smk))


def summarize(smk) -> None:
    from ovyolo.report import plots, table
    from ovyolo.report.verdict import profile_lines, write_verdict

    ev = smk.params.evaluation
    rows, verdicts = table.build(list(smk.input.metrics), list(smk.input.matches), list(smk.input.benchmarks),
                                 list(smk.input.shapes), list(smk.input.calibrations), max_drop=ev["max_drop"],
                                 n_boot=ev["bootstrap"], seed=ev["seed"], profiles=list(smk.input.profiles),
                                 pipelines=list(smk.input.pipelines), squares=list(smk.input.squares))
    table.write_csv(rows, smk.output.csv)
    profiles = list(smk.input.profiles)
    write_verdict(verdicts, ev["max_drop"], smk.output.verdict, smk.output.verdict_json, smk.output.verdict_rst,
                  profile_lines=profile_lines(profiles))
    plots.plot_all(rows, _folder(smk.output.map), ev["max_drop"])
    plots.plot_profiles(profiles, smk.output.profile)
    plots.plot_pipelines([json.loads(Path(p).read_text()) for p in smk.input.pipelines], smk.output.pipeline)
    plots.plot_squares([json.loads(Path(p).read_text()) for p in smk.input.squares], smk.output.square)
    print(Path(smk.output.verdict).read_text())
