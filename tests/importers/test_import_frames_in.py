"""Labels from frames and from ground-truth (or predictions) dataset versions on the server."""

from __future__ import annotations

import pandas as pd
import pytest
from _import_helpers import canon, canon_labels

from synapse_nb.exceptions import InvalidInputError, NotFoundError
from synapse_nb.importers import (
    ImportFormatError,
    labels_from_frame,
    match_to_tasks,
    predictions_frame,
    read_ground_truth,
    read_predictions,
)
from synapse_nb.server.db import dumps, now


@pytest.fixture(scope="module")
def with_data(rw_client, tasks: pd.DataFrame) -> pd.DataFrame:
    ids = tasks[tasks.n_annotations > 0].index[:8]
    return rw_client.list_tasks({"project": 1}, list_all=True, include_data=True).loc[ids]


def test_an_item_frame_reads_with_task_ids(with_data: pd.DataFrame) -> None:
    labels = read_predictions(with_data)
    assert labels.format == "frame" and list(labels.images) == with_data.file_name.tolist()
    for pk, row in with_data.iterrows():
        image = labels[row.file_name]
        assert image.item_id == pk and (image.width, image.height) == (row.width, row.height)
        assert canon(image.data) == canon(row.data)
    assert match_to_tasks(labels, with_data, by="id").pairs == {
        row.file_name: pk for pk, row in with_data.iterrows()
    }


def test_the_annotations_view_and_a_predictions_frame_read_back(with_data: pd.DataFrame) -> None:
    view = with_data.drop(columns="data").synapse.annotations()
    back = labels_from_frame(
        view.merge(with_data[["file_name"]], left_on="task_id", right_index=True)
    )
    assert canon_labels(back) == {row.file_name: canon(row.data) for row in with_data.itertuples()}
    preds = predictions_frame(back, source="x")
    preds["score"] = 0.5  # a score column alone is kept as the score attribute
    preds["attributes"] = [{k: v for k, v in a.items() if k != "score"} for a in preds.attributes]
    again = labels_from_frame(preds)
    scores = {a.score() for image in again for a in image.document().annotations()}
    assert scores == {0.5}


def test_ground_truth_and_predictions_versions_on_the_server(rw_client, tasks) -> None:
    gt = read_ground_truth(rw_client, 2)
    events = rw_client.list_ground_truth_events(
        {"ground_truth_dataset_versions": 2}, list_all=True, include_data=True
    )
    assert gt.format == "ground_truth" and len(gt) == len(events) > 0
    first = events.iloc[0]
    assert canon(gt[first.file_name].data) == canon(first.data)
    preds = read_ground_truth(rw_client, 3, source="demo-model")
    matching = match_to_tasks(preds, tasks)
    assert matching.counts()["matched"] == len(preds)
    frame = predictions_frame(preds, matching)
    assert frame.task_id.notna().all() and set(frame.source) == {"demo-model"}
    assert len(frame) > 0 and frame.score.notna().all()  # the model's scores came along


def test_a_frame_of_neither_kind_is_refused() -> None:
    with pytest.raises(ImportFormatError, match=r"columns = \['a'\] have neither 'data'"):
        labels_from_frame(pd.DataFrame({"a": [1]}))
    with pytest.raises(ImportFormatError, match="format = 'voc' does not fit a DataFrame"):
        read_predictions(pd.DataFrame({"a": [1]}), format="voc")


def test_a_hand_made_annotation_frame_with_gaps_reads() -> None:
    frame = pd.DataFrame(
        {
            "file_name": ["a.jpg", "a.jpg"],
            "tool": ["bounding_box", "keypoint"],
            "class_name": ["car", "nose"],
            "annotation_id": ["b", None],
            "geometry": [[0, 0, 4, 2], [1, 1]],
            "attributes": [float("nan"), None],
            "score": [0.5, float("nan")],
            "visibility": pd.array([None, 2], dtype="Int64"),
        }
    )
    [box, nose] = labels_from_frame(frame)["a.jpg"].document().annotations()
    assert (box.bbox(), box.score(), box.attrs) == ((0.0, 0.0, 4.0, 2.0), 0.5, {"score": 0.5})
    assert (nose.point(), nose.visibility, nose.score(), nose.id) == ((1.0, 1.0), 2, None, None)


