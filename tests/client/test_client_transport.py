"""Transport: retries (which methods, which statuses), Retry-After, error mapping, logging.

Every test runs against its own server (``fresh_server`` from the top-level conftest) because
it changes the server's fault settings.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest
from client_helpers import Wire

from synapse_nb._config import RetryPolicy, Timeout
from synapse_nb._transport import LoggingRetry, Transport, redact
from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import (
    ClientConnectionError,
    ClientError,
    ClientTimeoutError,
    RateLimitError,
    ResponseIncompleteError,
    ServerError,
)


@pytest.fixture
def srv(fresh_server):
    return fresh_server


def _client(srv, **kwargs):
    retry = kwargs.pop(
        "retry", {"total": 2, "backoff_factor": 0.01, "backoff_jitter": 0.0, "backoff_max": 0.05}
    )
    return BackendClient(srv.url, api_token=srv.token, retry=retry, **kwargs)


def test_get_is_retried_on_503_then_raises_server_error(srv, caplog):
    caplog.set_level(logging.DEBUG)
    srv.set_faults(rate_503=1.0, retry_after=0)
    wire = Wire(srv)
    wire.clear()
    with _client(srv) as c, pytest.raises(ServerError) as info:
        c.list_storages()
    assert info.value.status_code == 503
    assert len(wire.all("GET", "storages/")) == 3  # first try + 2 retries
    retries = [
        r for r in caplog.records if r.name == "synapse_nb.transport" and "retrying" in r.msg
    ]
    assert len(retries) == 2
    assert retries[0].getMessage().startswith("retrying GET /storages/ after status 503")
    assert srv.token not in caplog.text


def test_post_is_not_retried_on_503(srv):
    srv.set_faults(rate_503=1.0, retry_after=0)
    wire = Wire(srv)
    wire.clear()
    with _client(srv) as c, pytest.raises(ServerError):
        c.create_plugin({"name": "never twice"})
    assert len(wire.all("POST", "plugins/")) == 1


def test_post_is_retried_on_429_because_nothing_was_applied(srv):
    srv.set_faults(rate_429=0.5, retry_after=0, seed=3)
    wire = Wire(srv)
    wire.clear()
    with _client(srv, retry={"total": 8, "backoff_factor": 0.01, "backoff_jitter": 0}) as c:
        for i in range(6):
            c.create_plugin({"name": f"p{i}", "code": f"p-{i}"})
    assert len(wire.all("POST", "plugins/")) > 6  # some were refused with 429, then retried
    srv.set_faults()
    with _client(srv) as c:
        codes = [p["code"] for p in c._get("plugins/", {"page_size": 100})["results"]]
    assert sorted(c for c in codes if c.startswith("p-")) == [f"p-{i}" for i in range(6)]


def test_rate_limit_error_after_retries_and_retry_after_is_honoured(srv):
    srv.set_faults(rate_429=1.0, retry_after=1)
    started = time.monotonic()
    with (
        _client(srv, retry={"total": 1, "backoff_factor": 0}) as c,
        pytest.raises(RateLimitError) as info,
    ):
        c.list_storages()
    assert time.monotonic() - started >= 0.95  # slept the server's Retry-After once
    assert info.value.status_code == 429
    # the server sends "retry-after" in lower case; the error's headers take any case
    assert info.value.headers["Retry-After"] == info.value.headers["retry-after"] == "1"
    assert info.value.headers.get("RETRY-AFTER") == "1"


def test_retry_after_http_date_is_parsed_and_capped():
    retry = RetryPolicy(retry_after_max=60).to_urllib3()
    assert retry.parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") == 60
    assert retry.parse_retry_after("3") == 3
    assert isinstance(retry, LoggingRetry)
    assert not retry.is_retry("POST", 503) and retry.is_retry("PUT", 503)
    assert retry.is_retry("POST", 429)
    assert not RetryPolicy(retry_post_on_429=False).to_urllib3().is_retry("POST", 429)


def test_dropped_connections_on_gets_are_retried(srv):
    srv.set_faults(rate_drop=0.5, seed=5)
    with _client(srv, retry={"total": 10, "backoff_factor": 0.01, "backoff_jitter": 0}) as c:
        for _ in range(10):
            assert c.list_storages()["count"] >= 0
    assert srv.fault_counts["drop"] > 0


def test_dropped_post_is_reported_as_incomplete(srv):
    srv.set_faults(rate_drop=1.0)
    with _client(srv) as c, pytest.raises(ResponseIncompleteError) as info:
        c.create_plugin({"name": "maybe applied"})
    assert info.value.status_code is None
    assert "may have applied it" in str(info.value)


def test_read_timeout_maps_to_timeout_error(srv):
    srv.set_faults(latency_ms=800)
    with _client(srv, timeout={"connect": 2, "read": 0.2}, retry=0) as c:
        with pytest.raises(ClientTimeoutError) as info:
            c.list_storages()
        assert info.value.status_code == 408
        with pytest.raises(ResponseIncompleteError):
            c.create_plugin({"name": "slow"})


def test_connection_refused_is_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with (
            BackendClient(f"http://127.0.0.1:{port}", api_token="tok-12345", retry=1) as c,
            pytest.raises(ClientConnectionError) as info,
        ):
            c.get_project(1)
    assert info.value.status_code is None
    assert str(info.value).startswith("GET projects/1/ failed: could not connect")
    assert "tok-12345" not in str(info.value)


def test_credentials_are_not_sent_to_another_host():
    headers = {"Synapse-Access-Token": "Token abcd"}
    with (
        Transport("http://127.0.0.1:9", auth_headers=headers) as t,
        pytest.raises(ClientError, match="refusing to send credentials"),
    ):
        t.request("GET", "http://example.invalid/sdk/tasks/?page=2")
    assert redact("x abcd y") == "x abcd y"  # forgotten once the transport closed


@pytest.mark.parametrize(
    ("auth", "extra"),
    [
        ({"Synapse-Access-Token": "Token hdr-SECRET-4242\n"}, None),
        ({"Synapse-Access-Token": "Token hdr-SECRET-4242\r\nX-Evil: 1"}, None),
        ({"Synapse-Access-Token": "Token ok-token-1234"}, {"SYNAPSE-Agent": " hdr-SECRET-4242"}),
    ],
)
def test_invalid_header_value_is_named_never_shown(demo_srv, wire, auth, extra):
    # requests' InvalidHeader quotes the value (a token) in its message: the transport
    # reports which header it was and nothing of its value
    with Transport(demo_srv.url, auth_headers=auth) as t, pytest.raises(ClientError) as info:
        t.request("GET", "projects/1/", headers=extra)
    err = info.value
    name = next(iter(extra or auth))
    assert str(err).startswith(f"GET projects/1/ failed: the request header {name!r} cannot")
    assert err.status_code is None
    for blob in (str(err), repr(err), repr(err.args), repr(err.response)):
        assert "hdr-SECRET-4242" not in blob
        assert "SECRET" not in blob
    assert err.__cause__ is None and err.__suppress_context__
    assert wire.all() == []


def test_header_value_of_another_type_is_named_never_shown(demo_srv, wire):
    # requests quotes the whole (name, value) pair of a header that is not a str
    with (
        Transport(demo_srv.url, auth_headers={"X-Key": "Token hdr-SECRET-4242"}) as t,
        pytest.raises(ClientError) as info,
    ):
        t.request("GET", "projects/1/", headers={"X-Bad": 12345678})
    assert "the request header 'X-Bad' cannot be sent" in str(info.value)
    for blob in (str(info.value), repr(info.value)):
        assert "hdr-SECRET-4242" not in blob and "12345678" not in blob
    assert wire.all() == []


def test_timeout_value_object():
    assert Timeout.coerce((1, None)).as_requests() == (1.0, None)
    with pytest.raises(ValueError, match="connect"):
        Timeout(connect=0)


def test_only_the_transport_sends_http():
    # One HTTP seam: outside the embedded server, no module but _transport.py imports an
    # HTTP client, so retries, limits, the origin check and the error mapping cannot be
    # bypassed (file downloads, previews and export originals included). urllib3's
    # multipart encoder (fields, filepost) builds bodies and sends nothing.
    import re
    from pathlib import Path

    import synapse_nb

    package = Path(synapse_nb.__file__).parent
    client = re.compile(
        r"^\s*(import|from)\s+(requests|urllib3(?!\.(fields|filepost)\b)|httpx|aiohttp|"
        r"websockets|urllib\.request|http\.client)\b",
        re.M,
    )
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.parts[len(package.parts)] != "server"
        and path.name != "_transport.py"
        and client.search(path.read_text())
    ]
    assert offenders == []
