"""ResourceTree state against the demo workspace: lazy loading, paging, selection, errors."""

from __future__ import annotations

import pytest
from wb_helpers import frontend_update, request_paths

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.widgets import ResourceTree
from synapse_nb.widgets.tree import GROUPS, LOADING

# each module has a workspace of its own (see conftest.py)
pytestmark = pytest.mark.usefixtures("comm")


def open_from_frontend(node):
    """Open a node as a click on its expand icon does."""
    frontend_update(node, opened=True)
    return node


def names(node):
    return [child.get_state()["name"] for child in node.nodes]


def child(node, prefix):
    for candidate in node.nodes:
        if candidate.name.startswith(prefix):
            return candidate
    raise AssertionError(f"no child starting with {prefix!r} in {names(node)}")


def test_init_sends_nothing_and_every_group_has_a_placeholder(demo, client):
    before = len(request_paths(demo))
    tree = ResourceTree(client)
    assert len(request_paths(demo)) == before
    assert [n.get_state()["name"] for n in tree.tree.nodes] == list(GROUPS.values())
    for group in tree.tree.nodes:
        state = group.get_state()
        assert state["opened"] is False
        [placeholder] = group.nodes
        assert placeholder.get_state()["name"] == LOADING
        assert placeholder.get_state()["icon"] == "spinner"
    assert tree.tree.get_state()["multiple_selection"] is False


def test_projects_tasks_by_status_and_tasks(client):
    tree = ResourceTree(client, page_size=50)
    projects = open_from_frontend(tree.group("projects"))
    expected = client.raw._get("projects/")["results"]
    assert names(projects) == [f"{p['title']} (#{p['id']})" for p in expected]
    street = child(projects, "Street detection")
    assert names(street) == [LOADING]  # loaded only when opened
    open_from_frontend(street)
    for status, node in zip(("pending", "in_progress", "completed"), street.nodes, strict=True):
        count = client.raw.list_tasks({"project": 1, "status": status})["count"]
        assert node.name == f"{status} ({count})"
    completed = open_from_frontend(child(street, "completed"))
    listing, count = client.raw.list_tasks({"project": 1, "status": "completed"}, list_all=True)
    ids = [t["id"] for t in listing]
    shown = [tree.info(n)["id"] for n in completed.nodes[:-1]]
    assert shown == ids[:50]
    more = completed.nodes[-1]
    assert more.name == f"… {count - 50} more" and more.icon == "ellipsis-h"
    # selecting "… N more" loads the next page in its place
    frontend_update(more, selected=True)
    assert [tree.info(n)["id"] for n in completed.nodes[:100]] == ids[:100]
    while completed.nodes[-1].name.startswith("…"):
        tree.select(completed.nodes[-1])
    assert [tree.info(n)["id"] for n in completed.nodes] == ids


def test_collections_specifications_and_units(client):
    tree = ResourceTree(client, groups=["data_collections"], page_size=100)
    collections = tree.expand(tree.group("data_collections"))
    street = child(collections, "Street scenes")
    assert street.name == "Street scenes (240 units)"
    tree.expand(street)
    specs = client.raw.get_data_collection(1)["file_specifications"]
    assert [tree.info(n)["record"]["name"] for n in street.nodes] == [s["name"] for s in specs]
    image = tree.expand(child(street, "image_1"))
    units = client.raw.list_data_units({"data_collection": 1, "page_size": 100})["results"]
    assert [tree.info(n)["id"] for n in image.nodes[:-1]] == [u["id"] for u in units]
    assert image.nodes[-1].name == "… 140 more to scan"
    meta = tree.expand(child(street, "meta_json"))
    # no demo unit has a meta_json file: nothing listed, the rest can still be scanned
    assert [tree.info(n)["kind"] for n in meta.nodes] == ["more"]


def test_datasets_versions_events(client):
    tree = ResourceTree(client, groups=["ground_truth_datasets"], page_size=200)
    datasets = tree.expand(tree.group("ground_truth_datasets"))
    street_gt = tree.expand(child(datasets, "Street GT"))
    assert names(street_gt) == ["v1 (180 events) · archived", "v2 (180 events)"]
    v2 = tree.expand(street_gt.nodes[1])
    events, count = client.raw.list_ground_truth_events(
        {"ground_truth_dataset_versions": [tree.info(v2)["id"]]}, list_all=True
    )
    assert [tree.info(n)["id"] for n in v2.nodes] == [e["id"] for e in events]
    assert count == 180 and len(v2.nodes) == 180  # 180 <= one page: no "more" node


