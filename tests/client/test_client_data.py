"""DataCollectionClientMixin: collections, data files (direct and chunked), data units."""

from __future__ import annotations

import hashlib

import pytest
from client_helpers import make_file

from synapse_nb.exceptions import InvalidInputError


def test_list_and_get_data_collection(client, wire):
    page = client.list_data_collection()
    assert page["count"] >= 1
    collection = client.get_data_collection(page["results"][0]["id"])
    assert isinstance(collection["file_specifications"], list)
    assert collection["file_specifications"][0]["name"]
    entry = wire.one("GET", f"data_collections/{collection['id']}/")
    assert wire.query(entry) == {"expand": ["file_specifications"]}
    assert client.list_data_collections is not None  # the current Synapse SDK's name


def test_create_data_file_direct_is_multipart_with_basename(client, wire, tmp_path):
    path = make_file(tmp_path / "photo.jpg", 3000, seed=11)
    created = client.create_data_file(path)
    assert created["checksum"] == hashlib.md5(path.read_bytes()).hexdigest()
    entry = wire.one("POST", "data_files/")
    assert entry["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="photo.jpg"' in entry["body"]


def test_create_data_file_chunked_then_json(client, wire, tmp_path):
    path = make_file(tmp_path / "clip.bin", 5000, seed=12)
    created = client.create_data_file(str(path), use_chunked_upload=True)
    assert created["checksum"] == hashlib.md5(path.read_bytes()).hexdigest()
    body = wire.json(wire.one("POST", "data_files/"))
    upload = wire.one("PUT", "chunked_upload/")
    assert body["chunked_upload"] and body["meta"] == {"filename": "clip.bin"}
    assert upload["headers"]["content-range"] == "bytes 0-4999/5000"


def test_upload_data_file_then_create_data_units_in_batches(client, wire, tmp_path):
    units = []
    for i in range(3):
        path = make_file(tmp_path / f"img_{i}.png", 1000 + i, seed=20 + i)
        units.append(
            client.upload_data_file(
                {"files": {"image_1": path}, "meta": {"n": i}, "groups": "batch-a"}, 1
            )
        )
    assert units[0]["data_collection"] == 1
    assert units[0]["groups"] == ["batch-a"]
    assert units[0]["files"]["image_1"]["path"] == str(tmp_path / "img_0.png")
    wire.clear()
    created = client.create_data_units(units, batch_size=2)
    assert len(created) == 3 and all(u["id"] for u in created)
    posts = wire.all("POST", "data_units/")
    assert [len(wire.json(p)) for p in posts] == [2, 1]
    assert (
        wire.json(posts[0])[0]["files"]["image_1"]["checksum"]
        == (units[0]["files"]["image_1"]["checksum"])
    )
    one = client.create_data_units(units[0])
    assert isinstance(one, dict) and one["id"]


def test_list_and_get_data_units(client, wire):
    page = client.list_data_units({"data_collection": 1})
    assert wire.query(wire.one("GET", "data_units/"))["page_size"] == ["100"]
    unit = client.get_data_unit(page["results"][0]["id"], params={"expand": "files"})
    assert unit["files"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c, p: c.get_data_collection("x"), "data_collection_id"),
        (lambda c, p: c.list_data_collection(params=5), "params"),
        (lambda c, p: c.create_data_file(p / "missing.jpg"), "file_path"),
        (lambda c, p: c.create_data_file(p), "file_path"),
        (lambda c, p: c.create_data_file(p / "empty.bin"), "file_path"),
        (lambda c, p: c.create_data_file(b"bytes-path"), "file_path"),
        (
            lambda c, p: c.create_data_file(p / "ok.bin", use_chunked_upload="yes"),
            "use_chunked_upload",
        ),
        (lambda c, p: c.upload_data_file({"files": {}}, 1), "organized_file['files']"),
        (lambda c, p: c.upload_data_file([], 1), "organized_file"),
        (lambda c, p: c.upload_data_file({"files": {"a": p / "ok.bin"}}, 0), "collection_id"),
        (
            lambda c, p: c.upload_data_file({"files": {"a": p / "ok.bin", "b": p / "nope"}}, 1),
            "organized_file['files']['b']",
        ),
        (lambda c, p: c.create_data_units([]), "uploaded_files"),
        (lambda c, p: c.create_data_units([{"data_collection": 1, "files": {}}]), "files"),
        (lambda c, p: c.create_data_units({"files": {"a": {"checksum": "x"}}}), "data_collection"),
        (
            lambda c, p: c.create_data_units(
                {"data_collection": 1, "files": {"a": {"checksum": "x"}}, "extra": 1}
            ),
            "extra",
        ),
        (lambda c, p: c.create_data_units([{}], batch_size=0), "batch_size"),
        (lambda c, p: c.get_data_unit(-3), "pk"),
    ],
)
def test_bad_input_raises_before_sending(client, wire, tmp_path, call, field):
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "ok.bin").write_bytes(b"ok")
    with pytest.raises(InvalidInputError) as info:
        call(client, tmp_path)
    assert info.value.field == field
    assert wire.all() == []
