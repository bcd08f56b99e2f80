"""The benchmark stage of one ``{model}/{h}x{w}``: every variant timed together, interleaved in rounds, the rounds
spread over ``benchmark.processes`` fresh processes (:func:`ovyolo.measure.interleave.run_in_processes`);
benchmark.json."""
from __future__ import annotations

import time
from pathlib import Path

from ovyolo import variants
from ovyolo.atomic import write_json
from ovyolo.errors import WorkflowError
from ovyolo.measure.runtimes import runner_args

FILE_KEYS = ("weights", "onnx", "xml", "bin")  # the model's files on disk, summed for its size


def _files_on_disk(model_files: dict) -> list[Path]:
    return [Path(model_files[k]) for k in FILE_KEYS if model_files.get(k)]


def benchmark_shape(model: str, hw: tuple[int, int], *, variant_files: dict, data_yaml, threads: int, settings: dict,
                    bf16_mode: str, out) -> dict:
    """All variants of one ``{model}/{h}x{w}`` timed together, interleaved in rounds spread over fresh processes
    (:func:`ovyolo.measure.interleave.run_in_processes`): latency, throughput and speed-ups with CIs over all rounds;
    write benchmark.json.

    ``variant_files`` maps each variant to its model files (``source``/``weights``, ``onnx`` or ``xml``/``bin``).
    ``settings`` is the config's ``benchmark`` section."""
    from ovyolo.data.dataset import load_dataset
    from ovyolo.measure.interleave import run_in_processes, settings_from_config
    from ovyolo.measure.runtimes import node_name, not_measured_here

    images = load_dataset(data_yaml).images("val")
    runs, not_measured = {}, {}
    for name, files in variant_files.items():
        why = not_measured_here(name, bf16_mode)
        if why:
            not_measured[name] = why
            continue
        spec = variants.get(name)
        runs[name] = {**runner_args(files), "precision_hint": spec.precision_hint if spec.is_openvino else None}
    started = time.time()
    result = run_in_processes(runs, images, hw, threads, settings_from_config(settings))
    for name, files in variant_files.items():
        if name in not_measured:
            continue
        paths = _files_on_disk(files)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise WorkflowError(f"benchmark of {name}: model file(s) {', '.join(missing)} do not exist")
        result["variants"][name]["file_size_bytes"] = int(sum(p.stat().st_size for p in paths))
    result.update({"model": model, "started_at": started, "finished_at": time.time(), "node": node_name(),
                   "not_measured": not_measured})
    write_json(out, result)
    return result
