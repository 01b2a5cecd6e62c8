"""The results object: confusion matrix, per-image and per-annotation frames, PR curves,
comparison, plots, and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synapse_nb.evaluation import (
    EvaluationInputError,
    coco_from_per_image,
    compare,
    evaluate,
    rotated_box_polygon,
)
from synapse_nb.exceptions import ClientError, InvalidInputError, SynapseNBError


def _scene() -> tuple[dict, list]:
    """Two images. Image 1: a car found, a car predicted as truck, a missed person.
    Image 2: a stray truck prediction and a car found twice (one duplicate)."""
    gt, preds = coco_from_per_image(
        {"a.jpg": [{"label": "car", "bbox": [0, 0, 50, 50], "id": 11},
                   {"label": "car", "bbox": [100, 100, 40, 40], "id": 12},
                   {"label": "person", "bbox": [200, 0, 20, 60], "id": 13}],
         "b.jpg": [{"label": "car", "bbox": [10, 10, 60, 30], "id": 21}]},
        {"a.jpg": [{"label": "car", "bbox": [2, 0, 50, 50], "score": 0.9, "id": 1},
                   {"label": "truck", "bbox": [100, 102, 40, 40], "score": 0.8, "id": 2}],
         "b.jpg": [{"label": "truck", "bbox": [300, 300, 20, 20], "score": 0.7, "id": 3},
                   {"label": "car", "bbox": [10, 10, 60, 30], "score": 0.95, "id": 4},
                   {"label": "car", "bbox": [12, 10, 60, 30], "score": 0.6, "id": 5}]})
    return gt, preds


def test_confusion_matrix_counts_confusions_misses_and_ghosts() -> None:
    res = evaluate(*_scene())
    m = res.confusion_matrix(iou=0.5)
    assert list(m.index) == ["car", "person", "truck", "background"]
    assert m.loc["car", "car"] == 2 and m.loc["car", "truck"] == 1
    assert m.loc["person", "background"] == 1
    assert m.loc["background", "truck"] == 1 and m.loc["background", "car"] == 1
    assert int(m.to_numpy().sum()) == 6  # 4 GT + 5 predictions - 3 matched pairs
    high = res.confusion_matrix(iou=0.5, score_threshold=0.85)
    assert high.loc["car", "background"] == 1 and high.loc["background", "truck"] == 0


@pytest.mark.parametrize(("option", "value"), [
    ("iou", "x"), ("iou", 1.5), ("iou", 0), ("iou", True), ("score_threshold", float("nan")),
    ("score_threshold", "high"),
])
def test_confusion_matrix_names_a_threshold_out_of_range(option, value) -> None:
    res = evaluate(*_scene())
    with pytest.raises(EvaluationInputError) as err:  # "x" was a TypeError from inside
        res.confusion_matrix(**{option: value})
    assert err.value.field == option
    assert err.value.value == value or value != value  # NaN is not equal to itself


def test_confusion_matrix_takes_score_thresholds_on_any_scale() -> None:
    # scores are any finite numbers (logits, percentages): their threshold has no range
    gt, preds = _scene()
    scaled = [{**p, "score": p["score"] * 100} for p in preds]
    low = [{**p, "score": p["score"] - 1} for p in preds]
    assert evaluate(gt, scaled).confusion_matrix(score_threshold=85).equals(
        evaluate(gt, preds).confusion_matrix(score_threshold=0.85))
    assert evaluate(gt, low).confusion_matrix(score_threshold=-0.15).equals(
        evaluate(gt, preds).confusion_matrix(score_threshold=0.85))


def test_per_annotation_frame_joins_by_id() -> None:
    frame = evaluate(*_scene()).per_annotation(iou=0.5).set_index(["source", "annotation_id"])
    assert frame.loc[("pred", 1), "status"] == "TP" and frame.loc[("pred", 1), "matched_id"] == 11
    assert frame.loc[("pred", 1), "iou"] == pytest.approx(48 * 50 / (52 * 50))
    assert frame.loc[("pred", 2), "status"] == "FP"
    assert frame.loc[("pred", 2), "matched_category"] == "car"  # a confusion, not a ghost
    assert frame.loc[("pred", 3), "matched_category"] == "background"
    assert frame.loc[("pred", 5), "status"] == "FP"  # the duplicate
    assert frame.loc[("gt", 12), "status"] == "FN"
    assert frame.loc[("gt", 12), "matched_category"] == "truck"
    assert frame.loc[("gt", 13), "status"] == "FN" and pd.isna(frame.loc[("gt", 13), "matched_id"])
    assert frame.loc[("gt", 21), "matched_id"] == 4


def test_per_image_frame_is_worst_first() -> None:
    frame = evaluate(*_scene()).per_image(iou=0.5)
    assert frame[["image_id", "tp", "fp", "fn"]].values.tolist() == [[1, 1, 1, 2], [2, 1, 2, 0]]
    assert (frame["errors"].diff().dropna() <= 0).all()


def test_pr_curve_and_thresholds() -> None:
    res = evaluate(*_scene())
    car = res.pr_curve("car", iou=0.5)
    assert len(car) == 101 and car["precision"].is_monotonic_decreasing
    assert np.allclose(res.pr_curve(1, 0.5)["precision"], car["precision"])
    with pytest.raises(EvaluationInputError, match=r"iou = 0\.42"):
        res.pr_curve("car", iou=0.42)
    with pytest.raises(EvaluationInputError, match="category = 'bus'"):
        res.pr_curve("bus")


def test_per_class_counts_and_classes_without_data() -> None:
    pc = evaluate(*_scene()).per_class
    assert pc.loc["car", "n_gt"] == 3 and pc.loc["car", "n_pred"] == 3
    assert pc.loc["truck", "n_gt"] == 0 and pc.loc["truck", "AP"] == -1  # no GT: absent
    assert pc.loc["person", "n_pred"] == 0 and pc.loc["person", "AP"] == 0


def test_compare_side_by_side() -> None:
    gt, preds = _scene()
    better = [p for p in preds if p["id"] != 5]
    cmp = compare(gt, {"base": preds, "dedup": better})
    assert list(cmp.summary.index) == ["base", "dedup"]
    assert cmp.summary.loc["dedup", "AP50"] >= cmp.summary.loc["base", "AP50"]
    assert cmp.per_class("AP50").shape == (3, 2)


def test_rotated_boxes_are_evaluated_as_polygons() -> None:
    square = rotated_box_polygon(50, 50, 40, 40, 0)
    diamond = rotated_box_polygon(50, 50, 40, 40, 45)
    gt = {"images": [{"id": 1, "width": 100, "height": 100}],
          "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": square,
                           "area": 1600.0, "bbox": [30, 30, 40, 40]}]}
    res = evaluate(gt, [{"image_id": 1, "category_id": 1, "segmentation": diamond,
                         "score": 1.0}], "segm")
    # a square and the same square turned 45°: IoU ≈ 0.71, matched at .50–.70 only
    assert res.summary.loc["AP50", "value"] == pytest.approx(1.0)
    assert res.summary.loc["AP75", "value"] == 0.0


@pytest.mark.parametrize(("mutate", "message", "field", "value"), [
    (lambda gt, p: p[0].update(score="high"), r"predictions\[0\]: field 'score' = 'high'",
     "predictions[0].score", "high"),
    (lambda gt, p: p[1].update(bbox=[1, 2, 3]), r"predictions\[1\]: field 'bbox' = \[1, 2, 3\]",
     "predictions[1].bbox", [1, 2, 3]),
    (lambda gt, p: p[0].update(image_id=99), r"field 'image_id' = 99 is not an image",
     None, 99),
    (lambda gt, p: gt["annotations"][0].update(category_id=None),
     r"annotations\[0\]: field 'category_id' = None", "annotations[0].category_id", None),
    (lambda gt, p: gt["annotations"][1].update(area=float("nan")),
     r"annotations\[1\]: field 'area' = nan is not finite", "annotations[1].area", None),
])  # fmt: skip
def test_bad_input_names_the_field_and_value(mutate, message, field, value) -> None:
    gt, preds = _scene()
    mutate(gt, preds)
    with pytest.raises(EvaluationInputError, match=message) as err:
        evaluate(gt, preds)
    assert isinstance(err.value, SynapseNBError) and isinstance(err.value, ValueError)
    # an input error like every other: `except ClientError` around a call catches it
    assert isinstance(err.value, InvalidInputError) and isinstance(err.value, ClientError)
    if field is not None:
        assert err.value.field == field
    if value is not None:
        assert err.value.value == value


def test_masks_need_image_sizes() -> None:
    gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 4.0,
                           "segmentation": [[0, 0, 0, 2, 2, 2, 2, 0]]}]}
    with pytest.raises(EvaluationInputError, match="no 'height'/'width'"):
        evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 1.0}],
                 "segm")


def test_plots_render(tmp_path: Path) -> None:
    """Each figure draws without error and saves a non-trivial PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = evaluate(*_scene())
    figures = {"pr": res.plot_pr_curves().figure,
               "ap": res.plot_per_class_ap().figure,
               "cm": res.plot_confusion_matrix().figure,
               "cmp": compare(_scene()[0], {"a": _scene()[1], "b": []}).plot().figure}
    for name, fig in figures.items():
        fig.savefig(tmp_path / f"{name}.png", dpi=80)
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
        plt.close(fig)






def test_keypoint_sigmas_must_match_the_keypoints() -> None:
    gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "p"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 9],
                           "area": 81.0, "keypoints": [1, 1, 2, 5, 5, 2]}]}
    preds = [{"image_id": 1, "category_id": 1, "keypoints": [1, 1, 1, 5, 5, 1], "score": 1.0}]
    with pytest.raises(EvaluationInputError, match=r"sigmas\[1\] = \[0.1\] is not 2 positive"):
        evaluate(gt, preds, "keypoints", sigmas={1: [0.1]})
    assert evaluate(gt, preds, "keypoints", sigmas={1: [0.1, 0.1]}).stats[0] > 0.99
