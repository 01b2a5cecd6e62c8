"""Concurrent clients: writes serialise without loss, reads stay consistent, no 5xx."""

from __future__ import annotations

import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor, wait

import requests
from srv_helpers import chunked_upload


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


def test_list_pages_are_read_one_at_a_time(server, make):
    """A list page waits for the page being read; other requests do not wait for it.

    Pages read together pass the GIL to each other at every SQLite row, so the backend reads,
    serializes and renders one page at a time (see ``paginate``). Holding that lock here
    stands for a page being read.
    """
    project = make.project()["id"]
    collection = make.collection()["id"]
    task = make.task(project, make.data_unit(collection)["id"])["id"]
    lock = server.state.db.page_lock
    with requests.Session() as session, ThreadPoolExecutor(1) as pool:
        session.headers["Synapse-Access-Token"] = f"Token {server.token}"
        with lock:
            page = pool.submit(
                session.get, server.url + "tasks/", params={"project": project}, timeout=30
            )
            with requests.Session() as other:
                other.headers["Synapse-Access-Token"] = f"Token {server.token}"
                one = other.get(server.url + f"tasks/{task}/", timeout=30)
            assert one.status_code == 200 and one.json()["id"] == task
            done, _ = wait([page], timeout=0.5)
            assert not done, "a list page was read while another page held the lock"
        listing = page.result(timeout=30)
    assert listing.status_code == 200
    assert [t["id"] for t in listing.json()["results"]] == [task]