def test_a_repeated_file_name_is_keyed_by_data_unit_alike_in_two_versions(rw, rw_client) -> None:
    """Two data units share a file name; two versions list their events in opposite orders."""
    events = rw_client.list_ground_truth_events(
        {"ground_truth_dataset_versions": 2}, list_all=True, include_data=True
    )
    first, other = events.iloc[0], events.iloc[1]
    name, unit = first.file_name, int(first.data_unit_id)
    stamp = now()
    with rw.state.db.write() as con:
        twin = con.execute(  # a second data unit with the same file (so the same name)
            "INSERT INTO data_units (tenant_id, data_collection_id, group_id, meta, files, "
            "created, modified) SELECT tenant_id, data_collection_id, group_id, meta, files, "
            "created, modified FROM data_units WHERE id = ?",
            (unit,),
        ).lastrowid
        tenant = con.execute("SELECT tenant_id FROM data_units WHERE id = ?", (unit,)).fetchone()[0]
        dataset = con.execute(
            "INSERT INTO ground_truth_datasets (tenant_id, name, project_id, created) "
            "VALUES (?, 'twins', 1, ?)",
            (tenant, stamp),
        ).lastrowid
        versions = []
        for order in ((unit, twin), (twin, unit)):
            version = con.execute(
                "INSERT INTO ground_truth_dataset_versions (dataset_id, version, created) "
                "VALUES (?, ?, ?)",
                (dataset, f"v{len(versions) + 1}", stamp),
            ).lastrowid
            versions.append(version)
            for u in order:
                data = first.data if u == unit else other.data
                con.execute(
                    "INSERT INTO ground_truth_events (tenant_id, version_id, data_unit_id, data, "
                    "created, modified) VALUES (?, ?, ?, ?, ?, ?)",
                    (tenant, version, u, dumps(data), stamp, stamp),
                )
    twin_key = f"{name} (data unit {twin})"
    for version in versions:
        gt = read_ground_truth(rw_client, version)
        assert sorted(gt.images) == sorted([name, twin_key]), version
        assert canon(gt[name].data) == canon(first.data), version
        assert canon(gt[twin_key].data) == canon(other.data), version
        listed = rw_client.list_ground_truth_events({"ground_truth_dataset_versions": version})
        [pk] = listed.index[listed.data_unit_id == twin]
        assert gt.audit.warnings == [
            f"DUPLICATE_FILE_NAME: {name} of row {pk} is keyed {twin_key!r}"
        ]


@pytest.mark.parametrize("version", [0, -1, "2", 2.0, True, None])
def test_read_ground_truth_names_a_version_that_is_no_id_before_listing(rw_client, version):
    # 0 and the like listed nothing and came back as empty labels, without a word
    with pytest.raises(ImportFormatError) as caught:
        read_ground_truth(rw_client, version)
    assert (caught.value.field, caught.value.value) == ("version", version)
    assert isinstance(caught.value, InvalidInputError)


@pytest.mark.parametrize("version", [2**64, 2**63])
def test_read_ground_truth_names_a_version_beyond_the_largest_id_and_sends_nothing(version):
    # 2**64 went to client.get_ground_truth_version and came back as an error naming "pk"
    calls: list[str] = []

    class Recording:
        def get_ground_truth_version(self, pk):
            calls.append("get_ground_truth_version")
            raise AssertionError("nothing should be sent")

        def list_ground_truth_events(self, *args, **kwargs):
            calls.append("list_ground_truth_events")
            raise AssertionError("nothing should be sent")

    with pytest.raises(ImportFormatError) as caught:
        read_ground_truth(Recording(), version)
    assert (caught.value.field, caught.value.value) == ("version", version)
    assert isinstance(caught.value, InvalidInputError)
    assert "version" in str(caught.value) and "pk" not in str(caught.value)
    assert calls == []


def test_read_ground_truth_of_a_version_that_does_not_exist_is_a_404_naming_it(rw_client):
    # it used to list no events and come back as empty labels, without a word
    missing = 987_654
    with pytest.raises(NotFoundError) as caught:
        read_ground_truth(rw_client, missing)
    assert caught.value.status_code == 404
    assert f"ground_truth_dataset_versions/{missing}/" in str(caught.value)


def test_read_ground_truth_of_a_version_without_events_is_empty(rw, rw_client):
    stamp = now()
    with rw.state.db.write() as con:
        version = con.execute(
            "INSERT INTO ground_truth_dataset_versions (dataset_id, version, created) "
            "VALUES (1, 'empty', ?)",
            (stamp,),
        ).lastrowid
    assert rw_client.get_ground_truth_version(version)["version"] == "empty"
    labels = read_ground_truth(rw_client, version)
    assert labels.format == "ground_truth" and len(labels) == 0 and not labels.audit.warnings


def test_match_to_tasks_names_labels_that_are_not_labels():
    with pytest.raises(ImportFormatError) as caught:
        match_to_tasks("x", {1: "a.jpg"})  # was an AttributeError from inside
    assert (caught.value.field, caught.value.value) == ("labels", "x")
