"""Incremental refresh of whole listings, and the Parquet-cached ``list_all`` listings.

A frame that holds a whole listing is brought up to date by fetching only the rows
modified since its newest ``modified``; rows deleted on the server are dropped and new ones
added. :func:`cached_listing` keeps each listing in a :class:`~.cache.FrameCache` and
refreshes it that way on the next call.

Example:
    >>> stamps = pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-02"], utc=True)
    >>> mark_of(pd.DataFrame({"modified": stamps}))[1]
    2
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from synapse_nb.frames.build import build_frame, conform, gc_paused
from synapse_nb.frames.cache import FrameCache
from synapse_nb.frames.listing import Lister, jsonable, now_iso
from synapse_nb.frames.rows import TAGGED, RowStore, raw_list

__all__ = ["FrameSource", "cached_listing", "incremental", "mark_of"]

#: A frame, or a loader of one (the cache's Parquet read, run while the requests travel).
FrameSource: TypeAlias = pd.DataFrame | Callable[[], pd.DataFrame | None]


@gc_paused()  # the delta pages decode in threads while a 100k-row frame is alive
def incremental(
    lister: Lister,
    rows: RowStore,
    kind: str,
    base: FrameSource,
    query: Mapping[str, Any],
    include_data: bool,
    *,
    lookback: float = 0.0,
    mark: tuple[pd.Timestamp | None, int] | None = None,
    page_options: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """``base`` brought up to date: rows modified since its newest ``modified`` are
    re-fetched, deleted ones dropped. Returns the frame and what changed.

    The rows stamped exactly at the newest ``modified`` (typically the last bulk change,
    which shares one stamp) are not fetched again: a count of the rows at that stamp
    tells whether any row joined them since, and only then are their ids compared.

    ``base`` may be a loader (the cache's Parquet read) when ``mark`` (the newest stamp
    and how many rows carry it) is known without it: the requests then travel while it
    loads. ``lookback`` seconds are subtracted from the newest stamp (see
    ``Client.refresh_lookback``).

    Example:
        >>> lister = Lister(client.raw, key="doc")
        >>> tasks = lister.all_rows("task", {"project": 1}, False, {})
        >>> incremental(lister, client.rows, "task", tasks, {"project": 1}, False)[1]
        {'changed': 0, 'removed': 0}
    """
    query = dict(query)
    order = _ORDERINGS.get(str(query.get("ordering", "id")).strip())
    if mark is None:
        frame = base() if callable(base) else base
        if frame is None:
            raise ValueError("nothing to refresh")
        base = frame
        mark = mark_of(frame)
    newest = mark[0]
    if newest is None or order is None:
        # nothing to start from, or an order we cannot reproduce locally: list again
        fresh = lister.all_rows(kind, query, include_data, dict(page_options or {}))
        return fresh, {"changed": len(fresh), "removed": 0}
    since = _stamp(newest - pd.Timedelta(seconds=lookback))
    delta_query = {**query, ("modified__gte" if lookback else "modified__gt"): since}
    delta_query.setdefault("page_size", lister.frame_page_size)

    def fetch_delta() -> list[dict[str, Any]]:
        items, _count = raw_list(lister.raw, kind, delta_query, True)
        return list(items)

    # every request travels at once, and while a cached frame is read from disk
    with ThreadPoolExecutor(4, thread_name_prefix="synapse-refresh") as pool:
        delta_future = pool.submit(fetch_delta)
        count_future = pool.submit(rows.count, kind, query)
        ties_future = (
            None if lookback else pool.submit(rows.count, kind, {**query, "modified": since})
        )
        names_future = pool.submit(lister.tags.names) if kind in TAGGED else None
        loaded = base() if callable(base) else base
        records = delta_future.result()
        tag_names = names_future.result() if names_future is not None else None
        total = count_future.result()
        ties = ties_future.result() if ties_future is not None else None
    if loaded is None:
        raise ValueError("the cached frame could not be read")
    if ties is not None:
        records += _joined_at_stamp(rows, kind, query, loaded, records, mark, since, ties)
    changed = build_frame(kind, records, tag_names=tag_names, include_data=include_data)
    merged = _merge_rows(loaded, changed)
    removed, added = 0, pd.DataFrame()
    if total is not None and len(merged) != total:
        merged, removed, added = _reconcile(lister, rows, kind, query, merged, include_data)
    changed_ids = len(changed) + len(added)
    merged = _reorder(merged, order)
    conform(merged, kind)
    total = len(merged) if total is None else total
    merged.attrs["synapse"] = lister.meta(kind, query, total, include_data, complete=True)
    merged.attrs["synapse"]["fetched"] = len(merged)
    return merged, {"changed": changed_ids, "removed": removed}


def _joined_at_stamp(
    rows: RowStore,
    kind: str,
    query: Mapping[str, Any],
    loaded: pd.DataFrame,
    records: list[dict[str, Any]],
    mark: tuple[pd.Timestamp | None, int],
    since: str,
    ties: int,
) -> list[dict[str, Any]]:
    """Records of rows stamped exactly at our newest stamp after we fetched (usually none).

    Rows held at our newest stamp that changed since are in the delta (with a newer stamp),
    so the stamp should now count the held rows minus those; any other count means a row
    joined the stamp after we fetched (even if one left).
    """
    newest, held_count = mark
    held = loaded.index[loaded["modified"] == newest].tolist()
    moved = {r.get("id") for r in records}.intersection(held)
    if ties == held_count - len(moved):
        return []
    tied = rows.ids(kind, {**query, "modified": since})
    new_ids = sorted(set(tied) - set(held))
    return rows.records(kind, new_ids) if new_ids else []


def _reconcile(
    lister: Lister,
    rows: RowStore,
    kind: str,
    query: Mapping[str, Any],
    merged: pd.DataFrame,
    include_data: bool,
) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """``merged`` with rows deleted on the server dropped and missing ones read by id.

    Returns the frame, how many rows were dropped and the rows added.
    """
    server_ids = rows.ids(kind, query)
    present = merged.index.isin(server_ids)
    removed = int((~present).sum())
    merged = merged[present]
    missing = sorted(set(server_ids) - set(merged.index.tolist()))
    if not missing:
        return merged, removed, pd.DataFrame()
    extra = lister.by_id(kind, rows.records(kind, missing), include_data)
    return pd.concat([merged, extra[merged.columns]]), removed, extra


def cached_listing(
    lister: Lister,
    rows: RowStore,
    cache: FrameCache,
    kind: str,
    query: Mapping[str, Any],
    include_data: bool,
    page_options: Mapping[str, Any],
    *,
    lookback: float = 0.0,
) -> pd.DataFrame:
    """Every row of a listing, from ``cache`` brought up to date (or listed on a miss).

    The cache entry is rewritten in a background thread; ``attrs['synapse']['cache']``
    says whether it was a hit and what changed.

    Example:
        >>> import tempfile
        >>> lister, query = Lister(client.raw, key="doc"), {"project": 1}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     cache = FrameCache(tmp)
        ...     first = cached_listing(lister, client.rows, cache, "task", query, False, {})
        ...     again = cached_listing(lister, client.rows, cache, "task", query, False, {})
        ...     cache.flush()
        >>> first.attrs["synapse"]["cache"]["hit"], again.attrs["synapse"]["cache"]["hit"]
        (False, True)
    """
    query = dict(query)
    key = FrameCache.key(kind, lister.raw.base_url, query, include_data)
    info = cache.info(key)
    frame = None
    stats: dict[str, Any] = {}
    if info is not None and "watermark" in info:
        # the sidecar knows where to start: the changes are fetched while Parquet loads
        watermark = info["watermark"]
        mark = (None if watermark is None else pd.Timestamp(watermark), int(info["held"]))

        def load() -> pd.DataFrame | None:
            entry = cache.load(key)
            return None if entry is None else entry.frame

        try:
            frame, delta = incremental(
                lister, rows, kind, load, query, include_data,
                lookback=lookback, mark=mark, page_options=page_options,
            )  # fmt: skip
            stats = {**delta, "hit": True}
        except ValueError:  # unreadable file: a miss
            frame = None
    if frame is None:
        frame = lister.all_rows(kind, query, include_data, page_options)
        stats = {"changed": len(frame), "removed": 0, "hit": False}
    newest, held = mark_of(frame)
    # the Parquet file is written by a thread while the frame is already returned
    cache.save(
        key,
        frame,
        {
            "kind": kind,
            "query": jsonable(query),
            "saved": now_iso(),
            "watermark": None if newest is None else newest.isoformat(),
            "held": held,
        },
        background=True,
    )
    frame.attrs["synapse"]["cache"] = {**stats, "key": key}
    return frame


def mark_of(frame: pd.DataFrame) -> tuple[pd.Timestamp | None, int]:
    """The newest ``modified`` of a frame and how many rows carry it.

    Example:
        >>> mark_of(pd.DataFrame({"modified": pd.Series([], dtype="datetime64[ns, UTC]")}))
        (None, 0)
    """
    stamps = frame["modified"].dropna() if "modified" in frame.columns else pd.Series([])
    if stamps.empty:
        return None, 0
    newest = stamps.max().tz_convert("UTC")
    return newest, int((stamps == newest).sum())


def _stamp(moment: pd.Timestamp) -> str:
    """A UTC timestamp as the server writes ``modified`` (microseconds, ``+00:00``)."""
    return moment.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


#: ``ordering`` values whose order the incremental refresh reproduces: (column, ascending);
#: the id breaks ties, as on the server. Any other ordering makes a refresh list again.
_ORDERINGS: dict[str, tuple[str | None, bool]] = {
    "id": (None, True),
    "-id": (None, False),
    "created": ("created", True),
    "-created": ("created", False),
    "modified": ("modified", True),
    "-modified": ("modified", False),
}


def _merge_rows(base: pd.DataFrame, changed: pd.DataFrame) -> pd.DataFrame:
    """``base`` with the rows of ``changed`` replacing theirs in place, new ones appended."""
    columns = [c for c in base.columns if c in changed.columns]
    changed = changed[columns]
    positions = base.index.get_indexer(changed.index)
    known = positions >= 0
    merged = base
    if known.any():
        try:
            merged = base.copy(deep=False)
            rows = positions[known]
            for column in columns:
                new = changed[column].array[known]
                old = base[column].array.take(rows)
                if pd.Series(old, copy=False).equals(pd.Series(new, copy=False)):
                    continue  # e.g. a tag change leaves 27 of 30 columns as they were
                merged[column] = _replaced(base[column].array, rows, new)
        except (TypeError, ValueError):  # e.g. a category the cached frame has not seen
            kept = base[~base.index.isin(changed.index)]
            return pd.concat([kept, changed])
    if not known.all():
        merged = pd.concat([merged, changed[~known]])
    return merged


def _replaced(values: Any, rows: np.ndarray, new: Any) -> Any:
    """A copy of the array ``values`` with positions ``rows`` set to ``new``.

    pyarrow-backed columns (lists of tag and class names) are rebuilt with one Arrow
    ``take`` over the old values followed by the new ones: pandas' ``__setitem__`` on them
    goes through Python objects (27 ms for 1,000 rows of a 100k-row column, vs < 1 ms).

    Example:
        >>> old = pd.array([["a"], ["b"], []], dtype=pd.ArrowDtype(pa.list_(pa.string())))
        >>> new = pd.array([["z"]], dtype=old.dtype)
        >>> _replaced(old, np.array([1]), new).tolist()
        [['a'], ['z'], []]
    """
    if isinstance(values.dtype, pd.ArrowDtype):
        kind = values.dtype.pyarrow_dtype
        old, fresh = pa.array(values, type=kind), pa.array(new, type=kind)
        chunks = [*getattr(old, "chunks", [old]), *getattr(fresh, "chunks", [fresh])]
        index = np.arange(len(values))
        index[rows] = len(values) + np.arange(len(rows))
        combined = pa.chunked_array(chunks, type=kind)
        return pd.arrays.ArrowExtensionArray(combined.take(pa.array(index)).combine_chunks())
    out = values.copy()
    out[rows] = new
    return out


def _reorder(frame: pd.DataFrame, order: tuple[str | None, bool]) -> pd.DataFrame:
    column, ascending = order
    if column is None:
        ordered = (
            frame.index.is_monotonic_increasing
            if ascending
            else (frame.index.is_monotonic_decreasing)
        )
        return frame if ordered else frame.sort_index(ascending=ascending)
    stamps = frame[column].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    missing = np.isnat(stamps)
    key = stamps.astype("int64")
    # NULL timestamps sort first ascending and last descending, as in the server's SQL
    key = np.where(missing, np.iinfo(np.int64).min, key if ascending else -key)
    ids = frame.index.to_numpy(dtype="int64")
    positions = np.lexsort((ids, key))
    if not ascending:
        positions = np.concatenate([positions[~missing[positions]], positions[missing[positions]]])
    if (positions == np.arange(len(positions))).all():
        return frame
    return frame.iloc[positions]
