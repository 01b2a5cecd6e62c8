"""FilterPanel state, driven as a frontend would, on frames and live against the backend."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from wb_helpers import (
    clear_sent,
    frontend_click,
    frontend_update,
    last_query,
    option_index,
    request_paths,
    sent_updates,
    synthetic_tasks,
)

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client
from synapse_nb.widgets import UNASSIGNED, FilterPanel

# each module has a workspace of its own (see conftest.py)
pytestmark = pytest.mark.usefixtures("comm")


@pytest.fixture(scope="module")
def tasks(client):
    return client.list_tasks({"project": 1}, list_all=True)


def shown_ids(panel: FilterPanel) -> list[int]:
    """Ids of the rows the frontend shows: visible row boxes, read from their HTML state."""
    ids = []
    for box, cells in zip(panel._row_boxes, panel._row_cells, strict=True):
        if box.layout.get_state()["display"] == "none":
            continue
        match = re.search(r'data-id="(\d+)"', cells.get_state()["value"])
        assert match, cells.value
        ids.append(int(match.group(1)))
    return ids


def count_text(panel: FilterPanel) -> str:
    return re.sub(r"<[^>]+>", "", panel.count_label.get_state()["value"])


# ---------------------------------------------------------------- frame mode


def test_first_page_renders_the_first_rows_and_the_header(tasks):
    panel = FilterPanel(tasks)
    assert panel.count == len(tasks) == 240
    assert shown_ids(panel) == tasks.index[:20].tolist()
    header = panel.header.get_state()["value"]
    for label in ("id ▲", "status", "assignee", "tags", "classes", "annot.", "file", "created"):
        assert f"<th>{label}</th>" in header
    assert count_text(panel) == "240 of 240 tasks match"
    assert panel.page_label.get_state()["value"] == "page 1 of 12 · rows 1–20"
    assert panel.prev_button.get_state()["disabled"] is True
    assert panel.next_button.get_state()["disabled"] is False
    row = panel._row_cells[0].get_state()["value"]
    first = tasks.iloc[0]
    assert f"<td>{first.file_name}</td>" in row and f"<td>{first.status}</td>" in row


def test_status_from_the_frontend_filters_like_pandas(tasks):
    panel = FilterPanel(tasks)
    seen = []
    panel.on_filter(lambda df: seen.append(len(df)))
    for dropdown in (panel.status_filter, panel.assignee_filter, panel.class_filter):
        assert dropdown.get_state()["index"] == 0  # "any" is shown (not a blank dropdown)
    frontend_update(panel.status_filter, index=option_index(panel.status_filter, "completed"))
    expected = tasks[tasks.status == "completed"]
    assert panel.count == len(expected) == len(panel.value)
    assert panel.value.index.tolist() == expected.index.tolist()
    assert shown_ids(panel) == expected.index[:20].tolist()
    assert count_text(panel) == f"{len(expected)} of 240 tasks match"
    assert seen == [len(expected)]
    frontend_update(panel.status_filter, index=0)  # back to "any"
    assert panel.count == len(tasks) and panel.criteria.status is None
    # the options carry the counts of the whole frame
    labels = [label for label, _v in panel.status_filter.options]
    assert f"completed ({len(expected)})" in labels


def test_every_facet_matches_its_pandas_mask(tasks):
    panel = FilterPanel(tasks)
    name = tasks.assignee_name.dropna().iloc[0]
    cases = {
        "assignee": (dict(assignee=name), tasks.assignee_name == name),
        "unassigned": (dict(assignee=UNASSIGNED), tasks.assignee_name.isna()),
        "tags": (
            dict(tags=["blurry", "gold"]),
            tasks.tag_names.map(lambda v: bool({"blurry", "gold"} & set(v))),
        ),
        "class": (dict(class_name="dog"), tasks.classes.map(lambda v: "dog" in list(v))),
        "search": (dict(search="SCENE_001"), tasks.file_name.str.contains("scene_001")),
    }
    for label, (criteria, mask) in cases.items():
        panel.reset()
        panel.filter(**criteria)
        expected = tasks[mask.fillna(False).astype(bool)]
        assert 0 < len(expected) < len(tasks), label
        assert panel.value.index.tolist() == expected.index.tolist(), label
        assert panel.count == len(expected), label
    panel.reset()
    panel.filter(status="completed", class_name="person", tags=["needs-review"])
    both = tasks[
        (tasks.status == "completed")
        & tasks.classes.map(lambda v: "person" in list(v))
        & tasks.tag_names.map(lambda v: "needs-review" in list(v))
    ]
    assert panel.value.index.tolist() == both.index.tolist()
    assert panel.criteria.active() == {
        "status": "completed",
        "tags": ("needs-review",),
        "class_name": "person",
    }


def test_search_matches_an_id(tasks):
    panel = FilterPanel(tasks)
    pk = int(tasks.index[37])
    panel.filter(search=str(pk))
    assert pk in panel.value.index
    frontend_update(panel.search_box, value=f"#{pk}")
    assert pk in panel.value.index


def test_created_range_from_the_date_pickers_is_inclusive():
    frame = synthetic_tasks(300)  # created spread over 28 days (the demo's are all on one)
    panel = FilterPanel(frame)
    # the frontend sends dates as {year, month (0-based), date}
    frontend_update(panel.created_from, value={"year": 2026, "month": 8, "date": 5})
    frontend_update(panel.created_to, value={"year": 2026, "month": 8, "date": 9})
    days = frame.created.dt.date
    expected = frame[(days >= dt.date(2026, 9, 5)) & (days <= dt.date(2026, 9, 9))]
    assert panel.criteria.created_from == dt.date(2026, 9, 5)
    assert 0 < len(expected) < len(frame)
    assert panel.value.index.tolist() == expected.index.tolist()
    assert panel.value.created.max().date() == dt.date(2026, 9, 9)  # the last day counts
    frontend_update(panel.created_from, value=None)
    assert panel.count == int((days <= dt.date(2026, 9, 9)).sum())


def test_tags_input_from_the_frontend(tasks):
    panel = FilterPanel(tasks)
    assert "blurry" in panel.tags_filter.get_state()["allowed_tags"]
    frontend_update(panel.tags_filter, value=["blurry"])
    expected = tasks[tasks.tag_names.map(lambda v: "blurry" in list(v))]
    assert panel.value.index.tolist() == expected.index.tolist()


def test_sort_from_the_frontend_puts_missing_values_last(tasks):
    panel = FilterPanel(tasks)
    frontend_update(panel.sort_dropdown, index=option_index(panel.sort_dropdown, "assignee_name"))
    assert panel.sort_by == "assignee_name"
    expected = tasks.sort_values("assignee_name", kind="stable", na_position="last")
    assert shown_ids(panel) == expected.index[:20].tolist()
    frontend_update(panel.direction, value=True)  # the arrow toggle: descending
    assert panel.ascending is False
    expected = tasks.sort_values(
        "assignee_name", ascending=False, kind="stable", na_position="last"
    )
    assert panel.value.index.tolist() == expected.index.tolist()
    assert pd.isna(panel.value.assignee_name.iloc[-1])
    assert "<th>assignee ▼</th>" in panel.header.get_state()["value"]


def test_paging_with_the_buttons_and_page_size(tasks):
    panel = FilterPanel(tasks)
    frontend_click(panel.next_button)
    assert panel.page == 2
    assert shown_ids(panel) == tasks.index[20:40].tolist()
    assert panel.prev_button.get_state()["disabled"] is False
    frontend_update(panel.size_dropdown, index=option_index(panel.size_dropdown, 100))
    assert panel.page_size == 100
    assert len(shown_ids(panel)) == 100
    panel.go(99)  # clamped to the last page
    assert panel.page == 3
    assert shown_ids(panel) == tasks.index[200:240].tolist()
    assert panel.next_button.get_state()["disabled"] is True
    # fewer rows than the page: the rest of the row pool is hidden
    assert sum(b.layout.display == "none" for b in panel._row_boxes[:100]) == 60


def test_selection_from_checkboxes_spans_pages_and_is_pruned_by_filters(tasks):
    panel = FilterPanel(tasks)
    calls = []
    panel.on_select(calls.append)
    frontend_update(panel._row_checks[0], value=True)
    frontend_update(panel._row_checks[2], value=True)
    first, third = tasks.index[0], tasks.index[2]
    assert panel.selected == (first, third)
    assert calls[-1] == (first, third)
    assert '<tr class="snb-sel">' in panel._row_cells[0].get_state()["value"]
    assert panel.selection_label.get_state()["value"] == "2 selected"
    frontend_click(panel.next_button)
    frontend_update(panel.page_check, value=True)  # the header checkbox: whole page
    assert panel.selected == (first, third, *tasks.index[20:40].tolist())
    frontend_click(panel.prev_button)
    assert panel._row_checks[0].get_state()["value"] is True
    assert panel._row_checks[1].get_state()["value"] is False
    assert panel.selected_frame.index.tolist() == list(panel.selected)
    # filtering keeps only the selected rows that still match
    status = tasks.loc[first, "status"]
    panel.filter(status=status)
    assert panel.selected == tuple(pk for pk in calls[-2] if tasks.loc[pk, "status"] == status)
    panel.on_select(calls.append, remove=True)
    frontend_click(panel.clear_button)
    assert panel.selected == ()
    frontend_click(panel.select_all_button)
    assert panel.selected == tuple(panel.value.index.tolist())


def test_a_filter_change_says_how_many_selected_rows_it_dropped(tasks):
    panel = FilterPanel(tasks)
    pending = tasks.index[tasks.status == "pending"][:2].tolist()
    completed = tasks.index[tasks.status == "completed"][:1].tolist()
    panel.select(pending + completed)
    panel.filter(status="pending")
    assert panel.selected == tuple(pending)
    note = panel.status_line.get_state()["value"]
    assert "Deselected 1 row that no longer matches the filters." in note
    panel.filter(search="no-such-file")
    assert "Deselected 2 rows that no longer match" in panel.status_line.get_state()["value"]
    panel.reset()
    assert panel.status_line.get_state()["value"] == ""  # the next change clears the note


def test_one_match_is_singular(tasks, client):
    assert count_text(FilterPanel(tasks.head(1))) == "1 of 1 task matches"
    assert count_text(FilterPanel(tasks.head(2))) == "2 of 2 tasks match"
    pk = int(tasks.index[0])
    live = FilterPanel(client=client, params={"project": 1, "id": pk}).load()
    assert count_text(live) == "1 task matches (server-side)"


def test_select_refuses_rows_that_do_not_match(tasks):
    panel = FilterPanel(tasks)
    panel.filter(status="pending")
    completed = int(tasks.index[tasks.status == "completed"][0])
    with pytest.raises(InvalidInputError, match=rf"invalid ids=\[{completed}\]"):
        panel.select([completed])
    with pytest.raises(InvalidInputError, match="ids"):
        panel.select("12")
    assert panel.selected == ()


def test_bad_input_names_the_field_and_value(tasks):
    with pytest.raises(InvalidInputError, match="frame"):
        FilterPanel()
    with pytest.raises(InvalidInputError, match="page_size=7"):
        FilterPanel(tasks, page_size=7)
    with pytest.raises(InvalidInputError, match=r"columns=\['nope'\]"):
        FilterPanel(tasks, columns=["status", "nope"])
    panel = FilterPanel(tasks)
    with pytest.raises(InvalidInputError, match="colour"):
        panel.filter(colour="red")
    with pytest.raises(InvalidInputError, match="status='done'"):
        panel.filter(status="done")
    with pytest.raises(InvalidInputError, match=r"tags=\['nope'\]"):
        panel.filter(tags=["nope"])
    with pytest.raises(InvalidInputError, match="created_from='9/1'"):
        panel.filter(created_from="9/1")
    with pytest.raises(InvalidInputError, match="created_to"):
        panel.filter(created_from="2026-09-05", created_to="2026-09-01")
    with pytest.raises(InvalidInputError, match="sort_by='nope'"):
        panel.sort("nope")
    assert panel.count == len(tasks)  # nothing was applied


def test_only_the_visible_page_is_sent(tasks):
    big = synthetic_tasks(5000)
    panel = FilterPanel(big)
    widgets = [*panel._row_cells, *panel._row_checks, panel.header, panel.count_label]
    clear_sent(*widgets)
    panel.filter(status="completed")
    sent = [state for w in widgets for state in sent_updates(w)]
    html_bytes = sum(len(s.get("value", "")) for s in sent if isinstance(s.get("value"), str))
    # one row HTML per visible row, not thousands: a page is a few kB whatever the frame size
    assert sum("value" in s for w in panel._row_cells for s in sent_updates(w)) <= 20
    assert html_bytes < 40_000
    assert panel.count == int((big.status == "completed").sum())


def test_columns_and_cell_formatting(tasks):
    panel = FilterPanel(tasks, columns=["status", "tag_names", "n_annotations"])
    assert panel.header.get_state()["value"].count("<th>") == 4
    tagged = tasks[tasks.tag_names.map(len) > 0].index[0]
    panel.filter(search=str(tagged))
    row = panel._row_cells[panel._row_ids.index(tagged)].get_state()["value"]
    names = list(tasks.loc[tagged, "tag_names"])
    assert all(f">{n}</span>" in row for n in names)
    assert 'class="snb-tag"' in row


def test_update_rows_refreshes_the_tag_facet(tasks):
    frame = tasks.copy()
    frame.attrs = dict(tasks.attrs)
    panel = FilterPanel(frame)
    panel.filter(tags=["blurry"])
    before = panel.count
    untagged = frame.index[frame.tag_names.map(lambda v: "blurry" not in list(v))][:3]
    patch = frame.loc[untagged, ["tags", "tag_names"]].copy()
    patch["tags"] = [[2] for _ in range(3)]
    patch["tag_names"] = pd.Series([["blurry"]] * 3, index=untagged, dtype=frame.tag_names.dtype)
    panel.update_rows(patch)
    assert panel.count == before + 3
    assert set(untagged) <= set(panel.value.index)


def test_empty_result_and_a_frame_without_facets():
    plain = pd.DataFrame({"name": ["a", "b", "c"]}, index=pd.Index([1, 2, 3], name="id"))
    panel = FilterPanel(plain)
    assert panel.status_filter.get_state()["disabled"] is True
    assert panel.tags_filter.allowed_tags == []
    panel.filter(search="zzz")
    assert panel.count == 0 and shown_ids(panel) == []
    assert panel.page_label.get_state()["value"].startswith("page 1 of 1")
    panel.filter(search="B")
    assert panel.value.index.tolist() == [2]


@pytest.fixture(scope="module")
def many() -> pd.DataFrame:
    """1,200 synthetic tasks with dates in microseconds (as frames built from Arrow are)."""
    frame = synthetic_tasks(1200)
    frame["created"] = frame["created"].dt.as_unit("us")
    return frame


def test_value_is_the_pandas_result_and_observers_see_every_change(many):
    panel = FilterPanel(many)
    frontend_update(panel.status_filter, index=option_index(panel.status_filter, "completed"))
    frontend_update(panel.tags_filter, value=["blurry", "night"])
    wanted = (many.status == "completed") & many.tag_names.map(
        lambda v: bool({"blurry", "night"} & set(v)))
    assert panel.count == int(wanted.sum())
    assert panel._pending_value is not None  # nobody observes: no frame taken yet
    assert panel.value.index.tolist() == many.index[wanted].tolist()
    seen: list[list[int]] = []
    panel.observe(lambda change: seen.append(change["new"].index.tolist()), "value")
    frontend_update(panel.status_filter, index=option_index(panel.status_filter, "pending"))
    frontend_update(panel.search_box, value="SCENE_0001")  # case-insensitive, with digits
    pending = (many.status == "pending") & many.tag_names.map(
        lambda v: bool({"blurry", "night"} & set(v)))
    found = pending & many.file_name.str.contains("scene_0001")
    assert seen == [many.index[pending].tolist(), many.index[found].tolist()]
    assert 0 < len(seen[1]) < len(seen[0])


def test_a_refused_value_keeps_the_pending_rows_of_the_last_filter(many):
    import traitlets

    panel = FilterPanel(many)
    frontend_update(panel.status_filter, index=option_index(panel.status_filter, "completed"))
    assert panel._pending_value is not None  # the matching rows are not taken yet
    with pytest.raises(traitlets.TraitError, match="value"):
        panel.value = "not a frame"  # refused: the rows of the filter change must stay
    assert panel.value.index.tolist() == many.index[many.status == "completed"].tolist()
    assert panel.controls.read().active() == {"status": "completed"}


def test_created_range_on_a_microsecond_column(many):
    panel = FilterPanel(many)
    rows = panel.filter(created_from="2026-09-05", created_to="2026-09-09")
    days = many.created.dt.date
    expected = many[(days >= dt.date(2026, 9, 5)) & (days <= dt.date(2026, 9, 9))]
    assert 0 < len(expected) < len(many)
    assert rows.index.tolist() == expected.index.tolist()
    frame = many.copy()
    frame.loc[frame.index[:5], "created"] = pd.NaT  # no date: never in a range
    only_end = FilterPanel(frame).filter(created_to="2026-09-09")
    assert only_end.index.tolist() == frame.index[frame.created.dt.date <= dt.date(2026, 9, 9)
                                                  ].tolist()  # fmt: skip


@pytest.mark.parametrize("column", ["file_name", "assignee_name", "created", "status",
                                    "tag_names"])
def test_sorting_few_or_many_matches_is_pandas_stable_sort(many, column):
    panel = FilterPanel(many)
    for ascending in (True, False):
        panel.sort(column, ascending=ascending)
        for criteria in ({"class_name": "dog", "assignee": "Bob Lee"}, {"class_name": None,
                                                                         "assignee": None}):
            rows = panel.filter(**criteria)
            base = many if criteria["class_name"] is None else many[
                many.classes.map(lambda v: "dog" in list(v)) & (many.assignee_name == "Bob Lee")]
            keys = base[column]
            if column == "tag_names":
                keys = keys.map(", ".join)
            expected = keys.sort_values(ascending=ascending, kind="stable", na_position="last")
            assert rows.index.tolist() == expected.index.tolist(), (column, ascending, criteria)


def test_select_all_matches_then_a_filter_prunes_by_position(many):
    panel = FilterPanel(many)
    panel.filter(class_name="dog")
    frontend_click(panel.select_all_button)
    dogs = many.classes.map(lambda v: "dog" in list(v))
    assert panel.selected == tuple(many.index[dogs].tolist())
    panel.filter(status="completed")
    kept = dogs & (many.status == "completed")
    assert panel.selected == tuple(many.index[kept].tolist())
    with pytest.raises(InvalidInputError, match="rows matching the filters") as info:
        panel.select([int(many.index[~kept][0]), "x"])
    assert "x" in str(info.value)
    repeated = pd.DataFrame({"status": ["a", "b", "a", "b"]}, index=pd.Index([1, 2, 2, 3]))
    twice = FilterPanel(repeated)  # an id on two rows matches when either row does
    twice.select([2, 3])
    assert twice.filter(status="a").index.tolist() == [1, 2] and twice.selected == (2,)
    twice.filter(status=None)
    frontend_click(twice.select_all_button)  # the repeated id is selected once
    assert twice.selected == (1, 2, 3)


def test_update_rows_patches_every_kind_of_column_in_place_of_the_old_values(many):
    frame = many.copy()
    frame.attrs = dict(many.attrs)
    panel = FilterPanel(frame)
    ids = frame.index[[3, 700, 11]]
    patch = pd.DataFrame({
        "tag_names": pd.Series([["night"], [], ["blurry", "gold"]], index=ids,
                               dtype=frame.tag_names.dtype),
        "tags": [[3], [], [2, 5]],
        "file_name": pd.array(["renamed.jpg", None, "x.png"], dtype=frame.file_name.dtype),
        "n_annotations": pd.array([7, None, 0], dtype=frame.n_annotations.dtype),
        "status": ["completed", "pending", "completed"],
        "priority": ["high", "low", "normal"],
        "created": pd.to_datetime(["2026-01-02T03:04:05Z"] * 3).as_unit("us"),
    }, index=ids)  # fmt: skip
    before = {c: frame[c].tolist() for c in patch.columns}
    dtypes = frame.dtypes.copy()
    panel.update_rows(patch, synced=False)
    positions = frame.index.get_indexer(ids)
    for column in patch.columns:
        expected = list(before[column])
        for position, value in zip(positions, patch[column].tolist(), strict=True):
            expected[position] = value
        expected = pd.Series(expected, dtype=dtypes[column]).tolist()
        assert frame[column].dtype == dtypes[column], column
        got = frame[column].tolist()
        assert [str(v) for v in got] == [str(v) for v in expected], column
    many_ids = frame.index[::30]  # 40 rows: merged in one take rather than 81 slices
    panel.update_rows(pd.DataFrame({"tag_names": pd.Series(
        [["night"]] * len(many_ids), index=many_ids, dtype=frame.tag_names.dtype)}))
    assert frame.loc[many_ids, "tag_names"].map(list).tolist() == [["night"]] * len(many_ids)
    assert frame.loc[ids[1:], "tag_names"].map(list).tolist() == [[], ["blurry", "gold"]]
    assert panel.filter(search="renamed").index.tolist() == [ids[0]]
    assert panel.filter(search="", tags=["night"]).index.tolist() == frame.index[
        frame.tag_names.map(lambda v: "night" in list(v))].tolist()


# ---------------------------------------------------------------- live mode


def test_live_panel_sends_nothing_until_loaded(demo, client):
    before = len(request_paths(demo))
    panel = FilterPanel(client=client, params={"project": 1})
    assert len(request_paths(demo)) == before
    assert "load" in panel.status_line.get_state()["value"]
    assert panel.get_state()["_view_count"] == 0  # the frontend reports the views it renders
    frontend_update(panel, _view_count=1)  # a view rendered, e.g. inside a VBox
    assert panel.count == 240
    assert len(shown_ids(panel)) == 20
    assert "tasks match (server-side)" in count_text(panel)


def test_live_filters_become_query_params(demo, client):
    panel = FilterPanel(client=client, params={"project": 1}).load()
    tags = client.list_task_tags({"project": 1})
    blurry = int(tags.index[tags.name == "blurry"][0])
    assignee = panel.assignee_filter.options[1][1]
    frontend_update(panel.status_filter, index=option_index(panel.status_filter, "completed"))
    frontend_update(panel.tags_filter, value=["blurry"])
    frontend_update(panel.assignee_filter, index=option_index(panel.assignee_filter, assignee))
    panel.filter(created_from="2026-09-01", created_to="2026-09-02", search="scene")
    query = last_query(demo, "sdk/tasks/")
    assert query["project"] == ["1"]
    assert query["status"] == ["completed"]
    assert query["tags"] == [str(blurry)]
    assert query["assignee"] == [str(assignee)]
    assert query["created__gte"][0].startswith("2026-09-01T00:00:00")
    assert query["created__lte"][0].startswith("2026-09-02T23:59:59")
    assert query["search"] == ["scene"]
    assert query["page"] == ["1"] and query["page_size"] == ["20"]
    expected = client.list_tasks(
        {
            "project": 1,
            "status": "completed",
            "tags": [blurry],
            "assignee": assignee,
            "created__gte": "2026-09-01T00:00:00+00:00",
            "created__lte": "2026-09-02T23:59:59.999999+00:00",
            "search": "scene",
            "page_size": 20,
        }
    )
    assert panel.count == expected.attrs["synapse"]["count"]
    assert panel.value.index.tolist() == expected.index.tolist()


def test_live_sort_and_pages_are_server_side(demo, client):
    panel = FilterPanel(client=client, params={"project": 1}, page_size=10).load()
    panel.sort("created", ascending=False)
    assert last_query(demo, "sdk/tasks/")["ordering"] == ["-created"]
    everything = client.list_tasks({"project": 1}, list_all=True)
    newest = everything.sort_values(["created"], ascending=False, kind="stable")
    assert panel.value.created.tolist() == newest.created.iloc[:10].tolist()
    frontend_click(panel.next_button)
    assert last_query(demo, "sdk/tasks/")["page"] == ["2"]
    assert panel.value.created.tolist() == newest.created.iloc[10:20].tolist()
    with pytest.raises(InvalidInputError, match="sort_by='file_name'"):
        panel.sort("file_name")


def test_live_unassigned_and_page_past_the_end(demo, client):
    panel = FilterPanel(client=client, params={"project": 1}, page_size=10).load()
    panel.go(20)
    assert panel.page == 20
    panel.filter(assignee=UNASSIGNED)  # fewer matches: back to page 1, not a 404
    assert last_query(demo, "sdk/tasks/")["assignee"] == ["null"]
    unassigned = client.list_tasks({"project": 1, "assignee": "null"}, list_all=True)
    assert panel.count == len(unassigned) > 0
    assert panel.page == 1


def test_live_selection_spans_pages_and_keeps_the_frame_kind(client):
    panel = FilterPanel(client=client, params={"project": 1}, page_size=10).load()
    frontend_update(panel._row_checks[0], value=True)
    frontend_click(panel.next_button)
    frontend_update(panel._row_checks[1], value=True)
    chosen = panel.selected_frame
    assert len(chosen) == 2
    assert chosen.attrs["synapse"]["kind"] == "task"
    assert chosen.synapse.client() is client
    everything = panel.fetch_all()
    assert len(everything) == 240


def test_live_mode_has_no_class_filter(client):
    panel = FilterPanel(client=client, params={"project": 1})
    assert panel.class_filter.get_state()["disabled"] is True
    panel.load()
    with pytest.raises(InvalidInputError, match="class_name='dog'"):
        panel.filter(class_name="dog")
    with pytest.raises(InvalidInputError, match="kind='model'"):
        FilterPanel(client=client, kind="model")
    with pytest.raises(InvalidInputError, match="params"):
        FilterPanel(client=client, params=[("project", 1)])
    with pytest.raises(InvalidInputError, match="client='str'"):
        FilterPanel(client=client.base_url)


def test_live_mode_wraps_a_backend_client_once(demo):
    with BackendClient(demo.url, api_token=demo.token) as raw:
        panel = FilterPanel(client=raw, params={"project": 1}).load()
        assert panel.count == raw.list_tasks({"project": 1})["count"]
        assert panel.value.synapse.client().raw is raw


def test_live_error_is_shown_without_the_token(demo):
    with Client(demo.url, api_token="not-a-valid-token-12345") as bad:
        panel = FilterPanel(client=bad, params={"project": 1})
        panel.ensure_loaded()  # what the first display does: shown, not raised
    text = panel.status_line.get_state()["value"]
    assert "snb-error" in text and "401" in text
    assert "not-a-valid-token-12345" not in text and "not-a-valid-token" not in panel.error


def test_repr_is_short_and_has_no_token(client):
    panel = FilterPanel(client=client, params={"project": 1})
    assert repr(panel) == "<FilterPanel live task: 0 match, 0 selected>"
    assert client.has_api_token and "***" in repr(client)


def test_dropdowns_are_as_wide_as_their_labels_and_options(tasks):
    panel = FilterPanel(tasks)
    for control in (panel.status_filter, panel.assignee_filter, panel.class_filter):
        assert control.style.get_state()["description_width"] == "initial"
        layout = control.layout.get_state()
        assert layout["width"] == "auto" and layout["min_width"] == "200px"
    assert panel.status_filter.layout is not panel.assignee_filter.layout


@pytest.mark.parametrize("column", ["file_name", "assignee_name", "tag_names"])
def test_first_pages_of_every_row_sorted_by_text_are_the_stable_sort(column):
    """Unfiltered, a page near the start sorted by text is found without ordering every row
    when few rows tie (file names), and it is the page the full stable sort gives: ties in
    row order, missing values last."""
    frame = synthetic_tasks(6000, seed=3)
    frame.loc[frame.index[::250], "file_name"] = "same.png"  # ties across the first pages
    frame.loc[frame.index[::200], "file_name"] = None
    frame.loc[frame.index[-30:], "file_name"] = None  # the last page: missing names
    for ascending in (True, False):
        panel = FilterPanel(frame)
        source = panel._frame_source
        panel.page_size = 20
        panel.sort(column, ascending=ascending)
        keys = frame[column].map(", ".join) if column == "tag_names" else frame[column]
        expected = keys.sort_values(ascending=ascending, kind="stable", na_position="last")
        for page in (1, 2, 4, 7):
            panel.page = page
            start = (page - 1) * 20
            assert panel._row_ids == expected.index[start : start + 20].tolist(), (page, ascending)
        if column == "file_name":  # few ties: no full order was needed so far
            assert (column, ascending) not in source._orders
        frontend_click(panel.select_all_button)  # every row, in the sort order
        assert panel.selected == tuple(expected.index.tolist())
        assert panel.value.index.tolist() == expected.index.tolist()
        panel.page = 300  # the last page: the full (cached) order
        assert panel._row_ids == expected.index[5980:6000].tolist()


def test_first_positions_falls_back_where_a_full_order_is_cheaper_or_needed(many):
    source = FilterPanel(many)._frame_source
    assert source.first_positions("file_name", True, len(many) // 32) is not None
    assert source.first_positions("file_name", True, len(many) // 32 + 1) is None  # too deep
    assert source.first_positions("created", True, 20) is None  # not text: numpy sorts fast
    nameless = many.copy()
    nameless["file_name"] = None
    nameless["file_name"] = nameless["file_name"].astype("string[pyarrow]")
    assert FilterPanel(nameless)._frame_source.first_positions("file_name", True, 20) is None
    tied = many.copy()
    tied["file_name"] = "same.png"  # every row ties with the 20th: no shortcut
    assert FilterPanel(tied)._frame_source.first_positions("file_name", True, 20) is None


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.text("abcdeé", min_size=2, max_size=8), min_size=96, max_size=400),
    missing=st.sets(st.integers(0, 399), max_size=30),
    k=st.integers(1, 12),
    ascending=st.booleans(),
    picks=st.lists(st.integers(0, 10_000), min_size=40, max_size=200),
    near_the_first=st.booleans(),
)
def test_first_positions_is_the_full_order_whatever_the_sample(
    keys, missing, k, ascending, picks, near_the_first
):
    """Whatever rows the cut is placed from (drawn here; also only among the first rows of
    the order, where a cut holds fewer than ``k`` rows), the first ``k`` positions are
    exactly the full stable order's, or None (the full order is used)."""
    from unittest import mock

    from synapse_nb.widgets import filter_sources

    keys = [None if i in missing else key for i, key in enumerate(keys)]
    frame = pd.DataFrame({"name": pd.array(keys, dtype="string[pyarrow]")})
    source = filter_sources.FrameSource(frame)
    k = min(k, len(keys) // 32)  # deeper pages are not looked for this way
    expected = frame["name"].sort_values(ascending=ascending, kind="stable", na_position="last")
    rows = expected.index[:k] if near_the_first else frame.index
    drawn = np.array([rows[p % len(rows)] for p in picks])
    with mock.patch.object(filter_sources, "_cut_picks", lambda n: drawn):
        first = source.first_positions("name", ascending, k)
    if first is not None:
        assert first.tolist() == expected.index[:k].tolist()
    event(f"shortcut taken: {first is not None}, k > 1: {k > 1}")


def test_a_cut_with_fewer_than_k_rows_before_it_falls_back_to_the_full_order():
    from unittest import mock

    from synapse_nb.widgets import filter_sources

    keys = [f"name_{i:03d}" for i in np.random.default_rng(1).permutation(100)]
    frame = pd.DataFrame({"name": pd.array(keys, dtype="string[pyarrow]")})
    source = filter_sources.FrameSource(frame)
    smallest = keys.index("name_000")
    # every sampled key is the smallest: the cut has 1 row at or before it, 3 are asked for
    with mock.patch.object(filter_sources, "_cut_picks", lambda n: np.full(80, smallest)):
        assert source.first_positions("name", True, 3) is None
        largest = keys.index("name_099")
        assert source.first_positions("name", True, 1).tolist() == [smallest]
    with mock.patch.object(filter_sources, "_cut_picks", lambda n: np.full(80, largest)):
        assert source.first_positions("name", False, 1).tolist() == [largest]
        assert source.first_positions("name", False, 3) is None


_LIST_ITEMS = st.none() | st.sampled_from(["dark", "tiny", "", "near"]) | st.integers(0, 2)
_LIST_VALUES = (
    st.lists(_LIST_ITEMS, max_size=3)
    | st.tuples(_LIST_ITEMS)
    | st.none()
    | st.just("bare text")
    | st.just(float("nan"))
    | st.lists(st.sampled_from(["dark", "blurry"]), max_size=2).map(np.array)
)


@pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated")
@pytest.mark.parametrize("infer_string", [True, False])  # pandas 3's text dtype, or 2.x's
@settings(max_examples=300, deadline=None)
@given(values=st.lists(_LIST_VALUES, max_size=40))
def test_list_codes_of_python_lists_read_every_item_as_the_plain_walk_does(infer_string, values):
    """Rows of a column of Python lists, tuples, arrays, None or other values: lists,
    tuples and arrays give their items (a None item is a missing one), anything else none."""
    from synapse_nb.widgets.filter_index import ListCodes

    with pd.option_context("future.infer_string", infer_string):
        codes = ListCodes.of(pd.Series(values, dtype=object))
    parents, items = [], []
    for row, value in enumerate(values):
        if isinstance(value, list | tuple | np.ndarray):
            parents += [row] * len(value)
            items += [None if v is None else str(v) for v in value]  # None: a missing item
    assert codes.parents.tolist() == parents
    assert [None if c < 0 else codes.values[c] for c in codes.codes.tolist()] == items
    assert codes.rows == len(values)
    assert codes.counts().tolist() == [items.count(v) for v in codes.values]
    # rows that list a value, once however often they list it
    listed = [{i for p, i in zip(parents, items, strict=True) if p == row}
              for row in range(len(values))]  # fmt: skip
    assert codes.row_counts().tolist() == [sum(v in row for row in listed) for v in codes.values]


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(st.sampled_from(["dark", "tiny", "blurry"]), max_size=4),
                     max_size=30), split=st.integers(0, 30))  # fmt: skip
def test_merged_list_codes_count_each_row_once_per_value(rows, split):
    """Two list columns of the same rows merged (the health panel's issue facet): a row
    counts once for a value it lists in both columns, or twice in one."""
    from synapse_nb.widgets.filter_index import ListCodes, merge_lists

    first = [row[: split % (len(row) + 1)] for row in rows]
    second = [row[split % (len(row) + 1) :] for row in rows]
    merged = merge_lists([ListCodes.of(pd.Series(first, dtype=object)),
                          ListCodes.of(pd.Series(second, dtype=object))])  # fmt: skip
    assert merged.row_counts().tolist() == [sum(v in row for row in rows) for v in merged.values]
    assert merged.counts().tolist() == [sum(row.count(v) for row in rows) for v in merged.values]
