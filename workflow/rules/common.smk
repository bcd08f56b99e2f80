import json
import sys
import os
from pathlib import Path
from types import SimpleNamespace

import ovyolo  # noqa: E402  (sets the offline environment for this process and its jobs)
from ovyolo import variants as _variants
from ovyolo.config import validate as _validate_config
from ovyolo.errors import WorkflowError as _OvyoloError

try:
    _validate_config(config)
except _OvyoloError as _exc:
    sys.exit(f"ERROR: {_exc}")

RESULTS = "results"
DEMO = f"{RESULTS}/_demo"
LOGS = f"{RESULTS}/logs"


wildcard_constraints:
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    h=r"\d+",
    w=r"\d+",
    precision=r"fp32|fp16",
    variant=_variants.wildcard_regex(),


def machine_threads():
    """Threads of a multi-threaded job: the cores Snakemake was given, capped at the machine's cores. A profile's
    set-threads (profiles/default, profiles/slurm) overrides it per rule; every benchmark records what it used."""
    try:
        cores = workflow.cores
    except WorkflowError:  # no --cores (e.g. --report, --lint): only the machine's count matters then
        cores = None
    cores = cores if isinstance(cores, int) and cores > 0 else None
    return max(1, min(cores or os.cpu_count() or 1, os.cpu_count() or 1))


THREADS = machine_threads()


