import copy
from pathlib import Path

import pytest
import yaml

from ovyolo.config import validate
from ovyolo.errors import WorkflowError

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def test_default_config_is_valid_and_defaults_are_filled():
    cfg = validate({"models": {"m": {"source": "demo", "data": "demo"}}})
    assert cfg["models"]["m"]["imgsz"] == "auto"
    assert cfg["models"]["m"]["trust_checkpoint"] is False
    assert cfg["calibration"]["size"] == 300
    assert cfg["demo"]["train"]["epochs"] == 24 and cfg["evaluation"]["bf16"] == "auto"
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


def test_the_demo_takes_its_defaults_from_the_schema_only():
    """tests/trained_demo.py trains "as the workflow's default demo": train_demo and generate_demo_dataset have no
    default of their own for a config key (None / unset = the schema's), and refuse a key the schema does not have."""
    import inspect

    from ovyolo.data.demo import generate_demo_dataset, train_demo

    gen = inspect.signature(generate_demo_dataset).parameters
    for key in ("seed", "n_train", "n_val", "frame_hw", "names", "object_size"):
        assert gen[key].default is None, key
    train = inspect.signature(train_demo).parameters
    assert train["seed"].default is None and "settings" in train and "epochs" not in train
    with pytest.raises(WorkflowError, match="unknown demo.train setting"):
        train_demo("no.yaml", "nowhere", epoch=3)


IMGSZ_EXAMPLES = [
    ("auto", ["auto"]),
    (640, [(640, 640)]),
    ([736, 1280], [(736, 1280)]),  # one h x w (the schema's oneOf used to match it twice and refuse it)
    ([[736, 1280], 640], [(736, 1280), (640, 640)]),
    (["auto", 640], ["auto", (640, 640)]),
    (["auto", [736, 1280]], ["auto", (736, 1280)]),
    ([720, 1280], [(720, 1280)]),  # the schema takes it; discovery names the nearest stride multiples
]


@pytest.mark.parametrize("imgsz, shapes", IMGSZ_EXAMPLES)
def test_imgsz_grammar_through_the_schema(imgsz, shapes):
    from ovyolo.shapes import parse_imgsz

    cfg = validate({"models": {"m": {"source": "demo", "data": "demo", "imgsz": imgsz}}})
    assert parse_imgsz(cfg["models"]["m"]["imgsz"]) == shapes


@pytest.mark.parametrize("bad", ["big", 16, [736, 20], [], [[1, 2, 3]], [["auto", 640]], [True, 640], 3.5])
def test_schema_and_parser_refuse_the_same_imgsz(bad):
    from ovyolo.shapes import parse_imgsz

    with pytest.raises(WorkflowError) as exc:
        validate({"models": {"m": {"source": "demo", "data": "demo", "imgsz": bad}}})
    assert str(exc.value).startswith("config error at models.m.imgsz: ") and "[h, w]" in str(exc.value)
    if bad not in (16, [736, 20]):  # sizes below the schema's minimum 32 are the schema's business only
        with pytest.raises(WorkflowError):
            parse_imgsz(bad)


def test_the_configuration_reference_is_the_schema():
    """config/README.md is generated from the schema (python -m ovyolo config-reference > config/README.md): a key,
    default or description changed in one and not the other fails here."""
    from pathlib import Path

    from ovyolo.config import defaults, reference

    text = reference()
    assert (Path(__file__).resolve().parent.parent / "config" / "README.md").read_text() == text
    for section, keys in defaults().items():  # every key of every section is in it, with its default
        for key, value in (keys.items() if isinstance(keys, dict) else []):
            if not isinstance(value, dict):
                assert f"| `{section}.{key}` |" in text
