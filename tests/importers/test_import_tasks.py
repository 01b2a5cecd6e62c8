"""Pre-annotations on tasks of a real backend: all checks before the first write."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from _import_helpers import box_doc, canon

from synapse_nb.clients import BackendClient
from synapse_nb.importers import (
    ImportFormatError,
    import_to_tasks,
    read_coco_results,
    read_dm,
)


def empty_tasks(tasks: pd.DataFrame, start: int, count: int) -> pd.DataFrame:
    """``count`` tasks with no annotations, from position ``start`` (tests use disjoint ones)."""
    return tasks[tasks.n_annotations == 0].iloc[start : start + count]


def puts(srv) -> list[dict]:
    return [
        e for e in list(srv.requests)
        if e["method"] == "PUT" and "annotate_task_data" in e["path"]
    ]  # fmt: skip


def test_predictions_become_pre_annotations(rw, rw_client, tasks: pd.DataFrame) -> None:
    target = empty_tasks(tasks, 0, 3)
    docs = {
        name: box_doc([("car", [n, n, 20, 10]), ("person", [5, 5, 8, 16])], score=[0.9, 0.4])
        for n, name in enumerate(target.file_name)
    }
    seen: list[tuple[int, int, str]] = []
    result = import_to_tasks(
        rw_client, read_dm(docs), target, progress=lambda c, t, k: seen.append((c, t, k))
    )
    assert result.counts() == {"written": 3, "failed": 0, "skipped": 0, "not_matched": 0}
    assert seen == [(1, 3, "import"), (2, 3, "import"), (3, 3, "import")]
    for pk, name in target.file_name.items():
        stored = rw_client.get_task(int(pk))["data"]
        assert canon(stored) == canon(docs[name])  # scores kept as attributes
    after = rw_client.list_tasks({"project": 1}, list_all=True).loc[target.index]
    assert after.n_bounding_box.tolist() == [2, 2, 2]
    assert repr(result) == "ImportResult(3 written, 0 failed, 0 not matched; 6 annotations)"


def test_one_bad_document_stops_the_import_before_any_write(rw, rw_client, tasks) -> None:
    target = empty_tasks(tasks, 3, 4)
    docs = {name: box_doc([("car", [0, 0, 5, 5])]) for name in target.file_name}
    bad_name = target.file_name.iloc[2]
    docs[bad_name] = box_doc([("car", [0, 0, 0, 5]), ("spaceship", [0, 0, 5, 5])])
    configuration = rw_client.get_project(1)["configuration"]
    before = len(puts(rw))
    with pytest.raises(ImportFormatError) as caught:
        import_to_tasks(rw_client, read_dm(docs), target, classes=configuration)
    message = str(caught.value)
    assert f"{bad_name}: bounding_box 'b0': data = [0, 0, 0, 5] needs a positive width" in message
    assert f"{bad_name}: bounding_box 'b1': classification = 'spaceship' is not a class" in message
    assert len(puts(rw)) == before  # nothing was sent
    after = rw_client.list_tasks({"project": 1}, list_all=True).loc[target.index]
    assert (after.n_annotations == 0).all()


def test_tasks_with_annotations_are_only_replaced_when_asked(rw, rw_client, tasks) -> None:
    target = tasks[tasks.n_annotations > 0].head(1)
    pk, name = int(target.index[0]), target.file_name.iloc[0]
    original = copy.deepcopy(rw_client.get_task(pk)["data"])
    labels = read_dm({name: box_doc([("bus", [1, 1, 4, 4])], score=[0.3])})
    with pytest.raises(ImportFormatError, match=f"task {pk} already have annotations"):
        import_to_tasks(rw_client, labels, target)
    assert rw_client.get_task(pk)["data"] == original
    with pytest.raises(ImportFormatError, match="n_annotations is not a column, so existing"):
        import_to_tasks(rw_client, labels, target[["file_name"]])
    assert rw_client.get_task(pk)["data"] == original
    result = import_to_tasks(rw_client, labels, target, overwrite=True)
    assert result.frame.status.tolist() == ["written"]
    assert canon(rw_client.get_task(pk)["data"]) == canon(labels[name].data)


def test_unreadable_labels_refuse_or_are_skipped(rw_client, tasks) -> None:
    target = empty_tasks(tasks, 7, 2)
    images = dict(enumerate(target.file_name))
    results = [
        {"image_id": 0, "category_id": 1, "bbox": [0, 0, "w", 4], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.5},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.5},
    ]
    labels = read_coco_results(results, categories={1: "car"}, images=images)
    with pytest.raises(ImportFormatError, match=r"bbox must be .* annotations failed to read"):
        import_to_tasks(rw_client, labels, target)
    result = import_to_tasks(rw_client, labels, target, skip_failed=True)
    frame = result.frame.set_index("label")
    assert frame.loc[images[0], "status"] == "skipped"
    assert frame.loc[images[1], ["status", "n_annotations"]].tolist() == ["written", 2]


def test_nothing_matched_is_an_error_and_unmatched_labels_are_reported(rw_client, tasks):
    target = empty_tasks(tasks, 9, 1)
    with pytest.raises(ImportFormatError, match="match no task"):
        import_to_tasks(rw_client, read_dm({"nope.jpg": box_doc([])}), target)
    docs = {"nope.jpg": box_doc([]), target.file_name.iloc[0]: box_doc([("car", [0, 0, 1, 1])])}
    result = import_to_tasks(rw_client, read_dm(docs), target)
    assert result.counts()["not_matched"] == 1 and result.counts()["written"] == 1
    assert result.matching is not None and result.matching.counts()["no_task"] == 1


def test_server_failures_are_recorded_per_task_and_the_rest_goes_on(rw, tasks) -> None:
    """A task the server keeps failing is reported; the other tasks are written."""
    target = empty_tasks(tasks, 10, 2)
    first, second = (int(pk) for pk in target.index)
    docs = {name: box_doc([("car", [0, 0, 3, 3])]) for name in target.file_name}
    with BackendClient(rw.url, api_token=rw.token, retry=0) as backend:
        rw.set_faults(rate_503=1.0, paths=(f"tasks/{first}/",))
        try:
            result = import_to_tasks(backend, read_dm(docs), target, progress=True)
        finally:
            rw.set_faults()
        frame = result.frame.set_index("task_id")
        assert frame.loc[first, "status"] == "failed" and "503" in frame.loc[first, "error"]
        assert frame.loc[second, "status"] == "written"
        assert backend.get_task(first)["data"] in ({}, None)
        assert canon(backend.get_task(second)["data"]) == canon(docs[target.file_name.iloc[1]])


def test_labels_that_do_not_fit_the_task_image_are_refused(rw, rw_client, tasks) -> None:
    target = empty_tasks(tasks, 12, 2)
    (a, b), (wa, ha) = target.file_name.tolist(), target[["width", "height"]].iloc[0].tolist()
    outside = read_dm({a: box_doc([("car", [wa - 5, 0, 10, 10])]), b: box_doc([])})
    sized = read_dm([{"file_name": b, "data": box_doc([]), "width": 1, "height": 1}])
    before = len(puts(rw))
    with pytest.raises(
        ImportFormatError, match=f"{a}: bounding_box 'b0': extends outside the task's {wa}x{ha}"
    ):
        import_to_tasks(rw_client, outside, target)
    with pytest.raises(
        ImportFormatError, match=f"{b}: the labels are for a 1x1 image, the task's is"
    ):
        import_to_tasks(rw_client, sized, target)
    assert len(puts(rw)) == before
