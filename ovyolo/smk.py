"""The rule runner: every rule's script calls :func:`run`, which makes the job offline-safe, logs to the rule's log,
sets the thread limits, runs the stage named after the rule (:mod:`ovyolo.stages`), writes the job's provenance and
turns errors into one line."""
from __future__ import annotations

import logging
import os
import resource
import sys
import time
import traceback
from pathlib import Path

from ovyolo.errors import WorkflowError


def set_threads(n: int) -> int:
    """Tell torch, OpenMP/MKL and OpenVINO (via ``OVYOLO_THREADS``) to use ``n`` threads.

    torch is not imported here (3.5-4.5 s on these VMs, in every job that never uses it): a torch imported later
    takes ``OMP_NUM_THREADS`` as its thread count; one already imported is set now."""
    n = max(1, int(n))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OVYOLO_THREADS"):
        os.environ[var] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
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
    from ovyolo.stages import workflow_dir

    return write_provenance(path.parent, inputs=[str(i) for i in snakemake.input], params=params, extra=extra,
                            workflow_dir=workflow_dir(snakemake), filename=path.name)


# Environment a rule's job needs before any library starts its thread pool. validate: Snakemake may start --cores /
# threads validations at once; OpenMP threads that spin while waiting are then preempted by the other jobs (the
# torch validation of the default run took 114 s for 200 images; with passive waits 27 s).
# demo_train: the same, measured under load 6-9 (6 epochs in fresh processes taking turns: 144 and 174 s spinning,
# 36 and 39 s passive).
RULE_ENV = {"validate": {"OMP_WAIT_POLICY": "PASSIVE"}, "demo_train": {"OMP_WAIT_POLICY": "PASSIVE"}}


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children so far (the job's cost on a shared
    machine: its wall time depends on what ran beside it, this does not)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(snakemake, stage=None) -> None:
    """Run the stage of ``snakemake.rule`` (``ovyolo.stages.<rule>``, or ``stage``, a name or a function) with its
    output logged to the rule's log file, in an offline-safe environment (:func:`ovyolo.offline.prepare`).

    A :class:`WorkflowError` prints one line ``ERROR: ...`` to the terminal (and the log) and exits 1;
    any other exception puts its traceback in the log and one line on the terminal.
    """
    from ovyolo import offline

    rule = getattr(snakemake, "rule", "") or ""
    for key, value in RULE_ENV.get(rule, {}).items():
        os.environ.setdefault(key, value)
    offline.prepare()
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
        if stage is None or isinstance(stage, str):
            from ovyolo import stages

            name = stage or rule
            main = getattr(stages, name, None)
            if main is None:
                raise WorkflowError(f"rule '{rule}' has no stage function ovyolo.stages.{name}")
        else:
            main = stage
        main(snakemake)
        write_job_provenance(snakemake)
        log.info("job end %.3f cpu %.1f s", time.time(), cpu_seconds())
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
