"""Every write endpoint: success, 400 for each required field missing or mistyped, 404s."""

from __future__ import annotations

import re
import secrets
import shlex
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import requests
from srv_helpers import check_field_error, unique


@pytest.fixture(scope="module")
def ctx(make, api, agent) -> dict:
    project = make.project()
    collection = make.collection()
    unit = make.data_unit(collection["id"])
    plugin = make.plugin()
    release = make.release(plugin)
    job = api.post(f"plugins/{plugin['id']}/run/", json={"action": "train"}).json()
    return {
        "project": project["id"],
        "collection": collection["id"],
        "unit": unit["id"],
        "checksum": unit["files"]["image_1"]["checksum"],
        "task": make.task(project["id"], unit["id"])["id"],
        "tag": make.tag(project["id"])["id"],
        "assignment": api.get("sdk/assignments/").json()["results"][0]["id"],
        "plugin": plugin,
        "release": release,
        "job": job["id"],
        "upload": make.upload()["id"],
        "agent": agent,
        "fresh_upload": lambda: fresh_upload(api),
    }


def fresh_upload(api) -> str:
    """Path of a new, unfinished chunked upload (each finalize attempt consumes one)."""
    response = api.put(
        "chunked_upload/",
        files={"file": ("file", b"abc")},
        headers={"Content-Range": "bytes 0-2/10"},
    )
    return f"chunked_upload/{response.json()['id']}/"


@dataclass
class Case:
    """One write operation: a valid body, its required fields and some mistyped values."""

    name: str
    method: str
    path: Callable[[dict], str]
    body: Callable[[dict], dict]
    required: tuple[str, ...] = ()
    mistyped: tuple[tuple[str, Any], ...] = ()
    status: int = 201
    #: what the response must satisfy: a predicate over (sent body, response body, ctx)
    check: Callable[[dict, dict, dict], bool] = field(default=lambda sent, got, ctx: True)


def _echo(*keys: str) -> Callable[[dict, dict, dict], bool]:
    """The response repeats these fields of the request."""

    def check(sent: dict, got: dict, ctx: dict) -> bool:
        return all(got[key] == sent[key] for key in keys)

    return check


