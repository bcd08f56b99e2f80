"""ovyolo.measure.bootstrap: COCOeval-equivalent weighted mAP, paired image bootstrap, speed-up CIs and the verdict."""
import contextlib
import io
import time

import numpy as np
import pytest

from ovyolo.errors import WorkflowError
from ovyolo.measure.bootstrap import bootstrap_maps, map_from_matches, paired_bootstrap, resample_weights
from ovyolo.measure.ci import median_ci_rank, ratio_ci
from ovyolo.measure.scoring import (
    ClassMatches,
    Matches,
    coco_eval,
    load_matches,
    matches_from_cocoeval,
    matches_from_preds,
    save_matches,
)
from ovyolo.report.verdict import verdict

pytestmark = pytest.mark.unit

NAMES = ["a", "b", "c", "d"]


def make_data(seed, n_img=60, nc=3, tie_decimals=None, empty_every=0):
    """Random GT boxes and noisy detections (hits with jitter, some wrong class, random false positives).

    Class nc-1.. of NAMES beyond ``nc`` never appear (no GT) so "mean over classes with GT" is exercised.
    """
    rng = np.random.default_rng(seed)
    preds, gts, sizes = [], [], []
    for i in range(n_img):
        h, w = 480, 640
        k = rng.poisson(3)
        if empty_every and i % empty_every == 0:
            k = 0
        xy = rng.uniform(0, [w - 160, h - 160], size=(k, 2))
        wh = rng.uniform(8, 150, size=(k, 2))
        cls = rng.integers(0, nc, size=k)
        g = np.column_stack([cls, xy, xy + wh]).astype(np.float64)
        rows = []
        for c, x1, y1, x2, y2 in g:
            if rng.random() < 0.85:
                j = rng.normal(0, 0.08 * np.array([x2 - x1, y2 - y1] * 2))
                cc = c if rng.random() < 0.9 else rng.integers(0, nc)
                rows.append([x1 + j[0], y1 + j[1], x2 + j[2], y2 + j[3], rng.uniform(0.2, 1.0), cc])
        for _ in range(rng.poisson(4)):
            x, y = rng.uniform(0, [w - 100, h - 100])
            bw, bh = rng.uniform(8, 100, 2)
            rows.append([x, y, x + bw, y + bh, rng.uniform(0.0, 0.7), rng.integers(0, nc)])
        p = np.array(rows, dtype=np.float64).reshape(-1, 6)
        if tie_decimals is not None:
            p[:, 4] = np.round(p[:, 4], tie_decimals)
        if empty_every and i % empty_every == 1:
            p = p[:0]
        preds.append(p)
        gts.append(g)
        sizes.append((h, w))
    return preds, gts, sizes


def shuffled_classes(preds, nc, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for p in preds:
        q = p.copy()
        q[:, 5] = rng.integers(0, nc, size=len(q))
        out.append(q)
    return out


# --------------------------------------------------------------------------- equivalence with COCOeval

@pytest.mark.parametrize("seed,ties,empty", [(0, None, 0), (1, 2, 0), (2, 1, 5), (3, None, 3)])
def test_map_equals_coco_eval(seed, ties, empty):
    preds, gts, sizes = make_data(seed, tie_decimals=ties, empty_every=empty)
    ref = coco_eval(preds, gts, sizes, NAMES)
    m = matches_from_preds(preds, gts, sizes, NAMES)
    m50, m5095 = map_from_matches(m)
    assert m50 == pytest.approx(ref["mAP50"], abs=1e-9)
    assert m5095 == pytest.approx(ref["mAP50_95"], abs=1e-9)
    assert 0.1 < m5095 < 0.9  # a non-trivial case
    assert m.gt.sum() == ref["instances"] and m.gt[3].sum() == 0


def test_coco_eval_returns_the_matches_of_its_own_cocoeval():
    """A validation matches once: coco_eval's matches are those matches_from_preds builds, and give its mAP."""
    preds, gts, sizes = make_data(4, tie_decimals=2, empty_every=4)
    ref, m = coco_eval(preds, gts, sizes, NAMES, with_matches=True)
    assert ref == coco_eval(preds, gts, sizes, NAMES)
    assert map_from_matches(m) == pytest.approx((ref["mAP50"], ref["mAP50_95"]), abs=1e-9)
    again = matches_from_preds(preds, gts, sizes, NAMES)
    assert np.array_equal(m.gt, again.gt)
    for a, b in zip(m.classes, again.classes):
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("score", "image", "matched", "ignored"))
    _, none = coco_eval([np.zeros((0, 6))] * 2, gts[:2], sizes[:2], NAMES, with_matches=True)
    assert none.n_images == 2 and none.gt.sum() == sum(len(g) for g in gts[:2])


