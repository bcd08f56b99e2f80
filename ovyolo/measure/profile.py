"""Where the time goes: OpenVINO's per-op performance counters of every OpenVINO variant of a model x shape.

Each variant's IR is compiled on CPU like its runner (:func:`ovyolo.measure.runtimes.openvino_config`: the variant's
``INFERENCE_PRECISION_HINT``, ``INFERENCE_NUM_THREADS``, ``PERFORMANCE_HINT=LATENCY``) plus ``PERF_COUNT: True``,
and run on real val images letterboxed to ``{h}x{w}``. After every inference ``request.profiling_info`` is read
(one entry per executed node of the *compiled* graph: ``node_name``, ``node_type``, ``exec_type``, ``real_time``,
``status``) and each node's ``real_time`` is added to one category (:data:`CATEGORIES`, :func:`categorize`).
Variants take turns in rounds (order reversed every other round), like :mod:`ovyolo.measure.interleave`, so that their
counters see the same machine state; absolute milliseconds on a shared VM are still noisy, the shares are not.

Categories, first match wins:

* ``conv_int8`` / ``conv_float``: Convolution, GroupConvolution, MatMul/FullyConnected, Deconvolution, by the
  kernel's ``exec_type`` (``I8``/``i8``/``u8`` in it = int8, else f32/bf16/f16).
* ``reorder``: Reorder (layout/precision conversions the plugin inserted).
* ``quant_convert``: FakeQuantize and Convert ops that did *not* fuse into a neighbour (fused ones are NOT_RUN, 0 ms).
* ``head_float``: the detect head's box-decoding ops, i.e. what :func:`ovyolo.build.quantize.head_ignored_names` keeps
  float (ops directly in the head module, its DFL, the output op), except its convolutions and reorders above.
* ``activations``: Swish, Sigmoid, SiLU, ... and fused element-wise ``Subgraph``/``Eltwise`` nodes, Multiply/Add.
* ``concat``, ``resize`` (Interpolate/Resize), ``pooling`` (MaxPool/AvgPool), ``other``.

``conv_layers`` lists every executed convolution with its kernel and mean ms, in execution order;
:func:`compare_layers` pairs two variants' lists (an INT8 IR against its FP32 source, or ours against
Ultralytics' INT8 of the same weights) convolution by convolution.

``categories[c]["ms"]`` is the mean per inference; the categories sum to ``total_ms`` (the sum of all counters).
On a loaded machine a few slow inferences inflate means: ``categories[c]["median_ms"]``, ``total_median_ms``
(median of the per-inference sums) and ``wall_ms`` (median wall-clock latency) are the robust figures; the shares
(of the means) are what to compare between variants.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from ovyolo import variants
from ovyolo.errors import WorkflowError

CATEGORIES = ("conv_int8", "conv_float", "head_float", "activations", "concat", "resize", "pooling", "reorder",
              "quant_convert", "other")
LABELS = {
    "conv_int8": "convolutions int8", "conv_float": "convolutions float", "head_float": "detect head, float ops",
    "activations": "activations / element-wise", "concat": "Concat", "resize": "Resize / Interpolate",
    "pooling": "pooling", "reorder": "Reorder", "quant_convert": "FakeQuantize / Convert (unfused)", "other": "other",
}
CONV_TYPES = {"Convolution", "GroupConvolution", "Deconvolution", "ConvolutionBackpropData", "MatMul",
              "FullyConnected", "BinaryConvolution"}
ACTIVATION_TYPES = {"Swish", "SwishCPU", "Sigmoid", "SiLU", "HSwish", "HSigmoid", "Mish", "Relu", "ReLU", "PRelu",
                    "Clamp", "Elu", "Gelu", "Tanh", "Exp", "Subgraph", "Eltwise", "Multiply", "Add", "Subtract",
                    "Divide", "Power", "SoftPlus", "LeakyRelu"}
RESIZE_TYPES = {"Interpolate", "Resize", "Upsample"}
POOL_TYPES = {"MaxPool", "AvgPool", "Pooling", "AdaptiveAvgPool", "AdaptiveMaxPool"}
QUANT_TYPES = {"FakeQuantize", "Convert"}
INT8_EXEC = re.compile(r"I8|i8|u8|U8")
TOP = 15


def is_int8_exec(exec_type: str) -> bool:
    return bool(INT8_EXEC.search(exec_type or ""))


def head_module(ov_model) -> str | None:
    """The detect head's module prefix (``/model.24``): the module owning the last Sigmoid, as in
    :func:`ovyolo.build.quantize.head_ignored_names`."""
    sigmoids = [op.get_friendly_name() for op in ov_model.get_ordered_ops() if op.get_type_name() == "Sigmoid"]
    if not sigmoids:
        return None
    m = re.match(r"^(.*?model[./]\d+)[./]", sigmoids[-1])
    return m.group(1) if m else None


def head_matcher(ov_model):
    """A predicate on compiled-graph node names: is this node one of the head's float (box decoding) ops?"""
    from ovyolo.build.quantize import head_ignored_names

    names = set(head_ignored_names(ov_model))
    head = head_module(ov_model)
    rx = re.compile(rf"^{re.escape(head)}/(dfl|[^/]+$)") if head else None
    return lambda name: name in names or bool(rx and rx.match(name))


