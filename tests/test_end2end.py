"""NMS-free heads (YOLO26, YOLOv10) end to end: the checkpoint's head decides the layout, the end-to-end branch is
exported (1 x K x 6), validated without NMS, bundled so that Ultralytics decodes it, and every Ultralytics ONNX is
recognised from its metadata. Freshly built (untrained) models at 64x96: this checks wiring, not accuracy."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_ultralytics_run

from ovyolo.errors import WorkflowError
from ovyolo.sources import identify_with

pytestmark = pytest.mark.component

HW = (64, 96)
K = 8 * 12 + 4 * 6 + 2 * 3  # anchors at 64x96 (strides 8, 16, 32): fewer than max_det 300, so K = all of them
NAMES = ["circle", "square", "triangle"]
TRUST = {"trust_checkpoint": True}


@pytest.fixture(scope="module")
def y26(tmp_path_factory, demo_data):
    """A fresh YOLO26n (3 classes) as a run, exported with the default head (end-to-end), converted to FP32."""
    from ovyolo.build.convert import convert
    from ovyolo.build.export import export

    root = tmp_path_factory.mktemp("y26")
    run = make_ultralytics_run(root / "run", names=NAMES, imgsz=96, model_yaml="yolo26n.yaml")
    src = identify_with(run, TRUST)
    onnx = export(src, HW, root / "64x96" / "model.onnx")
    xml = convert(onnx, HW, "fp32", root / "64x96" / "fp32")
    return {"root": root, "run": run, "src": src, "onnx": onnx, "xml": xml}


def _ultralytics_onnx(run, out_dir: Path, **kw) -> Path:
    from ultralytics import YOLO

    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "weights" / "best.pt", out_dir / "best.pt")
    return Path(YOLO(str(out_dir / "best.pt")).export(format="onnx", imgsz=list(HW), opset=17, batch=1, device="cpu",
                                                      verbose=False, **kw))


def test_checkpoint_head_decides_the_layout(y26, tmp_path):
    src = y26["src"]
    assert src.output_layout == "end2end" and src.heads == ["end2end", "one2many"] and src.head_class == "Detect"
    assert identify_with(y26["run"], {**TRUST, "head": "one2many"}).output_layout == "ultralytics"
    v10 = identify_with(make_ultralytics_run(tmp_path / "v10", names=NAMES, model_yaml="yolov10n.yaml"), TRUST)
    assert v10.output_layout == "end2end" and v10.head_class == "v10Detect"
    v8 = make_ultralytics_run(tmp_path / "v8", names=NAMES, model_yaml="yolov8n.yaml")
    assert identify_with(v8, TRUST).output_layout == "ultralytics"
    with pytest.raises(WorkflowError) as exc:
        identify_with(v8, {**TRUST, "head": "end2end"})
    assert "head: end2end asked for, but its Detect head has only the one2many branch" in str(exc.value)


def test_end2end_branch_is_exported_and_validated_without_nms(y26, demo_data):
    from ovyolo.data.dataset import load_dataset
    from ovyolo.ir import read_model_info
    from ovyolo.measure.evaluate import evaluate
    from ovyolo.measure.runtimes import make_runner
    from ovyolo.sources.onnx import output_dims, read_metadata

    assert output_dims(y26["onnx"]) == [[1, K, 6]]
    assert read_metadata(y26["onnx"]).output_layout == "end2end"
    meta = yaml.safe_load((Path(y26["xml"]).parent / "metadata.yaml").read_text())
    assert meta["layout"] == "end2end" and "no NMS" in meta["output_layout"]
    info = read_model_info(y26["xml"])
    assert info["output_layout"] == "end2end" and info["model_type"] == "yolo_end2end"  # no Model API wrapper
    images = load_dataset(demo_data).images("val")
    raws = {}
    for variant, kw in (("torch", {"source": y26["src"]}), ("onnxruntime", {"onnx": y26["onnx"]}),
                        ("openvino-fp32", {"xml": y26["xml"]})):
        ev = evaluate(make_runner(variant, **kw, threads=2, hw=HW).infer, images, HW, NAMES, "end2end")
        assert ev.raw.shape == (len(images), K, 6)
        assert ev.result["iou"] is None and "no NMS" in ev.result["decoding"] and not ev.result["multi_label"]
        # the decoding is the score filter only: every row above conf is a detection, in the model's order
        assert [len(p) for p in ev.preds] == [int((r[:, 4] > 0.001).sum()) for r in ev.raw]
        raws[variant] = ev.raw
    # the same branch everywhere: PyTorch (its end2end switch set before fusing) and both runtimes agree
    for variant in ("onnxruntime", "openvino-fp32"):
        np.testing.assert_allclose(raws[variant][..., 4], raws["torch"][..., 4], atol=1e-4)


def test_one2many_switch_exports_the_nms_branch(y26, tmp_path):
    from ovyolo.build.export import export
    from ovyolo.sources.onnx import output_dims

    src = identify_with(y26["run"], {**TRUST, "head": "one2many"})
    out = export(src, HW, tmp_path / "model.onnx")
    assert output_dims(out) == [[1, 4 + 3, K]]


@pytest.mark.parametrize("nms,want,dims", [(False, "end2end", [1, K, 6]), (None, "ultralytics", [1, 7, K]),
                                           (True, "end2end", [1, 300, 6])])
def test_ultralytics_onnx_is_recognised_from_its_metadata(y26, tmp_path, nms, want, dims):
    """nms=False: the one-to-one branch; None (Ultralytics' default): one-to-many; True: NMS inside the graph."""
    from ovyolo.sources.onnx import output_dims

    onnx = _ultralytics_onnx(y26["run"], tmp_path, nms=nms)
    assert output_dims(onnx) == [dims]
    src = identify_with(onnx, {})
    assert src.output_layout == want and "metadata" in src.layout_from
    other = "one2many" if want == "end2end" else "end2end"
    with pytest.raises(WorkflowError, match=f"holds the .* head .* but config says head: {other}"):
        identify_with(onnx, {"head": other})


def test_onnx_whose_shape_contradicts_its_metadata(y26, tmp_path):
    import onnx

    m = onnx.load(str(y26["onnx"]))
    for p in m.metadata_props:
        if p.key == "ovyolo_layout":
            p.value = "ultralytics"
    onnx.save(m, str(tmp_path / "m.onnx"))
    with pytest.raises(WorkflowError) as exc:
        identify_with(tmp_path / "m.onnx", {})
    msg = str(exc.value)
    assert f"output shape [1, {K}, 6] does not match its declared layout 'ultralytics'" in msg
    assert "ONNX metadata ovyolo_layout" in msg and "\n" not in msg


def test_bare_end2end_onnx_needs_the_head_setting(y26, tmp_path, demo_data):
    """Without metadata a 1 x K x 6 output could be end-to-end or one-class YOLOv5: the user says which."""
    import onnx

    from ovyolo.discover import discover_model

    m = onnx.load(str(y26["onnx"]))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "bare.onnx"))
    with pytest.raises(WorkflowError, match="set head: end2end or head: one2many"):
        identify_with(tmp_path / "bare.onnx", {})
    assert identify_with(tmp_path / "bare.onnx", {"head": "end2end"}).output_layout == "end2end"
    # discovery checks the output against the data's classes: 1 x K x 6 is end-to-end whatever their number
    rec = discover_model("m", tmp_path / "bare.onnx", demo_data, {"head": "end2end", "imgsz": "auto"},
                         tmp_path / "shape.json")
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [HW]


