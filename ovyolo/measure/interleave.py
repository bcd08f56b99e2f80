"""Interleaved timing: several variants measured in one process, round by round, so they share the noise.

On a small shared VM the same IR measured in two jobs minutes apart can differ by ~30%, which swamps the
differences being reported. Here every variant gets a turn of ``seconds_per_round`` in each round, the
order of the turns changes from round to round, and the comparison is made *per round*: the speed-up of a
variant over the baseline is the median over rounds of ``baseline_round_median / variant_round_median``,
with a distribution-free confidence interval for that median (:func:`median_ci`).

* :func:`interleaved_latency`: synchronous batch-1 latency of existing runners (all warmed up first).
* :func:`interleaved_throughput`: the same rounds for async throughput (OpenVINO: a separate THROUGHPUT
  compile of the same IR with an ``AsyncInferQueue``; torch/onnxruntime: a sequential loop).
* :func:`ratios`: per-round speed-ups over a baseline (and named pairs) with CIs.
* :func:`run_interleaved`: build the runners, load the images, run both, one JSON-ready dict.
* :func:`run_in_processes`: :func:`run_interleaved` with the rounds spread over several fresh processes (each
  compiles every IR anew), merged into one result (:func:`merge_processes`): what the workflow's jobs call.

Round order (``order="balanced"``, the default): even rounds take a fresh seeded permutation of the
variants, odd rounds play the previous round reversed, so every variant is as often early as late in a
round and the pairs of rounds are mirror images. ``"alternate"`` uses the given order and its reverse;
``"shuffle"`` draws a fresh permutation every round. The orders actually used are returned.

Duration: each of the latency and throughput parts takes about ``rounds * sum over variants of
max(seconds_per_round, min_iterations_per_round * latency)`` plus warm-up and the THROUGHPUT compiles, so 7
variants at the defaults need 2 x 70 s and more; a slow variant (torch at ~1 s per inference on a loaded
2-vCPU VM) stretches its turns to ``min_iterations_per_round`` inferences.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ovyolo import variants
from ovyolo.errors import WorkflowError
from ovyolo.measure.ci import median_ci

ORDERS = ("balanced", "alternate", "shuffle")
# Knobs of the interleaved timing that are not config keys; the rest comes from the config's ``benchmark`` section
INTERNAL_SETTINGS = {
    "round_warmup": 1,
    "order": "balanced",
    "throughput_rounds": None,  # None: same as rounds
    "throughput_seconds_per_round": None,  # None: same as seconds_per_round
    "baseline": variants.BASELINE,
    "pairs": [[variants.OURS_INT8, variants.INCUMBENT]],
    "level": 0.95,
    "raw_times": False,  # latency: keep every timed iteration (a process of run_in_processes hands them back)
}
FROM_CONFIG = {"rounds": "rounds", "seconds_per_round": "seconds_per_round",
               "min_iterations_per_round": "min_iterations_per_round", "warmup": "warmup", "seed": "seed",
               "throughput": "throughput", "max_images": "images", "processes": "processes"}  # setting -> benchmark.<key>


def default_settings() -> dict:
    """The settings :func:`run_interleaved` uses where none are given: the config schema's ``benchmark`` defaults
    and :data:`INTERNAL_SETTINGS`."""
    from ovyolo.config import default

    bench = default("benchmark")
    return {**{k: bench[v] for k, v in FROM_CONFIG.items()}, **INTERNAL_SETTINGS}


def settings_from_config(benchmark: dict, **extra) -> dict:
    """The config's ``benchmark`` section as :func:`run_interleaved` settings (``extra`` added as is)."""
    return {**{k: benchmark[v] for k, v in FROM_CONFIG.items() if v in benchmark}, **extra}


def _stats_ms(times_ns: list[int]) -> dict:
    ms = np.asarray(times_ns, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99), "mean_ms": float(ms.mean()),
            "min_ms": float(ms.min()), "max_ms": float(ms.max()), "iterations": int(ms.size)}


# --------------------------------------------------------------------------------------------------
# round plan


