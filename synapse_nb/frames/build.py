"""Records -> typed DataFrames, column by column, without ``json_normalize`` or per-row ``loc``.

Records are consumed in chunks as they stream in (a ``list_all`` generator fetches the next
pages meanwhile); each chunk is walked once per column into a plain list, each derived group
(primary file, DM summary) once per record, and every column gets its dtype once at the end.

The frames are :class:`SynapseFrame` objects: ordinary DataFrames whose text and HTML reprs
add one line when the rows are only part of the listing ("100 of 12,345 tasks fetched"), so a
single page is never mistaken for the whole project.

Example:
    >>> df = build_frame("task_tag", [{"id": 3, "name": "blurry", "project": 1,
    ...                                "created": "2026-09-01T09:05:00+00:00"}])
    >>> df.loc[3, "name"], str(df["created"].dtype), df.index.dtype
    ('blurry', 'datetime64[ns, UTC]', Int64Dtype())
"""

from __future__ import annotations

import gc
import html
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import accumulate, chain, groupby, islice, pairwise, repeat
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from synapse_nb.frames.columnar import is_row, struct_columns
from synapse_nb.frames.dm import summarize
from synapse_nb.frames.schemas import IMAGE_TOOLS, SCHEMAS, Column, Schema
from synapse_nb.frames.segments import ColumnBuffer

__all__ = [
    "LIST_OF_STRINGS",
    "STRING",
    "SynapseFrame",
    "build_frame",
    "conform",
    "convert_column",
    "empty_frame",
    "frame_meta",
    "gc_paused",
    "partial_note",
]

#: The pandas string dtype of every text column (pyarrow storage, ``pd.NA`` for missing).
STRING = pd.StringDtype("pyarrow")
#: dtype of the read-only list columns (``classes``, ``tag_names``).
LIST_OF_STRINGS = pd.ArrowDtype(pa.list_(pa.string()))
DATETIME = "datetime64[ns, UTC]"
#: What pyarrow raises for a value that does not fit the requested type.
_ARROW_MISFIT = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError)

_CHUNK = 1000

#: tag id -> name, or a callable that returns it
TagNames = Mapping[int, str] | Callable[[], Mapping[int, str]] | None


# ---------------------------------------------------------------------------- the frame


def frame_meta(frame: pd.DataFrame) -> dict[str, Any]:
    """The ``attrs['synapse']`` dict of a frame (empty when it is not one of ours).

    Example:
        >>> frame_meta(pd.DataFrame())
        {}
    """
    meta = frame.attrs.get("synapse")
    return meta if isinstance(meta, dict) else {}


def partial_note(frame: pd.DataFrame) -> str | None:
    """The "100 of 12,345" line of a frame built from part of a listing, else None.

    Example:
        >>> df = pd.DataFrame()
        >>> df.attrs["synapse"] = {"kind": "task", "count": 450, "fetched": 100,
        ...                        "method": "list_tasks"}
        >>> partial_note(df)
        '100 of 450 tasks fetched (one page); list_tasks(..., list_all=True) fetches all 450'
    """
    meta = frame_meta(frame)
    count, fetched = meta.get("count"), meta.get("fetched")
    if not isinstance(count, int) or not isinstance(fetched, int):
        return None
    kind = str(meta.get("kind", "row")).replace("_", " ")
    failed = meta.get("failed_pages")
    if failed:
        return (
            f"{fetched:,} of {count:,} {kind}s fetched; {failed} page(s) failed "
            "(see page_failures); list again to retry them"
        )
    if meta.get("complete") or fetched >= count:
        return None
    method = meta.get("method") or "list"
    return (
        f"{fetched:,} of {count:,} {kind}s fetched (one page); "
        f"{method}(..., list_all=True) fetches all {count:,}"
    )


