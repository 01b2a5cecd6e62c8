"""IntegrationClientMixin: agents, plugins, releases, runs, jobs, console logs, storages."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile

import pytest

from synapse_nb.exceptions import ClientError, InvalidInputError, NotFoundError
from synapse_nb.models import JobStatus, StorageProvider


def _archive(tmp_path, name="plugin.zip", code="release-me-t"):
    """A release archive the backend accepts (it validates config.yaml and unpacks it)."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.yaml", f"code: {code}\nactions:\n  run:\n    entrypoint: main:run\n")
        zf.writestr("main.py", "def run():\n    return 1\n")
    return path


def test_health_check_agent_keeps_token_out_of_errors_and_logs(client, demo_srv, wire, caplog):
    caplog.set_level(logging.DEBUG)
    agent = client.health_check_agent(demo_srv.agent_token)
    assert agent["status"] == "connected"
    entry = wire.one("POST", f"agents/{demo_srv.agent_token}/connect/")
    assert entry["body"] == b"" and entry["headers"]["content-type"] == "application/json"
    wrong = "f" * 40
    with pytest.raises(NotFoundError) as info:
        client.health_check_agent(wrong)
    for blob in (str(info.value), repr(info.value), caplog.text):
        assert wrong not in blob and demo_srv.agent_token not in blob
    assert "agents/***/connect/" in str(info.value)


def test_health_check_agent_strips_a_final_newline_and_refuses_inner_whitespace_unechoed(
    client, demo_srv, wire
):
    # the token goes into the URL path: "tok\n" used to be sent (and get a 404); it is sent
    # without the whitespace around it, as every token (a token read from a file)
    assert client.health_check_agent(demo_srv.agent_token + "\n")["status"] == "connected"
    sent = wire.all()
    assert [e["path"] for e in sent] == [f"/agents/{demo_srv.agent_token}/connect/"]
    wire.clear()
    broken = demo_srv.agent_token[:4] + "\n" + demo_srv.agent_token[4:]
    with pytest.raises(InvalidInputError) as info:
        client.health_check_agent(broken)
    err = info.value
    assert err.field == "token" and err.value == f"<{len(broken)} characters>"
    for blob in (str(err), repr(err), repr(err.response)):
        assert demo_srv.agent_token[4:] not in blob and demo_srv.agent_token[:4] + "\n" not in blob
    assert wire.all() == []


def test_list_agents_gives_the_token_a_node_needs(client, demo_srv, caplog):
    caplog.set_level(logging.DEBUG)
    page = client.list_agents()
    agent = next(a for a in page["results"] if a["name"] == "local-agent")
    assert agent["token"] == demo_srv.agent_token
    assert agent["node_install_script"].endswith(
        f"agents/{demo_srv.agent_token}/node_install_script"
    )
    assert demo_srv.agent_token not in caplog.text  # responses are never logged
    assert client.health_check_agent(agent["token"])["id"] == agent["id"]


def test_plugins_get_create_update(client, wire):
    assert client.get_plugin(1)["id"] == 1
    by_code = client.get_plugin("yolo-trainer")
    assert by_code["code"] == "yolo-trainer"
    plugin = client.create_plugin(
        {"name": "My Plugin", "description": "Plugin description", "code": "my-plugin-t"}
    )
    assert wire.json(wire.one("POST", "plugins/")) == {
        "name": "My Plugin",
        "description": "Plugin description",
        "code": "my-plugin-t",
    }
    updated = client.update_plugin(plugin["id"], {"description": "Updated description"})
    assert updated["description"] == "Updated description" and updated["name"] == "My Plugin"
    entry = wire.one("PUT", f"plugins/{plugin['id']}/")
    assert wire.json(entry) == {"description": "Updated description"}


