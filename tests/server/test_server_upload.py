"""Chunked upload (docs/protocol.md), data files, models checksums and unauthenticated file URLs."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from srv_helpers import check_field_error, chunked_upload


def put_chunk(api, url: str, data: bytes, start: int, total: int, **headers: str):
    end = start + len(data) - 1
    return api.put(
        url,
        data={"filename": "video.mp4"},
        files={"file": ("file", data)},
        headers={"Content-Range": f"bytes {start}-{end}/{total}", **headers},
    )


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def download(url: str) -> bytes:
    """A plain GET without any Synapse header, as url_conversion does."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code)
    return response.content


def finish_upload(api, url: str, data: bytes, start: int, chunk: int) -> dict:
    """PUT ``data[start:]`` in chunks, finalize with the MD5, check the stored bytes."""
    for offset in range(start, len(data), chunk):
        piece = data[offset : offset + chunk]
        assert put_chunk(api, url, piece, offset, len(data)).ok
    done = api.post(url, json={"md5": md5(data)})
    assert done.status_code == 200, done.text
    assert download(done.json()["file"]) == data
    return done.json()


def test_multi_chunk_upload(api, server):
    data = secrets.token_bytes(1_000_000)
    url = "chunked_upload/"
    offsets = []
    for start in range(0, len(data), 262_144):
        response = put_chunk(api, url, data[start : start + 262_144], start, len(data))
        assert response.status_code == 200, response.text
        state = response.json()
        assert state["url"] == f"{server.url}chunked_upload/{state['id']}/"
        uuid.UUID(state["id"])
        offsets.append(state["offset"])
        url = state["url"]
    assert offsets == [262_144, 524_288, 786_432, 1_000_000]
    done = api.post(url, json={"md5": md5(data).upper()})  # hex case does not matter
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["id"] == state["id"]
    assert body["checksum"] == md5(data)
    assert body["size"] == len(data)
    assert body["status"] == 2 and body["completed_at"]
    assert body["filename"] == "video.mp4"
    assert download(body["file"]) == data
    again = api.get(url).json()
    assert again["completed_at"] == body["completed_at"] and again["offset"] == len(data)


def test_resume_from_the_server_offset_after_a_lost_chunk(api):
    data = secrets.token_bytes(5000)
    first = put_chunk(api, "chunked_upload/", data[:1000], 0, 5000).json()
    put_chunk(api, first["url"], data[1000:2000], 1000, 5000)
    # the client "crashes" before sending 2000-2999; a new client asks where to continue
    state = api.get(f"chunked_upload/{first['id']}/").json()
    assert state["offset"] == 2000
    assert state["status"] == 1 and state["completed_at"] is None
    for start in range(state["offset"], 5000, 1000):
        assert put_chunk(api, state["url"], data[start : start + 1000], start, 5000).ok
    done = api.post(state["url"], json={"md5": md5(data)})
    assert done.status_code == 200, done.text
    assert download(done.json()["file"]) == data


def test_resume_through_really_dropped_connections(fresh_server):
    """The server drops half the upload requests; the client resumes from GET's offset."""
    fresh_server.set_faults(rate_drop=0.5, seed=3, paths=("chunked_upload",))
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {fresh_server.token}"
    base = fresh_server.url + "chunked_upload/"
    data = secrets.token_bytes(8000)

    def attempt(method: str, url: str, **kwargs):
        for _ in range(50):
            try:
                return session.request(method, url, timeout=10, **kwargs)
            except requests.ConnectionError:
                continue
        raise AssertionError("50 drops in a row")

    response = attempt("PUT", base, **_chunk_kwargs(data[:1000], 0, 8000))
    url = response.json()["url"]
    offset = response.json()["offset"]
    drops = 0
    while offset < len(data):
        try:
            response = session.put(
                url, timeout=10, **_chunk_kwargs(data[offset:][:1000], offset, 8000)
            )
            assert response.status_code == 200, response.text
            offset = response.json()["offset"]
        except requests.ConnectionError:
            drops += 1
            offset = attempt("GET", url).json()["offset"]
    done = attempt("POST", url, json={"md5": md5(data)})
    assert done.status_code == 200, done.text
    assert drops > 0 and fresh_server.fault_counts["drop"] >= drops
    fresh_server.set_faults()
    assert download(done.json()["file"]) == data


