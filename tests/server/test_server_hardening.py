"""Inputs that once broke the embedded backend, and what the backend must do with them instead.

Each test reproduces one fault found by attacking the server over loopback: a 500 on a bad
value, a write that left a task unreadable, a link built from a forged ``Host`` header, an
upload reachable by another user, a token in a journal's repr.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from srv_helpers import chunked_upload

from synapse_nb.server import start
from synapse_nb.server.config import ServerConfig
from synapse_nb.server.demo.seed import seed_demo
from synapse_nb.server.state import State


class ApiSession(requests.Session):
    """Relative paths resolved against one server, with a user's token."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers.update(headers)

    def request(self, method: str, url: str, *args, **kwargs) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 30)
        return super().request(method, urljoin(self.base_url, url), *args, **kwargs)


def token_headers(token: str) -> dict[str, str]:
    return {"Synapse-Access-Token": f"Token {token}"}


#: a UTC conversion of these leaves the range of dates Python can represent
OVERFLOWING_DATES = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]


def date_filters(api: ApiSession) -> list[tuple[str, str]]:
    """(path, parameter) of every date filter the schema documents on a listing."""
    spec = api.get("openapi.json").json()
    return [
        (path, param["name"])
        for path, item in spec["paths"].items()
        if "get" in item and "{" not in path and not path.startswith("/agent/")
        for param in item["get"].get("parameters", [])
        if param["schema"].get("format") == "date-time"
    ]


@pytest.mark.parametrize("value", OVERFLOWING_DATES)
def test_a_date_filter_that_overflows_in_utc_is_a_400_naming_it(api, value) -> None:
    filters = date_filters(api)
    assert len(filters) > 40  # created/modified ranges on tasks, assignments, events, ...
    for path, name in filters:
        response = api.get(path.lstrip("/"), params={name: value})
        assert response.status_code == 400, (path, name, response.status_code)
        assert value in response.json()[name][0], (path, name)


@pytest.mark.parametrize("value", OVERFLOWING_DATES)
def test_log_dates_that_overflow_are_refused_before_anything_is_stored(api, make, value) -> None:
    job = make.job()
    patched = api.patch(
        f"jobs/{job['id']}/", json={"console_logs": [{"message": "x", "datetime": value}]}
    )
    assert patched.status_code == 400, patched.text
    assert "datetime" in patched.text and value in patched.text
    posted = api.post("logs/", json={"event": "e", "job": job["id"], "datetime": value})
    assert posted.status_code == 400, posted.text
    assert value in posted.json()["datetime"][0]
    after = api.get(f"jobs/{job['id']}/console_logs/", params={"page_size": 1000})
    assert after.status_code == 200
    assert [e for e in after.json()["results"] if e["message"] == "x" or e["event"] == "e"] == []


@pytest.mark.parametrize("filename", [5, ["a.png"], {"x": 1}, True])
def test_a_data_file_meta_filename_must_be_a_file_name(api, filename) -> None:
    upload = chunked_upload(api, secrets.token_bytes(300))
    response = api.post(
        "data_files/", json={"chunked_upload": upload["id"], "meta": {"filename": filename}}
    )
    assert response.status_code == 400, response.text
    assert "meta.filename" in response.json()


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "a/../../b.png", "x\r\ny.png"])
def test_stored_file_names_are_sanitised(api, name) -> None:
    upload = chunked_upload(api, secrets.token_bytes(300))
    response = api.post(
        "data_files/", json={"chunked_upload": upload["id"], "meta": {"filename": name}}
    )
    assert response.status_code == 201, response.text
    stored = response.json()
    assert ".." not in stored["file_name"].split("/") and "/" not in stored["file_name"]
    assert "\n" not in stored["file_name"] and "\r" not in stored["file_name"]
    url = stored["url"] if "url" in stored else stored["file"]
    assert "/../" not in urlsplit(url).path and "%2E%2E" not in url.upper()
    download = requests.get(url, timeout=10)
    assert download.status_code == 200
    disposition = download.headers["content-disposition"]
    assert "\n" not in disposition and "/" not in disposition.split("filename", 1)[1]


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"n": value}
    return value


