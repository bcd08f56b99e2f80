"""The detections gallery: disagreement between two detection sets, and the side-by-side image on a real IR."""
import numpy as np
import pytest

from ovyolo.report.gallery import build, disagreement

pytestmark = pytest.mark.component


def _det(*rows):
    return np.asarray(rows, dtype=np.float32).reshape(-1, 6)


def test_disagreement_known_answers():
    a = _det([0, 0, 10, 10, 0.9, 0], [20, 20, 30, 30, 0.8, 1])
    assert disagreement(a, a) == 0.0
    assert disagreement(a, _det()) == 1.0 and disagreement(_det(), _det()) == 0.0
    # one of two boxes found again (same class, IoU 0.81), the other missed: 2 of 3 boxes matched
    assert abs(disagreement(a, _det([0, 0, 9, 9, 0.7, 0])) - (1 - 2 / 3)) < 1e-9
    # the same box with another class is no match
    assert disagreement(_det([0, 0, 10, 10, 0.9, 0]), _det([0, 0, 10, 10, 0.9, 2])) == 1.0


def test_gallery_ranks_the_images_where_two_irs_differ_first(trained_irs, tmp_path):
    """On the trained demo, true f32 against a careless INT8 that finds other boxes: the images come sorted by their
    largest disagreement, which is what disagreement() gives for the two IRs' detections on that image."""
    from ovyolo.data.dataset import load_dataset
    from ovyolo.data.letterbox import read_rgb
    from ovyolo.deploy.predict import load

    images = load_dataset(trained_irs["demo"]["data"]).images("val")
    irs = {"openvino-fp32": trained_irs["fp32"], "openvino-int8": trained_irs["int8_careless"]}
    rows = build(irs, images, tmp_path / "g.png", show=2, scan=len(images))  # the trained demo: few images differ
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG" and len(rows) == len(images)
    dis = [r["disagreement"]["openvino-int8"] for r in rows]
    assert dis == sorted(dis, reverse=True) and dis[0] > 0, dis  # the two IRs differ, and the worst comes first
    fp32, int8 = (load(x, threads=2) for x in irs.values())
    rgb = read_rgb(rows[0]["image"])
    assert disagreement(fp32.detect(rgb), int8.detect(rgb)) == dis[0]
