"""AnnotationClientMixin and HITLClientMixin against the demo backend, with wire checks."""

from __future__ import annotations

import pytest

from synapse_nb.exceptions import InvalidInputError, NotFoundError, ValidationError


def test_get_project(client, wire):
    project = client.get_project(1)
    assert project["id"] == 1 and project["name"] == project["title"]
    assert isinstance(project["configuration"], dict)
    assert wire.one("GET", "projects/1/")["body"] == b""


def test_get_project_not_found_names_method_and_path(client):
    with pytest.raises(NotFoundError) as info:
        client.get_project(987_654)
    err = info.value
    assert err.status_code == err.status == 404
    assert err.response == err.detail == err.reason == {"detail": "Not found."}
    assert str(err) == "GET projects/987654/ failed (404): Not found."


def test_get_task_expand_list_is_sent_as_repeated_keys(client, wire):
    task = client.get_task(1, params={"expand": ["data_unit", "assignment"]})
    assert task["id"] == 1
    assert isinstance(task["data_unit"], dict) and "files" in task["data_unit"]
    assert wire.query(wire.one("GET", "tasks/1/"))["expand"] == ["data_unit", "assignment"]


def test_annotate_task_data_puts_payload_and_schema(client, wire):
    payload = {"annotations": [{"type": "bbox", "coordinates": [10, 10, 100, 100]}]}
    task = client.annotate_task_data(3, payload, schema="any")
    assert task["id"] == 3 and task["data"] == payload
    entry = wire.one("PUT", "tasks/3/annotate_task_data/")
    assert wire.json(entry) == payload
    assert entry["headers"]["content-type"] == "application/json"
    assert wire.query(entry)["schema"] == ["any"]


def test_list_tasks_single_page_is_the_envelope(client, wire):
    page = client.list_tasks(params={"project": 1, "page_size": 5})
    assert set(page) >= {"count", "next", "previous", "results"}
    assert len(page["results"]) == 5 and page["count"] > 5
    # list_all=False converts nothing by default: URLs stay URLs
    files = page["results"][0]["files"]
    assert next(iter(files.values()))["url"].startswith("http://")
    entry = wire.one("GET", "sdk/tasks/")
    assert wire.query(entry) == {"project": ["1"], "page_size": ["5"]}


def test_list_tasks_list_all_returns_generator_and_count(client, wire):
    items, count = client.list_tasks(params={"project": 1}, url_conversion=False, list_all=True)
    assert not isinstance(items, list)
    tasks = list(items)
    assert len(tasks) == count == len({t["id"] for t in tasks})
    assert [t["id"] for t in tasks] == sorted(t["id"] for t in tasks)
    # list_all asks for pages of 1000 unless params say otherwise
    assert wire.query(wire.one("GET", "sdk/tasks/")) == {"project": ["1"], "page_size": ["1000"]}


def test_list_all_pages_keep_every_filter(client, wire):
    params = {"project": 1, "status": "pending", "page_size": 7}
    items, count = client.list_tasks(params, url_conversion=False, list_all=True)
    assert len(list(items)) == count > 7
    first, *rest = wire.all("GET", "sdk/tasks/")
    assert wire.query(first) == {"project": ["1"], "status": ["pending"], "page_size": ["7"]}
    assert len(rest) == (count - 1) // 7
    for entry in rest:
        query = wire.query(entry)
        assert query["project"] == ["1"] and query["status"] == ["pending"]
        assert query["page_size"] == ["7"]
    assert sorted(int(wire.query(e)["page"][0]) for e in rest) == list(range(2, len(rest) + 2))


def test_create_tasks_shapes(client, wire):
    single = client.create_tasks({"project": 2, "data_unit": 5, "priority": "HIGH"})
    assert isinstance(single, dict) and single["data_unit"] == 5
    assert wire.json(wire.one("POST", "tasks/")) == {
        "project": 2,
        "data": [{"data_unit": 5, "priority": "high"}],
    }
    wire.clear()
    many = client.create_tasks([{"project": 2, "data_unit": 6}, {"project": 2, "data_unit": 7}])
    assert [t["data_unit"] for t in many] == [6, 7]
    assert wire.json(wire.one("POST", "tasks/")) == {
        "project": 2,
        "data": [{"data_unit": 6}, {"data_unit": 7}],
    }
    wire.clear()
    mixed = client.create_tasks([{"project": 1, "data_unit": 8}, {"project": 2, "data_unit": 9}])
    assert [t["project"] for t in mixed] == [1, 2]
    assert isinstance(wire.json(wire.one("POST", "tasks/")), list)
    wire.clear()
    bulk = client.create_tasks({"project": 2, "data": [{"data_unit": 10}]})
    assert bulk[0]["data_unit"] == 10


