"""Writing an export's small per-item files fast, with exactly the bytes of the plain path.

An export writes one to three small files per item, so the per-file overhead counts:

- :func:`json_document` gives the bytes ``json.dumps(data, indent=4, ensure_ascii=False)``
  gives in UTF-8, through orjson (the standard library's encoder runs in Python when it
  indents). orjson indents by two spaces; doubling each line's leading spaces gives four,
  since a line of JSON text never starts inside a string (a marker byte orjson never writes
  stands for each level while the levels are counted). Whatever the two encoders could
  write differently goes the standard library's way: an orjson refusal (non-string keys,
  integers beyond 64 bits, nesting deeper than 254, lone surrogates, types the standard
  library does not encode), any ``null`` (NaN and infinities come out as ``null`` in orjson),
  and any number in exponent form or below ``1e-4`` (the two print those differently).
- :func:`write_file` creates a file with one ``open``/``write``/``close``, no text layer.
- :class:`Directories` makes each output directory once per export instead of per item.

Example:
    >>> json_document({"a": [1, 2.5], "b": {}}) == json.dumps(
    ...     {"a": [1, 2.5], "b": {}}, indent=4, ensure_ascii=False).encode()
    True
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Directories", "json_document", "write_file"]

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
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _plain(data: Any) -> bytes | None:
    """orjson's bytes when they are certainly the standard library's, else None."""
    if isinstance(data, dict | list):  # enums, UUIDs... at the top go the standard way
        try:
            text = orjson.dumps(data, default=_refuse, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError):
            return None
        if _RISKY.search(text) is None:
            return _indent_4(text)
    return None


def _indent_4(text: bytes) -> bytes:
    """Two-space indentation made four-space, a level per pass of ``bytes.replace``."""
    text = text.replace(b"\n  ", b"\n" + _MARK)
    step = _MARK + b"  "
    while step in text:
        text = text.replace(step, _MARK + _MARK)
    return text.replace(_MARK, b"    ")


def json_document(data: Any) -> bytes:
    """``json.dumps(data, indent=4, ensure_ascii=False)`` as UTF-8 bytes, faster.

    Raises:
        TypeError: A value JSON cannot hold (as ``json.dumps`` raises it).
        ValueError: A circular reference (as ``json.dumps``), or text UTF-8 cannot encode
            (``UnicodeEncodeError``, as writing the text would raise it).

    Example:
        >>> json_document({"name": "caf\\u00e9", "v": [1e-05]}).decode()
        '{\\n    "name": "café",\\n    "v": [\\n        1e-05\\n    ]\\n}'
    """
    fast = _plain(data)
    if fast is not None:
        return fast
    return json.dumps(data, indent=4, ensure_ascii=False).encode("utf-8")


def write_file(path: str | os.PathLike[str], payload: bytes) -> None:
    """Create (or truncate) ``path`` and write ``payload``, as ``Path.write_bytes`` does.

    Example:
        >>> write_file("note.txt", b"hello")
        >>> Path("note.txt").read_bytes()
        b'hello'
    """
    fd = os.open(path, _FLAGS, 0o666)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """``Path(path).write_text(text, encoding="utf-8")`` with :func:`write_file`.

    Text UTF-8 cannot encode leaves an empty file and raises, as ``write_text`` does.

    Example:
        >>> write_text("a.txt", "café")
        >>> Path("a.txt").read_bytes()
        b'caf\\xc3\\xa9'
    """
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError:
        write_file(path, b"")
        raise
    write_file(path, payload)


class Directories:
    """Output directories made once per export (``mkdir -p`` on first use).

    Example:
        >>> made = Directories()
        >>> made.ensure(Path("out/labels/val")), made.ensure(Path("out/labels/val"))
        ('out/labels/val', 'out/labels/val')
        >>> Path("out/labels/val").is_dir()
        True
    """

    def __init__(self) -> None:
        self._made: dict[Path, str] = {}

    def ensure(self, directory: Path) -> str:
        """Make ``directory`` (with parents) unless this export made it; its path as text."""
        known = self._made.get(directory)
        if known is None:
            directory.mkdir(parents=True, exist_ok=True)
            known = self._made[directory] = os.fspath(directory)
        return known
