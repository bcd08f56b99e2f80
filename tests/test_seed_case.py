"""The seed case: trained square at 1280, deployed on 16:9 video at 736x1280, for original YOLOv5 and Ultralytics runs.

`yolov5 export.py` calibrates INT8 with 640x640 tensors for a 1x3x736x1280 model; here that mistake cannot be
wired through the workflow, and through the package API it fails before NNCF starts, naming both shapes.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_ultralytics_run
from workflow_helpers import planned_jobs, snakemake
from yolov5_runs import make_yolov5_run

from ovyolo.build.quantize import count_quantized_ops
from ovyolo.data.demo import generate_demo_dataset
from ovyolo.ir import ir_input_shape

pytestmark = pytest.mark.system

NAMES = ("circle", "square", "triangle")


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    wd = tmp_path_factory.mktemp("seed")
    data = generate_demo_dataset(wd / "data", n_train=8, n_val=3, frame_hw=(720, 1280), names=NAMES)
    v5 = make_yolov5_run(wd / "runs/train/exp", imgsz=1280, nc=3, names=list(NAMES))
    ul = make_ultralytics_run(wd / "runs/detect/train", imgsz=1280, names=list(NAMES))
    cfg = {
        "models": {
            "v5": {"source": str(v5), "data": str(data), "trust_checkpoint": True},
            "ul": {"source": str(ul / "weights/best.pt"), "data": str(data), "trust_checkpoint": True},
        },
        "calibration": {"size": 8},
        "evaluation": {"variants": ["openvino-fp32", "openvino-int8"]},
        # one process: spreading rounds over processes is the TINY runs' (and its own test's) to check
        "benchmark": {"warmup": 1, "rounds": 6, "seconds_per_round": 0.02, "min_iterations_per_round": 1, "images": 2,
                      "throughput": False, "processes": 1},
        "profile": {"iterations": 4, "rounds": 2, "images": 2},
        "pipeline": {"enabled": False},
        # the square comparison's wiring is tested at 192x320 (test_workflow_e2e); here it would quantize and
        # validate two more models at 1280x1280
        "square": {"enabled": False},
    }
    # the whole run of the two OpenVINO variants, and each checkpoint validated in torch as an extra target (a torch
    # variant in the list would also be benchmarked and profiled: ~1.6 s per image at 736x1280 on this VM)
    torch = [f"results/{m}/736x1280/torch/metrics.json" for m in cfg["models"]]
    proc = snakemake(wd, "--cores", "2", "all", *torch, config=cfg)
    return wd, cfg, proc


@pytest.mark.parametrize("model, args_file", [("v5", "opt.yaml"), ("ul", "args.yaml")])
def test_discovers_736x1280_and_quantizes_at_it(seed, model, args_file):
    wd, _, _ = seed
    shape = json.loads((wd / f"results/{model}/shape.json").read_text())
    assert [(s["h"], s["w"]) for s in shape["shapes"]] == [(736, 1280)]
    assert shape["train_imgsz"] == 1280 and args_file in shape["shapes"][0]["reason"]
    assert "720x1280" in shape["shapes"][0]["reason"]
    base = wd / f"results/{model}/736x1280"
    assert ir_input_shape(base / "int8/model.xml") == [1, 3, 736, 1280]
    assert count_quantized_ops(base / "int8/model.xml") > 50
    assert np.load(base / "calibration/images.npy", mmap_mode="r").shape == (8, 3, 736, 1280)
    for variant in ("torch", "openvino-fp32", "openvino-int8"):
        m = json.loads((base / variant / "metrics.json").read_text())
        assert m["hw"] == [736, 1280] and m["images"] == 3
        assert m["layout"] == ("yolov5" if model == "v5" else "ultralytics")
    # the torch checkpoint and true-f32 OpenVINO agree on the raw outputs (same weights, same input)
    torch_m = json.loads((base / "torch/metrics.json").read_text())
    assert torch_m["agreement"]["rel_mean_abs_diff"] < 1e-3


def test_family_detected_per_source(seed):
    wd, _, _ = seed
    assert json.loads((wd / "results/v5/shape.json").read_text())["family"] == "yolov5"
    assert json.loads((wd / "results/ul/shape.json").read_text())["family"] == "ultralytics"


def test_complete_run_is_up_to_date(seed):
    wd, _, _ = seed
    assert planned_jobs(snakemake(wd, "-n")) == {}


def test_a_calibration_set_of_another_shape_is_refused_by_the_rule(seed, tmp_path):
    """Even a 640x640 calibration file placed under the 736x1280 path never reaches NNCF (on a copy of the run)."""
    import shutil

    wd = tmp_path / "seed"
    shutil.copytree(seed[0], wd, symlinks=True)
    cal = wd / "results/v5/736x1280/calibration/images.npy"
    np.save(cal, np.zeros((8, 3, 640, 640), np.uint8))
    proc = snakemake(wd, "--cores", "1", "--forcerun", "quantize", "--allowed-rules", "quantize",
                     "--", "results/v5/736x1280/int8/model.xml", check=False)
    assert proc.returncode != 0
    line = next(row for row in proc.stderr.splitlines() if row.startswith("ERROR:"))
    assert "[1, 3, 640, 640]" in line and "[1, 3, 736, 1280]" in line
    assert not (wd / "results/v5/736x1280/int8/model.xml").exists()


def test_the_api_fails_before_nncf_starts(seed, tmp_path):
    wd, _, _ = seed
    np.save(tmp_path / "cal640.npy", np.zeros((8, 3, 640, 640), np.uint8))
    code = f"""
