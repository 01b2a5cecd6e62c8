"""List pages decoded straight into typed rows: the fast path of the annotated frame listings.

A task page of 1000 rows is about 650 kB of JSON, most of it DM annotation data and file
entries that the frame reduces to a few numbers per row. Decoding it into dicts builds every
key, string and nested object first; here each page is decoded by msgspec into small typed
row structs that hold only what the frame's columns read (unknown fields are skipped
without building anything, an annotation becomes one object with its ``classification``).
:func:`struct_columns` then reads the columns off a chunk of rows with attribute getters.

The typed decoding is an exact shortcut, never a second interpretation of the data: a page
whose shape it does not cover (an expanded ``{'id': ...}`` reference, DM v1 data, a data
document with keys DM does not have, a value of an unexpected type, or a body msgspec
refuses) is decoded as a whole by :func:`synapse_nb._json.loads` and built from dicts by
the general code, so every frame is the one the dict path gives.

Example:
    >>> decode = page_decoder("task")
    >>> page = decode(b'{"count": 1, "next": null, "results": [{"id": 7, "status": "pending"}]}')
    >>> page["count"], page["results"][0].status
    (1, 'pending')
    >>> decode(b'{"count": 1, "results": [{"id": "7"}]}')["results"]  # not covered: dicts
    [{'id': '7'}]
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from msgspec import UNSET, Raw, Struct, UnsetType

from synapse_nb._json import loads
from synapse_nb.annotations.media import MEDIA_KEYS, NOT_CLASS_TOOLS
from synapse_nb.frames.schemas import SCHEMAS, Column, Schema

__all__ = ["COVERED_KINDS", "dm_columns", "is_row", "page_decoder", "struct_columns"]

#: Frame kinds whose list pages are decoded into typed rows (the long listings).
COVERED_KINDS = frozenset({"task", "assignment", "ground_truth_event"})


class _Row(Struct, gc=False):
    """Base of the generated row types (``isinstance`` tells typed rows from dicts).

    Rows and their parts are not tracked by the cyclic collector (``gc=False``): decoded
    JSON holds no reference cycles, and untracked objects cost nothing to allocate and free.
    """


class _Ann(Struct, gc=False):
    classification: Any = None


class _FileMeta(Struct, gc=False):
    width: Any = None
    height: Any = None


class _File(Struct, gc=False):
    url: str | UnsetType | None = UNSET
    path: str | UnsetType | None = UNSET
    file_name_original: str | None = None
    is_primary: Any = None
    meta: _FileMeta | None = None


_Media = list[dict[str, list[_Ann] | None]] | UnsetType | None
_MEDIA_FIELDS = tuple(MEDIA_KEYS)

#: A DM v2 document. Any other key (v1's ``annotations``, foreign JSON) fails the decoding,
#: so the page goes to the general code, which tells v1 and non-DM data apart.
_DataV2: Any = msgspec.defstruct(
    "_DataV2",
    [("classification", Raw | UnsetType, UNSET), *[(key, _Media, UNSET) for key in MEDIA_KEYS]],
    forbid_unknown_fields=True,
    gc=False,
)
_media_of = attrgetter(*_MEDIA_FIELDS)

#: frame dtype -> the wire type a value must have to take the fast path
_WIRE_TYPES: dict[str, Any] = {
    "string": str | None,
    "category": str | None,
    "datetime": str | None,
    "boolean": bool | None,
    "Int64": int | None,
    "Int32": int | None,
    "object": Any,
}


def _field(column: Column) -> tuple[str, Any] | None:
    """The row field a column reads, or None when the column needs no field of its own."""
    source = column.source or column.name
    if column.kind == "ref":
        return source, int | None
    if column.kind in ("tags", "tag_names"):
        return source, list[int] | None
    if column.kind == "value":
        return source, _WIRE_TYPES[column.dtype]
    return None


def _row_type(schema: Schema) -> Any:
    fields: dict[str, Any] = {"id": int | None}
    for column in schema.columns:
        found = _field(column)
        if found is not None:
            fields[found[0]] = found[1]
    if any(c.kind == "file" for c in schema.columns):
        fields["files"] = dict[str, _File | str] | None
        fields["meta"] = _FileMeta | None
    if any(c.kind == "dm" for c in schema.columns):
        fields["data"] = _DataV2 | None
    spec = [(name, kind, None) for name, kind in fields.items()]
    return msgspec.defstruct(f"{schema.kind.title()}Row", spec, bases=(_Row,), gc=False)


def _page_type(row: Any) -> Any:
    return msgspec.defstruct(
        f"{row.__name__}Page",
        [
            ("results", list[row]),
            ("count", int | None, None),
            ("next", str | None, None),
            ("previous", str | None, None),
        ],
    )


_DECODERS: dict[str, Callable[[bytes | str], Any]] = {}


def page_decoder(kind: str) -> Callable[[bytes | str], Any] | None:
    """The body decoder of list pages of ``kind``, or None for kinds decoded as dicts.

    The decoder returns the page envelope as a dict (``count``, ``next``, ``previous``,
    ``results``), its results typed rows, or exactly what
    :func:`synapse_nb._json.loads` gives when the page is not covered.

    Example:
        >>> page_decoder("task_tag") is None
        True
        >>> page_decoder("task")(b'[1, 2]')  # not a page: decoded as it is
        [1, 2]
    """
    if kind not in COVERED_KINDS:
        return None
    decode = _DECODERS.get(kind)
    if decode is None:
        page = _page_type(_row_type(SCHEMAS[kind]))
        decode = _DECODERS[kind] = _make_decoder(msgspec.json.Decoder(page))
    return decode


def _make_decoder(decoder: msgspec.json.Decoder[Any]) -> Callable[[bytes | str], Any]:
    def decode(content: bytes | str) -> Any:
        if isinstance(content, bytes):
            try:
                page = decoder.decode(content)
            except msgspec.DecodeError:  # also a ValidationError: not covered
                pass
            else:
                return {
                    "count": page.count,
                    "next": page.next,
                    "previous": page.previous,
                    "results": page.results,
                }
        return loads(content)

    return decode


def is_row(value: Any) -> bool:
    """Whether ``value`` is a typed row of :func:`page_decoder` (else a record dict).

    Example:
        >>> is_row({"id": 1}), is_row(page_decoder("task")(b'{"results": [{}]}')["results"][0])
        (False, True)
    """
    return isinstance(value, _Row)


# ---------------------------------------------------------------------------- columns

_NO_FILE = (None, None, None, None)


def _primary_file(files: dict[str, Any] | None, meta: Any) -> tuple[Any, Any, Any, Any]:
    """(url, original name, width, height) of the primary file, as the dict path reads it."""
    if not files:
        return _NO_FILE
    chosen: Any = None
    if len(files) > 1:
        for entry in files.values():
            if type(entry) is _File and entry.is_primary:
                chosen = entry
                break
    if chosen is None:
        chosen = next(iter(files.values()))
    if type(chosen) is not _File:  # a bare URL string
        return chosen, None, None, None
    path = None if chosen.path is UNSET else chosen.path
    url = path if chosen.url is UNSET else chosen.url
    file_meta = chosen.meta if chosen.meta is not None else meta
    if file_meta is None:
        return url, chosen.file_name_original or path, None, None
    width, height = file_meta.width, file_meta.height
    return (
        url,
        chosen.file_name_original or path,
        width if type(width) is int else None,
        height if type(height) is int else None,
    )


def dm_columns(
    datas: list[Any], sources: tuple[str, ...]
) -> tuple[list[str | None], list[list[str]], np.ndarray]:
    """The DM summary of a chunk of typed DM v2 documents, in one walk.

    What :func:`~synapse_nb.frames.dm.summarize` and
    :func:`~synapse_nb.frames.build.count_matrix` give for the same documents as dicts,
    without a counts dict per row: each ``(tool, row)`` count goes straight into the flat
    positions of the matrix.

    Args:
        datas: The ``data`` of each row (a typed document or None).
        sources: The matrix rows: a tool, or ``'total'`` (every tool's count).

    Returns:
        ``(versions, classes, matrix)``: the format of each document (``'v2'``, ``'other'``
        or None), its sorted class labels, and the ``int32`` counts (one row per source,
        -1 for documents that are not DM).

    Example:
        >>> rows = page_decoder("task")(b'{"results": [{"data": {"images": [{"polygon": '
        ...     b'[{"classification": "car"}, {"classification": "bus"}]}]}}, {"data": {}}]}')
        >>> datas = [row.data for row in rows["results"]]
        >>> versions, classes, matrix = dm_columns(datas, ("total", "polygon", "keypoint"))
        >>> versions, classes, matrix.tolist()
        (['v2', None], [['bus', 'car'], []], [[2, 0], [2, 0], [0, 0]])
    """
    n = len(datas)
    row_of = {source: i * n for i, source in enumerate(sources)}
    total = row_of.pop("total", None)
    not_class, media_of, label_of, unset = NOT_CLASS_TOOLS, _media_of, _CLASS, UNSET
    versions: list[str | None] = []
    classes_of: list[list[str]] = []
    places: list[int] = []
    amounts: list[int] = []
    others: list[int] = []
    add_version, add_classes = versions.append, classes_of.append
    add_place, add_amount = places.append, amounts.append
    for j, data in enumerate(datas):
        if data is None:
            add_version(None)
            add_classes(_NO_CLASSES)
            continue
        labels: set[Any] | None = None
        present = found = False
        for items in media_of(data):
            if items is unset:
                continue
            present = True
            if items is None:
                continue
            found = True
            for item in items:
                for tool, anns in item.items():
                    if not anns:
                        continue
                    amount = len(anns)
                    row = row_of.get(tool)
                    if row is not None:
                        add_place(row + j)
                        add_amount(amount)
                    if total is not None:
                        add_place(total + j)
                        add_amount(amount)
                    if tool not in not_class:
                        try:
                            if labels is None:
                                labels = set(map(label_of, anns))
                            else:
                                labels.update(map(label_of, anns))
                        except TypeError:  # an unhashable label (a dict, a list): no class
                            texts = {c for c in map(label_of, anns) if type(c) is str}
                            labels = texts if labels is None else labels | texts
        if not found and data.classification is unset:
            # {} is empty; a media key that is not a list (and no classification) is not DM
            add_version("other" if present else None)
            if present:
                others.append(j)
            add_classes(_NO_CLASSES)
            continue
        add_version("v2")
        if labels:
            labels.discard(None)
            labels.discard("")
        if not labels:
            add_classes(_NO_CLASSES)
            continue
        try:
            add_classes(sorted(labels))
        except TypeError:  # text and numbers: only the text are classes
            add_classes(sorted(c for c in labels if type(c) is str))
    if not set(map(type, set().union(*classes_of))) <= {str}:
        # labels that are numbers or booleans are no classes (a list that sorted has either
        # only text or no text at all)
        classes_of = [c if not c or type(c[0]) is str else _NO_CLASSES for c in classes_of]
    matrix = (
        np.bincount(
            np.array(places, dtype=np.intp),
            weights=np.array(amounts, dtype=np.float64),
            minlength=len(sources) * n,
        )
        .astype(np.int32)
        .reshape(len(sources), n)
    )
    if others:
        matrix[:, others] = -1
    return versions, classes_of, matrix


_CLASS = attrgetter("classification")
_NO_CLASSES: list[str] = []  # shared: the class lists are read once, into a pyarrow column


def struct_columns(
    schema: Schema, rows: list[Any], count_sources: tuple[str, ...] = ()
) -> tuple[list[Any], dict[str, Any], np.ndarray | None]:
    """The raw column values of a chunk of typed rows, as the dict path gathers them.

    Args:
        schema: The frame schema.
        rows: Typed rows of :func:`page_decoder`.
        count_sources: The sources of the DM count columns (see :func:`dm_columns`).

    Returns:
        ``(ids, values, counts)``: the ids; column name -> raw values for every column but
        the DM counts; the DM count matrix (None when the schema has no DM columns).

    Example:
        >>> rows = page_decoder("task")(b'{"results": [{"id": 3, "tags": [2], "data": {}}]}')
        >>> ids, values, counts = struct_columns(SCHEMAS["task"], rows["results"], ("total",))
        >>> ids, values["tags"], values["status"], values["dm_version"], counts.tolist()
        ([3], [[2]], [None], [None], [[0]])
    """
    ids = list(map(_ID, rows))
    files: dict[str, tuple[Any, ...]] = {}
    if any(c.kind == "file" for c in schema.columns):
        urls, names, widths, heights = zip(
            *map(_primary_file, map(_FILES, rows), map(_META, rows)), strict=True
        ) if rows else ((), (), (), ())  # fmt: skip
        files = {"url": urls, "name": names, "width": widths, "height": heights}
    counts: np.ndarray | None = None
    dm: dict[str, Any] = {}
    if any(c.kind == "dm" for c in schema.columns):
        versions, classes, counts = dm_columns(list(map(_DATA, rows)), count_sources)
        dm = {"version": versions, "classes": classes}
    values: dict[str, Any] = {}
    tags: list[list[int]] | None = None
    for column in schema.columns:
        source = column.source or column.name
        if column.kind in ("value", "ref"):
            values[column.name] = list(map(attrgetter(source), rows))
        elif column.kind in ("tags", "tag_names"):
            if tags is None:  # a fresh list for rows without tags, as the dict path gives
                tags = [[] if t is None else t for t in map(attrgetter(source), rows)]
            values[column.name] = tags
        elif column.kind == "file":
            values[column.name] = files[source]
        elif column.kind == "dm" and column.dtype != "Int32":
            values[column.name] = dm[source]
    return ids, values, counts


_ID = attrgetter("id")
_FILES = attrgetter("files")
_META = attrgetter("meta")
_DATA = attrgetter("data")
