"""Every Ultralytics YOLO detection family, smallest scale, freshly built (untrained: this checks wiring, not
accuracy), through identify, export, convert, calibration, quantize, validate and bundle, FP32 and INT8, at a tiny
deploy shape (64x96; 128x192 for the stride-64 P6 models), in one process.

Per model it checks the stride (64 for P6) in source.json, ONNX metadata, IR metadata.yaml, rt_info and the bundle's
metadata.yaml; the layout the head decides (end-to-end for YOLOv10 / YOLO26); the output shape against it; that
INT8 runs convolutions in int8; and that Ultralytics loads each bundle and decodes it as the layout says. A table
(architecture, head, stride, shape, layout, output, INT8 layers int8/float, seconds) is written to
``<basetemp>/families.md`` (and to $OVYOLO_FAMILY_TABLE if set).
"""
import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml
from conftest import make_ultralytics_run

pytestmark = pytest.mark.system

NAMES = ["circle", "square", "triangle"]
# smallest scale of each detection family in Ultralytics 8.4.190 (v3: its tiny model stands for v3, 20x cheaper)
FAMILIES = [
    ("yolov3-tiny.yaml", "ultralytics"), ("yolov5n.yaml", "ultralytics"), ("yolov6n.yaml", "ultralytics"),
    ("yolov8n.yaml", "ultralytics"), ("yolov8n-p6.yaml", "ultralytics"), ("yolov9t.yaml", "ultralytics"),
    ("yolov10n.yaml", "end2end"), ("yolo11n.yaml", "ultralytics"), ("yolo12n.yaml", "ultralytics"),
    ("yolo26n.yaml", "end2end"), ("yolo26n-p6.yaml", "end2end"),
]
# YOLO12's area attention reshapes to (areas x batch, ...) with the product as a constant: no batch but 1
BATCH_ONE_ONLY = {"yolo12n.yaml"}
HW = {32: (64, 96), 64: (128, 192)}
CALIBRATION_IMAGES = 8
ROWS: list[dict] = []


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    yield ROWS
    lines = ["| architecture | head | stride | deploy shape | layout | output | INT8 layers int8 / float | "
             "ignored head ops | s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in ROWS:
        lines.append(f"| {r['arch']} | {r['head']} | {r['stride']} | {r['hw'][0]}x{r['hw'][1]} | {r['layout']} | "
                     f"{' x '.join(map(str, r['output']))} | {r['int8_layers']} / {r['float_layers']} | "
                     f"{r['ignored_ops']} | {r['seconds']:.1f} |")
    text = "\n".join(lines) + "\n"
    for out in filter(None, [Path(tmp_path_factory.getbasetemp()) / "families.md", os.environ.get("OVYOLO_FAMILY_TABLE")]):
        Path(out).write_text(text)
        Path(out).with_suffix(".json").write_text(json.dumps(ROWS, indent=2))


@pytest.fixture(scope="module")
def calibrations(tmp_path_factory, demo_data):
    """One calibration set per deploy shape (train images letterboxed), shared by every model of that shape."""
    from ovyolo.build import calibration
    from ovyolo.data.dataset import load_dataset

    root = tmp_path_factory.mktemp("calibration")
    train = load_dataset(demo_data).images("train")
    out = {}
    for hw in HW.values():
        calibration.build(train, hw, CALIBRATION_IMAGES, root / f"{hw[0]}x{hw[1]}", seed=0)
        out[hw] = root / f"{hw[0]}x{hw[1]}"
    return out


@pytest.mark.parametrize("arch,layout", FAMILIES, ids=[a.removesuffix(".yaml") for a, _ in FAMILIES])
def test_family_through_the_workflow_stages(arch, layout, tmp_path, demo_data, calibrations, table):
    import numpy as np
    import onnx
    import openvino as ov
    from ultralytics import YOLO

    from ovyolo import layouts, sources
    from ovyolo.build.convert import convert
    from ovyolo.build.export import export
    from ovyolo.build.quantize import int8_layers, quantize
    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.letterbox import letterbox, read_rgb, to_tensor
    from ovyolo.deploy.bundle import ULTRALYTICS_DIR, build_bundle
    from ovyolo.ir import BatchError, read_model_info, with_batch
    from ovyolo.measure.evaluate import evaluate
    from ovyolo.measure.runtimes import make_runner, openvino_config

    t0 = time.perf_counter()
    run = make_ultralytics_run(tmp_path / "run", names=NAMES, imgsz=96, model_yaml=arch)
    src = sources.identify_with(run, {"trust_checkpoint": True})
    stride = 64 if "-p6" in arch else 32
    assert src.stride == stride and src.output_layout == layout
    sources.save(src, tmp_path / "source.json")
    src = sources.read(tmp_path / "source.json")  # what the later stages read
    hw = HW[stride]
    base = tmp_path / f"{hw[0]}x{hw[1]}"
    onnx_path = export(src, hw, base / "model.onnx")
    out_dims = [d.dim_value for d in onnx.load(str(onnx_path)).graph.output[0].type.tensor_type.shape.dim]
    assert layouts.fits(layout, out_dims, len(NAMES))
    assert {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}["stride"] == str(stride)
    fp32 = convert(onnx_path, hw, "fp32", base / "fp32")
    summary = quantize(fp32, calibrations[hw], hw, base / "int8")
    int8 = base / "int8" / "model.xml"
    counts = int8_layers(int8)
    assert counts["int8"] > 0 and int8_layers(fp32)["int8"] == 0
    images = load_dataset(demo_data).images("val")
    for variant, xml in (("openvino-fp32", fp32), ("openvino-int8", int8)):
        ev = evaluate(make_runner(variant, xml=xml, threads=2, hw=hw).infer, images, hw, NAMES, layout)
        assert ev.result["layout"] == layout and ev.result["images"] == len(images)
        assert ev.raw.shape[1:] == tuple(out_dims[1:])
        meta = yaml.safe_load((Path(xml).parent / "metadata.yaml").read_text())
        assert meta["stride"] == stride and meta["layout"] == layout and read_model_info(xml)["stride"] == stride
    # the INT8 IR at batch 3 (ovyolo.ir.with_batch, what the pipeline runs): per image, exactly batch 1's outputs
    xs = np.concatenate([to_tensor(letterbox(read_rgb(p), hw)[0]) for p in images[:3]])
    core, cfg = ov.Core(), openvino_config(2, "f32", "LATENCY")
    one = core.compile_model(str(int8), "CPU", cfg)
    if arch in BATCH_ONE_ONLY:
        with pytest.raises(BatchError, match="; use batch 1$"):
            with_batch(core.read_model(str(int8)), 3, int8)
    else:
        three = core.compile_model(with_batch(core.read_model(str(int8)), 3, int8), "CPU", cfg)
        assert np.array_equal(three(xs)[0], np.concatenate([one(x[None])[0] for x in xs]))
    for precision, xml in (("fp32", fp32), ("int8", int8)):
        bundle = base / "bundles" / precision
        manifest = build_bundle(Path(xml).parent, bundle, hw, precision)
        assert manifest["ultralytics_loadable"]
        ymeta = yaml.safe_load((bundle / ULTRALYTICS_DIR / "metadata.yaml").read_text())
        assert ymeta["stride"] == stride and ymeta["end2end"] is (layout == "end2end")
    model = YOLO(str(base / "bundles" / "int8" / ULTRALYTICS_DIR))
    res = model.predict(str(images[0]), imgsz=list(hw), conf=0.001, verbose=False)
    assert len(res) == 1 and model.predictor.model.end2end is (layout == "end2end")
    assert int(model.predictor.model.stride) == stride
    head = src.head_class
    shutil.rmtree(tmp_path / "run")
    table.append({"arch": arch.removesuffix(".yaml"), "head": head, "heads": src.heads, "stride": stride,
                  "hw": list(hw), "layout": layout, "output": out_dims, "int8_layers": counts["int8"],
                  "float_layers": counts["float"], "float_names": counts["float_names"],
                  "ignored_ops": summary["ignored_ops"], "seconds": time.perf_counter() - t0})