@pytest.mark.parametrize("depth", [150, 300, 900])
def test_deeply_nested_metadata_is_refused_and_the_task_stays_readable(api, make, depth) -> None:
    project = make.project()
    unit = make.data_unit(make.collection()["id"])
    task = make.task(project["id"], unit["id"])
    response = api.patch(f"tasks/{task['id']}/", json={"metadata": nested(depth)})
    assert response.status_code == 400, response.text
    assert "nested" in response.text
    created = api.post(
        "tasks/", json={"project": project["id"], "data_unit": unit["id"], "data": nested(depth)}
    )
    assert created.status_code == 400, created.text
    annotated = api.put(f"tasks/{task['id']}/annotate_task_data/", json=nested(depth))
    assert annotated.status_code == 400, annotated.text
    again = api.get(f"tasks/{task['id']}/")
    assert again.status_code == 200 and again.json()["metadata"] == task["metadata"]
    listed = api.get("tasks/", params={"project": project["id"]})
    assert listed.status_code == 200 and listed.json()["count"] == 1


def test_nesting_within_the_limit_is_stored_and_read_back(api, make) -> None:
    project = make.project()
    unit = make.data_unit(make.collection()["id"])
    task = make.task(project["id"], unit["id"])
    response = api.patch(f"tasks/{task['id']}/", json={"metadata": nested(60)})
    assert response.status_code == 200, response.text
    assert api.get(f"tasks/{task['id']}/").json()["metadata"] == nested(60)


@pytest.mark.parametrize("path", ["data_files/", "chunked_upload/", "plugin_releases/"])
def test_a_multipart_boundary_longer_than_allowed_is_a_400(api, path) -> None:
    boundary = "b" * 300
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        f"\r\nabc\r\n--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if path == "chunked_upload/":
        headers["Content-Range"] = "bytes 0-2/3"
    response = api.request(
        "PUT" if path == "chunked_upload/" else "POST", path, data=body, headers=headers
    )
    assert response.status_code == 400, response.text
    if path != "plugin_releases/":  # answered by the form parser: "Invalid multipart data."
        assert "boundary" in response.text


# --------------------------------------------------------------------------- size limits


@pytest.fixture
def small_server():
    srv = start()
    srv.state.config.max_json_body = 4096
    try:
        yield srv
    finally:
        srv.stop()


def test_a_json_body_over_the_limit_is_a_413_with_a_clear_message(small_server) -> None:
    with ApiSession(small_server.url, token_headers(small_server.token)) as api:
        big = {"title": "x" * 5000}
        response = api.post("projects/", json=big)
        assert response.status_code == 413, response.text
        assert "4096" in response.json()["detail"]
        # announced by Content-Length or not (chunked), the limit holds
        streamed = api.post(
            "projects/",
            data=iter([b'{"title": "', b"y" * 5000, b'"}']),
            headers={"Content-Type": "application/json"},
        )
        assert streamed.status_code == 413, streamed.text
        assert api.post("projects/", json={"title": "small"}).status_code == 201
        titles = [p["title"] for p in api.get("projects/").json()["results"]]
        assert "x" * 5000 not in titles and "small" in titles


# --------------------------------------------------------------------------- ownership


