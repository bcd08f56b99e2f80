import copy
import json
import sys
import os
import shlex
import time
from pathlib import Path
from types import SimpleNamespace

from ovyolo import notes as _notes
from ovyolo import offline as _offline
from ovyolo import variants as _variants
from ovyolo.measure import square as _square
from ovyolo.config import validate as _validate_config
from ovyolo.errors import WorkflowError as _OvyoloError

RUN_START = time.time()
RAW_CONFIG = copy.deepcopy(
    config
)  # as written: a setting the user made, not a default the schema filled in
_offline.prepare()  # telemetry opt-outs etc. for Snakemake's process and every job it starts

try:
    _validate_config(config)
except _OvyoloError as _exc:
    sys.exit(f"ERROR: {_exc}")

_NOTED = set()


def note(line):
    """A valid setting that cannot take effect here: one line saying why, once per run (not per DAG evaluation, and
    not again in a cluster job that re-reads this file)."""
    if line not in _NOTED:
        _NOTED.add(line)
        if workflow.is_main_process:
            print(f"NOTE: {line}", file=sys.stderr)


for _line in _notes.config_notes(RAW_CONFIG, config):
    note(_line)

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
    set-threads (profiles/default, profiles/slurm) overrides it per rule; every benchmark records what it used.
    """
    try:
        cores = workflow.cores
    except (
        WorkflowError
    ):  # no --cores (e.g. --report, --lint): only the machine's count matters then
        cores = None
    cores = cores if isinstance(cores, int) and cores > 0 else None
    return max(1, min(cores or os.cpu_count() or 1, os.cpu_count() or 1))


THREADS = machine_threads()
# A validation job runs one-thread inference (with its reading thread beside it) and several run side by side:
# at the demo shape a one-thread OpenVINO request costs 17 core-ms where two threads cost 21 (AMD VM, docs/accuracy.md)
VALIDATE_THREADS = 1

# Local runs: a validation job holds as many "cpu" units as its threads and the machine's cores bound their sum,
# whatever --cores says: `--cores 8` on a 2-core VM ran four 2-thread validations at once, a third of the CPU time
# in the kernel. Other jobs hold none (export, quantize, gallery keep less than their threads busy: bounding them
# too made the default run wait on them one at a time). `--resources cpu=N` sets another bound; cluster jobs are
# not bound.
if workflow.local_exec and "cpu" not in workflow.global_resources:
    workflow.global_resources["cpu"] = os.cpu_count() or 1


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
        return {
            "weights": f"{DEMO}/run/weights/best.pt",
            "args": f"{DEMO}/run/args.yaml",
        }
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
    return {
        k: cfg.get(k)
        for k in ("family", "trust_checkpoint", "stride", "yolov5_repo", "head")
    }


def source_json(wildcards):
    return f"{RESULTS}/{wildcards.model}/source.json"


def _shape_record(model):
    with checkpoints.discover_shape.get(model=model).output[0].open() as f:
        return json.load(f)


def shapes_of(model):
    """Deploy shapes (h, w) decided by the discover_shape checkpoint."""
    return [(s["h"], s["w"]) for s in _shape_record(model)["shapes"]]


# Every requested variant is planned. Whether a node can measure an @bf16 variant (evaluation.bf16: auto) is
# decided by the job on that node (ovyolo.measure.runtimes.not_measured_here), never here: under a cluster profile
# this process runs on the submit host, and it imports no OpenVINO to parse the workflow.
MEASURED_VARIANTS = config["evaluation"]["variants"]


def bf16_setting(names):
    """evaluation.bf16 for jobs that measure an @bf16 variant among ``names`` (None otherwise, so that the setting
    reruns only those)."""
    return (
        config["evaluation"]["bf16"]
        if any(_variants.get(n).precision_hint == "bf16" for n in names)
        else None
    )


def variants_of(model):
    """The measured variants that apply to the model's family (from the registry); int8-ac only with max_drop set."""
    skip = (
        []
        if config["quantization"].get("max_drop") is not None
        else [_variants.OURS_INT8_AC]
    )
    rec = _shape_record(model)
    for line in _notes.family_notes(
        model,
        rec["family"],
        MEASURED_VARIANTS,
        RAW_CONFIG["models"][model],
        rec.get("stride"),
    ):
        note(line)
    return [
        v
        for v in _variants.for_family(rec["family"], MEASURED_VARIANTS)
        if v not in skip
    ]


