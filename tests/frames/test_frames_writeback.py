"""Write-back against a live backend: diff, push (batched), conflicts, failures, undo."""

from __future__ import annotations

import pandas as pd
import pytest
from frames_helpers import paths

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client, PushConflictError, PushError


def _fresh(client: Client, ids) -> pd.DataFrame:
    return client.list_tasks({"id__in": ",".join(str(int(i)) for i in ids), "page_size": 1000})


def test_diff_push_undo_round_trip(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}, list_all=True)
    assigned = tasks[tasks["assignee_id"].notna()]
    ids = [int(i) for i in assigned.index[:6]]
    before = _fresh(rw_client, ids)
    users = sorted({int(u) for u in tasks["assignee_id"].dropna()})
    other_user = next(u for u in users if u != tasks.at[ids[2], "assignee_id"])
    flip = {"pending": "completed", "in_progress": "completed", "completed": "pending"}
    tasks.at[ids[0], "status"] = flip[tasks.at[ids[0], "status"]]
    tasks.at[ids[1], "priority"] = "high" if tasks.at[ids[1], "priority"] != "high" else "low"
    tasks.at[ids[2], "assignee_id"] = other_user
    tasks.at[ids[3], "assignee_id"] = pd.NA
    tasks.at[ids[4], "tags"] = ["gold", "blurry"]
    tasks.at[ids[5], "metadata"] = {"reviewed": True}
    tasks.at[ids[5], "is_discarded"] = True
    project_tags = rw_client.list_task_tags({"project": 1, "name": ["gold", "blurry"]})
    gold_blurry = tuple(sorted(project_tags.index.tolist()))
    assert len(gold_blurry) == 2

    changes = tasks.synapse.diff()
    expected = [
        (ids[0], "status"),
        (ids[1], "priority"),
        (ids[2], "assignee_id"),
        (ids[3], "assignee_id"),
        *([(ids[4], "tags")] if tuple(sorted(before.at[ids[4], "tags"])) != gold_blurry else []),
        (ids[5], "metadata"),
        (ids[5], "is_discarded"),
    ]
    assert sorted(map(tuple, changes[["id", "column"]].values.tolist())) == sorted(expected)
    assert changes.set_index(["id", "column"]).at[(ids[3], "assignee_id"), "after"] is None
    rw.requests.clear()
    pushed = tasks.synapse.push()
    assert pushed.equals(changes)
    assert paths(rw, "POST").count("/tasks/set_tags/") <= 2  # one add and one remove at most
    assert len(paths(rw, "PATCH")) == len({pk for pk, column in expected if column != "tags"})
    after = _fresh(rw_client, ids)
    assert after.at[ids[0], "status"] == tasks.at[ids[0], "status"]
    assert after.at[ids[1], "priority"] == tasks.at[ids[1], "priority"]
    assert after.at[ids[2], "assignee_id"] == other_user
    assert pd.isna(after.at[ids[3], "assignee_id"])
    assert tuple(sorted(after.at[ids[4], "tags"])) == gold_blurry
    assert after.at[ids[5], "metadata"] == {"reviewed": True}
    assert bool(after.at[ids[5], "is_discarded"]) is True
    assert tasks.synapse.diff().empty

    reverted = tasks.synapse.undo()
    assert len(reverted) == len(changes)
    restored = _fresh(rw_client, ids)
    pd.testing.assert_frame_equal(
        restored.drop(columns=["modified"]), before.drop(columns=["modified"])
    )
    # the frame shows the restored values too
    for column in ("status", "priority", "tags", "metadata", "is_discarded"):
        assert tasks.loc[ids, column].tolist() == before.loc[ids, column].tolist(), column
    assert tasks.loc[ids, "assignee_id"].equals(before.loc[ids, "assignee_id"])
    with pytest.raises(InvalidInputError, match="no push of this frame to undo"):
        tasks.synapse.undo()


def test_dry_run_and_validation_send_nothing(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1})
    pk = int(tasks.index[0])
    tasks.at[pk, "priority"] = "high" if tasks.at[pk, "priority"] != "high" else "low"
    rw.requests.clear()
    dry = tasks.synapse.push(dry_run=True)
    assert dry["id"].tolist() == [pk]
    assert paths(rw, "PATCH") == [] and paths(rw, "POST") == []
    bad = tasks.copy()
    bad["status"] = bad["status"].astype(object)
    bad.at[pk, "status"] = "done"
    with pytest.raises(InvalidInputError, match=rf"status\[id={pk}\]='done'"):
        bad.synapse.push()
    bad = tasks.copy()
    bad.at[pk, "tags"] = ["no-such-tag"]
    with pytest.raises(InvalidInputError, match="no-such-tag"):
        bad.synapse.diff()
    bad = tasks.copy()
    bad.at[pk, "metadata"] = ["not", "a", "dict"]
    with pytest.raises(InvalidInputError, match="metadata"):
        bad.synapse.diff()
    assert paths(rw, "PATCH") == [] and paths(rw, "POST") == []


