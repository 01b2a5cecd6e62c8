"""List methods beyond the documented Synapse SDK ones (newer names) and checksum verification."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json

import numpy as np
import pytest

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client

LISTINGS = [
    ("list_projects", "projects/", 3),
    ("list_agents", "agents/", 1),
    ("list_plugins", "plugins/", 4),
    ("list_plugin_releases", "plugin_releases/", 8),
    ("list_ground_truth_datasets", "ground_truth_datasets/", 2),
    ("list_ground_truth_versions", "ground_truth_dataset_versions/", 3),
]


@pytest.mark.parametrize(("method", "path", "at_least"), LISTINGS)
def test_listing_returns_the_envelope_and_walks_every_page(method, path, at_least, client, wire):
    wire.clear()
    page = getattr(client, method)({"page_size": 1})
    assert page["count"] >= at_least and len(page["results"]) == 1
    sent = wire.one("GET", path)
    assert "page_size=1" in sent["query"]
    assert sent["headers"]["synapse-access-token"].startswith("Token ")
    items, count = getattr(client, method)(list_all=True)
    items = list(items)
    assert count == page["count"] == len(items) == len({i["id"] for i in items})


def test_listing_filters_reach_the_server(client, wire):
    wire.clear()
    releases = client.list_plugin_releases({"plugin": "yolo-trainer"})
    assert releases["count"] == 2
    assert {r["code"].split("@")[0] for r in releases["results"]} == {"yolo-trainer"}
    assert wire.one("GET", "plugin_releases/")["query"] == "plugin=yolo-trainer"


@pytest.mark.parametrize("method", [m for m, _, _ in LISTINGS])
def test_listing_rejects_bad_params_before_sending(method, client, wire):
    wire.clear()
    with pytest.raises(InvalidInputError, match="params"):
        getattr(client, method)(["not", "a", "mapping"])
    assert wire.all() == []


def test_verify_checksums_reports_existing_files(client, wire, tmp_path):
    path = tmp_path / "known.bin"
    path.write_bytes(b"verify me" * 100)
    known = client.create_data_file(path)["checksum"]
    unknown = hashlib.md5(b"never uploaded").hexdigest()
    wire.clear()
    reply = client.data_files_verify_checksums([unknown, known.upper()])
    assert reply == {"existing_checksums": [known]}
    body = json.loads(wire.one("POST", "data_files/verify_checksums/")["body"])
    assert body == {"checksums": [unknown, known]}
    assert client.verify_data_files_checksums([known]) == {"existing_checksums": [known]}


@pytest.mark.parametrize("bad", ["abc", ["not-an-md5"], [123], "d41d8cd98f00b204e9800998ecf8427e"])
def test_verify_checksums_rejects_bad_input_before_sending(bad, client, wire):
    wire.clear()
    with pytest.raises(InvalidInputError, match="checksums"):
        client.data_files_verify_checksums(bad)
    assert wire.all() == []


def _list_methods(cls: type) -> list[str]:
    """Every list call of ``cls`` that takes ``params``."""
    return sorted(
        name
        for name in dir(cls)
        if name.startswith("list_") and "params" in inspect.signature(getattr(cls, name)).parameters
    )


@pytest.fixture(scope="module")
def frames_client(demo_srv, tmp_path_factory):
    # with a frame cache: a cached listing sends counts alongside its pages
    cache = tmp_path_factory.mktemp("frame-cache")
    with Client(demo_srv.url, api_token=demo_srv.token, progress=False, cache=cache) as c:
        yield c


BAD_PAGE_SIZES = [0, -1, True, 2.5, "abc", "0", "", [10], np.float64(5)]


@pytest.mark.parametrize("list_all", [False, True])
@pytest.mark.parametrize("which", ["BackendClient", "Client"])
def test_a_bad_page_size_is_refused_by_every_list_call_before_sending(
    which, list_all, client, frames_client, wire
):
    target = client if which == "BackendClient" else frames_client
    methods = _list_methods(type(target))
    assert {"list_tasks", "list_projects", "list_data_units", "list_jobs"} <= set(methods)
    for name in methods:
        call = getattr(target, name)
        if name == "list_frame":
            call = functools.partial(call, "task")
        for bad in BAD_PAGE_SIZES:
            wire.clear()
            with pytest.raises(InvalidInputError) as info:
                call(params={"page_size": bad}, list_all=list_all)
            assert (name, info.value.field) == (name, "params['page_size']")
            assert info.value.value is bad or info.value.value == bad
            assert repr(bad) in str(info.value) and "must be an int >= 1" in str(info.value)
            assert wire.all() == [], name


@pytest.mark.parametrize("which", ["BackendClient", "Client"])
def test_a_numpy_or_digit_string_page_size_is_sent_as_an_int(which, client, frames_client, wire):
    target = client if which == "BackendClient" else frames_client
    for size in (np.int64(2), np.int32(2), " 2", 2):
        wire.clear()
        page = target.list_tasks(params={"project": 1, "page_size": size})
        rows = len(page) if which == "Client" else len(page["results"])
        assert rows == 2
        assert "page_size=2" in wire.one("GET", "sdk/tasks/")["query"]
