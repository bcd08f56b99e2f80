import pytest

from ovyolo.errors import WorkflowError
from ovyolo.shapes import (
    check_stride,
    deploy_shape,
    discover,
    hw_name,
    model_and_shape,
    parse_hw,
    parse_imgsz,
    train_imgsz,
)
from ovyolo.sources import read_train_args

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "imgsz, frame, expected",
    [
        (1280, (720, 1280), (736, 1280)),
        (320, (360, 640), (192, 320)),
        (640, (640, 640), (640, 640)),
        (640, (1280, 720), (640, 384)),  # portrait 9:16
        (640, (480, 640), (480, 640)),  # 4:3 fits exactly
        (1280, (1080, 1920), (736, 1280)),
    ],
)
def test_deploy_shape(imgsz, frame, expected):
    assert deploy_shape(imgsz, 32, frame) == expected


def test_discover_16_9_video_frames():
    rec = discover(train_size=1280, train_size_from="opt.yaml", stride=32, frame_sizes=[(720, 1280)] * 97 + [(480, 640)] * 3)
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(736, 1280)]
    assert "opt.yaml" in rec["shapes"][0]["reason"] and "97%" in rec["shapes"][0]["reason"]


def test_discover_demo_frames():
    rec = discover(train_size=320, train_size_from="args.yaml", stride=32, frame_sizes=[(360, 640)] * 10)
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(192, 320)]


def test_square_data_gives_square():
    rec = discover(train_size=640, train_size_from="args.yaml", stride=32, frame_sizes=[(500, 500)] * 5)
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(640, 640)]


def test_mixed_aspect_ratios_give_square_and_say_so():
    frames = [(720, 1280)] * 5 + [(480, 640)] * 5
    rec = discover(train_size=640, train_size_from="args.yaml", stride=32, frame_sizes=frames)
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(640, 640)]
    assert "mixed" in rec["shapes"][0]["reason"]


def test_square_requested():
    rec = discover(train_size=320, train_size_from="args.yaml", stride=32, frame_sizes=[(360, 640)], square=True)
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(320, 320)]


def test_explicit_imgsz_wins():
    rec = discover(train_size=320, train_size_from="args.yaml", stride=32, frame_sizes=[(360, 640)], imgsz_spec=[736, 1280])
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(736, 1280)]
    rec = discover(train_size=None, train_size_from="", stride=32, frame_sizes=[], imgsz_spec=640)
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(640, 640)]
    rec = discover(train_size=320, train_size_from="", stride=32, frame_sizes=[], imgsz_spec=[[192, 320], 640])
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(192, 320), (640, 640)]


def test_non_multiple_of_stride_rejected_with_nearest_shapes():
    # the rounded-up shape first (as discovery rounds up), then the other one at the same distance
    with pytest.raises(WorkflowError, match=r"imgsz \[720, 1280\] is not a multiple of the model stride 32; use \[736, 1280\] \(736x1280\) or \[704, 1280\] \(704x1280\)$"):
        discover(train_size=1280, train_size_from="", stride=32, frame_sizes=[], imgsz_spec=[720, 1280])
    with pytest.raises(WorkflowError, match=r"use \[320, 320\] \(320x320\) or \[352, 320\]"):
        check_stride((330, 320), 32)  # the nearest first
    with pytest.raises(WorkflowError, match=r"use \[640, 640\] \(640x640\) or \[672, 672\] \(672x672\)$"):
        check_stride((650, 650), 32)  # a square size gets square options
    with pytest.raises(WorkflowError, match=r"stride 64; use \[768, 1280\] \(768x1280\) or \[704, 1280\]"):
        check_stride((736, 1280), 64)  # P6 models


def test_no_train_size_and_no_imgsz_is_a_clear_error():
    with pytest.raises(WorkflowError, match="set 'imgsz:'"):
        discover(train_size=None, train_size_from="", stride=32, frame_sizes=[(360, 640)])


def test_auto_inside_a_list_adds_the_discovered_shape():
    rec = discover(train_size=320, train_size_from="args.yaml", stride=32, frame_sizes=[(360, 640)] * 4, imgsz_spec=["auto", 640])
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(192, 320), (640, 640)]
    assert "360x640" in rec["shapes"][0]["reason"] and "explicit" in rec["shapes"][1]["reason"]
    rec = discover(train_size=320, train_size_from="args.yaml", stride=32, frame_sizes=[(360, 640)], imgsz_spec=["auto", [192, 320]])
    assert [(s["h"], s["w"]) for s in rec["shapes"]] == [(192, 320)]


@pytest.mark.parametrize(
    "spec, parsed",
    [
        ("auto", ["auto"]),
        (None, ["auto"]),
        (640, [(640, 640)]),
        ([736, 1280], [(736, 1280)]),  # a list of exactly two ints is one h x w, never two squares
        ([[736, 1280]], [(736, 1280)]),
        ([[736, 1280], 640], [(736, 1280), (640, 640)]),
        (["auto", 640], ["auto", (640, 640)]),
        ([640, "auto"], [(640, 640), "auto"]),
        (["auto", [736, 1280]], ["auto", (736, 1280)]),
        ([[640, 640], 320], [(640, 640), (320, 320)]),  # two squares
        ([640], [(640, 640)]),
        ([640, 320, 256], [(640, 640), (320, 320), (256, 256)]),
        ([640, 640, [640, 640]], [(640, 640)]),  # duplicates once
    ],
)
def test_parse_imgsz_grammar(spec, parsed):
    assert parse_imgsz(spec) == parsed


@pytest.mark.parametrize("bad", ["big", True, [], [[1, 2, 3]], 3.5, [[True, 3]], [["auto", 640]], [[640]], [True, 640]])
def test_parse_imgsz_rejects(bad):
    with pytest.raises(WorkflowError, match=r"a list of exactly two ints is always one \[h, w\]"):
        parse_imgsz(bad)


def test_train_args_files(tmp_path):
    run = tmp_path / "exp"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.pt").write_bytes(b"")
    (run / "opt.yaml").write_text("imgsz:\n- 1280\n- 1280\nrect: false\n")
    args, where = read_train_args(run / "weights" / "best.pt")
    assert where == "opt.yaml" and train_imgsz(args) == 1280
    (run / "args.yaml").write_text("imgsz: 640\nrect: true\n")
    args, where = read_train_args(run)
    assert where == "args.yaml" and train_imgsz(args) == 640
    assert train_imgsz({"img_size": [416, 416]}) == 416


def test_one_parser_reads_the_path_scheme(tmp_path):
    assert parse_hw("736x1280") == (736, 1280) and hw_name((736, 1280)) == "736x1280"
    assert model_and_shape("results/demo/736x1280") == ("demo", (736, 1280))
    assert model_and_shape(tmp_path / "cams" / "160x256" / "int8" / "metrics.json") == ("cams", (160, 256))
    with pytest.raises(WorkflowError, match=r"not inside a results/\{model\}/\{h\}x\{w\} folder"):
        model_and_shape("results/demo/int8")
    with pytest.raises(WorkflowError, match="not a shape"):
        parse_hw("160x")
