"""Every model a docs YAML snippet configures goes through identification and discovery on a small real model.

The snippet's paths are replaced by generated stand-ins of the same kind (tests/doc_snippets.py, rule 2): an
untrained YOLOv5u-n Ultralytics run (args.yaml imgsz 320), its ONNX export (dynamic input, Ultralytics' own
exporter), an original YOLOv5 run (YOLOv5's own code) with a clone-style YOLOv5 tree for ``yolov5_repo``, and a
generated 360x640 data set. Then: the schema (:func:`ovyolo.config.validate`), identification
(:func:`ovyolo.sources.identify_with`) and discovery (:func:`ovyolo.discover.discover_model`), as the workflow's
first two jobs run them. Also here, through the same path (schema + identification + discovery, not ``discover()``
alone): ``imgsz: [736, 1280]`` deploys at 736x1280 and ``[720, 1280]`` is one line naming 736x1280.
"""
import copy
import json

import doc_snippets as docs
import pytest
from conftest import make_ultralytics_run

from ovyolo.config import validate
from ovyolo.discover import discover_model
from ovyolo.errors import WorkflowError
from ovyolo.shapes import AUTO, parse_imgsz
from ovyolo.sources import identify_with

pytestmark = [pytest.mark.component, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

NAMES = ["circle", "square", "triangle"]
MODEL_BLOCKS = [b for b in docs.yaml_blocks() if "models" in docs.load_yaml(b)]


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory, demo_data):
    from ultralytics import YOLO
    from yolov5_runs import clone_from_pip, make_yolov5_run

    root = tmp_path_factory.mktemp("stand_ins")
    run = make_ultralytics_run(root / "runs/detect/train", imgsz=320, names=NAMES)
    onnx = YOLO(str(run / "weights/best.pt")).export(format="onnx", dynamic=True, imgsz=320, simplify=False,
                                                     verbose=False)
    return {"run": run, "onnx": onnx, "data": demo_data,
            "yolov5_run": make_yolov5_run(root / "yolov5/runs/train/exp", imgsz=320, nc=3, names=NAMES),
            "yolov5_repo": clone_from_pip(root / "yolov5-clone")}


def identify_and_discover(cfg: dict, tmp_path) -> dict:
    """(model -> shape.json record) for every model of a validated config, as identify_source + discover_shape."""
    out = {}
    for name, settings in cfg["models"].items():
        info = identify_with(settings["source"], settings)
        out[name] = discover_model(name, info, settings["data"], settings, tmp_path / f"{name}.json")
    return out


@pytest.mark.parametrize("block", MODEL_BLOCKS, ids=[b.id for b in MODEL_BLOCKS])
def test_model_snippet_is_identified_and_discovered(block, stand_ins, tmp_path):
    raw = docs.substitute_config(docs.load_yaml(block), stand_ins)
    cfg = validate(copy.deepcopy(raw))
    records = identify_and_discover(cfg, tmp_path)
    assert set(records) == set(cfg["models"])
    for name, rec in records.items():
        shapes = [(s["h"], s["w"]) for s in rec["shapes"]]
        assert shapes and json.loads((tmp_path / f"{name}.json").read_text())["shapes"] == rec["shapes"]
        wanted = parse_imgsz(cfg["models"][name]["imgsz"])
        # every explicit size of the snippet is a deploy shape; auto adds the discovered one (192x320 here)
        assert [hw for hw in wanted if hw != AUTO] == [hw for hw in shapes if hw in wanted]
        if AUTO in wanted and rec["family"] != "onnx":
            assert (192, 320) in shapes, (name, rec["shapes"])
        family = "yolov5" if "yolov5_repo" in raw["models"][name] else \
            "onnx" if str(raw["models"][name]["source"]).endswith(".onnx") else "ultralytics"
        assert rec["family"] == family, (name, rec["family"])


def user_config(stand_ins, imgsz) -> dict:
    return {"models": {"cars": {"source": str(stand_ins["run"]), "data": str(stand_ins["data"]),
                                "trust_checkpoint": True, "imgsz": imgsz}}}


def test_imgsz_736x1280_in_a_users_config_deploys_at_736x1280(stand_ins, tmp_path):
    cfg = validate(user_config(stand_ins, [736, 1280]))  # the schema used to refuse exactly this
    rec = identify_and_discover(cfg, tmp_path)["cars"]
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(736, 1280)]
    assert rec["shapes"][0]["reason"] == "explicit imgsz [736, 1280] from config"
    cfg = validate(user_config(stand_ins, [[736, 1280], "auto"]))
    rec = identify_and_discover(cfg, tmp_path)["cars"]
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(736, 1280), (192, 320)]


def test_imgsz_720x1280_is_one_line_naming_736x1280(stand_ins, tmp_path):
    cfg = validate(user_config(stand_ins, [720, 1280]))
    with pytest.raises(WorkflowError) as exc:
        identify_and_discover(cfg, tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("models.cars: imgsz [720, 1280] is not a multiple of the model stride 32")
    assert msg.endswith("use [736, 1280] (736x1280) or [704, 1280] (704x1280)")
    assert not (tmp_path / "cars.json").exists()
