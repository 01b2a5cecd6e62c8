"""The review loop inside explore(): a confusion-cell click filters the Explore tab's live
task table (a server-side id filter shown as a removable chip) and opens the compare preview
on the cell; EvaluationPanel built straight from client.evaluate(...); df.synapse.labels.
Driven as the browser drives the widgets, against the demo workspace over real HTTP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from wb_helpers import frontend_click, last_query

from synapse_nb.evaluation import coco_from_per_image, evaluate
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.label_filters import confusion_cell, evaluation_labels, filter_labels
from synapse_nb.widgets import EvaluationPanel, FilterPanel, explore
from synapse_nb.widgets.filter_sources import ID_CHUNK

pytestmark = pytest.mark.usefixtures("comm")


def _id_of(rows: list[dict], **match: object) -> int:
    return next(r["id"] for r in rows if all(r.get(k) == v for k, v in match.items()))


@pytest.fixture(scope="module")
def result(client):
    """yolo-v8n's predictions against Street GT v2, evaluated by the client."""
    datasets = client.raw.list_ground_truth_datasets()["results"]
    versions = client.raw.list_ground_truth_versions()["results"]
    version = _id_of(versions, ground_truth_dataset=_id_of(datasets, name="Street GT"),
                     version="v2")
    model = _id_of(client.raw.list_models()["results"], name="yolo-v8n", version="2.0.0")
    return client.evaluate(ground_truth=version, predictions={"model": model})


@pytest.fixture(scope="module")
def hand_built(client, result):
    """(tasks, images) as a user built them before: project 1's tasks, data unit -> task."""
    tasks = client.list_tasks({"project": 1}, list_all=True)
    by_unit = dict(zip(tasks["data_unit_id"].astype(int), tasks.index.astype(int), strict=True))
    units = np.asarray(result.run.gt.image_ids, np.int64)
    return tasks, {int(u): by_unit[int(u)] for u in units}


@pytest.fixture
def panel(client, result):
    return EvaluationPanel.from_client(client, result)


def _worst_confusion(matrix: pd.DataFrame) -> tuple[str, str]:
    values = matrix.iloc[:-1, :-1].to_numpy().copy()
    np.fill_diagonal(values, 0)
    i, j = np.unravel_index(values.argmax(), values.shape)
    assert values[i, j] > 1, "the demo predictions confuse classes"
    return str(matrix.index[i]), str(matrix.columns[j])


def _pairs(labels: pd.DataFrame, task: int) -> list[str]:
    here = labels[labels["task_id"] == task]
    return sorted(f"{'a' if s == 'gt' else 'b'}:{a}"
                  for s, a in zip(here["source"], here["annotation_id"], strict=True))


# ------------------------------------------------------------------ explore(): cell -> table
def test_a_cell_click_filters_the_explorer_table_to_the_cell_tasks(panel, client, demo):
    ex = explore(client, project=1, evaluation=panel).load()
    everything = ex.panel.count
    true, predicted = _worst_confusion(panel.matrix)
    ex.tabs.selected_index = 1  # the user is on the Evaluation tab
    frontend_click(panel.cells[(true, predicted)])
    cell = set(confusion_cell(panel.labels, true, predicted)["task_id"].tolist())
    assert 1 < len(cell) < everything
    assert ex.panel.count == len(cell)
    assert set(ex.panel.fetch_all().index.tolist()) == cell
    assert set(ex.panel.value.index.tolist()) <= cell
    # the server filtered: the page request carried the ids
    sent = last_query(demo, "tasks")["id__in"][0].split(",")
    assert sorted(int(i) for i in sent) == sorted(cell)
    chip = ex.panel.id_chip
    assert chip.layout.display == "flex"
    assert chip.text == f"{len(cell)} tasks from confusion cell {true}→{predicted}"
    assert ex.tabs.selected_index == 0  # back on the Explore tab


def test_the_explorer_preview_opens_on_the_first_cell_task_highlighted(panel, client):
    ex = explore(client, project=1, evaluation=panel).load()
    true, predicted = _worst_confusion(panel.matrix)
    ex.select_cell(true, predicted)
    first = panel.cell_task_ids[0]
    expected = confusion_cell(panel.labels, true, predicted)
    per_task = expected["task_id"].value_counts()
    assert per_task.loc[first] == per_task.max()  # most cell annotations first
    preview = ex.preview
    assert preview is not None and preview is not panel.preview and preview.compare_mode
    assert preview.current_id == first
    assert preview.highlighted == _pairs(expected, first)
    assert {p.split(":")[0] for p in preview.highlighted} == {"a", "b"}
    assert ex.preview_box.children == (preview,)


