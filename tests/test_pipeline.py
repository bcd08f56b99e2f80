"""The image-source -> detections pipeline (ovyolo.deploy.pipeline): the same boxes as one synchronous request at a
time (Detector.detect), results in source order for folders, globs, videos and iterables, memory flat on a video."""
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from ovyolo.report.gallery import matched

pytestmark = pytest.mark.component


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture(scope="module")
def demo_images(trained_irs):
    """The trained demo's val and train images (360x640 JPEGs): 96 images, enough for 100+ detections."""
    from ovyolo.data.dataset import load_dataset

    ds = load_dataset(trained_irs["demo"]["data"])
    return sorted(ds.images("val")) + sorted(ds.images("train"))


@pytest.fixture(scope="module")
def int8(trained_irs):
    """The trained demo's INT8 IR, once as today's one-request detector and once compiled for the pipeline."""
    from ovyolo.deploy.pipeline import PIPELINE_HINT
    from ovyolo.deploy.predict import load

    folder = Path(trained_irs["int8"]).parent
    return load(folder, threads=2), load(folder, threads=2, performance_hint=PIPELINE_HINT)


def write_video(path: Path, frames, size=None, fps=25.0) -> Path:
    import cv2

    writer = None
    for rgb in frames:
        if size is not None:
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        if writer is None:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (rgb.shape[1], rgb.shape[0]))
            assert writer.isOpened()
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_pipeline_finds_the_boxes_of_one_request_at_a_time(int8, demo_images, tmp_path):
    """>= 99% of today's detections (Detector.detect, conf 0.25) matched by the pipeline's (same class, IoU >= 0.9),
    and the other way round, over at least 100 detections; from a folder source, in its sorted order."""
    from ovyolo.data.letterbox import read_rgb
    from ovyolo.deploy.pipeline import Pipeline

    one, fast = int8
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in demo_images:
        (folder / f"{Path(p).parent.name}_{Path(p).name}").symlink_to(p)
    files = sorted(folder.iterdir())
    pipe = Pipeline(fast)
    assert pipe.requests == int(fast.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) >= 1
    results = list(pipe.run(folder))
    assert [r.name for r in results] == [str(f) for f in files] and [r.index for r in results] == list(range(len(files)))
    n_ref = n_got = hit_ref = hit_got = 0
    for f, r in zip(files, results):
        want = one.detect(read_rgb(f))
        assert (r.height, r.width) == (360, 640) and r.error is None
        assert (want[:, 4] > 0.25).all() and (r.det[:, 4] > 0.25).all()
        n_ref, n_got = n_ref + len(want), n_got + len(r.det)
        hit_ref += matched(want, r.det, 0.9)
        hit_got += matched(r.det, want, 0.9)
    assert n_ref >= 100, n_ref
    assert hit_ref >= 0.99 * n_ref and hit_got >= 0.99 * n_got, (hit_ref, n_ref, hit_got, n_got)
    st = pipe.stats.per_image_ms()
    assert st["images"] == len(files) and st["img_per_s"] > 0 and st["decode_core_ms"] > 0 and st["post_core_ms"] > 0


def test_batched_requests_find_exactly_the_boxes_of_batch_one(int8, trained_irs, demo_images, tmp_path):
    """Images stacked 3 to a request (a short last request, an unreadable file in the middle): every image gets the
    very detections of one request per image, in the source's order; the batched detector's detect() too."""
    from ovyolo.data.letterbox import read_rgb
    from ovyolo.deploy.pipeline import PIPELINE_HINT, Pipeline
    from ovyolo.deploy.predict import load

    _, fast = int8
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, p in enumerate(demo_images[:10]):
        (folder / f"{i:02d}.jpg").symlink_to(p)
    (folder / "04b.jpg").write_bytes(b"not a jpeg")
    batched = load(Path(trained_irs["int8"]).parent, threads=2, performance_hint=PIPELINE_HINT, batch=3)
    assert batched.batch == 3 and batched.properties["batch"] == 3
    assert list(batched.compiled.inputs[0].get_shape()) == [3, 3, *trained_irs["hw"]]
    want, got = list(Pipeline(fast).run(folder)), list(Pipeline(batched).run(folder))
    assert [r.name for r in got] == [r.name for r in want] and len(got) == 11
    assert [r.error for r in got] == [r.error for r in want] and got[5].error and got[5].name.endswith("04b.jpg")
    assert sum(len(r.det) for r in want) > 10
    for a, b in zip(want, got):
        assert np.array_equal(a.det, b.det), a.name
    rgb = read_rgb(demo_images[0])
    assert np.array_equal(batched.detect(rgb), fast.detect(rgb))