class SynapseFrame(pd.DataFrame):
    """A DataFrame that says so in its repr when it holds only part of a listing.

    Everything else is plain pandas; derived frames (filters, copies, concat) stay
    ``SynapseFrame`` and keep ``attrs``.

    Example:
        >>> df = SynapseFrame({"a": [1]})
        >>> df.attrs["synapse"] = {"kind": "task", "count": 5, "fetched": 1}
        >>> repr(df).splitlines()[-1]
        '[1 of 5 tasks fetched (one page); list(..., list_all=True) fetches all 5]'
    """

    @property
    def _constructor(self) -> type[SynapseFrame]:
        return SynapseFrame

    def __repr__(self) -> str:
        note = partial_note(self)
        text = super().__repr__()
        return f"{text}\n[{note}]" if note else text

    def _repr_html_(self) -> str | None:
        text = super()._repr_html_()
        note = partial_note(self)
        if text is None or not note:
            return text
        return f"{text}<p><b>Partial:</b> {html.escape(note)}</p>"


# ---------------------------------------------------------------------------- extractors


def _ref(value: Any) -> int | None:
    """An id given as an int, a digit string or an expanded ``{'id': ...}`` dict."""
    if type(value) is int:
        return value
    if isinstance(value, Mapping):
        value = value.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _refs(values: list[Any]) -> list[int | None]:
    # ints (the common case) pass without a function call
    return [v if type(v) is int else _ref(v) for v in values]


def _dig(record: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    value: Any = record
    for part in parts:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _tag_ids(value: Any) -> list[int | None]:
    """A record's tag list (ids, or expanded ``{'id', 'name'}`` dicts) as a list of ids."""
    if type(value) is not list:
        return []
    if all(type(t) is int for t in value):
        return value  # the decoded record's own list: no copy needed
    return [t if type(t) is int else _ref(t) for t in value]


_NO_FILE = (None, None, None, None)
_NO_META: dict[str, Any] = {}


def _primary_file(files: Any, meta: Any) -> tuple[Any, Any, Any, Any]:
    """(url, original name, width, height) of the primary file of a ``files`` dict."""
    if type(files) is not dict or not files:
        return _NO_FILE
    chosen: Any = None
    if len(files) > 1:
        for entry in files.values():
            if type(entry) is dict and entry.get("is_primary"):
                chosen = entry
                break
    if chosen is None:
        chosen = next(iter(files.values()))
    if type(chosen) is dict:
        url = chosen.get("url", chosen.get("path"))
        name = chosen.get("file_name_original") or chosen.get("path")
        file_meta = chosen.get("meta")
        if type(file_meta) is not dict:
            file_meta = meta if type(meta) is dict else _NO_META
        width, height = file_meta.get("width"), file_meta.get("height")
    else:  # a bare URL string (or a local Path after url_conversion)
        url, name, width, height = chosen, None, None, None
    return (
        url if url is None or type(url) is str else str(url),
        name if name is None or type(name) is str else str(name),
        width if type(width) is int else None,
        height if type(height) is int else None,
    )


def _flatten_metrics(value: Any, prefix: str, out: dict[str, float]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            _flatten_metrics(sub, name, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[prefix] = float(value)


def _getter(chunk: list[Any]) -> Callable[[str], list[Any]]:
    """``get(key)`` -> the value of ``key`` in every record of ``chunk`` (None when absent)."""
    if all(type(r) is dict for r in chunk):
        return lambda key: list(map(dict.get, chunk, repeat(key)))
    return lambda key: [r.get(key) for r in chunk]


def count_matrix(
    versions: tuple[Any, ...], counts: tuple[dict[str, int], ...], sources: tuple[str, ...]
) -> np.ndarray:
    """Annotation counts of a chunk of DM summaries as an ``int32`` matrix, -1 for NA.

    One row per entry of ``sources`` (a tool, or ``'total'``: every tool's count), one
    column per record. A record whose data is not DM (version ``'other'``) has no counts:
    -1 in every row. Built in one walk over the (small) count dicts, not one list per tool.

    Example:
        >>> count_matrix(("v2", None, "other"), ({"polygon": 2, "x": 1}, {}, {}),
        ...              ("total", "polygon", "keypoint")).tolist()
        [[3, 0, -1], [2, 0, -1], [0, 0, -1]]
    """
    n = len(counts)
    row_of = {source: i for i, source in enumerate(sources)}
    total = row_of.pop("total", None)
    places: list[int] = []
    amounts: list[int] = []
    for column, found in enumerate(counts):
        if not found:
            continue
        for tool, amount in found.items():
            row = row_of.get(tool)
            if row is not None:
                places.append(row * n + column)
                amounts.append(amount)
            if total is not None:
                places.append(total * n + column)
                amounts.append(amount)
    flat = np.bincount(
        np.array(places, dtype=np.intp),
        weights=np.array(amounts, dtype=np.float64),
        minlength=len(sources) * n,
    )
    matrix = flat.astype(np.int32).reshape(len(sources), n)
    other = np.fromiter((v == "other" for v in versions), dtype=bool, count=n)
    matrix[:, other] = -1
    return matrix


def tag_name_lists(tag_lists: list[list[Any]], names: Mapping[Any, str]) -> Any:
    """The ``tag_names`` column: every row's tag ids as names (``tag:<id>`` when unknown).

    Each distinct id is looked up once; the column is built by pyarrow from one flat list
    of names and the row offsets.

    Example:
        >>> tag_name_lists([[1, 2], [], [2]], {1: "blurry"}).tolist()
        [['blurry', 'tag:2'], [], ['tag:2']]
    """
    flat = list(chain.from_iterable(tag_lists))
    table = {t: names.get(t) or f"tag:{t}" for t in set(flat)}
    named = list(map(table.__getitem__, flat))
    try:
        values = pa.array(named, type=pa.string())
    except _ARROW_MISFIT:  # a name that is not text: the general conversion
        starts = accumulate(map(len, tag_lists), initial=0)
        rows = [named[a:b] for a, b in pairwise(starts)]
        return pd.array(rows, dtype=LIST_OF_STRINGS)
    offsets = np.zeros(len(tag_lists) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, tag_lists), np.int32, len(tag_lists)), out=offsets[1:])
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(pa.array(offsets), values))