def canon(value):
    """Config values with sorted keys: Snakemake compares params by their repr, so key order must not matter."""
    if isinstance(value, dict):
        return {k: canon(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canon(v) for v in value]
    return value


def model_cfg(model):
    return canon(config["models"][model])


def data_yaml(wildcards):
    data = model_cfg(wildcards.model)["data"]
    return f"{DEMO}/dataset/data.yaml" if data == "demo" else data


def model_source(model):
    src = model_cfg(model)["source"]
    return f"{DEMO}/run" if src == "demo" else src


def source_files(wildcards):
    """The files that define a model: its weights and, beside them, args.yaml / opt.yaml."""
    if model_cfg(wildcards.model)["source"] == "demo":
        return {"weights": f"{DEMO}/run/weights/best.pt", "args": f"{DEMO}/run/args.yaml"}
    from ovyolo.sources import train_args_file, weights_path

    src = model_source(wildcards.model)
    try:
        files = {"weights": str(weights_path(src))}
    except _OvyoloError as exc:
        raise WorkflowError(f"models.{wildcards.model}.source: {exc}")
    args = train_args_file(src)
    if args is not None:
        files["args"] = str(args)
    return files


def loading_settings(model):
    """The settings that decide how a model source is loaded (not which shapes it is deployed at)."""
    cfg = model_cfg(model)
    return {k: cfg.get(k) for k in ("family", "trust_checkpoint", "stride", "yolov5_repo")}


def source_json(wildcards):
    return f"{RESULTS}/{wildcards.model}/source.json"


def _shape_record(model):
    with checkpoints.discover_shape.get(model=model).output[0].open() as f:
        return json.load(f)


def shapes_of(model):
    """Deploy shapes (h, w) decided by the discover_shape checkpoint."""
    return [(s["h"], s["w"]) for s in _shape_record(model)["shapes"]]


def _measured_and_left_out():
    """The requested variants this machine measures, and the left-out ones with why (bf16 without a bf16 CPU)."""
    requested = config["evaluation"]["variants"]
    mode = config["evaluation"]["bf16"]
    needs_cpu = mode == "auto" and any(_variants.get(v).precision_hint == "bf16" for v in requested)
    if needs_cpu:
        from ovyolo.runtimes import cpu_supports_bf16

        has_bf16 = cpu_supports_bf16()
    else:
        has_bf16 = True
    return _variants.without_unsupported_bf16(requested, mode, has_bf16)


MEASURED_VARIANTS, LEFT_OUT_VARIANTS = _measured_and_left_out()


def variants_of(model):
    """The measured variants that apply to the model's family (from the registry); int8-ac only with max_drop set."""
    skip = [] if config["quantization"].get("max_drop") is not None else [_variants.OURS_INT8_AC]
    return [v for v in _variants.for_family(_shape_record(model)["family"], MEASURED_VARIANTS) if v not in skip]


def variant_inputs(wildcards):
    """The model file(s) a variant runs: source.json + weights (torch), the ONNX, or an IR of the same {h}x{w}."""
    base = f"{RESULTS}/{wildcards.model}/{wildcards.h}x{wildcards.w}"
    v = _variants.get(wildcards.variant)
    if v.runs == "weights":
        return {"source": source_json(wildcards), "weights": source_files(wildcards)["weights"]}
    if v.runs == "onnx":
        return {"onnx": f"{base}/model.onnx"}
    return {"xml": f"{base}/{v.ir}/model.xml", "bin": f"{base}/{v.ir}/model.bin"}


def baseline_outputs(wildcards):
    """Raw outputs of the baseline (true-f32 OpenVINO), which every other variant is compared with."""
    if wildcards.variant == _variants.BASELINE:
        return []
    return f"{RESULTS}/{wildcards.model}/{wildcards.h}x{wildcards.w}/{_variants.BASELINE}/outputs.npy"


def variant_files(wildcards):
    """Variant -> its model files, for every measured variant of the model at this {h}x{w}."""
    out = {}
    for v in variants_of(wildcards.model):
        wc = SimpleNamespace(model=wildcards.model, h=wildcards.h, w=wildcards.w, variant=v)
        out[v] = variant_inputs(wc)
    return out


def shape_model_files(wildcards):
    """Every file the shape's benchmark runs, each once."""
    return sorted({f for files in variant_files(wildcards).values() for f in files.values()})


PLOTS = ["latency_vs_map", "speedup", "rounds", "size", "map", "profile"]


def per_shape(name):
    """A file of every model x shape, e.g. its benchmark.json."""
    return [f"{RESULTS}/{model}/{h}x{w}/{name}" for model in config["models"] for h, w in shapes_of(model)]


def measured(name):
    """metrics.json / benchmark.json of every model x shape x variant."""
    return [
        f"{RESULTS}/{model}/{h}x{w}/{v}/{name}"
        for model in config["models"]
        for h, w in shapes_of(model)
        for v in variants_of(model)
    ]


def discoveries():
    """Every model's shape.json: listed plainly so that a dry run shows each model's discovery."""
    return [f"{RESULTS}/{model}/shape.json" for model in config["models"]]


def final_targets(wildcards):
    out = []
    for model in config["models"]:
        for h, w in shapes_of(model):
            out += [f"{RESULTS}/{model}/{h}x{w}/{ir}/model.xml" for ir in ("fp32", "fp16", "int8")]
            out.append(f"{RESULTS}/{model}/{h}x{w}/gallery.png")
            out += [f"{RESULTS}/{model}/{h}x{w}/bundles/{ir}" for ir in ("fp32", "fp16", "int8")]
    return out + [f"{RESULTS}/summary.csv"] + expand(f"{RESULTS}/plots/{{p}}.png", p=PLOTS)


def config_args():
    """The command-line config options of this run, for commands suggested to the user."""
    files = [str(f) for f in (workflow.overwrite_configfiles or [])]
    return "".join(f" --configfile {f}" for f in files)


def results_banner():
    lines = ["", "Results:"]
    for model in config["models"]:
        p = Path(RESULTS) / model / "shape.json"
        if p.exists():
            for s in json.loads(p.read_text())["shapes"]:
                lines.append(f"  {RESULTS}/{model}/{s['h']}x{s['w']}/  ({s['reason']})")
    verdict = Path(RESULTS) / "verdict.md"
    if verdict.exists():
        lines += ["", verdict.read_text().rstrip(), ""]
    lines += [f"  {RESULTS}/verdict.md, {RESULTS}/summary.csv, {RESULTS}/plots/*.png",
              f"  HTML report: snakemake --report report.html{config_args()}"]
    return "\n".join(lines)
