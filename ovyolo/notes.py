"""Settings that cannot take effect: one line each, saying why and what to do, instead of silently doing nothing.

The workflow (workflow/rules/common.smk) prints each line once per run, prefixed ``NOTE:``: the lines decidable from
the config right after validation (:func:`config_notes`), and the ones that need a model's family once the model is
identified (:func:`family_notes`). Bad values are errors (:mod:`ovyolo.config`); these are valid settings that have
no effect in this configuration.
"""
from __future__ import annotations

from ovyolo import variants
from ovyolo.shapes import AUTO, parse_imgsz


def config_notes(raw: dict, cfg: dict) -> list[str]:
    """Notes from the config alone. ``raw``: the config as written (before the schema's defaults were filled in),
    so that a default (e.g. the full variant list) is never reported as the user's request; ``cfg``: validated."""
    notes = []
    quant, requested = cfg["quantization"], cfg["evaluation"]["variants"]
    raw_quant = raw.get("quantization") or {}
    listed = "variants" in (raw.get("evaluation") or {})
    ac = variants.OURS_INT8_AC
    if quant.get("max_drop") is not None and ac not in requested:
        notes.append(f"quantization.max_drop is set but evaluation.variants does not list {ac}: int8-ac/ is not "
                     f"built; add {ac} to evaluation.variants (or remove the list: every variant is measured)")
    if quant.get("max_drop") is None:
        if listed and ac in requested:
            notes.append(f"evaluation.variants lists {ac} but quantization.max_drop is not set: int8-ac/ is not "
                         "built; set quantization.max_drop (e.g. 0.01) to build and measure it")
        ac_keys = sorted(k for k in raw_quant if k.startswith("ac_"))
        if ac_keys:
            notes.append(f"quantization.{', quantization.'.join(ac_keys)} take effect only with quantization.max_drop, "
                         "which is not set; set it to build int8-ac/")
    for name, m in cfg["models"].items():
        if (raw["models"].get(name) or {}).get("square") and AUTO not in parse_imgsz(m.get("imgsz")):
            notes.append(f"models.{name}.square applies to imgsz auto only; imgsz {m['imgsz']} is used as given")
    uses_demo = any("demo" in (m["source"], m["data"]) for m in cfg["models"].values())
    if "demo" in raw and not uses_demo:
        notes.append("demo: no model has source: demo or data: demo, so the demo settings are not used")
    return notes


def family_notes(model: str, family: str, requested: list[str], settings: dict, stride: int | None = None) -> list[str]:
    """Notes that need the model's family and stride (from identification, shape.json): requested variants that do
    not apply to it, and per-model settings that only apply to other families or were overridden by the model.
    ``settings``: the model's settings as written (before defaults), so that only what the user set is reported."""
    notes = []
    skipped = [v for v in requested if family not in variants.get(v).families]
    if skipped:
        why = "; ".join(f"{v} applies to {'/'.join(variants.get(v).families)} models only" for v in skipped)
        notes.append(f"models.{model}: {', '.join(skipped)} not measured for this {family} model ({why})")
    if family != "yolov5" and settings.get("yolov5_repo"):
        notes.append(f"models.{model}.yolov5_repo is used only for original YOLOv5 checkpoints; this is a {family} "
                     "model, so it is not used")
    wanted = settings.get("stride")
    if family != "onnx" and wanted is not None:
        notes.append(f"models.{model}.stride applies to ONNX sources without metadata only; this {family} "
                     "checkpoint's own stride is used")
    elif family == "onnx" and None not in (wanted, stride) and wanted != stride:
        notes.append(f"models.{model}.stride {wanted} is not used: the ONNX's metadata gives stride {stride}")
    return notes
