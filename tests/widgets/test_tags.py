"""TagEditor state against the embedded backend: propose, confirm, cancel, undo, errors."""

from __future__ import annotations

import pytest
from wb_helpers import (
    frontend_click,
    frontend_update,
    request_paths,
)

from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.widgets import FilterPanel, TagEditor

# each module has a workspace of its own (see conftest.py)
pytestmark = pytest.mark.usefixtures("comm")


def server_tags(client, ids):
    return {pk: sorted(client.raw.get_task(pk)["tags"]) for pk in list(map(int, ids))}


def tag_id(client, name, project=1):
    tags = client.list_task_tags({"project": project})
    return int(tags.index[tags.name == name][0])


def button_for(editor, name):
    for button in editor.tag_box.children:
        if button.description.lstrip("✓ ").split(" (")[0] == name:
            return button
    raise AssertionError(f"no button for tag {name!r}")


def test_loads_tags_by_name_and_colour_only_on_load(demo, client):
    before = len(request_paths(demo))
    editor = TagEditor(client, project=1)
    assert len(request_paths(demo)) == before  # nothing in __init__
    frontend_update(editor, _view_count=1)  # the first view loads it
    assert len(request_paths(demo)) > before
    server = client.raw.list_task_tags({"project": 1})["results"]
    assert sorted(t["name"] for t in editor.tags) == sorted(t["name"] for t in server)
    for record in server:
        state = button_for(editor, record["name"]).style.get_state()
        assert state["button_color"] == record["color"].lower()
        assert state["text_color"] in ("#000000", "#ffffff")
    # project 1's editor offers no tag of another project
    projects = {t["project"] for t in editor.tags}
    assert projects <= {1, None}


def test_add_needs_rows_and_tags(client):
    editor = TagEditor(client, project=1).load()
    assert editor.add_button.get_state()["disabled"] is True
    with pytest.raises(InvalidInputError, match="rows"):
        editor.propose("add", ["blurry"])
    rows = client.list_tasks({"project": 1, "page_size": 3})
    editor.rows = rows
    assert editor.add_button.get_state()["disabled"] is True  # no tag chosen yet
    frontend_click(editor.add_button)  # a disabled-looking click from a stale view
    assert editor.pending == {}
    frontend_click(button_for(editor, "blurry"))
    assert editor.selected_tags == (tag_id(client, "blurry"),)
    assert button_for(editor, "blurry").description.startswith("✓ ")
    assert editor.add_button.get_state()["disabled"] is False


def test_add_confirm_undo_round_trip(demo, client):
    editor = TagEditor(client, project=1).load()
    rows = client.list_tasks({"project": 1, "status": "completed", "page_size": 4})
    ids = rows.index.tolist()
    gold = tag_id(client, "gold")
    before = server_tags(client, ids)
    changes = []
    editor.on_change(lambda change, frame: changes.append((change, frame.index.tolist())))
    editor.rows = rows
    assert "4 tasks selected" in editor.target.get_state()["value"]
    frontend_click(button_for(editor, "gold"))
    posts = len(request_paths(demo, "POST"))
    frontend_click(editor.add_button)
    assert editor.pending == {"action": "add", "tags": [gold], "rows": ids}
    assert editor.confirm_box.layout.get_state()["display"] == "flex"
    assert editor.question.get_state()["value"] == "<b>Add gold to 4 tasks?</b>"
    assert len(request_paths(demo, "POST")) == posts  # nothing sent before Confirm
    frontend_click(editor.confirm_button)
    assert request_paths(demo, "POST")[-1] == "/tasks/set_tags/"
    after = server_tags(client, ids)
    assert all(gold in after[pk] for pk in ids)
    already = sum(gold in before[pk] for pk in ids)
    assert len(editor.last_change.changes) == 4 - already
    expected = f"Added gold to {4 - already} task{'s' if 4 - already != 1 else ''}"
    assert editor.summary.startswith(expected)
    assert editor.status.get_state()["value"].startswith('<div class="snb-note">')
    assert all("gold" in list(v) for v in editor.rows.tag_names)
    assert changes[-1][1] == ids
    assert editor.undo_button.get_state()["disabled"] is False
    frontend_click(editor.undo_button)
    assert server_tags(client, ids) == before  # exactly as before, incl. rows that had it
    assert editor.summary.startswith("Undone: add gold")
    assert [("gold" in list(v)) for v in editor.rows.tag_names] == [
        gold in before[pk] for pk in ids
    ]
    assert editor.last_change is None and len(changes) == 2


