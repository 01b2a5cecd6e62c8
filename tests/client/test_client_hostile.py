"""A hostile server: where the token goes, and what a bad reply becomes.

Every test runs a real HTTP server (``hostile``) on 127.0.0.1 that answers what the test
scripts, and often a second one on another port (``other_port``): the same host, but another
origin, which must never receive the token.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from hostile import drip, json_reply, send

from synapse_nb import StreamLimits
from synapse_nb.clients import BackendClient, RayClient
from synapse_nb.exceptions import (
    ClientError,
    CrossOriginError,
    DeadlineExceededError,
    InvalidInputError,
    PaginationError,
    RateLimitError,
    ResponseTooLargeError,
    UnexpectedResponseError,
)

TOKEN = "hostile-test-token-0123456789"
NO_RETRY = {"total": 0}


def _client(srv, **kwargs) -> BackendClient:
    kwargs.setdefault("retry", NO_RETRY)
    return BackendClient(f"{srv.url}/api", api_token=TOKEN, **kwargs)


def _page(next_url, results, count=None):
    body = {"next": next_url, "previous": None, "results": results}
    if count is not None:
        body["count"] = count
    return json_reply(body)


# ----------------------------------------------------------------------------- origins
def test_next_link_on_another_port_of_the_same_host_gets_no_token(hostile, other_port):
    steal = f"{other_port.url}/api/projects/?page=2&page_size=1000"
    hostile.on("GET", "/api/projects/", _page(steal, [{"id": 1}], count=2))
    other_port.on("GET", "/api/projects/", _page(None, [{"id": 2}], count=2))
    with _client(hostile) as c:
        items, _count = c.list_projects(list_all=True)
        with pytest.raises(CrossOriginError, match="another origin") as info:
            list(items)
    assert not other_port.saw_token(TOKEN)
    assert other_port.requests == []
    assert TOKEN not in str(info.value)


def test_cursor_next_link_on_another_port_gets_no_token(hostile, other_port):
    steal = f"{other_port.url}/api/projects/?cursor=abc"
    hostile.on("GET", "/api/projects/", _page(steal, [{"id": 1}]))
    with _client(hostile) as c:
        items, _ = c.list_projects(list_all=True)
        with pytest.raises(CrossOriginError):
            list(items)
    assert other_port.requests == []


def test_url_with_userinfo_that_starts_with_base_url_gets_no_token(hostile, other_port):
    # Textually this starts with the base URL; in fact it is other_port with userinfo.
    steal = f"{hostile.url}@127.0.0.1:{other_port.port}/api/projects/?cursor=x"
    assert steal.startswith(hostile.url)
    hostile.on("GET", "/api/projects/", _page(steal, [{"id": 1}]))
    with _client(hostile) as c:
        items, _ = c.list_projects(list_all=True)
        with pytest.raises(CrossOriginError, match="userinfo"):
            list(items)
    assert other_port.requests == []


def test_chunked_upload_url_on_another_port_gets_no_token(hostile, other_port, tmp_path):
    stolen = f"{other_port.url}/api/chunked_upload/u1/"
    hostile.on("PUT", "/api/chunked_upload/", json_reply({"id": "u1", "offset": 1, "url": stolen}))
    other_port.on("PUT", "/api/chunked_upload/u1/", json_reply({"id": "u1", "offset": 2}))
    path = tmp_path / "three.bin"
    path.write_bytes(b"abc")
    with _client(hostile) as c, pytest.raises(ClientError):
        c.create_chunked_upload(path, chunk_size=1, resume_timeout=0)
    assert not other_port.saw_token(TOKEN)
    assert other_port.requests == []


def test_redirect_is_not_followed_and_carries_no_token(hostile, other_port):
    location = f"{other_port.url}/api/projects/1/"
    hostile.on(
        "GET", "/api/projects/1/", lambda h: send(h, 302, b"", headers={"Location": location})
    )
    other_port.on("GET", "/api/projects/1/", json_reply({"id": 1}))
    with _client(hostile) as c, pytest.raises(UnexpectedResponseError) as info:
        c.get_project(1)
    assert info.value.status_code == 302
    assert "redirect" in str(info.value) and "302" in str(info.value)
    assert other_port.requests == []


def test_downloads_from_another_origin_carry_no_token(hostile, other_port, tmp_path):
    other_port.on("GET", "/media/a.png", lambda h: send(h, 200, b"png", content_type="image/png"))
    files = {"image": f"{other_port.url}/media/a.png?sig=1"}
    hostile.on("GET", "/api/models/1/", json_reply({"id": 1, "file": files["image"]}))
    with _client(hostile, cache_dir=tmp_path) as c:
        model = c.get_model(1)
    assert model["file"].read_bytes() == b"png"
    assert len(other_port.requests) == 1 and not other_port.saw_token(TOKEN)


def test_echoed_token_is_redacted_from_error_headers(hostile):
    hostile.on(
        "GET",
        "/api/projects/1/",
        json_reply(
            {"detail": f"bad token Token {TOKEN}"},
            status=403,
            headers={"X-Echo": f"Token {TOKEN}", "Set-Cookie": f"t={TOKEN}"},
        ),
    )
    with _client(hostile) as c, pytest.raises(ClientError) as info:
        c.get_project(1)
    err = info.value
    assert err.status_code == 403
    assert err.headers["X-Echo"] == "Token ***"
    assert TOKEN not in repr(err.headers) and TOKEN not in str(err)


# ----------------------------------------------------------------------------- bad replies
@pytest.mark.parametrize(
    ("reply", "status", "kind"),
    [
        (lambda h: send(h, 200, "<html>login</html>", content_type="text/html"), 200, "text/html"),
        (lambda h: send(h, 200, "{not json"), 200, "application/json"),
        (
            lambda h: send(
                h, 301, "<a>moved</a>", content_type="text/html", headers={"Location": "/x/"}
            ),
            301,
            "text/html",
        ),
    ],
    ids=["html", "invalid-json", "redirect"],
)
def test_bad_replies_raise_instead_of_becoming_empty_results(hostile, reply, status, kind):
    for path in ("/api/projects/", "/api/tasks/7/"):
        hostile.on("GET", path, reply)
    hostile.on("PATCH", "/api/tasks/7/", reply)
    with _client(hostile) as c:
        with pytest.raises(UnexpectedResponseError) as listing:
            c.list_projects(list_all=True)
        with pytest.raises(UnexpectedResponseError) as getting:
            c.get_task(7)
        with pytest.raises(UnexpectedResponseError) as updating:
            c.update_task(7, {"priority": 1})
    for err in (listing.value, getting.value, updating.value):
        assert err.status_code == status
        assert str(status) in str(err) and kind in str(err)


def test_empty_body_where_json_is_due_raises(hostile):
    hostile.on("GET", "/api/tasks/7/", lambda h: send(h, 200, b""))
    hostile.on("PATCH", "/api/tasks/7/", lambda h: send(h, 200, b""))
    with _client(hostile) as c:
        with pytest.raises(UnexpectedResponseError, match="empty body"):
            c.get_task(7)
        with pytest.raises(UnexpectedResponseError, match="empty body") as info:
            c.update_task(7, {"priority": 1})
    assert info.value.status_code == 200


# ----------------------------------------------------------------------------- list walks
def test_next_link_back_to_a_visited_page_is_a_cycle(hostile):
    first = f"{hostile.url}/api/projects/?cursor=1"
    hostile.on("GET", "/api/projects/", _page(first, [{"id": 1}]))
    with _client(hostile) as c:
        items, _ = c.list_projects(list_all=True)
        started = time.monotonic()
        with pytest.raises(PaginationError, match="visited"):
            list(items)
    assert time.monotonic() - started < 10
    assert len(hostile.requests) <= 3


def test_a_billion_announced_items_stop_at_the_page_limit(hostile):
    nxt = f"{hostile.url}/api/projects/?page=2&page_size=1000"
    hostile.on("GET", "/api/projects/", _page(nxt, [{"id": 1}, {"id": 2}], count=10**9))
    with _client(hostile) as c, pytest.raises(PaginationError, match="max_pages"):
        items, _ = c.list_projects(list_all=True)
        list(items)
    assert len(hostile.requests) == 1  # refused from the first page's envelope


def test_more_pages_than_announced_stop_with_slack(hostile):
    counter = {"n": 0}

    def endless(h):
        counter["n"] += 1
        send(
            h,
            200,
            {
                "next": f"{hostile.url}/api/projects/?cursor={counter['n']}",
                "count": 3,
                "results": [{"id": counter["n"]}],
            },
        )

    hostile.on("GET", "/api/projects/", endless)
    with _client(hostile) as c:
        items, count = c.list_projects(list_all=True)
        with pytest.raises(PaginationError, match="announced 3"):
            list(items)
    assert count == 3 and counter["n"] < 20


def test_cursor_walk_without_count_stops_at_max_pages(hostile):
    counter = {"n": 0}

    def endless(h):
        counter["n"] += 1
        send(
            h,
            200,
            {
                "next": f"{hostile.url}/api/projects/?cursor={counter['n']}",
                "results": [{"id": counter["n"]}],
            },
        )

    hostile.on("GET", "/api/projects/", endless)
    with _client(hostile) as c:
        items, _ = c.list_projects(list_all=True, max_pages=5)
        with pytest.raises(PaginationError, match="max_pages=5"):
            list(items)
    assert counter["n"] == 5


def test_empty_page_with_a_next_link_stops(hostile):
    counter = {"n": 0}

    def empty(h):
        counter["n"] += 1
        send(h, 200, {"next": f"{hostile.url}/api/projects/?cursor={counter['n']}", "results": []})

    hostile.on("GET", "/api/projects/", empty)
    with _client(hostile) as c:
        items, _ = c.list_projects(list_all=True)
        with pytest.raises(PaginationError, match="empty page"):
            list(items)
    assert counter["n"] <= 3


@pytest.mark.parametrize("page", ["\u00b2", "9" * 5000], ids=["superscript", "5000 digits"])
def test_a_next_link_whose_page_is_no_plain_number_is_followed_as_a_link(hostile, page):
    # "²" passes str.isdigit() but not int(), and int() refuses 4,300+ digits: such a link is
    # walked as an opaque (cursor) link, never turned into a ValueError
    first = f"{hostile.url}/api/projects/?page={quote(page)}"

    def reply(h):
        if "page=" in h.path:
            send(h, 200, {"next": None, "previous": None, "results": [{"id": 2}]})
        else:
            send(h, 200, {"next": first, "previous": None, "results": [{"id": 1}]})

    hostile.on("GET", "/api/projects/", reply)
    with _client(hostile) as c:
        items, _ = c.list_projects(list_all=True)
        assert [item["id"] for item in items] == [1, 2]


@pytest.mark.parametrize(
    ("length", "outcome"),
    [("\u00b2", "read"), ("9" * 5000, "too large"), ("0" * 5000 + "20", "read")],
    ids=["superscript", "5000 digits", "zero padded"],
)
def test_a_content_length_that_is_no_plain_number_is_judged_without_int(hostile, length, outcome):
    body = b'{"id": 1, "pad": ""}'

    def reply(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", length)
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(body)

    hostile.on("GET", "/api/projects/1/", reply)
    with _client(hostile, limits={"max_json_bytes": 1000}) as c:
        if outcome == "read":
            assert c.get_project(1) == {"id": 1, "pad": ""}
        else:
            with pytest.raises(ResponseTooLargeError, match="a 5000-digit number of bytes"):
                c.get_project(1)


# ----------------------------------------------------------------------------- size and time
def test_reply_above_max_json_bytes_is_refused(hostile):
    big = {"detail": "x" * 5000}
    hostile.on("GET", "/api/projects/1/", json_reply(big))
    with (
        _client(hostile, limits={"max_json_bytes": 1000}) as c,
        pytest.raises(ResponseTooLargeError, match="max_json_bytes=1000"),
    ):
        c.get_project(1)


def test_reply_without_length_above_max_json_bytes_is_cut_off(hostile):
    def chunked(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Connection", "close")
        h.end_headers()
        for _ in range(100):
            h.wfile.write(b" " * 1000)

    hostile.on("GET", "/api/projects/1/", chunked)
    with (
        _client(hostile, limits={"max_json_bytes": 10_000}) as c,
        pytest.raises(ResponseTooLargeError, match="the rest was not read"),
    ):
        c.get_project(1)


def test_dripping_reply_ends_at_the_deadline(hostile):
    hostile.on("GET", "/api/projects/1/", drip(b'{"id": 1}' + b" " * 100, every=0.2))
    with _client(hostile, timeout={"connect": 2, "read": 1}, limits={"deadline": 1}) as c:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError, match=r"deadline of 1\.0s"):
            c.get_project(1)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("retry_after", ["-5", "abc", "99999999999999999999"])
def test_bad_retry_after_is_a_bounded_rate_limit(hostile, retry_after):
    hostile.on(
        "GET",
        "/api/projects/1/",
        json_reply({"detail": "slow down"}, status=429, headers={"Retry-After": retry_after}),
    )
    retry = {"total": 3, "backoff_factor": 0.01, "backoff_jitter": 0, "retry_after_max": 1}
    with _client(hostile, retry=retry) as c:
        started = time.monotonic()
        with pytest.raises(RateLimitError):
            c.get_project(1)
    assert time.monotonic() - started < 5
    assert len(hostile.requests) == 4


def test_total_retry_time_of_a_call_is_capped(hostile):
    hostile.on(
        "GET",
        "/api/projects/1/",
        json_reply({"detail": "slow down"}, status=429, headers={"Retry-After": "1"}),
    )
    retry = {"total": 50, "retry_after_max": 1, "max_retry_time": 1.5}
    with _client(hostile, retry=retry) as c:
        started = time.monotonic()
        with pytest.raises(RateLimitError):
            c.get_project(1)
    elapsed = time.monotonic() - started
    assert elapsed < 3.5
    assert 2 <= len(hostile.requests) <= 4


# ----------------------------------------------------------------------------- log tails
def _sse(*events):
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    return lambda h: send(h, 200, body, content_type="text/event-stream")


def test_log_tails_decode_sse_with_one_decoder_and_honour_stream_limits(hostile):
    lines = [{"type": "log", "message": f"line {i}"} for i in range(5)]
    hostile.on("GET", "/agent/jobs/j1/logs/stream/", _sse(*lines, {"type": "complete"}))
    hostile.on(
        "GET",
        "/api/jobs/7/tail_console_logs/",
        _sse({"type": "connected"}, *lines[:2], {"type": "error", "message": "boom"}),
    )
    with RayClient(f"{hostile.url}/agent", agent_token="a" * 40, retry=0) as ray:
        assert list(ray.stream_tail_job_logs("j1")) == [f"line {i}\n" for i in range(5)]
    limited = RayClient(
        f"{hostile.url}/agent",
        agent_token="a" * 40,
        retry=0,
        stream_limits=StreamLimits(max_lines=3),
    )
    with limited, pytest.raises(ClientError, match="more than 3 lines") as info:
        list(limited.stream_tail_job_logs("j1"))
    assert info.value.status_code == 429
    with _client(hostile) as c:
        entries = c.tail_job_console_logs(7)
        assert [e["message"] for e in (next(entries), next(entries))] == ["line 0", "line 1"]
        with pytest.raises(ClientError, match="boom"):
            next(entries)


def test_stream_limits_reject_bad_values():
    with pytest.raises(InvalidInputError, match="max_lines"):
        StreamLimits(max_lines=0)
    with pytest.raises(InvalidInputError, match="stream_limits"):
        RayClient("http://127.0.0.1:9", agent_token="a" * 40, stream_limits={"max_lines": 1})


def test_reply_headers_dripping_past_the_deadline_end_the_call(hostile):
    def drip_headers(h):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"x" * 40
        for i in range(len(head)):
            try:
                h.wfile.write(head[i : i + 1])
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    hostile.on("GET", "/api/projects/1/", drip_headers)
    with _client(hostile, timeout={"connect": 2, "read": 1}, limits={"deadline": 1}) as c:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            c.get_project(1)
    assert time.monotonic() - started < 3


def test_an_upload_body_is_not_cut_off_by_the_call_deadline(hostile, tmp_path):
    # Sending a chunk takes as long as the link needs; the reply then comes late too.
    def slow_ack(h):
        time.sleep(1.5)
        send(h, 200, {"id": "u1", "offset": 3, "url": f"{hostile.url}/api/chunked_upload/u1/"})

    hostile.on("PUT", "/api/chunked_upload/", slow_ack)
    hostile.on(
        "POST",
        "/api/chunked_upload/u1/",
        json_reply({"id": "u1", "offset": 3, "completed_at": "now", "status": "complete"}),
    )
    path = tmp_path / "three.bin"
    path.write_bytes(b"abc")
    with _client(hostile, limits={"deadline": 1}) as c:
        done = c.create_chunked_upload(path, resume_timeout=0)
    assert done["status"] == "complete"
