"""Write-back: edited frame -> ``diff`` (a dry run, as a frame) -> ``push`` (batched) -> ``undo``.

When a client returns a task or assignment frame it keeps a *snapshot* of the writable
columns as fetched (held by the client, keyed by ``attrs['synapse']['snapshot']``, so copies
and filtered views of the frame find it too). ``diff`` compares the frame with that snapshot,
so only what the user changed is sent, never a stale value over someone else's edit:

- tag edits become ``set_tags_*`` calls with ``action`` add/remove, one call per distinct
  set of added (or removed) tags, so tagging 5,000 rows the same way is one request;
- the other columns become one ``PATCH`` per changed row (sent concurrently);
- before sending, the changed rows are re-read: a changed scalar whose server value is no
  longer the snapshot's raises :class:`PushConflictError` (``force=True`` overrides);
- every push is recorded, with the exact tag pairs it added or removed, so ``undo`` restores
  the previous values;
- a few read-only columns (:data:`READ_ONLY_CHECKED`: ``tag_names``, ``project``, ...) are
  kept in the snapshot too (sharing the frame's arrays: no extra memory). Edits of them
  cannot be sent, so ``diff``/``push`` warn (a ``UserWarning`` naming them and the column to
  edit instead) rather than drop them silently.

Example:
    >>> normalize_value("tags", [3, 1, 3])
    (1, 3)
    >>> normalize_value("metadata", {"b": 1, "a": None})
    '{"a": null, "b": 1}'
"""

from __future__ import annotations

import json
import math
import sys
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synapse_nb.clients._validate import MAX_ID
from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.frames.build import STRING, frame_meta, gc_paused
from synapse_nb.frames.schemas import SCHEMAS

if TYPE_CHECKING:  # the client module imports this one
    from synapse_nb.frames.client import Client

__all__ = [
    "READ_ONLY_CHECKED",
    "WIRE_NAMES",
    "PushConflictError",
    "PushError",
    "PushRecord",
    "SnapshotStore",
    "normalize_value",
    "normalized_column",
    "snapshot_values",
]

#: frame column -> field name in the PATCH body / record
WIRE_NAMES = {"assignee_id": "assignee"}

#: Read-only columns whose local edits ``diff``/``push`` warn about, per kind, with the
#: writable column to edit instead (None: it cannot be changed through the frame). Only
#: columns the library itself never rewrites in a frame without its snapshot are checked
#: (not ``modified``, counts or file columns, which a widget may refresh from the server).
READ_ONLY_CHECKED: dict[str, dict[str, str | None]] = {
    "task": {
        "project": None,
        "data_unit_id": None,
        "assignee_name": "assignee_id",
        "tag_names": "tags",
    },
    "assignment": {
        "project": None,
        "task_id": None,
        "data_unit_id": None,
        "assignee_id": None,
        "tag_names": "tags",
    },
}

#: writable column -> read-only columns shown from it: when a snapshot records a new value
#: of the first (after a tag(), a push, a widget's tag edit) the frame's copy of the second
#: may have been rewritten too, so the snapshot stops checking it.
_DERIVED = {"tags": ("tag_names",), "assignee_id": ("assignee_name",)}

#: How many snapshots a client keeps, and how many rows in all (oldest dropped first; the
#: newest few are always kept, whatever their size).
MAX_SNAPSHOTS = 64
MAX_SNAPSHOT_ROWS = 2_000_000
_ALWAYS_KEPT = 4


class PushConflictError(ClientError):
    """The server changed a row since it was fetched; nothing was sent.

    Attributes:
        conflicts: Frame of ``id, column, snapshot, server, local``.
    """

    def __init__(self, conflicts: pd.DataFrame) -> None:
        self.conflicts = conflicts
        first = conflicts.iloc[0]
        message = (
            f"push: {len(conflicts)} edited value(s) changed on the server since the frame "
            f"was fetched (first: id={first['id']} {first['column']}: fetched "
            f"{first['snapshot']!r}, server now {first['server']!r}); nothing was sent. "
            "refresh() the frame, or push(force=True) to overwrite"
        )
        super().__init__(409, {"conflicts": conflicts.to_dict("records")}, message=message)


