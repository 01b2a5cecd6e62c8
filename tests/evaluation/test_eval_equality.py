"""Our numbers equal pycocotools' COCOeval (|Δ| ≤ 1e-9) on generated boxes, masks and keypoints.

Sets are drawn by hypothesis on a coarse grid so that equal IoUs, equal scores (ties), boxes
on area-range borders, empty images, classes without ground truth and classes without
predictions are all common, not corner cases.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _eval_reference import assert_equal_to_reference, reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse_nb.evaluation import evaluate

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SCORES = st.sampled_from([0.1, 0.3, 0.5, 0.5, 0.9, 0.9])
SIDES = st.sampled_from([2, 8, 16, 31, 32, 33, 60, 96, 120])


@st.composite
def box_sets(draw: Any, crowd: bool = False, max_images: int = 6) -> tuple[dict, list]:
    """A COCO ground truth and a results list: near-copies of GT boxes and strays."""
    n_img = draw(st.integers(1, max_images))
    n_cat = draw(st.integers(1, 4))
    images = [{"id": i + 1, "width": 200, "height": 200} for i in range(n_img)]
    cats = [{"id": 10 * (c + 1), "name": f"c{c}"} for c in range(n_cat)]
    anns: list[dict] = []
    res: list[dict] = []
    for im in images:
        boxes = []
        for _ in range(draw(st.integers(0, 6))):
            b = [draw(st.integers(0, 40)) * 2, draw(st.integers(0, 40)) * 2, draw(SIDES),
                 draw(SIDES)]
            cat = draw(st.sampled_from(cats))["id"]
            boxes.append((b, cat))
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": cat,
                         "bbox": b, "area": float(b[2] * b[3]),
                         "iscrowd": int(crowd and draw(st.integers(0, 4)) == 0)})
        for _ in range(draw(st.integers(0, 8))):
            if boxes and draw(st.booleans()):
                (x, y, w, h), cat = draw(st.sampled_from(boxes))
                d = [x + draw(st.integers(-4, 4)), y + draw(st.integers(-4, 4)),
                     max(1, w + draw(st.integers(-6, 6))), max(1, h + draw(st.integers(-6, 6)))]
                if draw(st.integers(0, 5)) == 0:
                    cat = draw(st.sampled_from(cats))["id"]
            else:
                d = [draw(st.integers(0, 180)), draw(st.integers(0, 180)), draw(SIDES),
                     draw(SIDES)]
                cat = draw(st.sampled_from(cats))["id"]
            res.append({"image_id": im["id"], "category_id": cat, "bbox": [float(v) for v in d],
                        "score": draw(SCORES)})
    return {"images": images, "categories": cats, "annotations": anns}, res


def _check(dataset: dict, results: list, iou_type: str, **kw: Any) -> None:
    ours = evaluate(dataset, results, iou_type, **kw)
    assert_equal_to_reference(ours, reference(dataset, results, iou_type))


@SETTINGS
@given(box_sets())
def test_boxes_equal_pycocotools(data: tuple[dict, list]) -> None:
    _check(*data, "bbox")


@SETTINGS
@given(box_sets(crowd=True))
def test_boxes_with_crowd_equal_pycocotools(data: tuple[dict, list]) -> None:
    _check(*data, "bbox")


def _box_polygon(b: list[float]) -> list[list[float]]:
    x, y, w, h = b
    return [[x, y, x + w / 2, y - h / 4, x + w, y, x + w, y + h, x, y + h]]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(box_sets(crowd=True, max_images=4))
def test_masks_equal_pycocotools(data: tuple[dict, list]) -> None:
    """Polygons (ground truth and results) under segm IoU."""
    dataset, results = data
    for ann in dataset["annotations"]:
        ann["segmentation"] = _box_polygon(ann["bbox"])
    for r in results:
        r["segmentation"] = _box_polygon(r.pop("bbox"))
    if results:  # pycocotools' loadRes wants RLE results when there is no box
        from pycocotools import mask as mask_utils

        for r in results:
            r["segmentation"] = mask_utils.merge(mask_utils.frPyObjects(r["segmentation"], 200,
                                                                         200))
    _check(dataset, results, "segm")


def _keypoints(rng: np.random.Generator, box: list[float], k: int, visible: float) -> list:
    x, y, w, h = box
    pts = []
    for _ in range(k):
        v = int(rng.random() < visible) * 2
        pts += [round(x + rng.random() * w, 1), round(y + rng.random() * h, 1), v]
    return pts


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(box_sets(max_images=5), st.integers(0, 2**16), st.sampled_from([17, 17, 5]))
def test_keypoints_equal_pycocotools(data: tuple[dict, list], seed: int, k: int) -> None:
    """OKS, including ground truths with no visible keypoint (num_keypoints 0)."""
    dataset, results = data
    rng = np.random.default_rng(seed)
    dataset["categories"] = dataset["categories"][:1]
    cat = dataset["categories"][0]["id"]
    for ann in dataset["annotations"]:
        ann["category_id"] = cat
        ann["keypoints"] = _keypoints(rng, ann["bbox"], k, rng.choice([0.0, 0.5, 1.0]))
        ann["num_keypoints"] = sum(v > 0 for v in ann["keypoints"][2::3])
    for r in results:
        r["category_id"] = cat
        r["keypoints"] = _keypoints(rng, r.pop("bbox"), k, 1.0)
    sigmas = None if k == 17 else {cat: [0.05, 0.1, 0.02, 0.07, 0.3]}
    ours = evaluate(dataset, results, "keypoints", sigmas=sigmas)
    if results:
        ref = reference(dataset, results, "keypoints",
                        sigmas=None if sigmas is None else np.array(sigmas[cat]))
        assert_equal_to_reference(ours, ref)


def test_keypoint_sigmas_are_per_class() -> None:
    """Two classes with different sigmas: each class equals pycocotools run with its own."""
    rng = np.random.default_rng(3)
    images = [{"id": i, "width": 300, "height": 300} for i in range(1, 9)]
    cats = [{"id": 1, "name": "person"}, {"id": 2, "name": "hand"}]
    anns, res = [], []
    for im in images:
        for cat, k in ((1, 17), (2, 5)):
            box = [float(v) for v in rng.uniform(10, 150, 4)]
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": cat,
                         "bbox": box, "area": box[2] * box[3], "num_keypoints": k, "iscrowd": 0,
                         "keypoints": _keypoints(rng, box, k, 1.0)})
            jitter = [box[0] + rng.normal(0, 3), box[1] + rng.normal(0, 3), box[2], box[3]]
            res.append({"image_id": im["id"], "category_id": cat, "score": float(rng.random()),
                        "keypoints": _keypoints(rng, jitter, k, 1.0)})
    dataset = {"images": images, "categories": cats, "annotations": anns}
    hand = [0.02, 0.03, 0.04, 0.05, 0.06]
    ours = evaluate(dataset, res, "keypoints", sigmas={2: hand})
    for k, (cat, sig) in enumerate(((1, None), (2, np.array(hand)))):
        only = {**dataset, "annotations": [a for a in anns if a["category_id"] == cat]}
        ref = reference(only, [r for r in res if r["category_id"] == cat], "keypoints",
                        sigmas=sig, cat_ids=[cat])
        assert np.abs(ours.run.tables.precision[:, :, k] - ref.eval["precision"][:, :, 0]).max() \
            <= 1e-9
        assert abs(ours.per_class["AP"].iloc[k] - ref.stats[0]) <= 1e-9


def test_ground_truth_id_zero_is_counted_as_pycocotools_does() -> None:
    """pycocotools tests a match by the ground truth's id, so a match to id 0 is a miss."""
    dataset = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
               "annotations": [{"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 9],
                                "area": 81.0}, {"id": 5, "image_id": 1, "category_id": 1,
                                                "bbox": [20, 20, 9, 9], "area": 81.0}]}
    results = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 9], "score": 0.9},
               {"image_id": 1, "category_id": 1, "bbox": [20, 20, 9, 9], "score": 0.8}]
    ours = evaluate(dataset, results)
    assert_equal_to_reference(ours, reference(dataset, results, "bbox"))
    assert ours.summary.loc["AR100", "value"] == pytest.approx(0.5)


