"""Validation on a pipeline (issue 21 part 4): a reading thread ahead of the inference and, for OpenVINO, several
batch-1 requests in flight on a THROUGHPUT compilation; the numbers must be those of the plain loop of one
synchronous LATENCY request at a time (ovyolo.data.prefetch, Runner.infer_all, evaluate)."""
import threading
import time

import numpy as np
import pytest

from ovyolo.data.prefetch import prefetch


@pytest.mark.unit
def test_prefetch_keeps_order_and_bounds_how_far_it_reads_ahead():
    produced = []

    def items():
        for i in range(50):
            produced.append(i)
            yield i

    got = []
    for i in prefetch(items(), depth=3):
        time.sleep(0.002)
        # the producer is at most depth (queue) + 1 (being put) + 1 (handed out) ahead of the consumer
        assert len(produced) - len(got) <= 5
        got.append(i)
    assert got == list(range(50))


@pytest.mark.unit
def test_prefetch_raises_the_producers_error_where_it_happened():
    def items():
        yield 1
        yield 2
        raise ValueError("image 3 is broken")

    got = []
    with pytest.raises(ValueError, match="image 3 is broken"):
        for i in prefetch(items(), depth=4):
            got.append(i)
    assert got == [1, 2]


@pytest.mark.unit
def test_prefetch_stops_its_thread_when_the_consumer_stops_early():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = {t.name for t in threading.enumerate()}
    gen = prefetch(endless(), depth=2, name="test-prefetch-early")
    assert [next(gen) for _ in range(5)] == [0, 1, 2, 3, 4]
    gen.close()
    assert "test-prefetch-early" not in {t.name for t in threading.enumerate()} - before


@pytest.mark.component
@pytest.mark.parametrize("which", ["fp32", "int8"])
def test_validation_pipeline_gives_the_numbers_of_one_request_at_a_time(trained_irs, tmp_path, which):
    """Same detections image by image and the same metrics as the plain LATENCY loop, with an unreadable image
    in the middle of the split skipped by both."""
    from ovyolo.data.dataset import load_dataset
    from ovyolo.measure.evaluate import evaluate
    from ovyolo.measure.runtimes import make_runner
    from ovyolo.measure.validate import VALIDATE_HINT

    hw = trained_irs["hw"]
    ds = load_dataset(trained_irs["demo"]["data"])
    images = sorted(ds.images("val"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    images = images[:10] + [broken] + images[10:]

    plain = make_runner(f"openvino-{which}", xml=trained_irs[which], threads=2, hw=hw)
    piped = make_runner(f"openvino-{which}", xml=trained_irs[which], threads=2, hw=hw, performance_hint=VALIDATE_HINT)
    assert piped.properties["optimal_requests"] >= 2, "THROUGHPUT on 2 threads should give 2 streams here"

    ref = evaluate(lambda x: plain.infer(x), images, hw, ds.names, "ultralytics")
    new = evaluate(piped, images, hw, ds.names, "ultralytics")
    assert new.files == ref.files and str(broken) not in new.files
    assert new.result["skipped"] == ref.result["skipped"] == 1
    assert sum(len(p) for p in ref.preds) >= 100
    for a, b in zip(ref.preds, new.preds, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ref.raw, new.raw)
    for key in ("mAP50", "mAP50_95"):
        assert new.result[key] == ref.result[key]
    assert new.result["ultralytics"] == ref.result["ultralytics"]
