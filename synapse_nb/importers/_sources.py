"""Loading a source: a path or an object, read as JSON with errors that name the file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any, TypeGuard

from synapse_nb.importers.errors import ImportFormatError

#: What a reader accepts as a source: a path, or the already-loaded JSON object.
Source = str | PathLike[str] | Mapping[str, Any] | list[Any]


def is_path(source: Any) -> TypeGuard[str | PathLike[str]]:
    return isinstance(source, str | PathLike)


def name_of(source: Any) -> str:
    """How errors and reports name a source: its path, or ``<object>``."""
    return str(source) if is_path(source) else "<object>"


def existing_path(source: Any, what: str) -> Path:
    path = Path(source)
    if not path.exists():
        raise ImportFormatError(str(path), what, why="does not exist")
    return path


def load_json(source: Any, what: str = "file") -> Any:
    """The JSON of ``source`` (a path is read; any other object is returned as it is)."""
    if not is_path(source):
        return source
    path = existing_path(source, what)
    if not path.is_file():
        raise ImportFormatError(str(path), what, why="is a directory, expected a JSON file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportFormatError(str(path), what, why=f"is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            str(path), f"line {exc.lineno} column {exc.colno}", why=f"is not JSON: {exc.msg}"
        ) from None


def number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def positive_int(value: Any) -> int | None:
    if hasattr(value, "item") and not isinstance(value, bool):
        value = value.item()  # numpy and pandas scalars
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value == int(value) and value > 0 else None