def round_orders(names: list[str], rounds: int, *, seed: int = 0, order: str = "balanced") -> list[list[str]]:
    """The order of the variants' turns in each round (see the module docstring)."""
    if order not in ORDERS:
        raise WorkflowError(f"unknown round order '{order}'; use one of {', '.join(ORDERS)}")
    rng = np.random.default_rng(seed)
    names = list(names)
    out: list[list[str]] = []
    for r in range(int(rounds)):
        if order == "shuffle":
            out.append([names[i] for i in rng.permutation(len(names))])
        elif order == "alternate":
            out.append(names if r % 2 == 0 else names[::-1])
        elif r % 2 == 0:
            out.append([names[i] for i in rng.permutation(len(names))])
        else:
            out.append(out[-1][::-1])
    return [list(o) for o in out]


def _check_plan(runners: dict, inputs, rounds, seconds_per_round, min_iterations_per_round) -> dict:
    if not runners:
        raise WorkflowError("interleaved timing needs at least one runner")
    if not inputs:
        raise WorkflowError("interleaved timing needs at least one input")
    if int(rounds) < 1 or int(min_iterations_per_round) < 1 or float(seconds_per_round) < 0:
        raise WorkflowError(
            f"interleaved timing needs rounds >= 1, min_iterations_per_round >= 1 and seconds_per_round >= 0, "
            f"got {rounds}, {min_iterations_per_round} and {seconds_per_round}"
        )
    # every runner checks every input (ShapeMismatchError naming both shapes) before anything runs; ``inputs`` is one
    # list for all runners or, for runners of different shapes, a list per runner (the same images letterboxed)
    per_runner = inputs if isinstance(inputs, dict) else dict.fromkeys(runners, inputs)
    return {name: [r.check_input(x) for x in per_runner[name]] for name, r in runners.items()}


# --------------------------------------------------------------------------------------------------
# latency


def interleaved_latency(runners: dict, inputs: list[np.ndarray], *, rounds: int, seconds_per_round: float,
                        min_iterations_per_round: int, warmup: int, seed: int,
                        order: str = "balanced", round_warmup: int = 1, raw_times: bool = False) -> dict:
    """Synchronous batch-1 latency of every runner, interleaved in ``rounds`` rounds.

    Every runner first gets ``warmup`` untimed inferences. In each round each runner, in that round's
    order, does ``round_warmup`` untimed inferences (its caches were just used by another model) and then
    timed ones until ``seconds_per_round`` passed and at least ``min_iterations_per_round`` were done,
    cycling through ``inputs`` (each runner keeps its own position, so all runners see the same sequence).

    Returns ``{"rounds", "orders", "settings", "wall_seconds", "variants": {name: {p50_ms, p90_ms, p99_ms,
    mean_ms, min_ms, max_ms, iterations, round_medians_ms, round_iterations, seconds}}}``; the statistics are
    over all timed iterations, ``round_medians_ms`` has one entry per round in round order; with ``raw_times``
    also ``round_times_ns`` (every timed iteration, per round: what :func:`merge_processes` pools).
    """
    checked = _check_plan(runners, inputs, rounds, seconds_per_round, min_iterations_per_round)
    orders = round_orders(list(runners), rounds, seed=seed, order=order)
    clock = time.perf_counter_ns
    budget = int(float(seconds_per_round) * 1e9)
    n_min = int(min_iterations_per_round)
    wall0 = clock()
    for name, runner in runners.items():  # untimed warm-up of every runner before the first round
        for i in range(int(warmup)):
            runner.infer(checked[name][i % len(checked[name])])
    pos = dict.fromkeys(runners, 0)
    round_times: dict[str, list[list[int]]] = {name: [] for name in runners}  # per runner, per round, ns
    seconds = dict.fromkeys(runners, 0.0)
    for plan in orders:
        for name in plan:
            runner, xs = runners[name], checked[name]
            n = len(xs)
            for _ in range(int(round_warmup)):
                runner.infer(xs[pos[name] % n])
                pos[name] += 1
            this: list[int] = []
            start = clock()
            deadline = start + budget
            while True:
                t0 = clock()
                runner.infer(xs[pos[name] % n])
                t1 = clock()
                pos[name] += 1
                this.append(t1 - t0)
                if len(this) >= n_min and t1 >= deadline:
                    break
            seconds[name] += (clock() - start) / 1e9
            round_times[name].append(this)
    variants = {}
    for name in runners:
        st = _stats_ms([t for r in round_times[name] for t in r])
        st["round_medians_ms"] = [float(np.median(np.asarray(t, np.float64) / 1e6)) for t in round_times[name]]
        st["round_iterations"] = [len(t) for t in round_times[name]]
        st["seconds"] = float(seconds[name])
        if raw_times:
            st["round_times_ns"] = [[int(t) for t in r] for r in round_times[name]]
        variants[name] = st
    return {
        "rounds": int(rounds),
        "orders": orders,
        "settings": {"rounds": int(rounds), "seconds_per_round": float(seconds_per_round),
                     "min_iterations_per_round": n_min, "warmup": int(warmup), "round_warmup": int(round_warmup),
                     "seed": int(seed), "order": order},
        "wall_seconds": (clock() - wall0) / 1e9,
        "variants": variants,
    }


