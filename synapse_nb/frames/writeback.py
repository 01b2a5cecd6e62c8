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
  the previous values.

Example:
    >>> normalize_value("tags", [3, 1, 3])
    (1, 3)
    >>> normalize_value("metadata", {"b": 1, "a": None})
    '{"a": null, "b": 1}'
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.frames.build import STRING, frame_meta, gc_paused
from synapse_nb.frames.schemas import SCHEMAS

if TYPE_CHECKING:  # the client module imports this one
    from synapse_nb.frames.client import Client

__all__ = [
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


def normalize_value(column: str, value: Any) -> Any:
    """A writable value in a comparable, hashable form (tags as a sorted tuple, dicts as JSON).

    Tag names are left as strings here; :func:`resolve_tags` maps them to ids.

    Example:
        >>> normalize_value("assignee_id", pd.NA) is None
        True
    """
    if column == "tags":
        if _missing(value):
            return ()
        if isinstance(value, str | int):
            value = [value]
        try:
            items = list(value)
        except TypeError:
            return value  # reported by validate()
        ints = sorted({v for v in items if isinstance(v, int) and not isinstance(v, bool)})
        names = sorted({v for v in items if isinstance(v, str)})
        others = [v for v in items if not isinstance(v, int | str) or isinstance(v, bool)]
        return (*ints, *names, *others)
    if column == "metadata":
        if _missing(value):
            return None
        try:
            return json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            return value
    if _missing(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value


_DUMPS = json.JSONEncoder(sort_keys=True).encode


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
                out.append(_DUMPS(v) if v else "{}")
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
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidInputError(name, value, "must be a user id (int) or NA", method="push")
    elif column == "is_discarded":
        if not isinstance(value, bool):
            raise InvalidInputError(name, value, "must be True or False", method="push")
    elif column == "metadata":
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(name, value, "must be a JSON-serializable dict", method="push")
        if value is not None and not isinstance(json.loads(value), dict):
            raise InvalidInputError(name, value, "must be a dict", method="push")
    elif column == "tags" and (
        not isinstance(value, tuple)
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise InvalidInputError(
            name, value, "must be a list of tag ids or tag names", method="push"
        )


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
    return compute_diff(kind, frame, snap, client.tags.resolver())


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
