"""Reply bodies are decoded by orjson, with results identical to ``json.loads`` in every case."""

from __future__ import annotations

import json
import math

import pytest
from hostile import send
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse_nb._json import loads
from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import UnexpectedResponseError

EDGE_BODIES = [
    b'{"a": 1, "a": 2}',  # duplicate keys: the last wins
    b"[123456789012345678901234567890]",  # above 64 bits: must stay an int
    b"[-9223372036854775809]",  # just below int64
    b"[18446744073709551615, 9223372036854775807, -9223372036854775808]",
    b"[1e400, -1e400]",  # out of float range: infinities
    b"[Infinity, -Infinity]",
    "\ufeff[1]".encode(),  # UTF-8 byte order mark
    '{"k": "\u00e9"}'.encode("utf-16"),
    b'["\\ud800"]',  # lone surrogate escape
    b"[-0.0, 0.1, 1.7976931348623157e308, 5e-324]",
    b'{"url": "http://h/x?a=1", "n": null, "t": true, "f": false, "e": {}, "l": []}',
    b'{"hex": "12345678901234567890abc"}',  # a long digit run inside a string
]


def same(a: object, b: object) -> bool:
    """Equal values of equal types all the way down (1 and 1.0 differ; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("body", EDGE_BODIES)
def test_edge_bodies_decode_exactly_as_json_loads(body):
    assert same(loads(body), json.loads(body))


def test_nan_decodes_as_json_loads_does():
    value = loads(b'{"x": NaN}')["x"]
    assert isinstance(value, float) and math.isnan(value)


def test_big_integers_never_become_floats():
    assert loads(b'{"big": 1180591620717411303424}') == {"big": 2**70}
    assert type(loads(b"[-18446744073709551616]")[0]) is int


@pytest.mark.parametrize("body", [b"{", b'{"a": }', b"[1,]", b"nul", b'{"a": 1} x'])
def test_invalid_bodies_raise_json_decode_error_with_the_standard_message(body):
    with pytest.raises(json.JSONDecodeError) as ours:
        loads(body)
    with pytest.raises(json.JSONDecodeError) as std:
        json.loads(body)
    assert str(ours.value) == str(std.value)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.booleans())
def test_any_json_value_decodes_exactly_as_json_loads(value, ascii_only):
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(body)
    except (ValueError, UnicodeDecodeError):  # a lone surrogate written raw is not UTF-8
        with pytest.raises((ValueError, UnicodeDecodeError)):
            loads(body)
        return
    assert same(loads(body), expected)


def test_a_big_integer_in_task_metadata_comes_back_exact_over_http(client):
    task = client.list_tasks({"page_size": 1})["results"][0]
    metadata = {"big": 2**70, "neg": -(2**64), "edge": 2**63, "ratio": 0.5}
    try:
        client.update_task(task["id"], {"metadata": metadata})
        assert client.get_task(task["id"])["metadata"] == metadata
        listed = client.list_tasks({"id__in": str(task["id"])})["results"][0]
        assert listed["metadata"] == metadata
        assert all(type(listed["metadata"][k]) is int for k in ("big", "neg", "edge"))
    finally:
        client.update_task(task["id"], {"metadata": task["metadata"]})


def test_a_big_integer_from_a_peer_reaches_the_caller_as_an_int(hostile):
    body = b'{"id": 1, "n": 123456789012345678901234567890}'
    hostile.on("GET", "/api/projects/1/", lambda h: send(h, 200, body))
    with BackendClient(hostile.url + "/api", api_token="t") as raw:
        assert raw.get_project(1)["n"] == 123456789012345678901234567890


def test_nan_from_a_peer_is_read_as_json_loads_reads_it(hostile):
    hostile.on("GET", "/api/projects/1/", lambda h: send(h, 200, b'{"id": 1, "n": NaN}'))
    with BackendClient(hostile.url + "/api", api_token="t") as raw:
        assert math.isnan(raw.get_project(1)["n"])


def test_a_truncated_body_names_the_problem(hostile):
    hostile.on("GET", "/api/projects/1/", lambda h: send(h, 200, b'{"results": [1, 2'))
    with (
        BackendClient(hostile.url + "/api", api_token="t") as raw,
        pytest.raises(UnexpectedResponseError, match="not valid JSON"),
    ):
        raw.get_project(1)
