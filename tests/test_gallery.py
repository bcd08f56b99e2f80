"""The detections gallery: disagreement between two detection sets, and the side-by-side image on a real IR."""
import numpy as np

from ovyolo.gallery import build, disagreement


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


def test_gallery_of_identical_variants_draws_and_ranks(fp32_ir, demo_data, tmp_path):
    from ovyolo.data import load_dataset

    images = load_dataset(demo_data).images("val")
    rows = build({"openvino-fp32": fp32_ir["xml"], "openvino-int8": fp32_ir["xml"]}, images, tmp_path / "g.png",
                 show=2, scan=4)
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert len(rows) == min(4, len(images)) and all(r["disagreement"] == {"openvino-int8": 0.0} for r in rows)