def test_bundle_is_decoded_end_to_end_by_ultralytics(y26, demo_data, tmp_path):
    from ultralytics import YOLO

    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.letterbox import letterbox, read_rgb, to_tensor
    from ovyolo.deploy.bundle import ULTRALYTICS_DIR, build_bundle
    from ovyolo.deploy.predict import load
    from ovyolo.report.gallery import disagreement

    manifest = build_bundle(Path(y26["xml"]).parent, tmp_path / "b", HW, "fp32")
    assert manifest["ultralytics_loadable"] and manifest["output_layout"] == "end2end"
    meta = yaml.safe_load((tmp_path / "b" / ULTRALYTICS_DIR / "metadata.yaml").read_text())
    assert meta["end2end"] is True and meta["args"]["nms"] is False and meta["stride"] == 32
    from ovyolo.measure.runtimes import precision_name

    model = YOLO(str(tmp_path / "b" / ULTRALYTICS_DIR))
    images = load_dataset(demo_data).images("val")[:3]
    model.predict(str(images[0]), imgsz=list(HW), verbose=False)
    assert model.predictor.model.end2end is True  # AutoBackend read end2end from metadata.yaml
    # Ultralytics sets no precision hint (bf16 float parts on a bf16 CPU): run ours with what it runs
    theirs_precision = precision_name(model.predictor.model.backend.ov_compiled_model.get_property(
        "INFERENCE_PRECISION_HINT"))
    ours = load(tmp_path / "b", threads=1, conf=0.001, precision_hint=theirs_precision)
    assert ours.layout == "end2end"
    compared = 0
    for img in images:
        r = model.predict(str(img), imgsz=list(HW), conf=0.001, verbose=False)[0]
        theirs = r.boxes.data.numpy()
        rgb = read_rgb(img)
        mine = ours.detect(rgb)
        raw = ours.raw(to_tensor(letterbox(rgb, HW)[0]))
        assert len(theirs) == len(mine) == int((raw[0, :, 4] > 0.001).sum())
        compared += len(mine)
        assert disagreement(theirs.astype(np.float32), mine, iou_thr=0.9) == 0.0
    assert compared > 0


def test_ultralytics_int8_exports_the_same_branch(y26, demo_data, tmp_path):
    import openvino as ov

    from ovyolo.build.ultralytics_int8 import export_ultralytics_int8

    xml = export_ultralytics_int8(y26["run"] / "weights" / "best.pt", HW, demo_data, tmp_path / "u8", layout="end2end")
    shape = [d.get_length() for d in ov.Core().read_model(str(xml)).outputs[0].get_partial_shape()]
    assert shape == [1, K, 6]
    assert yaml.safe_load((Path(xml).parent / "metadata.yaml").read_text())["end2end"] is True


def test_accuracy_control_and_gallery_take_end2end(y26, demo_data, tmp_path):
    from ovyolo.build import accuracy_control as ac
    from ovyolo.data.dataset import load_dataset
    from ovyolo.report import gallery

    ac.check_model({"layout": "end2end", "family": "ultralytics", "names": dict(enumerate(NAMES))})
    rows = gallery.build({"openvino-fp32": y26["xml"], "openvino-fp16": y26["xml"]},
                         load_dataset(demo_data).images("val"), tmp_path / "g.png", show=2, scan=3)
    assert (tmp_path / "g.png").is_file() and len(rows) == 3
    assert all(r["disagreement"]["openvino-fp16"] == 0.0 for r in rows)  # the same IR twice
    json.dumps(rows)
