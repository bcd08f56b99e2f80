"""provenance.json: what an artifact was made from, with what, on what, and when.

Every stage that writes a folder of results can call :func:`write_provenance` once its outputs exist::

    write_provenance(out_dir, inputs=[...files read...], params={...settings...},
                     extra={"threads": n, "precision_hint": "f32"})

The record holds the sha256 of every input file, the parameters, the versions of the packages that do the work,
the CPU (model name and instruction-set flags that matter to OpenVINO), threads and precision hints if given,
the git commit of the workflow checkout, and the time. Only ``created`` (and ``host``) change between two runs
on the same inputs; everything else is a function of inputs, code and machine.
"""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

from ovyolo.atomic import write_json
from ovyolo.system import system_info

FILENAME = "provenance.json"
HASH_CHUNK = 1 << 20


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def hash_inputs(inputs) -> dict:
    """path -> {sha256, bytes} for every file; a folder contributes each file under it (sorted)."""
    out = {}
    for item in inputs or []:
        p = Path(item)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            if not f.is_file():
                out[str(f)] = {"sha256": None, "error": "missing"}
                continue
            out[str(f)] = {"sha256": sha256(f), "bytes": f.stat().st_size}
    return out


def git_commit(where: str | Path | None = None) -> str:
    """``git rev-parse HEAD`` of the checkout holding ``where`` (default: this package's folder), with ``-dirty``
    appended when tracked files differ; "not a git checkout" otherwise."""
    where = Path(where) if where else Path(__file__).resolve().parent
    if where.is_file():
        where = where.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "not a git checkout"
        commit = head.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10)
        return commit + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


def _plain(value):
    """JSON-safe copy (paths and other objects as strings, tuples as lists)."""
    import json

    return json.loads(json.dumps(value, default=str))


def provenance(inputs=(), params: dict | None = None, extra: dict | None = None,
               workflow_dir: str | Path | None = None) -> dict:
    """The provenance record (see the module doc). ``extra`` may hold ``threads``, ``precision_hint``, ``performance_hint``
    or anything else the stage wants recorded; its keys are kept as given under ``extra``."""
    return {
        "inputs": hash_inputs(inputs),
        "params": _plain(params or {}),
        "extra": _plain(extra or {}),
        "system": system_info(),
        "environment": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OVYOLO_THREADS", "ONEDNN_MAX_CPU_ISA")
                        if k in os.environ},
        "workflow_commit": git_commit(workflow_dir),
        "host": socket.gethostname(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_provenance(folder: str | Path, inputs=(), params: dict | None = None, extra: dict | None = None,
                     workflow_dir: str | Path | None = None, filename: str = FILENAME) -> Path:
    """Write ``folder/provenance.json`` (or ``filename``) atomically and return its path."""
    path = Path(folder) / filename
    write_json(path, provenance(inputs, params, extra, workflow_dir))
    return path