def test_an_ir_that_cannot_take_another_batch_is_refused_in_one_line(trained_irs):
    import openvino as ov

    from ovyolo.deploy.predict import load
    from ovyolo.errors import WorkflowError
    from ovyolo.ir import with_batch

    with pytest.raises(WorkflowError, match="images per request must be at least 1"):
        load(trained_irs["int8"], batch=0)
    model = ov.Core().read_model(str(trained_irs["fp32"]))
    assert with_batch(model, 4, "x") is model  # a static batch-1 IR takes batch 4 ...
    with pytest.raises(WorkflowError, match=r"^y: input is \[4, 3, .*only a static 1 x 3 x h x w IR can be run at batch 2$"):
        with_batch(model, 2, "y")  # ... and then it is not a batch-1 IR any more
    # a graph that folds the batch into another dim (a Reshape to a constant [3, 16]) cannot follow the batch
    x = ov.opset13.parameter([1, 3, 4, 4], np.float32)
    folded = ov.Model([ov.opset13.reshape(x, ov.opset13.constant(np.array([3, 16], np.int64)), False)], [x])
    with pytest.raises(WorkflowError, match=r"^z: OpenVINO cannot run this IR at batch 2 \(.*\); use batch 1$"):
        with_batch(folded, 2, "z")


def test_sources_keep_their_order_and_count(int8, demo_images, tmp_path):
    """A glob, a video and a shuffled iterable of frames: one result per frame, in the source's order, each the
    detections Detector.detect finds on that frame."""
    import cv2

    from ovyolo.data.letterbox import read_rgb
    from ovyolo.deploy.pipeline import Pipeline, open_source

    one, fast = int8
    val = [Path(p) for p in demo_images[:12]]
    pattern = str(val[0].parent / "*_0000[0-4].jpg")
    src = open_source(pattern)
    assert src.kind == "images" and len(src) == 5
    assert [r.name for r in Pipeline(fast).run(pattern)] == [str(p) for p in sorted(val[0].parent.glob("*_0000[0-4].jpg"))]

    frames = [read_rgb(p) for p in val]
    order = list(range(len(frames)))
    random.Random(0).shuffle(order)
    got = list(Pipeline(fast, requests=3).run((f"f{i}", frames[i]) for i in order))
    assert [r.name for r in got] == [f"f{i}" for i in order]
    for r, i in zip(got, order):
        want = one.detect(frames[i])
        assert len(r.det) == len(want) and matched(want, r.det, 0.9) == len(want)

    video = write_video(tmp_path / "v.avi", frames)
    res = list(Pipeline(fast, keep_images=True).run(video))
    assert len(res) == len(frames) == len(open_source(video))
    assert [r.name for r in res] == [f"{video}#{i}" for i in range(len(frames))]
    cap = cv2.VideoCapture(str(video))
    for r in res[:4]:
        ok, bgr = cap.read()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        assert ok and np.array_equal(r.image, rgb)  # frames come back as RGB, the order the file holds them
        want = one.detect(rgb)
        assert len(r.det) == len(want) and matched(want, r.det, 0.9) == len(want)
    cap.release()


@pytest.mark.parametrize("batch", [1, 8])
def test_memory_stays_flat_on_a_long_video(int8, trained_irs, demo_images, tmp_path, batch):
    """300 frames of 360x640 (holding their tensors would take ~150 MB, their frames ~200 MB): RSS grows < 50 MB
    between the 30th frame and the end, one image per request and 8 (predict's default for a video)."""
    from ovyolo.data.letterbox import read_rgb
    from ovyolo.deploy.pipeline import PIPELINE_BATCH, PIPELINE_HINT, Pipeline
    from ovyolo.deploy.predict import load

    _, fast = int8
    if batch > 1:
        assert batch == PIPELINE_BATCH
        fast = load(Path(trained_irs["int8"]).parent, threads=2, performance_hint=PIPELINE_HINT, batch=batch)
    frames = [read_rgb(p) for p in demo_images[:10]]
    video = write_video(tmp_path / "long.avi", (frames[i % len(frames)] for i in range(300)))
    base = peak = None
    n = 0
    for r in Pipeline(fast).run(video):
        n += 1
        if n == 30:
            base = rss_mb()
        elif n > 30:
            peak = max(peak or 0.0, rss_mb())
        assert r.image is None
    assert n == 300
    assert peak - base < 50, f"RSS grew {peak - base:.1f} MB over a 300-frame video"