def _chunk_kwargs(chunk: bytes, start: int, total: int) -> dict:
    return {
        "files": {"file": ("file", chunk)},
        "headers": {"Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{total}"},
    }


def test_out_of_order_offset_is_rejected_with_the_stored_offset(api):
    data = secrets.token_bytes(3000)
    first = put_chunk(api, "chunked_upload/", data[:1000], 0, 3000).json()
    ahead = put_chunk(api, first["url"], data[2000:], 2000, 3000)
    assert ahead.status_code == 400
    assert ahead.json() == {"detail": "Offsets do not match", "offset": 1000}
    behind = put_chunk(api, first["url"], data[:500], 0, 3000)
    assert behind.status_code == 400 and behind.json()["offset"] == 1000
    assert api.get(first["url"]).json()["offset"] == 1000
    late_first = put_chunk(api, "chunked_upload/", data[1000:2000], 1000, 3000)
    assert late_first.status_code == 400 and late_first.json()["offset"] == 0


def test_repeated_last_range_is_answered_not_rejected(api):
    data = secrets.token_bytes(2500)
    first = put_chunk(api, "chunked_upload/", data[:1000], 0, 2500).json()
    assert put_chunk(api, first["url"], data[1000:2000], 1000, 2500).json()["offset"] == 2000
    # a transport retry re-sends the same range: 200 with the current state, nothing appended
    repeat = put_chunk(api, first["url"], data[1000:2000], 1000, 2500)
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["offset"] == 2000
    put_chunk(api, first["url"], data[2000:], 2000, 2500)
    done = api.post(first["url"], json={"md5": md5(data)})
    assert done.status_code == 200 and done.json()["size"] == 2500


def test_md5_mismatch_commits_nothing(api, server):
    data = secrets.token_bytes(2000)
    first = put_chunk(api, "chunked_upload/", data[:1000], 0, 2000).json()
    put_chunk(api, first["url"], data[1000:], 1000, 2000)
    files_before = server.state.db.scalar("SELECT COUNT(*) FROM data_files")
    response = api.post(first["url"], json={"md5": "0" * 32})
    messages = check_field_error(response, "md5")
    assert md5(data) in messages[0] and "0" * 32 in messages[0]
    assert api.get(first["url"]).status_code == 404  # the upload is gone
    assert not (server.state.uploads_dir / first["id"]).exists()
    check_field_error(
        api.post("data_files/", json={"chunked_upload": first["id"]}), "chunked_upload"
    )
    check_field_error(
        api.post("models/", json={"name": "m", "chunked_upload": first["id"]}), "chunked_upload"
    )
    assert server.state.db.scalar("SELECT COUNT(*) FROM data_files") == files_before
    verified = api.post("data_files/verify_checksums/", json={"checksums": [md5(data)]})
    assert verified.json() == {"existing_checksums": []}


def test_finalize_needs_every_byte(api):
    first = put_chunk(api, "chunked_upload/", b"x" * 100, 0, 300).json()
    response = api.post(first["url"], json={"md5": md5(b"x" * 300)})
    assert response.status_code == 400
    assert response.json()["offset"] == 100
    assert api.get(first["url"]).json()["offset"] == 100  # still resumable


def test_upload_is_closed_after_completion(api):
    data = b"complete"
    done = chunked_upload(api, data)
    url = f"chunked_upload/{done['id']}/"
    late = put_chunk(api, url, data, 0, len(data))
    assert late.status_code == 400 and "completed" in late.json()["detail"]
    again = api.post(url, json={"md5": md5(data)})
    assert again.status_code == 200 and again.json()["id"] == done["id"]  # idempotent
    other = api.post(url, json={"md5": "f" * 32})
    assert other.status_code == 400


def test_empty_file_cannot_be_finalized(api):
    response = api.post("chunked_upload/", json={"md5": md5(b"")})
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]


@pytest.mark.parametrize(
    "content_range",
    [
        None,
        "bytes 0-9",
        "bytes a-b/c",
        "items 0-9/10",
        "bytes 5-2/10",
        "bytes 0-10/10",
        "bytes -1-8/10",
        "bytes 0-4/10",  # the chunk is 10 bytes, not 5
        "bytes 0-9/99999999999999999999999999",
    ],
)
def test_bad_content_range_is_400(content_range, api):
    headers = {"Content-Range": content_range} if content_range else {}
    response = api.put("chunked_upload/", files={"file": ("file", b"0123456789")}, headers=headers)
    assert response.status_code == 400, response.text
    assert "detail" in response.json()


