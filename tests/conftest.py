import os
from pathlib import Path

import ovyolo  # noqa: F401  (offline environment before anything else imports Ultralytics/OpenVINO)

os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest  # noqa: E402


def make_ultralytics_run(run_dir: Path, *, nc: int = 3, imgsz: int = 320, names=None) -> Path:
    """A genuine Ultralytics run layout (weights/best.pt + args.yaml) holding a freshly built YOLOv5u-n."""
    import torch
    import yaml
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    model = DetectionModel("yolov5n.yaml", nc=nc, verbose=False)
    model.names = {i: n for i, n in enumerate(names or [f"c{i}" for i in range(nc)])}
    model.args = {"imgsz": imgsz}
    (run_dir / "weights").mkdir(parents=True, exist_ok=True)
    args = {"task": "detect", "model": "yolov5n.yaml", "imgsz": imgsz, "rect": True}
    torch.save({"model": model.half(), "ema": None, "train_args": args, "epoch": -1}, run_dir / "weights" / "best.pt")
    (run_dir / "args.yaml").write_text(yaml.safe_dump(args))
    return run_dir


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """A small generated 360x640 data set (16 train, 6 val images)."""
    from ovyolo.demo import generate_demo_dataset

    return generate_demo_dataset(tmp_path_factory.mktemp("data"), n_train=16, n_val=6)


@pytest.fixture(scope="session")
def fp32_ir(tmp_path_factory, demo_data) -> dict:
    """A real untrained YOLOv5u-n exported to ONNX and FP32 IR at 192x320 through the package API."""
    from ovyolo.convert import convert
    from ovyolo.sources import identify_with
    from ovyolo.export import export

    root = tmp_path_factory.mktemp("model")
    run = make_ultralytics_run(root / "run", names=["circle", "square", "triangle"])
    info = identify_with(run, {"trust_checkpoint": True})
    onnx = export(info, (192, 320), root / "192x320" / "model.onnx")
    xml = convert(onnx, (192, 320), "fp32", root / "192x320" / "fp32")
    return {"root": root, "run": run, "onnx": onnx, "xml": xml, "info": info}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One complete local run of the TINY config (shared by the end-to-end and the Slurm tests, which only read
    it; a test that changes anything copies it first). Returns (workdir, process, wall seconds)."""
    import time

    from workflow_helpers import TINY, snakemake

    wd = tmp_path_factory.mktemp("tiny")
    t0 = time.monotonic()
    proc = snakemake(wd, "--cores", "8", config=TINY)  # more cores than the machine: benchmarks must still run alone
    return wd, proc, time.monotonic() - t0
