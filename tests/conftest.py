import os
from pathlib import Path

from ovyolo import offline

# Whether this test run is a CI run, read before offline.prepare() sets CI=true for this process (OpenVINO's
# telemetry declines only then): a test that cannot run here must fail a CI run instead of skipping.
RUNNING_IN_CI = os.environ.get("CI", "").lower() == "true"
offline.prepare()  # before anything else imports Ultralytics, OpenVINO or NNCF

os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest  # noqa: E402


def make_ultralytics_run(run_dir: Path, *, nc: int = 3, imgsz: int = 320, names=None,
                         model_yaml: str = "yolov5n.yaml") -> Path:
    """A genuine Ultralytics run layout (weights/best.pt + args.yaml) holding a freshly built model (YOLOv5u-n)."""
    import torch
    import yaml
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    model = DetectionModel(model_yaml, nc=nc, verbose=False)
    model.names = {i: n for i, n in enumerate(names or [f"c{i}" for i in range(nc)])}
    model.args = {"imgsz": imgsz}
    (run_dir / "weights").mkdir(parents=True, exist_ok=True)
    args = {"task": "detect", "model": model_yaml, "imgsz": imgsz, "rect": True}
    torch.save({"model": model.half(), "ema": None, "train_args": args, "epoch": -1}, run_dir / "weights" / "best.pt")
    (run_dir / "args.yaml").write_text(yaml.safe_dump(args))
    return run_dir


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """A small generated 360x640 data set (16 train, 6 val images)."""
    from ovyolo.data.demo import generate_demo_dataset

    return generate_demo_dataset(tmp_path_factory.mktemp("data"), n_train=16, n_val=6)


@pytest.fixture(scope="session")
def fp32_ir(tmp_path_factory, demo_data) -> dict:
    """A real untrained YOLOv5u-n exported to ONNX and FP32 IR at 192x320 through the package API."""
    from ovyolo.build.convert import convert
    from ovyolo.build.export import export
    from ovyolo.sources import identify_with

    root = tmp_path_factory.mktemp("model")
    run = make_ultralytics_run(root / "run", names=["circle", "square", "triangle"])
    info = identify_with(run, {"trust_checkpoint": True})
    onnx = export(info, (192, 320), root / "192x320" / "model.onnx")
    xml = convert(onnx, (192, 320), "fp32", root / "192x320" / "fp32")
    return {"root": root, "run": run, "onnx": onnx, "xml": xml, "info": info}


def session_root(tmp_path_factory) -> Path:
    """The folder every pytest-xdist worker of this session shares (the root of the session's basetemp)."""
    base = Path(tmp_path_factory.getbasetemp())
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory, name: str, build) -> Path:
    """``root/name``, built by ``build(folder)`` exactly once per test session, whichever xdist worker asks first
    (the others wait on a lock and then read it). A build that raised is retried by the next caller."""
    import fcntl
    import shutil

    root = session_root(tmp_path_factory)
    folder, done = root / name, root / f".{name}.done"
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One complete local run of the TINY config per test session, shared by the end-to-end and the Slurm tests
    (in every xdist worker), which only read it; a test that changes anything copies it first.
    Returns (workdir, process, wall seconds)."""
    import json
    import subprocess
    import time

    from workflow_helpers import TINY, snakemake

    def build(wd):
        t0 = time.monotonic()
        proc = snakemake(wd, "--cores", "8", config=TINY)  # more cores than the machine: benchmarks must still run alone
        (wd.parent / ".tiny.proc.json").write_text(json.dumps(
            {"args": proc.args, "stdout": proc.stdout, "stderr": proc.stderr, "seconds": time.monotonic() - t0}))

    wd = built_once(tmp_path_factory, "tiny", build)
    rec = json.loads((wd.parent / ".tiny.proc.json").read_text())
    return wd, subprocess.CompletedProcess(rec["args"], 0, rec["stdout"], rec["stderr"]), rec["seconds"]


@pytest.fixture(scope="session")
def trained_irs(tmp_path_factory) -> dict:
    """The trained demo (tests/trained_demo.py) exported at its deploy shape: ONNX, FP32 IR, our INT8 IR and a
    careless INT8 (performance preset, head decoding in int8) whose detections differ from FP32's. Built once per
    session for every xdist worker; read-only."""
    from trained_demo import HW, trained_demo

    from ovyolo.build import calibration as cal
    from ovyolo.build.convert import convert
    from ovyolo.build.export import export
    from ovyolo.build.quantize import quantize
    from ovyolo.data.dataset import load_dataset
    from ovyolo.sources import identify

    demo = trained_demo(tmp_path_factory)

    def build(root):
        onnx = export(identify(demo["weights"], trusted=True), HW, root / "model.onnx")
        fp32 = convert(onnx, HW, "fp32", root / "fp32")
        cal.build(load_dataset(demo["data"]).images("train"), HW, 32, root / "calibration", seed=0)
        images = root / "calibration" / "images.npy"
        quantize(fp32, images, HW, root / "int8")
        quantize(fp32, images, HW, root / "int8-careless", preset="performance", keep_head_float=False)

    root = built_once(tmp_path_factory, "trained_irs", build)
    return {"demo": demo, "hw": HW, "onnx": root / "model.onnx", "fp32": root / "fp32" / "model.xml",
            "int8": root / "int8" / "model.xml", "int8_careless": root / "int8-careless" / "model.xml"}


# Modules that take longest (real Snakemake runs, a Slurm cluster whose jobs mostly wait) go to the xdist workers
# first (``--dist loadfile`` hands out files in collection order): their waits overlap with the rest of the suite
# instead of finishing it alone.
FIRST = ("test_slurm.py", "test_seed_case.py", "test_workflow_e2e.py", "test_workflow_reruns.py", "test_workflow_square.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))
