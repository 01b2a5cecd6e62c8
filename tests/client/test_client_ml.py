"""MLClientMixin and url_conversion (downloads to a cache, SDK callables, config dicts)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from client_helpers import make_file

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import InvalidInputError


def test_list_models(client, wire):
    page = client.list_models(params={"project": 1})
    assert all(m["project"] == 1 for m in page["results"])
    assert wire.query(wire.one("GET", "models/")) == {"project": ["1"]}


def test_get_model_downloads_file_by_default(client, media_cache):
    raw = client.get_model(1, url_conversion=False)
    url = raw["file"]
    assert url.startswith("http://")
    model = client.get_model(1, params={"expand": "metrics"})
    path = model["file"]
    assert isinstance(path, Path) and path.parent == media_cache
    assert path.read_bytes() == requests.get(url, timeout=10).content
    assert path.name == hashlib.md5(url.split("?")[0].encode()).hexdigest() + Path(url).suffix


def test_get_model_seed_callable_and_config_forms(client):
    url = client.get_model(1, url_conversion=False)["file"]
    rewritten = client.get_model(1, url_conversion={"file": lambda u: u.replace("http", "cdn")})
    assert rewritten["file"] == url.replace("http", "cdn")
    sized = client.get_model(1, url_conversion={"coerce": lambda p: p.stat().st_size})
    assert isinstance(sized["file"], int) and sized["file"] > 0


def test_create_model_uploads_then_posts(client, wire, tmp_path):
    path = make_file(tmp_path / "weights.pt", 300_000, seed=3)
    model = client.create_model({"name": "My Model", "project": 1, "file": str(path)})
    puts = wire.all("PUT", prefix="chunked_upload/")
    assert puts and puts[0]["headers"]["content-range"] == "bytes 0-299999/300000"
    body = wire.json(wire.one("POST", "models/"))
    assert body["name"] == "My Model" and body["project"] == 1 and "file" not in body
    assert body["chunked_upload"]
    fetched = client.get_model(model["id"])
    assert fetched["file"].read_bytes() == path.read_bytes()


def test_ground_truth_events_and_versions(client, wire):
    version = client.get_ground_truth_version(1)
    assert version["id"] == 1 and "version" in version
    page = client.list_ground_truth_events(params={"ground_truth_dataset_versions": [1, 2]})
    query = wire.query(wire.one("GET", "sdk/ground_truth_events/"))
    assert query["ground_truth_dataset_versions"] == ["1", "2"]
    assert query["page_size"] == ["100"]
    assert all(e["ground_truth_dataset_version"] in (1, 2) for e in page["results"])


def test_list_all_downloads_files_into_the_cache(client, media_cache):
    items, count = client.list_ground_truth_events(
        params={"ground_truth_dataset_versions": [3]}, list_all=True
    )
    events = list(items)
    assert len(events) == count > 0
    entry = next(iter(events[0]["files"].values()))
    assert "url" not in entry and isinstance(entry["path"], Path)
    assert entry["path"].parent == media_cache and entry["path"].stat().st_size > 0


def test_explicit_callable_applies_to_a_single_page(client):
    page = client.list_tasks(
        {"project": 1, "page_size": 2}, url_conversion={"files": lambda u: "X" + u}
    )
    entry = next(iter(page["results"][0]["files"].values()))
    assert entry["url"].startswith("Xhttp://")


class _HeaderRecorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


def test_download_is_unauthenticated(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HeaderRecorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{httpd.server_port}"
        with BackendClient(
            base,
            api_token="secret-token-1",
            agent_token="agent-tok-2",
            tenant="tenant-3",
            cache_dir=tmp_path,
        ) as c:
            path = c._media.get(f"{base}/media/sig/file.txt?expires=1")
            again = c._media.get(f"{base}/media/sig/file.txt?expires=2")
        assert path == again and path.read_bytes() == b"hello"
        assert len(_HeaderRecorder.seen) == 1  # second call hit the cache
        headers = {k.lower(): v for k, v in _HeaderRecorder.seen[0].items()}
        assert not {
            "synapse-access-token",
            "synapse-agent",
            "synapse-tenant",
            "authorization",
        } & set(headers)
    finally:
        httpd.shutdown()


def test_data_uri_is_decoded_not_fetched(tmp_path):
    from synapse_nb.clients._url_conversion import MediaCache, apply, resolve

    conv = resolve(None, ["files"], is_list=False, method="t")
    obj = {"files": {"a": "data:text/plain;base64,aGVsbG8=", "b": {"url": "data:,hi%21"}}}
    out = apply(obj, conv, MediaCache(tmp_path, None))
    assert out["files"]["a"].read_bytes() == b"hello" and out["files"]["a"].suffix == ".txt"
    assert out["files"]["b"]["path"].read_bytes() == b"hi!"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c, p: c.list_models(params="x"), "params"),
        (lambda c, p: c.get_model(0), "pk"),
        (
            lambda c, p: c.get_model(1, url_conversion={"files_fields": "file"}),
            "url_conversion['files_fields']",
        ),
        (lambda c, p: c.get_model(1, url_conversion={"coerce": 3}), "url_conversion['coerce']"),
        (
            lambda c, p: c.get_model(1, url_conversion={"file": "not callable"}),
            "url_conversion['file']",
        ),
        (
            lambda c, p: c.get_model(1, url_conversion={"file": str, "is_list": True}),
            "url_conversion['is_list']",
        ),
        (lambda c, p: c.get_model(1, url_conversion={}), "url_conversion"),
        (lambda c, p: c.create_model({"name": "m"}), "data['file']"),
        (lambda c, p: c.create_model({"name": "m", "file": p / "nope.pt"}), "data['file']"),
        (lambda c, p: c.create_model({"file": p / "w.pt"}), "name"),
        (
            lambda c, p: c.create_model({"name": "m", "file": p / "w.pt", "configuration": 3}),
            "configuration",
        ),
        (
            lambda c, p: c.create_model({"name": "m", "file": p / "w.pt", "chunked_upload": 1}),
            "data['chunked_upload']",
        ),
        (lambda c, p: c.list_ground_truth_events(list_all=1), "list_all"),
        (lambda c, p: c.get_ground_truth_version("v1"), "pk"),
        (
            lambda c, p: c.update_model(1, {"metrics": {"map": float("nan")}}),
            "data['metrics']['map']",
        ),
        (
            lambda c, p: c.update_model(1, {"metrics": {"ap": [0.5, -float("inf")]}}),
            "data['metrics']['ap'][1]",
        ),
        # bodies built by a request model: pydantic used to send NaN as null without a word
        (
            lambda c, p: c.run_plugin(
                "yolo-trainer", {"action": "train", "params": {"lr": float("nan")}}
            ),
            "data['params']['lr']",
        ),
        (
            lambda c, p: c.create_tasks(
                {"project": 1, "data_unit": 1, "metadata": {"s": float("inf")}}
            ),
            "data[0]['metadata']['s']",  # named in what was passed, not in the wire body
        ),
    ],
)
def test_bad_input_raises_before_sending(client, wire, tmp_path, call, field):
    (tmp_path / "w.pt").write_bytes(b"weights")
    with pytest.raises(InvalidInputError) as info:
        call(client, tmp_path)
    assert info.value.field == field
    assert wire.all() == []
