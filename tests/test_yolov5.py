"""Original YOLOv5 checkpoints with the real YOLOv5 code (PyPI yolov5 7.0.14), torch, onnxruntime and OpenVINO."""
from __future__ import annotations

import json
import pickletools
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
import yolov5  # noqa: E402,F401  (installed by the README's test command; a missing package must fail, not skip)
from workflow_helpers import guarded_env
from yolov5_runs import clone_from_pip, make_yolov5_run

from ovyolo.errors import WorkflowError
from ovyolo.sources.yolov5 import expected_rows
from ovyolo.sources.yolov5 import export_onnx as export_yolov5_onnx
from ovyolo.sources.yolov5 import load as load_yolov5
from ovyolo.sources.yolov5_code import yolov5_code

pytestmark = pytest.mark.component

NAMES = ["car", "person", "sign"]
HW = (736, 1280)  # 720x1280 frames at train imgsz 1280, rounded up to stride 32
N_ROWS = 3 * (736 // 8 * 1280 // 8 + 736 // 16 * 1280 // 16 + 736 // 32 * 1280 // 32)  # 57960


def pickled_modules(pt: Path) -> set[str]:
    """Modules of the classes a torch.save file refers to (its data.pkl GLOBAL opcodes)."""
    with zipfile.ZipFile(pt) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    return {arg.split(" ")[0] for op, arg, _ in pickletools.genops(data) if op.name in ("GLOBAL", "STACK_GLOBAL") and arg}


@pytest.fixture(scope="module")
def y5(tmp_path_factory):
    root = tmp_path_factory.mktemp("yolov5")
    run = make_yolov5_run(root / "run", imgsz=1280, nc=3, names=NAMES)
    onnx = export_yolov5_onnx(run / "weights" / "best.pt", HW, root / "736x1280" / "model.onnx", trusted=True)
    return {"root": root, "run": run, "pt": run / "weights" / "best.pt", "onnx": onnx}


@pytest.fixture(scope="module")
def reference(y5):
    """A random input and the unfused torch model's eval output ``model(x)[0]``."""
    import torch

    x = np.random.default_rng(0).random((1, 3, *HW), dtype=np.float32)
    model = load_yolov5(y5["pt"], trusted=True).model
    with torch.no_grad():
        ref = model(torch.from_numpy(x))[0].numpy()
    return x, ref


def test_run_layout_is_what_train_py_writes(y5):
    import torch

    with yolov5_code():
        ckpt = torch.load(y5["pt"], map_location="cpu", weights_only=False)
    assert set(ckpt) == {"epoch", "best_fitness", "model", "ema", "updates", "optimizer", "opt", "git", "date"}
    assert type(ckpt["model"]).__module__ == "models.yolo" and type(ckpt["model"]).__name__ == "DetectionModel"
    assert next(ckpt["model"].parameters()).dtype == torch.float16 and next(ckpt["ema"].parameters()).dtype == torch.float16
    assert ckpt["ema"].names == dict(enumerate(NAMES)) and ckpt["ema"].nc == 3
    assert len(ckpt["optimizer"]["param_groups"]) == 3  # smart_optimizer: biases, decayed weights, BN weights
    assert ckpt["opt"]["imgsz"] == 1280 and isinstance(ckpt["opt"]["hyp"], dict)
    assert ckpt["git"] == {"remote": None, "branch": None, "commit": None}
    opt = yaml.safe_load((y5["run"] / "opt.yaml").read_text())
    assert opt["imgsz"] == 1280 and type(opt["imgsz"]) is int and opt["rect"] is False
    assert (y5["run"] / "hyp.yaml").is_file()
    assert "models.yolo" in pickled_modules(y5["pt"])


def test_load_gives_model_stride_names_and_train_args(y5):
    import torch

    loaded = load_yolov5(y5["pt"], trusted=True)
    assert loaded.stride == 32 and loaded.names == NAMES
    assert loaded.train_args["imgsz"] == 1280 and loaded.train_args["rect"] is False
    assert not loaded.model.training and next(loaded.model.parameters()).dtype == torch.float32
    assert loaded.model is loaded.ckpt["ema"]  # ema is preferred over model


def test_stripped_checkpoint_loads_from_model(tmp_path):
    run = make_yolov5_run(tmp_path / "run", imgsz=640, nc=2, rect=True, stripped=True)
    loaded = load_yolov5(run / "weights" / "best.pt", trusted=True)
    assert loaded.ckpt["ema"] is None and loaded.ckpt["optimizer"] is None and loaded.ckpt["epoch"] == -1
    assert loaded.names == ["c0", "c1"] and loaded.train_args["imgsz"] == 640 and loaded.train_args["rect"] is True


def test_the_workflow_inspector_sees_family_yolov5(y5):
    from ovyolo.sources import identify as inspect_source

    with yolov5_code():  # the Ultralytics-side loader itself imports no YOLOv5 code
        info = inspect_source(y5["run"], trusted=True)
    assert (info.family, info.stride, info.names, info.train_args["imgsz"], info.train_args_from) == ("yolov5", 32, NAMES, 1280, "opt.yaml")


def test_onnx_is_static_736x1280_with_objectness_layout(y5):
    import onnx

    from ovyolo.sources.onnx import input_dims as onnx_input_shape

    assert N_ROWS == expected_rows(HW, [8, 16, 32]) == 57960
    assert onnx_input_shape(y5["onnx"]) == [1, 3, 736, 1280]
    m = onnx.load(str(y5["onnx"]))
    outs = [(o.name, [d.dim_value for d in o.type.tensor_type.shape.dim]) for o in m.graph.output]
    assert outs == [("output0", [1, N_ROWS, 5 + 3])]
    meta = {p.key: p.value for p in m.metadata_props}
    assert meta["stride"] == "32" and meta["names"] == repr(dict(enumerate(NAMES)))
    assert not list(y5["onnx"].parent.glob(".tmp-*"))


def test_onnxruntime_matches_the_torch_model(y5, reference):
    import onnxruntime as ort

    x, ref = reference
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    y = ort.InferenceSession(str(y5["onnx"]), so, providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
    assert y.shape == ref.shape == (1, N_ROWS, 8)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=2e-3)  # boxes in pixels (<= 1280), scores in [0, 1]
    assert ((y[..., 4:] >= 0) & (y[..., 4:] <= 1)).all()  # objectness and class scores are sigmoids


def test_openvino_reads_it_at_736x1280_in_f32(y5, reference):
    import openvino as ov

    x, ref = reference
    model = ov.convert_model(str(y5["onnx"]))
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 2})
    assert compiled.input(0).get_shape() == [1, 3, 736, 1280]
    assert str(compiled.get_property("INFERENCE_PRECISION_HINT")) in ("f32", "<Type: 'float32'>")
    out = compiled(x)[0]
    assert out.shape == (1, N_ROWS, 8)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=2e-3)


