"""Export targets: fetch tasks, assignments or ground-truth events and build export items.

Records come from a query (``params``, walked with ``list_all=True``) or from a DataFrame
whose index is the object ``id`` (fetched by ``id__in`` in chunks, kept in frame order).
Each record becomes the Synapse SDK's export item ``{"id", "data", "files"}`` where ``files`` is
the primary file entry, plus ``width``/``height`` (from the file's or record's ``meta``;
``None`` when unknown, then read from the image header) and ``split``.

Example:
    >>> item = build_export_item({"id": 7, "data": {"images": []}, "files": {"image_1": {
    ...     "url": "http://h/media/x/a.jpg", "is_primary": True, "file_name_original": "a.jpg",
    ...     "meta": {"width": 640, "height": 480}}}})
    >>> item["id"], item["files"]["file_name_original"], item["width"], item["height"]
    (7, 'a.jpg', 640, 480)
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synapse_nb.exceptions import InvalidInputError

__all__ = [
    "SPLITS",
    "TARGETS",
    "Target",
    "build_export_item",
    "configured_classes",
    "fetch_records",
    "frame_ids",
    "frame_splits",
    "resolve_target",
]

#: Split names every format understands.
SPLITS = ("train", "val", "test")
#: Ids per ``id__in`` request when fetching the rows of a DataFrame.
ID_CHUNK = 500


@dataclass(frozen=True)
class Target:
    """One export target of the Synapse SDK (``params.target``) and how to list it.

    Example:
        >>> TARGETS["assignment"].required
        ('project',)
    """

    name: str
    list_method: str
    required: tuple[str, ...]  # one of these filters must be in a query
    frame_kind: str


TARGETS = {
    "task": Target("task", "list_tasks", ("project",), "task"),
    "assignment": Target("assignment", "list_assignments", ("project",), "assignment"),
    "ground_truth": Target(
        "ground_truth",
        "list_ground_truth_events",
        ("ground_truth_dataset_version", "ground_truth_dataset_versions"),
        "ground_truth_event",
    ),
}
_ALIASES = {
    "tasks": "task",
    "assignments": "assignment",
    "ground_truth_event": "ground_truth",
    "ground_truth_events": "ground_truth",
    "gt": "ground_truth",
}


def resolve_target(target: Any, frame: Any = None) -> Target:
    """The :class:`Target` for a name (``task``, ``assignment``, ``ground_truth`` or plurals).

    With ``target=None`` the kind recorded on a synapse_nb DataFrame is used.

    Example:
        >>> resolve_target("tasks").list_method
        'list_tasks'
    """
    if target is None and frame is not None:
        meta = frame.attrs.get("synapse") if hasattr(frame, "attrs") else None
        kind = meta.get("kind") if isinstance(meta, dict) else None
        target = next((t.name for t in TARGETS.values() if t.frame_kind == kind), None)
    name = _ALIASES.get(target, target) if isinstance(target, str) else None
    if name not in TARGETS:
        raise InvalidInputError(
            "target", target, f"must be one of {sorted(TARGETS)} (or a plural)", method="export"
        )
    return TARGETS[name]


def frame_ids(frame: Any) -> list[int]:
    """The object ids of a DataFrame: its index, which must hold unique integers.

    Example:
        >>> import pandas as pd
        >>> frame_ids(pd.DataFrame({"x": [1, 2]}, index=pd.Index([5, 9], name="id")))
        [5, 9]
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            "frame", type(frame).__name__, "must be a pandas DataFrame", method="export"
        )
    ids = [_object_id(value) for value in frame.index]
    if len(set(ids)) != len(ids):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)[:5]
        raise InvalidInputError("frame.index", dupes, "ids must be unique", method="export")
    return ids


def _object_id(value: Any) -> int:
    try:
        number = int(value)
        valid = not isinstance(value, bool | str) and number == value and number >= 1
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise InvalidInputError(
            "frame.index", value, "must hold positive integer object ids", method="export"
        )
    return number


def frame_splits(frame: Any, column: str) -> dict[int, str]:
    """``{id: split}`` from a split column; every value must be train, val or test.

    Example:
        >>> import pandas as pd
        >>> frame_splits(pd.DataFrame({"split": ["train", "val"]}, index=[1, 2]), "split")
        {1: 'train', 2: 'val'}
    """
    import pandas as pd

    if column not in frame.columns:
        raise InvalidInputError(
            "split", column, f"is not a column of the frame ({list(frame.columns)[:10]})",
            method="export",
        )  # fmt: skip
    splits = {}
    for object_id, value in zip(frame_ids(frame), frame[column], strict=True):
        if pd.isna(value) or value not in SPLITS:
            raise InvalidInputError(
                f"frame[{column!r}]",
                value,
                f"row {object_id}: every split must be one of {SPLITS}",
                method="export",
            )
        splits[object_id] = str(value)
    return splits


def _check_query(target: Target, params: Mapping[str, Any]) -> None:
    if not any(params.get(name) not in (None, "", []) for name in target.required):
        raise InvalidInputError(
            f"params[{target.required[0]!r}]",
            None,
            f"a {target.name} export query must filter by {' or '.join(target.required)}",
            method="export",
        )