def test_total_size_cannot_change(api):
    first = put_chunk(api, "chunked_upload/", b"a" * 10, 0, 30).json()
    response = put_chunk(api, first["url"], b"b" * 10, 10, 40)
    assert response.status_code == 400 and "40" in response.json()["detail"]


def test_chunk_without_file_part_is_400(api):
    response = api.put(
        "chunked_upload/", data={"filename": "x"}, headers={"Content-Range": "bytes 0-0/1"}
    )
    check_field_error(response, "file")


def test_data_file_from_a_finished_upload(api):
    data = secrets.token_bytes(4321)
    done = chunked_upload(api, data, chunk_size=1024)
    response = api.post(
        "data_files/", json={"chunked_upload": done["id"], "meta": {"filename": "scan.tif"}}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["checksum"] == md5(data) and created["size"] == 4321
    assert created["file_name"] == "scan.tif"
    assert download(created["file"]) == data
    unfinished = put_chunk(api, "chunked_upload/", b"abc", 0, 10).json()
    response = api.post("data_files/", json={"chunked_upload": unfinished["id"]})
    assert "not complete" in check_field_error(response, "chunked_upload")[0]


def test_model_from_an_upload(api, make):
    weights = secrets.token_bytes(3000)
    done = chunked_upload(api, weights, filename="best.pt")
    project = make.project()["id"]
    response = api.post(
        "models/",
        json={
            "name": "detector",
            "chunked_upload": done["id"],
            "version": "1.2.0",
            "metrics": {"mAP": 0.61},
            "configuration": {"imgsz": 640},
            "project": project,
        },
    )
    assert response.status_code == 201, response.text
    model = response.json()
    fetched = api.get(f"models/{model['id']}/").json()
    assert fetched["file"] == model["file"]
    assert urlsplit(model["file"]).path.endswith("/best.pt")
    assert download(model["file"]) == weights
    assert fetched["metrics"] == {"mAP": 0.61} and fetched["version"] == "1.2.0"
    listed = api.get("models/", params={"project": project}).json()["results"]
    assert [m["id"] for m in listed] == [model["id"]]


def test_verify_checksums(api, make):
    known = [make.data_file()["checksum"] for _ in range(3)]
    unknown = [md5(secrets.token_bytes(8)) for _ in range(2)]
    asked = [unknown[0], known[2], known[0], known[2], unknown[1]]
    response = api.post("data_files/verify_checksums/", json={"checksums": asked})
    assert response.status_code == 200
    assert response.json() == {"existing_checksums": [known[2], known[0]]}
    many = [md5(str(i).encode()) for i in range(1200)] + [known[1]]
    response = api.post("data_files/verify_checksums/", json={"checksums": many})
    assert response.json() == {"existing_checksums": [known[1]]}


# ------------------------------------------------------------------ file URLs


def _urls(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [v if isinstance(v, str) else v["url"] for v in value.values()]
    return []


def test_every_files_url_is_absolute_and_public(api, server, make, ground_truth):
    make.model()
    release = make.release(make.plugin())
    unit = api.get("data_units/", params={"page_size": 1}).json()["results"][0]
    checksum = unit["files"]["image_1"]["checksum"]
    urls: list[str] = []
    for path in ("sdk/tasks/", "sdk/assignments/", "data_units/", "sdk/ground_truth_events/"):
        for item in api.get(path, params={"page_size": 5}).json()["results"]:
            assert item["files"], (path, item)
            urls += _urls(item["files"])
    urls += [m["file"] for m in api.get("models/").json()["results"] if m["file"]]
    urls.append(release["file"])
    urls.append(make.data_file()["file"])
    assert len(urls) > 20
    for url in urls:
        assert url.startswith(server.url + "media/"), url
    contents = {url: download(url) for url in set(urls)}
    image_urls = [u for u in contents if "/data_file/" in u]
    assert any(md5(contents[u]) == checksum for u in image_urls)
    assert contents[release["file"]].startswith(b"PK")  # the zip archive itself


def test_tampered_signature_is_404(api, make):
    url = make.data_file()["file"]
    assert requests.get(url, timeout=10).status_code == 200
    parts = url.split("/")
    kind, ident, signature = parts[-4], parts[-3], parts[-2]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    bad = [
        url.replace(f"/{signature}/", f"/{flipped}/"),
        url.replace(f"/{ident}/{signature}/", f"/{int(ident) + 1}/{signature}/"),
        url.replace(f"/{kind}/", "/model/"),
        url.replace(f"/{signature}/", "/"),
    ]
    for tampered in bad:
        response = requests.get(tampered, timeout=10)
        assert response.status_code == 404, tampered


# ---------------------------------------------------------------- streamed chunk bodies
def multipart_body(data: bytes, *, filename_first: bool = True) -> tuple[bytes, str]:
    boundary = "b0undary" + secrets.token_hex(8)
    name = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="filename"\r\n\r\nclip.bin\r\n'
    ).encode()
    file = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="file"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )
    parts = name + file if filename_first else file + name
    return parts + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload_files(server) -> set[str]:
    return {p.name for p in server.state.uploads_dir.iterdir()}