def test_plugin_release_is_multipart_with_json_config(client, wire, tmp_path):
    plugin = client.create_plugin({"name": "Release me", "code": "release-me-t"})
    release = client.create_plugin_release(
        {
            "plugin": plugin["id"],
            "version": "1.0.0",
            "config": {"actions": {"run": {"method": "job"}}},
            "requirements": ["pillow>=10", "numpy"],
            "file": _archive(tmp_path),
        }
    )
    assert release["version"] == "1.0.0"
    assert release["requirements"] == ["pillow>=10", "numpy"]
    body = wire.one("POST", "plugin_releases/")["body"]
    assert b'name="config"\r\n\r\n{"actions": {"run": {"method": "job"}}}' in body
    assert body.count(b'name="requirements"') == 2
    assert b'name="debug"\r\n\r\nFalse' in body
    assert b'name="file"; filename="plugin.zip"' in body
    by_code = client.get_plugin_release("release-me-t@1.0.0", params={"expand": "plugin"})
    assert by_code["id"] == release["id"]
    with open(_archive(tmp_path, "second.zip"), "rb") as fh:
        second = client.create_plugin_release({"plugin": "release-me-t", "version": "1.1"}, file=fh)
    assert second["version"] == "1.1"


def test_run_plugin_sends_sdk26_keys_and_job_lifecycle(client, wire):
    run = {"action": "train", "parameters": {"epochs": 1}, "context": {"a": 1}}
    job = client.run_plugin("numpy-trainer", run)
    assert job["job_id"] == job["id"]
    body = wire.json(wire.one("POST", "plugins/numpy-trainer/run/"))
    expected = {"action": "train", "params": {"epochs": 1}, "context": {"a": 1}, "language": "ko"}
    assert body == expected
    assert client.get_job(job["id"], params={"expand": "logs"})["id"] == job["id"]
    wire.clear()
    updated = client.update_job(job["id"], {"status": "completed", "result": {"ok": True}})
    assert updated["status"] == JobStatus.SUCCEEDED
    assert wire.json(wire.one("PATCH", f"jobs/{job['id']}/")) == {
        "status": "SUCCEEDED",
        "result": {"ok": True},
    }


def test_list_jobs_maps_seed_status(client, wire):
    page = client.list_jobs(params={"status": "completed"})
    assert page["count"] >= 1
    assert all(j["status"] == "SUCCEEDED" for j in page["results"])
    assert wire.query(wire.one("GET", "jobs/"))["status"] == ["SUCCEEDED"]


def test_console_logs_list_and_tail(client):
    job = client.run_plugin("numpy-trainer", {"action": "train", "params": {"epochs": 2}})
    entries = list(client.tail_job_console_logs(job["id"], timeout=20))
    assert entries and all(e["type"] == "log" and "message" in e for e in entries)
    deadline = time.monotonic() + 10
    while client.get_job(job["id"])["status"] not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    logs = client.list_job_console_logs(job["id"])
    assert [e["message"] for e in logs["results"]][: len(entries)] == [
        e["message"] for e in entries
    ]


def test_tail_unknown_job_raises_at_call(client):
    with pytest.raises(NotFoundError):
        client.tail_job_console_logs("00000000-0000-4000-8000-000000000000")


def test_storages(client, wire):
    page = client.list_storages()
    assert page["count"] >= 1
    storage = client.get_storage(page["results"][0]["id"])
    assert "configuration" in storage
    assert wire.query(wire.one("GET", f"storages/{storage['id']}/")) == {
        "with_configuration": ["true"]
    }
    created = client.create_storage(
        {"name": "S3 bucket", "provider": "AMAZON_S3", "configuration": {"bucket": "b"}}
    )
    assert created["provider"] == StorageProvider.AMAZON_S3 == "amazon_s3"
    assert wire.json(wire.one("POST", "storages/"))["provider"] == "amazon_s3"
    other = client.create_storage(
        {"name": "Wasabi", "provider": "wasabi", "configuration": {}, "category": "EXTERNAL"}
    )
    assert other["provider"] == "wasabi" and other["category"] == "external"