class PushError(ClientError):
    """Some rows of a push failed; the ones that succeeded are recorded (undo reverts them).

    Attributes:
        failed: Frame of ``id, column, after, error``.
    """

    def __init__(self, failed: pd.DataFrame) -> None:
        self.failed = failed
        first = failed.iloc[0]
        message = (
            f"push: {len(failed)} change(s) failed (first: id={first['id']} {first['column']}: "
            f"{first['error']}); the others were applied"
        )
        super().__init__(None, {"failed": failed.to_dict("records")}, message=message)


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, dicts: never "missing"
        return False


@dataclass(frozen=True)
class Unwritable:
    """A metadata value JSON cannot hold (NaN, a Timestamp, ...), kept for ``validate``.

    Two of them are equal when their values print the same, so an unedited row compares
    equal to its snapshot; an edit to such a value never equals the fetched JSON text.

    Attributes:
        key: The value as lenient JSON text (what equality compares).
        value: The value as edited.
        problem: Why it cannot be sent (names the offending item).
    """

    key: str
    value: Any = field(compare=False)
    problem: str = field(compare=False)


class _NotJSON(Exception):
    """A metadata item that cannot be sent as JSON (``args[0]`` says which and why)."""


def _plain(value: Any, path: str, seen: frozenset[int] = frozenset()) -> Any:
    """``value`` with numpy scalars as Python ones; raises :class:`_NotJSON` naming the
    first item JSON cannot hold."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            raise _NotJSON(f"{path} is {number!r}: JSON has no NaN or infinity (use None)")
        return number
    if isinstance(value, dict | list | tuple):
        if id(value) in seen:
            raise _NotJSON(f"{path} contains itself")
        inner = seen | {id(value)}
        if not isinstance(value, dict):
            return [_plain(v, f"{path}[{i}]", inner) for i, v in enumerate(value)]
        out = {}
        for key, item in value.items():
            if isinstance(key, np.integer | np.bool_ | np.floating):
                key = key.item()
            if key is not None and not isinstance(key, str | int | float | bool):
                raise _NotJSON(
                    f"{path} has a key of type {type(key).__name__} ({key!r}): "
                    "keys must be text or numbers"
                )
            out[key] = _plain(item, f"{path}[{key!r}]", inner)
        return out
    if value is pd.NA or value is pd.NaT:
        return _refuse(path, value, "use None for a missing value")
    if isinstance(value, np.datetime64) or hasattr(value, "isoformat"):  # Timestamp, date
        return _refuse(path, value, "convert it to text first, e.g. with .isoformat()")
    if isinstance(value, np.ndarray | pd.Series):
        return _refuse(path, value, "convert it to a list first, with .tolist()")
    return _refuse(path, value, "JSON cannot hold it")


def _refuse(path: str, value: Any, advice: str) -> Any:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise _NotJSON(f"{path} = {shown} (a {type(value).__name__}): {advice}")


def _lenient_key(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def metadata_json(value: Any) -> Any:
    """A metadata value as sorted JSON text, or :class:`Unwritable` when JSON cannot hold it.

    numpy scalars become Python numbers (``np.int64(3)`` -> ``3``); NaN, infinity,
    Timestamps and other objects are refused (``validate`` reports them).

    Example:
        >>> metadata_json({"n": np.int64(3), "ok": np.bool_(True)})
        '{"n": 3, "ok": true}'
        >>> metadata_json({"score": float("nan")}).problem
        "metadata['score'] is nan: JSON has no NaN or infinity (use None)"
    """
    try:
        return _DUMPS(value)
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return _DUMPS(_plain(value, "metadata"))
    except _NotJSON as exc:
        return Unwritable(_lenient_key(value), value, str(exc))
    except (TypeError, ValueError, RecursionError) as exc:  # e.g. keys of mixed types
        return Unwritable(_lenient_key(value), value, f"is not JSON-serializable: {exc}")


def normalize_value(column: str, value: Any) -> Any:
    """A writable value in a comparable, hashable form (tags as a sorted tuple, dicts as JSON).

    Tag names are left as strings here; :func:`resolve_tags` maps them to ids. numpy
    integers (tag ids) and numpy scalars inside metadata become Python values.

    Example:
        >>> normalize_value("assignee_id", pd.NA) is None
        True
        >>> normalize_value("tags", [np.int64(2), 1])
        (1, 2)
    """
    if column == "tags":
        if _missing(value):
            return ()
        if isinstance(value, str | int | np.integer):
            value = [value]
        try:
            items = [v.item() if isinstance(v, np.integer) else v for v in value]
        except TypeError:
            return value  # reported by validate()
        ints = sorted({v for v in items if isinstance(v, int) and not isinstance(v, bool)})
        names = sorted({v for v in items if isinstance(v, str)})
        others = [v for v in items if not isinstance(v, int | str) or isinstance(v, bool)]
        return (*ints, *names, *others)
    if column == "metadata":
        if _missing(value):
            return None
        return metadata_json(value)
    if _missing(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value


#: Sorted JSON text, refusing NaN and infinity (the server's JSON parser does).
_DUMPS = json.JSONEncoder(sort_keys=True, allow_nan=False).encode


def normalized_column(column: str, series: pd.Series) -> list[Any]:
    """``normalize_value`` over a whole column, vectorized for the common cases.

    Example:
        >>> normalized_column("tags", pd.Series([[3, 1], []], dtype=object))
        [(1, 3), ()]
    """
    values = series.tolist()
    if column == "tags":
        # lists from the frame and tuples from a snapshot of plain int ids: the fast path
        return [
            tuple(sorted(set(v)))
            if (type(v) is list or type(v) is tuple) and all(type(t) is int for t in v)
            else normalize_value(column, v)
            for v in values
        ]
    if column == "metadata":
        out = []
        for v in values:
            if type(v) is dict:
                try:
                    out.append(_DUMPS(v) if v else "{}")
                except (TypeError, ValueError):  # numpy values, NaN, Timestamps, ...
                    out.append(metadata_json(v))
            else:
                out.append(normalize_value(column, v))
        return out
    # scalars: tolist() already gives Python values; missing ones (NA, NaN, NaT) -> None
    missing = series.isna().to_numpy()
    if missing.any():
        return [None if m else v for v, m in zip(values, missing, strict=True)]
    return values


def _snapshot_frame(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The writable columns as fetched.

    Scalar columns keep their dtype and share the frame's arrays: pandas copy-on-write keeps
    later edits of the frame away from them, so copying them would only double their memory.
    Lists and dicts can be mutated in place through the frame, so they are frozen here: tags
    as tuples, dicts as JSON text.
    Values are normalized when compared (:func:`snapshot_values`), not when stored.
    """
    data: dict[str, Any] = {}
    for column in columns:
        if column not in frame.columns:
            continue
        if column == "tags":
            values = [tuple(v) if type(v) is list else v for v in frame[column].tolist()]
            data[column] = pd.Series(_objects(values), index=frame.index, dtype=object)
        elif column == "metadata":
            data[column] = pd.Series(
                _objects(normalized_column(column, frame[column])),
                index=frame.index,
                dtype=object,
            )
        else:
            data[column] = frame[column]
    # shared arrays are safe only under copy-on-write (always on from pandas 3; an option in 2.x)
    return pd.DataFrame(data, index=frame.index.copy(), copy=not _copy_on_write())


