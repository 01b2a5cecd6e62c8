"""List methods beyond the documented Synapse SDK ones (newer names) and checksum verification."""

from __future__ import annotations

import hashlib
import json

import pytest

from synapse_nb.exceptions import InvalidInputError

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
