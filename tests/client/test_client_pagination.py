"""list_all: concurrent page walks over 10k tasks, with and without injected faults."""

from __future__ import annotations

import threading
import time

import pytest
from client_helpers import SCALE_TASKS, Wire

from synapse_nb._pagination import PageWalker, page_url
from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import InvalidInputError, NotFoundError, ServerError

FAST_RETRY = {"total": 6, "backoff_factor": 0.02, "backoff_jitter": 0.02, "backoff_max": 0.2}


def _ids(srv, project, **kwargs):
    # Pages of 100 (the SDK's size): 100 pages exercise the concurrency more than 10.
    retry = kwargs.pop("retry", None)
    with BackendClient(srv.url, api_token=srv.token, retry=retry, page_size=100) as c:
        items, count = c.list_tasks(
            {"project": project}, url_conversion=False, list_all=True, **kwargs
        )
        return [t["id"] for t in items], count


def test_every_item_once_in_server_order(scale_srv, scale_project):
    wire = Wire(scale_srv)
    wire.clear()
    ids, count = _ids(scale_srv, scale_project, max_workers=6)
    assert count == SCALE_TASKS
    assert len(ids) == len(set(ids)) == SCALE_TASKS
    assert ids == sorted(ids)
    pages = sorted(int(wire.query(e).get("page", ["1"])[0]) for e in wire.all("GET", "sdk/tasks/"))
    assert pages == list(range(1, SCALE_TASKS // 100 + 1))  # each page fetched exactly once


def test_progress_callback_follows_the_pages_handed_over(scale_srv, scale_project):
    calls: list[tuple[int, int | None]] = []
    seen = 0

    def progress(rows: int, count: int | None) -> None:
        calls.append((rows, count))

    with BackendClient(scale_srv.url, api_token=scale_srv.token, page_size=500) as c:
        items, count = c.list_tasks(
            {"project": scale_project}, url_conversion=False, list_all=True, progress=progress
        )
        for _ in items:
            seen += 1
            # a page is reported when it is handed over, never ahead of the items read
            assert calls[-1][0] <= seen + 499
    assert [rows for rows, _ in calls] == list(range(500, SCALE_TASKS + 1, 500))
    assert {n for _, n in calls} == {SCALE_TASKS} and seen == count == SCALE_TASKS


def test_progress_must_be_callable(scale_srv):
    wire = Wire(scale_srv)
    wire.clear()
    with (
        BackendClient(scale_srv.url, api_token=scale_srv.token) as c,
        pytest.raises(InvalidInputError) as info,
    ):
        c.list_tasks({"project": 1}, list_all=True, progress="yes")
    assert info.value.field == "progress" and "'yes'" in str(info.value)
    assert wire.all() == []


@pytest.mark.parametrize("list_all", [False, True])
@pytest.mark.parametrize(("name", "value"), [("page_size", 10), ("status", "pending")])
def test_a_query_parameter_passed_as_a_keyword_is_refused_before_sending(
    scale_srv, scale_project, list_all, name, value
):
    # it used to reach the transport and fail there with a TypeError, after the first page
    wire = Wire(scale_srv)
    wire.clear()
    with (
        BackendClient(scale_srv.url, api_token=scale_srv.token) as c,
        pytest.raises(InvalidInputError) as info,
    ):
        c.list_tasks({"project": scale_project}, list_all=list_all, **{name: value})
    assert info.value.field == name and info.value.value == value
    assert f"params={{{name!r}: ...}}" in str(info.value) and "max_workers" in str(info.value)
    assert wire.all() == []


def test_a_frame_listing_refuses_an_unknown_keyword_too(scale_srv, scale_project):
    from synapse_nb.frames import Client

    wire = Wire(scale_srv)
    wire.clear()
    with Client(scale_srv.url, api_token=scale_srv.token, progress=False) as client:
        with pytest.raises(InvalidInputError) as info:
            client.list_tasks({"project": scale_project}, page_size=10)
        assert info.value.field == "page_size"
        assert wire.all() == []
        # the same page size given in params is a query parameter, as it should be
        assert len(client.list_tasks({"project": scale_project, "page_size": 10})) == 10


@pytest.mark.parametrize("list_all", [False, True])
def test_list_calls_take_a_timeout_and_headers_and_check_them_first(
    scale_srv, scale_project, list_all
):
    from synapse_nb._config import Timeout
    from synapse_nb.frames import Client

    wire = Wire(scale_srv)
    query = {"project": scale_project, "page_size": 500}
    with Client(scale_srv.url, api_token=scale_srv.token, progress=False) as client:
        for bad in ({"timeout": "soon"}, {"headers": {"X-Trace": 1}}, {"timeout": -1}):
            wire.clear()
            with pytest.raises(InvalidInputError) as info:
                client.list_tasks(query, list_all=list_all, **bad)
            assert info.value.field == next(iter(bad))
            assert wire.all() == []  # not even the tag names were asked for
        wire.clear()
        frame = client.list_tasks(
            query, list_all=list_all, timeout=Timeout(5, 30), headers={"X-Trace": "t1"}
        )
        assert len(frame) == (SCALE_TASKS if list_all else 500)
        pages = wire.all("GET", "sdk/tasks/")
        assert pages and all(e["headers"].get("x-trace") == "t1" for e in pages)


def test_every_item_once_under_20_percent_faults(scale_srv, scale_project):
    # 429s, 503s and connections dropped without a reply, on ~20% of requests.
    scale_srv.set_faults(rate_429=0.07, rate_503=0.07, rate_drop=0.06, retry_after=0, seed=11)
    try:
        ids, count = _ids(scale_srv, scale_project, retry=FAST_RETRY)
    finally:
        counts = scale_srv.fault_counts
        scale_srv.set_faults()
    assert counts["429"] and counts["503"] and counts["drop"]
    assert count == len(ids) == len(set(ids)) == SCALE_TASKS
    assert ids == sorted(ids)


def test_failed_page_raises_by_default_and_is_collected_on_request(scale_srv, scale_project):
    retry = {"total": 0}
    # Seed 4 spares the first request (page 1) and fails 6 of the next 100 requests.
    scale_srv.set_faults(rate_503=0.05, retry_after=0, seed=4)
    try:
        with pytest.raises(ServerError):
            _ids(scale_srv, scale_project, retry=retry, page_retries=0)
        scale_srv.set_faults(rate_503=0.05, retry_after=0, seed=4)
        failures: list[dict] = []
        ids, _ = _ids(scale_srv, scale_project, retry=retry, page_retries=0, page_failures=failures)
    finally:
        scale_srv.set_faults()
    assert failures, "the seeded faults should have failed some pages"
    assert all(isinstance(f["error"], ServerError) and f["page"] >= 1 for f in failures)
    missing = {f["page"] for f in failures}
    assert len(missing) == len(failures) == 6 and 1 not in missing
    assert len(ids) == len(set(ids)) == SCALE_TASKS - 100 * len(missing)
    assert ids == sorted(ids)


@pytest.mark.parametrize(("workers", "lookahead"), [(2, 4), (8, 12)])
def test_lookahead_is_bounded_and_early_close_stops_fetching(
    scale_srv, scale_project, workers, lookahead
):
    """At most ``min(2 * workers, workers + 4)`` pages are fetched ahead of the one read."""
    wire = Wire(scale_srv)
    wire.clear()
    with BackendClient(
        scale_srv.url, api_token=scale_srv.token, max_workers=workers, page_size=100
    ) as c:
        items, _ = c.list_tasks({"project": scale_project}, url_conversion=False, list_all=True)
        for _ in range(150):  # first page plus half of the second
            next(items)
        time.sleep(0.5)  # give the pool time to run ahead as far as it may
        fetched = len(wire.all("GET", "sdk/tasks/"))
        assert fetched <= 1 + 1 + lookahead  # page 1, the page being read, and the look-ahead
        items.close()
        time.sleep(0.3)
        assert len(wire.all("GET", "sdk/tasks/")) <= fetched + 2  # in flight at close time


def test_page_retry_recovers_after_transport_gives_up(scale_srv, scale_project):
    # No transport retries at all: only the page-level retry stands between a 503 and a
    # failed walk (a page fails for good with probability 0.2**9 per page).
    scale_srv.set_faults(rate_503=0.2, retry_after=0, seed=8)
    try:
        ids, count = _ids(
            scale_srv, scale_project, retry={"total": 0}, page_retries=8, page_retry_backoff=0.01
        )
        injected = scale_srv.fault_counts["503"]
    finally:
        scale_srv.set_faults()
    assert injected > 0
    assert len(ids) == len(set(ids)) == count == SCALE_TASKS


def test_walker_follows_cursor_links_sequentially():
    pages = {
        "http://h/x/?cursor=b": {"next": "http://h/x/?cursor=c", "results": [3, 4]},
        "http://h/x/?cursor=c": {"next": None, "results": [5]},
    }
    seen = []

    def fetch(url):
        seen.append((url, threading.current_thread().name))
        return pages[url]

    first = {"next": "http://h/x/?cursor=b", "results": [1, 2]}  # no count: cursor mode
    assert list(PageWalker(fetch, first, max_workers=4)) == [1, 2, 3, 4, 5]
    assert [u for u, _ in seen] == list(pages)


def test_walker_stops_at_404_when_the_list_shrank():
    def fetch(url):
        if url.endswith("page=3"):
            raise NotFoundError(404, {"detail": "Invalid page."})
        return {"next": None, "results": [url[-1]]}

    first = {"count": 6, "next": "http://h/?page=2", "results": ["1", "1"]}
    assert list(PageWalker(fetch, first, max_workers=2)) == ["1", "1", "2"]


def test_walker_continues_when_the_list_grew():
    def fetch(url):
        n = url.rsplit("=", 1)[1]
        return {"next": "http://h/?page=4" if n == "3" else None, "results": [n]}

    first = {"count": 3, "next": "http://h/?page=2", "results": ["1"]}
    assert list(PageWalker(fetch, first, max_workers=3)) == ["1", "2", "3", "4"]


def test_walker_uses_the_page_size_the_server_really_applied():
    # Asked for 1000, the server capped pages at 2: page numbers must follow the cap.
    def fetch(url):
        n = int(url.rsplit("page=", 1)[1].split("&")[0])
        return {"next": None, "results": [2 * n - 1, 2 * n]}

    first = {"count": 6, "next": "http://h/?page=2&page_size=1000", "results": [1, 2]}
    assert list(PageWalker(fetch, first, max_workers=2)) == [1, 2, 3, 4, 5, 6]


def test_default_list_all_page_size(scale_srv, scale_project):
    wire = Wire(scale_srv)
    wire.clear()
    with BackendClient(scale_srv.url, api_token=scale_srv.token) as c:
        items, count = c.list_tasks({"project": scale_project}, url_conversion=False, list_all=True)
        assert len(list(items)) == count == SCALE_TASKS
    entries = wire.all("GET", "sdk/tasks/")
    assert len(entries) == SCALE_TASKS // 1000
    assert {wire.query(e)["page_size"][0] for e in entries} == {"1000"}


def test_page_url_keeps_filters():
    url = page_url("http://h/api/sdk/tasks/?project=3&page=2&page_size=100&tags=1&tags=2", 9)
    assert url == "http://h/api/sdk/tasks/?project=3&page=9&page_size=100&tags=1&tags=2"