def _copy_on_write() -> bool:
    """Whether pandas copies on write (so a snapshot may share the frame's arrays).

    Example:
        >>> _copy_on_write() == (int(pd.__version__.split('.')[0]) >= 3 or
        ...     bool(pd.get_option('mode.copy_on_write')))
        True
    """
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return bool(pd.get_option("mode.copy_on_write"))  # pragma: no cover - pandas 2.x


def snapshot_values(column: str, series: pd.Series) -> list[Any]:
    """Normalized values of a snapshot column (comparable with ``normalize_value``).

    Example:
        >>> snapshot_values("tags", pd.Series([(3, 1), ()], dtype=object))
        [(1, 3), ()]
    """
    if column == "metadata":  # stored as normalized JSON text already
        return [None if v is None or v is pd.NA else v for v in series.tolist()]
    return normalized_column(column, series)


def _objects(values: list[Any]) -> Any:
    import numpy as np

    return np.fromiter(values, dtype=object, count=len(values))


class SnapshotStore:
    """The snapshots a client keeps of the frames it returned (bounded, thread-safe).

    Example:
        >>> store = SnapshotStore()
        >>> df = pd.DataFrame({"tags": [[2, 1]]}, index=pd.Index([7], name="id"))
        >>> sid = store.add(df, ("tags",))
        >>> snapshot_values("tags", store.get(sid)["tags"])
        [(1, 2)]
    """

    def __init__(self, limit: int = MAX_SNAPSHOTS, max_rows: int = MAX_SNAPSHOT_ROWS) -> None:
        self._items: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._limit = limit
        self._max_rows = max_rows
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def _evict(self) -> None:
        rows = sum(len(s) for s in self._items.values())
        while len(self._items) > _ALWAYS_KEPT and (
            len(self._items) > self._limit or rows > self._max_rows
        ):
            _sid, dropped = self._items.popitem(last=False)
            rows -= len(dropped)

    def add(self, frame: pd.DataFrame, columns: tuple[str, ...]) -> str:
        """Store the normalized writable columns of ``frame``; returns the snapshot id."""
        sid = uuid.uuid4().hex[:16]
        with gc_paused():
            snap = _snapshot_frame(frame, columns)
        with self._lock:
            self._items[sid] = snap
            self._evict()
        return sid

    def get(self, sid: Any) -> pd.DataFrame | None:
        """The snapshot ``sid``, or None if unknown (evicted, or another session's)."""
        with self._lock:
            snap = self._items.get(sid) if isinstance(sid, str) else None
            if snap is not None:
                self._items.move_to_end(sid)
            return snap

    def fork(
        self, sid: str | None, ids: Iterable[Any], values: Mapping[tuple[Any, str], Any]
    ) -> str | None:
        """A new snapshot of the ``ids`` rows of ``sid`` with ``values`` applied.

        A frame that changes the server (tag, push, undo) moves to its own snapshot, so the
        frames it was derived from keep theirs: their stale values are then not mistaken
        for edits (which a later push would send back).
        """
        with self._lock:
            snap = self._items.get(sid) if isinstance(sid, str) else None
            if snap is None:
                return None
            wanted = pd.Index(list(dict.fromkeys(ids))).intersection(snap.index)
            forked = snap.loc[wanted].copy()
            _set_values(forked, values)
            new_sid = uuid.uuid4().hex[:16]
            self._items[new_sid] = forked
            self._evict()
            return new_sid

    def update(self, sid: str, values: Mapping[tuple[Any, str], Any]) -> None:
        """Set ``(id, column) -> normalized value`` entries of snapshot ``sid`` (if kept)."""
        with self._lock:
            snap = self._items.get(sid)
            if snap is None:
                return
            _set_values(snap, values)