def test_the_editors_rows_show_no_local_edits_after_confirm_and_undo(client):
    """The editor's frame records the server's new tags: diff() stays empty, push sends nothing."""
    editor = TagEditor(client, project=1).load()
    rows = client.list_tasks({"project": 1, "status": "in_progress", "page_size": 5})
    other = rows.copy()  # another frame sharing the listing's snapshot
    editor.rows = rows
    frontend_click(button_for(editor, "gold"))
    frontend_click(editor.add_button)
    frontend_click(editor.confirm_button)
    assert len(editor.last_change.changes) > 0
    assert editor.rows.synapse.diff().empty
    assert other.synapse.diff().empty  # its stale tags are not taken for edits either
    frontend_click(editor.undo_button)
    assert editor.rows.synapse.diff().empty


def test_remove_and_cancel(demo, client):
    editor = TagEditor(client, project=1).load()
    blurry = tag_id(client, "blurry")
    tagged = client.list_tasks({"project": 1, "tags": [blurry], "page_size": 2})
    assert len(tagged) == 2
    editor.rows = tagged
    editor.propose("remove", "blurry")
    posts = len(request_paths(demo, "POST"))
    frontend_click(editor.cancel_button)
    assert editor.pending == {}
    assert editor.confirm_box.layout.display == "none"
    assert len(request_paths(demo, "POST")) == posts
    editor.propose("remove", [blurry])
    change = editor.confirm()
    assert change.action == "remove" and len(change.changes) == 2
    assert all(blurry not in tags for tags in server_tags(client, tagged.index).values())
    assert editor.summary == "Removed blurry from 2 tasks."
    editor.undo()
    assert all(blurry in tags for tags in server_tags(client, tagged.index).values())


def test_server_refusal_is_shown_and_nothing_changes(client):
    editor = TagEditor(client)
    editor.set_tags([{"id": 999_999, "name": "ghost", "color": "#123456"}])
    rows = client.list_tasks({"project": 1, "page_size": 2})
    before = server_tags(client, rows.index)
    editor.rows = rows
    editor.propose("add", ["ghost"])
    with pytest.raises(ClientError) as raised:
        editor.confirm()
    assert raised.value.status_code == 400
    assert editor.error and "999999" in editor.error
    assert "snb-error" in editor.status.get_state()["value"]
    assert editor.last_change is None and editor.pending == {}
    assert server_tags(client, rows.index) == before
    # the same refusal from a click is shown, not raised
    editor.propose("add", ["ghost"])
    frontend_click(editor.confirm_button)
    assert "snb-error" in editor.status.get_state()["value"]


def test_bad_input_names_field_and_value(client):
    editor = TagEditor(client, project=1).load()
    editor.rows = client.list_tasks({"project": 1, "page_size": 1})
    with pytest.raises(InvalidInputError, match="action='toggle'"):
        editor.propose("toggle", ["blurry"])
    with pytest.raises(InvalidInputError, match="tags='nope'"):
        editor.propose("add", ["nope"])
    with pytest.raises(InvalidInputError, match="tags=424242"):
        editor.propose("add", [424242])
    with pytest.raises(InvalidInputError, match="tags"):
        editor.propose("add", [])
    with pytest.raises(InvalidInputError, match="pending"):
        editor.confirm()
    with pytest.raises(InvalidInputError, match="last_change"):
        editor.undo()
    with pytest.raises(InvalidInputError, match="kind='model'"):
        TagEditor(client, kind="model")
    with pytest.raises(InvalidInputError, match="project='1'"):
        TagEditor(client, project="1")
    with pytest.raises(InvalidInputError, match="rows='model'"):
        editor.rows = client.list_models()
    # a click with nothing chosen shows the problem instead of raising in the kernel
    frontend_click(editor.remove_button)
    assert editor.pending == {}


