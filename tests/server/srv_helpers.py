"""Helpers for the server tests: objects are created through the API wherever one exists."""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import secrets
import zipfile
from dataclasses import dataclass
from typing import Any

import requests

from synapse_nb.server.db import dumps

_counter = itertools.count(1)

#: every operation of the backend API, as the OpenAPI schema lists it
OPERATIONS = [
    ("GET", "/projects/"),
    ("POST", "/projects/"),
    ("GET", "/projects/{pk}/"),
    ("GET", "/task_tags/"),
    ("POST", "/task_tags/"),
    ("GET", "/task_tags/{pk}/"),
    ("GET", "/tasks/"),
    ("POST", "/tasks/"),
    ("GET", "/sdk/tasks/"),
    ("GET", "/sdk/tasks/data/"),
    ("GET", "/sdk/tasks/files/"),
    ("GET", "/tasks/{pk}/"),
    ("PATCH", "/tasks/{pk}/"),
    ("PUT", "/tasks/{pk}/annotate_task_data/"),
    ("POST", "/tasks/set_tags/"),
    ("GET", "/assignments/"),
    ("GET", "/sdk/assignments/"),
    ("GET", "/sdk/assignments/data/"),
    ("GET", "/sdk/assignments/files/"),
    ("GET", "/assignments/{pk}/"),
    ("PATCH", "/assignments/{pk}/"),
    ("POST", "/assignments/set_tags/"),
    ("GET", "/data_collections/"),
    ("POST", "/data_collections/"),
    ("GET", "/data_collections/{pk}/"),
    ("POST", "/data_files/"),
    ("POST", "/data_files/verify_checksums/"),
    ("GET", "/data_files/{pk}/"),
    ("GET", "/data_units/"),
    ("POST", "/data_units/"),
    ("GET", "/data_units/{pk}/"),
    ("PUT", "/chunked_upload/"),
    ("POST", "/chunked_upload/"),
    ("PUT", "/chunked_upload/{upload_id}/"),
    ("GET", "/chunked_upload/{upload_id}/"),
    ("POST", "/chunked_upload/{upload_id}/"),
    ("GET", "/agents/"),
    ("POST", "/agents/{token}/connect/"),
    ("GET", "/plugins/"),
    ("POST", "/plugins/"),
    ("GET", "/plugins/{ref}/"),
    ("PUT", "/plugins/{ref}/"),
    ("PATCH", "/plugins/{ref}/"),
    ("GET", "/plugin_releases/"),
    ("POST", "/plugin_releases/"),
    ("GET", "/plugin_releases/{ref}/"),
    ("POST", "/plugins/{ref}/run/"),
    ("GET", "/jobs/"),
    ("GET", "/jobs/{pk}/"),
    ("PATCH", "/jobs/{pk}/"),
    ("GET", "/jobs/{pk}/console_logs/"),
    ("GET", "/jobs/{pk}/tail_console_logs/"),
    ("POST", "/logs/"),
    ("GET", "/storages/"),
    ("POST", "/storages/"),
    ("GET", "/storages/{pk}/"),
    ("GET", "/serve_applications/"),
    ("POST", "/serve_applications/"),
    ("GET", "/serve_applications/{pk}/"),
    ("GET", "/models/"),
    ("POST", "/models/"),
    ("GET", "/models/{pk}/"),
    ("PATCH", "/models/{pk}/"),
    ("GET", "/ground_truth_datasets/"),
    ("GET", "/ground_truth_datasets/{pk}/"),
    ("GET", "/ground_truth_dataset_versions/"),
    ("GET", "/ground_truth_dataset_versions/{pk}/"),
    ("GET", "/ground_truths/"),
    ("GET", "/ground_truth_events/"),
    ("GET", "/sdk/ground_truth_events/"),
    ("GET", "/sdk/ground_truth_events/data/"),
    ("GET", "/sdk/ground_truth_events/files/"),
    ("GET", "/ground_truth_events/{pk}/"),
]

#: the agent (Ray) API served under agent/, authenticated with the raw agent token
AGENT_OPERATIONS = [
    ("GET", "/agent/health/"),
    ("GET", "/agent/jobs/"),
    ("GET", "/agent/jobs/{pk}/"),
    ("POST", "/agent/jobs/{pk}/stop/"),
    ("GET", "/agent/jobs/{pk}/logs/"),
    ("GET", "/agent/jobs/{pk}/logs/stream/"),
    ("GET", "/agent/ray/jobs/{pk}/logs/stream/"),
    ("GET", "/agent/nodes/"),
    ("GET", "/agent/nodes/{pk}/"),
    ("GET", "/agent/tasks/"),
    ("GET", "/agent/tasks/{pk}/"),
    ("GET", "/agent/serve_applications/"),
    ("GET", "/agent/serve_applications/{name}/"),
    ("DELETE", "/agent/serve_applications/{name}/"),
    ("GET", "/agent/gpu_status/"),
]


def concrete(path: str, value: str = "1") -> str:
    return re.sub(r"\{[^}]+\}", value, path).lstrip("/")


def unique(prefix: str) -> str:
    """A name no other test uses in this session."""
    return f"{prefix}-{next(_counter)}-{secrets.token_hex(3)}"


