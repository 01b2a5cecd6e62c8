"""list_all: concurrent page walks over 10k tasks, with and without injected faults."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from client_helpers import SCALE_TASKS, Wire

from synapse_nb._pagination import PageWalker, page_url
from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import (
    ClientConnectionError,
    ClientError,
    ClientTimeoutError,
    InvalidInputError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    ServerError,
)

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


# ------------------------------------------------------------------ found by mutation testing
# The walker's own rules (links, budgets, failures, threads) against a scripted ``fetch``: the
# page sequences below are awkward to make the real backend produce on demand.
def _pages_fetch(pages, seen=None, threads=None):
    """A ``fetch`` over ``{url: envelope or exception}``; records urls and thread names."""

    def fetch(url):
        if seen is not None:
            seen.append(url)
        if threads is not None:
            threads.append(threading.current_thread().name)
        page = pages[url]
        if isinstance(page, Exception):
            raise page
        return page

    return fetch


def test_page_url_keeps_blank_params_and_adds_a_missing_page():
    assert page_url("http://h/x/?q=&page=2&a=1", 3) == "http://h/x/?q=&page=3&a=1"
    assert page_url("http://h/x/?a=1&b=", 5) == "http://h/x/?a=1&b=&page=5"


def test_count_in_takes_up_to_18_ascii_digits_only():
    from synapse_nb._pagination import _count_in

    assert _count_in("9" * 18) == 10**18 - 1
    assert _count_in("1" * 19) is None
    assert _count_in("abc") is None and _count_in("") is None and _count_in("1.5") is None


def test_page_size_comes_from_the_link_when_page_1_is_empty():
    # page 1 came back empty (the list shrank), so only page_size= tells the size: pages 2
    # and 3 are fetched at once (concurrent mode), though their envelopes carry no next link
    base = "http://h/x/?page={}&page_size=3"
    pages = {base.format(n): {"next": None, "results": [n]} for n in (2, 3)}
    seen: list[str] = []
    first = {"count": 9, "next": base.format(2), "results": []}
    assert list(PageWalker(_pages_fetch(pages, seen), first, max_workers=2)) == [2, 3]
    assert sorted(seen) == [base.format(2), base.format(3)]


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("max_workers", 0, "must be an int >= 1"),
        ("max_workers", True, "must be an int >= 1"),
        ("max_workers", 1.5, "must be an int >= 1"),
        ("page_failures", (), "must be a list or None"),
        ("page_retries", -1, "must be an int >= 0"),
        ("page_retries", True, "must be an int >= 0"),
        ("page_retries", 1.0, "must be an int >= 0"),
        ("max_pages", 0, "must be an int >= 1"),
        ("max_pages", True, "must be an int >= 1"),
        ("max_pages", 2.0, "must be an int >= 1"),
    ],
)
def test_walker_options_are_checked(option, value, problem):
    first = {"next": None, "results": [1]}
    with pytest.raises(InvalidInputError) as info:
        PageWalker(_pages_fetch({}), first, **{option: value})
    assert info.value.field == option and info.value.value == value
    assert info.value.response == {option: [problem]}


def test_walker_takes_the_smallest_valid_options():
    pages = {"http://h/?page=2": {"next": None, "results": [2]}}
    first = {"count": 2, "next": "http://h/?page=2", "results": [1]}
    walker = PageWalker(
        _pages_fetch(pages), first, max_workers=1, page_retries=0, max_pages=2, page_failures=[]
    )
    assert list(walker) == [1, 2]
    assert list(PageWalker(_pages_fetch({}), {"next": None, "results": [1]}, max_pages=1)) == [1]


def _endless(count=None):
    """Cursor pages that always link to one more page; returns (fetch, fetched urls)."""
    seen: list[str] = []

    def fetch(url):
        seen.append(url)
        if len(seen) > 100:
            raise AssertionError("the walk did not stop")
        n = int(url.split("cursor=")[1].split("&")[0])
        return {"count": count, "next": f"http://h/x/?cursor={n + 1}", "results": [n]}

    return fetch, seen


@pytest.mark.parametrize(
    ("count", "results", "link", "budget"),
    [
        (4, [1], "http://h/x/?cursor=2", 6),  # 4 pages of 1, plus a slack of 2 pages
        (1, [1], "http://h/x/?cursor=2", 3),  # at least 1 page expected
        (25, [1], "http://h/x/?cursor=2", 27),
        (30, [1], "http://h/x/?cursor=2", 33),  # a slack of 10% once above 2 pages
        (8, [1, 2], "http://h/x/?cursor=2", 6),  # pages of 2, the size of page 1
        (8, [1, 2], "http://h/x/?cursor=2&page_size=1000", 6),  # the size applied, not asked
        (4, [], "http://h/x/?cursor=2", 6),  # no size known: pages of 1
        (4, [], "http://h/x/?cursor=2&page_size=2", 4),  # page 1 empty: the link's size
    ],
)
def test_walk_past_the_announced_count_stops_at_the_budget_exactly(count, results, link, budget):
    fetch, seen = _endless(count=count)
    first = {"count": count, "next": link, "results": results}
    walker = PageWalker(fetch, first, max_workers=2, label="tasks/")
    got: list[int] = []
    with pytest.raises(PaginationError) as info:
        got.extend(walker)
    # pages 2..budget fetched; the last is not handed over: its next link broke the budget
    assert len(seen) == budget - 1 and got == results + list(range(2, budget))
    assert str(info.value) == (
        f"list tasks/ stopped: more than {budget} pages, though the server announced {count} items"
    )
    assert info.value.path == "tasks/"


def test_a_count_needing_more_than_max_pages_is_refused_at_once():
    first = {"count": 5, "next": "http://h/x/?page=2", "results": [1]}
    with pytest.raises(PaginationError) as info:
        PageWalker(_pages_fetch({}), first, max_pages=4, label="tasks/")
    assert str(info.value) == (
        "list tasks/ stopped: the server announces 5 items in 5 pages, above max_pages=4; "
        "pass max_pages= to walk further"
    )
    assert info.value.path == "tasks/"
    # exactly max_pages pages are allowed
    pages = {f"http://h/x/?page={n}": {"next": None, "results": [n]} for n in (2, 3, 4)}
    first = {"count": 4, "next": "http://h/x/?page=2", "results": [1]}
    assert list(PageWalker(_pages_fetch(pages), first, max_pages=4)) == [1, 2, 3, 4]


def test_walk_past_max_pages_names_max_pages_even_with_a_count():
    # the announced 4 items would allow 6 pages, but max_pages=5 is the tighter bound
    fetch, seen = _endless(count=4)
    first = {"count": 4, "next": "http://h/x/?cursor=2", "results": [1]}
    with pytest.raises(PaginationError) as info:
        list(PageWalker(fetch, first, max_pages=5))
    assert len(seen) == 4
    assert str(info.value) == (
        "list stopped: more than max_pages=5 pages; pass max_pages= to walk further"
    )


@pytest.mark.parametrize(
    ("link", "back", "shown"),
    [
        ("http://h/x/?cursor=b&k=", "HTTP://H/x/?k=&cursor=b", "/x/?k=&cursor=b"),
        ("http://h/p2/", "http://h/p2/", "/p2/"),
    ],
)
def test_a_link_back_to_the_first_followed_page_is_caught_at_once(link, back, shown):
    # the same page however its params are ordered and its scheme and host are cased
    seen: list[str] = []
    pages = {link: {"next": back, "results": [2]}}
    first = {"next": link, "results": [1]}
    with pytest.raises(PaginationError) as info:
        list(PageWalker(_pages_fetch(pages, seen), first, label="projects/"))
    assert seen == [link]  # fetched once, the repeat is refused unfetched
    assert str(info.value) == (
        f"list projects/ stopped: the next link {shown} points back to a page already visited"
    )


def test_links_that_differ_only_in_a_blank_param_are_two_pages():
    pages = {
        "http://h/x/?cursor=b": {"next": "http://h/x/?cursor=b&q=", "results": [2]},
        "http://h/x/?cursor=b&q=": {"next": None, "results": [3]},
    }
    first = {"next": "http://h/x/?cursor=b", "results": [1]}
    assert list(PageWalker(_pages_fetch(pages), first)) == [1, 2, 3]


def test_an_empty_page_with_a_next_link_stops_the_walk():
    pages = {
        "http://h/x/?cursor=b": {"next": "http://h/x/?cursor=c", "results": [2]},
        "http://h/x/?cursor=c": {"next": "http://h/x/?cursor=d", "results": []},
        "http://h/x/?cursor=d": {"next": None, "results": [4]},
    }
    first = {"next": "http://h/x/?cursor=b", "results": [1]}
    got: list[int] = []
    with pytest.raises(PaginationError) as info:
        got.extend(PageWalker(_pages_fetch(pages), first, label="jobs/"))
    assert got == [1, 2]
    assert str(info.value) == (
        "list jobs/ stopped: an empty page has a next link (the list would never end)"
    )


def test_progress_gets_no_count_unless_the_count_is_an_int():
    calls: list[tuple[int, int | None]] = []
    pages = {"http://h/x/?cursor=b": {"count": "3", "next": None, "results": [2, 3]}}
    first = {"count": "3", "next": "http://h/x/?cursor=b", "results": [1]}
    walker = PageWalker(_pages_fetch(pages), first, progress=lambda n, c: calls.append((n, c)))
    assert list(walker) == [1, 2, 3]
    assert calls == [(1, None), (3, None)]


def test_failed_pages_of_a_link_walk_are_recorded_and_skipped():
    # no count: the walk follows links, and a failed page N is skipped to page N + 1
    down = ServerError(503, {"detail": "down"})
    url = "http://h/x/?page={}&project=1".format
    pages = {
        url(2): down,
        url(3): down,
        url(4): {"next": url(5), "results": [4]},
        url(5): down,
        url(6): {"next": None, "results": [6]},
    }
    seen: list[str] = []
    threads: list[str] = []
    failures: list[dict] = []
    first = {"next": url(2), "results": [1]}
    walker = PageWalker(
        _pages_fetch(pages, seen, threads),
        first,
        page_failures=failures,
        page_retries=0,
        page_retry_backoff=0,
    )
    assert list(walker) == [1, 4, 6]
    assert failures == [
        {"page": 2, "url": url(2), "error": down},
        {"page": 3, "url": url(3), "error": down},
        {"page": 5, "url": url(5), "error": down},
    ]
    assert seen == [url(n) for n in (2, 3, 4, 5, 6)]
    assert threads and all(name.startswith("synapse-page_") for name in threads)


def test_a_failed_cursor_page_ends_the_walk_and_is_recorded():
    down = ServerError(503, {"detail": "down"})
    pages = {"http://h/x/?cursor=b": down}
    failures: list[dict] = []
    first = {"next": "http://h/x/?cursor=b", "results": [1]}
    walker = PageWalker(_pages_fetch(pages), first, page_failures=failures, page_retries=0)
    assert list(walker) == [1]
    assert failures == [{"page": None, "url": "http://h/x/?cursor=b", "error": down}]


def test_a_failed_page_of_the_grown_tail_is_skipped_by_number():
    # 2 items announced, but page 2 links to page 3 (the list grew): the tail is walked by
    # links, and its failed page 3 is recorded by number and skipped to page 4
    down = ServerError(503, {"detail": "down"})
    pages = {
        "http://h/?page=2": {"next": "http://h/?page=3", "results": [2]},
        "http://h/?page=3": down,
        "http://h/?page=4": {"next": None, "results": [4]},
    }
    failures: list[dict] = []
    first = {"count": 2, "next": "http://h/?page=2", "results": [1]}
    walker = PageWalker(_pages_fetch(pages), first, page_failures=failures, page_retries=0)
    assert list(walker) == [1, 2, 4]
    assert failures == [{"page": 3, "url": "http://h/?page=3", "error": down}]


def test_concurrent_fetches_are_bounded_by_max_workers_and_named():
    lock = threading.Lock()
    running = [0]
    peak = [0]
    threads: list[str] = []

    def fetch(url):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            threads.append(threading.current_thread().name)
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        n = int(url.rsplit("=", 1)[1])
        return {"next": None, "results": [n]}

    first = {"count": 12, "next": "http://h/?page=2", "results": [1]}
    walker = PageWalker(fetch, first, max_workers=2, lookahead=8)
    assert list(walker) == list(range(1, 13))
    assert peak[0] == 2
    assert len(threads) == 11 and all(name.startswith("synapse-page_") for name in threads)


@pytest.mark.parametrize("count", [5, None], ids=["concurrent", "links"])
def test_closing_a_walk_does_not_wait_for_pages_in_flight(count):
    release = threading.Event()
    fetching = threading.Event()

    def fetch(url):
        n = int(url.rsplit("=", 1)[1])
        if n >= 3:
            fetching.set()
            release.wait(3)
        return {"next": f"http://h/?page={n + 1}" if n < 5 else None, "results": [n]}

    first = {"count": count, "next": "http://h/?page=2", "results": [1]}
    items = iter(PageWalker(fetch, first, max_workers=2))
    try:
        assert [next(items), next(items)] == [1, 2]
        assert fetching.wait(2)  # page 3 is being fetched
        started = time.monotonic()
        items.close()
        assert time.monotonic() - started < 1.5
    finally:
        release.set()


@pytest.mark.parametrize(
    ("workers", "lookahead", "ahead"), [(2, None, 4), (8, None, 12), (2, 1, 1), (2, 0, 1)]
)
def test_pages_are_fetched_exactly_lookahead_ahead(workers, lookahead, ahead):
    # default look-ahead: min(2 * workers, workers + 4); at least 1 whatever is asked
    seen: list[str] = []

    def fetch(url):
        seen.append(url)
        return {"next": None, "results": [int(url.rsplit("=", 1)[1])]}

    first = {"count": 40, "next": "http://h/?page=2", "results": [1]}
    items = iter(PageWalker(fetch, first, max_workers=workers, lookahead=lookahead))
    assert [next(items), next(items)] == [1, 2]
    deadline = time.monotonic() + 2
    while len(seen) < 1 + ahead and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # time to run further ahead, were it allowed to
    # page 2 (handed over) and the pages after it, up to the look-ahead
    fetched = sorted(int(url.rsplit("=", 1)[1]) for url in seen)
    assert fetched == list(range(2, 3 + ahead))
    items.close()


def _failing(errors, seen):
    """A ``fetch`` that raises ``errors`` in turn, then returns one page."""

    def fetch(url):
        seen.append(time.monotonic())
        if len(seen) > 10:
            raise AssertionError("retried without end")
        if len(seen) <= len(errors):
            raise errors[len(seen) - 1]
        return {"results": [url]}

    return fetch


@pytest.mark.parametrize(
    "error",
    [
        ServerError(500, "boom"),
        ServerError(503, "down"),
        ClientError(408, "timeout"),
        RateLimitError(429, "slow down"),
        ClientConnectionError(None, "refused"),
        ClientTimeoutError(None, "read timed out"),
    ],
    ids=["500", "503", "408", "429", "connection", "timeout"],
)
def test_fetch_with_retries_retries_transient_failures_exactly_retries_times(error):
    from synapse_nb._pagination import fetch_with_retries

    seen: list[float] = []
    fetch = _failing([error] * 2, seen)
    assert fetch_with_retries(fetch, "p", retries=2, backoff=0) == {"results": ["p"]}
    assert len(seen) == 3
    seen.clear()
    with pytest.raises(type(error)):
        fetch_with_retries(_failing([error] * 3, seen), "p", retries=2, backoff=0)
    assert len(seen) == 3


@pytest.mark.parametrize("status", [400, 404, 409, 499])
def test_fetch_with_retries_does_not_retry_other_client_errors(status):
    from synapse_nb._pagination import fetch_with_retries

    seen: list[float] = []
    with pytest.raises(ClientError) as info:
        fetch_with_retries(_failing([ClientError(status, "no")], seen), "p", retries=3, backoff=0)
    assert info.value.status_code == status and len(seen) == 1


@pytest.fixture
def recorded_waits(monkeypatch):
    """The page retries' waits, recorded instead of slept (``_pagination`` only sleeps)."""
    import types

    from synapse_nb import _pagination

    waits: list[float] = []
    monkeypatch.setattr(_pagination, "time", types.SimpleNamespace(sleep=waits.append))
    return waits