import sys
from ovyolo.errors import ShapeMismatchError
from ovyolo.build.quantize import quantize
try:
    quantize({str(wd / 'results/ul/736x1280/fp32/model.xml')!r}, {str(tmp_path / 'cal640.npy')!r}, (736, 1280), {str(tmp_path / 'int8')!r})
except ShapeMismatchError as e:
    print("REFUSED", e)
print("NNCF_IMPORTED", "nncf" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "REFUSED calibration tensors are [1, 3, 640, 640] but the model" in out and "[1, 3, 736, 1280]" in out
    assert "NNCF_IMPORTED False" in out
    assert not (tmp_path / "int8").exists()



def test_accuracy_of_a_model_that_detects_nothing_is_flagged_as_meaningless(seed):
    """The seed models are untrained (mAP ~0): the verdict must not present their 0-vs-0 drops as evidence."""
    import csv

    wd, _, _ = seed
    verdict = (wd / "results/verdict.md").read_text()
    sections = verdict.split("\n## ")[1:]
    shapes = [s for s in sections if s.startswith(("v5 @", "ul @"))]
    assert len(shapes) == 2
    for section in shapes:
        assert "the mAP drops and the verdict's accuracy side mean nothing here" in section, section
    with open(wd / "results/summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(float(r["mAP50_95"]) < 0.05 and "mean nothing" in r["warnings"] for r in rows)


SEED_CONFIG = Path(__file__).resolve().parent.parent / "configs/seed-736x1280.yaml"


def test_the_seed_config_trains_for_its_deploy_shape():
    """configs/seed-736x1280.yaml: 720x1280 frames deployed at 736x1280 are letterboxed at scale 1, so a model
    trained on native-scale crops sees its objects at the pixel size it was trained at."""
    from ovyolo.config import validate
    from ovyolo.data.letterbox import geometry
    from ovyolo.shapes import parse_imgsz

    cfg = validate(yaml.safe_load(SEED_CONFIG.read_text()))
    assert parse_imgsz(cfg["models"]["demo"]["imgsz"]) == [(736, 1280)] and cfg["demo"]["frame"] == [720, 1280]
    assert cfg["demo"]["train"]["native_crops"] is True and cfg["demo"]["train"]["imgsz"] < 736
    assert geometry((720, 1280), (736, 1280)).scale == 1.0


def test_the_seed_config_runs_at_a_tiny_size(tmp_path):
    """The seed config's wiring, shrunk (8 train frames, 2 val frames, 1 epoch): the demo trains on native-scale
    crops, calibrates on whole frames and validates at 736x1280."""
    cfg = yaml.safe_load(SEED_CONFIG.read_text())
    cfg["demo"].update({"train_images": 8, "val_images": 2})
    cfg["demo"]["train"].update({"epochs": 1, "monitor_images": 2})
    cfg["calibration"]["size"] = 8
    cfg["evaluation"]["variants"] = ["openvino-fp32"]
    base = "results/demo/736x1280"
    snakemake(tmp_path, "--cores", "2", f"{base}/openvino-fp32/metrics.json", f"{base}/calibration/images.npy",
              config=cfg)
    log = (tmp_path / "results/logs/_demo/demo_train.log").read_text()
    crops = re.search(r"training on (\d+) native-scale 192x192 crops of 8 train frames", log)
    assert crops and int(crops.group(1)) >= 8, log[-2000:]  # one crop per object, at least one object per frame
    assert yaml.safe_load((tmp_path / "results/_demo/run/args.yaml").read_text())["imgsz"] == 192
    assert np.load(tmp_path / f"{base}/calibration/images.npy", mmap_mode="r").shape == (8, 3, 736, 1280)
    m = json.loads((tmp_path / f"{base}/openvino-fp32/metrics.json").read_text())
    assert m["hw"] == [736, 1280] and m["images"] == 2