# ---------------------------------------------------------------------------- dtypes


def _objects(values: list[Any]) -> np.ndarray:
    # fromiter keeps nested lists as elements (np.array would read them as a 2nd dimension)
    return np.fromiter(values, dtype=object, count=len(values))


def _strings(values: list[Any]) -> Any:
    try:  # all str or None (the usual case): one pyarrow pass, no per-value checks
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    except _ARROW_MISFIT:
        pass
    try:
        return pd.array(values, dtype=STRING)
    except (TypeError, ValueError):
        return pd.array(
            [v if v is None or isinstance(v, str) else str(v) for v in values], dtype=STRING
        )


def _string_lists(values: list[Any]) -> Any:
    try:  # lists of str (or None): built by pyarrow directly
        return pd.arrays.ArrowExtensionArray(pa.array(values, type=pa.list_(pa.string())))
    except _ARROW_MISFIT:
        return pd.array(values, dtype=LIST_OF_STRINGS)


def _category_codes(values: list[Any], categories: tuple[str, ...]) -> np.ndarray | None:
    """Codes of ``values`` in ``categories`` (-1 for None); None if any value is not one."""
    position: dict[Any, int] = {c: i for i, c in enumerate(categories)}
    position[None] = -1
    try:
        codes = list(map(position.get, values))
    except TypeError:  # an unhashable value
        return None
    if None in codes:  # a value outside the fixed categories
        return None
    return np.array(codes, dtype=np.int16 if len(categories) > 127 else np.int8)


def _categorical(values: list[Any], categories: tuple[str, ...]) -> pd.Categorical:
    codes = _category_codes(values, categories)
    if codes is not None:
        return pd.Categorical.from_codes(codes, categories=list(categories))
    known = set(categories)
    extra = sorted({v for v in values if v is not None and v not in known}, key=str)
    return pd.Categorical(values, categories=[*categories, *extra])