def test_fetch_with_retries_doubles_its_wait_and_logs_each_attempt(caplog, recorded_waits):
    from synapse_nb._pagination import fetch_with_retries

    seen: list[float] = []
    error = ServerError(503, "down")
    with caplog.at_level(logging.DEBUG, logger="synapse_nb.pagination"):
        page = fetch_with_retries(_failing([error] * 3, seen), "p", retries=3, backoff=0.1, label=7)
    assert page == {"results": ["p"]} and len(seen) == 4
    assert recorded_waits == [0.1, 0.2, 0.4]
    assert [r.getMessage() for r in caplog.records] == [
        f"page 7 failed ({error}); attempt {n} in {wait}s"
        for n, wait in ((1, "0.1"), (2, "0.2"), (3, "0.4"))
    ]


def test_walker_defaults_retry_a_page_twice_a_second_apart(recorded_waits):
    seen: list[float] = []
    down = ServerError(503, "down")
    fetch = _failing([down] * 3, seen)
    first = {"count": 2, "next": "http://h/?page=2", "results": [1]}
    with pytest.raises(ServerError):
        list(PageWalker(fetch, first))
    assert len(seen) == 3  # 2 page retries by default
    assert recorded_waits == [1.0, 2.0]  # waits of 1 s, then 2 s


def test_walker_logs_pages_retried_recorded_and_past_the_end(caplog):
    down = ServerError(503, "down")
    calls: dict[str, int] = {}

    def fetch(url):
        calls[url] = calls.get(url, 0) + 1
        n = int(url.rsplit("=", 1)[1])
        if (n == 2 and calls[url] == 1) or n == 3:
            raise down
        if n == 4:
            raise NotFoundError(404, {"detail": "Invalid page."})
        return {"next": None, "results": [n]}

    failures: list[dict] = []
    first = {"count": 5, "next": "http://h/?page=2", "results": [1]}
    walker = PageWalker(
        fetch, first, max_workers=1, page_failures=failures, page_retries=1, page_retry_backoff=0
    )
    with caplog.at_level(logging.DEBUG, logger="synapse_nb.pagination"):
        assert list(walker) == [1, 2]
    assert [f["page"] for f in failures] == [3]
    assert sorted(r.getMessage() for r in caplog.records) == [
        f"page 2 failed ({down}); attempt 1 in 0.0s",
        f"page 3 failed ({down}); attempt 1 in 0.0s",
        "page 3 failed for good; recorded in page_failures",
        "page 4 is past the end; stopping",
    ]