# --------------------------------------------------------------------------------------------------
# throughput


class _AsyncDriver:
    """Keeps a THROUGHPUT-compiled copy of an OpenVINO runner's IR busy with an AsyncInferQueue."""

    def __init__(self, runner):
        import openvino as ov

        from ovyolo.measure.runtimes import compile_openvino

        self.compiled, self.props = compile_openvino(runner.source, runner.threads, runner.precision_hint, "THROUGHPUT")
        self.requests = max(1, int(self.props.get("optimal_requests") or 1))
        self.queue = ov.AsyncInferQueue(self.compiled, self.requests)
        self.streams = self.props.get("streams")
        self.hint = "THROUGHPUT"
        self.inference_precision = self.props.get("inference_precision")

    def warm(self, xs, pos: int) -> int:
        for _ in range(self.requests):  # one inference on every request: first runs allocate and tune
            self.queue.start_async({0: xs[pos % len(xs)]}, share_inputs=True)
            pos += 1
        self.queue.wait_all()
        return pos

    def run(self, xs, pos: int, budget_s: float, n_min: int) -> tuple[int, float, int]:
        n = len(xs)
        start = time.perf_counter()
        i = 0
        while True:  # start_async blocks until a request is free, so all of them stay busy
            self.queue.start_async({0: xs[(pos + i) % n]}, share_inputs=True)
            i += 1
            if i >= n_min and time.perf_counter() - start >= budget_s:
                break
        self.queue.wait_all()
        return i, time.perf_counter() - start, pos + i


class _SequentialDriver:
    def __init__(self, runner):
        self.runner = runner
        self.requests = 1
        self.streams = 1
        self.hint = "sequential"
        self.inference_precision = runner.properties.get("inference_precision", "f32")

    def warm(self, xs, pos: int) -> int:
        self.runner.infer(xs[pos % len(xs)])
        return pos + 1

    def run(self, xs, pos: int, budget_s: float, n_min: int) -> tuple[int, float, int]:
        n = len(xs)
        start = time.perf_counter()
        i = 0
        while True:
            self.runner.infer(xs[(pos + i) % n])
            i += 1
            if i >= n_min and time.perf_counter() - start >= budget_s:
                break
        return i, time.perf_counter() - start, pos + i