CASES = [
    Case(
        "create project",
        "POST",
        lambda c: "projects/",
        lambda c: {"title": unique("p"), "data_collection": c["collection"], "junk": 1},
        required=("title",),
        mistyped=(
            ("title", ["a list"]),
            ("data_collection", "not-a-pk"),
            ("configuration", "not-a-dict"),
            ("description", {"not": "text"}),
        ),
        check=_echo("title", "data_collection"),
    ),
    Case(
        "create task tag",
        "POST",
        lambda c: "task_tags/",
        lambda c: {"name": unique("tag"), "project": c["project"], "color": "#123456"},
        required=("name",),
        mistyped=(
            ("name", {"not": "text"}),
            ("project", "not-a-pk"),
            ("meta", [12345]),
            ("color", ["red"]),
        ),
        check=_echo("name", "project", "color"),
    ),
    Case(
        "create task",
        "POST",
        lambda c: "tasks/",
        lambda c: {"project": c["project"], "data_unit": c["unit"], "priority": "high"},
        required=("project", "data_unit"),
        mistyped=(
            ("project", "not-a-pk"),
            ("data_unit", [12345]),
            ("priority", "urgent"),
            ("status", "done"),
            ("assignee", "bob"),
            ("metadata", "not-a-dict"),
            ("project", 987654321),  # unknown pk
            ("data_unit", 987654321),
        ),
        check=_echo("project", "data_unit", "priority"),
    ),
    Case(
        "update task",
        "PATCH",
        lambda c: f"tasks/{c['task']}/",
        lambda c: {"status": "in_progress", "metadata": {"k": "v"}, "tags": [c["tag"]]},
        mistyped=(
            ("status", "done"),
            ("priority", "urgent"),
            ("assignee", "bob"),
            ("metadata", 12345),
            ("tags", "not-a-list"),
            ("tags", ["not-a-pk"]),
            ("tags", [987654321]),
            ("is_discarded", "maybe"),
        ),
        status=200,
        check=_echo("status", "metadata", "tags"),
    ),
    Case(
        "set task tags",
        "POST",
        lambda c: "tasks/set_tags/",
        lambda c: {"ids": [c["task"]], "tags": [c["tag"]], "action": "add"},
        required=("ids", "tags"),
        mistyped=(
            ("ids", "not-a-list"),
            ("tags", ["not-a-pk"]),
            ("action", "toggle"),
            ("ids", [987654321]),
        ),
        status=200,
    ),
    Case(
        "update assignment",
        "PATCH",
        lambda c: f"assignments/{c['assignment']}/",
        lambda c: {"status_review": "rejected", "data": {"note": "redo"}},
        mistyped=(
            ("status_label", "done"),
            ("status_review", "nope"),
            ("data", 12345),
        ),
        status=200,
        check=_echo("status_review", "data"),
    ),
    Case(
        "set assignment tags",
        "POST",
        lambda c: "assignments/set_tags/",
        lambda c: {"ids": [c["assignment"]], "tags": [c["tag"]]},
        required=("ids", "tags"),
        mistyped=(("ids", {"not": "a list"}), ("action", "toggle")),
        status=200,
    ),
    Case(
        "create data collection",
        "POST",
        lambda c: "data_collections/",
        lambda c: {
            "name": unique("dc"),
            "file_specifications": [{"name": "image_1", "file_type": "image"}],
        },
        required=("name",),
        mistyped=(
            ("name", ["a list"]),
            ("category", "banana"),
            ("file_specifications", "not-a-list"),
            ("file_specifications", [{"name": "x", "file_type": "hologram"}]),
            ("file_specifications", [{"file_type": "image"}]),
        ),
        check=_echo("name"),
    ),
    Case(
        "create data file from upload",
        "POST",
        lambda c: "data_files/",
        lambda c: {"chunked_upload": c["upload"], "meta": {"filename": "a.bin"}},
        required=("chunked_upload",),
        mistyped=(
            ("chunked_upload", ["a list"]),
            ("chunked_upload", "no-such-upload"),
            ("meta", 12345),
        ),
    ),
    Case(
        "verify checksums",
        "POST",
        lambda c: "data_files/verify_checksums/",
        lambda c: {"checksums": [c["checksum"], "0" * 32]},
        required=("checksums",),
        mistyped=(("checksums", "not-a-list"), ("checksums", [12345])),
        status=200,
        check=lambda sent, got, c: got == {"existing_checksums": [c["checksum"]]},
    ),
    Case(
        "create data unit",
        "POST",
        lambda c: "data_units/",
        lambda c: {
            "data_collection": c["collection"],
            "files": {"image_1": {"checksum": c["checksum"], "path": "a/b.png"}},
            "meta": {"k": 1},
            "groups": ["top", "inner"],
        },
        required=("data_collection", "files"),
        mistyped=(
            ("data_collection", "not-a-pk"),
            ("data_collection", 987654321),
            ("files", "not-a-dict"),
            ("files", {"image_1": {"checksum": "f" * 32}}),
            ("files", {"no_such_spec": {"checksum": "f" * 32}}),
            ("meta", 12345),
            ("groups", 12345),
        ),
        check=_echo("data_collection", "meta"),
    ),
    Case(
        "finalize chunked upload",
        "POST",
        lambda c: c["fresh_upload"](),
        lambda c: {"md5": "0" * 32},
        required=("md5",),
        mistyped=(("md5", ["a list"]),),
        status=400,  # a fresh upload cannot be finalized: tested in test_server_upload
    ),
    Case(
        "create plugin",
        "POST",
        lambda c: "plugins/",
        lambda c: {"name": unique("Plugin"), "code": unique("code"), "category": "export"},
        required=("name",),
        mistyped=(
            ("name", {"not": "text"}),
            ("category", "bogus"),
            ("code", "Bad Code!"),
        ),
        check=_echo("name", "code", "category"),
    ),
    Case(
        "update plugin (PUT is partial)",
        "PUT",
        lambda c: f"plugins/{c['plugin']['id']}/",
        lambda c: {"description": "new description"},
        mistyped=(("category", "bogus"), ("is_active", "maybe"), ("name", ["a list"])),
        status=200,
        check=_echo("description"),
    ),
    Case(
        "patch plugin by code",
        "PATCH",
        lambda c: f"plugins/{c['plugin']['code']}/",
        lambda c: {"is_active": "False"},
        mistyped=(("category", "bogus"),),
        status=200,
        check=lambda sent, got, c: got["is_active"] is False,
    ),
    Case(
        "create plugin release (JSON)",
        "POST",
        lambda c: "plugin_releases/",
        lambda c: {"plugin": c["plugin"]["id"], "version": unique("v"), "config": {"a": 1}},
        required=("plugin", "version"),
        mistyped=(
            ("version", {"not": "text"}),
            ("debug", "maybe"),
            ("config", "not json"),
            ("plugin", "no-such-plugin"),
        ),
        check=_echo("version", "config"),
    ),
    Case(
        "run plugin",
        "POST",
        lambda c: f"plugins/{c['plugin']['code']}/run/",
        lambda c: {"action": "train", "params": {"epochs": 1}, "agent": c["agent"].id},
        mistyped=(
            ("params", "not-a-dict"),
            ("agent", "not-a-pk"),
            ("agent", 987654321),
            ("action", ["a list"]),
            ("version", "9.9.9"),
        ),
        status=200,  # the wire protocol: "200/201"; the real backend answers 200
        check=lambda sent, got, c: got["job_id"] == got["id"] and got["action"] == "train",
    ),
    Case(
        "update job",
        "PATCH",
        lambda c: f"jobs/{c['job']}/",
        lambda c: {
            "progress_record": {"record": {"x": 1}, "current_progress": {"overall": 5}},
            "console_logs": [{"message": "hello", "level": "info"}],
        },
        mistyped=(
            ("status", "bogus"),
            ("progress_record", 12345),
            ("metrics_record", "not-a-dict"),
            ("meta", ["a list"]),
            ("console_logs", "not-a-list"),
        ),
        status=200,
    ),
    Case(
        "create log",
        "POST",
        lambda c: "logs/",
        lambda c: {"event": "metric", "data": {"message": "hi"}, "job": c["job"]},
        required=("event",),
        mistyped=(("event", {"not": "text"}), ("level", ["a list"]), ("job", "no-such-job")),
    ),
    Case(
        "create storage",
        "POST",
        lambda c: "storages/",
        lambda c: {"name": unique("s"), "provider": "synology", "configuration": {"a": 1}},
        required=("name", "provider"),
        mistyped=(
            ("category", "cloud"),
            ("configuration", 12345),
            ("is_default", "maybe"),
            ("provider", ["a list"]),
        ),
        check=_echo("name", "provider", "configuration"),
    ),
    Case(
        "create serve application",
        "POST",
        lambda c: "serve_applications/",
        lambda c: {"job": c["job"], "data": {"route": "/predict"}, "status": "running"},
        mistyped=(("data", 12345), ("job", "no-such-job")),
        check=lambda sent, got, c: got["status"] == "RUNNING" and got["job"] == c["job"],
    ),
    Case(
        "create model",
        "POST",
        lambda c: "models/",
        lambda c: {
            "name": unique("m"),
            "chunked_upload": c["upload"],
            "metrics": {"mAP": 0.5},
            "project": c["project"],
            "plugin": c["plugin"]["code"],
            "framework": "torch",
        },
        required=("name", "chunked_upload"),
        mistyped=(
            ("metrics", 12345),
            ("project", "not-a-pk"),
            ("project", 987654321),
            ("configuration", ["a list"]),
            ("chunked_upload", "no-such-upload"),
            ("plugin", "no-such-plugin"),
            ("ground_truth_dataset_version", 987654321),
        ),
        check=lambda sent, got, c: got["framework"] == "torch" and got["metrics"] == {"mAP": 0.5},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_valid_request_succeeds(case, ctx, api):
    body = case.body(ctx)
    response = api.request(case.method, case.path(ctx), json=body)
    assert response.status_code == case.status, response.text
    if case.status < 400:
        assert case.check(body, response.json(), ctx) is True, response.json()


REQUIRED = [(c, f) for c in CASES for f in c.required]


@pytest.mark.parametrize(("case", "missing"), REQUIRED, ids=[f"{c.name}: {f}" for c, f in REQUIRED])
def test_missing_required_field_is_400(case, missing, ctx, api):
    body = {k: v for k, v in case.body(ctx).items() if k != missing}
    response = api.request(case.method, case.path(ctx), json=body)
    check_field_error(response, missing)
    body[missing] = None  # an explicit null is as good as missing
    response = api.request(case.method, case.path(ctx), json=body)
    check_field_error(response, missing)


MISTYPED = [(c, f, v) for c in CASES for f, v in c.mistyped]


@pytest.mark.parametrize(
    ("case", "name", "value"), MISTYPED, ids=[f"{c.name}: {f}={v!r}" for c, f, v in MISTYPED]
)
def test_mistyped_field_is_400_naming_field_and_value(case, name, value, ctx, api):
    body = {**case.body(ctx), name: value}
    response = api.request(case.method, case.path(ctx), json=body)
    quoted = value if isinstance(value, str | int) and not isinstance(value, bool) else None
    check_field_error(response, name, quoted)


def test_project_accepts_name_as_title(api):
    name = unique("named")
    response = api.post("projects/", json={"name": name})
    assert response.status_code == 201, response.text
    assert response.json()["title"] == response.json()["name"] == name


def test_create_tasks_in_all_three_body_shapes(make, api):
    project = make.project()["id"]
    collection = make.collection()["id"]
    units = [make.data_unit(collection)["id"] for _ in range(5)]

    single = api.post("tasks/", json={"project": project, "data_unit": units[0]})
    assert single.status_code == 201 and single.json()["data_unit"] == units[0]

    listed = api.post("tasks/", json=[{"project": project, "data_unit": u} for u in units[1:3]])
    assert listed.status_code == 201, listed.text
    assert [t["data_unit"] for t in listed.json()] == units[1:3]

    nested = api.post(
        "tasks/", json={"project": project, "data": [{"data_unit": u} for u in units[3:]]}
    )
    assert nested.status_code == 201, nested.text
    assert [t["data_unit"] for t in nested.json()] == units[3:]
    assert all(t["project"] == project for t in nested.json())

    listing = api.get("sdk/tasks/", params={"project": project}).json()
    assert sorted(t["data_unit"] for t in listing["results"]) == units


def test_task_data_unit_of_another_collection_is_400_and_creates_nothing(make, api):
    ours, other = make.collection()["id"], make.collection()["id"]
    project = make.project(data_collection=ours)["id"]
    good = make.data_unit(ours)["id"]
    stray = make.data_unit(other)["id"]

    def task_count() -> int:
        return api.get("sdk/tasks/", params={"project": project}).json()["count"]

    single = api.post("tasks/", json={"project": project, "data_unit": stray})
    assert str(stray) in check_field_error(single, "data_unit")[0]

    listed = api.post("tasks/", json=[{"project": project, "data_unit": u} for u in (good, stray)])
    assert check_field_error(listed, "data_unit")[0].startswith(f'[1]: Invalid pk "{stray}"')

    nested = api.post(
        "tasks/", json={"project": project, "data": [{"data_unit": good}, {"data_unit": stray}]}
    )
    assert check_field_error(nested, "data_unit")[0].startswith("data[1]")
    assert task_count() == 0  # all or nothing: the good item of each bulk was not created

    assert api.post("tasks/", json={"project": project, "data_unit": good}).status_code == 201
    assert task_count() == 1
    # a project without a data collection takes data units of any collection
    loose = make.project()["id"]
    assert api.post("tasks/", json={"project": loose, "data_unit": stray}).status_code == 201


def test_task_list_body_errors_name_the_item(api, ctx):
    response = api.post(
        "tasks/",
        json=[{"project": ctx["project"], "data_unit": ctx["unit"]}, {"project": ctx["project"]}],
    )
    messages = check_field_error(response, "data_unit")
    assert messages[0].startswith("[1]")
    response = api.post("tasks/", json={"project": ctx["project"], "data": [{}]})
    assert check_field_error(response, "data_unit")[0].startswith("data[0]")
    assert api.post("tasks/", json=[]).status_code == 400
    check_field_error(api.post("tasks/", json={"project": ctx["project"], "data": []}), "data")
    check_field_error(api.post("tasks/", json={"data": [{"data_unit": 1}]}), "project")


def test_set_tags_seed_shape_and_replace(make, api, ctx):
    project = make.project()["id"]
    task = make.task(project, ctx["unit"])["id"]
    a, b, c = (make.tag(project)["id"] for _ in range(3))
    response = api.post("tasks/set_tags/", json={"task_ids": [task], "tag_ids": [a, b]})
    assert response.status_code == 200, response.text
    assert api.get(f"tasks/{task}/").json()["tags"] == [a, b]

    response = api.post("tasks/set_tags/", json={"ids": [task], "tags": [a], "action": "remove"})
    assert response.status_code == 200
    assert api.get(f"tasks/{task}/").json()["tags"] == [b]

    response = api.post(
        "tasks/set_tags/", params={"replace": "True"}, json={"task_ids": [task], "tag_ids": [c]}
    )
    assert response.status_code == 200
    assert response.json()["action"] == "replace"
    assert api.get(f"tasks/{task}/").json()["tags"] == [c]

    # replacing while removing has no meaning: refused, naming the field, nothing changed
    contradictory = api.post(
        "tasks/set_tags/",
        params={"replace": "true"},
        json={"ids": [task], "tags": [a], "action": "remove"},
    )
    check_field_error(contradictory, "action")
    assert api.get(f"tasks/{task}/").json()["tags"] == [c]


def test_task_update_with_a_tag_named_twice(make, api, ctx):
    project = make.project()["id"]
    task = make.task(project, ctx["unit"])["id"]
    a, b = (make.tag(project)["id"] for _ in range(2))
    response = api.patch(f"tasks/{task}/", json={"tags": [b, a, b]})
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == [a, b]
    assert api.get(f"tasks/{task}/").json()["tags"] == [a, b]


def test_set_assignment_tags_seed_shape(api, make, ctx):
    tag = make.tag(ctx["project"])["id"]
    response = api.post(
        "assignments/set_tags/", json={"assignment_ids": [ctx["assignment"]], "tag_ids": [tag]}
    )
    assert response.status_code == 200, response.text
    assert tag in api.get(f"assignments/{ctx['assignment']}/").json()["tags"]
    listed = api.get("sdk/assignments/", params={"tags": tag}).json()
    assert [a["id"] for a in listed["results"]] == [ctx["assignment"]]


def test_annotate_task_data(api, ctx):
    payload = {"annotations": [{"id": "a1", "label": "car"}], "metadata": {"by": "test"}}
    response = api.put(f"tasks/{ctx['task']}/annotate_task_data/", json=payload)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == payload
    assert api.get(f"tasks/{ctx['task']}/").json()["data"] == payload

    response = api.put(
        f"tasks/{ctx['task']}/annotate_task_data/", params={"schema": "any"}, json=[1, 2]
    )
    assert response.status_code == 200 and response.json()["data"] == [1, 2]

    response = api.put(f"tasks/{ctx['task']}/annotate_task_data/", json=[1, 2])
    assert response.status_code == 400 and "non_field_errors" in response.json()
    response = api.put(f"tasks/{ctx['task']}/annotate_task_data/", params={"schema": "v9"}, json={})
    check_field_error(response, "schema", "v9")


def test_data_unit_list_body_and_groups(api, make, ctx):
    checksum = make.data_file()["checksum"]
    body = [
        {"data_collection": ctx["collection"], "files": {"image_1": {"checksum": checksum}}},
        {"data_collection": ctx["collection"], "files": {"image_1": checksum}, "groups": "g"},
    ]
    response = api.post("data_units/", json=body)
    assert response.status_code == 201, response.text
    units = response.json()
    assert isinstance(units, list) and len(units) == 2
    assert units[1]["group"] is not None
    for unit in units:
        assert unit["files"]["image_1"]["checksum"] == checksum
        assert unit["files"]["image_1"]["url"].startswith("http://127.0.0.1:")
    missing_required = {"data_collection": ctx["collection"], "files": {"meta_json": checksum}}
    check_field_error(api.post("data_units/", json=missing_required), "files")


def test_multipart_data_file(api):
    content = secrets.token_bytes(300)
    response = api.post(
        "data_files/", files={"file": ("photo.jpg", content)}, data={"meta": '{"k": 1}'}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["size"] == 300 and created["file_name"] == "photo.jpg"
    assert created["meta"] == {"k": 1}
    assert api.get(f"data_files/{created['id']}/").json()["checksum"] == created["checksum"]
    check_field_error(api.post("data_files/", data={"other": "x"}, files={"x": b"y"}), "file")
    check_field_error(api.post("data_files/", files={"file": ("empty.bin", b"")}), "file")


def test_multipart_plugin_release_and_lookups(api, make):
    plugin = make.plugin()
    release = make.release(plugin, "2.0.0")
    assert release["requirements"] == ["numpy", "pillow"]
    assert release["debug"] is False
    assert release["code"] == f"{plugin['code']}@2.0.0"
    by_code = api.get(f"plugin_releases/{plugin['code']}@2.0.0/", params={"expand": "plugin"})
    assert by_code.status_code == 200
    assert by_code.json()["plugin"]["code"] == plugin["code"]
    assert by_code.json()["id"] == release["id"]
    assert api.get(f"plugin_releases/{release['id']}/").json()["plugin"] == plugin["id"]
    listed = api.get("plugin_releases/", params={"plugin": plugin["code"]}).json()
    assert [r["id"] for r in listed["results"]] == [release["id"]]
    again = api.post(
        "plugin_releases/", data={"plugin": plugin["code"], "version": "2.0.0"}
    )  # duplicate version
    assert "2.0.0" in check_field_error(again, "version")[0]


def test_plugin_by_pk_and_code(api, make):
    plugin = make.plugin()
    assert (
        api.get(f"plugins/{plugin['id']}/").json() == api.get(f"plugins/{plugin['code']}/").json()
    )
    listed = api.get("plugins/", params={"code": plugin["code"]}).json()
    assert [p["id"] for p in listed["results"]] == [plugin["id"]]
    duplicate = api.post("plugins/", json={"name": "x", "code": plugin["code"]})
    check_field_error(duplicate, "code", plugin["code"])


def test_run_plugin_needs_a_release(api, make):
    plugin = make.plugin()
    response = api.post(f"plugins/{plugin['code']}/run/", json={})
    assert response.status_code == 400
    assert plugin["code"] in response.json()["detail"]


def test_run_plugin_accepts_seed_parameters_alias(api, make):
    plugin = make.plugin()
    make.release(plugin)
    response = api.post(
        f"plugins/{plugin['id']}/run/", json={"parameters": {"a": 1}, "context": {"b": 2}}
    )
    assert response.status_code in (200, 201), response.text
    assert response.json()["params"] == {"a": 1}
    assert response.json()["meta"]["context"] == {"b": 2}


def test_agent_connect(api, agent):
    response = api.post(f"agents/{agent.token}/connect/")  # no body at all, as the SDK sends
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "connected"
    assert response.json()["id"] == agent.id
    assert agent.id in [a["id"] for a in api.get("agents/").json()["results"]]
    assert api.post(f"agents/{'0' * 40}/connect/").status_code == 404


def test_agents_list_their_token_and_node_install_script(api, agent, server):
    """Newer SDK items carry ``token`` and ``node_install_script`` (the SDK's Agent model reads
    the token out of the script URL with the pattern ``agents/<40 hex>/node_install_script``)."""
    listed = {a["id"]: a for a in api.get("agents/").json()["results"]}[agent.id]
    assert listed["token"] == agent.token
    script_url = listed["node_install_script"]
    match = re.search(r"agents/([0-9a-f]{40})/node_install_script", script_url)
    assert match and match.group(1) == agent.token
    assert script_url.startswith(server.url)
    # the script is fetched by a fresh machine with no credentials: the token in it is one
    script = requests.get(script_url, timeout=10)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/x-shellscript")
    assert script.text.startswith("#!/bin/sh\n")
    lines = script.text.replace("\\\n", " ").splitlines()  # join continued lines
    curl = next(line for line in lines if line.startswith("curl "))
    words = shlex.split(curl)
    headers = dict(w.split(": ", 1) for i, w in enumerate(words) if i and words[i - 1] == "-H")
    url = words[-1]
    assert url == f"{server.url}agents/{agent.token}/connect/"
    with server.state.db.write() as con:
        con.execute("UPDATE agents SET status = 'disconnected' WHERE id = ?", (agent.id,))
    connected = requests.post(url, headers=headers, timeout=10)  # what the script's curl does
    assert connected.status_code == 200, connected.text
    assert connected.json()["status"] == "connected"
    assert agent.token not in connected.text  # a status reply (often logged) has no token
    assert "-o /dev/null" in curl  # and the script prints only a status line
    # an agent listing agents sees none of the tokens (users do)
    as_agent = requests.get(
        f"{server.url}agents/", headers={"SYNAPSE-Agent": f"Token {agent.token}"}, timeout=10
    ).json()["results"]
    assert as_agent and all(a["token"] is None for a in as_agent)
    assert all(a["node_install_script"] is None for a in as_agent)
    assert requests.get(f"{server.url}agents/{'0' * 40}/node_install_script").status_code == 404


def test_agents_stored_without_their_token_list_none(api, server):
    tenant = server.state.db.scalar("SELECT tenant_id FROM agents WHERE id = 1")
    with server.state.db.write() as con:
        legacy = con.execute(
            "INSERT INTO agents (tenant_id, name, token_hash, created) VALUES (?, 'old', ?, ?)",
            (tenant, "f" * 64, "2026-01-01T00:00:00+00:00"),
        ).lastrowid
    listed = {a["id"]: a for a in api.get("agents/", params={"page_size": 100}).json()["results"]}
    assert listed[legacy]["token"] is None and listed[legacy]["node_install_script"] is None


def test_storage_configuration_only_on_request(api, make):
    storage = make.storage(configuration={"bucket_name": "b"}, is_default="true")
    assert storage["is_default"] is True
    plain = api.get(f"storages/{storage['id']}/").json()
    assert plain["configuration"] == {}
    full = api.get(f"storages/{storage['id']}/", params={"with_configuration": "True"}).json()
    assert full["configuration"] == {"bucket_name": "b"}
    listed = api.get("storages/", params={"provider": "amazon_s3"}).json()["results"]
    assert storage["id"] in [s["id"] for s in listed]
    assert [s["id"] for s in listed if s["is_default"]] == [storage["id"]]


def test_logs_object_and_list(api, ctx):
    single = api.post("logs/", json={"event": "e", "data": {"message": "one"}, "job": ctx["job"]})
    assert single.status_code == 201 and "id" in single.json()
    many = api.post("logs/", json=[{"event": "e"}, {"event": "f", "level": "warning"}])
    assert many.status_code == 201 and len(many.json()) == 2
    bad = api.post("logs/", json=[{"event": "e"}, {"data": {}}])
    assert check_field_error(bad, "event")[0].startswith("[1]")
    messages = [e["message"] for e in api.get(f"jobs/{ctx['job']}/console_logs/").json()["results"]]
    assert "one" in messages


# ------------------------------------------------------------------ 404 for unknown ids

UNKNOWN = [
    ("GET", "projects/987654321/"),
    ("GET", "task_tags/987654321/"),
    ("GET", "tasks/987654321/"),
    ("PATCH", "tasks/987654321/"),
    ("PUT", "tasks/987654321/annotate_task_data/"),
    ("GET", "assignments/987654321/"),
    ("PATCH", "assignments/987654321/"),
    ("GET", "data_collections/987654321/"),
    ("GET", "data_files/987654321/"),
    ("GET", "data_units/987654321/"),
    ("GET", f"chunked_upload/{uuid.uuid4()}/"),
    ("POST", f"chunked_upload/{uuid.uuid4()}/"),
    ("PUT", f"chunked_upload/{uuid.uuid4()}/"),
    ("POST", f"agents/{'a' * 40}/connect/"),
    ("GET", "plugins/987654321/"),
    ("GET", "plugins/no-such-plugin/"),
    ("PUT", "plugins/no-such-plugin/"),
    ("PATCH", "plugins/987654321/"),
    ("POST", "plugins/no-such-plugin/run/"),
    ("GET", "plugin_releases/987654321/"),
    ("GET", "plugin_releases/no-such@1.0/"),
    ("GET", "plugin_releases/not-a-ref/"),
    ("GET", f"jobs/{uuid.uuid4()}/"),
    ("PATCH", f"jobs/{uuid.uuid4()}/"),
    ("GET", f"jobs/{uuid.uuid4()}/console_logs/"),
    ("GET", f"jobs/{uuid.uuid4()}/tail_console_logs/"),
    ("GET", "storages/987654321/"),
    ("GET", "serve_applications/987654321/"),
    ("GET", "models/987654321/"),
    ("GET", "ground_truth_datasets/987654321/"),
    ("GET", "ground_truth_dataset_versions/987654321/"),
    ("GET", "ground_truth_events/987654321/"),
    ("GET", "tasks/not-a-number/"),
    ("GET", "projects/-1/"),
    ("GET", "no_such_endpoint/"),
]


@pytest.mark.parametrize(("method", "path"), UNKNOWN, ids=[f"{m} {p}" for m, p in UNKNOWN])
def test_unknown_id_is_404(method, path, api):
    kwargs: dict[str, Any] = {"json": {"md5": "0" * 32, "status": "STOPPED"}}
    if path.startswith("chunked_upload") and method == "PUT":
        kwargs = {"files": {"file": ("file", b"x")}, "headers": {"Content-Range": "bytes 0-0/1"}}
    response = api.request(method, path, **kwargs)
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "projects/"), ("PUT", "projects/1/"), ("POST", "tasks/1/"), ("GET", "logs/")],
)
def test_wrong_method_is_405(method, path, api):
    response = api.request(method, path)
    assert response.status_code == 405, response.text
    assert response.json() == {"detail": "Method not allowed."}


