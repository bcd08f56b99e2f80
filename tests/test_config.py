import copy
from pathlib import Path

import pytest
import yaml

from ovyolo.config import validate
from ovyolo.errors import WorkflowError

REPO = Path(__file__).resolve().parent.parent
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def test_default_config_is_valid_and_defaults_are_filled():
    cfg = validate({"models": {"m": {"source": "demo", "data": "demo"}}})
    assert cfg["models"]["m"]["imgsz"] == "auto"
    assert cfg["models"]["m"]["trust_checkpoint"] is False
    assert cfg["calibration"]["size"] == 300
    assert cfg["demo"]["train"]["epochs"] == 18 and cfg["evaluation"]["bf16"] == "auto"
    assert cfg["demo"]["frame"] == [360, 640]  # a default beside a $ref
    partial = validate({"models": {"m": {"source": "demo", "data": "demo"}}, "demo": {"seed": 3, "train": {"epochs": 2}}})
    assert partial["demo"]["frame"] == [360, 640] and partial["demo"]["train"]["batch"] == 8
    validate(copy.deepcopy(DEFAULT))


@pytest.mark.parametrize(
    "patch, needle",
    [
        ({"models": {"demo": {"source": "demo", "data": "demo", "imgsiz": 3}}}, "unknown key 'models.demo.imgsiz'"),
        ({"calibration": {"size": 0}}, "calibration.size"),
        ({"calibration": {"sise": 10}}, "unknown key 'calibration.sise'"),
        ({"models": {"demo": {"source": "demo", "data": "demo", "imgsz": "big"}}}, "models.demo.imgsz"),
        ({"quantization": {"preset": "fast"}}, "quantization.preset"),
        ({"models": {"demo": {"source": "demo", "data": "demo", "family": "yolov9"}}}, "models.demo.family"),
        ({"evaluation": {"variants": ["openvino-int4"]}}, "evaluation.variants.0"),
        ({"models": {"bad/name": {"source": "demo", "data": "demo"}}}, "bad/name"),
        ({"models": {"demo": {"data": "demo"}}}, "'source' is a required property"),
    ],
)
def test_bad_config_gives_one_line_naming_the_key(patch, needle):
    cfg = copy.deepcopy(DEFAULT)
    cfg.update(patch)
    with pytest.raises(WorkflowError) as exc:
        validate(cfg)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg


def test_the_demo_trainer_defaults_are_the_configs():
    """tests/trained_demo.py trains "as the workflow's default demo" by calling train_demo with its defaults."""
    import inspect

    from ovyolo.demo import train_demo

    train = validate({"models": {"m": {"source": "demo", "data": "demo"}}})["demo"]["train"]
    params = inspect.signature(train_demo).parameters
    assert {k: params[k].default for k in train} == train
