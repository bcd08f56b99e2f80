"""Self-describing IRs (rt_info), Ultralytics-loadable bundles, the predict CLI, INT8 byte identity across processes."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.component

REPO = Path(__file__).resolve().parent.parent
HW = (192, 320)


def val_images(demo_data):
    from ovyolo.data.dataset import load_dataset

    return load_dataset(demo_data).images("val")


def check_model_info(xml, precision):
    import openvino as ov

    model = ov.Core().read_model(str(xml))  # the IR alone, nothing beside it
    raw = lambda k: str(model.get_rt_info(["model_info", k]).value)  # noqa: E731
    assert raw("model_type") == "YOLOv8"
    assert raw("labels") == "circle square triangle"
    assert raw("resize_type") == "fit_to_window_letterbox"
    assert raw("pad_value") == "114"
    assert raw("scale_values") == "255"
    assert raw("reverse_input_channels") in ("YES", "True", "true")
    assert raw("imgsz") == "192 320"
    from ovyolo.ir import read_model_info

    info = read_model_info(xml)
    assert info["labels"] == ["circle", "square", "triangle"]
    assert info["imgsz"] == [192, 320]
    assert info["reverse_input_channels"] is True
    assert info["confidence_threshold"] == 0.25 and info["iou_threshold"] == 0.7
    assert info["output_layout"] == "ultralytics" and info["precision"] == precision


@pytest.fixture(scope="module")
def fp16_ir(fp32_ir):
    from ovyolo.build.convert import convert

    return convert(fp32_ir["onnx"], HW, "fp16", fp32_ir["root"] / "192x320" / "fp16")


def test_fp32_and_fp16_ir_describe_themselves(fp32_ir, fp16_ir):
    check_model_info(fp32_ir["xml"], "fp32")
    check_model_info(fp16_ir, "fp16")


def test_bundle_loads_in_ultralytics_at_deploy_shape(fp32_ir, fp16_ir, demo_data, tmp_path):
    from ultralytics import YOLO

    from ovyolo.deploy.bundle import ULTRALYTICS_DIR, build_bundle

    for precision, xml in (("fp32", fp32_ir["xml"]), ("fp16", fp16_ir)):
        out = tmp_path / "bundles" / precision
        manifest = build_bundle(Path(xml).parent, out, HW, precision)
        assert manifest["ultralytics_loadable"] and manifest["ir_copied_unchanged"]
        model_dir = out / ULTRALYTICS_DIR
        # the bundled IR is the validated one, byte for byte
        assert (model_dir / "model.bin").read_bytes() == (Path(xml).parent / "model.bin").read_bytes()
        meta = yaml.safe_load((model_dir / "metadata.yaml").read_text())
        assert meta["imgsz"] == [192, 320] and meta["task"] == "detect" and meta["batch"] == 1
        assert json.loads((out / "provenance.json").read_text())["inputs"]
        model = YOLO(str(model_dir))
        img = val_images(demo_data)[0]
        res = model.predict(str(img), imgsz=[192, 320], verbose=False)
        assert len(res) == 1
        r = res[0]
        assert r.orig_shape == (360, 640)
        assert set(r.speed) >= {"preprocess", "inference", "postprocess"}
        assert r.names == {0: "circle", 1: "square", 2: "triangle"}
        assert r.boxes is not None  # the tiny untrained model may find nothing


def test_yolov5_layout_gets_no_ultralytics_bundle(fp32_ir, tmp_path):
    from ovyolo.deploy.bundle import IR_DIR, build_bundle

    ir = tmp_path / "ir"
    shutil.copytree(Path(fp32_ir["xml"]).parent, ir)
    meta = yaml.safe_load((ir / "metadata.yaml").read_text())
    meta["layout"] = "yolov5"
    (ir / "metadata.yaml").write_text(yaml.safe_dump(meta))
    manifest = build_bundle(ir, tmp_path / "b", HW, "fp32")
    assert not manifest["ultralytics_loadable"] and "YOLOv5" in manifest["reason"]
    assert (tmp_path / "b" / IR_DIR / "model.xml").is_file()
    assert not list((tmp_path / "b").glob("*_openvino_model"))


def test_predict_cli_on_the_trained_ir_gives_the_validation_boxes(trained_irs, tmp_path):
    """`python -m ovyolo predict` on the trained demo's FP32 IR: the same letterbox and NMS as validation, so the
    CLI's boxes are the in-process ones (at the predictor's conf 0.25, and there are boxes to compare)."""
    from ovyolo.data.letterbox import load_letterboxed, to_tensor
    from ovyolo.deploy.predict import load
    from ovyolo.measure.evaluate import nms

    hw = trained_irs["hw"]
    src = tmp_path / "imgs"
    src.mkdir()
    for f in val_images(trained_irs["demo"]["data"])[:4]:
        shutil.copy(f, src / f.name)
    out = tmp_path / "pred"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "ovyolo", "predict", str(Path(trained_irs["fp32"]).parent), str(src),
                           "--out", str(out), "--threads", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / "detections.json").read_text())
    assert res["imgsz"] == list(hw) and res["names"] == ["circle", "square", "triangle"] and res["conf"] == 0.25
    assert res["runtime"]["inference_precision"] == "f32" and len(res["images"]) == 4
    det = load(Path(trained_irs["fp32"]).parent, threads=1)
    compared = 0
    for rec in res["images"]:
        assert (out / rec["output"]).is_file() and (rec["height"], rec["width"]) == (360, 640)
        canvas, geo = load_letterboxed(src / Path(rec["image"]).name, hw)
        want = nms(det.raw(to_tensor(canvas)), "ultralytics", 3, conf=0.25, iou=0.7, multi_label=False)
        want[:, :4] = geo.boxes_to_source(want[:, :4])
        got = rec["detections"]
        assert len(got) == len(want)
        if len(want):
            np.testing.assert_allclose([d["box"] for d in got], want[:, :4], atol=0.01)
            assert [d["class"] for d in got] == [int(c) for c in want[:, 5]]
        compared += len(want)
    assert compared >= 4  # a trained model: there are boxes, so the comparison compared something



def test_predict_rejects_missing_model(tmp_path):
    from ovyolo.deploy.predict import main

    assert main([str(tmp_path / "nope"), str(tmp_path), "--out", str(tmp_path / "o")]) == 1


QUANTIZE = """
import sys
from ovyolo import offline
offline.prepare()
from ovyolo.build.quantize import quantize
quantize(sys.argv[1], sys.argv[2], (192, 320), sys.argv[3])
"""


def test_int8_is_byte_identical_across_processes_and_describes_itself(fp32_ir, tmp_path):
    """Two quantizations of the same FP32 IR with the same calibration set, each in its own process, write the same
    bytes (.bin and .xml). OpenVINO's generated node names (a process-wide counter) are normalised before saving."""
    calib = tmp_path / "calibration" / "images.npy"
    calib.parent.mkdir()
    np.save(calib, np.random.default_rng(0).integers(0, 256, (6, 3, 192, 320), dtype=np.uint8))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    outs = []
    for k in (1, 2):
        out = tmp_path / f"int8_{k}"
        proc = subprocess.run([sys.executable, "-c", QUANTIZE, str(fp32_ir["xml"]), str(calib), str(out)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(out)
    a, b = outs
    assert (a / "model.bin").read_bytes() == (b / "model.bin").read_bytes()
    assert (a / "model.xml").read_bytes() == (b / "model.xml").read_bytes()
    check_model_info(a / "model.xml", "int8")


def test_generated_names_normalised_within_one_process():
    """The cause of the in-process .xml difference: ops built without a name are named <Type>_<instance id> from a
    process-wide counter, so the same graph built twice gets different names until they are normalised."""
    import openvino as ov
    from openvino import opset13 as ops

    from ovyolo.build.quantize import normalize_generated_names

    def build():
        x = ops.parameter([1, 3, 8, 8], np.float32, name="images")
        w = ops.constant(np.ones((4, 3, 1, 1), np.float32))
        y = ops.relu(ops.convolution(x, w, [1, 1], [0, 0], [0, 0], [1, 1]))
        return ov.Model([y], [x])

    a, b = build(), build()
    names = lambda m: [op.get_friendly_name() for op in m.get_ordered_ops()]  # noqa: E731
    assert names(a) != names(b)
    assert normalize_generated_names(a) == normalize_generated_names(b) > 0
    assert names(a) == names(b)
    assert "images" in names(a)  # names given by the model's author are kept


def test_bundle_rule_runs_in_the_workflow(fp32_ir, demo_data, tmp_path):
    """The bundle rule on an existing fp32 IR (no other rule allowed to run): bundle folder with provenance."""
    from workflow_helpers import snakemake

    shutil.copytree(Path(fp32_ir["xml"]).parent, tmp_path / "results" / "m" / "192x320" / "fp32")
    cfg = {"models": {"m": {"source": str(fp32_ir["run"]), "data": str(demo_data), "trust_checkpoint": True}}}
    snakemake(tmp_path, "--allowed-rules", "bundle", "--cores", "1", "results/m/192x320/bundles/fp32", config=cfg)
    out = tmp_path / "results" / "m" / "192x320" / "bundles" / "fp32"
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["ultralytics_loadable"] and manifest["ir_copied_unchanged"]
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["workflow_commit"] != "not a git checkout"
    assert any(k.endswith("fp32/model.bin") for k in prov["inputs"])
    assert (tmp_path / "results" / "logs" / "m" / "192x320" / "bundle_fp32.log").is_file()
