"""Helpers of the preview, upload and job-monitor widget tests (no browser).

Widgets get a dummy comm (ipywidgets' own test approach): state messages are recorded
instead of sent to a frontend, so a test can assert on ``get_state()`` and on what would have
gone to the browser, and can drive a widget the way the frontend does, through
``_handle_msg`` with an ``update`` (a trait set in the browser) or a ``custom`` click.

The server fixtures start real embedded backends on 127.0.0.1; nothing is mocked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import ipywidgets
import ipywidgets.widgets.widget as widget_module
import pytest
import requests
from demo_backends import backend_fixture, client_fixture

from synapse_nb.server import ServerHandle


class DummyComm:
    """Stands in for a kernel comm; records what would be sent to the frontend."""

    kernel = "Truthy"

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = uuid.uuid4().hex
        self.opened_with = kwargs
        self.messages: list[dict[str, Any]] = []

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self.messages.append({"data": data, "buffers": buffers or []})

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def dummy_comm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Widgets created in the test open a :class:`DummyComm`."""
    monkeypatch.setattr(widget_module.comm, "create_comm", lambda **kw: DummyComm(**kw))
    yield
    # closed here rather than by the garbage collector at interpreter exit, when
    # ipywidgets' module globals are already gone
    ipywidgets.Widget.close_all()


def sent_updates(widget: ipywidgets.Widget) -> list[dict[str, Any]]:
    """The state updates the widget sent to the (dummy) frontend, oldest first.

    Binary values travel as buffers beside the JSON state; they are put back in place.
    """
    comm = widget.comm
    assert isinstance(comm, DummyComm), "the widget was not created under dummy_comm"
    updates = []
    for message in comm.messages:
        data = message["data"]
        if data.get("method") != "update":
            continue
        state = dict(data["state"])
        for path, buffer in zip(data.get("buffer_paths", []), message["buffers"], strict=True):
            state[path[0]] = bytes(buffer)
        updates.append(state)
    return updates


def frontend_update(widget: ipywidgets.Widget, **state: Any) -> None:
    """Change ``state`` as the browser does (an ``update`` message from the frontend)."""
    message = {
        "content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
        "buffers": [],
    }
    widget._handle_msg(message)


def frontend_click(button: ipywidgets.Button) -> None:
    """Click ``button`` as the browser does (a ``custom`` click event)."""
    message = {
        "content": {"data": {"method": "custom", "content": {"event": "click"}}},
        "buffers": [],
    }
    button._handle_msg(message)


def descendants(widget: ipywidgets.Widget) -> Iterator[ipywidgets.Widget]:
    """Every widget under ``widget`` (children of boxes), depth first."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from descendants(child)


demo_a = backend_fixture(
    "session", doc="A demo workspace shared by the read-only widget tests of this part."
)
client_a = client_fixture("demo_a", "session")


def version_ids(server: ServerHandle) -> dict[tuple[str, str], int]:
    """``(dataset name, version) -> version id`` of the ground-truth datasets."""
    headers = {"Synapse-Access-Token": f"Token {server.token}"}
    datasets = requests.get(server.url + "ground_truth_datasets/", headers=headers, timeout=30)
    versions = requests.get(
        server.url + "ground_truth_dataset_versions/",
        headers=headers,
        params={"page_size": 100},
        timeout=30,
    )
    names = {d["id"]: d["name"] for d in datasets.json()["results"]}
    return {
        (names[v["ground_truth_dataset"]], v["version"]): v["id"]
        for v in versions.json()["results"]
    }


def journal_mark(server: ServerHandle) -> Any:
    """A marker of the server's request journal: requests after it are "new"."""
    journal = server.requests
    return journal[-1] if journal else None


def requests_since(server: ServerHandle, mark: Any) -> list[dict[str, Any]]:
    """Requests the server received after ``mark`` (oldest first)."""
    entries = list(server.requests)
    for position in range(len(entries) - 1, -1, -1):
        if entries[position] is mark:
            return entries[position + 1 :]
    if mark is None:
        return entries
    raise AssertionError("the journal rolled over; the test made too many requests to tell")
