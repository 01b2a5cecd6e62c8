"""Authentication and tenant isolation, for every operation of the schema."""

from __future__ import annotations

import pytest
from srv_helpers import AGENT_OPERATIONS, OPERATIONS, concrete, unique


def test_operation_tables_cover_the_schema(api):
    """A new route must be added to the tables above, so it gets the auth checks too."""
    schema = api.get("openapi.json").json()
    served = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert served == set(OPERATIONS) | set(AGENT_OPERATIONS)


def test_operation_ids_are_unique(api):
    """The agent API repeats backend paths (jobs/, tasks/); its operation ids must not clash."""
    schema = api.get("openapi.json").json()
    operation_ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_needs_a_token(method, path, anon, server):
    response = anon.request(method, concrete(path), json={})
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Authentication credentials were not provided."}

    wrong = f"Token {'0' * 40}"
    response = anon.request(
        method, concrete(path), json={}, headers={"Synapse-Access-Token": wrong}
    )
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Invalid token."}
    assert "0" * 40 not in response.text


@pytest.mark.parametrize(
    ("method", "path"), AGENT_OPERATIONS, ids=[f"{m} {p}" for m, p in AGENT_OPERATIONS]
)
def test_every_agent_operation_needs_the_agent_token(method, path, anon, server):
    response = anon.request(method, concrete(path))
    assert response.status_code == 401, response.text
    assert "detail" in response.json()
    # a user token is not an agent token
    response = anon.request(method, concrete(path), headers={"Authorization": server.token})
    assert response.status_code == 401, response.text


def test_agent_api_accepts_the_raw_agent_token(anon, agent):
    response = anon.get("agent/health/", headers={"Authorization": agent.token})
    assert response.status_code == 200, response.text
    assert response.json()["agent"] == agent.id


@pytest.mark.parametrize(
    "headers",
    [
        lambda t: {"Synapse-Access-Token": f"Token {t}"},
        lambda t: {"SYNAPSE-ACCESS-TOKEN": f"token {t}"},
        lambda t: {"Authorization": f"Token {t}"},
        lambda t: {"Synapse-Access-Token": f"Token {'f' * 40}", "Authorization": f"Token {t}"},
    ],
    ids=["access-token", "case-insensitive", "authorization", "second-header-wins"],
)
def test_user_token_headers(headers, anon, server):
    response = anon.get("projects/", headers=headers(server.token))
    assert response.status_code == 200, response.text
    assert response.json()["count"] >= 1


def test_agent_token_authenticates_the_backend_calls_of_an_agent(anon, api, agent):
    response = anon.get("jobs/", headers={"SYNAPSE-Agent": f"Token {agent.token}"})
    assert response.status_code == 200, response.text
    assert response.json()["count"] == api.get("jobs/").json()["count"]  # its tenant's jobs
    # an agent is not a user of its tenant (see test_server_hardening for the whole scope)
    refused = anon.get("projects/", headers={"SYNAPSE-Agent": f"Token {agent.token}"})
    assert refused.status_code == 403, refused.text


@pytest.mark.parametrize(
    "value",
    ["Bearer {t}", "{t}", "Token", "Token ", "Tokenx {t}"],
    ids=["bearer", "no-scheme", "scheme-only", "empty-value", "bad-scheme"],
)
def test_malformed_authorization_is_401(value, anon, server):
    response = anon.get("projects/", headers={"Synapse-Access-Token": value.format(t=server.token)})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Token"
    assert server.token not in response.text


def test_tenant_header_must_match(anon, server):
    headers = {"Synapse-Access-Token": f"Token {server.token}"}
    ok = anon.get("projects/", headers={**headers, "Synapse-Tenant": "Token demo"})
    assert ok.status_code == 200, ok.text
    wrong = anon.get("projects/", headers={**headers, "SYNAPSE-Tenant": "Token acme"})
    assert wrong.status_code == 403, wrong.text
    assert "detail" in wrong.json()


def test_tokens_are_stored_hashed(server):
    token = server.issue_token("admin")
    stored = [row[0] for row in server.state.db.all("SELECT hash FROM tokens")]
    assert token not in stored
    assert all(len(h) == 64 for h in stored)
    assert token not in repr(server)
    raw = (server.data_dir / "synapse.sqlite3").read_bytes()
    assert token.encode() not in raw


# ------------------------------------------------------------------ tenant isolation


@pytest.fixture(scope="module")
def owned(make, api, agent, ground_truth):
    """One object of every kind in the admin's tenant."""
    project = make.project()
    collection = make.collection()
    unit = make.data_unit(collection["id"])
    task = make.task(project["id"], unit["id"])
    tag = make.tag(project["id"])
    plugin = make.plugin()
    release = make.release(plugin)
    job = api.post(f"plugins/{plugin['id']}/run/", json={}).json()
    upload = make.upload()
    serve = api.post("serve_applications/", json={"job": job["id"]}).json()
    assignment = api.get("sdk/assignments/", params={"page_size": 1}).json()["results"][0]
    return {
        "projects": project["id"],
        "data_collections": collection["id"],
        "data_units": unit["id"],
        "data_files": make.data_file()["id"],
        "tasks": task["id"],
        "task_tags": tag["id"],
        "assignments": assignment["id"],
        "plugins": plugin["id"],
        "plugin_releases": release["id"],
        "jobs": job["id"],
        "storages": make.storage()["id"],
        "serve_applications": serve["id"],
        "models": make.model()["id"],
        "chunked_upload": upload["id"],
        "ground_truth_datasets": ground_truth.dataset,
        "ground_truth_dataset_versions": ground_truth.versions[0],
        "ground_truth_events": ground_truth.events[ground_truth.versions[0]][0],
        "plugin_code": plugin["code"],
        "release_code": f"{plugin['code']}@{release['version']}",
        "agent_token": agent.token,
    }