_NONE = type(None)
#: dtype -> (pyarrow type, pandas array type, the Python types the pyarrow path takes)
_MASKED_VIA_ARROW: dict[str, tuple[Any, Any, frozenset[type]]] = {
    "Int64": (pa.int64(), pd.arrays.IntegerArray, frozenset({int, _NONE})),
    "Int32": (pa.int32(), pd.arrays.IntegerArray, frozenset({int, _NONE})),
    "boolean": (pa.bool_(), pd.arrays.BooleanArray, frozenset({bool, _NONE})),
}


def _masked(values: list[Any], dtype: str) -> Any:
    """A nullable integer or boolean array; plain ints/bools/None are read by pyarrow in C.

    Anything else (or an int out of range) goes to ``pd.array``, which converts or raises as
    it always did.
    """
    arrow_type, array_type, accepted = _MASKED_VIA_ARROW[dtype]
    if set(map(type, values)) <= accepted:
        try:
            arrow = pa.array(values, type=arrow_type)
        except (*_ARROW_MISFIT, OverflowError):
            pass
        else:
            data = arrow.fill_null(False if dtype == "boolean" else 0)
            mask = (
                arrow.is_null().to_numpy(zero_copy_only=False)
                if arrow.null_count
                else np.zeros(len(arrow), dtype=bool)
            )
            return array_type(data.to_numpy(zero_copy_only=False, writable=True), mask)
    return pd.array(values, dtype=dtype)


def _timestamps(values: list[Any]) -> Any:
    return pd.to_datetime(values, utc=True, format="ISO8601").as_unit("ns").array


def convert_column(values: list[Any], column: Column) -> Any:
    """Give a list of raw values the dtype of ``column`` (one conversion, no copy after).

    Args:
        values: Python values, ``None`` for missing.
        column: The column spec.

    Example:
        >>> from synapse_nb.frames.schemas import SCHEMAS
        >>> convert_column(["pending", None], SCHEMAS["task"].column("status")).tolist()
        ['pending', nan]
    """
    dtype = column.dtype
    if dtype in _MASKED_VIA_ARROW:
        return _masked(values, dtype)
    if dtype == "list[string]":
        return _string_lists(values)
    if dtype == "Float64":
        return pd.array(values, dtype="Float64")
    if dtype == "string":
        return _strings(values)
    if dtype == "category":
        return _categorical(values, column.categories)
    if dtype == "datetime":
        return _timestamps(values)
    return _objects(values)


def _dtype_of(column: Column, current: Any) -> Any:
    """The pandas dtype ``column`` must have (categories keep extra observed values)."""
    simple = {
        "Int64": pd.Int64Dtype(),
        "Int32": pd.Int32Dtype(),
        "Float64": pd.Float64Dtype(),
        "boolean": pd.BooleanDtype(),
        "string": STRING,
        "datetime": pd.DatetimeTZDtype("ns", "UTC"),
        "list[string]": LIST_OF_STRINGS,
    }
    if column.dtype in simple:
        return simple[column.dtype]
    if column.dtype == "category":
        extra = []
        if isinstance(current, pd.CategoricalDtype):
            extra = [c for c in current.categories if c not in column.categories]
        return pd.CategoricalDtype([*column.categories, *extra])
    return np.dtype("O")


