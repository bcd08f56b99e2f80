import numpy as np
import pytest

from ovyolo.data.letterbox import PAD_VALUE, geometry, letterbox, read_rgb, to_tensor

pytestmark = pytest.mark.unit


def test_geometry_16_9_into_192x320():
    g = geometry((360, 640), (192, 320))
    assert g.scale == pytest.approx(0.5)
    assert (g.new_h, g.new_w) == (180, 320)
    assert (g.top, g.left) == (6, 0)


def test_geometry_720p_into_736x1280_and_square():
    g = geometry((720, 1280), (736, 1280))
    assert (g.scale, g.new_h, g.new_w, g.top, g.left) == (1.0, 720, 1280, 8, 0)
    g = geometry((720, 1280), (640, 640))
    assert (g.new_h, g.new_w, g.top, g.left) == (360, 640, 140, 0)


def test_letterbox_pixels_and_box_round_trip():
    img = np.zeros((360, 640, 3), np.uint8)
    img[100:200, 300:400] = 255
    canvas, g = letterbox(img, (192, 320))
    assert canvas.shape == (192, 320, 3)
    assert (canvas[:6] == PAD_VALUE).all() and (canvas[-6:] == PAD_VALUE).all()
    # the white square lands where the geometry says
    box = g.boxes_to_canvas(np.array([[300, 100, 400, 200]]))[0]
    assert box.tolist() == pytest.approx([150, 56, 200, 106])
    assert canvas[60:100, 155:195].min() > 200
    back = g.boxes_to_source(box[None])[0]
    assert back.tolist() == pytest.approx([300, 100, 400, 200])


def test_read_rgb_converts_gray_rgba_and_16bit(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((10, 20), 77, np.uint8), "L").save(tmp_path / "g.png")
    Image.fromarray(np.full((10, 20, 4), 99, np.uint8), "RGBA").save(tmp_path / "a.png")
    Image.fromarray(np.full((10, 20), 65535, np.uint16)).save(tmp_path / "d.png")
    for name, value in (("g.png", 77), ("a.png", 99), ("d.png", 255)):
        arr = read_rgb(tmp_path / name)
        assert arr.shape == (10, 20, 3) and arr.dtype == np.uint8 and int(arr[0, 0, 0]) == value
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.png"):
        read_rgb(tmp_path / "bad.png")


def test_to_tensor_layout():
    canvas = np.zeros((4, 6, 3), np.uint8)
    canvas[..., 0] = 255
    t = to_tensor(canvas)
    assert t.shape == (1, 3, 4, 6) and t.dtype == np.float32
    assert t[0, 0].max() == 1.0 and t[0, 1].max() == 0.0


def test_to_tensor_is_the_float32_division_bit_for_bit():
    """Every uint8 value, in every channel, RGB and BGR, on a canvas that is a view (a crop): exactly
    float32(v) / 255 in NCHW order, as the plain numpy conversion validation was measured with."""
    values = np.arange(256, dtype=np.uint8)
    canvas = np.stack([values, values[::-1], np.roll(values, 7)], axis=-1).reshape(16, 16, 3)
    canvas = np.pad(canvas, ((2, 0), (0, 3), (0, 0)))[2:, :16]  # not contiguous
    for bgr in (False, True):
        chw = canvas.transpose(2, 0, 1)
        want = (chw[::-1] if bgr else chw)[None].astype(np.float32) / np.float32(255.0)
        got = to_tensor(canvas, bgr=bgr)
        assert got.dtype == np.float32 and got.flags.c_contiguous and got.shape == (1, 3, 16, 16)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), bgr