def _set_values(snap: pd.DataFrame, values: Mapping[tuple[Any, str], Any]) -> None:
    stale = {d for _pk, column in values for d in _DERIVED.get(column, ()) if d in snap.columns}
    for column in sorted(stale):
        del snap[column]
    for (pk, column), value in values.items():
        if pk not in snap.index or column not in snap.columns:
            continue
        if value is None and snap[column].dtype != object:
            value = pd.NA
        try:
            snap.at[pk, column] = value
        except (TypeError, ValueError):  # e.g. a category the typed column does not know
            snap[column] = snap[column].astype(object)
            snap.at[pk, column] = value


@dataclass
class PushRecord:
    """What one push changed, enough to undo it.

    Attributes:
        kind: ``task`` or ``assignment``.
        snapshot: Snapshot id of the frame pushed.
        tag_ops: ``(ids, tag_ids, action)`` calls that were applied.
        fields: ``id -> {column: (before, after)}`` of the PATCHed values (normalized).
        changes: The diff frame that was pushed.
    """

    kind: str
    snapshot: str | None
    tag_ops: list[tuple[list[int], list[int], str]] = field(default_factory=list)
    fields: dict[int, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    changes: pd.DataFrame | None = None


# ---------------------------------------------------------------------------- diff


DIFF_COLUMNS = ("id", "column", "before", "after")


def empty_diff() -> pd.DataFrame:
    """A diff frame without rows (``id, column, before, after``).

    Example:
        >>> list(empty_diff().columns)
        ['id', 'column', 'before', 'after']
    """
    return pd.DataFrame(
        {
            "id": pd.array([], dtype="Int64"),
            "column": pd.array([], dtype=STRING),
            "before": pd.Series([], dtype=object),
            "after": pd.Series([], dtype=object),
        }
    )


def _choices(kind: str, column: str) -> tuple[str, ...]:
    spec = SCHEMAS[kind].column(column)
    return spec.categories


def validate(kind: str, pk: Any, column: str, value: Any) -> None:
    """Raise InvalidInputError (naming the row, column and value) for a value the server
    would reject.

    Example:
        >>> validate("task", 4, "status", "done")
        Traceback (most recent call last):
        ...
        synapse_nb.exceptions.InvalidInputError: push: invalid status[id=4]='done': must be \
one of pending, in_progress, completed (nothing was sent)
    """
    name = f"{column}[id={pk}]"
    choices = _choices(kind, column)
    if choices:
        if value not in choices:
            raise InvalidInputError(
                name, value, f"must be one of {', '.join(choices)}", method="push"
            )
    elif column == "assignee_id":
        if value is not None and not _is_id(value):
            raise InvalidInputError(
                name, value, "must be a user id (an int >= 1) or NA", method="push"
            )
    elif column == "is_discarded":
        if not isinstance(value, bool):
            raise InvalidInputError(name, value, "must be True or False", method="push")
    elif column == "metadata":
        _validate_metadata(name, value)
    elif column == "tags":
        if not isinstance(value, tuple) or any(
            isinstance(v, bool) or not isinstance(v, int) for v in value
        ):
            raise InvalidInputError(
                name, value, "must be a list of tag ids or tag names", method="push"
            )
        bad = [v for v in value if not _is_id(v)]
        if bad:
            raise InvalidInputError(
                name, value, f"tag id {bad[0]!r} is not a valid id (an int >= 1)", method="push"
            )


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _validate_metadata(name: str, value: Any) -> None:
    """A normalized metadata value (JSON text, None or :class:`Unwritable`) that the server
    takes: a dict that JSON (and UTF-8) can hold."""
    if value is None:
        return
    if isinstance(value, Unwritable):
        raise InvalidInputError(
            name, value.value, f"must be JSON-serializable: {value.problem}", method="push"
        )
    if not isinstance(value, str):
        raise InvalidInputError(name, value, "must be a JSON-serializable dict", method="push")
    loaded = json.loads(value)
    if not isinstance(loaded, dict):
        raise InvalidInputError(name, loaded, "must be a dict", method="push")
    try:  # edited rows only: lone surrogates ('\\ud800') are not UTF-8
        json.dumps(loaded, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            name, loaded, f"holds text that is not valid UTF-8 ({exc.reason})", method="push"
        ) from None


def compute_diff(
    kind: str,
    frame: pd.DataFrame,
    snapshot: pd.DataFrame,
    resolve_tags: Callable[[tuple[Any, ...], Any], tuple[int, ...]],
) -> pd.DataFrame:
    """Changes of the writable columns of ``frame`` relative to ``snapshot``, validated.

    Example:
        >>> idx = pd.Index([1, 2], name="id")
        >>> snap = pd.DataFrame({"priority": ["low", "low"]}, index=idx, dtype=object)
        >>> frame = pd.DataFrame({"priority": ["low", "high"]}, index=idx)
        >>> compute_diff("task", frame, snap, lambda tags, project: tags).values.tolist()
        [[2, 'priority', 'low', 'high']]

    Args:
        kind: ``task`` or ``assignment``.
        frame: The (edited) frame.
        snapshot: Normalized values as fetched, indexed by id.
        resolve_tags: Maps a tuple of tag ids/names (and the row's project) to tag ids.

    Returns:
        Frame of ``id, column, before, after`` (normalized values; tags as sorted tuples).
    """
    writable = [c for c in SCHEMAS[kind].writable if c in frame.columns]
    if frame.index.has_duplicates:
        dupes = frame.index[frame.index.duplicated()].unique().tolist()[:5]
        raise InvalidInputError("index", dupes, "ids must be unique to push", method="diff")
    common = frame.index.intersection(snapshot.index)
    unknown = frame.index.difference(snapshot.index)
    if len(unknown):
        raise InvalidInputError(
            "index",
            unknown.tolist()[:5],
            "rows that were not fetched with this frame cannot be diffed",
            method="diff",
        )
    rows: list[tuple[Any, str, Any, Any]] = []
    projects = frame["project"] if "project" in frame.columns else None
    for column in writable:
        local = normalized_column(column, frame.loc[common, column])
        before = snapshot_values(column, snapshot.loc[common, column])
        for pk, new, old in zip(common.tolist(), local, before, strict=True):
            if column == "tags" and any(isinstance(v, str) for v in new):
                project = None if projects is None else projects.get(pk)
                new = resolve_tags(new, project)
            if new == old:
                continue
            validate(kind, pk, column, new)
            rows.append((pk, column, old, new))
    if not rows:
        return empty_diff()
    order = {c: i for i, c in enumerate(writable)}
    rows.sort(key=lambda r: (r[0], order[r[1]]))
    out = empty_diff()
    return pd.concat(
        [
            out,
            pd.DataFrame(
                {
                    "id": pd.array([r[0] for r in rows], dtype="Int64"),
                    "column": pd.array([r[1] for r in rows], dtype=STRING),
                    "before": pd.Series([r[2] for r in rows], dtype=object),
                    "after": pd.Series([r[3] for r in rows], dtype=object),
                }
            ),
        ],
        ignore_index=True,
    )


# ---------------------------------------------------------------------------- push / undo


def wire_value(column: str, value: Any) -> Any:
    """A normalized value as sent in a PATCH body.

    Example:
        >>> wire_value("metadata", '{"a": 1}')
        {'a': 1}
    """
    if column == "metadata":
        return None if value is None else json.loads(value)
    return value


def group_tag_ops(
    changes: Iterable[tuple[int, Iterable[int], Iterable[int]]],
) -> list[tuple[list[int], list[int], str]]:
    """Per-row ``(id, added, removed)`` -> batched ``(ids, tags, action)`` calls.

    Rows that add (or remove) the same set of tags share one call.

    Example:
        >>> group_tag_ops([(1, [5], []), (2, [5], [7]), (3, [], [7])])
        [([1, 2], [5], 'add'), ([2, 3], [7], 'remove')]
    """
    adds: dict[tuple[int, ...], list[int]] = {}
    removes: dict[tuple[int, ...], list[int]] = {}
    for pk, added, removed in changes:
        added_key, removed_key = tuple(sorted(added)), tuple(sorted(removed))
        if added_key:
            adds.setdefault(added_key, []).append(pk)
        if removed_key:
            removes.setdefault(removed_key, []).append(pk)
    ops = [(sorted(ids), list(tags), "add") for tags, ids in adds.items()]
    ops += [(sorted(ids), list(tags), "remove") for tags, ids in removes.items()]
    return ops


def _run_patches(
    patch: Callable[[int, dict[str, Any]], Any],
    bodies: Mapping[int, dict[str, Any]],
    workers: int,
) -> dict[int, Exception]:
    """PATCH every row concurrently; returns ``id -> error`` of the rows that failed."""
    failures: dict[int, Exception] = {}
    if not bodies:
        return failures
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="synapse-push") as ex:
        futures = {pk: ex.submit(patch, pk, body) for pk, body in bodies.items()}
        for pk, future in futures.items():
            try:
                future.result()
            except ClientError as exc:
                failures[pk] = exc
    return failures


