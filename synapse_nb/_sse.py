"""The one Server-Sent Events decoder of synapse_nb (job console logs, agent log tails).

A stream is read line by line. Blank lines and ``:`` comments carry nothing. A ``data:``
line holds one JSON event, a dict with a ``type`` (``connected``, ``log``, ``complete``,
``error``); a payload that is not a JSON object is a ``log`` event whose ``message`` is the
payload. Any other line is a ``log`` event whose ``message`` is the line itself. The
backend sometimes nests a whole SSE frame inside a log event's ``data``; it is unwrapped.

The transport opens the stream (:meth:`~synapse_nb._transport.Transport.sse_events`), so
the origin check, the error mapping and the timeouts are the transport's.

Example:
    >>> decode_line('data: {"type": "log", "message": "epoch 1"}')
    {'type': 'log', 'message': 'epoch 1'}
    >>> decode_line("data: plain text"), decode_line(": keep-alive")
    ({'type': 'log', 'message': 'plain text'}, None)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["decode_line", "decode_lines"]


def decode_line(line: str) -> dict[str, Any] | None:
    """Decode one line of an SSE stream into an event, or ``None`` when it carries none.

    Example:
        >>> decode_line('data: {"type": "complete", "status": "SUCCEEDED"}')["type"]
        'complete'
    """
    if not line or line.startswith(":"):
        return None
    if not line.startswith("data:"):
        return {"type": "log", "message": line}
    payload = line[5:].strip()
    try:
        event = json.loads(payload)
    except ValueError:
        return {"type": "log", "message": payload}
    if not isinstance(event, dict):
        return {"type": "log", "message": str(event)}
    inner = event.get("data")
    if event.get("type") == "log" and isinstance(inner, str):
        nested = decode_line(inner.strip())
        if nested is not None:
            nested.setdefault("type", "log")
            return nested
    return event


def decode_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Decode every line of a stream, skipping those that carry no event.

    Example:
        >>> [e["message"] for e in decode_lines(["data: a", "", "data: b"])]
        ['a', 'b']
    """
    for line in lines:
        event = decode_line(line)
        if event is not None:
            yield event
