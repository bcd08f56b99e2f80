"""The demo's generated data: one colour and one shape per class, objects of the configured size, and native-scale
crops that keep every object's pixel size (the seed configuration trains on them)."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from ovyolo.data.dataset import load_dataset, read_labels
from ovyolo.data.demo import PALETTE, cut_native_crops, generate_demo_dataset
from ovyolo.errors import WorkflowError

pytestmark = pytest.mark.unit


def _boxes_px(image: Path) -> tuple[np.ndarray, np.ndarray]:
    img = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
    lab = read_labels(image)
    h, w = img.shape[:2]
    xyxy = np.stack([(lab[:, 1] - lab[:, 3] / 2) * w, (lab[:, 2] - lab[:, 4] / 2) * h,
                     (lab[:, 1] + lab[:, 3] / 2) * w, (lab[:, 2] + lab[:, 4] / 2) * h], axis=1)
    return lab, xyxy


def test_each_class_has_its_own_colour_and_objects_have_the_configured_size(tmp_path):
    data = generate_demo_dataset(tmp_path, n_train=0, n_val=12, frame_hw=(180, 320), object_size=(0.2, 0.3))
    seen = set()
    for image in load_dataset(data).images("val"):
        img = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB).astype(float)
        lab, xyxy = _boxes_px(image)
        for (cls, *_), (x1, y1, x2, y2) in zip(lab, xyxy):
            side = x2 - x1
            assert 36 - 1 <= side <= 54 + 1 and abs((y2 - y1) - side) < 1  # 0.2-0.3 of the short side 180
            centre = img[int((y1 + y2) / 2) - 2:int((y1 + y2) / 2) + 3, int((x1 + x2) / 2) - 2:int((x1 + x2) / 2) + 3]
            colour = centre.reshape(-1, 3).mean(0)
            nearest = int(np.argmin([np.abs(colour - p).sum() for p in PALETTE]))
            assert nearest == int(cls), (image, cls, colour)
            seen.add(int(cls))
    assert seen == {0, 1, 2}


def test_a_wrong_object_size_is_one_clear_error(tmp_path):
    with pytest.raises(WorkflowError, match=r"demo.object_size must be \[min, max\]"):
        generate_demo_dataset(tmp_path, n_train=1, n_val=1, object_size=(0.3, 0.2))


def test_native_crops_keep_each_objects_pixel_size(tmp_path):
    data = generate_demo_dataset(tmp_path / "ds", n_train=10, n_val=0, frame_hw=(360, 640), object_size=(0.15, 0.3))
    frames = load_dataset(data).images("train")
    crops = cut_native_crops(frames, tmp_path / "crops", 128, seed=0)
    n_objects = sum(len(read_labels(f)) for f in frames)
    assert len(crops) == n_objects  # one crop per object, each holding it whole
    frame_sides = sorted(round(float(s), 1) for f in frames for s in _boxes_px(f)[1][:, 2] - _boxes_px(f)[1][:, 0])
    for crop in crops:
        img = cv2.imread(str(crop))
        assert img.shape[:2] == (128, 128)
        lab, xyxy = _boxes_px(crop)
        sides = [(float(x2 - x1), float(y2 - y1)) for x1, y1, x2, y2 in xyxy]
        # the object the crop was cut for is in it whole, at the pixel size it has in its frame (no rescaling)
        assert any(abs(w - h) < 0.2 and min(abs(w - f) for f in frame_sides) <= 0.2 for w, h in sides), (crop, sides)
