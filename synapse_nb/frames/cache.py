"""The local frame cache: Parquet files of fetched listings, refreshed incrementally.

``Client(..., cache=path)`` stores each ``list_all=True`` listing of tasks, assignments and
ground-truth events under ``path``, one Parquet file per (server, resource, query), with a
JSON sidecar holding the query, the server's count and the fetch time. The next identical
listing loads the file and asks the server only for rows modified since the newest
``modified`` it holds (``modified__gte``, so a change in the same microsecond is not missed;
``Client.refresh_lookback`` widens the window for backends that stamp at transaction start),
then reconciles deletions with one ``fields=id`` listing when the row count disagrees with
the server's count. The result is the same frame a full reload would give.

Lists (``tags``, ``classes``) are stored as Parquet lists and dicts (``metadata``, ``data``)
as JSON text, so the round trip gives back the exact Python values and the schema dtypes.

Example:
    >>> from synapse_nb.frames import Client
    >>> cached = Client(srv.url, api_token=srv.token, cache="frames", progress=False)
    >>> first = cached.list_tasks({"project": 1}, list_all=True)  # full listing, then saved
    >>> again = cached.list_tasks({"project": 1}, list_all=True)  # file + modified rows only
    >>> cached.cache.flush()  # the file is written in the background
    >>> again.equals(first), sorted(p.suffix for p in cached.cache.path.iterdir())
    (True, ['.json', '.parquet'])
    >>> cached.close()

"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synapse_nb.frames.build import STRING, SynapseFrame, conform, gc_paused

__all__ = ["CACHE_VERSION", "CachedFrame", "FrameCache"]

log = logging.getLogger("synapse_nb.frames.cache")

#: Bumped when the stored layout or a schema changes; older files are ignored.
CACHE_VERSION = 1

#: object columns of lists, stored as Parquet lists (``classes``/``tag_names`` are already
#: pyarrow lists and round-trip natively)
_LIST_TYPES = {"tags": pa.list_(pa.int64())}
_JSON_COLUMNS = {"metadata", "data", "meta", "params", "result", "configuration"}


@dataclass
class CachedFrame:
    """A frame loaded from the cache, with its sidecar info."""

    frame: pd.DataFrame
    info: dict[str, Any]


class FrameCache:
    """Parquet files of fetched frames under one directory.

    Args:
        path: The cache directory (created on first write).

    Example:
        >>> FrameCache("~/.cache/synapse_nb/frames").path.name
        'frames'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._pending: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FrameCache({str(self.path)!r})"

    @staticmethod
    def key(kind: str, base_url: str, query: dict[str, Any], include_data: bool) -> str:
        """A stable file key of one listing (page params are not part of it).

        Example:
            >>> a = FrameCache.key("task", "http://h", {"project": 1, "page_size": 500}, False)
            >>> a == FrameCache.key("task", "http://h", {"project": 1}, False)
            True
        """
        wanted = {
            k: v for k, v in query.items() if k not in ("page", "page_size") and v is not None
        }
        text = json.dumps(
            [CACHE_VERSION, kind, base_url.rstrip("/"), wanted, include_data],
            sort_keys=True,
            default=str,
        )
        return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"

    def _files(self, key: str) -> tuple[Path, Path]:
        return self.path / f"{key}.parquet", self.path / f"{key}.json"

    def info(self, key: str) -> dict[str, Any] | None:
        """The sidecar info of ``key`` (without reading the frame), or None.

        Example:
            >>> FrameCache("/nonexistent/cache").info("task-0") is None
            True
        """
        self._wait(key)
        try:
            info = json.loads(self._files(key)[1].read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict) or info.get("version") != CACHE_VERSION:
            return None
        return info

    def load(self, key: str) -> CachedFrame | None:
        """The cached frame of ``key``, or None (missing, unreadable or an older layout)."""
        self._wait(key)
        data_file, info_file = self._files(key)
        if not data_file.exists() or not info_file.exists():
            return None
        try:
            info = json.loads(info_file.read_text())
            if info.get("version") != CACHE_VERSION:
                return None
            table = pq.read_table(data_file)
            with gc_paused():  # 100k small lists: see gc_paused
                frame = _from_table(table, info["kind"], info["columns"])
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            return None  # an unreadable cache is a cache miss, never an error
        return CachedFrame(frame, info)

    def save(
        self, key: str, frame: pd.DataFrame, info: dict[str, Any], *, background: bool = False
    ) -> None:
        """Write ``frame`` and its info atomically (a crash never leaves half a file).

        The frame's values are captured (as an Arrow table) before this returns; with
        ``background=True`` the file is written by a thread, which the next ``load``/``save``
        of the same key, :meth:`flush` and interpreter exit wait for.
        """
        with gc_paused():
            table = _to_table(frame)
        info = {**info, "version": CACHE_VERSION, "columns": [str(c) for c in frame.columns]}
        self._wait(key)
        if not background:
            self._write(key, table, info)
            return
        thread = threading.Thread(
            target=self._write, args=(key, table, info), name=f"synapse-cache-{key}"
        )
        with self._lock:
            self._pending[key] = thread
        thread.start()

    def flush(self) -> None:
        """Wait until every background write has reached the disk.

        Example:
            >>> FrameCache("/nonexistent/cache").flush()
        """
        with self._lock:
            keys = list(self._pending)
        for key in keys:
            self._wait(key)

    def _wait(self, key: str) -> None:
        with self._lock:
            thread = self._pending.pop(key, None)
        if thread is not None:
            thread.join()

    def _write(self, key: str, table: pa.Table, info: dict[str, Any]) -> None:
        data_file, info_file = self._files(key)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.path, suffix=".tmp", delete=False) as tmp:
                tmp_path = Path(tmp.name)
            try:
                pq.write_table(table, tmp_path)
                os.replace(tmp_path, data_file)
            finally:
                tmp_path.unlink(missing_ok=True)
            info_file.write_text(json.dumps(info, default=str))
        except OSError as exc:  # a cache that cannot be written is a slower next listing
            log.warning("frame cache: could not write %s: %s", data_file, exc)

    def clear(self) -> int:
        """Delete every cached frame; returns how many were removed.

        Example:
            >>> FrameCache("/nonexistent/cache").clear()
            0
        """
        self.flush()
        removed = 0
        if self.path.exists():
            for file in self.path.glob("*.parquet"):
                file.unlink(missing_ok=True)
                file.with_suffix(".json").unlink(missing_ok=True)
                removed += 1
        return removed


