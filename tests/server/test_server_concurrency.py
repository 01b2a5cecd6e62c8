"""Concurrent clients: writes serialise without loss, reads stay consistent, no 5xx."""

from __future__ import annotations

import hashlib
import secrets
import time
from concurrent.futures import ThreadPoolExecutor, wait

import requests
from demo_backends import ApiSession, token_headers
from srv_helpers import chunked_upload

from synapse_nb.server import http


def test_parallel_creates_and_reads(server, make):
    project = make.project()["id"]
    collection = make.collection()["id"]
    unit = make.data_unit(collection)["id"]

    def worker(n: int) -> list[int]:
        with requests.Session() as session:
            session.headers["Synapse-Access-Token"] = f"Token {server.token}"
            created = []
            for _ in range(10):
                response = session.post(
                    server.url + "tasks/", json={"project": project, "data_unit": unit}, timeout=30
                )
                assert response.status_code == 201, response.text
                created.append(response.json()["id"])
                listing = session.get(
                    server.url + "sdk/tasks/", params={"project": project}, timeout=30
                )
                assert listing.status_code == 200
                assert listing.json()["count"] >= len(created)
            return created

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    created = [pk for batch in results for pk in batch]
    assert len(set(created)) == 80
    with requests.Session() as session:
        session.headers["Synapse-Access-Token"] = f"Token {server.token}"
        body = session.get(
            server.url + "sdk/tasks/", params={"project": project, "page_size": 1000}
        ).json()
    assert body["count"] == 80
    assert sorted(t["id"] for t in body["results"]) == sorted(created)


def test_parallel_chunked_uploads(server):
    blobs = [secrets.token_bytes(5000 + i) for i in range(6)]

    def upload(data: bytes) -> dict:
        with requests.Session() as session:
            session.headers["Synapse-Access-Token"] = f"Token {server.token}"
            return chunked_upload(session, data, chunk_size=700, base=server.url)

    with ThreadPoolExecutor(6) as pool:
        done = list(pool.map(upload, blobs))
    for data, result in zip(blobs, done, strict=True):
        assert result["checksum"] == hashlib.md5(data).hexdigest()
        assert requests.get(result["file"], timeout=10).content == data


def _in_background(request):
    """Start ``request`` (a callable) in a thread of its own; return its future."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(request)
    pool.shutdown(wait=False)
    return future


def _until_counted(server, project: int) -> None:
    """Wait until the backend has counted a task listing of ``project`` (what a page does
    before it waits for its turn)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for sql, params, _generation in list(server.state.db._count_cache):
            if "FROM tasks" in sql and params and params[-1] == project:
                return
        time.sleep(0.01)
    raise AssertionError("the page was never counted")


def _session_of(server) -> ApiSession:
    return ApiSession(server.url, token_headers(server.token))


def test_list_pages_are_read_one_at_a_time(server, make, monkeypatch):
    """A list page waits for the page being read; other requests do not wait for it.

    Pages read together pass the GIL to each other at every SQLite row, so the backend reads,
    serializes and renders one page at a time (see ``paginate``). Holding that lock here
    stands for a page being read.
    """
    monkeypatch.setattr(http, "PAGE_TURN_WAIT", 60.0)
    project = make.project()["id"]
    collection = make.collection()["id"]
    task = make.task(project, make.data_unit(collection)["id"])["id"]
    with _session_of(server) as session, _session_of(server) as other:
        with server.state.db.page_lock:
            page = _in_background(
                lambda: session.get("tasks/", params={"project": project}, timeout=90),
            )
            one = other.get(f"tasks/{task}/")
            assert one.status_code == 200 and one.json()["id"] == task
            done, _ = wait([page], timeout=0.5)
            assert not done, "a list page was read while another page held the lock"
        listing = page.result(timeout=30)
    assert listing.status_code == 200
    assert [t["id"] for t in listing.json()["results"]] == [task]


def test_a_page_waits_for_its_turn_a_bounded_time(server, make, monkeypatch):
    """A page goes ahead after PAGE_TURN_WAIT: a slow page never holds up the others."""
    monkeypatch.setattr(http, "PAGE_TURN_WAIT", 0.2)
    project = make.project()["id"]
    with _session_of(server) as session, server.state.db.page_lock:
        started = time.monotonic()
        listing = session.get("tasks/", params={"project": project})
        waited = time.monotonic() - started
    assert listing.status_code == 200 and listing.json()["count"] == 0
    assert waited >= 0.2  # it did wait for its turn, then went ahead without it


def test_a_write_while_a_page_waits_is_counted(server, make, monkeypatch):
    """The page count is read again when a write landed while the page waited for its turn:
    a page near the end must not be placed from the count before the write (rows that
    existed all along would be skipped, and the listing would end early)."""
    monkeypatch.setattr(http, "PAGE_TURN_WAIT", 60.0)
    project = make.project()["id"]
    collection = make.collection()["id"]
    unit = make.data_unit(collection)["id"]
    before = [make.task(project, unit)["id"] for _ in range(30)]
    with _session_of(server) as session:
        with server.state.db.page_lock:
            page = _in_background(
                lambda: session.get(
                    "tasks/",
                    params={"project": project, "page": 3, "page_size": 10},
                    timeout=90,
                ),
            )
            _until_counted(server, project)  # the page has its count: it waits for its turn
            assert not page.done()
            after = [make.task(project, unit)["id"] for _ in range(5)]
        body = page.result(timeout=30).json()
    assert body["count"] == 35
    assert [t["id"] for t in body["results"]] == before[20:30]
    assert body["next"] is not None and after