def send_cut_short(server, path: str, data: bytes, start: int, total: int) -> None:
    """Send a chunk PUT whose body stops half-way, then close the connection."""
    body, content_type = multipart_body(data)
    end = start + len(data) - 1
    token = server.token
    head = (
        f"PUT /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nSynapse-Access-Token: Token {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Range: bytes {start}-{end}/{total}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
    # the server notices the disconnect while streaming; give it a moment to unwind
    time.sleep(0.3)


def test_a_chunk_cut_short_commits_nothing_and_the_upload_resumes(api, server):
    data = secrets.token_bytes(600_000)
    first = put_chunk(api, "chunked_upload/", data[:200_000], 0, len(data)).json()
    before = upload_files(server)
    send_cut_short(
        server, first["url"].removeprefix(server.url), data[200_000:400_000], 200_000, len(data)
    )
    state = api.get(first["url"]).json()
    assert state["offset"] == 200_000  # the half-received chunk did not count
    assert upload_files(server) == before
    finish_upload(api, first["url"], data, 200_000, 200_000)


def test_a_first_chunk_cut_short_leaves_no_upload_behind(api, server):
    before = upload_files(server)
    uploads = server.state.db.scalar("SELECT COUNT(*) FROM chunked_uploads")
    send_cut_short(server, "chunked_upload/", secrets.token_bytes(300_000), 0, 900_000)
    assert upload_files(server) == before
    assert server.state.db.scalar("SELECT COUNT(*) FROM chunked_uploads") == uploads


@pytest.mark.parametrize("size", [999, 1001])
def test_a_chunk_of_the_wrong_size_is_400_and_commits_nothing(size, api, server):
    data = secrets.token_bytes(3000)
    first = put_chunk(api, "chunked_upload/", data[:1000], 0, 3000).json()
    body, content_type = multipart_body(data[1000 : 1000 + size])
    response = api.put(
        first["url"],
        data=body,
        headers={"Content-Type": content_type, "Content-Range": "bytes 1000-1999/3000"},
    )
    assert response.status_code == 400, response.text
    assert f"Chunk size {size}" in response.json()["detail"]
    assert api.get(first["url"]).json()["offset"] == 1000
    before = upload_files(server)
    rows = server.state.db.scalar("SELECT COUNT(*) FROM chunked_uploads")
    body, content_type = multipart_body(data[:size])
    response = api.put(
        "chunked_upload/",
        data=body,
        headers={"Content-Type": content_type, "Content-Range": "bytes 0-999/3000"},
    )
    assert response.status_code == 400, response.text
    assert upload_files(server) == before  # a rejected first chunk leaves no file
    assert server.state.db.scalar("SELECT COUNT(*) FROM chunked_uploads") == rows
    finish_upload(api, first["url"], data, 1000, 1000)  # it still completes, bytes intact


def test_form_fields_in_any_order_and_malformed_bodies(api):
    data = secrets.token_bytes(5000)
    body, content_type = multipart_body(data, filename_first=False)
    response = api.put(
        "chunked_upload/",
        data=body,
        headers={"Content-Type": content_type, "Content-Range": "bytes 0-4999/5000"},
    )
    assert response.status_code == 200, response.text
    done = api.post(response.json()["url"], json={"md5": md5(data)})
    assert done.status_code == 200 and done.json()["filename"] == "clip.bin"
    garbage = api.put(
        "chunked_upload/",
        data=b"--not-the-boundary\r\n\r\nhello",
        headers={
            "Content-Type": "multipart/form-data; boundary=xyz",
            "Content-Range": "bytes 0-4/5",
        },
    )
    assert garbage.status_code == 400, garbage.text


def test_concurrent_puts_of_one_range_store_it_once(api, server):
    data = secrets.token_bytes(4_000_000)
    first = put_chunk(api, "chunked_upload/", data[:1_000_000], 0, len(data)).json()

    def put(_: int):
        with requests.Session() as session:
            session.headers.update(api.headers)
            return put_chunk(session, first["url"], data[1_000_000:2_000_000], 1_000_000, len(data))

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(put, range(4)))
    assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
    assert {r.json()["offset"] for r in replies} == {2_000_000}
    finish_upload(api, first["url"], data, 2_000_000, 1_000_000)