def test_more_than_max_dets_per_image_and_class() -> None:
    """120 detections on one image: the lowest-scored 20 are cut, exactly as pycocotools."""
    rng = np.random.default_rng(0)
    anns = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [float(v) for v in b],
             "area": float(b[2] * b[3])} for i, b in enumerate(rng.integers(1, 80, (60, 4)))]
    res = [{"image_id": 1, "category_id": 1, "bbox": [float(v) for v in b],
            "score": float(s)} for b, s in zip(rng.integers(1, 80, (120, 4)),
                                               rng.integers(0, 5, 120) / 4, strict=True)]
    dataset = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
               "annotations": anns}
    assert_equal_to_reference(evaluate(dataset, res), reference(dataset, res, "bbox"))


def test_masks_with_rle_crowds_and_boxed_results_equal_pycocotools() -> None:
    """Crowd ground truth as uncompressed RLE; results carrying a box and an RLE (as detectors
    write them): pycocotools then takes the detection area from the box, and so do we."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(5)
    h = w = 120
    images = [{"id": i, "width": w, "height": h} for i in (1, 2, 3)]
    anns, res = [], []
    for im in images:
        for j in range(4):
            x, y = (int(v) for v in rng.integers(0, 80, 2))
            bw, bh = (int(v) for v in rng.integers(5, 40, 2))
            mask = np.zeros((h, w), np.uint8, order="F")
            mask[y:y + bh, x:x + bw] = 1
            crowd = j == 3
            if crowd:  # uncompressed RLE, column-major runs
                flat = mask.flatten(order="F")
                change = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))
                counts = np.diff(np.r_[0, change]).tolist()
                segm: Any = {"size": [h, w], "counts": counts}
            else:
                segm = [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": 1 + j % 2,
                         "bbox": [x, y, bw, bh], "area": float(mask.sum()),
                         "segmentation": segm, "iscrowd": int(crowd)})
            for _ in range(2):
                m2 = np.roll(mask, tuple(int(v) for v in rng.integers(-6, 7, 2)), axis=(0, 1))
                rle = mask_utils.encode(np.asfortranarray(m2))
                rle["counts"] = rle["counts"].decode()
                res.append({"image_id": im["id"], "category_id": 1 + int(rng.integers(0, 2)),
                            "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                            "segmentation": rle, "score": float(rng.integers(1, 4) / 4)})
    dataset = {"images": images, "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
               "annotations": anns}
    assert_equal_to_reference(evaluate(dataset, res, "segm"), reference(dataset, res, "segm"))


def test_keypoint_sigmas_stay_per_class_when_predictions_are_close() -> None:
    """Predictions near their ground truth, so OKS depends on the sigmas: images hold 1 to 3
    skeletons of each class, and each class must still equal pycocotools with its own sigmas
    (the matcher must never run the groups of two classes with one class's sigmas)."""
    rng = np.random.default_rng(5)
    images = [{"id": i, "width": 300, "height": 300} for i in range(1, 7)]
    cats = [{"id": 1, "name": "tight"}, {"id": 2, "name": "loose"}]
    sigmas = {1: [0.01, 0.015, 0.02, 0.01, 0.02], 2: [0.3, 0.25, 0.35, 0.3, 0.4]}
    anns, res = [], []
    for im in images:
        for cat in [1] * (1 + im["id"] % 3) + [2] * (1 + (im["id"] + 1) % 2):
            box = [float(v) for v in rng.uniform(20, 120, 4)]
            points = _keypoints(rng, box, 5, 1.0)
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": cat,
                         "bbox": box, "area": box[2] * box[3], "num_keypoints": 5, "iscrowd": 0,
                         "keypoints": points})
            near = [v + (rng.normal(0, 2) if k % 3 != 2 else 0) for k, v in enumerate(points)]
            res.append({"image_id": im["id"], "category_id": cat, "score": float(rng.random()),
                        "keypoints": near})
    dataset = {"images": images, "categories": cats, "annotations": anns}
    ours = evaluate(dataset, res, "keypoints", sigmas=sigmas)
    aps = []
    for k, cat in enumerate((1, 2)):
        only = {**dataset, "annotations": [a for a in anns if a["category_id"] == cat]}
        ref = reference(only, [r for r in res if r["category_id"] == cat], "keypoints",
                        sigmas=np.array(sigmas[cat]), cat_ids=[cat])
        assert np.abs(ours.run.tables.precision[:, :, k] - ref.eval["precision"][:, :, 0]).max() \
            <= 1e-9
        assert abs(ours.per_class["AP"].iloc[k] - ref.stats[0]) <= 1e-9
        aps.append(ref.stats[0])
    assert aps[0] < 0.5 < aps[1]  # the sigmas matter: a mix-up would show


