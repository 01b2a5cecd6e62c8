"""Helpers of the filter/tag/tree/explorer widget tests (part B).

Widget state is tested the way ipywidgets tests itself (``ipywidgets/widgets/tests/utils.py``):
``comm.create_comm`` is replaced by a comm that records what the kernel would send, and the
frontend is imitated by feeding the widget the comm messages a browser sends (``update``
with a state dict, ``custom`` click events). Assertions read ``get_state()``, the state the
frontend renders.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterator
from typing import Any

import comm
import pandas as pd
from ipywidgets import Widget
from ipywidgets.widgets import widget as widget_module

from synapse_nb.frames.build import build_frame
from synapse_nb.server import ServerHandle


class RecordingComm:
    """A comm that keeps every message the kernel sends (no frontend attached)."""

    kernel = "Truthy"  # ipywidgets only sends state when the comm has a kernel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.comm_id = kwargs.get("comm_id") or uuid.uuid4().hex
        self.messages: list[dict[str, Any]] = []

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, data: Any = None, buffers: Any = None, **kwargs: Any) -> None:
        self.messages.append(data)

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def recording_comm() -> Iterator[None]:
    """Widgets created inside get a :class:`RecordingComm` and are closed on exit.

    Closing matters: ipywidgets keeps every open widget in a registry, and widgets still
    open when the interpreter exits complain from ``__del__``.
    """
    original = comm.create_comm
    before = set(widget_module._instances)
    comm.create_comm = lambda *args, **kwargs: RecordingComm(*args, **kwargs)
    try:
        yield
    finally:
        comm.create_comm = original
        for model_id in set(widget_module._instances) - before:
            widget = widget_module._instances.get(model_id)
            if widget is not None:
                widget.close()


def frontend_update(widget: Widget, **state: Any) -> None:
    """Apply ``state`` as the browser does: an ``update`` message on the widget's comm."""
    message = {"content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
               "buffers": []}  # fmt: skip
    widget._handle_msg(message)


def frontend_click(button: Widget) -> None:
    """Click a Button as the browser does (a ``custom`` click event)."""
    message = {"content": {"data": {"method": "custom", "content": {"event": "click"}}},
               "buffers": []}  # fmt: skip
    button._handle_msg(message)


def sent_updates(widget: Widget) -> list[dict[str, Any]]:
    """The ``update`` states the kernel sent for ``widget`` (oldest first)."""
    messages = getattr(widget.comm, "messages", [])
    return [m["state"] for m in messages if isinstance(m, dict) and m.get("method") == "update"]


def clear_sent(*widgets: Widget) -> None:
    for widget in widgets:
        messages = getattr(widget.comm, "messages", None)
        if messages is not None:
            messages.clear()


def option_index(dropdown: Widget, value: Any) -> int:
    """The index the frontend sends to pick ``value`` in a Dropdown."""
    values = [v for _label, v in dropdown.options] if isinstance(dropdown.options[0], tuple) \
        else list(dropdown.options)  # fmt: skip
    return values.index(value)


def request_paths(srv: ServerHandle, method: str | None = None) -> list[str]:
    return [r["path"] for r in list(srv.requests) if method is None or r["method"] == method]


def last_query(srv: ServerHandle, path_part: str) -> dict[str, list[str]]:
    """The query of the newest request whose path contains ``path_part``, as lists."""
    from urllib.parse import parse_qs

    for record in reversed(list(srv.requests)):
        if path_part in record["path"]:
            query = record.get("query") or ""
            return parse_qs(query) if isinstance(query, str) else dict(query)
    raise AssertionError(f"no request to {path_part!r}")


TAG_NAMES = {1: "needs-review", 2: "blurry", 3: "night", 4: "occluded", 5: "golden"}
CLASSES = ("car", "person", "bicycle", "dog", "stop_sign", "bus", "truck")
ASSIGNEES = ("Alice Kim", "Bob Lee", "Carol Park", "Dave Choi", None)


def synthetic_tasks(n: int, seed: int = 0) -> pd.DataFrame:
    """A typed task frame of ``n`` rows (no server): statuses, assignees, tags, classes."""
    rng = random.Random(seed)
    records = []
    for i in range(1, n + 1):
        classes = rng.sample(CLASSES, rng.randint(0, 3))
        boxes = [{"id": f"a{j}", "classification": c, "data": [1, 2, 3, 4]}
                 for j, c in enumerate(classes)]  # fmt: skip
        who = rng.randrange(len(ASSIGNEES))
        records.append({
            "id": i, "project": 1, "data_unit": i,
            "status": rng.choice(("pending", "in_progress", "completed")),
            "priority": "normal",
            "assignee": who + 1 if ASSIGNEES[who] else None,
            "assignee_name": ASSIGNEES[who],
            "tags": rng.sample(sorted(TAG_NAMES), rng.randint(0, 2)),
            "is_discarded": False,
            "files": {"image_1": {"url": f"http://127.0.0.1:9/{i}.jpg", "is_primary": True,
                                  "file_name_original": f"scene_{i:06d}.jpg",
                                  "meta": {"width": 64, "height": 48}}},
            "data": {"images": [{"bounding_box": boxes}]} if boxes else {},
            "metadata": {},
            "created": f"2026-09-{1 + i % 28:02d}T10:{i % 60:02d}:00+00:00",
            "modified": "2026-09-30T10:00:00+00:00",
        })  # fmt: skip
    frame = build_frame("task", records, tag_names=TAG_NAMES)
    frame.attrs["synapse"] = {"kind": "task", "count": n}
    return frame