def test_the_label_view_applies_to_the_explorer_preview(panel, client):
    ex = explore(client, project=1, evaluation=panel).load()
    ex.select_cell(*_worst_confusion(panel.matrix))
    before = list(ex.preview.visible_ids)
    panel.show_labels(status="FP", min_score=0.3)
    assert ex.preview.min_score == 0.3
    assert ex.preview.current_id == panel.preview.current_id
    assert list(ex.preview.visible_ids) == list(panel.preview.visible_ids) != before
    assert all(v.startswith("b:") for v in ex.preview.visible_ids)  # predictions only
    first = panel.cell_task_ids[0]
    kept = panel.labels[(panel.labels["task_id"] == first) & (panel.labels["status"] == "FP")]
    assert panel.view_pairs([first]) == {first: [("b", a) for a in kept["annotation_id"]]}
    ex.panel.select([first])  # rows chosen in the table: a plain preview, no label view
    panel.show_labels(status="TP")
    assert ex.preview.min_score == 0.0 and not ex.preview.compare_mode


def test_removing_the_chip_restores_the_table(panel, client):
    ex = explore(client, project=1, evaluation=panel).load()
    before_count, before_ids = ex.panel.count, ex.panel.value.index.tolist()
    ex.select_cell(*_worst_confusion(panel.matrix))
    assert ex.panel.count < before_count
    frontend_click(ex.panel.id_chip.remove_button)
    assert ex.panel.count == before_count == client.raw.list_tasks({"project": 1})["count"]
    assert ex.panel.value.index.tolist() == before_ids
    assert ex.panel.id_chip.layout.display == "none" and ex.panel.id_chip.text == ""
    assert "id__in" not in ex.panel.params


def test_a_click_moves_an_explorer_on_another_project_to_the_panel_project(panel, client):
    ex = explore(client, project=2, evaluation=panel).load()
    true, predicted = _worst_confusion(panel.matrix)
    ex.select_cell(true, predicted)
    assert ex.panel.params["project"] == panel.project == 1
    assert set(ex.panel.fetch_all().index) == set(panel.cell_task_ids)


def test_the_other_filters_still_narrow_the_cell_tasks(panel, client):
    ex = explore(client, project=1, evaluation=panel).load()
    ex.select_cell(*_worst_confusion(panel.matrix))
    cell = panel.tasks.loc[panel.cell_task_ids]
    status = str(cell["status"].mode()[0])
    ex.panel.filter(status=status)
    assert set(ex.panel.fetch_all().index) == set(cell.index[cell["status"] == status])
    ex.panel.reset()  # reset clears every filter, the id filter too
    assert ex.panel.id_chip.text == ""
    assert ex.panel.count == client.raw.list_tasks({"project": 1})["count"]


def test_select_cell_without_an_evaluation_is_refused(client):
    with pytest.raises(InvalidInputError, match="evaluation"):
        explore(client, project=1).select_cell("car", "truck")


# ------------------------------------------------------------------ FilterPanel id filter
def test_frame_mode_id_filter_keeps_exactly_those_rows(client):
    tasks = client.list_tasks({"project": 1}, list_all=True)
    panel = FilterPanel(tasks)
    wanted = [int(i) for i in tasks.index[[7, 2, 30]]]
    rows = panel.filter_ids(wanted, "picked")
    assert rows.index.tolist() == sorted(wanted)
    assert panel.id_chip.text == "3 tasks picked"
    assert "ids=<3 ids>" in repr(panel)
    panel.filter_ids(range(1, 100_001))
    assert len(repr(panel)) < 200  # a long id list is counted, not spelled out
    assert panel.filter(ids=wanted[:1]).index.tolist() == wanted[:1]  # the same via filter()
    assert len(panel.filter(ids=None)) == len(tasks)
    assert panel.id_chip.layout.display == "none"


@pytest.mark.parametrize("bad", [[], ["3"], [True], "1,2", 7, [1.5]])
def test_bad_ids_are_refused_naming_the_field(client, bad):
    panel = FilterPanel(client=client, params={"project": 1}).load()
    with pytest.raises(InvalidInputError, match=r"invalid ids="):
        panel.filter_ids(bad)
    assert panel.id_chip.text == "" and "id__in" not in panel.params