def snapshot_id(frame: pd.DataFrame) -> str | None:
    """The snapshot id recorded in a frame's attrs, if any.

    Example:
        >>> snapshot_id(pd.DataFrame()) is None
        True
    """
    sid = frame_meta(frame).get("snapshot")
    return sid if isinstance(sid, str) else None


def _rows(changes: pd.DataFrame) -> Iterable[tuple[int, str, Any, Any]]:
    return zip(
        [int(i) for i in changes["id"].tolist()],
        changes["column"].tolist(),
        changes["before"].tolist(),
        changes["after"].tolist(),
        strict=True,
    )


def _writable_kind(frame: pd.DataFrame, method: str) -> str:
    kind = frame_meta(frame).get("kind")
    if kind not in ("task", "assignment"):
        raise InvalidInputError(
            "frame", kind, "only task and assignment frames can be written back", method=method
        )
    return kind


def diff(client: Client, frame: pd.DataFrame) -> pd.DataFrame:
    """The edits of ``frame``'s writable columns since it was fetched, as a frame.

    Edits of the read-only columns of :data:`READ_ONLY_CHECKED` (``tag_names``,
    ``project``, ...) cannot be sent: they are left out of the diff with a ``UserWarning``
    naming them (and the column to edit instead, e.g. ``tags`` for ``tag_names``). The check
    compares whole columns with the snapshot (vectorized: milliseconds for 1M rows). It is
    skipped for ``tag_names`` once the frame's tags were rewritten by ``tag()``/``untag()``
    or a push of tag edits (and for ``assignee_name`` after an ``assignee_id`` push), and
    other read-only columns (``modified``, counts, files) are not checked.

    Args:
        client: The client that returned the frame (it holds the snapshot).
        frame: A task or assignment frame, possibly edited.

    Returns:
        ``id, column, before, after`` rows (tags as sorted tuples of ids, metadata as JSON).

    Example:
        >>> df = client.list_tasks({"project": 1})
        >>> df.at[5, "priority"] = "high"        # a local edit: nothing is sent
        >>> diff(client, df)[["id", "column", "before", "after"]].values.tolist()
        [[5, 'priority', 'normal', 'high']]
    """
    kind = _writable_kind(frame, "diff")
    sid = snapshot_id(frame)
    snap = client.snapshots.get(sid)
    if snap is None:
        raise InvalidInputError(
            "frame",
            sid,
            "this client holds no snapshot of the frame (fetched by another client or "
            "session, or evicted); refresh() it, then edit and push",
            method="diff",
        )
    changes = compute_diff(kind, frame, snap, client.tags.resolver())
    edited = read_only_edits(kind, frame, snap)
    if edited:
        checked = READ_ONLY_CHECKED[kind]
        named = [f"{c} (edit {checked[c]} instead)" if checked[c] else c for c in edited]
        warnings.warn(
            f"diff: read-only column(s) {', '.join(named)} differ from what was fetched; "
            "push() does not send them",
            UserWarning,
            stacklevel=_caller_level(),
        )
    return changes