def variant_inputs(wildcards):
    """The model file(s) a variant runs: source.json + weights (torch), the ONNX, or an IR of the same {h}x{w}."""
    base = f"{RESULTS}/{wildcards.model}/{wildcards.h}x{wildcards.w}"
    v = _variants.get(wildcards.variant)
    if v.runs == "weights":
        return {
            "source": source_json(wildcards),
            "weights": source_files(wildcards)["weights"],
        }
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
        wc = SimpleNamespace(
            model=wildcards.model, h=wildcards.h, w=wildcards.w, variant=v
        )
        out[v] = variant_inputs(wc)
    return out


def shape_model_files(wildcards):
    """Every file the shape's benchmark runs, each once."""
    return sorted(
        {f for files in variant_files(wildcards).values() for f in files.values()}
    )


PLOTS = [
    "latency_vs_map",
    "drop",
    "speedup",
    "rounds",
    "size",
    "map",
    "pipeline",
    "profile",
    "square",
]


def per_shape(name):
    """A file of every model x shape, e.g. its benchmark.json."""
    return [
        f"{RESULTS}/{model}/{h}x{w}/{name}"
        for model in config["models"]
        for h, w in shapes_of(model)
    ]


def measured(name):
    """metrics.json / benchmark.json of every model x shape x variant."""
    return [
        f"{RESULTS}/{model}/{h}x{w}/{v}/{name}"
        for model in config["models"]
        for h, w in shapes_of(model)
        for v in variants_of(model)
    ]


def pipeline_files():
    """pipeline.json of every model x shape whose variants ship both an INT8 and an FP32 bundle (config `pipeline`)."""
    if not config["pipeline"]["enabled"]:
        return []
    return [
        f"{RESULTS}/{model}/{h}x{w}/pipeline.json"
        for model in config["models"]
        for h, w in shapes_of(model)
        if {"int8", "fp32"} <= {_variants.bundle_of(v) for v in variants_of(model)}
    ]


def square_files():
    """square.json of every model x shape that is not square, when the model can be exported at the square (config
    `square`; a static ONNX cannot)."""
    if not config["square"]["enabled"]:
        return []
    return [
        f"{RESULTS}/{model}/{h}x{w}/square.json"
        for model in config["models"]
        if not _shape_record(model).get("static_onnx_hw")
        for h, w in shapes_of(model)
        if _square.square_of((h, w))
    ]


def square_inputs(wildcards):
    """The rectangular and the square IR of true f32 and our INT8, with their validations' matches."""
    h, w = int(wildcards.h), int(wildcards.w)
    s, _ = _square.square_of((h, w))
    out = {}
    for kind, (hh, ww) in (("rect", (h, w)), ("square", (s, s))):
        base = f"{RESULTS}/{wildcards.model}/{hh}x{ww}"
        for precision, variant in _square.PRECISIONS.items():
            ir = _variants.get(variant).ir
            out[f"{kind}_{precision}_xml"] = f"{base}/{ir}/model.xml"
            out[f"{kind}_{precision}_bin"] = f"{base}/{ir}/model.bin"
            out[f"{kind}_{precision}_matches"] = f"{base}/{variant}/matches.npz"
    return out


def discoveries():
    """Every model's shape.json: listed plainly so that a dry run shows each model's discovery."""
    return [f"{RESULTS}/{model}/shape.json" for model in config["models"]]


def bundles_of(model):
    """The bundles of a model at each shape: fp32, fp16 and int8 always, and that of every other shipped variant it
    measures (int8-ac with quantization.max_drop)."""
    shipped = [b for b in (_variants.bundle_of(v) for v in variants_of(model)) if b]
    return list(dict.fromkeys(["fp32", "fp16", "int8"] + shipped))


def shipped_bundles():
    """The bundle of every measured variant the verdict can recommend, per model x shape (it names the winner's)."""
    return [
        f"{RESULTS}/{model}/{h}x{w}/bundles/{b}"
        for model in config["models"]
        for h, w in shapes_of(model)
        for b in dict.fromkeys(_variants.bundle_of(v) for v in variants_of(model))
        if b
    ]