def test_set_tags_tasks_sends_sdk26_body_and_replace(client, wire):
    created = client.create_tasks(
        [{"project": 1, "data_unit": 11}, {"project": 1, "data_unit": 12}]
    )
    ids = [t["id"] for t in created]
    client.set_tags_tasks({"task_ids": ids, "tag_ids": [1, 2]})
    assert wire.json(wire.one("POST", "tasks/set_tags/")) == {
        "ids": ids,
        "tags": [1, 2],
        "action": "add",
    }
    wire.clear()
    client.set_tags_tasks({"ids": ids, "tags": [3]}, params={"replace": True})
    assert wire.query(wire.one("POST", "tasks/set_tags/"))["replace"] == ["True"]
    assert sorted(client.get_task(ids[0])["tags"]) == [3]


def test_task_tags(client, wire):
    tag = client.get_task_tag(1)
    assert tag["id"] == 1 and tag["name"]
    page = client.list_task_tags({"project": 1})
    assert page["count"] >= 1 and all(t["project"] == 1 for t in page["results"])
    assert wire.query(wire.one("GET", "task_tags/")) == {"project": ["1"]}


def test_assignments(client, wire):
    assignment = client.get_assignment(1)
    assert assignment["id"] == 1 and "files" in assignment
    page = client.list_assignments(params={"project": 1, "page_size": 10})
    assert len(page["results"]) == 10
    items, count = client.list_assignments({"project": 1}, url_conversion=False, list_all=True)
    assert len(list(items)) == count
    assert wire.all("GET", "sdk/assignments/")


def test_set_tags_assignments(client, wire):
    result = client.set_tags_assignments({"assignment_ids": [2, 3], "tag_ids": [4]})
    assert result is not None
    assert wire.json(wire.one("POST", "assignments/set_tags/")) == {
        "ids": [2, 3],
        "tags": [4],
        "action": "add",
    }
    assert 4 in client.get_assignment(2)["tags"]


def test_update_task_and_assignment_patch_only_the_given_fields(client, wire):
    # the demo workspace is shared: the original values are put back afterwards
    before_task, before_assignment = client.get_task(7), client.get_assignment(5)
    wire.clear()
    try:
        task = client.update_task(7, {"priority": "high", "metadata": {"reviewed": True}})
        assert task["id"] == 7 and task["priority"] == "high"
        assert task["metadata"] == {"reviewed": True}
        assert wire.json(wire.one("PATCH", "tasks/7/")) == {
            "priority": "high",
            "metadata": {"reviewed": True},
        }
        assignment = client.update_assignment(5, {"status_review": "rejected"})
        assert assignment["id"] == 5 and assignment["status_review"] == "rejected"
        assert wire.json(wire.one("PATCH", "assignments/5/")) == {"status_review": "rejected"}
        assert client.get_assignment(5)["status_review"] == "rejected"
    finally:
        client.update_task(
            7, {"priority": before_task["priority"], "metadata": before_task["metadata"]}
        )
        client.update_assignment(5, {"status_review": before_assignment["status_review"]})


