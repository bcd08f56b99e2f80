"""Users' data sets, read as Ultralytics reads them: Roboflow paths, EXIF orientation, polygon rows; never written."""
import hashlib
import logging
import os

import numpy as np
import pytest
from PIL import Image
from trained_demo import HW, trained_demo

from ovyolo.data.dataset import image_sizes, label_path, load_dataset, read_labels
from ovyolo.data.letterbox import read_rgb

pytestmark = pytest.mark.system

NAMES = ["circle", "square", "triangle"]


def tree_state(root):
    """Every file and folder under root with its size, mtime and content hash (symlinks by their target)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            digest = hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.isfile(p) else None
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns, digest)
    return out


# --------------------------------------------------------------------------- unit level

def _exif(orientation):
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex.tobytes()


def test_exif_orientation_6_jpeg_reads_upright_like_ultralytics(tmp_path):
    from ultralytics.data.utils import exif_size
    from ultralytics.utils.patches import imread

    a = np.zeros((100, 200, 3), np.uint8)
    a[:10, :, 0] = 255  # a red band along the stored image's top edge
    Image.fromarray(a).save(tmp_path / "o6.jpg", exif=_exif(6), quality=95)
    assert image_sizes([tmp_path / "o6.jpg"]) == [(200, 100)]
    with Image.open(tmp_path / "o6.jpg") as im:
        assert exif_size(im)[::-1] == (200, 100)
    ours = read_rgb(tmp_path / "o6.jpg")
    theirs = imread(str(tmp_path / "o6.jpg"))[..., ::-1]
    assert ours.shape == (200, 100, 3)
    np.testing.assert_array_equal(ours, theirs)
    assert ours[:, -5:, 0].mean() > 200 and ours[:, :5, 0].mean() < 50  # rotated 90 CW: the band is now on the right


def test_roboflow_layout_resolves_like_check_det_dataset(tmp_path):
    from ultralytics.data.utils import check_det_dataset

    ds = tmp_path / "export"
    for split in ("train", "valid"):
        (ds / split / "images").mkdir(parents=True)
        (ds / split / "labels").mkdir(parents=True)
        Image.new("RGB", (64, 48)).save(ds / split / "images" / f"{split}1.jpg")
    (ds / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnc: 3\nnames: [circle, square, triangle]\n")
    before = tree_state(ds)
    ours = load_dataset(ds / "data.yaml")
    theirs = check_det_dataset(str(ds / "data.yaml"), autodownload=False)
    assert [str(p.parent) for p in ours.images("train")] == [theirs["train"]]
    assert [str(p.parent) for p in ours.images("val")] == [theirs["val"]]
    assert ours.names == NAMES
    assert tree_state(ds) == before


def test_polygon_rows_become_their_bounding_box_like_ultralytics(tmp_path, caplog):
    from ultralytics.data.utils import verify_image_label

    img = tmp_path / "images" / "a.png"
    img.parent.mkdir()
    Image.new("RGB", (64, 48)).save(img)
    lab = label_path(img)
    lab.parent.mkdir()
    lab.write_text("1 0.1 0.2 0.5 0.1 0.6 0.7 0.2 0.6\n0 0.3 0.3 0.4 0.3 0.35 0.5\n1 0.1 0.2 0.5 0.1 0.6 0.7 0.2 0.6\n")
    ours = read_labels(img)
    theirs = verify_image_label((str(img), str(lab), "", False, 3, 0, 0, False))[1]
    assert len(ours) == 2  # the duplicate polygon dropped
    np.testing.assert_allclose(np.unique(ours, axis=0), np.unique(theirs, axis=0), atol=1e-6)
    np.testing.assert_allclose(ours[0], [1, 0.35, 0.4, 0.5, 0.6])
    assert "duplicate" in caplog.text
    # a file that mixes polygons and boxes: each row by its own kind, and a warning saying Ultralytics drops it
    lab.write_text("1 0.1 0.2 0.5 0.1 0.6 0.7 0.2 0.6\n2 0.5 0.5 0.2 0.2\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        np.testing.assert_allclose(read_labels(img), [[1, 0.35, 0.4, 0.5, 0.6], [2, 0.5, 0.5, 0.2, 0.2]])
    assert "mixes polygon and box rows" in caplog.text and str(lab) in caplog.text


# --------------------------------------------------------------------------- the demo, re-delivered

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return trained_demo(tmp_path_factory)


def _polygon_rows(label_text):
    """Each box row as a hexagon touching the box's four sides (same bounding box)."""
    rows = []
    for line in label_text.splitlines():
        c, x, y, w, h = (float(v) for v in line.split())
        x1, y1, x2, y2 = x - w / 2, y - h / 2, x + w / 2, y + h / 2
        pts = [(x1, y), (x1 + w / 4, y1), (x2 - w / 4, y1), (x2, y), (x2 - w / 4, y2), (x1 + w / 4, y2)]
        rows.append(f"{int(c)} " + " ".join(f"{v:.6f}" for p in pts for v in p))
    return "".join(r + "\n" for r in rows)