def test_unreadable_image_is_a_record_not_a_crash(int8, demo_images, tmp_path):
    from ovyolo.deploy.pipeline import Pipeline

    _, fast = int8
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.jpg").symlink_to(demo_images[0])
    (folder / "b.jpg").write_bytes(b"not a jpeg")
    (folder / "c.jpg").symlink_to(demo_images[1])
    res = list(Pipeline(fast).run(folder))
    assert [Path(r.name).name for r in res] == ["a.jpg", "b.jpg", "c.jpg"]
    assert res[1].error and not len(res[1].det) and res[0].error is None and res[2].error is None


def test_predict_streams_json_lines_and_draws_only_when_asked(int8, demo_images, tmp_path):
    """predict() on a video: one JSON line per frame, detections.json with the same records, no drawn video unless
    asked; on a folder: drawn images by default, none with draw_images=False."""
    from ovyolo.data.letterbox import read_rgb
    from ovyolo.deploy.predict import predict

    _, fast = int8
    frames = [read_rgb(p) for p in demo_images[:6]]
    video = write_video(tmp_path / "clip.avi", frames)
    out = tmp_path / "out_video"
    res = predict(fast.xml, video, out, threads=2)
    lines = [json.loads(line) for line in (out / "detections.jsonl").read_text().splitlines()]
    assert res["images"] == len(lines) == 6 and [rec["frame"] for rec in lines] == list(range(6))
    full = json.loads((out / "detections.json").read_text())
    assert full["images"] == lines and full["runtime"]["performance_hint"] == "THROUGHPUT"
    assert sum(len(rec["detections"]) for rec in lines) == res["detections"] > 0
    assert sorted(p.name for p in out.iterdir()) == ["detections.json", "detections.jsonl"]
    predict(fast.xml, video, tmp_path / "drawn_video", threads=2, draw_images=True)
    assert (tmp_path / "drawn_video" / "clip.mp4").stat().st_size > 0

    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in demo_images[:3]:
        (folder / Path(p).name).symlink_to(p)
    predict(fast.xml, folder, tmp_path / "drawn", threads=2)
    assert {p.name for p in (tmp_path / "drawn").glob("*.jpg")} == {Path(p).name for p in demo_images[:3]}
    predict(fast.xml, folder, tmp_path / "plain", threads=2, draw_images=False)
    assert not list((tmp_path / "plain").glob("*.jpg"))


def test_stopping_early_stops_the_reader(int8, demo_images):
    """A consumer that stops after 3 of 96 images: the reader thread ends, nothing is left running."""
    import threading

    from ovyolo.deploy.pipeline import Pipeline

    _, fast = int8
    pipe = Pipeline(fast, prefetch=2)
    run = pipe.run(iter([(str(p), None) for p in demo_images[:1]] + [(str(p), _rgb(p)) for p in demo_images[1:]]))
    got = [next(run) for _ in range(3)]
    run.close()
    assert [r.index for r in got] == [0, 1, 2] and got[0].error and got[1].error is None
    assert not [t for t in threading.enumerate() if t.name == "ovyolo-reader"]
    assert pipe.stats.images + pipe.stats.skipped == 3


def _rgb(path):
    from ovyolo.data.letterbox import read_rgb

    return read_rgb(path)


def test_reduced_decoding_is_an_approximation_in_full_image_pixels(int8, demo_images, tmp_path):
    """reduced_decode=True (JPEGs decoded at 1/2 scale for the 160x256 letterbox of 360x640 frames): records keep the
    full image's size and boxes; >= 95% of the exact path's detections matched within IoU 0.9 (the trained demo:
    all of them when measured)."""
    from ovyolo.deploy.pipeline import Pipeline, read_reduced

    _, fast = int8
    im, full = read_reduced(Path(demo_images[0]), fast.hw)
    assert im.shape[:2] == (180, 320) and full == (360, 640)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in demo_images[:40]:
        (folder / f"{Path(p).parent.name}_{Path(p).name}").symlink_to(p)
    exact = list(Pipeline(fast).run(folder))
    approx = list(Pipeline(fast, reduced_decode=True).run(folder))
    assert [(r.name, r.height, r.width) for r in exact] == [(r.name, r.height, r.width) for r in approx]
    n = sum(len(r.det) for r in exact)
    assert n >= 40
    assert sum(matched(e.det, a.det, 0.9) for e, a in zip(exact, approx)) >= 0.95 * n