def test_tag_edits_are_batched_by_tag_set(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}, list_all=True)
    gold = int(rw_client.list_task_tags({"name": "gold"}).index[0])
    rows = tasks[tasks["tags"].map(lambda t: gold not in t)].index[:40]
    for pk in rows:
        tasks.at[pk, "tags"] = [*tasks.at[pk, "tags"], "gold"]
    rw.requests.clear()
    pushed = tasks.synapse.push()
    assert len(pushed) == 40
    assert paths(rw, "POST") == ["/tasks/set_tags/"]
    assert paths(rw, "PATCH") == []
    fresh = _fresh(rw_client, rows)
    assert all(gold in t for t in fresh["tags"])


def test_conflicting_server_change_is_detected(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1})
    pk = int(tasks.index[0])
    other = Client(rw.url, api_token=rw.issue_token("admin"))
    server_value = "high" if tasks.at[pk, "priority"] != "high" else "normal"
    other.update_task(pk, {"priority": server_value})
    local_value = next(
        p for p in ("low", "normal", "high") if p not in (server_value, tasks.at[pk, "priority"])
    )
    tasks.at[pk, "priority"] = local_value
    rw.requests.clear()
    with pytest.raises(PushConflictError) as caught:
        tasks.synapse.push()
    assert caught.value.conflicts[["id", "column", "server", "local"]].values.tolist() == [
        [pk, "priority", server_value, local_value]
    ]
    assert paths(rw, "PATCH") == []
    tasks.synapse.push(force=True)
    assert _fresh(rw_client, [pk]).at[pk, "priority"] == local_value
    other.close()


def test_partial_failure_is_reported_and_undoable(rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1})
    good, bad = int(tasks.index[0]), int(tasks.index[1])
    original = tasks.at[good, "priority"]
    tasks.at[good, "priority"] = "high" if original != "high" else "low"
    tasks.at[bad, "assignee_id"] = 999_999  # no such user: the server answers 400
    with pytest.raises(PushError) as caught:
        tasks.synapse.push()
    assert caught.value.failed["id"].tolist() == [bad]
    assert _fresh(rw_client, [good]).at[good, "priority"] == tasks.at[good, "priority"]
    tasks.synapse.undo()
    assert _fresh(rw_client, [good]).at[good, "priority"] == original


def test_assignment_review_state_round_trip(rw_client: Client) -> None:
    assignments = rw_client.list_assignments({"project": 1})
    pk = int(assignments.index[0])
    original = assignments.at[pk, "status_review"]
    target = "rejected" if original != "rejected" else "completed"
    assignments.at[pk, "status_review"] = target
    assert assignments.synapse.diff()["column"].tolist() == ["status_review"]
    assignments.synapse.push()
    fresh = rw_client.list_assignments({"id": pk})
    assert fresh.at[pk, "status_review"] == target
    assignments.synapse.undo()
    assert rw_client.list_assignments({"id": pk}).at[pk, "status_review"] == original


def test_a_frame_of_another_client_cannot_be_diffed(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}).head(2)
    other = Client(rw.url, api_token=rw.token)
    with pytest.raises(InvalidInputError, match="no snapshot"):
        tasks.synapse.diff(client=other)
    with pytest.raises(InvalidInputError, match="only task and assignment"):
        rw_client.list_models().synapse.push()
    other.close()


def test_pushing_a_subset_leaves_the_parent_consistent(rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1})
    subset = tasks.head(3).copy()
    for pk in subset.index:
        subset.at[pk, "priority"] = "high" if subset.at[pk, "priority"] != "high" else "low"
    subset.synapse.push()
    assert subset.synapse.diff().empty
    # the parent still holds the old values but did not edit them: nothing to push
    assert tasks.synapse.diff().empty


def test_snapshot_store_is_bounded() -> None:
    from synapse_nb.frames.writeback import SnapshotStore

    store = SnapshotStore(limit=6, max_rows=250)
    frames = [
        pd.DataFrame({"tags": [[1]] * 100}, index=pd.Index(range(100), name="id")) for _ in range(8)
    ]
    ids = [store.add(f, ("tags",)) for f in frames]
    assert len(store) == 4  # the row budget wins, but the newest four are always kept
    assert store.get(ids[0]) is None and store.get(ids[-1]) is not None
    small = [store.add(f.head(1), ("tags",)) for f in frames]
    assert len(store) == 6 and store.get(small[-1]) is not None
