"""EvaluationPanel: the review loop (confusion cell -> tasks -> compare preview -> tag), driven
as the browser drives it, against the demo workspace's ground truth v2 and the yolo-v8n
predictions, evaluated with the COCO engine."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from traitlets import TraitError
from wb_helpers import frontend_click, frontend_update

from synapse_nb.evaluation import coco_from_per_image, evaluate
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.label_filters import BACKGROUND, confusion_cell, evaluation_labels
from synapse_nb.widgets import EvaluationPanel, explore
from synapse_nb.widgets.preview import HIGHLIGHT, SINGLE_SIZE

pytestmark = pytest.mark.usefixtures("comm")


def _version_ids(client) -> dict[tuple[str, str], int]:
    names = {d["id"]: d["name"] for d in client.raw.list_ground_truth_datasets()["results"]}
    return {
        (names[v["ground_truth_dataset"]], v["version"]): v["id"]
        for v in client.raw.list_ground_truth_versions()["results"]
    }


def _per_task(client, version: int, by_unit: pd.Series) -> dict[int, list[dict]]:
    """The version's boxes keyed by the task of their data unit (scores from the attrs)."""
    events = client.list_ground_truth_events(
        {"ground_truth_dataset_versions": [version]}, list_all=True, include_data=True
    )
    task_of_event = events["data_unit_id"].map(by_unit)
    out: dict[int, list[dict]] = {int(t): [] for t in task_of_event}
    boxes = events.synapse.annotations()
    boxes = boxes[boxes["tool"] == "bounding_box"]
    for row in boxes.itertuples():
        ann = {"label": row.class_name, "bbox": [row.x, row.y, row.w, row.h]}
        score = (row.attributes or {}).get("score")
        if score is not None:
            ann["score"] = float(score)
        out[int(task_of_event.loc[row.event_id])].append(ann)
    return out


@pytest.fixture(scope="module")
def review(client):
    """(result, tasks, images): the demo's predictions against ground truth v2."""
    versions = _version_ids(client)
    tasks = client.list_tasks({"project": 1}, list_all=True)
    by_unit = pd.Series(tasks.index.to_numpy(), index=tasks["data_unit_id"].to_numpy())
    gt_boxes = _per_task(client, versions[("Street GT", "v2")], by_unit)
    pred_boxes = _per_task(client, versions[("yolo-v8n 2.0.0 predictions", "v1")], by_unit)
    gt, preds = coco_from_per_image(gt_boxes, pred_boxes)
    images = {im["id"]: int(im["file_name"]) for im in gt["images"]}
    return evaluate(gt, preds), tasks, images


@pytest.fixture
def panel(review, client):
    result, tasks, images = review
    return EvaluationPanel(result, tasks, images=images, client=client)


def _worst_confusion(matrix: pd.DataFrame) -> tuple[str, str]:
    values = matrix.iloc[:-1, :-1].to_numpy().copy()
    np.fill_diagonal(values, 0)
    i, j = np.unravel_index(values.argmax(), values.shape)
    assert values[i, j] > 0, "the demo predictions confuse classes"
    return str(matrix.index[i]), str(matrix.columns[j])


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


# ---------------------------------------------------------------------------- inputs


def test_bad_inputs_are_refused_naming_the_field(review, client):
    result, tasks, images = review
    with pytest.raises(InvalidInputError, match="result"):
        EvaluationPanel("not a result", tasks, images=images)
    with pytest.raises(InvalidInputError, match="file_url"):
        EvaluationPanel(result, tasks.drop(columns=["file_url"]), images=images)
    missing = dict(images)
    first = next(iter(missing))
    del missing[first]
    with pytest.raises(InvalidInputError, match=rf"images.*\[{first}\]"):
        EvaluationPanel(result, tasks, images=missing)
    some = tasks.drop(index=[images[first]])
    with pytest.raises(InvalidInputError, match=rf"tasks.*\[{images[first]}\]"):
        EvaluationPanel(result, some, images=images)
    panel = EvaluationPanel(result, tasks, images=images, client=client)
    with pytest.raises(InvalidInputError, match="'truck'"):
        panel.select_cell("truck", "car")
    with pytest.raises(InvalidInputError, match="background"):
        panel.select_cell(BACKGROUND, BACKGROUND)
    with pytest.raises(InvalidInputError, match="selected_cell"):
        panel.tag_cell()


def test_every_cell_holds_exactly_the_annotations_the_matrix_counts(panel):
    matrix = panel.matrix
    for true in matrix.index:
        for predicted in matrix.columns:
            if true == predicted == BACKGROUND:
                continue
            labels = confusion_cell(panel.labels, true, predicted)
            side = "pred" if true == BACKGROUND else "gt"
            assert (labels["source"] == side).sum() == matrix.loc[true, predicted], (
                true,
                predicted,
            )
            if BACKGROUND not in (true, predicted):
                # a confusion pair is one ground truth and one prediction
                assert (labels["source"] == "pred").sum() == matrix.loc[true, predicted]
            assert panel.cells[(true, predicted)].disabled == (matrix.loc[true, predicted] == 0)