STORE = {6: lambda a: np.rot90(a, 1), 8: lambda a: np.rot90(a, -1), 3: lambda a: np.rot90(a, 2)}


def redeliver(data_yaml, out):
    """The demo data set as a Roboflow export: ``export/{train,valid}/{images,labels}``, a data.yaml with ``../``
    paths; every second val image stored rotated with the EXIF orientation that turns it upright again (as a PNG
    with an eXIf chunk beside the JPEGs: lossless, so the upright pixels are exactly the original's as read), every
    third label file written as polygons."""
    ds = load_dataset(data_yaml)
    for split, folder in (("train", "train"), ("val", "valid")):
        (out / folder / "images").mkdir(parents=True)
        (out / folder / "labels").mkdir(parents=True)
        for i, f in enumerate(ds.images(split)):
            dst = out / folder / "images" / f.name
            text = label_path(f).read_text()
            if split == "val" and i % 2:
                orientation = (6, 8, 3)[(i // 2) % 3]
                stored = STORE[orientation](read_rgb(f))  # the pixels our reader sees in the original
                Image.fromarray(np.ascontiguousarray(stored)).save(dst.with_suffix(".png"), exif=_exif(orientation))
            else:
                dst.write_bytes(f.read_bytes())
            (out / folder / "labels" / f"{f.stem}.txt").write_text(_polygon_rows(text) if i % 3 == 0 else text)
    (out / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 3\nnames: ['circle', 'square', 'triangle']\n"
        "\nroboflow:\n  workspace: demo\n  version: 1\n")
    return out / "data.yaml"


def test_redelivered_demo_gives_the_same_shape_and_map_and_stays_untouched(demo, tmp_path):
    from ovyolo.build import calibration
    from ovyolo.discover import discover_model
    from ovyolo.measure.evaluate import evaluate
    from ovyolo.measure.runtimes import make_runner
    from ovyolo.sources import identify

    user = redeliver(demo["data"], tmp_path / "export")
    before = tree_state(user.parent)
    # really delivered rotated: half the val files have swapped header sizes
    raw_sizes = {Image.open(f).size for f in sorted((user.parent / "valid/images").iterdir())}
    assert raw_sizes == {(640, 360), (360, 640)}

    settings = {"trust_checkpoint": True}
    shapes = [discover_model("m", demo["run"], y, settings, tmp_path / f"shape{i}.json")["shapes"]
              for i, y in enumerate((demo["data"], user))]
    assert shapes[0] == shapes[1]
    hw = (shapes[0][0]["h"], shapes[0][0]["w"])
    assert hw == HW

    runner = make_runner("torch", source=identify(demo["weights"], trusted=True), threads=2, hw=hw)
    results = []
    for y in (demo["data"], user):
        ds = load_dataset(y)
        results.append(evaluate(runner.infer, ds.images("val"), hw, ds.names, "ultralytics").result)
    assert results[0]["images"] == results[1]["images"] and results[0]["instances"] == results[1]["instances"]
    assert results[1]["mAP50_95"] == pytest.approx(results[0]["mAP50_95"], abs=0.002)
    assert results[1]["mAP50"] == pytest.approx(results[0]["mAP50"], abs=0.002)
    assert results[0]["mAP50_95"] > 0.2

    calibration.build(load_dataset(user).images("train"), hw, 16, tmp_path / "cal")
    assert tree_state(user.parent) == before


def test_ultralytics_int8_reference_writes_nothing_into_the_data_set(demo, tmp_path):
    """Ultralytics' export(int8=True) builds a training data set, which writes labels.cache beside the labels."""
    from ovyolo.build.ultralytics_int8 import export_ultralytics_int8

    user = redeliver(demo["data"], tmp_path / "export")
    before = tree_state(user.parent)
    xml = export_ultralytics_int8(demo["weights"], HW, user, tmp_path / "uint8")
    assert xml.is_file()
    assert tree_state(user.parent) == before
    assert not list(user.parent.rglob("*.cache"))