def test_the_original_yolov5_ir_runs_at_batch_2_with_the_outputs_of_batch_1(y5, reference):
    """ovyolo.ir.with_batch on the original YOLOv5 head (objectness layout, its own anchor grid): bit-identical."""
    import openvino as ov

    from ovyolo.ir import with_batch

    x, _ = reference
    xs = np.concatenate([x, x[:, :, ::-1].copy()])
    cfg = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 2}
    one = ov.Core().compile_model(ov.convert_model(str(y5["onnx"])), "CPU", cfg)
    two = ov.Core().compile_model(with_batch(ov.convert_model(str(y5["onnx"])), 2, y5["onnx"]), "CPU", cfg)
    assert two.input(0).get_shape() == [2, 3, 736, 1280]
    assert np.array_equal(two(xs)[0], np.concatenate([one(xs[:1])[0], one(xs[1:])[0]]))


def test_a_shape_off_the_stride_is_refused(y5, tmp_path):
    out = tmp_path / "720x1280" / "model.onnx"
    with pytest.raises(WorkflowError, match=r"720, 1280.*stride 32.*\[736, 1280\]"):
        export_yolov5_onnx(y5["pt"], (720, 1280), out, trusted=True)
    assert not out.exists() and not list(tmp_path.rglob("*.onnx"))


