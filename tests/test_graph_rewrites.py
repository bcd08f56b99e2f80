"""benchmarks/graph_rewrites.py: the exact rewrites tried for issue #11 keep the FP32 IR's outputs (real IR, real OpenVINO).

On the trained demo: an untrained model's outputs barely depend on its input (doubling its first convolution's
weights moved them by 1e-7 of their range), so it could not tell a wrong rewrite from a right one.
"""
import importlib.util
from pathlib import Path

import pytest

from trained_demo import HW, trained_demo

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "graph_rewrites.py"


@pytest.fixture(scope="module")
def rewrites():
    spec = importlib.util.spec_from_file_location("graph_rewrites", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def demo_ir(tmp_path_factory):
    """The trained demo exported to FP32 IR at its deploy shape, and one letterboxed val image."""
    from ovyolo.bench import load_inputs
    from ovyolo.convert import convert
    from ovyolo.data import load_dataset
    from ovyolo.export import export
    from ovyolo.sources import identify

    demo = trained_demo(tmp_path_factory)
    root = tmp_path_factory.mktemp("rewrites")
    onnx = export(identify(demo["weights"], trusted=True), HW, root / "model.onnx")
    xml = convert(onnx, HW, "fp32", root / "fp32")
    return xml, load_inputs(load_dataset(demo["data"]).images("val"), HW, 1)[0]


@pytest.mark.parametrize("name,places", [("s2d", 1), ("s2d-transpose", 1), ("merge-siblings", None)])
def test_rewrites_are_exact(rewrites, demo_ir, name, places):
    import openvino as ov

    xml, x = demo_ir
    core = ov.Core()
    model, n, rel = rewrites.rewrite_checked(core, xml, name, x, rewrites.f32_output(core, xml, x, 2), 2)
    assert rel <= rewrites.MAX_DIFF_OF_RANGE
    kinds = [op.get_type_name() for op in model.get_ordered_ops()]
    before = [op.get_type_name() for op in core.read_model(str(xml)).get_ordered_ops()]
    if places is not None:
        assert n == places
    if name == "s2d":
        assert "SpaceToDepth" in kinds
    elif name == "s2d-transpose":
        assert kinds.count("Transpose") == before.count("Transpose") + 1
    else:  # YOLOv5u-n: C3 blocks' cv1/cv2 and the head's box/class branches read one tensor each
        assert n >= 3 and kinds.count("Convolution") == before.count("Convolution") - n


def test_a_wrong_rewrite_is_refused(rewrites, demo_ir, monkeypatch):
    import openvino as ov

    def scale_first_conv(model):  # not exact: doubles the first convolution's weights
        import openvino.opset13 as ops

        _, conv = rewrites._first_conv(model)
        w = conv.input_value(1).get_node().get_data() * 2
        conv.input(1).replace_source_output(ops.constant(w).output(0))
        return 1

    monkeypatch.setitem(rewrites.REWRITES, "wrong", scale_first_conv)
    xml, x = demo_ir
    core = ov.Core()
    with pytest.raises(SystemExit, match="the rewrite is wrong"):
        rewrites.rewrite_checked(core, xml, "wrong", x, rewrites.f32_output(core, xml, x, 2), 2)