def test_plugins_releases_jobs_models_storages(client):
    tree = ResourceTree(client, groups=["plugins", "models", "storages"])
    plugins = tree.expand(tree.group("plugins"))
    expected = client.raw._get("plugins/")["results"]
    assert names(plugins) == [f"{p['name']} ({p['code']})" for p in expected]
    trainer = tree.expand(child(plugins, "YOLO trainer"))
    releases = [tree.info(n) for n in trainer.nodes]
    assert [r["name"] for r in releases] == ["0.1.0", "0.2.0"]
    jobs = client.raw.list_jobs({"plugin": "yolo-trainer"})["results"]
    for release_node, release in zip(trainer.nodes, releases, strict=True):
        tree.expand(release_node)
        wanted = [j["id"] for j in jobs if j["plugin_release"]["id"] == release["id"]]
        assert [tree.info(n)["id"] for n in release_node.nodes] == wanted
    assert sum(len(n.nodes) for n in trainer.nodes) == len(jobs) > 0
    models = tree.expand(tree.group("models"))
    assert len(models.nodes) == client.raw.list_models()["count"]
    assert all(n.icon == "cube" for n in models.nodes)
    storages = tree.expand(tree.group("storages"))
    assert [tree.info(n)["record"]["provider"] for n in storages.nodes] == [
        s["provider"] for s in client.list_storages()["results"]
    ]


def test_selection_sets_the_trait_and_shows_details(client):
    tree = ResourceTree(client, groups=["models", "projects"])
    seen = []
    tree.on_select(seen.append)
    models = tree.expand(tree.group("models"))
    first = models.nodes[0]
    frontend_update(first, selected=True)  # a click on the node
    record = client.raw.get_model(tree.info(first)["id"], url_conversion=False)
    assert tree.selected["kind"] == "model"
    assert tree.selected["id"] == record["id"]
    assert tree.selected["record"]["name"] == record["name"]
    assert tree.selected["parent"] == {"kind": "models", "id": None}
    assert seen == [tree.selected]
    details = tree.details.get_state()["value"]
    assert f"<td>{record['name']}</td>" in details and "<th>version</th>" in details
    # select() deselects the previous node, as the single-selection frontend does
    projects = tree.expand(tree.group("projects"))
    tree.select(projects.nodes[0])
    assert first.selected is False
    assert tree.selected["kind"] == "project"
    tree.on_select(seen.append, remove=True)
    tree.select(models.nodes[1])
    assert len(seen) == 2


def test_find_and_info(client):
    tree = ResourceTree(client, groups=["projects"])
    assert tree.find("project", 1) is None  # not loaded yet
    tree.expand(tree.group("projects"))
    node = tree.find("project", 1)
    assert tree.info(node)["record"]["title"] == "Street detection"
    assert tree.info(node)["loaded"] is False
    tree.expand(node)
    assert tree.info(node)["loaded"] is True
    assert repr(tree).startswith("<ResourceTree: ")


def test_load_error_shows_a_retryable_error_node_without_the_token(demo):
    secret = "bad-token-for-the-tree-test"
    with BackendClient(demo.url, api_token=secret) as bad:
        tree = ResourceTree(bad, groups=["models"])
        models = open_from_frontend(tree.group("models"))
    [error] = models.nodes
    assert error.name.startswith("error: ") and "401" in error.name
    assert error.icon_style == "danger"
    assert models.opened is False  # opening it again retries
    status = tree.status.get_state()["value"]
    assert "snb-error" in status and secret not in status and secret not in error.name
    assert tree.info(models)["loaded"] is False


def test_bad_input_names_the_field(client):
    with pytest.raises(InvalidInputError, match="client"):
        ResourceTree(None)
    with pytest.raises(InvalidInputError, match="page_size=0"):
        ResourceTree(client, page_size=0)
    with pytest.raises(InvalidInputError, match=r"groups=\['users'\]"):
        ResourceTree(client, groups=["users"])
    with pytest.raises(InvalidInputError, match="details='left'"):
        ResourceTree(client, details="left")
    tree = ResourceTree(client, groups=["models"])
    with pytest.raises(InvalidInputError, match="kind='projects'"):
        tree.group("projects")


def test_details_and_labels_wrap_between_words_instead_of_being_cut(client):
    tree = ResourceTree(client, groups=["models"])
    models = tree.expand(tree.group("models"))
    tree.select(models.nodes[0])
    details = tree.details.get_state()["value"]
    assert "break-all" not in details  # words were broken mid-word at any width
    assert ".snb-details td {overflow-wrap: anywhere; word-break: normal}" in details
    assert ".snb-resource-tree .jstree-anchor {white-space: normal;" in details