DETAIL_READS = [
    "projects",
    "data_collections",
    "data_units",
    "data_files",
    "tasks",
    "task_tags",
    "assignments",
    "plugins",
    "plugin_releases",
    "jobs",
    "storages",
    "serve_applications",
    "models",
    "chunked_upload",
    "ground_truth_datasets",
    "ground_truth_dataset_versions",
    "ground_truth_events",
]


@pytest.mark.parametrize("resource", DETAIL_READS)
def test_objects_of_another_tenant_are_404(resource, owned, api, outsider):
    path = f"{resource}/{owned[resource]}/"
    assert api.get(path).status_code == 200
    response = outsider.get(path)
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "Not found."}


def test_lookup_by_code_is_tenant_scoped(owned, outsider):
    assert outsider.get(f"plugins/{owned['plugin_code']}/").status_code == 404
    assert outsider.get(f"plugin_releases/{owned['release_code']}/").status_code == 404
    assert outsider.post(f"plugins/{owned['plugin_code']}/run/", json={}).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "projects/",
        "sdk/tasks/",
        "tasks/",
        "task_tags/",
        "sdk/assignments/",
        "data_collections/",
        "data_units/",
        "agents/",
        "plugins/",
        "plugin_releases/",
        "jobs/",
        "storages/",
        "serve_applications/",
        "models/",
        "ground_truth_datasets/",
        "ground_truth_dataset_versions/",
        "sdk/ground_truth_events/",
        "ground_truths/",
    ],
)
def test_lists_hide_other_tenants(path, owned, api, outsider):
    assert api.get(path).json()["count"] >= 1
    response = outsider.get(path)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 0
    assert response.json()["results"] == []


def test_writes_to_another_tenant_are_refused(owned, api, outsider, server):
    task, job, tag = owned["tasks"], owned["jobs"], owned["task_tags"]
    assert outsider.patch(f"tasks/{task}/", json={"priority": "high"}).status_code == 404
    assert outsider.put(f"tasks/{task}/annotate_task_data/", json={"x": 1}).status_code == 404
    assert outsider.patch(f"jobs/{job}/", json={"status": "STOPPED"}).status_code == 404
    assert outsider.patch(f"plugins/{owned['plugins']}/", json={"name": "x"}).status_code == 404
    assert outsider.post(f"agents/{owned['agent_token']}/connect/").status_code == 404
    assert outsider.get(f"jobs/{job}/console_logs/").status_code == 404
    assert outsider.get(f"jobs/{job}/tail_console_logs/").status_code == 404
    response = outsider.post("tasks/set_tags/", json={"ids": [task], "tags": []})
    assert response.status_code == 400 and "ids" in response.json()
    # an outsider cannot reference our objects from its own creates either
    response = outsider.post("task_tags/", json={"name": unique("t"), "project": owned["projects"]})
    assert response.status_code == 400 and "project" in response.json()
    response = outsider.post("data_files/", json={"chunked_upload": owned["chunked_upload"]})
    assert response.status_code == 400 and "chunked_upload" in response.json()
    response = outsider.post("tasks/", json={"project": owned["projects"], "data_unit": 1})
    assert response.status_code == 400 and "project" in response.json()
    response = outsider.put(
        f"chunked_upload/{owned['chunked_upload']}/",
        files={"file": ("file", b"x")},
        headers={"Content-Range": "bytes 0-0/1"},
    )
    assert response.status_code in (400, 404)
    # our users and files are invisible to the outsider, and theirs to us
    outsider_id = server.state.db.scalar("SELECT id FROM users WHERE username = 'outsider'")
    response = api.patch(f"tasks/{task}/", json={"assignee": outsider_id})
    assert response.status_code == 400 and "assignee" in response.json()
    checksum = api.get(f"data_files/{owned['data_files']}/").json()["checksum"]
    response = outsider.post("data_files/verify_checksums/", json={"checksums": [checksum]})
    assert response.json() == {"existing_checksums": []}
    # and nothing changed on our side
    assert api.get(f"tasks/{task}/").json()["priority"] == "normal"
    assert api.get(f"task_tags/{tag}/").status_code == 200


def test_outsider_cannot_tag_our_tasks_with_its_tags(owned, api, outsider):
    own_tag = outsider.post("task_tags/", json={"name": unique("t")}).json()["id"]
    response = api.post("tasks/set_tags/", json={"ids": [owned["tasks"]], "tags": [own_tag]})
    assert response.status_code == 400
    assert "tags" in response.json()
