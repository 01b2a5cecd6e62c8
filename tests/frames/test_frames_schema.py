"""Each resource frame: schema (columns, order, dtypes), values, empty results, partial pages."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from frames_helpers import assert_schema, primary_url, tool_counts

from synapse_nb.frames import Client, SynapseFrame, describe, empty_frame
from synapse_nb.frames.schemas import IMAGE_TOOLS, SCHEMAS

LISTINGS = {
    "task": lambda c, p: c.list_tasks(p, list_all=True),
    "assignment": lambda c, p: c.list_assignments(p, list_all=True),
    "ground_truth_event": lambda c, p: c.list_ground_truth_events(p, list_all=True),
    "model": lambda c, p: c.list_models(p, list_all=True),
    "job": lambda c, p: c.list_jobs(p, list_all=True),
    "task_tag": lambda c, p: c.list_task_tags(p, list_all=True),
    "data_unit": lambda c, p: c.list_data_units(p, list_all=True),
    "data_collection": lambda c, p: c.list_data_collection(params=p, list_all=True),
}

#: a filter no row matches, per kind
NOTHING = {
    "task": {"project": 99999},
    "assignment": {"project": 99999},
    "ground_truth_event": {"ground_truth_dataset_versions": [99999]},
    "model": {"project": 99999},
    "job": {"status": "FAILED", "plugin": 99999},
    "task_tag": {"project": 99999},
    "data_unit": {"data_collection": 99999},
    "data_collection": {"search": "no-such-collection-name"},
}


@pytest.mark.parametrize("kind", sorted(LISTINGS))
def test_schema_of_every_resource(client: Client, kind: str) -> None:
    frame = LISTINGS[kind](client, None)
    assert isinstance(frame, SynapseFrame)
    assert len(frame) > 0
    assert_schema(frame, kind)
    assert frame.index.is_unique
    meta = frame.attrs["synapse"]
    assert meta["kind"] == kind and meta["complete"] is True
    assert meta["count"] == len(frame)
    json.dumps(frame.attrs)  # attrs stay plain JSON (deep-copied by pandas, saved by Parquet)


@pytest.mark.parametrize("kind", sorted(LISTINGS))
def test_empty_result_keeps_columns_and_dtypes(client: Client, kind: str) -> None:
    frame = LISTINGS[kind](client, NOTHING[kind])
    assert len(frame) == 0
    assert_schema(frame, kind)
    reference = empty_frame(kind)
    pd.testing.assert_series_equal(frame.dtypes, reference.dtypes)
    assert frame.attrs["synapse"]["count"] == 0


def test_task_values_match_the_raw_records(client: Client) -> None:
    frame = client.list_tasks({"project": 1}, list_all=True)
    items, count = client.raw.list_tasks({"project": 1}, url_conversion=False, list_all=True)
    records = {r["id"]: r for r in items}
    assert count == len(frame) == len(records)
    for pk, row in frame.iterrows():
        record = records[pk]
        assert row["status"] == record["status"]
        assert row["priority"] == record["priority"]
        assert (None if pd.isna(row["assignee_id"]) else row["assignee_id"]) == record["assignee"]
        assert row["tags"] == record["tags"]
        assert row["file_url"] == primary_url(record)
        assert row["metadata"] == record["metadata"]
        assert row["created"] == pd.Timestamp(record["created"])
        counts = tool_counts(record["data"])
        assert row["n_annotations"] == sum(counts.values())
        for tool in IMAGE_TOOLS:
            assert row[f"n_{tool}"] == counts.get(tool, 0), (pk, tool)
        expected_classes = sorted(
            {
                a["classification"]
                for item in record["data"].get("images", [])
                for tool, anns in item.items()
                if tool not in ("keypoint", "relation")
                for a in anns
            }
        )
        assert list(row["classes"]) == expected_classes  # a row Series holds an array
        if record["data"]:
            assert row["dm_version"] == "v2"
        else:
            assert pd.isna(row["dm_version"])


def test_tag_names_follow_the_tag_listing(client: Client) -> None:
    tags = client.list_task_tags(list_all=True)
    names = tags["name"].to_dict()
    frame = client.list_tasks({"project": 1}, list_all=True)
    tagged = frame[frame["tags"].map(len) > 0]
    assert len(tagged) > 0
    for ids, labels in zip(tagged["tags"], tagged["tag_names"], strict=True):
        assert labels == [names[i] for i in ids]


def test_model_metrics_become_numeric_columns(client: Client) -> None:
    models = client.list_models({"project": 1})
    assert "metric_mAP" in models.columns and "metric_per_class_AP.car" in models.columns
    assert models["metric_mAP"].dtype == pd.Float64Dtype()
    raw = {m["id"]: m for m in client.raw.list_models({"project": 1})["results"]}
    for pk, value in models["metric_mAP"].items():
        assert value == raw[pk]["metrics"]["mAP"]
    best = models.sort_values("metric_mAP", ascending=False).index[0]
    assert best == max(raw, key=lambda k: raw[k]["metrics"]["mAP"])


def test_jobs_flatten_nested_records(client: Client) -> None:
    jobs = client.list_jobs()
    raw = {j["id"]: j for j in client.raw.list_jobs()["results"]}
    for pk, row in jobs.iterrows():
        record = raw[pk]
        assert row["status"] == record["status"]
        assert row["plugin"] == record["plugin_release"]["plugin"]
        assert row["agent_name"] == record["agent"]["name"]
        overall = record["progress_record"].get("current_progress", {}).get("overall")
        assert (pd.isna(row["progress"]) and overall is None) or row["progress"] == overall


def test_ground_truth_frame_spans_versions(client: Client) -> None:
    events = client.list_ground_truth_events(
        {"ground_truth_dataset_versions": [1, 2]}, list_all=True
    )
    raw, count = client.raw.list_ground_truth_events(
        {"ground_truth_dataset_versions": [1, 2]}, url_conversion=False, list_all=True
    )
    assert len(events) == count
    assert set(events["version"].astype(str)) == {"v1", "v2"}
    assert events["ground_truth_dataset_version"].tolist() == [
        r["ground_truth_dataset_version"] for r in raw
    ]


def test_one_page_says_how_much_is_missing(client: Client) -> None:
    page = client.list_tasks({"project": 1})
    total = client.raw.list_tasks({"project": 1})["count"]
    assert len(page) == 100 < total
    note = f"100 of {total:,} tasks fetched (one page)"
    assert note in repr(page)
    assert note in page._repr_html_()
    assert note in repr(page.synapse.summary())
    assert "list_all=True" in repr(page)
    # derived frames keep saying it: their numbers come from a partial listing
    assert note in repr(page[page["status"] == "completed"])
    full = client.list_tasks({"project": 1}, list_all=True)
    assert "fetched (one page)" not in repr(full)


def test_a_page_that_holds_everything_is_complete(client: Client) -> None:
    page = client.list_task_tags()
    assert page.attrs["synapse"]["complete"] is True
    assert "fetched" not in repr(page).splitlines()[-1]


def test_urls_are_kept_and_nothing_is_downloaded(demo, client: Client) -> None:
    demo.requests.clear()
    frame = client.list_tasks({"project": 1}, list_all=True)
    assert frame["file_url"].str.startswith("http://127.0.0.1").all()
    assert not [r for r in list(demo.requests) if r["path"].startswith("/media/")]


def test_raw_api_is_one_attribute_away(client: Client) -> None:
    page = client.raw.list_tasks({"project": 1, "page_size": 5})
    assert set(page) == {"count", "next", "previous", "results"}
    items, count = client.raw.list_tasks({"project": 1}, url_conversion=False, list_all=True)
    assert count == sum(1 for _ in items)
    assert isinstance(client.raw.get_task(1), dict)


def test_include_data_keeps_the_annotation_json(client: Client) -> None:
    frame = client.list_tasks({"project": 1}, list_all=True, include_data=True)
    assert_schema(frame, "task", extra=("data",))
    raw = {t["id"]: t["data"] for t in client.raw.list_tasks({"project": 1})["results"]}
    for pk, data in raw.items():
        assert frame.at[pk, "data"] == data


def test_bad_arguments_fail_before_sending(demo, client: Client) -> None:
    demo.requests.clear()
    from synapse_nb.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError, match="list_all"):
        client.list_tasks({"project": 1}, list_all="yes")
    with pytest.raises(InvalidInputError, match="include_data"):
        client.list_tasks(include_data=1)
    with pytest.raises(InvalidInputError, match="params"):
        client.list_models(["project", 1])
    with pytest.raises(InvalidInputError, match="frame_page_size"):
        Client(demo.url, api_token=demo.token, frame_page_size=0)
    assert list(demo.requests) == []


def test_token_never_in_repr(demo, client: Client) -> None:
    assert demo.token not in repr(client)
    assert demo.token not in repr(client.raw)
    assert demo.token not in json.dumps(client.list_task_tags().attrs)


def test_describe_documents_every_column() -> None:
    for kind, schema in SCHEMAS.items():
        table = describe(kind)
        assert [row[0] for row in table] == schema.names
        assert all(row[2] for row in table)


def test_raw_view_reaches_instance_attributes(client: Client) -> None:
    assert client.raw.base_url == client.base_url
    assert "list_tasks" in dir(client.raw)


def test_cache_true_uses_the_user_cache_dir(demo, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with Client(demo.url, api_token=demo.token, cache=True) as cached:
        assert cached.cache is not None
        assert cached.cache.path == tmp_path / "synapse_nb" / "frames"
    with Client(demo.url, api_token=demo.token, cache=False) as uncached:
        assert uncached.cache is None
    with pytest.raises(Exception, match="cache"):
        Client(demo.url, api_token=demo.token, cache=3)


def test_column_reference_is_in_sync() -> None:
    from pathlib import Path

    import synapse_nb.frames
    from synapse_nb.frames.schemas import columns_markdown

    reference = Path(synapse_nb.frames.__file__).with_name("COLUMNS.md")
    assert reference.read_text() == columns_markdown(), (
        "regenerate: python -m synapse_nb.frames.schemas > synapse_nb/frames/COLUMNS.md"
    )
