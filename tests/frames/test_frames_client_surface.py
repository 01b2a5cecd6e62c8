"""The notebook Client owns a BackendClient and offers every one of its methods."""

from __future__ import annotations

import inspect

import pytest

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client
from synapse_nb.frames.client import as_client

#: the listings whose notebook version returns a frame instead of the raw envelope
FRAME_LISTINGS = {
    "list_tasks",
    "list_assignments",
    "list_ground_truth_events",
    "list_models",
    "list_jobs",
    "list_task_tags",
    "list_data_units",
    "list_data_collection",
    "list_data_collections",
}
PUBLIC = sorted(n for n in dir(BackendClient) if not n.startswith("_"))


def test_client_has_a_backend_client_and_is_not_one(client: Client) -> None:
    assert not issubclass(Client, BackendClient)
    assert type(client.raw) is BackendClient


@pytest.mark.parametrize("name", PUBLIC)
def test_every_backend_name_is_reachable_and_listed(client: Client, name: str) -> None:
    assert name in dir(client)  # tab completion
    value = getattr(client, name)
    if name in FRAME_LISTINGS or name == "close":
        return
    assert value == getattr(client.raw, name)


@pytest.mark.parametrize("name", sorted(set(PUBLIC) - FRAME_LISTINGS - {"close"}))
def test_forwarded_methods_keep_the_backend_signature(name: str) -> None:
    raw = inspect.getattr_static(BackendClient, name)
    if not inspect.isfunction(raw):
        return  # an attribute (page_size, retry): compared by value above
    assert inspect.signature(getattr(Client, name)) == inspect.signature(raw)


def test_forwarded_calls_reach_the_server(client: Client) -> None:
    assert client.get_task(1)["id"] == 1
    assert client.get_task(1) == client.raw.get_task(1)
    assert client.list_projects()["count"] == client.raw.list_projects()["count"]


def test_attributes_are_shared_with_the_raw_client(demo) -> None:
    with Client(demo.url, api_token=demo.token, max_workers=3) as client:
        assert client.max_workers == client.raw.max_workers == 3
        client.max_workers = 5
        assert client.raw.max_workers == 5
        assert client.base_url == client.raw.base_url == demo.url.rstrip("/")


def test_a_backend_client_is_wrapped_once_at_the_entry(demo) -> None:
    with BackendClient(demo.url, api_token=demo.token) as raw:
        wrapped = as_client(raw, "ResourceTree")
        assert wrapped.raw is raw
        assert as_client(wrapped, "ResourceTree") is wrapped
        tags = wrapped.list_task_tags()
        assert tags.synapse.client() is wrapped
    with pytest.raises(InvalidInputError, match="client"):
        as_client(object(), "ResourceTree")
    with pytest.raises(InvalidInputError, match="raw"):
        Client.wrap("http://127.0.0.1:9")