def test_the_matcher_codes_are_int8_and_an_unmatched_detection_has_no_row() -> None:
    from synapse_nb.evaluation._iou import box_block
    from synapse_nb.evaluation._matching import FP, TP, MatchInput, greedy_match

    # group 0 has two ground truths; group 1 (the last detection's image) has none
    gt = np.array([[0.0, 0, 10, 10], [50, 50, 10, 10]])
    dt = np.array([[50.0, 50, 10, 10], [0, 0, 10, 9], [200, 200, 5, 5], [0, 0, 10, 10]])
    inp = MatchInput(np.array([0, 0]), np.array([0, 0, 0, 1]), np.zeros((1, 2), bool),
                     np.zeros(2, bool), np.zeros(2, bool), np.zeros((1, 4), bool),
                     np.array([0.5, 0.95]), box_block(dt, gt, np.zeros(2, bool)))
    codes, match = greedy_match(inp)
    assert codes.dtype == np.int8 and codes.shape == (4, 1, 2)
    assert codes[:, 0, :].tolist() == [[TP, TP], [TP, FP], [FP, FP], [FP, FP]]
    assert match.tolist() == [[1, 0, -1, -1], [1, -1, -1, -1]]


def _one_group(gt: np.ndarray, dt: np.ndarray, thresholds: list[float]) -> tuple:
    from synapse_nb.evaluation._iou import box_block
    from synapse_nb.evaluation._matching import MatchInput, greedy_match

    n_gt, n_dt = len(gt), len(dt)
    inp = MatchInput(np.zeros(n_gt, np.int64), np.zeros(n_dt, np.int64),
                     np.zeros((1, n_gt), bool), np.zeros(n_gt, bool), np.zeros(n_gt, bool),
                     np.zeros((1, n_dt), bool), np.array(thresholds),
                     box_block(dt, gt, np.zeros(n_gt, bool)))
    return greedy_match(inp)


def test_the_matcher_takes_the_last_of_equal_ious_even_among_many() -> None:
    """pycocotools gives a tie to the later ground truth: also among 300 ground truths whose
    IoUs (0.6, 0.8 or 1.0) an unstable sort would reorder."""
    heights = np.random.default_rng(0).choice([6.0, 8.0, 10.0], size=300)  # IoU = height / 10
    gt = np.column_stack([np.zeros((300, 2)), np.full(300, 10.0), heights])
    _, match = _one_group(gt, np.array([[0.0, 0, 10, 10]]), [0.5, 0.7, 0.95, 1.0])
    last_best = int(np.flatnonzero(heights == 10)[-1])
    assert match.tolist() == [[last_best]] * 4  # an IoU of exactly 1.0 matches at 1.0 too


def test_the_matcher_handles_a_group_of_20000_ground_truths() -> None:
    far = np.column_stack([np.arange(20000) * 20.0 + 100, np.zeros(20000), np.ones((20000, 2))])
    far[12345] = [0.0, 0, 10, 10]
    codes, match = _one_group(far, np.array([[0.0, 0, 10, 10]]), [0.5])
    assert match.tolist() == [[12345]] and codes.tolist() == [[[1]]]