def categorize(node_type: str, exec_type: str, node_name: str, in_head=lambda name: False) -> str:
    """The category of one profiling entry (first match wins, see the module docstring)."""
    if node_type in CONV_TYPES:
        return "conv_int8" if is_int8_exec(exec_type) else "conv_float"
    if node_type == "Reorder":
        return "reorder"
    if node_type in QUANT_TYPES:
        return "quant_convert"
    if in_head(node_name):
        return "head_float"
    if node_type in ACTIVATION_TYPES:
        return "activations"
    if node_type == "Concat":
        return "concat"
    if node_type in RESIZE_TYPES:
        return "resize"
    if node_type in POOL_TYPES:
        return "pooling"
    return "other"


def _ms(td) -> float:
    return td.total_seconds() * 1e3 if hasattr(td, "total_seconds") else float(td) / 1e3


class _Profiled:
    def __init__(self, name: str, xml: Path, threads: int, precision_hint: str, hw):
        import openvino as ov

        from ovyolo.ir import model_input_shape
        from ovyolo.measure.runtimes import DEVICE, _check_hw, openvino_config, openvino_properties

        core = ov.Core()
        model = core.read_model(str(xml))
        _check_hw(name, xml, model_input_shape(model, xml), hw)
        self.in_head = head_matcher(model)
        cfg = {**openvino_config(threads, precision_hint, "LATENCY"), "PERF_COUNT": True}
        self.compiled = core.compile_model(model, DEVICE, cfg)
        self.request = self.compiled.create_infer_request()
        self.properties = {"requested_precision_hint": precision_hint, **openvino_properties(self.compiled)}
        self.name, self.xml = name, xml
        self.nodes: dict[str, dict] = {}  # node name -> {type, exec_type, category, ms (sum)}
        self.iterations = 0
        self.wall_ms: list[float] = []
        self.per_inference: list[list[float]] = []  # one row per inference: ms per category (CATEGORIES order)

    def run(self, x: np.ndarray) -> None:
        t0 = time.perf_counter()
        self.request.infer({0: x}, share_inputs=True)
        self.wall_ms.append((time.perf_counter() - t0) * 1e3)
        self.iterations += 1
        row = dict.fromkeys(CATEGORIES, 0.0)
        for p in self.request.profiling_info:
            ms = _ms(p.real_time)
            node = self.nodes.get(p.node_name)
            if node is None:
                node = self.nodes[p.node_name] = {
                    "node_name": p.node_name, "node_type": p.node_type, "exec_type": p.exec_type,
                    "status": str(p.status).split(".")[-1],
                    "category": categorize(p.node_type, p.exec_type, p.node_name, self.in_head), "ms": 0.0}
            node["ms"] += ms
            row[node["category"]] += ms
        self.per_inference.append([row[c] for c in CATEGORIES])

    def result(self, top: int = TOP) -> dict:
        n = max(1, self.iterations)
        per_cat = {c: 0.0 for c in CATEGORIES}
        counts = {c: 0 for c in CATEGORIES}
        for node in self.nodes.values():
            per_cat[node["category"]] += node["ms"] / n
            if node["ms"] > 0:
                counts[node["category"]] += 1
        total = sum(per_cat.values())
        rows = np.asarray(self.per_inference, dtype=np.float64).reshape(-1, len(CATEGORIES))
        medians = np.median(rows, axis=0) if len(rows) else np.zeros(len(CATEGORIES))
        nodes = sorted(self.nodes.values(), key=lambda d: -d["ms"])
        exec_types: dict[str, float] = {}
        for node in nodes:
            if node["ms"] > 0:
                key = f"{node['node_type']}:{node['exec_type']}"
                exec_types[key] = exec_types.get(key, 0.0) + node["ms"] / n
        return {
            "xml": str(self.xml),
            "precision_hint": self.properties["requested_precision_hint"],
            "inference_precision": self.properties.get("inference_precision"),
            "properties": self.properties,
            "iterations": self.iterations,
            "total_ms": total,
            "total_median_ms": float(np.median(rows.sum(axis=1))) if len(rows) else 0.0,
            "wall_ms": float(np.median(self.wall_ms)) if self.wall_ms else None,
            "categories": {c: {"ms": per_cat[c], "share": per_cat[c] / total if total > 0 else 0.0,
                               "median_ms": float(medians[i]), "nodes": counts[c]} for i, c in enumerate(CATEGORIES)},
            "by_exec_type": [{"kernel": k, "ms": v, "share": v / total if total > 0 else 0.0}
                             for k, v in sorted(exec_types.items(), key=lambda kv: -kv[1])],
            "executed_nodes": sum(1 for d in self.nodes.values() if d["status"] == "EXECUTED"),
            "top_ops": [{**{k: d[k] for k in ("node_name", "node_type", "exec_type", "category")},
                         "ms": d["ms"] / n, "share": (d["ms"] / n) / total if total > 0 else 0.0}
                        for d in nodes[:top]],
            # every executed convolution in the compiled graph's execution order (the order of profiling_info),
            # so that two IRs of the same network can be compared layer by layer (compare_layers)
            "conv_layers": [{"node_name": d["node_name"], "exec_type": d["exec_type"], "ms": d["ms"] / n}
                            for d in self.nodes.values() if d["node_type"] in CONV_TYPES and d["status"] == "EXECUTED"],
        }