def final_targets(wildcards):
    out = []
    for model in config["models"]:
        for h, w in shapes_of(model):
            out += [
                f"{RESULTS}/{model}/{h}x{w}/{ir}/model.xml"
                for ir in ("fp32", "fp16", "int8")
            ]
            out.append(f"{RESULTS}/{model}/{h}x{w}/gallery.png")
            out += [f"{RESULTS}/{model}/{h}x{w}/bundles/{b}" for b in bundles_of(model)]
    return (
        out + [f"{RESULTS}/summary.csv"] + expand(f"{RESULTS}/plots/{{p}}.png", p=PLOTS)
    )


def command(*args):
    """A snakemake command line that works as typed where this run was started: this run's Snakefile and working
    directory when they were given (then absolute: the starting folder is not known), its --configfile(s).
    """
    parts = ["snakemake", *args]
    snakefile = Path(workflow.main_snakefile).resolve()
    if snakefile != (Path.cwd() / "Snakefile").resolve():
        parts += ["--snakefile", str(snakefile)]
    if workflow.overwrite_workdir is not None:
        parts += ["--directory", str(Path.cwd())]
    files = [Path(f) for f in (workflow.overwrite_configfiles or [])]
    if files:
        here = workflow.overwrite_workdir is None
        parts += ["--configfile"] + [
            (
                os.path.relpath(f, Path.cwd())
                if here and f.is_relative_to(Path.cwd())
                else str(f)
            )
            for f in files
        ]
    return shlex.join(parts)


def report_files():
    """What `snakemake --report` collects (it refuses to run while one is missing): summarize's outputs and each
    shape's gallery and profile plots."""
    out = [f"{RESULTS}/{f}" for f in ("summary.csv", "verdict.md")] + [
        f"{RESULTS}/plots/{p}.png" for p in PLOTS
    ]
    for model in config["models"]:
        p = Path(RESULTS) / model / "shape.json"
        shapes = json.loads(p.read_text())["shapes"] if p.exists() else []
        out += [
            f"{RESULTS}/{model}/{s['h']}x{s['w']}/{f}"
            for s in shapes
            for f in ("gallery.png", "profile.png")
        ]
        if not p.exists():
            out.append(str(p))
    return out


def results_banner():
    """The end of a run: what exists now (nothing is named that does not), and commands that work as typed."""
    lines = ["", "Results:"]
    for model in config["models"]:
        p = Path(RESULTS) / model / "shape.json"
        if not p.exists():
            continue
        for s in json.loads(p.read_text())["shapes"]:
            d = Path(RESULTS) / model / f"{s['h']}x{s['w']}"
            where = (
                f"{d}/"
                if d.is_dir()
                else f"{model} at {s['h']}x{s['w']} (nothing built there yet)"
            )
            lines.append(f"  {where}  ({s['reason']})")
    verdict, verdict_json = Path(RESULTS) / "verdict.md", Path(RESULTS) / "verdict.json"
    fresh = verdict.exists() and verdict.stat().st_mtime >= RUN_START
    if fresh:
        lines += ["", verdict.read_text().rstrip(), ""]
    made = [
        f
        for f in (f"{RESULTS}/verdict.md", f"{RESULTS}/summary.csv")
        if Path(f).exists()
    ]
    plots = sorted(Path(RESULTS, "plots").glob("*.png"))
    made += [f"{RESULTS}/plots/*.png"] if plots else []
    if made:
        lines.append(
            "  "
            + ", ".join(made)
            + ("" if fresh else " (from an earlier run: this run did not update them)")
        )
    if fresh and verdict_json.exists():
        # the verdict's paths are relative to the working directory; say where that is if it was not the start's
        cd = (
            f"cd {shlex.quote(str(Path.cwd()))} && "
            if workflow.overwrite_workdir is not None
            else ""
        )
        for v in json.loads(verdict_json.read_text())["verdicts"]:
            if v.get("ship"):
                lines.append(
                    f"  Ship {v['model']} @ {v['shape']}: {v['ship']['bundle']}; run it: {cd}{v['ship']['command']}"
                )
    if all(Path(f).exists() for f in report_files()):
        lines.append(f"  HTML report: {command('--report', 'report.html')}")
    else:
        lines.append(
            f"  The verdict, summary, plots and HTML report come with the whole run: {command('--cores', str(THREADS))}"
        )
    return "\n".join(lines)