#: a tiny real plugin: ``steps`` steps of ``seconds`` each, progress, metrics, a log line
#: per step; ``params.fail`` makes it raise half way
TINY_PLUGIN = """
import time


def run(params, ctx):
    steps = int(params.get("steps", 10))
    for step in range(1, steps + 1):
        time.sleep(float(params.get("seconds", 0.05)))
        ctx.set_progress(step, steps, "run")
        ctx.log_metrics({"loss": round(1.0 / step, 4)}, step=step, category="steps")
        ctx.log_message(f"step {step}/{steps}", step="run")
        if params.get("fail") and step == steps // 2:
            raise RuntimeError("failure requested by params.fail")
    return {"ok": True}
"""


def plugin_config(code: str) -> str:
    """A config.yaml whose actions run, train and export all run the tiny plugin."""
    actions = "".join(
        f"  {name}:\n    entrypoint: tiny:run\n    method: job\n"
        for name in ("run", "train", "export")
    )
    return f"name: {code}\ncode: {code}\nversion: 1.0.0\nactions:\n{actions}"


def plugin_zip(code: str, source: str = TINY_PLUGIN) -> bytes:
    """A release archive of the tiny real plugin (or of ``source``) for plugin ``code``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("config.yaml", plugin_config(code))
        zf.writestr("tiny.py", source)
    return buffer.getvalue()


def check_field_error(response: requests.Response, field: str, value: Any = None) -> list[str]:
    """Assert a Django-style 400 naming ``field`` (and quoting ``value`` when given)."""
    assert response.status_code == 400, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict), body
    assert field in body, f"expected an error on {field!r}, got {body}"
    messages = body[field]
    assert isinstance(messages, list), body
    assert messages, body
    assert all(isinstance(m, str) and m for m in messages), body
    if value is not None:
        quoted = [repr(value)[:40]]
        if isinstance(value, str):
            quoted.append(f'"{value[:40]}')
        assert any(q in m for q in quoted for m in messages), (
            f"no message of {field!r} quotes the value {value!r}: {messages}"
        )
    return messages


def chunked_upload(
    api: requests.Session,
    data: bytes,
    chunk_size: int = 1000,
    filename: str = "blob.bin",
    base: str = "",
) -> dict:
    """Run the whole chunked-upload protocol; returns the finalize body.

    ``base`` is the server URL when ``api`` is a plain session that needs absolute URLs.
    """
    total = len(data)
    url = base + "chunked_upload/"
    for start in range(0, total, chunk_size):
        chunk = data[start : start + chunk_size]
        end = start + len(chunk) - 1
        response = api.put(
            url,
            data={"filename": filename},
            files={"file": ("file", chunk)},
            headers={"Content-Range": f"bytes {start}-{end}/{total}"},
        )
        assert response.status_code == 200, response.text
        url = response.json()["url"]
    response = api.post(url, json={"md5": hashlib.md5(data).hexdigest()})
    assert response.status_code == 200, response.text
    return response.json()


@dataclass
class Factory:
    api: requests.Session
    server: Any

    def project(self, **extra: Any) -> dict:
        response = self.api.post("projects/", json={"title": unique("project"), **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def collection(self) -> dict:
        body = {
            "name": unique("collection"),
            "file_specifications": [
                {"name": "image_1", "file_type": "image", "is_primary": True},
                {"name": "meta_json", "file_type": "data", "is_required": False},
            ],
        }
        response = self.api.post("data_collections/", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def data_file(self, content: bytes | None = None, name: str = "pixel.png") -> dict:
        content = content or secrets.token_bytes(64)
        response = self.api.post("data_files/", files={"file": (name, content)})
        assert response.status_code == 201, response.text
        return response.json()

    def data_unit(self, collection: int, **meta: Any) -> dict:
        checksum = self.data_file()["checksum"]
        body = {
            "data_collection": collection,
            "files": {"image_1": {"checksum": checksum, "path": "x.png"}},
            "meta": meta,
        }
        response = self.api.post("data_units/", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def task(self, project: int, data_unit: int, **extra: Any) -> dict:
        body = {"project": project, "data_unit": data_unit, **extra}
        response = self.api.post("tasks/", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def tag(self, project: int | None = None, **extra: Any) -> dict:
        response = self.api.post(
            "task_tags/", json={"name": unique("tag"), "project": project, **extra}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def plugin(self, **extra: Any) -> dict:
        body = {"name": unique("Plugin"), "code": unique("plugin"), **extra}
        response = self.api.post("plugins/", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def release(self, plugin: dict, version: str = "1.0.0") -> dict:
        response = self.api.post(
            "plugin_releases/",
            data={
                "plugin": plugin["code"],
                "version": version,
                "config": dumps({"code": plugin["code"], "actions": {"run": {"method": "job"}}}),
                "requirements": ["numpy", "pillow"],
                "debug": "False",
            },
            files={"file": ("plugin.zip", plugin_zip(plugin["code"]))},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def storage(self, **extra: Any) -> dict:
        body = {"name": unique("storage"), "provider": "amazon_s3", **extra}
        response = self.api.post("storages/", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def upload(self, data: bytes | None = None, **kwargs: Any) -> dict:
        return chunked_upload(self.api, data or secrets.token_bytes(2500), **kwargs)

    def model(self, **extra: Any) -> dict:
        upload = self.upload(filename="weights.pt")
        body = {"name": unique("model"), "chunked_upload": upload["id"], **extra}
        response = self.api.post("models/", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def job(self, **run: Any) -> dict:
        plugin = self.plugin()
        self.release(plugin)
        response = self.api.post(f"plugins/{plugin['code']}/run/", json={"action": "run", **run})
        assert response.status_code in (200, 201), response.text
        return response.json()
