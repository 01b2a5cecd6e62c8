"""JSON text exactly as ``json.dumps`` indents it, through orjson when that is certain.

The standard library's encoder runs in Python when it indents, and an export writes JSON
per item (DM documents) and in aggregate (outcomes, collisions, reports) -- large enough
for that to count. orjson indents by two spaces with the same separators; four spaces come
from doubling each line's indentation, since a line of JSON text never starts inside a
string. Whatever the two encoders could write differently goes the standard library's
way: an orjson refusal (non-string keys, integers beyond 64 bits, nesting deeper than 254,
lone surrogates, any type the standard library does not encode itself), any ``null`` (NaN
and infinities come out as ``null`` in orjson), any number in exponent form or below
``1e-4`` (the two print those differently), non-ASCII text when ``ensure_ascii`` asks for
escapes, and a top level that is not a dict or list.

Example:
    >>> import json
    >>> data = {"a": [1, 2.5], "b": {}, "c": "caf\\u00e9"}
    >>> dumps(data, indent=4) == json.dumps(data, indent=4, ensure_ascii=False).encode()
    True
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import orjson

__all__ = ["dumps", "write_json"]

_OPTIONS = (
    orjson.OPT_INDENT_2
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
#: Where the two encoders may differ: null (NaN), exponents, numbers below 1e-4.
_RISKY = re.compile(rb"null|[0-9][eE]|0\.0000")
#: Never in orjson's output (it escapes every control character in strings).
_MARK = b"\x00"


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _fast(data: Any, indent: int, ensure_ascii: bool) -> bytes | None:
    if indent not in (2, 4) or not isinstance(data, dict | list):
        return None
    try:
        text = orjson.dumps(data, default=_refuse, option=_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return None
    if _RISKY.search(text) or (ensure_ascii and not text.isascii()):
        return None
    return _indent_4(text) if indent == 4 else text


def _indent_4(text: bytes) -> bytes:
    """Two-space indentation made four-space, a level per pass of ``bytes.replace``."""
    text = text.replace(b"\n  ", b"\n" + _MARK)
    step = _MARK + b"  "
    while step in text:
        text = text.replace(step, _MARK + _MARK)
    return text.replace(_MARK, b"    ")


def dumps(
    data: Any,
    *,
    indent: int,
    ensure_ascii: bool = False,
    default: Callable[[Any], Any] | None = None,
) -> bytes:
    """``json.dumps(data, indent=, ensure_ascii=, default=)`` as UTF-8 bytes, faster.

    Raises:
        TypeError: A value JSON cannot hold (as ``json.dumps`` raises it).
        ValueError: A circular reference (as ``json.dumps``), or text UTF-8 cannot encode
            (``UnicodeEncodeError``).

    Example:
        >>> dumps({"v": [1e-05]}, indent=2)
        b'{\\n  "v": [\\n    1e-05\\n  ]\\n}'
    """
    fast = _fast(data, indent, ensure_ascii)
    if fast is not None:
        return fast
    text = json.dumps(data, indent=indent, ensure_ascii=ensure_ascii, default=default)
    return text.encode("utf-8")


def write_json(path: str | PathLike[str], data: Any, **options: Any) -> None:
    """Write :func:`dumps` ``(data, **options)`` as ``Path.write_text(encoding="utf-8")`` would.

    Text UTF-8 cannot encode leaves an empty file and raises, as ``write_text`` does.

    Example:
        >>> write_json("ids.json", [1, 2], indent=2)
        >>> Path("ids.json").read_text()
        '[\\n  1,\\n  2\\n]'
    """
    try:
        payload = dumps(data, **options)
    except UnicodeEncodeError:
        Path(path).write_bytes(b"")
        raise
    Path(path).write_bytes(payload)
