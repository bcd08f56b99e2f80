"""Train the tiny demo detector with Ultralytics, the way a user's run looks: weights/best.pt + args.yaml."""
from __future__ import annotations

from pathlib import Path

from ovyolo.atomic import atomic_dir


def train_demo(data_yaml: str | Path, run_dir: str | Path, *, threads: int = 2, seed: int = 0,
               model: str = "yolov5n.yaml", imgsz: int = 320, epochs: int = 30, batch: int = 8,
               lr0: float = 0.01) -> Path:
    """Train from a model yaml (random init, no download) and place the run at ``run_dir`` atomically.

    Few images and a short schedule: warm-up is off (Ultralytics' 100-iteration minimum would cover the whole
    run) and rectangular batches keep the 16:9 frames at 192x320 instead of 320x320 mosaics.
    """
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(threads)
    run_dir = Path(run_dir)
    with atomic_dir(run_dir) as tmp:
        YOLO(model).train(
            data=str(Path(data_yaml).resolve()), imgsz=imgsz, epochs=epochs, batch=batch, rect=True, workers=0,
            device="cpu", project=str(tmp.parent.resolve()), name=tmp.name, exist_ok=True, plots=False,
            amp=False, seed=seed, deterministic=True, warmup_epochs=0, optimizer="SGD", lr0=lr0, verbose=False,
        )
        last = tmp / "weights" / "last.pt"
        if last.exists():
            last.unlink()  # best.pt is what users deploy; last.pt would only double the disk use
    return run_dir / "weights" / "best.pt"


def best_map50(results_csv: str | Path) -> float:
    """Highest val mAP50 in an Ultralytics results.csv (the epoch best.pt was saved from has the best fitness)."""
    import csv

    with open(results_csv) as f:
        rows = list(csv.DictReader(f))
    key = next(k for k in rows[0] if k.strip() == "metrics/mAP50(B)")
    return max(float(r[key]) for r in rows)



