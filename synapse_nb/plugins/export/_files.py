"""Writing an export's small per-item files fast, with exactly the bytes of the plain path.

An export writes one to three small files per item, so the per-file overhead counts:

- :func:`json_document` gives the bytes ``json.dumps(data, indent=4, ensure_ascii=False)``
  gives in UTF-8, through orjson when that is certain (see
  :mod:`synapse_nb.converters.jsontext`).
- :func:`write_file` creates a file with one ``open``/``write``/``close``, no text layer.
- :func:`link_file` places an original with one ``link`` (a copy where links fail), and
  :func:`child_path` names it as ``Path(directory) / name`` would, without building a Path.
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
import shutil
from pathlib import Path
from typing import Any

from synapse_nb.converters.jsontext import dumps

__all__ = [
    "Directories",
    "child_path",
    "is_plain_name",
    "json_document",
    "link_file",
    "write_file",
]

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


def is_plain_name(name: str) -> bool:
    """True for one path component that ``Path(directory) / name`` keeps in ``directory``.

    Example:
        >>> is_plain_name("a.jpg"), is_plain_name("x/a.jpg"), is_plain_name(".")
        (True, False, False)
    """
    return bool(name) and name != "." and "/" not in name


def child_path(directory: str, name: str) -> str:
    """``os.fspath(Path(directory) / name)`` for ``directory`` given as a Path's text.

    A plain name (one component, not ``.``) is joined as text; anything else goes
    through ``Path``, so the result is always the text ``Path`` gives.

    Example:
        >>> child_path("out/images", "a.jpg"), child_path(".", "a.jpg"), child_path("/", "a.jpg")
        ('out/images/a.jpg', 'a.jpg', '/a.jpg')
        >>> child_path("out", "x/./a.jpg")
        'out/x/a.jpg'
    """
    if is_plain_name(name) and directory not in ("", ".") and not directory.endswith("/"):
        return f"{directory}/{name}"
    return os.fspath(Path(directory) / name)


def link_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Hard-link ``source`` at ``target`` (replacing a file there), or copy it where links fail.

    The parent of ``target`` must exist. Errors name the paths as
    :func:`~synapse_nb.plugins.export.base.place_file` always named them.

    Example:
        >>> _ = Path("cat.jpg").write_bytes(b"jpeg bytes")
        >>> link_file("cat.jpg", "copy.jpg"); link_file("cat.jpg", "copy.jpg")
        >>> Path("copy.jpg").read_bytes(), Path("copy.jpg").stat().st_nlink
        (b'jpeg bytes', 2)
    """
    try:
        os.link(source, target)
    except FileExistsError:  # replaced: unlink, then link (or copy)
        os.unlink(target)
        try:
            os.link(source, target)
        except OSError:
            _copy(source, target)
    except OSError:  # another file system, or links not supported
        _copy(source, target)


def _copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    # as Paths: shutil's SameFileError names its arguments by repr, and they were Paths
    shutil.copyfile(Path(source), Path(target))


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
