"""Explorer: tree, filter panel, preview and tag editor linked, against the demo workspace."""

from __future__ import annotations

import pytest
from wb_helpers import (
    frontend_click,
    frontend_update,
    request_paths,
)

import synapse_nb.widgets as widgets_pkg
from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.widgets import Explorer, explore

# each module has a workspace of its own (see conftest.py)
pytestmark = pytest.mark.usefixtures("comm")


def tree_child(node, prefix):
    return next(n for n in node.nodes if n.name.startswith(prefix))


def test_explore_sends_nothing_until_loaded(demo, client):
    before = len(request_paths(demo))
    ex = explore(client)
    assert isinstance(ex, Explorer)
    assert len(request_paths(demo)) == before
    ex.load()
    assert ex.panel.count == client.raw.list_tasks()["count"]  # every task, no project yet
    assert ex.tags.tags, "tag list loaded"
    projects = ex.tree.group("projects")
    assert projects.opened is True and len(projects.nodes) == 3


def test_selecting_a_project_and_a_status_in_the_tree_filters_the_table(demo, client):
    ex = explore(client).load()
    projects = ex.tree.group("projects")
    pose = tree_child(projects, "Pedestrian pose")
    frontend_update(pose, selected=True)
    pid = ex.tree.info(pose)["id"]
    assert ex.panel.params == {"project": pid}
    assert ex.panel.count == client.raw.list_tasks({"project": pid})["count"]
    assert ex.tags.project == pid
    assert {t["project"] for t in ex.tags.tags} <= {pid, None}
    ex.tree.expand(pose)
    completed = tree_child(pose, "completed")
    frontend_update(completed, selected=True)
    assert ex.panel.params == {"project": pid, "status": "completed"}
    expected = client.raw.list_tasks({"project": pid, "status": "completed"})["count"]
    assert ex.panel.count == expected
    assert "status=completed" in [r["query"] for r in demo.requests if "sdk/tasks" in r["path"]][-1]


def test_selected_rows_drive_the_preview_and_the_tag_editor(client):
    ex = explore(client, project=1).load()
    frontend_update(ex.panel._row_checks[0], value=True)
    frontend_update(ex.panel._row_checks[3], value=True)
    ids = list(ex.panel.selected)
    assert ex.tags.rows.index.tolist() == ids
    preview = ex.preview
    assert preview is not None and ex.preview_box.children == (preview,)
    assert preview.row_count == 2 and preview.current_id == ids[0]
    assert preview.loaded is True
    # a new selection replaces the preview (the old one is closed)
    frontend_update(ex.panel._row_checks[3], value=False)
    assert ex.preview is not preview and ex.preview.row_count == 1
    assert preview.comm is None


def test_a_tag_change_updates_the_table_and_undo_reverts_it(client):
    ex = explore(client, project=1).load()
    ex.panel.filter(status="pending")
    frontend_update(ex.panel._row_checks[1], value=True)
    pk = ex.panel.selected[0]
    before = sorted(client.raw.get_task(pk)["tags"])
    frontend_click(next(b for b in ex.tags.tag_box.children if b.description.startswith("gold")))
    frontend_click(ex.tags.add_button)
    frontend_click(ex.tags.confirm_button)
    row = ex.panel._row_cells[1].get_state()["value"]
    assert f'data-id="{pk}"' in row and ">gold</span>" in row
    assert "gold" in [
        t["name"] for t in client.raw.list_task_tags({"project": 1})["results"]
        if t["id"] in client.raw.get_task(pk)["tags"]
    ]  # fmt: skip
    frontend_click(ex.tags.undo_button)
    assert sorted(client.raw.get_task(pk)["tags"]) == before
    assert ">gold</span>" not in ex.panel._row_cells[1].get_state()["value"]


def test_tree_task_event_and_version_open_the_preview(client):
    ex = explore(client, project=1).load()
    street = tree_child(ex.tree.group("projects"), "Street detection")
    ex.tree.expand(street)
    completed = ex.tree.expand(tree_child(street, "completed"))
    task = completed.nodes[0]
    ex.tree.select(task)
    assert ex.preview.current_id == ex.tree.info(task)["id"]
    datasets = ex.tree.expand(ex.tree.group("ground_truth_datasets"))
    street_gt = ex.tree.expand(tree_child(datasets, "Street GT"))
    version = street_gt.nodes[1]
    ex.tree.select(version)
    events = ex.tree.info(version)["record"]["event_count"]
    assert events > 24  # more than one gallery page: no hidden cap on the rows
    assert ex.preview.mode == "gallery" and ex.preview.row_count == events
    ex.tree.expand(version)
    event = version.nodes[0]
    ex.tree.select(event)
    assert ex.preview.mode == "single" and ex.preview.current_id == ex.tree.info(event)["id"]
    assert ex.status.get_state()["value"] == ""


def test_switching_project_closes_the_old_preview(client):
    ex = explore(client, project=1).load()
    frontend_update(ex.panel._row_checks[0], value=True)
    old = ex.preview
    assert old is not None and old.row_count == 1
    ex.show_project(2)
    assert ex.preview is None and old.comm is None
    assert "Select rows" in ex.preview_box.children[0].get_state()["value"]
    ex.show_project(2, status="completed")  # same project: nothing to close
    assert ex.preview is None


def test_a_backend_client_is_wrapped_once_at_the_entry(demo):
    with BackendClient(demo.url, api_token=demo.token) as raw:
        ex = explore(raw)
        assert ex.client.raw is raw
        assert ex.load().panel.count == raw.list_tasks()["count"]
        assert ex.panel.value.synapse.client() is ex.client  # one wrapper for every part


def test_bad_input(demo, client):
    with pytest.raises(InvalidInputError, match="client='object'"):
        explore(object())
    with pytest.raises(InvalidInputError, match="project='1'"):
        explore(client, project="1")


def test_package_exports_and_the_frames_preview_hook(client):
    for name in widgets_pkg.__all__:
        assert getattr(widgets_pkg, name) is not None, name
    frame = client.list_tasks({"project": 1, "page_size": 3})
    preview = frame.synapse.preview()
    assert type(preview).__name__ == "AnnotationPreview"
    assert preview.row_count == 3