def test_server_validation_error_names_field(client):
    with pytest.raises(ValidationError) as info:
        client.create_tasks({"project": 1, "data_unit": 999_999})
    assert info.value.status_code == 400
    assert isinstance(info.value.response, dict)
    assert "POST tasks/ failed (400)" in str(info.value)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.get_project(0), "pk"),
        (lambda c: c.get_project("one"), "pk"),
        (lambda c: c.get_project(True), "pk"),
        (lambda c: c.get_task(1, params=["expand"]), "params"),
        (lambda c: c.annotate_task_data(1, "not a dict"), "data"),
        (lambda c: c.annotate_task_data(1, {"x": object()}), "data"),
        (lambda c: c.annotate_task_data(1, {}, schema="dm_v9"), "schema"),
        (lambda c: c.annotate_task_data(1, []), "data"),
        (lambda c: c.annotate_task_data(1, [1, 2]), "data"),
        (lambda c: c.annotate_task_data(1, [{"images": []}]), "data"),
        (
            lambda c: c.annotate_task_data(1, {"annotations": [{"x": float("inf")}]}),
            "data['annotations'][0]['x']",
        ),
        (lambda c: c.get_task("1" * 5000), "pk"),
        (lambda c: c.get_task(2**63), "pk"),
        (lambda c: c.get_task(10**5000), "pk"),
        (lambda c: c.get_project("²"), "pk"),
        (lambda c: c.list_tasks(params="project=1"), "params"),
        (lambda c: c.list_tasks(list_all="yes"), "list_all"),
        (lambda c: c.list_tasks(list_all=True, max_workers=0), "max_workers"),
        (lambda c: c.list_tasks(url_conversion="files"), "url_conversion"),
        (lambda c: c.create_tasks([]), "data"),
        (lambda c: c.create_tasks({"project": 1}), "data_unit"),
        (lambda c: c.create_tasks([{"project": 1, "data_unit": -4}]), "data_unit"),
        (
            lambda c: c.create_tasks({"project": 1, "data_unit": 2, "priority": "urgent"}),
            "priority",
        ),
        (lambda c: c.create_tasks({"project": 1, "data": []}), "data"),
        (lambda c: c.set_tags_tasks({"task_ids": [1]}), "tags"),
        (lambda c: c.set_tags_tasks({"task_ids": [], "tag_ids": [1]}), "task_ids"),
        (lambda c: c.set_tags_tasks({"ids": [1], "tags": [1], "action": "toggle"}), "action"),
        (lambda c: c.set_tags_tasks({"ids": [1], "tags": [1], "colour": 1}), "colour"),
        (lambda c: c.set_tags_tasks({"ids": [1], "tags": [1]}, params=3), "params"),
        (
            lambda c: c.set_tags_tasks(
                {"ids": [1], "tags": [1], "action": "remove"}, params={"replace": True}
            ),
            "action",
        ),
        (
            lambda c: c.set_tags_assignments(
                {"ids": [1], "tags": [1], "action": "remove"}, params={"replace": "true"}
            ),
            "action",
        ),
        (lambda c: c.get_task_tag(-1), "pk"),
        (lambda c: c.list_task_tags(params=[1]), "params"),
        (lambda c: c.get_assignment(None), "pk"),
        (lambda c: c.update_task(0, {"status": "completed"}), "pk"),
        (lambda c: c.update_task(1, {}), "data"),
        (lambda c: c.update_task(1, {"project": 2}), "data['project']"),
        (
            lambda c: c.update_task(1, {"metadata": {"x": float("nan")}}),
            "data['metadata']['x']",
        ),
        (lambda c: c.update_assignment(1, ["status_review"]), "data"),
        (lambda c: c.update_assignment(1, {"task": 9}), "data['task']"),
        (lambda c: c.list_assignments(params=1), "params"),
        (
            lambda c: c.set_tags_assignments({"assignment_ids": ["a"], "tag_ids": [1]}),
            "assignment_ids.0",
        ),
    ],
)
def test_bad_input_raises_before_sending(client, wire, call, field):
    with pytest.raises(InvalidInputError) as info:
        call(client)
    assert info.value.field == field
    assert info.value.status_code == 400 and field in str(info.value)
    assert isinstance(info.value, ValueError)
    assert wire.all() == []


def test_annotate_task_data_with_a_list_keeps_the_stored_annotations(client, wire):
    # dict([]) used to send {} and wipe the task's annotations
    task = client.create_tasks({"project": 2, "data_unit": 6})
    payload = {"annotations": [{"type": "bbox", "coordinates": [1, 2, 3, 4]}]}
    client.annotate_task_data(task["id"], payload, schema="any")
    wire.clear()
    for bad in ([], [("annotations", [])]):
        with pytest.raises(InvalidInputError, match=r"must be a dict, not a list"):
            client.annotate_task_data(task["id"], bad)
    assert wire.all() == []
    assert client.get_task(task["id"])["data"] == payload