def interleaved_throughput(runners: dict, inputs: list[np.ndarray], *, rounds: int, seconds_per_round: float,
                           min_iterations_per_round: int, warmup: int, seed: int,
                           order: str = "balanced") -> dict:
    """Batch-1 throughput (FPS) of every runner, interleaved in rounds like :func:`interleaved_latency`.

    OpenVINO runners: the runner's IR is compiled once more with ``PERFORMANCE_HINT=THROUGHPUT`` (same
    precision hint and threads) and driven by an ``AsyncInferQueue`` of ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``
    requests; a turn submits until ``seconds_per_round`` passed and ``min_iterations_per_round`` were
    submitted, then waits for all (FPS = submitted / turn time). torch/onnxruntime: a sequential loop.
    Before round 1 every driver does ``warmup`` warm-up passes (each pass: one inference per request);
    each turn starts with one such pass, untimed.

    Returns ``{"rounds", "orders", "settings", "wall_seconds", "variants": {name: {fps (median over rounds),
    round_fps, round_iterations, iterations, seconds, streams, requests, hint, inference_precision}}}``.
    """
    checked = _check_plan(runners, inputs, rounds, seconds_per_round, min_iterations_per_round)
    orders = round_orders(list(runners), rounds, seed=seed, order=order)
    wall0 = time.perf_counter()
    drivers = {name: (_AsyncDriver(r) if r.is_openvino else _SequentialDriver(r)) for name, r in runners.items()}
    pos = {name: 0 for name in runners}
    for name, d in drivers.items():
        for _ in range(max(1, int(warmup))):
            pos[name] = d.warm(checked[name], pos[name])
    fps = {name: [] for name in runners}
    iters = {name: [] for name in runners}
    secs = {name: 0.0 for name in runners}
    for plan in orders:
        for name in plan:
            d, xs = drivers[name], checked[name]
            pos[name] = d.warm(xs, pos[name])
            i, s, pos[name] = d.run(xs, pos[name], float(seconds_per_round), int(min_iterations_per_round))
            fps[name].append(i / s)
            iters[name].append(i)
            secs[name] += s
    variants = {}
    for name, d in drivers.items():
        variants[name] = {
            "fps": float(np.median(fps[name])),
            "round_fps": [float(v) for v in fps[name]],
            "round_iterations": iters[name],
            "iterations": int(sum(iters[name])),
            "seconds": float(secs[name]),
            "streams": d.streams,
            "requests": d.requests,
            "hint": d.hint,
            "inference_precision": d.inference_precision,
        }
    drivers.clear()
    return {
        "rounds": int(rounds),
        "orders": orders,
        "settings": {"rounds": int(rounds), "seconds_per_round": float(seconds_per_round),
                     "min_iterations_per_round": int(min_iterations_per_round), "warmup": int(warmup),
                     "seed": int(seed), "order": order},
        "wall_seconds": time.perf_counter() - wall0,
        "variants": variants,
    }


# --------------------------------------------------------------------------------------------------
# ratios


def _speedup(per_round_ref, per_round_var, level: float, lower_is_faster: bool) -> dict:
    ref = np.asarray(per_round_ref, dtype=np.float64)
    var = np.asarray(per_round_var, dtype=np.float64)
    if ref.shape != var.shape:
        raise WorkflowError(f"per-round series differ in length ({ref.size} vs {var.size}); they must come from one run")
    per_round = ref / var if lower_is_faster else var / ref
    ci = median_ci(per_round, level)
    return {"median": ci["median"], "ci_low": ci["low"], "ci_high": ci["high"], "coverage": ci["coverage"],
            "meets_level": ci["meets_level"], "rank_low": ci["rank_low"], "rank_high": ci["rank_high"],
            "per_round": [float(v) for v in per_round]}


