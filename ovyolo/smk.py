"""Glue for the thin Snakemake scripts: logging to the rule's log, thread limits, one-line errors."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from ovyolo.errors import WorkflowError


def set_threads(n: int) -> int:
    """Tell torch, OpenMP/MKL and OpenVINO (via ``OVYOLO_THREADS``) to use ``n`` threads."""
    n = max(1, int(n))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OVYOLO_THREADS"):
        os.environ[var] = str(n)
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(n)
    return n


# Rules whose outputs share a folder with another rule's: their provenance file is named after the rule.
SHARED_FOLDER_RULES = {"identify_source", "discover_shape", "export_onnx", "benchmark", "profile", "gallery", "summarize"}


def provenance_path(snakemake) -> Path | None:
    """Where a job's provenance goes: ``provenance.json`` in the folder of its outputs (IR, calibration set, variant
    metrics, bundle, ...), or ``provenance-{rule}.json`` where several rules write into one folder."""
    outputs = [Path(o) for o in snakemake.output]
    if not outputs:
        return None
    first = outputs[0]
    folder = first if first.is_dir() else first.parent
    rule = getattr(snakemake, "rule", "") or ""
    return folder / (f"provenance-{rule}.json" if rule in SHARED_FOLDER_RULES else "provenance.json")


def write_job_provenance(snakemake) -> Path | None:
    """provenance.json of a finished job: sha256 of its inputs, its params, wildcards, threads, versions, CPU, the
    workflow's git commit and the time (:mod:`ovyolo.provenance`)."""
    from ovyolo.provenance import write_provenance

    path = provenance_path(snakemake)
    if path is None:
        return None
    params = {k: v for k, v in snakemake.params.items()}
    extra = {"rule": getattr(snakemake, "rule", None), "wildcards": dict(snakemake.wildcards.items()),
             "threads": snakemake.threads, "outputs": [str(o) for o in snakemake.output]}
    workflow_dir = Path(__file__).resolve().parent.parent
    return write_provenance(path.parent, inputs=[str(i) for i in snakemake.input], params=params, extra=extra,
                            workflow_dir=workflow_dir, filename=path.name)


def hw_of(wildcards) -> tuple[int, int]:
    return int(wildcards["h"]), int(wildcards["w"])


def run(snakemake, main) -> None:
    """Run ``main(snakemake)`` with its output logged to the rule's log file.

    A :class:`WorkflowError` prints one line ``ERROR: ...`` to the terminal (and the log) and exits 1;
    any other exception puts its traceback in the log and one line on the terminal.
    """
    log_path = Path(snakemake.log[0]) if snakemake.log else None
    real_stderr = sys.stderr
    stream = open(log_path, "w") if log_path else None  # noqa: SIM115
    if stream:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout = sys.stderr = stream
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=stream or sys.stderr, force=True)
    set_threads(snakemake.threads)
    code = 0
    log = logging.getLogger("ovyolo.job")
    log.info("job start %.3f threads %s", time.time(), snakemake.threads)
    try:
        main(snakemake)
        write_job_provenance(snakemake)
        log.info("job end %.3f", time.time())
    except WorkflowError as exc:
        logging.getLogger("ovyolo").error("%s", exc)
        print(f"ERROR: {exc}", file=real_stderr)
        code = 1
    except Exception as exc:  # noqa: BLE001 - the log gets the whole story, the terminal one line
        traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"ERROR: {type(exc).__name__}: {first[:300]} (full traceback in {log_path})", file=real_stderr)
        code = 1
    finally:
        if stream:
            sys.stdout.flush()
            sys.stdout, sys.stderr = sys.__stdout__, real_stderr
            stream.close()
    if code:
        sys.exit(code)