TIMESTAMPS = {"created", "modified", "created_at", "updated_at", "completed_at", "started"}
TIMESTAMPS |= {"finished", "completed", "last_seen", "datetime"}


def test_timestamps_are_iso_8601_with_an_offset(api, make, agent, ground_truth):
    make.model()
    job = make.job()
    naive = {"message": "naive stamp", "datetime": "2024-01-02T03:04:05"}
    assert api.patch(f"jobs/{job['id']}/", json={"console_logs": [naive]}).status_code == 200
    api.post(f"agents/{agent.token}/connect/")
    make.storage()
    api.post("serve_applications/", json={"job": job["id"]})
    upload = make.upload()
    items = [api.get(f"chunked_upload/{upload['id']}/").json(), make.data_file()]
    for path in (
        "projects/",
        "sdk/tasks/",
        "sdk/assignments/",
        "task_tags/",
        "data_collections/",
        "data_units/",
        "agents/",
        "plugins/",
        "plugin_releases/",
        "jobs/",
        f"jobs/{job['id']}/console_logs/",
        "storages/",
        "serve_applications/",
        "models/",
        "ground_truth_datasets/",
        "ground_truth_dataset_versions/",
        "sdk/ground_truth_events/",
    ):
        results = api.get(path, params={"page_size": 3}).json()["results"]
        assert results, path
        items += results
    checked = 0
    for item in items:
        for key in TIMESTAMPS & set(item):
            if item[key] is None:
                continue
            parsed = datetime.fromisoformat(item[key])
            assert parsed.utcoffset() is not None, (key, item[key])
            checked += 1
    assert checked > 40