def test_weights_equal_duplicated_images():
    preds, gts, sizes = make_data(10, n_img=50)
    m = matches_from_preds(preds, gts, sizes, NAMES)
    # every image twice -> weights=2
    r2 = coco_eval(preds + preds, gts + gts, sizes + sizes, NAMES)
    got = map_from_matches(m, np.full(50, 2))
    assert got[0] == pytest.approx(r2["mAP50"], abs=1e-9) and got[1] == pytest.approx(r2["mAP50_95"], abs=1e-9)
    # a genuine bootstrap resample (images drawn 0, 1, 2, ... times) -> the resampled data set
    w = resample_weights(50, 3, seed=4)
    for row in w:
        idx = np.repeat(np.arange(50), row)
        rr = coco_eval([preds[i] for i in idx], [gts[i] for i in idx], [sizes[i] for i in idx], NAMES)
        got = map_from_matches(m, row)
        assert got[0] == pytest.approx(rr["mAP50"], abs=1e-9)
        assert got[1] == pytest.approx(rr["mAP50_95"], abs=1e-9)
    # the batched bootstrap path gives the same numbers as one row at a time
    b50, b = bootstrap_maps(m, w)
    for k, row in enumerate(w):
        assert (b50[k], b[k]) == pytest.approx(map_from_matches(m, row), abs=1e-12)


def test_weights_validation_and_no_gt():
    preds, gts, sizes = make_data(0, n_img=5)
    m = matches_from_preds(preds, gts, sizes, NAMES)
    with pytest.raises(WorkflowError):
        map_from_matches(m, np.ones(4))
    with pytest.raises(WorkflowError):
        map_from_matches(m, np.full(5, 0.5))
    assert map_from_matches(m, np.zeros(5, int)) == (None, None)
    empty = matches_from_preds([np.zeros((0, 6))] * 2, [np.zeros((0, 5))] * 2, [(10, 10)] * 2, NAMES)
    assert map_from_matches(empty) == (None, None)
    # GT but no detection at all: 0 like coco_eval
    nodet = matches_from_preds([np.zeros((0, 6))], [np.array([[1, 0, 0, 5, 5.0]])], [(10, 10)], NAMES)
    assert map_from_matches(nodet) == (0.0, 0.0)


def test_crowd_ignores_follow_cocoeval_accumulate():
    """Ignored GT (crowd) and ignored detections take the general path; compare with COCOeval.accumulate."""
    from ovyolo.measure.scoring import cocoeval

    preds, gts, sizes = make_data(7, n_img=40)
    rng = np.random.default_rng(7)
    ev, _ = cocoeval(preds, gts, sizes, list(NAMES))
    for ann in ev.cocoGt.dataset["annotations"]:  # a quarter of the ground truth becomes crowd (ignored) boxes
        ann["iscrowd"] = int(rng.random() < 0.25)
    with contextlib.redirect_stdout(io.StringIO()):
        ev.cocoGt.createIndex()
        ev.evaluate()
        ev.accumulate()
    m = matches_from_cocoeval(ev, len(NAMES))
    assert any(cm.ignored.any() for cm in m.classes)  # the ignore path is exercised
    prec = ev.eval["precision"][:, :, :, 0, -1]
    valid = prec[:, :, (prec > -1).all(axis=(0, 1))]
    m50, m5095 = map_from_matches(m)
    assert m50 == pytest.approx(valid[0].mean(), abs=1e-9) and m5095 == pytest.approx(valid.mean(), abs=1e-9)


