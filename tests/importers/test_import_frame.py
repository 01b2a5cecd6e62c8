"""The predictions frame: the annotations view's columns and dtypes, plus score and source."""

from __future__ import annotations

import pandas as pd
import pytest

from synapse_nb.importers import (
    PREDICTION_COLUMNS,
    match_to_tasks,
    predictions_frame,
    read_coco_results,
    read_dm,
)


@pytest.fixture(scope="module")
def annotated(rw_client, tasks: pd.DataFrame) -> pd.DataFrame:
    """Ten annotated tasks of the demo, with their DM data."""
    ids = tasks[tasks.n_annotations > 0].index[:10]
    return rw_client.list_tasks({"project": 1}, list_all=True, include_data=True).loc[ids]


def test_frame_equals_the_annotations_view_of_the_same_data(annotated: pd.DataFrame) -> None:
    labels = read_dm(dict(zip(annotated.file_name, annotated.data, strict=True)))
    for key, width in zip(annotated.file_name, annotated.width, strict=True):
        labels[key].width = int(width)  # masks need the width for their box, as in the view
    preds = predictions_frame(labels, match_to_tasks(labels, annotated), source="gt")
    view = annotated.drop(columns="data").synapse.annotations()
    assert list(preds.columns) == list(PREDICTION_COLUMNS)
    shared = list(view.columns)
    assert shared == list(PREDICTION_COLUMNS)[: len(shared)]
    assert len(preds) == len(view) > 0
    left = preds[shared].sort_values(["task_id", "annotation_id"]).reset_index(drop=True)
    right = view.sort_values(["task_id", "annotation_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, pd.DataFrame(right), check_categorical=False)
    for column in shared:
        assert str(preds[column].dtype) == str(view[column].dtype), column
    assert preds.score.isna().all() and set(preds.source) == {"gt"}


def test_scores_and_join_onto_the_task_frame(tasks: pd.DataFrame) -> None:
    chosen = tasks.head(3)
    images = {n: name for n, name in enumerate(chosen.file_name)}
    images[99] = "not_a_task.jpg"
    results = [
        {"image_id": n, "category_id": 1, "bbox": [n, n, 10, 10], "score": 0.5 + n / 10}
        for n in [0, 1, 99]
    ]
    labels = read_coco_results(results, categories={1: "car"}, images=images)
    matching = match_to_tasks(labels, tasks)
    preds = predictions_frame(labels, matching, source="model-a")
    assert preds.score.tolist() == [0.5, 0.6] and preds.tool.tolist() == ["bounding_box"] * 2
    joined = preds.merge(tasks, left_on="task_id", right_index=True, suffixes=("", "_task"))
    assert joined.file_name_task.tolist() == chosen.file_name.tolist()[:2]
    kept = predictions_frame(labels, matching, keep_unmatched=True)
    assert kept.task_id.isna().sum() == 1 and kept.file_name.iloc[-1] == "not_a_task.jpg"
    unmatched = predictions_frame(labels)
    assert unmatched.task_id.isna().all() and len(unmatched) == 3
    assert str(unmatched.score.dtype) == "Float64"
