import json
import sys
from pathlib import Path

# The package with the logic lives beside this workflow (jobs find it through scripts/_repo.py).
REPO = Path(workflow.basedir).resolve()
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import ovyolo  # noqa: E402  (sets the offline environment for this process and its jobs)
from ovyolo.config import validate as _validate_config  # noqa: E402
from ovyolo.errors import WorkflowError as _OvyoloError  # noqa: E402

try:
    _validate_config(config)
except _OvyoloError as _exc:
    sys.exit(f"ERROR: {_exc}")

RESULTS = "results"
DEMO = f"{RESULTS}/_demo"
LOGS = f"{RESULTS}/logs"
VARIANTS_IR = ["fp32", "fp16", "int8"]


wildcard_constraints:
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    h=r"\d+",
    w=r"\d+",
    precision=r"fp32|fp16",
    variant=r"torch|onnxruntime|openvino-fp32|openvino-fp32@bf16|openvino-fp16|openvino-int8|ultralytics-int8",


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


def source_inputs(wildcards):
    """The files that define a model: its weights and, beside them, args.yaml / opt.yaml."""
    src = model_cfg(wildcards.model)["source"]
    if src == "demo":
        return {"weights": f"{DEMO}/run/weights/best.pt", "args": f"{DEMO}/run/args.yaml"}
    from ovyolo.model import weights_path
    from ovyolo.shapes import train_args_file

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


def model_source(model):
    src = model_cfg(model)["source"]
    return f"{DEMO}/run" if src == "demo" else src


def shapes_of(model):
    """Deploy shapes (h, w) decided by the discover_shape checkpoint."""
    with checkpoints.discover_shape.get(model=model).output[0].open() as f:
        return [(s["h"], s["w"]) for s in json.load(f)["shapes"]]


def family_of(model):
    with checkpoints.discover_shape.get(model=model).output[0].open() as f:
        return json.load(f)["family"]


def variants_of(model):
    """The measured variants of a model: ultralytics-int8 only where Ultralytics can export the weights, torch
    only where there are weights (not for an ONNX source)."""
    family = family_of(model)
    skip = {"ultralytics-int8"} if family != "ultralytics" else set()
    if family == "onnx":
        skip.add("torch")
    return [v for v in config["evaluation"]["variants"] if v not in skip]


def variant_inputs(wildcards):
    """The model file(s) a variant runs: weights, ONNX or IR of the same {h}x{w}."""
    base = f"{RESULTS}/{wildcards.model}/{wildcards.h}x{wildcards.w}"
    v = wildcards.variant
    if v == "torch":
        return {"weights": source_inputs(wildcards)["weights"]}
    if v == "onnxruntime":
        return {"onnx": f"{base}/model.onnx"}
    ir = {"openvino-fp32": "fp32", "openvino-fp32@bf16": "fp32", "openvino-fp16": "fp16",
          "openvino-int8": "int8", "ultralytics-int8": "ultralytics-int8"}[v]
    return {"xml": f"{base}/{ir}/model.xml", "bin": f"{base}/{ir}/model.bin"}


def reference_outputs(wildcards):
    """Raw outputs of true-f32 OpenVINO, which every other variant is compared with."""
    if wildcards.variant == "openvino-fp32":
        return []
    return f"{RESULTS}/{wildcards.model}/{wildcards.h}x{wildcards.w}/openvino-fp32/outputs.npy"


PLOTS = ["latency_vs_map", "speedup", "size", "map"]


def measured(name):
    """metrics.json / benchmark.json of every model x shape x variant."""
    return [
        f"{RESULTS}/{model}/{h}x{w}/{v}/{name}"
        for model in config["models"]
        for h, w in shapes_of(model)
        for v in variants_of(model)
    ]


def final_targets(wildcards):
    out = []
    for model in config["models"]:
        for h, w in shapes_of(model):
            out += expand(f"{RESULTS}/{model}/{h}x{w}/{{v}}/model.xml", v=VARIANTS_IR)
    return out + [f"{RESULTS}/summary.csv"] + expand(f"{RESULTS}/plots/{{p}}.png", p=PLOTS)


def results_banner():
    lines = ["", "Results:"]
    for model in config["models"]:
        p = Path(RESULTS) / model / "shape.json"
        if p.exists():
            for s in json.loads(p.read_text())["shapes"]:
                lines.append(f"  {RESULTS}/{model}/{s['h']}x{s['w']}/  ({s['reason']})")
    lines += [f"  {RESULTS}/summary.csv, {RESULTS}/plots/*.png",
              "  HTML report: snakemake --report report.html"]
    return "\n".join(lines)