def ratios(result: dict, baseline: str = variants.BASELINE, pairs=((variants.OURS_INT8, variants.INCUMBENT),),
           *, level: float = 0.95) -> dict:
    """Per-round speed-ups from one interleaved run, each as a median with a :func:`median_ci` interval.

    ``result`` is what :func:`interleaved_latency` (per-round medians, lower is faster) or
    :func:`interleaved_throughput` (per-round FPS, higher is faster) returned. ``speedup_over_baseline[v]``
    is, round by round, ``baseline_round_median / v_round_median`` (latency) or ``v_fps / baseline_fps``
    (throughput): > 1 means ``v`` is faster. ``pairs`` entries ``(a, b)`` give the speed-up of ``a`` over
    ``b`` the same way (e.g. our INT8 over Ultralytics' INT8), reported only when both were measured; the
    baseline is skipped (``baseline_present=False``) if it was not.
    """
    variants = result["variants"]
    first = next(iter(variants.values()), {})
    if "round_medians_ms" in first:
        key, lower = "round_medians_ms", True
    elif "round_fps" in first:
        key, lower = "round_fps", False
    else:
        raise WorkflowError("ratios needs the result of interleaved_latency or interleaved_throughput")
    out = {"baseline": baseline, "baseline_present": baseline in variants, "level": float(level),
           "measure": "latency round medians" if lower else "throughput round FPS",
           "definition": ("baseline_round_median / variant_round_median" if lower else "variant_round_fps / baseline_round_fps")
           + " per round; median over rounds; > 1 = faster",
           "ci_method": "distribution-free CI for the median of the per-round ratios (binomial order statistics)",
           "speedup_over_baseline": {}, "pairs": {}}
    if baseline in variants:
        for name, v in variants.items():
            if name != baseline:
                out["speedup_over_baseline"][name] = _speedup(variants[baseline][key], v[key], level, lower)
    for a, b in pairs or ():
        if a in variants and b in variants:
            out["pairs"][f"{a} over {b}"] = {"faster": a, "reference": b,
                                             **_speedup(variants[b][key], variants[a][key], level, lower)}
    return out


# --------------------------------------------------------------------------------------------------
# whole run


def resolve_settings(settings: dict | None) -> dict:
    """``settings`` over :func:`default_settings`; unknown keys are an error (a typo would silently time the
    defaults)."""
    settings = dict(settings or {})
    base = default_settings()
    unknown = sorted(set(settings) - set(base))
    if unknown:
        raise WorkflowError(f"unknown interleaved benchmark setting(s) {', '.join(unknown)}; known: {', '.join(base)}")
    s = {**base, **settings}
    if s["throughput_rounds"] is None:
        s["throughput_rounds"] = s["rounds"]
    if s["throughput_seconds_per_round"] is None:
        s["throughput_seconds_per_round"] = s["seconds_per_round"]
    s["pairs"] = [list(p) for p in (s["pairs"] or [])]
    return s


def run_interleaved(variants: dict, images: list[Path], hw: tuple[int, int], threads: int, settings: dict | None = None) -> dict:
    """Build every variant's runner, letterbox the images to ``hw``, time them interleaved; one JSON-ready dict.

    ``variants`` maps a name to the keyword arguments of :func:`ovyolo.measure.runtimes.make_runner` (``xml=``,
    ``onnx=``, ``source=``, ``precision_hint=``); the name is the variant unless the
    arguments hold ``variant=`` (so one IR can be timed under two names), and the shape is ``hw`` unless they hold
    ``hw=`` (IRs of two shapes timed together, each fed the same images letterboxed to its own shape). ``threads``
    is the same for all. ``settings`` override :func:`default_settings`.

    Returns ``{"kind", "hw", "threads", "images", "system", "settings", "variants": {name: {variant, source,
    precision_hint, inference_precision, properties, latency, throughput}}, "latency_run": {orders,
    wall_seconds}, "throughput_run": {...} | None, "ratios": {"latency": ..., "throughput": ... | None},
    "wall_seconds"}``.
    """
    from ovyolo.data.letterbox import load_inputs
    from ovyolo.measure.runtimes import make_runner
    from ovyolo.system import system_info

    s = resolve_settings(settings)
    hw = (int(hw[0]), int(hw[1]))
    if not variants:
        raise WorkflowError("run_interleaved needs at least one variant")
    t0 = time.perf_counter()
    shape_of = {name: tuple(int(d) for d in kwargs.get("hw", hw)) for name, kwargs in variants.items()}
    by_shape = {shape: load_inputs(images, shape, s["max_images"]) for shape in dict.fromkeys(shape_of.values())}
    inputs = {name: by_shape[shape] for name, shape in shape_of.items()}
    runners = {}
    for name, kwargs in variants.items():
        kw = {k: v for k, v in kwargs.items() if k != "hw"}
        variant = kw.pop("variant", name)
        runners[name] = make_runner(variant, threads=threads, hw=shape_of[name], **kw)
    common = dict(seed=s["seed"], order=s["order"], min_iterations_per_round=s["min_iterations_per_round"],
                  warmup=s["warmup"])
    lat = interleaved_latency(runners, inputs, rounds=s["rounds"], seconds_per_round=s["seconds_per_round"],
                              round_warmup=s["round_warmup"], raw_times=s["raw_times"], **common)
    thr = None
    if s["throughput"]:
        thr = interleaved_throughput(runners, inputs, rounds=s["throughput_rounds"],
                                     seconds_per_round=s["throughput_seconds_per_round"], **common)
    pairs = [tuple(p) for p in s["pairs"]]
    per_variant = {}
    for name, r in runners.items():
        per_variant[name] = {
            "variant": r.variant,
            "source": str(r.source),
            "precision_hint": r.precision_hint,
            "hw": list(shape_of[name]),
            "inference_precision": r.properties.get("inference_precision", "f32"),
            "properties": r.properties,
            "latency": lat["variants"][name],
            "throughput": thr["variants"][name] if thr else None,
        }
    return {
        "kind": "interleaved",
        "hw": [hw[0], hw[1]],
        "threads": int(threads),
        "images": len(next(iter(by_shape.values()))),
        "system": system_info(threads),
        "settings": s,
        "variants": per_variant,
        "latency_run": {k: lat[k] for k in ("rounds", "orders", "settings", "wall_seconds")},
        "throughput_run": {k: thr[k] for k in ("rounds", "orders", "settings", "wall_seconds")} if thr else None,
        "ratios": {
            "latency": ratios(lat, s["baseline"], pairs, level=s["level"]),
            "throughput": ratios(thr, s["baseline"], pairs, level=s["level"]) if thr else None,
        },
        "wall_seconds": time.perf_counter() - t0,
        "pid": os.getpid(),
    }