def test_a_chunked_upload_belongs_to_the_user_who_started_it(api, server) -> None:
    data = secrets.token_bytes(2500)
    tenant = server.state.db.scalar(
        "SELECT code FROM tenants t JOIN users u ON u.tenant_id = t.id WHERE u.username = 'admin'"
    )
    server.state.ensure_user("colleague", tenant)
    with ApiSession(server.url, token_headers(server.issue_token("colleague"))) as other:
        first = api.put(
            "chunked_upload/",
            data={"filename": "mine.bin"},
            files={"file": ("file", data[:1000])},
            headers={"Content-Range": f"bytes 0-999/{len(data)}"},
        )
        assert first.status_code == 200, first.text
        upload_id = first.json()["id"]
        assert other.get(f"chunked_upload/{upload_id}/").status_code == 404
        stolen = other.put(
            f"chunked_upload/{upload_id}/",
            files={"file": ("file", data[1000:])},
            headers={"Content-Range": f"bytes 1000-2499/{len(data)}"},
        )
        assert stolen.status_code == 404
        rest = api.put(
            f"chunked_upload/{upload_id}/",
            files={"file": ("file", data[1000:])},
            headers={"Content-Range": f"bytes 1000-2499/{len(data)}"},
        )
        assert rest.status_code == 200, rest.text
        md5 = hashlib.md5(data).hexdigest()
        assert other.post(f"chunked_upload/{upload_id}/", json={"md5": md5}).status_code == 404
        assert api.post(f"chunked_upload/{upload_id}/", json={"md5": md5}).status_code == 200
        taken = other.post("data_files/", json={"chunked_upload": upload_id})
        assert taken.status_code == 400 and "chunked_upload" in taken.json()
        model = other.post("models/", json={"name": "m", "chunked_upload": upload_id})
        assert model.status_code == 400 and "chunked_upload" in model.json()
        assert api.post("data_files/", json={"chunked_upload": upload_id}).status_code == 201


# --------------------------------------------------------------------------- links


def test_links_never_follow_a_forged_host_header(api, server, make) -> None:
    forged = {"Host": "evil.example:8080", "X-Forwarded-Host": "evil.example"}
    page = api.get("tasks/", params={"page_size": 2}, headers=forged)
    assert page.status_code in (200, 400), page.text
    if page.status_code == 200:
        assert urlsplit(page.json()["next"]).netloc == urlsplit(server.url).netloc
        for task in page.json()["results"]:
            for entry in task["files"].values():
                assert urlsplit(entry["url"]).netloc == urlsplit(server.url).netloc
    upload = api.put(
        "chunked_upload/",
        data={"filename": "a.bin"},
        files={"file": ("file", b"x" * 10)},
        headers={**forged, "Content-Range": "bytes 0-9/20"},
    )
    if upload.status_code == 200:
        assert urlsplit(upload.json()["url"]).netloc == urlsplit(server.url).netloc
    for response in (page, upload):
        if response.status_code == 400:  # no link can be made for that host: said so
            assert "Host" in response.json()["detail"]


def test_a_configured_public_url_makes_every_absolute_link() -> None:
    srv = start(tasks=3)
    srv.state.config.public_url = "https://synapse.example/api"
    srv.state.unit_files_cache.clear()
    try:
        with ApiSession(srv.url, token_headers(srv.token)) as api:
            page = api.get("tasks/", params={"page_size": 1}).json()
            assert page["next"].startswith("https://synapse.example/api/tasks/?")
            files = page["results"][0]["files"]
            assert all(
                f["url"].startswith("https://synapse.example/api/media/") for f in files.values()
            )
    finally:
        srv.stop()


def test_a_media_signature_covers_the_file_name_and_can_expire(api, make, server) -> None:
    stored = make.data_file(b"payload" * 10, name="cat.png")
    url = stored["url"] if "url" in stored else stored["file"]
    assert requests.get(url, timeout=10).content == b"payload" * 10
    parts = urlsplit(url)
    renamed = url.replace("/cat.png", "/cat.html")
    assert requests.get(renamed, timeout=10).status_code == 404
    server.state.config.media_url_ttl = 60
    try:
        server.state.unit_files_cache.clear()
        expiring = api.get(f"data_files/{stored['id']}/").json()
        expiring_url = expiring["url"] if "url" in expiring else expiring["file"]
        assert "expires=" in expiring_url
        assert requests.get(expiring_url, timeout=10).status_code == 200
        past = expiring_url.split("expires=")[0] + "expires=1000"
        assert requests.get(past, timeout=10).status_code == 404
        forged = expiring_url.split("expires=")[0] + "expires=99999999999"
        assert requests.get(forged, timeout=10).status_code == 404
    finally:
        server.state.config.media_url_ttl = None
        server.state.unit_files_cache.clear()
    assert parts.path.endswith("/cat.png")