# ---------------------------------------------------------------------------- the loop


def test_clicking_a_confusion_cell_filters_the_table_and_opens_the_compare_preview(panel):
    true, predicted = _worst_confusion(panel.matrix)
    frontend_click(panel.cells[(true, predicted)])
    assert panel.selected_cell == (true, predicted)
    expected = confusion_cell(panel.labels, true, predicted)
    tasks = set(expected["task_id"].tolist())
    assert set(panel.table.value.index.tolist()) == tasks
    assert panel.table.count == len(tasks)
    assert set(panel.tags.rows.index.tolist()) == tasks
    preview = panel.preview
    assert preview is not None and preview.compare_mode
    assert preview.row_count == min(len(tasks), panel.preview_rows)
    # the preview opens on the task with the most annotations of the cell
    per_task = expected["task_id"].value_counts()
    assert per_task.loc[preview.current_id] == per_task.max()
    here = expected[expected["task_id"] == preview.current_id]
    wanted = sorted(
        f"{'a' if s == 'gt' else 'b'}:{a}"
        for s, a in zip(here["source"], here["annotation_id"], strict=True)
    )
    assert preview.highlighted == wanted
    assert {t.split(":")[0] for t in wanted} == {"a", "b"}  # a GT box and its confused pred
    assert f"{predicted}" in panel.status.value and f"{true}" in panel.status.value


def test_rows_checked_in_the_table_open_in_the_preview_still_highlighted(panel):
    true, predicted = _worst_confusion(panel.matrix)
    panel.preview_rows = 2
    panel.select_cell(true, predicted)
    assert panel.preview.row_count == 2
    picked = int(panel.table._row_ids[4])  # a row past the preview's two
    frontend_update(panel.table._row_checks[4], value=True)
    assert panel.preview.row_count == 1 and panel.preview.current_id == picked
    cell = panel.cell_labels[panel.cell_labels["task_id"] == picked]
    assert len(panel.preview.highlighted) == len(cell) > 0


def test_the_highlight_is_drawn_around_the_cell_annotations(panel):
    true, predicted = _worst_confusion(panel.matrix)
    panel.select_cell(true, predicted)
    preview = panel.preview
    preview.image_format = "png"  # exact colours (the default sends JPEG photos as JPEG)
    image = _pixels(preview._image.value)
    here = panel.cell_labels[panel.cell_labels["task_id"] == preview.current_id]
    row = panel.tasks.loc[preview.current_id]
    scale = min(SINGLE_SIZE[0] / row["width"], SINGLE_SIZE[1] / row["height"], 1.0)
    x, y, _w, h = (float(here.iloc[0][c]) * scale for c in ("x", "y", "w", "h"))
    cy = round(y + h / 2)
    # the frame sits just outside the box's left edge
    strip = image[cy, max(round(x) - 8, 0) : round(x)]
    assert any(tuple(p) == HIGHLIGHT for p in strip)
    preview.highlight(None)
    strip = _pixels(preview._image.value)[cy, max(round(x) - 8, 0) : round(x)]
    assert not any(tuple(p) == HIGHLIGHT for p in strip)
    assert preview.highlighted == []


def test_a_missed_class_cell_lists_ground_truth_only(panel):
    counts = panel.matrix[BACKGROUND].iloc[:-1]
    true = str(counts.idxmax())
    rows = panel.select_cell(true, BACKGROUND)
    labels = panel.cell_labels
    assert set(labels["source"]) == {"gt"} and set(labels["status"]) == {"FN"}
    assert set(labels["class_name"]) == {true}
    assert set(rows.index) == set(labels["task_id"])
    assert all(h.startswith("a:") for h in panel.preview.highlighted)


def _tagged(client) -> set[int]:
    server = client.list_tasks({"project": 1}, list_all=True)
    return {int(pk) for pk, names in server["tag_names"].items() if "needs-review" in names}


def test_one_click_tags_the_cell_tasks_on_the_server(panel, client):
    before = _tagged(client)
    true, predicted = _worst_confusion(panel.matrix)
    panel.select_cell(true, predicted)
    cell = set(panel.table.value.index.tolist())
    seen = []
    panel.on_tag(seen.append)
    frontend_click(panel.tag_button)
    assert panel.tags.error == "", panel.status.value
    assert len(seen) == 1 and set(seen[0].rows) == cell
    assert cell - before, "some cell task was not tagged yet"
    assert _tagged(client) == before | cell
    assert all("needs-review" in names for names in panel.table.value["tag_names"])
    panel.tags.undo()
    assert _tagged(client) == before


# ---------------------------------------------------------------------------- label view