# --------------------------------------------------------------------------------------------------
# rounds spread over fresh processes


def split_rounds(rounds: int, processes: int) -> list[int]:
    """``rounds`` spread over ``processes`` as evenly as possible (earlier processes take the remainder); a process
    gets at least one round, so there are never more processes than rounds."""
    rounds, processes = int(rounds), max(1, min(int(processes), int(rounds)))
    return [rounds // processes + (1 if i < rounds % processes else 0) for i in range(processes)]


def _merge_latency(parts: list[dict]) -> dict:
    pooled = [t for p in parts for r in p["round_times_ns"] for t in r]
    st = _stats_ms(pooled)
    st["round_medians_ms"] = [m for p in parts for m in p["round_medians_ms"]]
    st["round_iterations"] = [n for p in parts for n in p["round_iterations"]]
    st["seconds"] = float(sum(p["seconds"] for p in parts))
    return st


def _merge_throughput(parts: list[dict]) -> dict:
    round_fps = [f for p in parts for f in p["round_fps"]]
    first = parts[0]
    return {"fps": float(np.median(round_fps)), "round_fps": round_fps,
            "round_iterations": [n for p in parts for n in p["round_iterations"]],
            "iterations": int(sum(p["iterations"] for p in parts)), "seconds": float(sum(p["seconds"] for p in parts)),
            **{k: first[k] for k in ("streams", "requests", "hint", "inference_precision")}}


def _merged_run(parts: list[dict | None]) -> dict | None:
    if any(p is None for p in parts):
        return None
    return {"rounds": int(sum(p["rounds"] for p in parts)), "orders": [o for p in parts for o in p["orders"]],
            "settings": parts[0]["settings"], "wall_seconds": float(sum(p["wall_seconds"] for p in parts))}


def merge_processes(parts: list[dict], settings: dict) -> dict:
    """One :func:`run_interleaved` result from the results of several processes (each run with ``raw_times``): rounds
    concatenated in process order, latency statistics over every timed iteration of every process, and the
    speed-ups recomputed from all rounds (each round pairs the variants of one process, so the per-round ratios are
    still paired; their spread now includes the difference between processes and compiles)."""
    s = resolve_settings(settings)
    names = list(parts[0]["variants"])
    per_variant = {}
    for name in names:
        vs = [p["variants"][name] for p in parts]
        per_variant[name] = {**{k: v for k, v in vs[0].items() if k not in ("latency", "throughput")},
                             "latency": _merge_latency([v["latency"] for v in vs]),
                             "throughput": _merge_throughput([v["throughput"] for v in vs]) if vs[0]["throughput"]
                             else None}
    lat = {"variants": {n: v["latency"] for n, v in per_variant.items()}}
    thr = {"variants": {n: v["throughput"] for n, v in per_variant.items()}} if per_variant[names[0]]["throughput"] \
        else None
    pairs = [tuple(p) for p in s["pairs"]]
    first = parts[0]
    return {
        **{k: first[k] for k in ("kind", "hw", "threads", "images", "system")},
        "settings": s,
        "variants": per_variant,
        "latency_run": _merged_run([p["latency_run"] for p in parts]),
        "throughput_run": _merged_run([p["throughput_run"] for p in parts]),
        "processes": [{"rounds": p["latency_run"]["rounds"], "seed": p["settings"]["seed"], "pid": p.get("pid"),
                       "wall_seconds": p["wall_seconds"]} for p in parts],
        "ratios": {
            "latency": ratios(lat, s["baseline"], pairs, level=s["level"]),
            "throughput": ratios(thr, s["baseline"], pairs, level=s["level"]) if thr else None,
        },
        "wall_seconds": float(sum(p["wall_seconds"] for p in parts)),
    }


def run_in_processes(variants: dict, images: list[Path], hw: tuple[int, int], threads: int,
                     settings: dict | None = None) -> dict:
    """:func:`run_interleaved` with its rounds spread over ``settings["processes"]`` fresh Python processes, one after
    another (each loads and compiles every variant anew; process ``i`` seeds its round order with ``seed + i``), merged
    by :func:`merge_processes`. One process runs here, in this process, as :func:`run_interleaved` does.

    Why: rounds in one process share its compiles and memory layout, so a CI over them covers that process only (the
    same IRs re-timed in a new process moved 8% on a 2-vCPU VM, outside the first CI); rounds from several processes
    give an interval whose spread includes that difference."""
    import json
    import subprocess
    import sys
    import tempfile

    s = resolve_settings(settings)
    split = split_rounds(s["rounds"], s["processes"])
    if len(split) == 1:
        return run_interleaved(variants, images, hw, threads, settings)
    thr_split = split_rounds(s["throughput_rounds"], len(split))
    if len(thr_split) != len(split):
        raise WorkflowError(f"benchmark: {s['throughput_rounds']} throughput rounds cannot be spread over "
                            f"{len(split)} processes; use at least as many rounds as processes")
    parts = []
    with tempfile.TemporaryDirectory(prefix="ovyolo-rounds-") as tmp:
        for i, (rounds, thr_rounds) in enumerate(zip(split, thr_split)):
            mine = {**s, "rounds": rounds, "throughput_rounds": thr_rounds, "seed": int(s["seed"]) + i,
                    "raw_times": True, "processes": 1}
            spec, out = Path(tmp) / f"spec{i}.json", Path(tmp) / f"result{i}.json"
            spec.write_text(json.dumps({"variants": variants, "images": [str(p) for p in images],
                                        "hw": [int(hw[0]), int(hw[1])], "threads": int(threads), "settings": mine},
                                       default=str))  # model paths
            proc = subprocess.run([sys.executable, "-m", "ovyolo.measure.interleave", str(spec), str(out)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                raise WorkflowError(f"benchmark process {i + 1} of {len(split)} failed: {tail[0]}")
            parts.append(json.loads(out.read_text()))
    return merge_processes(parts, {k: v for k, v in s.items() if k != "raw_times"})


def _main(argv: list[str]) -> int:
    """``python -m ovyolo.measure.interleave SPEC OUT``: one process of :func:`run_in_processes`."""
    import json

    from ovyolo import offline
    from ovyolo.atomic import write_json

    offline.prepare()
    spec = json.loads(Path(argv[0]).read_text())
    res = run_interleaved(spec["variants"], [Path(p) for p in spec["images"]], tuple(spec["hw"]), spec["threads"],
                          spec["settings"])
    write_json(argv[1], res)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
