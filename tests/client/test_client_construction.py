"""BackendClient construction: tokens, headers on the wire, timeouts, lifecycle, repr."""

from __future__ import annotations

import logging

import pytest

from synapse_nb._config import RetryPolicy, Timeout
from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import AuthenticationError, ClientError, InvalidInputError


def test_api_token_is_sent_as_synapse_access_token(demo_srv, wire):
    with BackendClient(demo_srv.url, api_token=demo_srv.token) as c:
        assert c.get_project(1)["id"] == 1
    headers = wire.one("GET", "projects/1/")["headers"]
    assert headers["synapse-access-token"] == f"Token {demo_srv.token}"
    assert "authorization" not in headers
    assert headers["accept"] == "application/json"


def test_env_fallback_and_agent_tenant_headers(demo_srv, wire, monkeypatch):
    monkeypatch.setenv("SYNAPSE_API_TOKEN", demo_srv.token)
    monkeypatch.setenv("SYNAPSE_AGENT_TOKEN", demo_srv.agent_token)
    with BackendClient(demo_srv.url, tenant="demo") as c:
        c.get_project(1)
    headers = wire.one("GET", "projects/1/")["headers"]
    assert headers["synapse-access-token"] == f"Token {demo_srv.token}"
    assert headers["synapse-agent"] == f"Token {demo_srv.agent_token}"
    assert headers["synapse-tenant"] == "Token demo"


def test_access_token_alias_and_legacy_authorization(demo_srv, wire):
    with BackendClient(demo_srv.url, access_token=demo_srv.token) as c:
        c.get_project(1)
    assert wire.one("GET", "projects/1/")["headers"]["synapse-access-token"] == (
        f"Token {demo_srv.token}"
    )
    wire.clear()
    with BackendClient(demo_srv.url, authorization_token=demo_srv.token) as c:
        c.get_project(1)
    headers = wire.one("GET", "projects/1/")["headers"]
    assert headers["authorization"] == f"Token {demo_srv.token}"
    assert "synapse-access-token" not in headers


def test_conflicting_tokens_rejected_without_echoing_them():
    with pytest.raises(InvalidInputError) as info:
        BackendClient(
            "http://127.0.0.1:9", api_token="first-token-aaaa", access_token="second-bbbb"
        )
    assert info.value.field == "access_token"
    assert "first-token-aaaa" not in str(info.value)
    assert "second-bbbb" not in str(info.value)


def test_token_with_spaces_rejected_without_echo():
    with pytest.raises(InvalidInputError) as info:
        BackendClient("http://127.0.0.1:9", api_token="abc def ghi")
    assert info.value.field == "api_token"
    assert "abc def" not in str(info.value)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "  \t\n"])
@pytest.mark.parametrize(
    ("field", "header"),
    [
        ("api_token", "synapse-access-token"),
        ("access_token", "synapse-access-token"),
        ("authorization_token", "authorization"),
    ],
)
def test_token_read_from_a_file_is_sent_without_its_final_newline(
    demo_srv, wire, field, header, ending
):
    # open("token.txt").read() keeps the newline: stripped as connect() strips it (it used
    # to reach requests, whose InvalidHeader message quoted the whole token)
    with BackendClient(demo_srv.url, **{field: demo_srv.token + ending}) as c:
        assert c.get_project(1)["id"] == 1
        assert demo_srv.token not in repr(c)
    assert wire.one("GET", "projects/1/")["headers"][header] == f"Token {demo_srv.token}"


def test_agent_token_and_frames_client_strip_the_final_newline(demo_srv, wire):
    from synapse_nb.frames import Client

    with BackendClient(
        demo_srv.url, api_token=demo_srv.token, agent_token=demo_srv.agent_token + "\n"
    ) as c:
        c.list_agents()
    assert wire.one("GET", "agents/")["headers"]["synapse-agent"] == (
        f"Token {demo_srv.agent_token}"
    )
    wire.clear()
    with Client(demo_srv.url, api_token=demo_srv.token + "\n", cache=False) as c:
        c.raw.get_project(1)
    assert wire.one("GET", "projects/1/")["headers"]["synapse-access-token"] == (
        f"Token {demo_srv.token}"
    )