def profile(runs: dict, inputs: list[np.ndarray], hw: tuple[int, int], threads: int, *,
            iterations: int, rounds: int, warmup: int = 3, top: int = TOP) -> dict:
    """Per-op-category time of each OpenVINO variant. ``runs`` maps a variant name to ``{"xml": path,
    "precision_hint": hint}`` (hint default: the registry's). ``inputs`` are 1x3xHxW float32 letterboxed images.
    ``iterations`` inferences per variant in total, spread over ``rounds`` interleaved rounds."""
    if not runs:
        raise WorkflowError("profile needs at least one OpenVINO variant")
    if not inputs:
        raise WorkflowError("profile needs at least one input image")
    hw = (int(hw[0]), int(hw[1]))
    profs = {}
    for name, kw in runs.items():
        spec = variants.get(kw.get("variant", name))
        if not spec.is_openvino:
            raise WorkflowError(f"profile: variant '{name}' is not an OpenVINO variant")
        hint = kw.get("precision_hint") or spec.precision_hint or "f32"
        profs[name] = _Profiled(name, Path(kw["xml"]), threads, hint, hw)
    for p in profs.values():  # warm-up: first inferences allocate and tune; their counters are not kept
        for i in range(int(warmup)):
            p.request.infer({0: inputs[i % len(inputs)]}, share_inputs=True)
    rounds = max(1, int(rounds))
    per_round = max(1, -(-int(iterations) // rounds))
    order = list(profs)
    t0 = time.perf_counter()
    pos = 0
    for r in range(rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            for _ in range(per_round):
                profs[name].run(inputs[pos % len(inputs)])
                pos += 1
    return {
        "kind": "profile", "hw": list(hw), "threads": int(threads), "images": len(inputs),
        "iterations_per_variant": per_round * rounds, "rounds": rounds,
        "categories": list(CATEGORIES), "labels": LABELS,
        "definition": "mean per inference of OpenVINO's per-node real_time (PERF_COUNT), summed by category; "
                      "shares are of total_ms, the sum of all counters",
        "seconds": time.perf_counter() - t0,
        "variants": {name: p.result(top) for name, p in profs.items()},
    }


def profile_shape(model: str, hw: tuple[int, int], *, variant_files: dict, data_yaml, threads: int, out,
                  iterations: int, rounds: int, images: int, bf16_mode: str) -> dict:
    """The ``profile`` rule: every OpenVINO variant among ``variant_files`` (variant -> its files, as for the
    benchmark) profiled on the first ``images`` val images; writes ``out`` (profile.json)."""
    from ovyolo.atomic import write_json
    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.letterbox import load_inputs
    from ovyolo.measure.runtimes import not_measured_here
    from ovyolo.system import system_info

    not_measured = {name: why for name in variant_files if (why := not_measured_here(name, bf16_mode))}
    runs = {name: {"xml": files["xml"]} for name, files in variant_files.items()
            if variants.get(name).is_openvino and files.get("xml") and name not in not_measured}
    inputs = load_inputs(load_dataset(data_yaml).images("val"), hw, images)
    result = profile(runs, inputs, hw, threads, iterations=iterations, rounds=rounds)
    result.update({"model": model, "system": system_info(threads), "not_measured": not_measured})
    write_json(out, result)
    return result


def compare_layers(result: dict, a: str, b: str, *, top: int = 3) -> dict | None:
    """Variant ``a`` against ``b`` convolution by convolution (speed-up = b's ms / a's ms, so > 1 = ``a`` faster).

    The two compiled graphs are paired by position in execution order: IRs of one network from different
    frontends (ONNX vs PyTorch) name their nodes differently but run their convolutions in the same order. Returns
    None when either variant is missing or the two do not have the same number of convolutions (not the same
    network, or one fused differently). ``not_faster``: the layers that run a different kernel in ``a`` than in
    ``b`` and are not faster for it (for int8 against float: the layers that would be better kept float);
    ``least``/``most``: the ``top`` layers with the smallest and largest speed-up among those whose kernel differs
    (a layer float in both tells nothing about int8; all layers when none differs)."""
    va, vb = result["variants"].get(a), result["variants"].get(b)
    if not va or not vb or "conv_layers" not in va or "conv_layers" not in vb:
        return None
    la, lb = va["conv_layers"], vb["conv_layers"]
    if not la or len(la) != len(lb):
        return None
    rows = [{"layer": x["node_name"], "other_layer": y["node_name"], "kernel": x["exec_type"],
             "other_kernel": y["exec_type"], "ms": x["ms"], "other_ms": y["ms"],
             "speedup": y["ms"] / x["ms"] if x["ms"] > 0 else float("inf")} for x, y in zip(la, lb)]
    by_speedup = sorted(rows, key=lambda r: r["speedup"])
    changed = [r for r in by_speedup if r["kernel"] != r["other_kernel"]] or by_speedup
    ms_a, ms_b = sum(r["ms"] for r in rows), sum(r["other_ms"] for r in rows)
    return {
        "a": a, "b": b, "layers": len(rows), "ms": ms_a, "other_ms": ms_b,
        "speedup": ms_b / ms_a if ms_a > 0 else float("inf"),
        "same_kernels": sum(r["kernel"] == r["other_kernel"] for r in rows),
        "largest_difference_ms": max(abs(r["ms"] - r["other_ms"]) for r in rows),
        "not_faster": [r for r in by_speedup if r["speedup"] <= 1.0 and r["kernel"] != r["other_kernel"]],
        "least": changed[:top], "most": changed[::-1][:top], "rows": rows,
    }


def ordered(result: dict) -> list[str]:
    """The variant names of a profile in display (registry) order (JSON files store them sorted by name)."""
    return sorted(result["variants"], key=variants.rank)


def table(result: dict) -> str:
    """A Markdown table: one row per variant, ms (share) per category."""
    cats = [c for c in result["categories"] if any(v["categories"][c]["ms"] > 0 for v in result["variants"].values())]
    head = "| variant | precision | total ms | " + " | ".join(LABELS.get(c, c) for c in cats) + " |"
    lines = [head, "|" + "---|" * (3 + len(cats))]
    for name in ordered(result):
        v = result["variants"][name]
        cells = [f"{v['categories'][c]['ms']:.2f} ({100 * v['categories'][c]['share']:.0f}%)" for c in cats]
        lines.append(f"| {name} | {v['inference_precision']} | {v['total_ms']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