@pytest.mark.parametrize("expires", ["²", "1" * 5000], ids=["superscript digit", "5000 digits"])
def test_a_media_expiry_that_is_no_plain_number_is_an_invalid_link(make, expires) -> None:
    # "²" passes str.isdigit() but not int(); int() refuses more than 4300 digits
    stored = make.data_file(b"payload", name="dog.png")
    url = stored["url"] if "url" in stored else stored["file"]
    bad = requests.get(url.split("?")[0], params={"expires": expires}, timeout=10)
    assert bad.status_code == 404, bad.text
    assert bad.json() == {"detail": "Not found."}
    assert requests.get(url, timeout=10).content == b"payload"


# --------------------------------------------------------------------------- agents


def test_after_a_restart_agents_lists_the_token_that_works(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path / "data")
    cache = tmp_path / "cache"
    first = seed_demo(State(config), cache_dir=cache, n_images=6)
    second = seed_demo(State(config), cache_dir=cache, n_images=6)  # a restart
    assert second != first
    srv = start(data_dir=config.data_dir)
    try:
        with ApiSession(srv.url, token_headers(srv.token)) as api:
            listed = [a["token"] for a in api.get("agents/").json()["results"]]
        assert listed == [second]
        health = requests.get(
            srv.url + "agent/health/", headers={"Authorization": second}, timeout=10
        )
        assert health.status_code == 200
        stale = requests.get(
            srv.url + "agent/health/", headers={"Authorization": first}, timeout=10
        )
        assert stale.status_code == 401
    finally:
        srv.stop()


def test_an_agent_token_reaches_what_an_agent_needs_and_nothing_else(
    anon, agent, make, api
) -> None:
    headers = {"SYNAPSE-Agent": f"Token {agent.token}"}
    job = make.job()
    for path in (
        "agents/",
        "jobs/",
        f"jobs/{job['id']}/",
        f"jobs/{job['id']}/console_logs/",
        "plugins/",
        "plugin_releases/",
        "storages/",
        "serve_applications/",
    ):
        response = anon.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
    logged = anon.post("logs/", headers=headers, json={"event": "e", "job": job["id"], "data": {}})
    assert logged.status_code == 201, logged.text
    for method, path in (
        ("GET", "projects/"),
        ("GET", "tasks/"),
        ("GET", "tasks/1/"),
        ("PATCH", "tasks/1/"),
        ("GET", "data_units/"),
        ("POST", "projects/"),
        ("GET", "assignments/"),
        ("PUT", "chunked_upload/"),
        ("GET", "models/"),
        ("POST", "plugins/"),
    ):
        response = anon.request(method, path, headers=headers, json={})
        assert response.status_code == 403, (method, path, response.status_code)
        assert "agent" in response.json()["detail"].lower()


# --------------------------------------------------------------------------- the journal


def test_the_request_journal_shows_no_token_in_its_repr(server, api, agent) -> None:
    api.get("projects/", headers={"Authorization": f"Token {server.token}"})
    requests.post(
        f"{server.url}agents/{agent.token}/connect/",
        headers=token_headers(server.token),
        timeout=10,
    )
    text = repr(server.requests) + repr(list(server.requests)) + str(list(server.requests)[-1])
    assert server.token not in text and agent.token not in text
    # the values are still there for wire checks
    entry = [r for r in list(server.requests) if r["path"] == "/projects/"][-1]
    assert entry["headers"]["authorization"] == f"Token {server.token}"
