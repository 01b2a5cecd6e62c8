"""Write-back input checks against a live backend: a bad edited value (NaN in metadata, an
id < 1, ...) is refused before anything is sent, so no row is half-written; numpy values in
metadata are sent as Python values; ``frame_by_id``/``register`` refuse bad arguments; and
edits of read-only columns (``tag_names``, ``project``) are reported, not dropped silently.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from demo_backends import backend_fixture, client_fixture
from frames_helpers import paths

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client

# the tests that must not write share one backend (a regression shows as a failed test
# whatever it leaves behind: each test reads its rows' server values first)
unwritten = backend_fixture("module")
unwritten_client = client_fixture("unwritten", "module")


def _fresh(client: Client, ids: list[int]) -> pd.DataFrame:
    return client.list_tasks({"id__in": ",".join(str(int(i)) for i in ids), "page_size": 1000})


def _three(client: Client) -> tuple[pd.DataFrame, list[int]]:
    tasks = client.list_tasks({"project": 1}, list_all=True)
    return tasks, [int(i) for i in tasks.index[:3]]


def _other_priority(value: str) -> str:
    return "high" if value != "high" else "low"


def _set_cell(frame: pd.DataFrame, pk: int, column: str, value: Any) -> None:
    if isinstance(value, list | dict) or column == "metadata":
        frame[column] = frame[column].astype(object)
        frame.at[pk, column] = value
    else:
        frame.loc[pk, column] = value


BAD_EDITS = [
    pytest.param("metadata", {"score": float("nan")}, r"metadata\['score'\] is nan", id="nan"),
    pytest.param("metadata", {"score": float("inf")}, r"metadata\['score'\] is inf", id="inf"),
    pytest.param(
        "metadata", {"a": [1, {"b": -np.inf}]}, r"metadata\['a'\]\[1\]\['b'\]", id="nested-inf"
    ),
    pytest.param("metadata", {"s": "\ud800"}, "not valid UTF-8", id="lone-surrogate"),
    pytest.param("assignee_id", -3, "user id", id="assignee-negative"),
    pytest.param("assignee_id", 0, "user id", id="assignee-zero"),
    pytest.param("assignee_id", 2**63, "user id", id="assignee-too-big"),
    pytest.param("tags", [-1], "tag id -1", id="tag-negative"),
    pytest.param("tags", [0, 1], "tag id 0", id="tag-zero"),
]


@pytest.mark.parametrize(("column", "value", "problem"), BAD_EDITS)
def test_a_bad_value_in_one_row_stops_the_whole_push_before_anything_is_sent(
    unwritten, unwritten_client: Client, column: str, value: Any, problem: str
) -> None:
    tasks, (bad, good, _) = _three(unwritten_client)
    before = _fresh(unwritten_client, [bad, good])
    tasks.loc[good, "priority"] = _other_priority(tasks.at[good, "priority"])  # a valid edit
    if column == "assignee_id" and value >= 2**63:  # too big for Int64: an object column
        tasks[column] = tasks[column].astype(object)
    _set_cell(tasks, bad, column, value)
    unwritten.requests.clear()
    with pytest.raises(InvalidInputError, match=rf"{column}\[id={bad}\]=") as caught:
        tasks.synapse.push()
    assert caught.value.field == f"{column}[id={bad}]"
    assert caught.value.field in str(caught.value) and "nothing was sent" in str(caught.value)
    assert re.search(problem, str(caught.value)), str(caught.value)
    with pytest.raises(InvalidInputError, match=rf"{column}\[id={bad}\]"):
        tasks.synapse.diff()
    assert paths(unwritten, "PATCH") == [] and paths(unwritten, "POST") == []
    after = _fresh(unwritten_client, [bad, good])
    pd.testing.assert_frame_equal(after, before)  # neither row was written


def test_numpy_values_in_metadata_and_tags_are_sent_as_python_values(rw, rw_client: Client) -> None:
    tasks, (first, second, _) = _three(rw_client)
    gold = int(rw_client.list_task_tags({"project": 1, "name": "gold"}).index[0])
    tasks["metadata"] = tasks["metadata"].astype(object)
    tasks.at[first, "metadata"] = {
        "n": np.int64(3),
        "x": np.float64(0.5),
        "ok": np.bool_(True),
        "nested": [np.int32(1), {"k": np.uint8(2)}],
    }
    tasks["tags"] = tasks["tags"].astype(object)
    tasks.at[second, "tags"] = [np.int64(gold)]
    changes = tasks.synapse.diff()
    assert sorted(map(tuple, changes[["id", "column"]].values.tolist())) == sorted(
        [(first, "metadata"), (second, "tags")]
    )
    tasks.synapse.push()
    fresh = _fresh(rw_client, [first, second])
    assert fresh.at[first, "metadata"] == {"n": 3, "x": 0.5, "ok": True, "nested": [1, {"k": 2}]}
    assert list(fresh.at[second, "tags"]) == [gold]
    assert tasks.synapse.diff().empty


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (pd.Timestamp("2024-01-01"), "isoformat"),
        (np.datetime64("2024-01-01"), "isoformat"),
        (pd.NA, "use None"),
        (np.arange(3), "tolist"),
        ({1, 2}, "JSON cannot hold it"),
    ],
    ids=["Timestamp", "datetime64", "NA", "ndarray", "set"],
)
def test_values_json_cannot_hold_in_metadata_are_refused_clearly(
    unwritten, unwritten_client: Client, value: Any, problem: str
) -> None:
    tasks, (pk, *_rest) = _three(unwritten_client)
    before = _fresh(unwritten_client, [pk])
    tasks["metadata"] = tasks["metadata"].astype(object)
    tasks.at[pk, "metadata"] = {"t": value}
    unwritten.requests.clear()
    with pytest.raises(InvalidInputError, match=rf"metadata\[id={pk}\]=") as caught:
        tasks.synapse.push()
    message = str(caught.value)
    assert "metadata['t']" in message and problem in message, message
    assert not isinstance(caught.value.__cause__ or caught.value.__context__, TypeError)
    assert paths(unwritten, "PATCH") == [] and paths(unwritten, "POST") == []
    pd.testing.assert_frame_equal(_fresh(unwritten_client, [pk]), before)


BAD_FRAME_BY_ID: list[Any] = [
    pytest.param(("tasks", [1]), "kind", id="unknown-kind"),
    pytest.param((["task"], [1]), "kind", id="kind-list"),
    pytest.param(("task", 5), "ids", id="one-int"),
    pytest.param(("task", "1,2"), "ids", id="text"),
    pytest.param(("task", {1: 2}), "ids", id="dict"),
    pytest.param(("task", [None]), "ids[0]", id="None-id"),
    pytest.param(("task", [1, 0]), "ids[1]", id="zero-id"),
    pytest.param(("task", [1.5]), "ids[0]", id="float-id"),
    pytest.param(("task", [2**70]), "ids[0]", id="huge-id"),
    pytest.param(("task", [1], "yes"), "include_data", id="include-data-text"),
]


@pytest.mark.parametrize(("args", "field"), BAD_FRAME_BY_ID)
def test_frame_by_id_refuses_bad_arguments_before_sending(
    unwritten, unwritten_client: Client, args: tuple[Any, ...], field: str
) -> None:
    unwritten.requests.clear()
    with pytest.raises(InvalidInputError) as caught:
        unwritten_client.frame_by_id(*args)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"frame_by_id: invalid {field}=")
    assert list(unwritten.requests) == []


def test_frame_by_id_takes_collections_of_ids_but_not_one_id(
    unwritten, unwritten_client: Client
) -> None:
    tasks, ids = _three(unwritten_client)
    assert unwritten_client.frame_by_id("task", np.array(ids)).index.tolist() == sorted(ids)
    assert unwritten_client.frame_by_id("task", tasks.index[:3]).index.tolist() == sorted(ids)
    assert unwritten_client.frame_by_id("task", (str(i) for i in ids)).index.tolist() == sorted(ids)
    assert unwritten_client.frame_by_id("task", []).empty
    unwritten.requests.clear()
    with pytest.raises(InvalidInputError, match=rf"for one id pass \[{ids[0]}\]"):
        unwritten_client.frame_by_id("task", ids[0])
    assert list(unwritten.requests) == []


def _attrs(value: Any) -> pd.DataFrame:
    frame = pd.DataFrame({"a": [1]})
    frame.attrs["synapse"] = value
    return frame


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: pd.DataFrame({"a": [1]}), "frame.attrs['synapse']"),
        (lambda: _attrs("task"), "frame.attrs['synapse']"),
        (lambda: _attrs({}), "frame.attrs['synapse']['kind']"),
        (lambda: _attrs({"kind": "tasks"}), "frame.attrs['synapse']['kind']"),
        (lambda: [1, 2], "frame"),
    ],
    ids=["no-attrs", "attrs-text", "no-kind", "unknown-kind", "not-a-frame"],
)
def test_register_refuses_a_frame_without_a_known_kind(
    unwritten_client: Client, make: Callable[[], Any], field: str
) -> None:
    value = make()
    meta = value.attrs.get("synapse") if isinstance(value, pd.DataFrame) else None
    before = dict(meta) if isinstance(meta, dict) else meta
    snapshots = len(unwritten_client.snapshots)
    with pytest.raises(InvalidInputError) as caught:
        unwritten_client.register(value)
    assert caught.value.field == field and str(caught.value).startswith("register: invalid ")
    assert len(unwritten_client.snapshots) == snapshots
    if isinstance(value, pd.DataFrame):
        assert value.attrs.get("synapse") == before  # nothing half-written into the frame


def _warnings_of(call: Callable[[], Any]) -> tuple[Any, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = call()
    return out, [w for w in caught if issubclass(w.category, UserWarning)]


def test_edits_of_read_only_columns_are_reported_not_dropped_silently(
    unwritten, unwritten_client: Client
) -> None:
    tasks, (first, second, _) = _three(unwritten_client)
    before = _fresh(unwritten_client, [first, second])
    tasks["tag_names"] = tasks["tag_names"].astype(object)
    tasks.at[first, "tag_names"] = ["review"]
    tasks.loc[second, "project"] = 2
    changes, caught = _warnings_of(tasks.synapse.diff)
    assert changes.empty
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "tag_names (edit tags instead)" in message and "project" in message, message
    assert "push() does not send them" in message
    assert caught[0].filename == __file__  # points at the user's line
    unwritten.requests.clear()
    pushed, caught = _warnings_of(tasks.synapse.push)
    assert pushed.empty and len(caught) == 1 and caught[0].filename == __file__
    assert paths(unwritten, "PATCH") == [] and paths(unwritten, "POST") == []
    pd.testing.assert_frame_equal(_fresh(unwritten_client, [first, second]), before)


def test_read_only_check_stays_quiet_without_read_only_edits(rw_client: Client) -> None:
    tasks, (first, second, third) = _three(rw_client)
    gold = int(rw_client.list_task_tags({"project": 1, "name": "gold"}).index[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tasks.synapse.diff().empty
        subset = tasks.loc[[third, first]].copy()  # reordered, filtered
        subset.loc[first, "priority"] = _other_priority(subset.at[first, "priority"])
        assert subset.synapse.diff()["id"].tolist() == [first]
        cast = tasks.copy()
        cast["tag_names"] = cast["tag_names"].astype(object)  # cast, not edited
        cast["project"] = cast["project"].astype(float)
        assert cast.synapse.diff().empty
        # tag() rewrites the frame's tag_names itself: not a user edit
        row = tasks.loc[[second]].copy()
        row.synapse.tag([gold])
        assert row.synapse.diff().empty
        row.synapse.untag([gold])
        assert row.synapse.diff().empty
    # the other read-only columns are still checked after tag()
    row.loc[second, "project"] = 2
    with pytest.warns(UserWarning, match="read-only column.*project"):
        assert row.synapse.diff().empty
