"""Writing an export's small per-item files fast, with exactly the bytes of the plain path.

An export writes one to three small files per item, so the per-file overhead counts:

- :func:`json_document` gives the bytes ``json.dumps(data, indent=4, ensure_ascii=False)``
  gives in UTF-8, through orjson when that is certain (see
  :mod:`synapse_nb.converters.jsontext`).
- :func:`write_file` creates a file with one ``open``/``write``/``close``, no text layer.
- :class:`Directories` makes each output directory once per export instead of per item.

Example:
    >>> print(json_document({"a": [1, 2.5], "b": {}}).decode())
    {
        "a": [
            1,
            2.5
        ],
        "b": {}
    }
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from synapse_nb.converters.jsontext import dumps

__all__ = ["Directories", "json_document", "write_file"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


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
    return dumps(data, indent=4)


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
        self._made: dict[tuple[Path, tuple[str, ...]], str] = {}

    def ensure(self, directory: Path, *parts: str) -> str:
        """Make ``directory/parts`` (with parents) unless this export made it; its path as text.

        Pass the fixed parts separately, so the lookup hashes a path the caller keeps.
        """
        key = (directory, parts)
        known = self._made.get(key)
        if known is None:
            path = directory.joinpath(*parts)
            path.mkdir(parents=True, exist_ok=True)
            known = self._made[key] = os.fspath(path)
        return known