def test_a_long_id_list_is_asked_in_chunks_and_paged_like_a_short_one(client, demo):
    tasks = client.list_tasks({"project": 1}, list_all=True)
    wanted = [int(i) for i in tasks.index[::2]]
    padded = wanted + list(range(900_000, 900_000 + 2 * ID_CHUNK))  # ids of no task
    short = FilterPanel(client=client, params={"project": 1}, page_size=20).load()
    long = FilterPanel(client=client, params={"project": 1}, page_size=20).load()
    short.filter_ids(wanted)
    first = len(demo.requests)
    long.filter_ids(padded, "many")
    assert long.id_chip.text == f"{len(set(padded)):,} tasks many"
    for column, ascending in (("id", True), ("created", False), ("status", True)):
        short.sort(column, ascending)
        long.sort(column, ascending)
        assert long.count == short.count == len(wanted)
        for page in (1, 3):
            short.go(page)
            long.go(page)
            assert long.value.index.tolist() == short.value.index.tolist()
        assert long.fetch_all().index.tolist() == short.fetch_all().index.tolist()
    queries = [r.get("query") or "" for r in list(demo.requests)[first:]]
    # one chunk (7-digit ids, "%2C" commas) fits; the whole list (~10,000 characters) would not
    assert max(len(str(q)) for q in queries) < 13 * ID_CHUNK
    assert long.error == ""


# ------------------------------------------------------------------ construction from links
def test_from_client_equals_the_hand_built_panel(panel, client, result, hand_built):
    tasks, images = hand_built
    by_hand = EvaluationPanel(result, tasks, images=images, client=client)
    pd.testing.assert_frame_equal(panel.labels, by_hand.labels)
    pd.testing.assert_frame_equal(panel.matrix, by_hand.matrix)
    true, predicted = _worst_confusion(panel.matrix)
    ours, theirs = panel.select_cell(true, predicted), by_hand.select_cell(true, predicted)
    assert ours.index.tolist() == theirs.index.tolist()
    assert ours["file_url"].tolist() == theirs["file_url"].tolist()
    assert panel.preview.highlighted == by_hand.preview.highlighted
    assert panel.tags is not None and panel.project == 1


def test_the_constructor_with_client_alone_builds_the_same_panel(panel, client, result):
    plain = EvaluationPanel(result, client=client, project=1)
    pd.testing.assert_frame_equal(plain.labels, panel.labels)
    assert set(plain.tasks.index) == set(panel.tasks.index)


def test_a_result_without_links_needs_tasks_and_images(client):
    gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]}, {1: []})
    with pytest.raises(InvalidInputError, match="links=None"):
        EvaluationPanel.from_client(client, evaluate(gt, preds))
    tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
    with pytest.raises(InvalidInputError, match="invalid images=None"):
        EvaluationPanel(evaluate(gt, preds), tasks, client=client)
    with pytest.raises(InvalidInputError, match="invalid client=None"):
        EvaluationPanel(evaluate(gt, preds))


def test_a_project_without_tasks_of_the_images_is_named(client, result):
    with pytest.raises(InvalidInputError, match=r"data units with no task in project 2"):
        EvaluationPanel.from_client(client, result, project=2)


# ------------------------------------------------------------------ df.synapse.labels
@pytest.mark.parametrize("options", [
    {"status": "FP", "min_score": 0.3},
    {"status": ["FN"], "classes": ["car", "person"]},
    {"classes": "car", "source": "pred"},
    {},
])
def test_df_synapse_labels_equals_filter_labels(client, result, hand_built, options):
    tasks, images = hand_built
    ours = tasks.synapse.labels(result, **options)
    theirs = filter_labels(evaluation_labels(result, images), **options).reset_index(drop=True)
    assert len(ours) > 0
    pd.testing.assert_frame_equal(ours, theirs)


def test_df_synapse_labels_keeps_the_frame_tasks_only(client, result, hand_built):
    tasks, _images = hand_built
    some = tasks.iloc[::3]
    labels = some.synapse.labels(result)
    assert len(labels) and set(labels["task_id"]) <= set(some.index)
    everything = tasks.synapse.labels(result)
    assert len(labels) == int(everything["task_id"].isin(some.index).sum())


def test_df_synapse_labels_refuses_bad_frames_and_values(client, result, hand_built):
    tasks, _images = hand_built
    with pytest.raises(InvalidInputError, match="labels"):
        client.list_assignments({"project": 1}).synapse.labels(result)
    with pytest.raises(InvalidInputError, match="result"):
        tasks.synapse.labels("not a result")
    with pytest.raises(InvalidInputError, match="status"):
        tasks.synapse.labels(result, status="XX")
    both = client.list_tasks({"data_unit": "1,2"}, list_all=True)  # two projects share units
    with pytest.raises(InvalidInputError, match="one task per data unit"):
        both.synapse.labels(result)
