"""A tiny demo detector trained once per test session (shared by test_datasets.py and test_parity.py).

Trained exactly as the workflow's default demo (ovyolo.data.demo.train_demo with its defaults, which are the config's, on
ovyolo.data.demo.generate_demo_dataset: 64 train images, the same ones the workflow trains on, and 32 val images, the
first 32 of the workflow's 200; 24 epochs at imgsz 256, one optimizer step per batch, deploy shape 160x256; about
45 s on 2 quiet cores; true-f32 mAP50-95 0.90 on the workflow's 200 val images). The first caller trains it under
pytest's base temp dir; later callers, in any test module of the session, reuse it. Set OVYOLO_TRAINED_DEMO_DIR to
keep it across sessions.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

N_TRAIN, N_VAL = 64, 32
IMGSZ = 256  # train_demo's default
HW = (160, 256)  # its deploy shape on the 360x640 frames


def trained_demo(tmp_path_factory) -> dict:
    from conftest import session_root

    from ovyolo.data.demo import generate_demo_dataset, train_demo

    root = Path(os.environ.get("OVYOLO_TRAINED_DEMO_DIR") or session_root(tmp_path_factory) / "trained_demo")
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = root / "dataset" / "data.yaml"
        if not data.exists():
            generate_demo_dataset(root / "dataset", seed=0, n_train=N_TRAIN, n_val=N_VAL)
        weights = root / "run" / "weights" / "best.pt"
        if not weights.exists():
            train_demo(data, root / "run", threads=2)
    return {"data": data, "run": root / "run", "weights": weights}
