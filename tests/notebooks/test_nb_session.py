"""``synapse_nb.session.connect``: which backend it picks, and that it checks it, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from demo_backends import backend_fixture

from synapse_nb import session
from synapse_nb.exceptions import AuthenticationError, ClientError, InvalidInputError
from synapse_nb.server import ServerHandle
from synapse_nb.session import connect, connection_source, embedded_backend, list_projects

DEAD_URL = "http://127.0.0.1:9"  # discard port: nothing listens there


@pytest.fixture(autouse=True)
def no_backend_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in session.EMBEDDED_URL_ENV, session.SYNAPSE_URL_ENV, session.TOKEN_ENV:
        monkeypatch.delenv(name, raising=False)


other = backend_fixture(
    doc="A backend that is not the kernel's embedded one (as `synapse-nb demo` would run)."
)


@pytest.fixture
def stop_embedded() -> Iterator[None]:
    yield
    handle = embedded_backend()
    if handle is not None:
        handle.stop()


def requests_to(srv: ServerHandle, mark: int) -> list[dict]:
    return list(srv.requests)[mark:]


def test_synapse_nb_url_from_the_demo_command_is_used(other, monkeypatch):
    monkeypatch.setenv("SYNAPSE_NB_URL", other.url)
    monkeypatch.setenv("SYNAPSE_API_TOKEN", other.token)
    monkeypatch.setenv("SYNAPSE_URL", DEAD_URL)  # loses: the demo backend comes first
    mark = len(other.requests)
    client = connect()
    assert client.base_url == other.url.rstrip("/")
    assert connection_source(client) == (
        "the embedded backend of `synapse-nb demo` / Binder ($SYNAPSE_NB_URL)"
    )
    seen = requests_to(other, mark)
    assert [r["path"] for r in seen] == ["/task_tags/"]  # the readiness check, nothing else
    assert seen[0]["headers"]["synapse-access-token"] == f"Token {other.token}"
    assert len(client.list_tasks({"project": 1}, list_all=True)) == 240


def test_synapse_url_of_a_real_deployment_is_used(other, monkeypatch):
    monkeypatch.setenv("SYNAPSE_URL", other.url)
    monkeypatch.setenv("SYNAPSE_API_TOKEN", other.token)
    client = connect()
    assert client.base_url == other.url.rstrip("/")
    assert connection_source(client) == f"Synapse at {client.base_url} ($SYNAPSE_URL)"


def test_arguments_win_over_the_environment(other, monkeypatch):
    monkeypatch.setenv("SYNAPSE_NB_URL", DEAD_URL)
    monkeypatch.setenv("SYNAPSE_API_TOKEN", "not-the-token")
    client = connect(other.url, api_token=other.token)
    assert connection_source(client).endswith("(given to connect())")
    assert list_projects(client).title.tolist()[0] == "Street detection"


def test_a_url_without_a_token_is_refused_before_any_request(other, monkeypatch):
    monkeypatch.setenv("SYNAPSE_NB_URL", other.url)
    mark = len(other.requests)
    with pytest.raises(InvalidInputError) as caught:
        connect()
    assert caught.value.field == "SYNAPSE_API_TOKEN"
    assert "must be set when SYNAPSE_NB_URL is set" in str(caught.value)
    assert requests_to(other, mark) == []


def test_a_bad_url_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("SYNAPSE_URL", "synapse.example.com")
    monkeypatch.setenv("SYNAPSE_API_TOKEN", "tok")
    with pytest.raises(InvalidInputError) as caught:
        connect()
    assert caught.value.field == "SYNAPSE_URL"
    assert "'synapse.example.com'" in str(caught.value)


def test_a_refused_token_fails_in_connect_without_showing_it(other):
    secret = "f" * 40
    with pytest.raises(AuthenticationError) as caught:
        connect(other.url, api_token=secret)
    text = str(caught.value) + "".join(caught.value.__notes__)
    assert secret not in text
    assert "given to connect()" in text


def test_an_unreachable_backend_fails_in_connect_naming_its_source(monkeypatch):
    monkeypatch.setenv("SYNAPSE_URL", DEAD_URL)
    monkeypatch.setenv("SYNAPSE_API_TOKEN", "secret-token-value")
    with pytest.raises(ClientError) as caught:
        connect(timeout={"connect": 1, "read": 1}, retry=0)
    text = str(caught.value) + "".join(getattr(caught.value, "__notes__", []))
    assert "($SYNAPSE_URL)" in text
    assert "secret-token-value" not in text


def test_check_false_sends_nothing(other):
    mark = len(other.requests)
    client = connect(other.url, api_token=other.token, check=False)
    assert requests_to(other, mark) == []
    assert "secret" not in repr(client) and other.token not in repr(client)


@pytest.mark.usefixtures("stop_embedded")
def test_the_embedded_backend_starts_once_per_kernel_and_is_reused():
    first = connect()
    handle = embedded_backend()
    assert handle is not None and handle.running
    assert connection_source(first) == "the embedded demo backend, started by this kernel"
    second = connect(embedded=True)
    assert second.base_url == first.base_url and embedded_backend() is handle
    projects = list_projects(second)
    assert projects.title.tolist() == ["Street detection", "Pedestrian pose", "Upload sandbox"]
    with pytest.raises(InvalidInputError) as caught:
        connect(server_options={"tasks": 5})
    assert caught.value.field == "server_options" and "already runs" in str(caught.value)
    handle.stop()
    assert embedded_backend() is None
    third = connect(server_options={"tasks": 5})
    assert embedded_backend() is not handle and third.base_url != first.base_url


@pytest.mark.usefixtures("stop_embedded")
def test_embedded_true_ignores_the_environment(other, monkeypatch):
    monkeypatch.setenv("SYNAPSE_NB_URL", other.url)
    monkeypatch.setenv("SYNAPSE_API_TOKEN", other.token)
    client = connect(embedded=True)
    assert client.base_url != other.url.rstrip("/")
    assert embedded_backend() is not None


def test_embedded_false_without_a_backend_is_refused():
    with pytest.raises(InvalidInputError) as caught:
        connect(embedded=False)
    assert caught.value.field == "embedded"
    assert embedded_backend() is None  # nothing was started


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": 8000}, "url"),
        ({"url": "ftp://host"}, "url"),
        ({"api_token": "t"}, "url"),
        ({"url": DEAD_URL, "api_token": 12}, "api_token"),
        ({"url": DEAD_URL, "api_token": "  "}, "api_token"),
        ({"url": DEAD_URL, "embedded": True}, "embedded"),
        ({"embedded": "yes"}, "embedded"),
        ({"check": "no"}, "check"),
        ({"server_options": ["demo"]}, "server_options"),
        ({"url": DEAD_URL, "server_options": {"tasks": 5}}, "server_options"),
        ({"embedded": False, "server_options": {"tasks": 5}}, "server_options"),
        ({"embedded": True, "server_options": {"port": 99999}}, "server_options"),
        ({"embedded": True, "server_options": {"latency_ms": float("nan")}}, "server_options"),
        # a misspelled client option, before any backend is started (it was a TypeError
        # from inside the client, after the embedded backend had started)
        ({"tiemout": 3}, "tiemout"),
        ({"url": DEAD_URL, "api_token": "t", "max_worker": 2}, "max_worker"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(InvalidInputError) as caught:
        connect(**kwargs)
    assert caught.value.field == field
    assert embedded_backend() is None


def test_token_values_never_reach_the_error():
    with pytest.raises(InvalidInputError) as caught:
        connect(DEAD_URL, api_token=["my-secret-token"])
    assert "my-secret-token" not in str(caught.value)


@pytest.mark.usefixtures("stop_embedded")
def test_an_unknown_server_option_is_named():
    with pytest.raises(InvalidInputError) as caught:
        connect(embedded=True, server_options={"colour": "blue"})
    assert caught.value.field == "server_options" and "colour" in str(caught.value)


def test_connection_source_of_another_client_is_refused(other):
    from synapse_nb.frames import Client

    with pytest.raises(InvalidInputError) as caught:
        connection_source(Client(other.url, api_token=other.token))
    assert caught.value.field == "client"


def test_list_projects_follows_every_page(other):
    client = connect(other.url, api_token=other.token)
    mark = len(other.requests)
    projects = list_projects(client, {"page_size": 1})
    pages = [r["query"] for r in requests_to(other, mark) if r["path"] == "/projects/"]
    assert len(pages) == 3 and all("page_size=1" in q for q in pages)
    assert projects.index.tolist() == [1, 2, 3]
    assert projects.loc[1, "n_classes"] == 7 and projects.loc[3, "data_collection"] == 2
    assert str(projects["created"].dtype).startswith("datetime64") and projects.index.name == "id"


def test_list_projects_refuses_bad_input(other):
    client = connect(other.url, api_token=other.token)
    with pytest.raises(InvalidInputError):
        list_projects(client, params="page=2")
    with pytest.raises(InvalidInputError) as caught:
        list_projects(object())
    assert caught.value.field == "client"


def test_list_projects_takes_the_plain_backend_client_too(other):
    from synapse_nb.clients import BackendClient

    with BackendClient(other.url, api_token=other.token) as raw:
        projects = list_projects(raw, {"search": "pose"})
    assert projects.title.tolist() == ["Pedestrian pose"]