def test_stream_error_event_raises_client_error():
    from synapse_nb._sse import decode_line as _parse_sse_line

    nested = "data: " + json.dumps({"type": "log", "data": 'data: {"type":"log","message":"hi"}\n'})
    assert _parse_sse_line(nested) == {"type": "log", "message": "hi"}
    assert _parse_sse_line("plain line") == {"type": "log", "message": "plain line"}
    assert _parse_sse_line('data: {"type": "error", "message": "x"}')["type"] == "error"
    assert issubclass(ClientError, Exception)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.health_check_agent(""), "token"),
        (lambda c: c.health_check_agent("a/b"), "token"),
        (lambda c: c.health_check_agent(None), "token"),
        (lambda c: c.get_plugin("bad code!"), "pk"),
        (lambda c: c.create_plugin({"description": "no name"}), "name"),
        (lambda c: c.create_plugin({"name": "   "}), "name"),
        (lambda c: c.create_plugin("name"), "data"),
        (lambda c: c.update_plugin(1, {}), "data"),
        (lambda c: c.update_plugin(0, {"name": "x"}), "pk"),
        (lambda c: c.run_plugin(1, {"params": "x"}), "params"),
        (lambda c: c.run_plugin(1, {"agent": -1}), "agent"),
        (lambda c: c.run_plugin(1, {"unknown": 1}), "unknown"),
        (lambda c: c.run_plugin("", {}), "pk"),
        (lambda c: c.create_plugin_release({"version": "1"}), "plugin"),
        (lambda c: c.create_plugin_release({"plugin": 1, "version": ""}), "version"),
        (lambda c: c.create_plugin_release({"plugin": 1, "version": "1", "file": 3}), "file"),
        (  # a multipart part is JSON text too: NaN is refused there as in JSON bodies
            lambda c: c.create_plugin_release(
                {"plugin": 1, "version": "1", "config": {"lr": float("nan")}}
            ),
            "data['config']['lr']",
        ),
        (
            lambda c: c.create_plugin_release({"plugin": 1, "version": "1", "file": "/no/x.zip"}),
            "file",
        ),
        (lambda c: c.get_plugin_release("a b"), "pk"),
        (lambda c: c.get_plugin_release("yolo-trainer@0.1.0\n"), "pk"),
        (lambda c: c.get_plugin("yolo-trainer\n"), "pk"),
        (lambda c: c.get_plugin("1" * 5000), "pk"),
        (lambda c: c.update_plugin("coco-exporter\n", {"description": "x"}), "pk"),
        (lambda c: c.run_plugin("yolo-trainer\n", {"action": "run"}), "pk"),
        (lambda c: c.get_job("abc\n"), "pk"),
        (lambda c: c.list_jobs(params={"status": "exploded"}), "params['status']"),
        (lambda c: c.get_job("../etc"), "pk"),
        (lambda c: c.update_job(1, {"status": "paused"}), "status"),
        (lambda c: c.update_job(1, {"progress": 3}), "progress"),
        (lambda c: c.update_job(1, {}), "data"),
        (lambda c: c.list_job_console_logs(0), "pk"),
        (lambda c: c.tail_job_console_logs(1, timeout=0), "timeout"),
        (lambda c: c.get_storage("s3"), "pk"),
        (lambda c: c.create_storage({"name": "x", "provider": "Amazon S3!"}), "provider"),
        (lambda c: c.create_storage({"provider": "ftp"}), "name"),
        (
            lambda c: c.create_storage({"name": "x", "provider": "ftp", "category": "cloud"}),
            "category",
        ),
        (
            lambda c: c.create_storage({"name": "x", "provider": "ftp", "configuration": []}),
            "configuration",
        ),
    ],
)
def test_bad_input_raises_before_sending(client, wire, call, field):
    with pytest.raises(InvalidInputError) as info:
        call(client)
    assert info.value.field == field
    assert wire.all() == []


def test_release_without_archive_is_still_multipart(client, wire):
    plugin = client.create_plugin({"name": "No archive", "code": "no-archive-t"})
    wire.clear()
    release = client.create_plugin_release({"plugin": plugin["code"], "version": "0.0.1"})
    assert release["version"] == "0.0.1"
    entry = wire.one("POST", "plugin_releases/")
    assert entry["headers"]["content-type"].startswith("multipart/form-data")
    assert b'name="file"' not in entry["body"]
    assert io.BytesIO(entry["body"]).read()  # a real body went out
