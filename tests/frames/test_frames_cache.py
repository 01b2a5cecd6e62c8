"""The incremental Parquet cache: a second listing fetches only changes and stays correct."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from frames_helpers import assert_schema

from synapse_nb.frames import Client, FrameCache


def _listing_queries(srv) -> list[str]:
    return [r["query"] for r in list(srv.requests) if r["path"] == "/sdk/tasks/"]


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right, check_like=False)


def test_cache_round_trip_keeps_dtypes_and_values(rw, tmp_path: Path) -> None:
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as client:
        first = client.list_tasks({"project": 1}, list_all=True, include_data=True)
        assert first.attrs["synapse"]["cache"]["hit"] is False
        client.cache.flush()  # the file is written in the background
        assert list(tmp_path.glob("task-*.parquet"))
        second = client.list_tasks({"project": 1}, list_all=True, include_data=True)
    assert second.attrs["synapse"]["cache"]["hit"] is True
    assert_schema(second, "task", extra=("data",))
    _same(second, first)
    assert all(isinstance(t, list) for t in second["tags"])
    assert all(isinstance(m, dict) for m in second["metadata"])


def test_refresh_after_server_changes_equals_a_full_reload(rw, tmp_path: Path) -> None:
    query = {"project": 1}
    with (
        Client(rw.url, api_token=rw.token, cache=tmp_path) as cached,
        Client(rw.url, api_token=rw.token) as plain,
    ):
        base = cached.list_tasks(query, list_all=True)
        ids = [int(i) for i in base.index[:5]]
        plain.update_task(ids[0], {"status": "completed", "priority": "high"})
        plain.annotate_task_data(
            ids[1],
            {
                "images": [
                    {
                        "bounding_box": [
                            {
                                "id": "n1",
                                "classification": "zebra",
                                "attrs": [],
                                "data": [1, 2, 3, 4],
                            }
                        ]
                    }
                ]
            },
        )
        plain.set_tags_tasks({"ids": ids[2:4], "tags": [1], "action": "add"})
        unit = int(base.at[ids[0], "data_unit_id"])
        created = plain.create_tasks({"project": 1, "data_unit": unit})
        rw.requests.clear()
        refreshed = cached.list_tasks(query, list_all=True)
        queries = _listing_queries(rw)
        full = plain.list_tasks(query, list_all=True)
    info = refreshed.attrs["synapse"]["cache"]
    assert info["hit"] is True
    assert 5 <= info["changed"] < len(base)  # the 4 changed rows, the new one (+ same-stamp ties)
    # only the delta listing and a one-row count probe: never a full listing
    deltas = [q for q in queries if "modified__gt=" in q]
    probes = [q for q in queries if "page_size=1&" in q + "&"]
    assert deltas and len(deltas) + len(probes) == len(queries)
    assert created["id"] in refreshed.index
    assert refreshed.at[ids[1], "classes"] == ["zebra"]
    _same(refreshed, full)


def test_rows_that_leave_the_filter_are_dropped(rw, tmp_path: Path) -> None:
    query = {"project": 1, "status": "pending"}
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as cached:
        base = cached.list_tasks(query, list_all=True)
        gone = int(base.index[0])
        cached.update_task(gone, {"status": "completed"})
        refreshed = cached.list_tasks(query, list_all=True)
        full = cached.raw.list_tasks(query)
    assert gone not in refreshed.index
    assert len(refreshed) == len(base) - 1 == full["count"]
    assert refreshed.attrs["synapse"]["cache"]["removed"] == 1


def test_different_queries_do_not_share_a_file(rw, tmp_path: Path) -> None:
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as cached:
        one = cached.list_tasks({"project": 1}, list_all=True)
        two = cached.list_tasks({"project": 2}, list_all=True)
        assert set(one["project"]) == {1} and set(two["project"]) == {2}
        cached.cache.flush()
        assert len(list(tmp_path.glob("*.parquet"))) == 2
        events = cached.list_ground_truth_events(
            {"ground_truth_dataset_versions": [1]}, list_all=True
        )
        again = cached.list_ground_truth_events(
            {"ground_truth_dataset_versions": [1]}, list_all=True
        )
    assert again.attrs["synapse"]["cache"]["hit"] is True
    _same(again, events)


def test_an_unreadable_cache_file_is_a_miss(rw, tmp_path: Path) -> None:
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as cached:
        first = cached.list_tasks({"project": 2}, list_all=True)
        cached.cache.flush()
        for file in tmp_path.glob("*.parquet"):
            file.write_bytes(b"not parquet")
        second = cached.list_tasks({"project": 2}, list_all=True)
    assert second.attrs["synapse"]["cache"]["hit"] is False
    _same(second, first)
    assert FrameCache(tmp_path).clear() == 1
    assert not list(tmp_path.glob("*.parquet"))


@pytest.mark.parametrize("ordering", ["-modified", "created", "status"])
def test_ordered_listings_stay_in_server_order(rw, tmp_path: Path, ordering: str) -> None:
    query = {"project": 1, "ordering": ordering}
    with (
        Client(rw.url, api_token=rw.token, cache=tmp_path) as cached,
        Client(rw.url, api_token=rw.token) as plain,
    ):
        base = cached.list_tasks(query, list_all=True)
        moved = [int(i) for i in base.index[-3:]]
        for pk in moved:
            plain.update_task(pk, {"status": "in_progress"})
        refreshed = cached.list_tasks(query, list_all=True)
        full = plain.list_tasks(query, list_all=True)
    assert refreshed.index.tolist() == full.index.tolist()
    _same(refreshed, full)
    if ordering == "-modified":
        assert set(refreshed.index[:3]) == set(moved)


def test_lookback_widens_the_refetched_window(rw, tmp_path: Path) -> None:
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as cached:
        base = cached.list_tasks({"project": 2}, list_all=True)
        narrow = cached.list_tasks({"project": 2}, list_all=True)
        cached.refresh_lookback = 10 * 365 * 24 * 3600.0  # ten years: every row again
        wide = cached.list_tasks({"project": 2}, list_all=True)
    assert narrow.attrs["synapse"]["cache"]["changed"] < len(base)
    assert wide.attrs["synapse"]["cache"]["changed"] == len(base)
    _same(wide, base)


def test_a_row_stamped_at_the_watermark_after_the_fetch_is_found(rw, tmp_path: Path) -> None:
    """The rare race the tie probe exists for: a write that lands on the newest stamp."""
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as cached:
        base = cached.list_tasks({"project": 1}, list_all=True)
        newest = base["modified"].max()
        stamp = newest.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"
        late = int(base.index[(base["modified"] < newest) & (base["priority"] != "high")][0])
        with rw.state.db.write() as con:  # what a concurrent writer with a coarse clock does
            con.execute(
                "UPDATE tasks SET priority = 'high', modified = ? WHERE id = ?", (stamp, late)
            )
        refreshed = cached.list_tasks({"project": 1}, list_all=True)
        full = cached.raw.list_tasks({"id": late})["results"][0]
    assert refreshed.at[late, "priority"] == full["priority"] == "high"
    assert refreshed.attrs["synapse"]["cache"]["changed"] >= 1


def test_background_writes_finish_on_close(rw, tmp_path: Path) -> None:
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as cached:
        cached.list_tasks({"project": 1}, list_all=True)
    # close() waited for the writer: the file is complete and readable
    files = list(tmp_path.glob("task-*.parquet"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    key = files[0].stem
    assert FrameCache(tmp_path).load(key) is not None


def test_rows_leaving_the_watermark_need_no_id_probe(rw, tmp_path: Path) -> None:
    """Rows held at the newest stamp that change again are in the delta: no id comparison."""
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as cached:
        base = cached.list_tasks({"project": 1}, list_all=True)
        newest = base["modified"].max()
        at_stamp = base.index[base["modified"] == newest].tolist()
        others = base.index[base["modified"] < newest].tolist()[:3]
        # one bulk change stamps several rows alike; then one of them changes again
        cached.set_tags_tasks({"ids": others, "tags": [1], "action": "add"})
        cached.list_tasks({"project": 1}, list_all=True)
        cached.set_tags_tasks({"ids": others[:1], "tags": [1], "action": "remove"})
        rw.requests.clear()
        refreshed = cached.list_tasks({"project": 1}, list_all=True)
        probes = [
            r
            for r in list(rw.requests)
            if "modified=" in r["query"] and "page_size=1000" in r["query"]
        ]
    assert at_stamp  # the listing has a newest stamp at all
    assert probes == []
    assert 1 not in refreshed.at[others[0], "tags"]
    assert all(1 in refreshed.at[pk, "tags"] for pk in others[1:])


def test_a_row_joining_the_watermark_while_another_leaves_is_found(rw, tmp_path: Path) -> None:
    with Client(rw.url, api_token=rw.token, cache=tmp_path) as cached:
        cached.list_tasks({"project": 1}, list_all=True)
        base = cached.list_tasks({"project": 1}, list_all=True)
        first, second, late = base.index[base["priority"] != "high"].tolist()[:3]
        cached.set_tags_tasks({"ids": [first, second], "tags": [2], "action": "add"})
        tagged = cached.list_tasks({"project": 1}, list_all=True)
        newest = tagged["modified"].max()
        assert tagged.at[first, "modified"] == tagged.at[second, "modified"] == newest
        stamp = newest.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"
        # one held row moves on (it will be in the delta), another row lands on the stamp
        cached.set_tags_tasks({"ids": [first], "tags": [2], "action": "remove"})
        with rw.state.db.write() as con:
            con.execute(
                "UPDATE tasks SET priority = 'high', modified = ? WHERE id = ?", (stamp, late)
            )
        refreshed = cached.list_tasks({"project": 1}, list_all=True)
    assert refreshed.at[late, "priority"] == "high"
    assert 2 not in refreshed.at[first, "tags"] and 2 in refreshed.at[second, "tags"]
