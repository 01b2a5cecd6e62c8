"""The export's fast JSON and file writers give exactly the bytes (and errors) of the plain path."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from synapse_nb.converters.jsontext import _fast, dumps
from synapse_nb.plugins.export._files import json_document, write_text

_STRINGS = ["", "caf\u00e9", "a\tb\nc\r\x00\x01\x1f\x7f", '"q" \\ /', "\u2028\u2029", "\U0001f600"]
_NUMBERS = [0, -1, 2**63 - 1, 2**64 - 1, 2**64, -(2**63), 2**70, 0.0, -0.0, 0.1 + 0.2, 1e-4,
            9.99e-5, 1e-05, 1e-07, 5e-324, 1e15, 1e16, 1.5e300, 123456789012345.6, 1e22,
            float("nan"), float("inf"), -float("inf"), True, False, None]  # fmt: skip


def _random_document(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 3 or kind < 0.4:
        return rng.choice(_STRINGS + _NUMBERS + [rng.uniform(-1e6, 1e6), rng.random() / 1e6])
    if kind < 0.7:
        return [_random_document(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [rng.choice(_STRINGS) + str(n) for n in range(rng.randint(0, 4))]
    return {key: _random_document(rng, depth + 1) for key in keys}


def test_json_document_equals_the_standard_encoder_on_hostile_documents() -> None:
    rng = random.Random(16)
    documents = [_random_document(rng) for _ in range(400)]
    documents += [
        {"deep": json.loads("[" * 300 + "]" * 300)},  # deeper than orjson goes
        {1: "int key", None: "null key"},
        {"tuple": (1, 2.5), "empty": [{}, []]},
        {"images": [{"bounding_box": [{"data": [10.5, 20.25, 3, 4], "attrs": []}]}]},
    ]
    for document in documents:
        expected = json.dumps(document, indent=4, ensure_ascii=False).encode("utf-8")
        assert json_document(document) == expected, document
        for ascii_only in (False, True):  # the aggregate files' settings
            expected = json.dumps(document, indent=2, ensure_ascii=ascii_only, default=str)
            fast = dumps(document, indent=2, ensure_ascii=ascii_only, default=str)
            assert fast == expected.encode("utf-8"), document
    assert b"NaN" in json_document({"v": math.nan})
    fast = sum(_fast(document, 4, False) is not None for document in documents)
    assert 50 < fast < len(documents)  # both paths were compared


def test_json_document_raises_what_the_standard_encoder_raises(tmp_path: Path) -> None:
    circular: list[Any] = []
    circular.append(circular)
    for bad in ({"v": {1, 2}}, circular, {"v": b"bytes"}):
        with pytest.raises((TypeError, ValueError)) as fast:
            json_document(bad)
        with pytest.raises((TypeError, ValueError)) as plain:
            json.dumps(bad, indent=4, ensure_ascii=False)
        assert (type(fast.value), str(fast.value)) == (type(plain.value), str(plain.value))
    with pytest.raises(UnicodeEncodeError) as fast_encode:
        json_document({"v": "lone \ud800"})
    text = json.dumps({"v": "lone \ud800"}, indent=4, ensure_ascii=False)
    with pytest.raises(UnicodeEncodeError) as plain_write:
        (tmp_path / "plain.json").write_text(text, encoding="utf-8")
    assert str(fast_encode.value) == str(plain_write.value)
    with pytest.raises(UnicodeEncodeError):
        write_text(tmp_path / "fast.json", text)
    assert (tmp_path / "fast.json").read_bytes() == (tmp_path / "plain.json").read_bytes() == b""


def test_only_built_in_hooks_send_item_data_through_the_fast_encoder() -> None:
    from synapse_nb.plugins.export import BaseExporter, DMExporter, YOLOExporter, _json_data

    class Renamed(DMExporter):  # no hook of its own: the data is still decoded JSON
        pass

    class Custom(DMExporter):  # its data may hold anything, e.g. an Enum json.dumps refuses
        def after_convert(self, data: dict[str, Any]) -> dict[str, Any]:
            return data

    assert _json_data(DMExporter) and _json_data(Renamed) and _json_data(YOLOExporter)
    assert not _json_data(Custom)
    assert not _json_data(type("Own", (BaseExporter,), {"convert_data": lambda self, d: d}))