def test_ambiguous_tag_name_needs_the_id(client):
    editor = TagEditor(client)  # all projects: both projects have a "blurry" tag
    editor.load()
    names = [t["name"] for t in editor.tags]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    assert duplicated, "the demo has tag names shared by projects"
    editor.rows = client.list_tasks({"project": 1, "page_size": 1})
    with pytest.raises(InvalidInputError, match="ambiguous"):
        editor.propose("add", [duplicated[0]])


def test_with_a_filter_panel_the_table_shows_the_new_tag(client):
    panel = FilterPanel(client=client, params={"project": 1}).load()
    editor = TagEditor(client, project=1).load()
    editor.on_change(lambda change, rows: panel.update_rows(rows))
    panel.on_select(lambda ids: setattr(editor, "rows", panel.selected_frame))
    panel.select(panel.value.index[:2].tolist())
    editor.propose("add", ["edge-case"])
    editor.confirm()
    for i in range(2):
        assert ">edge-case</span>" in panel._row_cells[i].get_state()["value"]
    editor.undo()
    fresh = client.list_tasks({"id__in": ",".join(map(str, panel.selected))})
    for i, pk in enumerate(panel.selected):
        shown = ">edge-case</span>" in panel._row_cells[i].get_state()["value"]
        assert shown == ("edge-case" in list(fresh.loc[pk, "tag_names"]))


def test_an_editor_following_a_panel_shows_the_new_tag_in_its_table(client):
    tasks = client.list_tasks({"project": 1}, list_all=True)
    panel = FilterPanel(tasks, columns=["status", "tag_names"])
    editor = TagEditor(client, project=1).load().follow(panel)
    assert editor.rows is None  # nothing selected yet
    untagged = tasks.index[tasks.tag_names.map(len) == 0][:2].tolist()
    panel.filter(search=str(untagged[0]))
    panel.select([untagged[0]])
    assert editor.rows.index.tolist() == [untagged[0]]
    editor.propose("add", ["occluded"])
    editor.confirm()
    assert ">occluded</span>" in panel._row_cells[0].get_state()["value"]
    assert list(tasks.loc[untagged[0], "tag_names"]) == ["occluded"]
    editor.undo()
    assert ">occluded</span>" not in panel._row_cells[0].get_state()["value"]
    assert tasks.synapse.diff().empty


def test_frame_mode_panel_and_editor_keep_the_frame_consistent(client):
    tasks = client.list_tasks({"project": 1}, list_all=True)
    panel = FilterPanel(tasks)
    editor = TagEditor(client, project=1).load()
    editor.on_change(lambda change, rows: panel.update_rows(rows))
    untagged = tasks.index[tasks.tag_names.map(len) == 0][:2].tolist()
    panel.filter(search=str(untagged[0]))
    panel.select([untagged[0]])
    editor.rows = panel.selected_frame
    editor.propose("add", ["occluded"])
    editor.confirm()
    assert list(tasks.loc[untagged[0], "tag_names"]) == ["occluded"]
    panel.reset()
    panel.filter(tags=["occluded"])
    assert untagged[0] in panel.value.index
    # the frame's snapshot moved with it: no phantom edit for push() to send
    assert tasks.synapse.diff().empty
    editor.undo()
    assert list(tasks.loc[untagged[0], "tag_names"]) == []
    assert tasks.synapse.diff().empty


def test_tag_buttons_never_shrink_below_their_names(client):
    editor = TagEditor(client, project=1).load()
    for button in editor.tag_box.children:
        layout = button.layout.get_state()
        assert layout["flex"] == "0 0 auto" and layout["width"] == "auto"
    assert editor.tag_box.layout.get_state()["flex_flow"] == "row wrap"