# --------------------------------------------------------------------------- paired bootstrap

@pytest.fixture(scope="module")
def matched():
    preds, gts, sizes = make_data(21, n_img=200)
    ref = matches_from_preds(preds, gts, sizes, NAMES)
    same = matches_from_preds([p.copy() for p in preds], gts, sizes, NAMES)
    bad = matches_from_preds(shuffled_classes(preds, 3), gts, sizes, NAMES)
    return ref, same, bad


def test_identical_predictions_give_exact_zero_drop(matched):
    ref, same, _ = matched
    r = paired_bootstrap(ref, same, n=300, seed=3)
    assert r["drop"]["mAP50_95"] == 0.0 and r["drop"]["mAP50"] == 0.0
    assert r["drop"]["ci"] == [0.0, 0.0] and r["drop"]["mAP50_ci"] == [0.0, 0.0]
    assert (r["n"], r["seed"], r["images"], r["resamples_used"]) == (300, 3, 200, 300)
    lo, hi = r["ref"]["mAP50_95_ci"]
    assert lo < r["ref"]["mAP50_95"] < hi and hi - lo > 0.01  # a real, non-degenerate per-variant CI
    assert r["ref"] == r["var"]


def test_shuffled_classes_give_a_large_drop_with_ci_excluding_zero(matched):
    ref, _, bad = matched
    r = paired_bootstrap(ref, bad, n=300, seed=0)
    d = r["drop"]
    assert d["mAP50_95"] > 0.1 and d["ci"][0] > 0.05 and d["ci"][0] <= d["mAP50_95"] <= d["ci"][1]
    assert d["mAP50_ci"][0] > 0.1
    assert d["mAP50_95"] == pytest.approx(r["ref"]["mAP50_95"] - r["var"]["mAP50_95"], abs=1e-12)
    # deterministic for a seed
    assert paired_bootstrap(ref, bad, n=300, seed=0) == r


def test_per_class_drop_finds_the_one_class_that_lost():
    """Only class 1 loses its detections: its AP drop is large with a CI above 0; the other classes have exactly
    0 [0, 0]; the per-class drops average to the mAP50-95 drop; the same resamples as paired_bootstrap."""
    from ovyolo.measure.bootstrap import per_class_drop

    preds, gts, sizes = make_data(21, n_img=200)
    ref = matches_from_preds(preds, gts, sizes, NAMES)
    hurt = [p[p[:, 5] != 1] for p in preds]
    var = matches_from_preds(hurt, gts, sizes, NAMES)
    rows = per_class_drop(ref, var, n=300, seed=0)
    assert [r["class"] for r in rows] == [0, 1, 2]  # class 3 ('d') has no ground truth
    by = {r["class"]: r for r in rows}
    assert by[1]["var"] == 0.0 and by[1]["drop"] == by[1]["ref"] > 0.2 and by[1]["ci"][0] > 0.15
    for k in (0, 2):
        assert by[k]["drop"] == 0.0 and by[k]["ci"] == [0.0, 0.0]
    whole = paired_bootstrap(ref, var, n=300, seed=0)["drop"]["mAP50_95"]
    assert np.mean([r["drop"] for r in rows]) == pytest.approx(whole, abs=1e-12)
    assert sum(r["gt"] for r in rows) == int(ref.gt.sum())
    with pytest.raises(WorkflowError, match="same images"):
        per_class_drop(ref, matches_from_preds(preds[:-1], gts[:-1], sizes[:-1], NAMES), n=10, seed=0)


def test_matches_round_trip_through_npz(matched, tmp_path):
    ref, _, _ = matched
    save_matches(ref, tmp_path / "m.npz")
    back = load_matches(tmp_path / "m.npz")
    assert back.same_ground_truth(ref) and back.n_classes == ref.n_classes
    assert map_from_matches(back) == map_from_matches(ref)