def fetch_records(
    client: Any,
    target: Target,
    *,
    params: Mapping[str, Any] | None = None,
    ids: list[int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], list[int]]:
    """Fetch the target's records by query or by ids; returns ``(records, missing_ids)``.

    Args:
        client: A :class:`~synapse_nb.clients.BackendClient`.
        target: From :func:`resolve_target`.
        params: Query filters (with ``ids`` they narrow the id lookup).
        ids: Object ids to fetch (a DataFrame's index); records keep this order.
        on_progress: ``on_progress(fetched, total)``.

    Example:
        >>> project = backend.list_projects()["results"][0]["id"]
        >>> records, missing = fetch_records(backend, TARGETS["task"], params={"project": project})
        >>> len(records) > 0, missing
        (True, [])
        >>> wanted = [records[1]["id"], records[0]["id"], 10**9]
        >>> records, missing = fetch_records(backend, TARGETS["task"], ids=wanted)
        >>> [r["id"] for r in records] == wanted[:2], missing
        (True, [1000000000])
    """
    query = dict(params or {})
    # the notebook Client's listings are DataFrames; its raw view keeps the envelope API
    lister = getattr(getattr(client, "raw", client), target.list_method)
    if ids is None:
        _check_query(target, query)
        generator, count = lister(query, url_conversion=False, list_all=True)
        records = _drain(generator, count or 0, on_progress)
        return records, []
    by_id: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        chunk_query = {**query, "id__in": ",".join(map(str, chunk)), "page_size": len(chunk)}
        generator, _ = lister(chunk_query, url_conversion=False, list_all=True)
        for record in generator:
            by_id[record["id"]] = record
        if on_progress is not None:
            on_progress(min(start + ID_CHUNK, len(ids)), len(ids))
    missing = [i for i in ids if i not in by_id]
    return [by_id[i] for i in ids if i in by_id], missing


def _drain(
    generator: Iterator[dict[str, Any]], count: int, on_progress: Callable[[int, int], None] | None
) -> list[dict[str, Any]]:
    records = []
    for record in generator:
        records.append(record)
        if on_progress is not None and (len(records) % 100 == 0 or len(records) == count):
            on_progress(len(records), max(count, len(records)))
    if on_progress is not None:
        on_progress(len(records), len(records))
    return records


def _primary_file(files: Any) -> dict[str, Any]:
    if not isinstance(files, Mapping) or not files:
        return {}
    first: Any = None
    for value in files.values():  # the first entry marked primary, else the first entry
        if isinstance(value, str):
            first = value if first is None else first
        elif isinstance(value, Mapping):
            if value.get("is_primary"):
                return dict(value)
            first = value if first is None else first
    if first is None:
        return {}
    return {"url": first} if isinstance(first, str) else dict(first)


def _size(*metas: Any) -> tuple[int | None, int | None]:
    for meta in metas:
        if isinstance(meta, Mapping):
            width, height = meta.get("width"), meta.get("height")
            if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
                return width, height
    return None, None


def build_export_item(record: Mapping[str, Any], split: str | None = None) -> dict[str, Any]:
    """The Synapse SDK's export item for one task/assignment/ground-truth-event record.

    ``data`` given as a JSON string is parsed (some backends send it so).

    Example:
        >>> build_export_item({"id": 1, "data": '{"images": []}', "files": {}})["data"]
        {'images': []}
    """
    data = record.get("data")
    if isinstance(data, str):
        # Unparsable text stays as is: the converters then fail the item, naming it.
        with contextlib.suppress(ValueError):
            data = json.loads(data)
    primary = _primary_file(record.get("files"))
    width, height = _size(primary.get("meta"), record.get("meta"))
    return {
        "id": record["id"],
        "data": data,
        "files": primary,
        "width": width,
        "height": height,
        "split": split,
    }


def configured_classes(
    client: Any, target: Target, records: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> Any:
    """The class configuration of the records' project, or None when there is none.

    Tasks and assignments name their project; a project ``configuration`` holding
    ``classes`` (a list) or ``classification`` (either documented shape) configures the
    class order. Ground-truth events carry no project, so they use lexical order unless
    the caller passes ``classes=``.

    Example:
        >>> project = backend.list_projects()["results"][0]["id"]
        >>> classes = configured_classes(backend, TARGETS["task"], [], {"project": project})
        >>> "car" in str(classes)
        True
    """
    if target.name == "ground_truth":
        return None
    projects = {r.get("project") for r in records if r.get("project") is not None}
    if not projects and params.get("project") is not None:
        projects = {params["project"]}
    if len(projects) != 1:
        return None  # several projects have no single configured order
    project = next(iter(projects))
    assert project is not None  # only non-null project ids were collected
    configuration = client.get_project(int(project)).get("configuration") or {}
    if isinstance(configuration.get("classes"), list) and configuration["classes"]:
        return list(configuration["classes"])
    if isinstance(configuration.get("classification"), Mapping):
        return configuration
    return None
