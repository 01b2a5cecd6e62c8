"""The DM adapter on generated documents: equal to pycocotools on the independently written COCO,
and the rules for rotated boxes, unscored predictions and configuration sigmas."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _dm_reference import box_inputs, categories
from _eval_reference import assert_equal_to_reference, reference
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from synapse_nb.evaluation import EvaluationInputError, evaluate
from synapse_nb.evaluation.dm import DMItem, coco_from_dm

CLASSES = ["car", "bus", "person", "dog"]
SIDES = st.sampled_from([2, 8, 16, 31, 32, 33, 60, 96, 120])
SCORES = st.sampled_from([None, 0.1, 0.5, 0.5, 0.9, 0.9])  # None: no score stated (1.0)


def _box(draw: Any, cls: str, ident: str, data: list[float], score: float | None) -> dict:
    ann = {"id": ident, "classification": cls, "data": data, "attrs": []}
    if score is not None:
        key = draw(st.sampled_from(["score", "confidence"]))
        ann["attrs"] = [{"name": key, "value": score}]
    return ann


@st.composite
def dm_sets(draw: Any) -> tuple[dict[int, dict], dict[int, dict], list[str]]:
    """Data units with DM v2 box documents: empty images, classes with no ground truth or no
    prediction, tied scores, unscored predictions, near copies with the class changed."""
    units = draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=6, unique=True))
    configured = draw(st.sampled_from([[], CLASSES[:2], CLASSES]))
    gt: dict[int, dict] = {}
    preds: dict[int, dict] = {}
    for unit in units:
        boxes = []
        for k in range(draw(st.integers(0, 6))):
            data = [draw(st.integers(0, 40)) * 2, draw(st.integers(0, 40)) * 2, draw(SIDES),
                    draw(SIDES)]
            boxes.append(_box(draw, draw(st.sampled_from(CLASSES)), f"g{k}", data, None))
        found = []
        for k in range(draw(st.integers(0, 8))):
            if boxes and draw(st.booleans()):
                src = draw(st.sampled_from(boxes))
                x, y, w, h = src["data"]
                data = [x + draw(st.integers(-4, 4)), y + draw(st.integers(-4, 4)),
                        max(1, w + draw(st.integers(-6, 6))), max(1, h + draw(st.integers(-6, 6)))]
                cls = src["classification"] if draw(st.integers(0, 4)) else "bus"
            else:
                data = [draw(st.integers(0, 100)), draw(st.integers(0, 100)), draw(SIDES),
                        draw(SIDES)]
                cls = draw(st.sampled_from(CLASSES))
            found.append(_box(draw, cls, f"p{k}", data, draw(SCORES)))
        gt[unit] = {"images": [{"bounding_box": boxes}]} if boxes or draw(st.booleans()) else {}
        if found or draw(st.booleans()):
            preds[unit] = {"images": [{"bounding_box": found}]}
    return gt, preds, configured


_ONE_BOX = {"images": [{"bounding_box": [
    {"id": "g0", "classification": "car", "data": [0, 0, 32, 32], "attrs": []}]}]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dm_sets())
@example(({1: _ONE_BOX, 2: {}}, {}, []))  # no predictions at all
@example(({1: _ONE_BOX}, {1: {"images": [{"bounding_box": []}]}}, CLASSES))  # an empty document
def test_generated_documents_equal_pycocotools(data: tuple[dict, dict, list[str]]) -> None:
    gt, preds, classes = data
    inputs = coco_from_dm([DMItem(u, d) for u, d in gt.items()],
                          [DMItem(u, d) for u, d in preds.items()], "bbox",
                          configuration={"classes": classes})
    ours = evaluate(inputs.dataset, inputs.results, "bbox")
    cats = categories(classes, [*gt.values(), *preds.values()], ("bounding_box",))
    assert [c["name"] for c in inputs.dataset["categories"]] == list(cats)
    dataset, results = box_inputs(gt, preds, cats)
    assert_equal_to_reference(ours, reference(dataset, results, "bbox"))
    assert len(inputs.pred_links) == len(results)


def _rotated(angle: float) -> dict:
    return {"images": [{"bounding_box": [
        {"id": "r", "classification": "pole", "data": [100, 100, 100, 10],
         "attrs": [{"name": "rotation", "value": angle}]}]}]}


def test_rotated_boxes_hull_under_bbox_and_polygon_under_segm() -> None:
    gt = [DMItem(1, _rotated(np.pi / 4), width=400, height=400)]
    inputs = coco_from_dm(gt, [], "bbox")
    x, y, w, h = inputs.dataset["annotations"][0]["bbox"]
    assert w == pytest.approx(h) == pytest.approx(110 / np.sqrt(2))
    assert inputs.notes == ["1 rotated boxes evaluated by their axis-aligned hull"]
    hull = {"images": [{"bounding_box": [{"id": "p", "classification": "pole",
                                          "data": [x, y, w, h]}]}]}
    pred = [DMItem(1, hull, width=400, height=400)]
    as_box = coco_from_dm(gt, pred, "bbox")
    assert evaluate(as_box.dataset, as_box.results).summary.loc["AP50", "value"] == pytest.approx(1)
    as_shape = coco_from_dm(gt, pred, "segm", tools=("bounding_box",))
    ev = evaluate(as_shape.dataset, as_shape.results, "segm")
    assert ev.summary.loc["AP50", "value"] == 0.0  # a thin diagonal box covers ~1/6 of its hull
    assert_equal_to_reference(ev, reference(as_shape.dataset, as_shape.results, "segm"))


def test_configuration_sigmas_are_used_per_class() -> None:
    joints = ["a", "b"]
    doc = {"images": [{"keypoint": [
        {"id": "k1", "classification": "a", "data": [10, 10], "group_id": "g"},
        {"id": "k2", "classification": "b", "data": [30, 40], "group_id": "g"}],
        "group": [{"id": "g", "classification": "robot", "data": ["k1", "k2"]}]}]}
    moved = {"images": [{"keypoint": [
        {"id": "k1", "classification": "a", "data": [12, 10], "group_id": "g"},
        {"id": "k2", "classification": "b", "data": [30, 43], "group_id": "g"}],
        "group": [{"id": "g", "classification": "robot", "data": ["k1", "k2"]}]}]}
    config = {"keypoints": joints, "keypoint_sigmas": {"robot": [0.05, 0.2]}}
    inputs = coco_from_dm([DMItem(1, doc)], [DMItem(1, moved)], "keypoints",
                          configuration=config)
    assert inputs.sigmas == {1: [0.05, 0.2]}
    ours = evaluate(inputs.dataset, inputs.results, "keypoints", sigmas=inputs.sigmas)
    ev = reference(inputs.dataset, inputs.results, "keypoints", sigmas=np.array([0.05, 0.2]))
    assert_equal_to_reference(ours, ev)
    with pytest.raises(EvaluationInputError, match=r"'keypoint_sigmas' = \[0.1\]"):
        coco_from_dm([DMItem(1, doc)], [], "keypoints",
                     configuration={"keypoints": joints, "keypoint_sigmas": [0.1]})


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"iou_type": "mask"}, "iou_type = 'mask'"),
    ({"tools": ("polygon",)}, "tools = ('polygon',)"),
    ({"default_score": float("nan")}, "default_score = nan"),
    ({"predictions": [DMItem(2, {})]}, "field 'data_unit' = 2"),
    ({"ground_truth": [{"data_unit": 1}]}, "ground_truth[0]"),
])
def test_bad_arguments_name_the_field_and_value(kwargs: dict, text: str) -> None:
    args: dict[str, Any] = {"ground_truth": [DMItem(1, {})], "predictions": [], **kwargs}
    with pytest.raises(EvaluationInputError, match=text.replace("(", r"\(").replace(
            ")", r"\)").replace("[", r"\[")):
        coco_from_dm(**args)


def test_masks_need_the_image_size() -> None:
    doc = {"images": [{"segmentation": [{"id": "m", "classification": "sky", "data": [0, 1, 2]}]}]}
    with pytest.raises(EvaluationInputError, match=r"data unit 4: field 'width'/'height'"):
        coco_from_dm([DMItem(4, doc)], [], "segm")