def test_a_body_of_many_fields_is_refused_and_unread_fields_cost_nothing(api, server):
    boundary = "m4ny" + secrets.token_hex(6)
    field = f'--{boundary}\r\nContent-Disposition: form-data; name="x{{}}"\r\n\r\nv\r\n'
    many = "".join(field.format(i) for i in range(100)).encode()
    file = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
    ).encode() + b"data\r\n"
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Range": "bytes 0-3/4",
    }
    end = f"--{boundary}--\r\n".encode()
    response = api.put("chunked_upload/", data=many + file + end, headers=headers)
    assert response.status_code == 400 and "at most 64 parts" in response.json()["detail"]
    # large fields nobody reads are dropped as they stream by (no 64 KiB limit applies)
    big = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="note{i}"\r\n\r\n'
        + "n" * 200_000
        + "\r\n"
        for i in range(3)
    ).encode()
    ok = api.put("chunked_upload/", data=big + file + end, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["offset"] == 4


@pytest.mark.parametrize(("error", "status"), [(errno.ENOSPC, 507), (errno.EIO, 500)])
def test_a_disk_error_is_a_server_error_and_commits_nothing(
    api, server, monkeypatch, error, status
):
    from synapse_nb.server import multipart

    mb3 = 3_000_000  # three write batches a chunk: the second one fails
    data = secrets.token_bytes(3 * mb3)
    first = put_chunk(api, "chunked_upload/", data[:mb3], 0, len(data)).json()
    before = upload_files(server)
    batches = []
    original = multipart.OffloadedFileSink._work

    def failing_work(self, batch):
        batches.append(len(batch))
        if len(batches) > 1:
            raise OSError(error, os.strerror(error))
        return original(self, batch)

    monkeypatch.setattr(multipart.OffloadedFileSink, "_work", failing_work)
    response = put_chunk(api, first["url"], data[mb3 : 2 * mb3], mb3, len(data))
    assert response.status_code == status, response.text
    assert os.strerror(error) in response.json()["detail"]
    assert api.get(first["url"]).json()["offset"] == mb3  # nothing committed
    batches.clear()
    fresh = put_chunk(api, "chunked_upload/", data[:mb3], 0, len(data))
    assert fresh.status_code == status
    assert upload_files(server) == before  # the failed first chunk left no file
    monkeypatch.setattr(multipart.OffloadedFileSink, "_work", original)
    finish_upload(api, first["url"], data, mb3, mb3)


def test_a_chunk_commit_waiting_for_the_database_does_not_stall_other_requests(api, server):
    data = secrets.token_bytes(2_000_000)
    first = put_chunk(api, "chunked_upload/", data[:1_000_000], 0, len(data)).json()
    held, released = threading.Event(), []

    def hold_the_write_lock() -> None:
        with server.state.db.write():
            held.set()
            time.sleep(2.0)
            released.append(time.monotonic())

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    held.wait(5)
    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(put_chunk, api, first["url"], data[1_000_000:], 1_000_000, len(data))
        time.sleep(0.3)  # the PUT's body is in; its commit now waits for the lock
        answered = api.get("projects/", params={"page_size": 1})
        answered_at = time.monotonic()
        assert answered.status_code == 200
        assert put.result(timeout=30).status_code == 200
    holder.join()
    assert answered_at < released[0]  # served while the lock was still held