def test_bad_repo_paths_and_untrusted_files_are_refused(y5, tmp_path):
    with pytest.raises(WorkflowError, match="does not exist"):
        with yolov5_code(tmp_path / "no-such-clone"):
            pass
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkflowError, match=r"has no models/yolo\.py"):
        load_yolov5(y5["pt"], trusted=True, repo=tmp_path / "empty")
    with pytest.raises(WorkflowError, match="trust_checkpoint"):
        load_yolov5(y5["pt"], trusted=False)
    with pytest.raises(WorkflowError, match="do not exist"):
        load_yolov5(tmp_path / "missing.pt", trusted=True)
    assert str(tmp_path) not in sys.path


SUBPROCESS = r"""
import json, sys
from pathlib import Path
from ovyolo import offline
offline.prepare()
from ovyolo.errors import WorkflowError
from ovyolo.sources.ultralytics import load_checkpoint
pt, clone, run = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
res = {}
try:  # no YOLOv5 code imported in this process: the workflow's loader names the fix
    load_checkpoint(pt, trusted=True)
except WorkflowError as e:
    res["ovyolo"] = str(e)
from ultralytics import YOLO
try:
    YOLO(str(pt))
except Exception as e:
    res["ultralytics"] = f"{type(e).__name__}: {e}"
res["models_before"] = "models" in sys.modules
from ovyolo.sources.yolov5 import load as load_yolov5
from yolov5_runs import make_yolov5_run  # tests/ is on PYTHONPATH
make_yolov5_run(run, imgsz=1280, nc=3, names=["car", "person", "sign"], repo=clone)
loaded = load_yolov5(run / "weights" / "best.pt", trusted=True, repo=clone)
res["loaded"] = [loaded.stride, loaded.names, loaded.train_args["imgsz"]]
res["models_from"] = sys.modules["models"].__file__
res["yolov5_imported"] = "yolov5" in sys.modules
print(json.dumps(res))
"""


def test_without_yolov5_code_then_with_a_clone(y5, tmp_path):
    """A fresh process: ovyolo's loader and Ultralytics both refuse the checkpoint with a clear message; with a
    clone-style tree as ``repo`` a genuine run (pickle refers only to models.*) is built and loaded, offline."""
    clone = clone_from_pip(tmp_path / "yolov5-clone")
    run = tmp_path / "clone-run"
    env = guarded_env(tmp_path)
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{Path(__file__).parent}"
    proc = subprocess.run([sys.executable, "-c", SUBPROCESS, str(y5["pt"]), str(clone), str(run)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "original YOLOv5 checkpoint" in res["ovyolo"] and "yolov5_repo" in res["ovyolo"]
    assert res["ultralytics"].startswith("TypeError") and "github.com/ultralytics/yolov5" in res["ultralytics"]
    assert res["models_before"] is False and res["yolov5_imported"] is False
    assert res["loaded"] == [32, NAMES, 1280]
    assert Path(res["models_from"]).resolve().is_relative_to(clone.resolve())
    mods = {m for m in pickled_modules(run / "weights" / "best.pt") if m.split(".")[0] in ("models", "utils", "yolov5")}
    assert mods == {"models.yolo", "models.common"}
    assert not (tmp_path / "netguard.log").exists() or (tmp_path / "netguard.log").read_text() == ""

    # that genuine checkpoint loads and exports in this process through the PyPI package (no repo given)
    loaded = load_yolov5(run / "weights" / "best.pt", trusted=True)
    assert loaded.names == NAMES and type(loaded.model).__module__ == "models.yolo"
    out = export_yolov5_onnx(run / "weights" / "best.pt", (192, 320), tmp_path / "192x320.onnx", trusted=True)
    from ovyolo.sources.onnx import input_dims as onnx_input_shape

    assert onnx_input_shape(out) == [1, 3, 192, 320]


def test_switching_code_roots_in_one_process(tmp_path):
    """A clone given as repo replaces the cached pip 'models'; going back to the package swaps it back."""
    clone = clone_from_pip(tmp_path / "clone")
    with yolov5_code(clone) as root:
        assert root == clone.resolve() and sys.path[0] == str(root)
        assert Path(sys.modules["models.yolo"].__file__).resolve() == root / "models" / "yolo.py"
    assert str(clone.resolve()) not in sys.path
    with yolov5_code() as root:
        assert Path(sys.modules["models.yolo"].__file__).resolve() == root / "models" / "yolo.py"
        assert root.name == "yolov5" and root.parent.name == "site-packages"