def conform(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Give every schema column (and the index) of ``frame`` its schema dtype, in place.

    Used after steps that can widen dtypes (``concat`` of frames with different category
    sets, Parquet round trips). Columns already right are left untouched.

    Example:
        >>> df = build_frame("task_tag", [])
        >>> df["project"] = df["project"].astype("float64")
        >>> str(conform(df, "task_tag")["project"].dtype)
        'Int64'
    """
    schema = _schema(kind)
    for column in schema.columns:
        if column.name not in frame.columns:
            continue
        current = frame[column.name].dtype
        wanted = _dtype_of(column, current)
        if current != wanted:
            if column.dtype == "category":
                values = frame[column.name].astype(object).where(frame[column.name].notna())
                frame[column.name] = pd.Categorical(values, categories=wanted.categories)
            else:
                frame[column.name] = frame[column.name].astype(wanted)
    wanted_index = STRING if schema.index_dtype == "string" else pd.Int64Dtype()
    if frame.index.dtype != wanted_index:
        frame.index = frame.index.astype(wanted_index)
    frame.index.name = "id"
    return frame


def _index(ids: list[Any], schema: Schema) -> pd.Index:
    if schema.index_dtype == "string":
        values = [None if i is None else str(i) for i in ids]
        return pd.Index(pd.array(values, dtype=STRING), name="id")
    return pd.Index(_masked(_refs(ids), "Int64"), name="id")


_ID = Column("id", "Int64", "row id")


# ---------------------------------------------------------------------------- building


#: Rows converted to typed arrays at a time while a listing streams in: the conversion then
#: runs while later pages are still on the wire, and only the last segment is left for the end.
_SEGMENT = 20_000

#: Columns kept as raw Python values until the end (their conversion needs the tag names).
_DEFERRED = frozenset({"tag_names"})


def _combine(parts: list[Any], column: Column) -> Any:
    """Concatenate the typed segments of one column."""
    if len(parts) == 1:
        return parts[0]
    if column.dtype == "category":
        # segments may have seen different unknown values: union, fixed categories first
        return pd.api.types.union_categoricals(parts)
    if column.dtype == "object":
        return np.concatenate(parts)
    return pd.concat([pd.Series(p, copy=False) for p in parts], ignore_index=True).array


def _buffer(column: Column, capacity: int) -> ColumnBuffer:
    return ColumnBuffer(capacity, lambda parts: _combine(parts, column))


class _Accumulator:
    """Per-column lists, extended chunk by chunk and converted segment by segment."""

    def __init__(self, schema: Schema, tag_names: TagNames, keep_data: bool, capacity: int = 0):
        self.schema = schema
        self.tag_names = tag_names
        self.keep_data = keep_data
        self.ids: list[Any] = []
        #: typed segments of integer ids (no Python int per row is held to the end)
        self.id_parts = ColumnBuffer(capacity, lambda parts: _combine(parts, _ID))
        self.values: dict[str, list[Any]] = {c.name: [] for c in schema.columns}
        #: typed segments, written into arrays of the listing's size where the type allows
        self.parts = {c.name: _buffer(c, capacity) for c in schema.columns}
        self.pending = 0
        self.data: list[Any] = []
        self.metrics: list[dict[str, float]] = []
        self._paths = {c.name: tuple(c.source.split(".")) for c in schema.columns if c.source}
        self._needs_files = any(c.kind == "file" for c in schema.columns)
        self._needs_dm = any(c.kind == "dm" for c in schema.columns)
        counted = [c for c in schema.columns if c.kind == "dm" and c.dtype == "Int32"]
        #: the DM count columns and their sources (``total`` or a tool), in matrix row order
        self._counts = [c.name for c in counted]
        self._count_sources = tuple(c.source or c.name for c in counted)
        self.count_chunks: list[np.ndarray] = []

    def add(self, chunk: list[Any]) -> None:
        """Gather one chunk of records: dicts, typed rows, or runs of both."""
        if len(set(map(type, chunk))) == 1:  # one page's rows: all typed or all dicts
            self._add_run(is_row(chunk[0]), chunk)
            return
        for typed, run in groupby(chunk, is_row):  # a chunk across a page not covered
            self._add_run(typed, list(run))

    def _add_run(self, typed: bool, run: list[Any]) -> None:
        if not typed:
            self._add_dicts(run)
        elif self.keep_data or self.schema.dynamic_prefix:
            raise ValueError("typed rows carry no DM data or metrics: list them as dicts")
        else:
            self._append(*struct_columns(self.schema, run, self._count_sources))

    def _add_dicts(self, chunk: list[Mapping[str, Any]]) -> None:
        # plain dicts (what the decoder gives) are read with dict.get mapped over the chunk:
        # no Python-level loop per value
        get = _getter(chunk)
        ids = get("id")
        files: dict[str, tuple[Any, ...]] = {}
        if self._needs_files:
            urls, names, widths, heights = zip(
                *map(_primary_file, get("files"), get("meta")), strict=True
            )
            files = {"url": urls, "name": names, "width": widths, "height": heights}
        dm: dict[str, Any] = {}
        matrix: np.ndarray | None = None
        if self._needs_dm:
            versions, counts, classes = zip(*map(summarize, get("data")), strict=True)
            dm = {"version": versions, "classes": classes}
            matrix = count_matrix(versions, counts, self._count_sources)
        values: dict[str, Any] = {}
        tags: list[list[int | None]] | None = None
        for column in self.schema.columns:
            kind, source = column.kind, column.source or column.name
            if kind == "value":
                parts = self._paths[column.name]
                if len(parts) == 1:
                    values[column.name] = get(source)
                else:
                    values[column.name] = [_dig(r, parts) for r in chunk]
            elif kind == "ref":
                values[column.name] = _refs(get(source))
            elif kind in ("tags", "tag_names"):
                if tags is None:
                    tags = list(map(_tag_ids, get(source)))
                values[column.name] = tags
            elif kind == "file":
                values[column.name] = files[source]
            elif kind == "dm" and column.name not in self._counts:
                values[column.name] = dm[source]
        if self.keep_data:
            self.data.extend(get("data"))
        if self.schema.dynamic_prefix:
            for r in chunk:
                flat: dict[str, float] = {}
                _flatten_metrics(r.get("metrics"), "", flat)
                self.metrics.append(flat)
        self._append(ids, values, matrix)

    def _append(self, ids: list[Any], values: dict[str, Any], counts: np.ndarray | None) -> None:
        """Add the raw values of one chunk; convert a segment once enough have gathered."""
        self.ids.extend(ids)
        if counts is not None:
            self.count_chunks.append(counts)
        for name, column_values in values.items():
            # names are looked up in frame(), so the tag listing can still be in flight
            self.values[name].extend(column_values)
        self.pending += len(ids)
        if self.pending >= _SEGMENT:
            self._convert()

    def _convert(self) -> None:
        """Turn the raw values gathered so far into typed arrays (one segment)."""
        if self._counts:
            self._convert_counts()
        for column in self.schema.columns:
            if column.name in _DEFERRED or column.name in self._counts:
                continue
            values = self.values[column.name]
            if values or self.parts[column.name].empty:
                self.parts[column.name].put(convert_column(values, column))
                self.values[column.name] = []
        if self.schema.index_dtype != "string" and (self.ids or self.id_parts.empty):
            self.id_parts.put(_index(self.ids, self.schema).array)
            self.ids = []
        self.pending = 0

    def _convert_counts(self) -> None:
        """The DM count columns of the chunks so far, one ``Int32`` array each."""
        if not self.count_chunks and not self.parts[self._counts[0]].empty:
            return
        matrix = (
            np.concatenate(self.count_chunks, axis=1)
            if self.count_chunks
            else np.zeros((len(self._counts), 0), dtype=np.int32)
        )
        self.count_chunks = []
        missing = matrix < 0  # "other" documents: NA in every count column
        matrix[missing] = 0
        for row, name in enumerate(self._counts):
            self.parts[name].put(pd.arrays.IntegerArray(matrix[row], missing[row]))

    def frame(self) -> pd.DataFrame:
        schema = self.schema
        self._convert()
        if not self.id_parts.empty:
            index = pd.Index(self.id_parts.result(), name="id")
        else:
            index = _index(self.ids, schema)
        if "tag_names" in self.values:
            names = self.tag_names() if callable(self.tag_names) else self.tag_names
            names = names or {}
            self.parts["tag_names"].put(tag_name_lists(self.values["tag_names"], names))
        # each column's segments are let go as soon as they are combined: the frame is never
        # held twice (segments and combined columns) at its peak
        columns: dict[str, Any] = {
            c.name: self.parts.pop(c.name).result() for c in schema.columns
        }
        if self.keep_data:
            columns["data"] = _objects(self.data)
        if schema.dynamic_prefix:
            metric_names = sorted({k for m in self.metrics for k in m})
            for name in metric_names:
                columns[f"{schema.dynamic_prefix}{name}"] = pd.array(
                    [m.get(name) for m in self.metrics], dtype="Float64"
                )
        return SynapseFrame(columns, index=index, copy=False)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a listing is decoded and converted.

    Decoding and converting 100k records allocates millions of dicts and lists, and every
    allocation burst triggers full collections that walk all of them: that costs more CPU
    than the decoding itself (``json.loads`` of 70 MB: 1.9 s with the collector, 0.4 s
    without). Records hold no reference cycles, so reference counting frees them as usual;
    the collector is re-enabled (if it was on) as soon as the frame is built.

    Example:
        >>> import gc
        >>> with gc_paused():
        ...     gc.isenabled()
        False
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:  # pauses nest and overlap across threads: the last one out restores
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = True


def _chunks(records: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Any]]:
    if isinstance(records, list):
        for start in range(0, len(records), size):
            yield records[start : start + size]
        return
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _expected_rows(records: Iterable[Any], meta: Mapping[str, Any] | None) -> int:
    """Rows to reserve: a list's length, else the listing's announced ``count`` (or 0)."""
    if isinstance(records, list):
        return len(records)
    count = (meta or {}).get("count")
    return count if type(count) is int and count > 0 else 0


def build_frame(
    kind: str,
    records: Iterable[Mapping[str, Any]],
    *,
    tag_names: TagNames = None,
    include_data: bool = False,
    meta: Mapping[str, Any] | None = None,
    chunk_size: int = _CHUNK,
) -> pd.DataFrame:
    """Build the typed frame of ``kind`` from API records (a list or a streaming iterator).

    Args:
        kind: A key of :data:`~synapse_nb.frames.schemas.SCHEMAS` (``task``, ``model``...).
        records: The records, e.g. a page's ``results`` or a ``list_all`` generator.
        tag_names: Tag id -> name, for the ``tag_names`` column; or a callable returning it,
            called once every record is consumed (e.g. a future's ``result``).
        include_data: Keep each record's DM ``data`` in a trailing ``data`` column.
        meta: Stored as ``attrs['synapse']`` (with ``kind`` and ``fetched`` filled in).
        chunk_size: Records converted per step while streaming.

    Returns:
        A :class:`SynapseFrame` indexed by ``id`` with the schema's columns in order.

    Example:
        >>> df = build_frame("task", [])
        >>> len(df), str(df["status"].dtype), df.attrs["synapse"]["fetched"]
        (0, 'category', 0)
    """
    schema = _schema(kind)
    acc = _Accumulator(schema, tag_names, include_data, _expected_rows(records, meta))
    with gc_paused():
        for chunk in _chunks(records, chunk_size):
            acc.add(chunk)
        frame = acc.frame()
    info = dict(meta or {})
    info["kind"] = kind
    info["fetched"] = len(frame)
    info.setdefault("count", len(frame))
    frame.attrs["synapse"] = info
    return frame


def empty_frame(kind: str, *, include_data: bool = False) -> pd.DataFrame:
    """The frame of ``kind`` with no rows: same columns and dtypes as a full one.

    Example:
        >>> list(empty_frame("task_tag").columns)
        ['name', 'description', 'project', 'color', 'created']
    """
    return build_frame(kind, [], include_data=include_data)


def _schema(kind: str) -> Schema:
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise ValueError(f"unknown frame kind {kind!r}; one of {sorted(SCHEMAS)}") from None


#: Per-tool count columns of the annotated kinds, in order.
COUNT_COLUMNS = tuple(f"n_{tool}" for tool in IMAGE_TOOLS)
