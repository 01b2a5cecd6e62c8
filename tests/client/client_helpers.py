"""Helpers of the client tests (importable by test modules, unlike conftest)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from synapse_nb.server import ServerHandle

#: tasks of the scale project of ``scale_srv`` (100 pages of 100)
SCALE_TASKS = 10_000


class Wire:
    """The requests a server received since the last :meth:`clear` (``/media`` excluded)."""

    def __init__(self, srv: ServerHandle) -> None:
        self.srv = srv

    def clear(self) -> None:
        self.srv.requests.clear()

    def all(
        self, method: str | None = None, path: str | None = None, *, prefix: str | None = None
    ) -> list[dict[str, Any]]:
        """Entries filtered by method, exact path or path prefix (paths without leading /)."""
        out = []
        for entry in list(self.srv.requests):
            where = entry["path"].lstrip("/")
            if method and entry["method"] != method:
                continue
            if path is not None and where != path:
                continue
            if prefix is not None and not where.startswith(prefix):
                continue
            out.append(entry)
        return out

    def one(self, method: str, path: str) -> dict[str, Any]:
        entries = self.all(method, path)
        assert len(entries) == 1, f"expected one {method} {path}, got {len(entries)}"
        return entries[0]

    @staticmethod
    def query(entry: dict[str, Any]) -> dict[str, list[str]]:
        return parse_qs(entry["query"], keep_blank_values=True)

    @staticmethod
    def json(entry: dict[str, Any]) -> Any:
        return json.loads(entry["body"]) if entry["body"] else None


def make_file(path: Path, size: int, seed: int = 0) -> Path:
    """Write ``size`` pseudo-random bytes (fast: one random block repeated with a counter)."""
    block = random.Random(seed).randbytes(1 << 20)
    with open(path, "wb") as fh:
        written = 0
        counter = 0
        while written < size:
            piece = counter.to_bytes(8, "little") + block[8:]
            piece = piece[: size - written]
            fh.write(piece)
            written += len(piece)
            counter += 1
    return path