def test_paired_bootstrap_rejects_different_ground_truth(matched):
    ref, _, _ = matched
    preds, gts, sizes = make_data(22, n_img=200)
    with pytest.raises(WorkflowError, match="same images"):
        paired_bootstrap(ref, matches_from_preds(preds, gts, sizes, NAMES), n=10, seed=0)


def synthetic_matches(n_img, dets_per_img, nc, seed, gt=None):
    """Large Matches without COCOeval, shaped like a detector at conf 0.001: per image and class most GT found
    by a high-scoring detection (TP at the IoU thresholds its IoU reaches), the rest low-scoring false positives."""
    rng = np.random.default_rng(seed)
    gt = rng.poisson(7 / nc, size=(nc, n_img)).astype(np.int64) if gt is None else gt
    classes = []
    for k in range(nc):
        hits = rng.binomial(gt[k], 0.8)
        img_tp = np.repeat(np.arange(n_img), hits)
        n_fp = max(n_img * dets_per_img // nc - len(img_tp), 0)
        img = np.concatenate([img_tp, rng.integers(0, n_img, n_fp)])
        score = np.concatenate([rng.beta(5, 2, len(img_tp)), rng.beta(1, 8, n_fp)])
        iou = np.concatenate([rng.uniform(0.45, 1.0, len(img_tp)), np.zeros(n_fp)])
        order = np.argsort(-score, kind="mergesort")
        matched = iou[order][None, :] >= np.linspace(0.5, 0.95, 10)[:, None]
        classes.append(ClassMatches(score[order], img[order], matched, np.zeros_like(matched)))
    return Matches(n_img, gt, tuple(classes))


def test_bootstrap_speed_2000_images_1000_resamples():
    ref = synthetic_matches(2000, 100, 3, seed=0)
    var = synthetic_matches(2000, 100, 3, seed=1, gt=ref.gt)
    t0 = time.process_time()  # CPU time: the test machine may be shared with other jobs
    r = paired_bootstrap(ref, var, n=1000, seed=0)
    dt = time.process_time() - t0
    assert r["resamples_used"] == 1000 and r["drop"]["ci"][0] < r["drop"]["mAP50_95"] < r["drop"]["ci"][1]
    assert dt < 15, f"2000 images x 1000 paired resamples took {dt:.1f} s of CPU"


# --------------------------------------------------------------------------- speed ratio

def test_median_ci_ranks_are_the_binomial_ones():
    assert median_ci_rank(8) == (1, pytest.approx(1 - 2 / 256))
    assert median_ci_rank(10) == (2, pytest.approx(1 - 2 * 11 / 1024))
    assert median_ci_rank(12) == (3, pytest.approx(1 - 2 * 79 / 4096))
    j, cov = median_ci_rank(5)
    assert j == 1 and cov < 0.95  # 95 % unreachable: reported honestly


def test_identical_noisy_sequences_ci_contains_one():
    rng = np.random.default_rng(0)
    for k in (8, 10, 12):
        for _ in range(20):
            a = 10 * rng.lognormal(0, 0.05, size=k)
            b = 10 * rng.lognormal(0, 0.05, size=k)
            r = ratio_ci(a, b)
            assert r["rounds"] == k and r["ci"][0] <= r["ratio"] <= r["ci"][1]
    # on the same pair of sequences the order-statistic CI covers 1.0 in ~>= 95 % of repetitions
    hits = 0
    for _ in range(400):
        a, b = 10 * rng.lognormal(0, 0.05, size=10), 10 * rng.lognormal(0, 0.05, size=10)
        lo, hi = ratio_ci(a, b)["ci"]
        hits += lo <= 1.0 <= hi
    assert hits / 400 > 0.93
    rb = ratio_ci(a, a * rng.lognormal(0, 0.01, 10), method="bootstrap", n=500, seed=1)
    assert rb["ci"][0] <= 1.0 <= rb["ci"][1] and rb["method"] == "bootstrap"


def test_ratio_ci_known_values_and_faster_variant():
    ref = np.arange(1, 11, dtype=float) * 0 + 20.0
    var = 20.0 / np.array([1.9, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 2.8])
    r = ratio_ci(ref, var)
    assert r["ratio"] == pytest.approx(2.35) and r["ci"] == pytest.approx([2.0, 2.7]) and r["rounds"] == 10
    assert r["ci"][0] > 1.0
    with pytest.raises(WorkflowError):
        ratio_ci([1.0, 2.0], [1.0])
    with pytest.raises(WorkflowError):
        ratio_ci([1.0, 0.0], [1.0, 1.0])


# --------------------------------------------------------------------------- verdict

def row(variant, ratio, ci, drop, dci):
    return {"variant": variant, "label": variant.upper(), "speedup": {"ratio": ratio, "ci": list(ci)},
            "drop": {"mAP50_95": drop, "ci": list(dci)}}


def test_verdict_identical_variant_is_no_measurable_difference(matched):
    ref, same, _ = matched
    rng = np.random.default_rng(5)
    a, b = 10 * rng.lognormal(0, 0.03, 10), 10 * rng.lognormal(0, 0.03, 10)
    sp = ratio_ci(a, b)
    assert sp["ci"][0] <= 1.0 <= sp["ci"][1]
    dr = paired_bootstrap(ref, same, n=200, seed=0)["drop"]
    v = verdict([{"variant": "openvino-fp32", "label": "OV FP32", "speedup": {"ratio": 1.0, "ci": [1.0, 1.0]},
                  "drop": {"mAP50_95": 0.0, "ci": [0.0, 0.0]}},
                 {"variant": "openvino-fp16", "label": "OV FP16", "speedup": sp, "drop": dr}], max_drop=0.01)
    assert v["winner"] == "openvino-fp32" and v["is_baseline"]
    assert "no measurable speed gain" in v["text"] and "no measurable difference" in v["text"]
    assert v["rows"][0]["reason"].startswith("no measurable difference in speed")


def test_verdict_rejects_shuffled_classes_and_picks_fast_accurate(matched):
    ref, _, bad = matched
    d_bad = paired_bootstrap(ref, bad, n=200, seed=0)["drop"]
    rows = [row("openvino-fp16", 1.3, (1.2, 1.4), 0.0005, (-0.001, 0.002)),
            row("openvino-int8", 2.5, (2.4, 2.6), d_bad["mAP50_95"], d_bad["ci"])]
    v = verdict(rows, max_drop=0.01)
    assert v["winner"] == "openvino-fp16" and not v["is_baseline"]
    reasons = {r["variant"]: r["reason"] for r in v["rows"]}
    assert "exceeds the budget 0.01" in reasons["openvino-int8"]
    assert "no measurable difference" in reasons["openvino-fp16"]  # accuracy CI contains 0
    assert v["text"].startswith("Recommend OPENVINO-FP16")


def test_verdict_rules():
    rows = [row("fp16", 1.2, (1.1, 1.3), 0.000, (-0.001, 0.001)),
            row("int8", 2.5, (2.4, 2.6), 0.004, (0.0035, 0.006)),
            row("int8-mixed", 2.45, (2.3, 2.55), 0.001, (0.000, 0.003)),
            row("int8-risky", 3.5, (3.4, 3.6), 0.008, (0.002, 0.014)),
            row("int8-bad", 3.9, (3.8, 4.0), 0.03, (0.02, 0.045)),
            row("slowpoke", 0.9, (0.85, 0.95), 0.0, (0.0, 0.0))]
    v = verdict(rows, max_drop=0.01, baseline="openvino-fp32")
    r = {x["variant"]: x["reason"] for x in v["rows"]}
    # int8 and int8-mixed are not distinguishable in speed, and int8-mixed is measurably more accurate (disjoint
    # drop CIs) -> int8-mixed
    assert v["winner"] == "int8-mixed" and v["speedup"]["ratio"] == 2.45
    assert r["int8"].startswith("no measurable difference in speed from int8-mixed")
    assert "int8-mixed is measurably more accurate (drop 0.001 [0.000, 0.003] vs 0.004 [0.004, 0.006])" in r["int8"]
    assert r["fp16"] == "slower: speed-up 1.20x [1.10, 1.30] vs 2.45x [2.30, 2.55] (int8-mixed)"
    assert r["int8-bad"] == "mAP50-95 drop 0.030 [0.020, 0.045] exceeds the budget 0.01"
    assert "not shown to be within budget" in r["int8-risky"]
    assert r["slowpoke"].startswith("slower than openvino-fp32")
    assert len(v["text"].splitlines()) == 6
    # a measurably faster variant is not given up for a slightly more accurate one
    v2 = verdict([row("a", 2.0, (1.9, 2.1), 0.0, (-0.001, 0.001)), row("b", 3.0, (2.9, 3.1), 0.005, (0.003, 0.007))],
                 max_drop=0.01)
    assert v2["winner"] == "b"


def test_verdict_equal_is_equal():
    """Two variants whose speed CIs overlap and whose drop CIs overlap are equivalent, whatever their point
    estimates: the stated rule picks (f32 hint first, then the smaller file, then the variant order)."""
    from ovyolo.report.verdict import TIE_RULE

    def sized(r, mb):
        return {**r, "file_size_mb": mb}

    # int8@bf16 has the higher median speed-up and the smaller drop, inside both CIs: int8 (f32 hint) wins
    rows = [row("openvino-int8@bf16", 1.60, (1.40, 1.70), -0.030, (-0.040, -0.014)),
            row("openvino-int8", 1.52, (1.41, 1.56), -0.027, (-0.040, -0.014))]
    v = verdict(rows, max_drop=0.01)
    assert v["winner"] == "openvino-int8"
    loser = v["rows"][0]
    assert loser["equivalent"] and loser["reason"].startswith("equivalent to openvino-int8") and TIE_RULE in loser["reason"]
    assert not v["rows"][1]["equivalent"]
    # the same input order reversed gives the same winner: the rule, not the order of the rows, decides
    assert verdict(rows[::-1], max_drop=0.01)["winner"] == "openvino-int8"
    # at the same hint, the smaller file
    rows = [sized(row("openvino-fp16", 1.9, (1.7, 2.1), 0.000, (-0.001, 0.001)), 5.1),
            sized(row("openvino-int8", 1.8, (1.6, 2.0), 0.001, (-0.001, 0.003)), 2.9)]
    assert verdict(rows, max_drop=0.01)["winner"] == "openvino-int8"
    # at the same size, the variant order
    rows = [sized(row("openvino-int8-ac", 1.8, (1.6, 2.0), 0.000, (-0.001, 0.001)), 2.9),
            sized(row("openvino-int8", 1.8, (1.6, 2.0), 0.001, (-0.001, 0.003)), 2.9)]
    assert verdict(rows, max_drop=0.01)["winner"] == "openvino-int8"
    # a comparison variant equivalent to the winner says so
    rows = [row("openvino-int8", 1.52, (1.41, 1.56), -0.027, (-0.040, -0.014)),
            row("ultralytics-int8", 1.57, (1.38, 1.63), -0.028, (-0.040, -0.014))]
    v = verdict(rows, max_drop=0.01, comparison_only=["ultralytics-int8"])
    assert v["winner"] == "openvino-int8"
    assert v["rows"][1]["reason"].endswith("equivalent (speed and drop CIs overlap) to the recommended openvino-int8")
    # disjoint drop CIs are a difference: the more accurate one wins even with the lower median speed-up
    rows = [row("openvino-int8", 1.60, (1.40, 1.70), 0.006, (0.004, 0.008)),
            row("openvino-int8-ac", 1.50, (1.38, 1.62), 0.001, (-0.001, 0.003))]
    v = verdict(rows, max_drop=0.01)
    assert v["winner"] == "openvino-int8-ac" and "measurably more accurate" in v["rows"][0]["reason"]


def test_verdict_recommends_only_what_the_workflow_ships():
    """Ultralytics' INT8 (no bundle) is measured and explained but never recommended, even when it would win."""
    from ovyolo import variants

    rows = [row("openvino-int8", 1.52, (1.41, 1.56), -0.027, (-0.040, -0.014)),
            row("ultralytics-int8", 1.57, (1.38, 1.63), -0.027, (-0.040, -0.014)),
            row("onnxruntime", 1.9, (1.8, 2.0), 0.0, (-0.001, 0.001))]
    assert verdict(rows, max_drop=0.01)["winner"] == "onnxruntime"  # without the rule
    comparison = variants.comparison_only([r["variant"] for r in rows])
    assert comparison == ["ultralytics-int8", "onnxruntime"]
    v = verdict(rows, max_drop=0.01, comparison_only=comparison)
    assert v["winner"] == "openvino-int8"
    status = {r["variant"]: (r["status"], r["reason"]) for r in v["rows"]}
    assert status["ultralytics-int8"][0] == "comparison" and "ships no bundle" in status["ultralytics-int8"][1]
    assert status["ultralytics-int8"][1].endswith("equivalent (speed and drop CIs overlap) to the recommended openvino-int8")
    assert status["onnxruntime"][1].endswith("measurably faster than the recommended openvino-int8")
    # nothing shipped is measurably faster: the baseline, and the head says it is about shipped variants
    v2 = verdict([row("openvino-fp16", 1.0, (0.9, 1.1), 0.0, (0.0, 0.0)), rows[2]], max_drop=0.01,
                 comparison_only=["onnxruntime"])
    assert v2["is_baseline"] and "from any variant this workflow ships within" in v2["text"]
    assert "measurably faster than the recommended openvino-fp32" in v2["text"]


def test_throughput_line_states_what_was_measured_and_no_story():
    from ovyolo.report.table import conv_share, throughput_line

    row = {"variant": "openvino-int8", "latency_p50_ms": 100.0, "fps": 10.8, "throughput_streams": 2,
           "throughput_requests": 3, "threads": 2}
    prof = {"variants": {"openvino-int8": {"categories": {"conv_int8": {"share": 0.85}, "conv_float": {"share": 0.05},
                                                          "concat": {"share": 0.1}}}}}
    line = throughput_line(row, conv_share(prof, "openvino-int8"))
    assert line == ("openvino-int8: 10.8 FPS async (2 streams, 3 requests) vs 10.0 FPS in latency mode (batch 1, "
                    "2 threads): async is 1.08x latency mode here; convolutions are 90% of its per-op counter time "
                    "(profile)")
    assert "because" not in throughput_line({**row, "fps": 8.0}) and "0.80x" in throughput_line({**row, "fps": 8.0})
    assert conv_share(prof, "openvino-fp32") is None and conv_share(None, "openvino-int8") is None
    assert throughput_line({**row, "fps": None}) is None


def _verdict_item(model="demo", shape="160x256"):
    rows = [row("openvino-fp16", 1.0, (0.9, 1.1), 0.0, (-0.001, 0.001)),
            row("openvino-int8@bf16", 1.9, (1.7, 2.0), 0.003, (0.001, 0.005)),
            row("openvino-int8", 1.8, (1.6, 2.1), 0.004, (0.001, 0.006)),
            row("ultralytics-int8", 1.8, (1.6, 2.1), 0.004, (0.001, 0.006))]
    v = verdict(rows, max_drop=0.01, comparison_only=["ultralytics-int8"])
    shorts = {o["variant"]: o["short"] for o in v["rows"]}
    table = [{"variant": "openvino-fp32", "label": "FP32", "p50_ms": 5.6, "speedup": 1.0, "speedup_ci": [1.0, 1.0],
              "mAP50_95": 0.905, "drop": 0.0, "drop_ci": [0.0, 0.0], "verdict": "baseline"}]
    table += [{"variant": r["variant"], "label": r["label"], "p50_ms": 5.6 / r["speedup"]["ratio"],
               "speedup": r["speedup"]["ratio"], "speedup_ci": r["speedup"]["ci"], "mAP50_95": 0.9 - r["drop"]["mAP50_95"],
               "drop": r["drop"]["mAP50_95"], "drop_ci": r["drop"]["ci"], "verdict": shorts[r["variant"]]} for r in rows]
    bundle = f"results/{model}/{shape}/bundles/int8"
    return {"model": model, "shape": shape, "shape_reason": "a_b_ of *stars* | pipes", "val_images": 200,
            "calibration_images": 64, "warnings": ["calibration size 300 requested"], "throughput": [],
            "verdict": v, "table": table, "not_measured": {"openvino-fp32@bf16": "no bf16 on node x"},
            "ship": {"variant": v["winner"], "bundle": bundle, "precision_hint": "f32",
                     "command": f"python -m ovyolo predict {bundle} imgs --out predictions/{model}/{shape}",
                     "ultralytics": None}}


def test_verdict_page_is_a_report_page_recommendation_first():
    """The report's first page (RST, rendered as Snakemake renders it: jinja, then docutils' html writer) has the
    recommendation first, one sentence per model x shape with the bundle and the command, then a table per model x
    shape; no preformatted block; no docutils warning; the Markdown file has the same content."""
    import html as html_lib
    import re

    import jinja2
    from docutils.core import publish_parts

    from ovyolo.report.verdict import TABLE_HEADER, verdict_rst, verdict_text

    items = [_verdict_item(), _verdict_item("other", "736x1280")]
    def text(h):
        return html_lib.unescape(re.sub(r"<[^>]+>", "", h))

    rst = verdict_rst(items, 0.01, ["demo @ 160x256 openvino-int8 (f32): 4.0 ms; /model.9/cv1/conv 0.60x"])
    assert jinja2.Environment().from_string(rst).render() == rst.rstrip("\n")  # nothing jinja would change
    html = publish_parts(rst, writer_name="html", settings_overrides={"halt_level": 2, "report_level": 2})["html_body"]
    assert "<pre" not in html and "mailto:" not in html
    first = html.index("<ul")
    assert html.index('<h1 class="title">Verdict</h1>') < first < html.index("<table")
    recommendation = text(html[first:html.index("</ul>", first)])
    for item in items:
        sh = item["ship"]
        assert f"{item['model']} @ {item['shape']}: deploy {sh['bundle']} (OPENVINO-INT8)" in recommendation
        assert f"Run it: {sh['command']}" in recommendation
    assert html.count("<table") == 2 and html.count("<tr") == 2 * (1 + len(items[0]["table"]))
    header = re.findall(r"<th[^>]*>(.*?)</th>", html)[:len(TABLE_HEADER)]
    assert [text(h).strip() for h in header] == list(TABLE_HEADER)
    cells = [text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]
    assert cells[:6] == ["openvino-fp32", "5.6", "1.00x", "0.905", "0.000", "baseline"]
    assert "openvino-int8" in cells and cells[cells.index("openvino-int8") + 5] == "recommended"
    assert cells[cells.index("openvino-int8@bf16") + 5] == "equivalent"
    assert "a_b_ of *stars* | pipes" in text(html)  # escaped, shown as written
    md = verdict_text(items, 0.01)
    assert md.startswith("# Verdict\n\n- **demo @ 160x256**: deploy `results/demo/160x256/bundles/int8`")
    assert "| openvino-int8 | 3.1 | 1.80x [1.60, 2.10] | 0.896 | 0.004 [0.001, 0.006] | recommended |" in md
    # the same statements in both
    for line in items[0]["verdict"]["text"].splitlines():
        assert line.strip() in md and line.strip() in text(html).replace("\n", " ")