def test_token_env_vars_are_stripped_and_blank_means_unset(demo_srv, wire, monkeypatch):
    monkeypatch.setenv("SYNAPSE_API_TOKEN", demo_srv.token + "\n")
    monkeypatch.setenv("SYNAPSE_AGENT_TOKEN", demo_srv.agent_token + "\r\n")
    with BackendClient(demo_srv.url) as c:
        c.get_project(1)
    headers = wire.one("GET", "projects/1/")["headers"]
    assert headers["synapse-access-token"] == f"Token {demo_srv.token}"
    assert headers["synapse-agent"] == f"Token {demo_srv.agent_token}"
    monkeypatch.setenv("SYNAPSE_API_TOKEN", "\n")  # an empty variable, as connect() reads it
    monkeypatch.setenv("SYNAPSE_AGENT_TOKEN", " ")
    with BackendClient(demo_srv.url) as c:
        assert not c.has_api_token and not c.has_agent_token


_SECRET = "file-token-SECRET-98765"


@pytest.mark.parametrize(
    "value",
    [
        _SECRET[:9] + "\n" + _SECRET[9:],
        _SECRET + "\n\x00",
        _SECRET + "\x7f",
        _SECRET + "\x00\n",
        "\t" + _SECRET[:9] + " " + _SECRET[9:] + "\n",
    ],
)
@pytest.mark.parametrize("field", ["api_token", "agent_token", "tenant", "authorization_token"])
def test_token_with_control_characters_inside_is_refused_without_echo(demo_srv, wire, field, value):
    with pytest.raises(InvalidInputError) as info:
        BackendClient(demo_srv.url, **{field: value})
    err = info.value
    assert err.field == field and err.value == f"<{len(value)} characters>"
    assert "line breaks or other control characters" in str(err)
    for blob in (str(err), repr(err), repr(err.response), repr(err.args)):
        assert _SECRET[:9] not in blob and _SECRET[9:] not in blob
    assert wire.all() == []


def test_blank_token_argument_is_refused_without_echo():
    with pytest.raises(InvalidInputError) as info:
        BackendClient("http://127.0.0.1:9", api_token=" \n")
    assert info.value.field == "api_token" and info.value.value == "<2 characters>"
    assert "only whitespace" in str(info.value)


def test_url_host_is_added_to_every_request(demo_srv, wire):
    with BackendClient(demo_srv.url, api_token=demo_srv.token, url_host="example.org") as c:
        c.get_project(1)
        c.list_task_tags({"project": 1})
    for entry in wire.all():
        assert wire.query(entry)["url_host"] == ["example.org"]


def test_default_timeout_and_policy():
    with BackendClient("http://127.0.0.1:9") as c:
        assert c.timeout == Timeout(connect=5, read=30)
        assert c.retry == RetryPolicy()
    with BackendClient("http://127.0.0.1:9", timeout={"connect": 1, "read": 2}, retry=0) as c:
        assert c.timeout.as_requests() == (1.0, 2.0)
        assert c.retry.total == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_url": "ftp://h/"}, "base_url"),
        ({"base_url": 42}, "base_url"),
        ({"timeout": {"connect": -1}}, "timeout"),
        ({"timeout": {"conect": 3}}, "timeout"),
        ({"retry": -2}, "retry"),
        ({"max_workers": 0}, "max_workers"),
        ({"page_size": "100"}, "page_size"),
    ],
)
def test_bad_constructor_arguments(kwargs, field):
    args = {"base_url": "http://127.0.0.1:9", **kwargs}
    with pytest.raises(InvalidInputError) as info:
        BackendClient(**args)
    assert info.value.field == field


def test_repr_and_logs_never_show_tokens(demo_srv, caplog):
    secret = demo_srv.issue_token("admin")
    caplog.set_level(logging.DEBUG)
    with BackendClient(demo_srv.url, api_token=secret, agent_token=demo_srv.agent_token) as c:
        text = repr(c)
        c.get_project(1)
        with pytest.raises(ClientError) as info:
            c.get_project(999_999)
    assert "api_token=***" in text
    for blob in (text, str(info.value), repr(info.value), caplog.text):
        assert secret not in blob
        assert demo_srv.agent_token not in blob
    assert "GET projects/1/ -> 200" in caplog.text


def test_wrong_token_is_authentication_error(demo_srv):
    with (
        BackendClient(demo_srv.url, api_token="not-a-real-token") as c,
        pytest.raises(AuthenticationError) as info,
    ):
        c.get_project(1)
    assert info.value.status_code == 401
    assert "not-a-real-token" not in str(info.value)
    assert str(info.value).startswith("GET projects/1/ failed (401)")


def test_closed_client_refuses_requests(demo_srv, wire):
    c = BackendClient(demo_srv.url, api_token=demo_srv.token)
    c.close()
    c.close()  # idempotent
    with pytest.raises(ClientError, match="closed"):
        c.get_project(1)
    assert wire.all() == []