def test_label_view_statuses_classes_and_score(panel):
    true, predicted = _worst_confusion(panel.matrix)
    panel.select_cell(true, predicted)
    preview = panel.preview
    labels = panel.labels[panel.labels["task_id"] == preview.current_id]

    def ids(rows):
        return sorted(
            f"{'a' if s == 'gt' else 'b'}:{a}"
            for s, a in zip(rows["source"], rows["annotation_id"], strict=True)
        )

    assert preview.visible_ids == ids(labels[labels["status"].isin(["TP", "FP", "FN"])])
    frontend_update(panel.status_boxes["TP"], value=False)
    assert panel.view_status == ["FP", "FN"]
    assert preview.visible_ids == ids(labels[labels["status"].isin(["FP", "FN"])])
    panel.show_labels(status=["FP"], classes=[predicted])
    fp = labels[(labels["status"] == "FP") & (labels["class_name"] == predicted)]
    assert preview.visible_ids == ids(fp) and len(fp)
    panel.show_labels(status=["TP", "FP", "FN"], classes=[])
    threshold = float(np.nanmedian(labels["score"]))
    frontend_update(panel.score_slider, value=round(threshold, 2))
    assert preview.min_score == pytest.approx(round(threshold, 2))
    kept = labels[labels["score"].isna() | (labels["score"] >= round(threshold, 2))]
    assert preview.visible_ids == ids(kept)
    assert len(kept) < len(labels)
    with pytest.raises(InvalidInputError, match="'maybe'"):
        panel.show_labels(status="maybe")
    with pytest.raises(InvalidInputError, match="unicorn"):
        panel.show_labels(classes=["unicorn"])


def test_the_gallery_draws_the_same_label_view(panel):
    true, predicted = _worst_confusion(panel.matrix)
    panel.select_cell(true, predicted)
    preview = panel.preview
    preview.mode = "gallery"
    shown = panel.labels[panel.labels["task_id"].isin(panel.table.value.index)]
    first_page = set(
        preview._source.rows[i].id for i in range(min(preview.gallery_size, preview.row_count))
    )
    page_classes = set(shown[shown["task_id"].isin(first_page)]["class_name"])
    assert set(preview.classes) == page_classes and len(page_classes) > 1
    before = [img.value for img, _b in preview._thumbs[: len(first_page)]]
    panel.show_labels(classes=[true])
    assert preview.classes == [true]
    after = [img.value for img, _b in preview._thumbs[: len(first_page)]]
    assert any(a != b for a, b in zip(before, after, strict=True))


# ---------------------------------------------------------------------------- explorer


def test_inside_explore_the_panel_is_a_tab_and_tagging_reloads_the_table(review, client):
    result, tasks, images = review
    panel = EvaluationPanel(result, tasks, images=images, client=client)
    ex = explore(client, project=1, evaluation=panel).load()
    tabs = ex.children[0]
    assert tabs.get_title(1) == "Evaluation" and tabs.children[1] is panel
    true, predicted = _worst_confusion(panel.matrix)
    panel.select_cell(true, predicted)
    pk = int(panel.table.value.index[0])
    panel.tag_cell()
    ex.panel.filter(tags=["needs-review"])
    assert pk in ex.panel.value.index
    panel.tags.undo()
    with pytest.raises(InvalidInputError, match="evaluation"):
        explore(client, evaluation="panel")


def test_labels_join_the_task_table_by_task_id(review):
    result, tasks, images = review
    labels = evaluation_labels(result, images)
    joined = labels.join(tasks[["file_name"]], on="task_id")
    assert joined["file_name"].notna().all()
    per_image = result.per_image()
    errors = labels[labels["status"].isin(["FP", "FN"])].groupby("task_id").size()
    by_task = per_image.assign(task_id=per_image["image_id"].map(images)).set_index("task_id")
    assert (errors == by_task.loc[errors.index, "errors"]).all()


# ---------------------------------------------------------------------------- preview hooks


def test_preview_hooks_refuse_bad_pairs_and_a_changed_compare_mode(panel):
    panel.select_cell(*_worst_confusion(panel.matrix))
    preview = panel.preview
    with pytest.raises(InvalidInputError, match="source 'a' or 'b'"):
        preview.highlight({preview.current_id: [("gt", "1")]})
    with pytest.raises(InvalidInputError, match="annotations"):
        preview.show_only([("a", "1")])
    truth = panel._preview_frame(panel._preview_ids[:1], "gt")
    with pytest.raises(InvalidInputError, match="compare"):
        preview.set_frame(truth)  # the widget compares: a second source is needed
    with pytest.raises(TraitError):
        preview.min_score = 1.5


def test_min_score_takes_low_predictions_out_of_the_compare_matching(panel):
    panel.select_cell(BACKGROUND, _worst_confusion(panel.matrix)[1])
    preview = panel.preview
    here = panel.labels[
        (panel.labels["task_id"] == preview.current_id) & (panel.labels["source"] == "pred")
    ]
    extra_before = preview.compare_counts["extra"]
    matched_before = preview.compare_counts["matched"]
    top = float(here["score"].max())
    panel.show_labels(min_score=min(top + 0.01, 1.0))
    assert preview.min_score == pytest.approx(min(top + 0.01, 1.0))
    assert preview.compare_counts["extra"] == 0 and preview.compare_counts["matched"] == 0
    assert extra_before + matched_before == len(here)
    assert all(v.startswith("a:") for v in preview.visible_ids)
