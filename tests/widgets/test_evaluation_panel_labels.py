"""Label-level views as frame operations: the evaluation's labels filtered by status, class
and score, and the labels of each confusion cell (no server needed: frames only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synapse_nb.evaluation import coco_from_per_image, evaluate
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.label_filters import (
    BACKGROUND,
    confusion_cell,
    evaluation_labels,
    filter_labels,
)

CLASSES = ("car", "truck", "bus", "person")


def random_set(seed: int, n_images: int = 40) -> tuple[dict, list, dict[int, int]]:
    """Ground truth with jittered, relabelled, dropped and invented predictions."""
    rng = np.random.default_rng(seed)
    gt: dict[int, list[dict]] = {}
    preds: dict[int, list[dict]] = {}
    for task in range(100, 100 + n_images):
        gt[task], preds[task] = [], []
        for _ in range(rng.integers(0, 6)):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(10, 120, 2)
            label = str(rng.choice(CLASSES))
            gt[task].append({"label": label, "bbox": [x, y, w, h]})
            if rng.random() < 0.2:
                continue  # a miss
            if rng.random() < 0.25:
                label = str(rng.choice(CLASSES))  # a confusion (or the same class by chance)
            jitter = rng.normal(0, 6, 4)
            preds[task].append(
                {
                    "label": label,
                    "bbox": [
                        x + jitter[0],
                        y + jitter[1],
                        max(w + jitter[2], 2),
                        max(h + jitter[3], 2),
                    ],
                    "score": float(rng.uniform(0.3, 1.0)),
                }
            )
        for _ in range(rng.integers(0, 3)):
            preds[task].append(
                {
                    "label": str(rng.choice(CLASSES)),
                    "bbox": [*rng.uniform(0, 500, 2), *rng.uniform(5, 60, 2)],
                    "score": float(rng.uniform(0.0, 0.7)),
                }
            )
    coco, results = coco_from_per_image(gt, preds)
    images = {im["id"]: int(im["file_name"]) for im in coco["images"]}
    return coco, results, images


@pytest.fixture(scope="module")
def labelled():
    coco, results, images = random_set(7)
    result = evaluate(coco, results)
    return result, evaluation_labels(result, images), images


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_each_cell_holds_what_the_confusion_matrix_counts(seed):
    coco, results, images = random_set(seed)
    result = evaluate(coco, results)
    labels = evaluation_labels(result, images)
    matrix = result.confusion_matrix()
    assert matrix.iloc[:-1, :-1].to_numpy().trace() < matrix.iloc[:-1, :].to_numpy().sum()
    for true in matrix.index:
        for predicted in matrix.columns:
            if true == predicted == BACKGROUND:
                continue
            cell = confusion_cell(labels, true, predicted)
            side = "pred" if true == BACKGROUND else "gt"
            assert (cell["source"] == side).sum() == matrix.loc[true, predicted], (true, predicted)
            if BACKGROUND not in (true, predicted):
                assert (cell["source"] == "pred").sum() == matrix.loc[true, predicted]
                assert set(cell["class_name"]) <= {true, predicted}


def test_labels_carry_tasks_boxes_and_the_per_annotation_status(labelled):
    result, labels, images = labelled
    per = result.per_annotation()
    assert len(labels) == len(per)
    assert set(labels["task_id"]) <= set(images.values())
    merged = labels.assign(annotation_id=labels["annotation_id"].astype(int)).merge(
        per, on=["source", "annotation_id"], suffixes=("", "_per")
    )
    assert len(merged) == len(per)
    assert (merged["status"] == merged["status_per"]).all()
    assert (merged["task_id"] == merged["image_id_per"].map(images)).all()
    gt_boxes = {a["id"]: a["bbox"] for a in random_set(7)[0]["annotations"]}
    gt_rows = labels[labels["source"] == "gt"]
    for row in gt_rows.head(20).itertuples():
        assert [row.x, row.y, row.w, row.h] == pytest.approx(gt_boxes[int(row.annotation_id)])


def test_filter_by_status_class_score_and_source(labelled):
    _, labels, _ = labelled
    for status in ("TP", "FP", "FN"):
        rows = filter_labels(labels, status=status)
        assert len(rows) == (labels["status"] == status).sum() > 0
        assert set(rows["status"]) == {status}
    assert set(filter_labels(labels, status="FN")["source"]) == {"gt"}
    cars = filter_labels(labels, classes="car")
    assert set(cars["class_name"]) == {"car"} and len(cars)
    high = filter_labels(labels, min_score=0.6)
    preds = high[high["source"] == "pred"]
    assert (preds["score"] >= 0.6).all() and len(preds) < (labels["source"] == "pred").sum()
    assert (high["source"] == "gt").sum() == (labels["source"] == "gt").sum()
    both = filter_labels(
        labels, status=["FP"], classes=["truck", "bus"], min_score=0.5, source="pred"
    )
    expected = labels[
        (labels["status"] == "FP")
        & labels["class_name"].isin(["truck", "bus"])
        & (labels["score"] >= 0.5)
    ]
    assert both.index.tolist() == expected.index.tolist()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"status": "maybe"}, "status"),
        ({"status": ["TP", 3]}, "status"),
        ({"classes": [1]}, "classes"),
        ({"min_score": 1.5}, "min_score"),
        ({"min_score": float("nan")}, "min_score"),
        ({"min_score": True}, "min_score"),
        ({"source": "model"}, "source"),
    ],
)
def test_bad_filters_name_the_field_and_value(labelled, kwargs, field):
    _, labels, _ = labelled
    with pytest.raises(InvalidInputError, match=field):
        filter_labels(labels, **kwargs)


def test_bad_frames_and_cells_are_refused(labelled):
    result, labels, images = labelled
    with pytest.raises(InvalidInputError, match="labels"):
        filter_labels(pd.DataFrame({"x": [1]}), status="TP")
    with pytest.raises(InvalidInputError, match="background"):
        confusion_cell(labels, BACKGROUND, BACKGROUND)
    with pytest.raises(InvalidInputError, match="predicted"):
        confusion_cell(labels, "car", 3)
    with pytest.raises(InvalidInputError, match="images"):
        evaluation_labels(result, [1, 2])
    with pytest.raises(InvalidInputError, match="result"):
        evaluation_labels("result", images)


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_a_side_with_no_annotations_at_all_gives_labels(side):
    # per_annotation used to index an empty array here (IndexError)
    box = {"label": "car", "bbox": [0, 0, 10, 10], "score": 0.9}
    gt, preds = ({1: []}, {1: [box]}) if side == "gt" else ({1: [box]}, {1: []})
    coco, results = coco_from_per_image(gt, preds)
    labels = evaluation_labels(evaluate(coco, results), {1: 5})
    assert labels["status"].tolist() == (["FP"] if side == "gt" else ["FN"])
    assert labels["matched_id"].isna().all()


def test_the_per_annotation_frame_filters_the_same_way(labelled):
    result, labels, _ = labelled
    per = result.per_annotation()
    for kwargs in (
        {"status": "FP"},
        {"classes": ["bus"], "min_score": 0.5},
        {"source": "gt", "status": ["FN"]},
    ):
        from_per = filter_labels(per, **kwargs)
        from_labels = filter_labels(labels, **kwargs)
        keys = sorted(zip(from_per["source"], from_per["annotation_id"].astype(str), strict=True))
        assert (
            keys == sorted(zip(from_labels["source"], from_labels["annotation_id"], strict=True))
            and keys
        )
    cell = confusion_cell(per, "car", "truck")
    assert len(cell) == len(confusion_cell(labels, "car", "truck"))
    with pytest.raises(InvalidInputError, match="matched_class"):
        filter_labels(per.drop(columns=["matched_category"]), status="TP")