def read_only_edits(kind: str, frame: pd.DataFrame, snapshot: pd.DataFrame) -> list[str]:
    """The columns of :data:`READ_ONLY_CHECKED` whose values in ``frame`` differ from the
    snapshot's (whole-column comparisons; ``frame``'s ids must all be in the snapshot).

    Example:
        >>> idx = pd.Index([1, 2], name="id")
        >>> snap = pd.DataFrame({"project": pd.array([1, 1], dtype="Int64")}, index=idx)
        >>> frame = snap.copy()
        >>> frame.loc[2, "project"] = 3
        >>> read_only_edits("task", frame, snap), read_only_edits("task", snap.iloc[::-1], snap)
        (['project'], [])
    """
    columns = [
        c for c in READ_ONLY_CHECKED.get(kind, {}) if c in frame.columns and c in snapshot.columns
    ]
    if not columns:
        return []
    aligned = frame.index.equals(snapshot.index)
    return [
        column
        for column in columns
        if _column_differs(
            frame[column], snapshot[column] if aligned else snapshot[column].reindex(frame.index)
        )
    ]


def _column_differs(local: pd.Series, fetched: pd.Series) -> bool:
    if local.dtype != fetched.dtype:  # e.g. astype(object) to edit it: back to the fetched type
        try:
            local = local.astype(fetched.dtype)
        except Exception:  # values the fetched type cannot hold: edited
            return True
    try:
        return not bool(local.array.equals(fetched.array))
    except Exception:  # pragma: no cover - an array type without a working equals()
        return not local.equals(fetched)


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this package (the user's code)."""
    package = __name__.split(".")[0]
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == package:
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def push(
    client: Client, frame: pd.DataFrame, *, dry_run: bool = False, force: bool = False
) -> pd.DataFrame:
    """Send the edits of ``frame`` (see :func:`diff`) to the server, batched.

    Args:
        client: The client that returned the frame.
        frame: The edited task or assignment frame.
        dry_run: Only compute and return the changes; send nothing.
        force: Overwrite values that changed on the server since the fetch.

    Returns:
        The changes sent (the :func:`diff` frame).

    Raises:
        InvalidInputError: An edited value the server would refuse, named with its row and
            column (nothing sent: every value is checked before the first request).
        PushConflictError: An edited value changed on the server meanwhile (nothing sent).
        PushError: Some changes failed; the others were applied and can be undone.

    Example:
        >>> df = client.list_tasks({"project": 1})
        >>> df.at[5, "priority"] = "high"
        >>> push(client, df, dry_run=True)[["id", "after"]].values.tolist()  # nothing sent
        [[5, 'high']]
        >>> push(client, df)[["id", "after"]].values.tolist()
        [[5, 'high']]
        >>> client.raw.get_task(5)["priority"]
        'high'
        >>> _ = undo(client, df)  # as it was
    """
    kind = _writable_kind(frame, "push")
    changes = diff(client, frame)
    if dry_run or changes.empty:
        return changes
    sid = snapshot_id(frame)
    ids = sorted({int(i) for i in changes["id"]})
    current = client.rows.current_values(kind, ids)
    conflicts = []
    for pk, column, before, after in _rows(changes):
        if column == "tags":
            continue
        server = current.get(pk, {}).get(column, before)
        if server != before and server != after:
            conflicts.append((pk, column, before, server, after))
    if conflicts and not force:
        raise PushConflictError(
            pd.DataFrame(conflicts, columns=["id", "column", "snapshot", "server", "local"])
        )
    record = PushRecord(kind, sid, changes=changes)
    failed: list[tuple[int, str, Any, str]] = []
    applied: dict[tuple[Any, str], Any] = {}

    tag_rows = []
    for pk, column, before, after in _rows(changes):
        if column != "tags":
            continue
        server_tags = set(current.get(pk, {}).get("tags", before))
        added = set(after) - server_tags
        removed = (set(before) - set(after)) & server_tags
        tag_rows.append((pk, added, removed))
        applied[(pk, "tags")] = after
    for op_ids, tags, action in group_tag_ops(tag_rows):
        try:
            client.tags.set(kind, op_ids, tags, action)
            record.tag_ops.append((op_ids, tags, action))
        except ClientError as exc:
            failed.extend((pk, "tags", tags, str(exc)) for pk in op_ids)
            for pk in op_ids:
                applied.pop((pk, "tags"), None)

    bodies: dict[int, dict[str, Any]] = {}
    for pk, column, _before, after in _rows(changes):
        if column != "tags":
            bodies.setdefault(pk, {})[WIRE_NAMES.get(column, column)] = wire_value(column, after)
    failures = _run_patches(client.rows.patcher(kind), bodies, client.max_workers)
    for pk, column, before, after in _rows(changes):
        if column == "tags":
            continue
        if pk in failures:
            failed.append((pk, column, after, str(failures[pk])))
            continue
        record.fields.setdefault(pk, {})[column] = (before, after)
        applied[(pk, column)] = after

    forked = client.snapshots.fork(sid, frame.index.tolist(), applied)
    if forked:
        frame.attrs["synapse"]["snapshot"] = forked
    record.snapshot = forked
    if record.tag_ops or record.fields:
        client.push_history.append(record)
    if failed:
        raise PushError(pd.DataFrame(failed, columns=["id", "column", "after", "error"]))
    return changes


def undo(client: Client, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Revert the last push (of ``frame`` when given, else the client's last push).

    Args:
        client: The client that pushed.
        frame: Undo the last push made from this frame (or a copy of it).

    Returns:
        The reverted changes: ``id, column, before`` (the pushed value), ``after`` (restored).

    Example:
        >>> df = client.list_tasks({"project": 1})
        >>> df.at[5, "priority"] = "low"
        >>> _ = push(client, df)
        >>> undo(client, df)[["id", "before", "after"]].values.tolist()
        [[5, 'low', 'normal']]
        >>> client.raw.get_task(5)["priority"]
        'normal'

    """
    sid = snapshot_id(frame) if frame is not None else None
    history: list[PushRecord] = client.push_history
    position = None
    for i in range(len(history) - 1, -1, -1):
        if sid is None or history[i].snapshot == sid:
            position = i
            break
    if position is None:
        raise InvalidInputError(
            "undo", sid, "there is no push of this frame to undo", method="undo"
        )
    record = history.pop(position)
    flip = {"add": "remove", "remove": "add"}
    failed: list[tuple[int, str, Any, str]] = []
    for op_ids, tags, action in reversed(record.tag_ops):
        try:
            client.tags.set(record.kind, op_ids, tags, flip[action])
        except ClientError as exc:
            failed.extend((pk, "tags", tags, str(exc)) for pk in op_ids)
    bodies = {
        pk: {WIRE_NAMES.get(c, c): wire_value(c, before) for c, (before, _a) in cols.items()}
        for pk, cols in record.fields.items()
    }
    failures = _run_patches(client.rows.patcher(record.kind), bodies, client.max_workers)
    failed.extend(
        (pk, c, before, str(failures[pk]))
        for pk, cols in record.fields.items()
        if pk in failures
        for c, (before, _a) in cols.items()
    )
    changes = record.changes if record.changes is not None else empty_diff()
    reverted = changes.rename(columns={"before": "after", "after": "before"})[list(DIFF_COLUMNS)]
    tag_ids = {pk for ids, _t, _a in record.tag_ops for pk in ids}
    keep = [
        (pk in record.fields and column in record.fields[pk])
        or (column == "tags" and pk in tag_ids)
        for pk, column in zip(reverted["id"], reverted["column"], strict=True)
    ]
    reverted = reverted[keep].reset_index(drop=True)
    if record.snapshot:
        client.snapshots.update(
            record.snapshot,
            {
                (pk, column): after
                for pk, column, after in zip(
                    reverted["id"], reverted["column"], reverted["after"], strict=True
                )
            },
        )
    if failed:
        raise PushError(pd.DataFrame(failed, columns=["id", "column", "after", "error"]))
    return reverted
