"""Matching labels to the tasks of a real backend, by file name and by id."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse_nb.converters import to_coco
from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.importers import (
    ImportFormatError,
    LabelledImage,
    Labels,
    match_to_tasks,
    read_coco,
)


def labels_for(*keys: str) -> Labels:
    return Labels("dm", {k: LabelledImage(k, {"images": [{}]}) for k in keys})


def test_names_match_across_case_extension_and_directories(tasks: pd.DataFrame) -> None:
    names = tasks["file_name"].tolist()
    a, b, c = names[0], names[1], names[2]
    stem_b = b.rsplit(".", 1)[0]
    labels = labels_for(f"C:\\data\\{a.upper()}", f"runs/exp/{stem_b}.txt", stem_b + "x", c)
    m = match_to_tasks(labels, tasks)
    by_name = dict(zip(tasks["file_name"], tasks.index, strict=True))
    assert m.pairs == {
        f"C:\\data\\{a.upper()}": by_name[a],
        f"runs/exp/{stem_b}.txt": by_name[b],
        c: by_name[c],
    }
    report = m.report
    assert report.loc[report.side == "label", "label"].tolist() == [stem_b + "x"]
    assert report.loc[report.side == "label", "problem"].tolist() == ["no_task"]
    no_labels = report.loc[report.problem == "no_labels", "task_id"].tolist()
    assert sorted(no_labels) == sorted(set(tasks.index) - {by_name[a], by_name[b], by_name[c]})
    assert m.counts() == {
        "matched": 3, "no_task": 1, "no_labels": len(tasks) - 3, "ambiguous": 0
    }  # fmt: skip


def test_ambiguous_names_are_reported_not_guessed() -> None:
    tasks = pd.DataFrame(
        {"file_name": ["a.jpg", "a.png", "b.jpg", "c.jpg"]}, index=pd.Index([1, 2, 3, 4], name="id")
    )
    # "a" fits two tasks by stem; "b.png" and "B.JPG" land on one task: the exact match wins;
    # "c.png" and "c.tif" both land on task 4 by stem: neither wins
    labels = labels_for("a", "b.png", "B.JPG", "c.png", "c.tif")
    m = match_to_tasks(labels, tasks)
    assert m.pairs == {"B.JPG": 3}
    rows = m.report.set_index("label").loc[["a", "b.png", "c.png", "c.tif"]]
    assert rows["problem"].tolist() == ["ambiguous"] * 4
    assert rows.loc["a", "candidates"] == [1, 2]
    assert rows.loc["b.png", "detail"] == "task shared with B.JPG"
    # tasks a label could be are not also reported as having no labels
    assert m.report.loc[m.report.problem == "no_labels", "task_id"].tolist() == []
    a_exact = match_to_tasks(labels_for("a.png"), tasks)
    assert a_exact.pairs == {"a.png": 2}


def test_coco_exported_from_tasks_matches_back_by_id_and_by_name(
    rw_client, tasks: pd.DataFrame
) -> None:
    done = tasks[tasks.n_annotations > 0].head(5)
    full = rw_client.list_tasks({"project": 1}, list_all=True, include_data=True).loc[done.index]
    items = [
        {"id": int(pk), "file_name": row.file_name, "width": int(row.width),
         "height": int(row.height), "data": row.data}
        for pk, row in full.iterrows()
    ]  # fmt: skip
    coco, _ = to_coco(items)
    labels = read_coco(coco["instances"])
    by_id = match_to_tasks(labels, tasks, by="id")
    by_name = match_to_tasks(labels, tasks)
    assert by_id.pairs == by_name.pairs == {row.file_name: pk for pk, row in done.iterrows()}
    by_unit = match_to_tasks(
        Labels("dm", {"u": LabelledImage("u", {}, item_id=int(done.data_unit_id.iloc[0]))}),
        tasks,
        by="data_unit_id",
    )
    assert by_unit.pairs == {"u": int(done.index[0])}


def test_bad_matching_requests_are_refused(tasks: pd.DataFrame) -> None:
    with pytest.raises(ImportFormatError, match="by = 'name' is not one of") as caught:
        match_to_tasks(labels_for("a"), tasks, by="name")
    # an input error like every other: `except ClientError` around a call catches it
    assert isinstance(caught.value, InvalidInputError) and isinstance(caught.value, ClientError)
    assert (caught.value.field, caught.value.value) == ("by", "name")
    with pytest.raises(ImportFormatError, match="file_name is not a column of the task frame"):
        match_to_tasks(labels_for("a"), tasks[["status"]])
    assert match_to_tasks(labels_for("x.jpg"), {5: "X.JPG"}).pairs == {"x.jpg": 5}


STEMS = st.text(alphabet="abcdefgXYZ_0123456789é", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(STEMS, min_size=1, max_size=8, unique_by=lambda s: s.casefold()),
    st.data(),
)
def test_any_spelling_of_a_task_name_finds_that_task(stems: list[str], data: st.DataObject) -> None:
    """Case, directories and a changed extension never lose or confuse a match."""
    exts = [data.draw(st.sampled_from([".jpg", ".png", ".JPEG"])) for _ in stems]
    tasks = {n + 1: f"{stem}{ext}" for n, (stem, ext) in enumerate(zip(stems, exts, strict=True))}
    spelled = {}
    for task_id, name in tasks.items():
        stem, ext = name.rsplit(".", 1)
        stem = data.draw(st.sampled_from([stem, stem.upper(), stem.lower()]))
        ext = data.draw(st.sampled_from([ext, ext.upper(), "txt", "json"]))
        folder = data.draw(st.sampled_from(["", "runs/exp/", "C:\\\\data\\\\"]))
        spelled[f"{folder}{stem}.{ext}"] = task_id
    m = match_to_tasks(labels_for(*spelled), tasks)
    assert m.pairs == spelled
    assert m.counts() == {"matched": len(tasks), "no_task": 0, "no_labels": 0, "ambiguous": 0}