def _to_table(frame: pd.DataFrame) -> pa.Table:
    plain = pd.DataFrame(frame, copy=False)
    plain.attrs = {}
    specials = [n for n in plain.columns if n in _LIST_TYPES or n in _JSON_COLUMNS]
    table = pa.Table.from_pandas(plain.drop(columns=specials), preserve_index=True)
    for name in specials:
        values = plain[name].tolist()
        if name in _LIST_TYPES:
            array = pa.array(values, type=_LIST_TYPES[name])
        else:
            # empty dicts (most metadata) skip the encoder
            array = pa.array(
                ["{}" if type(v) is dict and not v else json.dumps(v) for v in values],
                type=pa.large_string(),
            )
        table = table.append_column(name, array)
    return table


_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): STRING,
    pa.large_string(): STRING,
}


def _from_table(table: pa.Table, kind: str, order: list[str]) -> pd.DataFrame:
    # pandas cannot parse its own metadata for pyarrow list dtypes, so the metadata is
    # ignored: nullable types come from _TYPES, the rest from conform() below.
    native = [n for n in table.column_names if pa.types.is_list(table.schema.field(n).type)]
    specials = [n for n in table.column_names if n in _LIST_TYPES or n in _JSON_COLUMNS]
    native = [n for n in native if n not in specials]
    rest = table.drop_columns([*specials, *native])
    frame = rest.to_pandas(ignore_metadata=True, types_mapper=_TYPES.get).set_index("id")
    for name in native:
        # Parquet names the list field "element"; the frames use pyarrow's default "item"
        column = table.column(name).cast(pa.list_(pa.string()))
        frame[name] = pd.Series(pd.arrays.ArrowExtensionArray(column), index=frame.index)
    for name in specials:
        raw = table.column(name).to_pylist()
        values = raw if name in _LIST_TYPES else [{} if v == "{}" else json.loads(v) for v in raw]
        frame[name] = pd.Series(
            np.fromiter(values, dtype=object, count=len(values)), index=frame.index, dtype=object
        )
    frame = SynapseFrame(frame[[c for c in order if c in frame.columns]])
    return conform(frame, kind)
