"""Labels from frames and from the server: item frames with their DM data, per-annotation
frames (the annotations view or a predictions frame), and ground-truth dataset versions
(a predictions dataset on the server is one too).

Example:
    >>> from synapse_nb.importers import predictions_frame, read_dm
    >>> doc = {"images": [{"bounding_box": [{"id": "b", "classification": "car",
    ...        "data": [1, 2, 3, 4], "attrs": [{"name": "score", "value": 0.25}]}]}]}
    >>> frame = predictions_frame(read_dm({"a.jpg": doc}))
    >>> labels = labels_from_frame(frame)
    >>> ann = labels["a.jpg"].document().media[0].annotations[0]
    >>> ann.id, ann.bbox(), ann.score()
    ('b', (1.0, 2.0, 3.0, 4.0), 0.25)
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd

from synapse_nb.converters import Audit
from synapse_nb.importers.dm import read_dm
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.labels import LabelledImage, Labels, dm_document

__all__ = ["ListsGroundTruth", "labels_from_frame", "read_ground_truth"]

_OWNERS = ("task_id", "assignment_id", "event_id")

#: the largest id the server stores (a signed 64-bit key); the same bound as
#: ``synapse_nb.clients._validate.MAX_ID``, which importers may not import (tests/test_layers.py)
_MAX_ID = 2**63 - 1


class ListsGroundTruth(Protocol):
    """What :func:`read_ground_truth` needs of a client: the notebook ``Client``'s version
    lookup and listing."""

    def get_ground_truth_version(self, pk: int) -> dict[str, Any]: ...

    def list_ground_truth_events(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        *,
        include_data: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame: ...


def read_ground_truth(
    client: ListsGroundTruth, version: int, *, source: str | None = None
) -> Labels:
    """The annotations of a ground-truth dataset version (or a predictions dataset's).

    Args:
        client: A notebook ``Client``.
        version: The ground-truth dataset version id.
        source: The labels' source name (default ``ground_truth_version:<id>``).

    Returns:
        Labels keyed by file name; ``item_id`` is the event's task id when it has one. A
        version without events gives empty labels.

    Raises:
        ImportFormatError: ``version`` is not an id (an int from 1 to 2**63 - 1); nothing
            was sent.
        NotFoundError: No ground-truth dataset version has that id (the 404 of
            ``client.get_ground_truth_version(version)``), not empty labels.

    Example:
        >>> labels = read_ground_truth(client, 2)
        >>> labels.format, len(labels), "scene_0000.jpg" in labels
        ('ground_truth', 180, True)
        >>> from synapse_nb.exceptions import NotFoundError
        >>> try:
        ...     read_ground_truth(client, 987654)
        ... except NotFoundError as err:
        ...     print(err)
        GET ground_truth_dataset_versions/987654/ failed (404): Not found.
    """
    if (
        isinstance(version, bool)
        or not isinstance(version, numbers.Integral)
        or not 1 <= version <= _MAX_ID
    ):
        raise ImportFormatError(
            "<client>",
            "version",
            version,
            f"is not a ground-truth dataset version id (an int from 1 to {_MAX_ID})",
        )
    # a clear 404 for an unknown version: its events' listing is empty, like an empty version's
    client.get_ground_truth_version(int(version))
    frame = client.list_ground_truth_events(
        {"ground_truth_dataset_versions": version}, list_all=True, include_data=True
    )
    labels = labels_from_frame(frame, source=source or f"ground_truth_version:{version}")
    labels.format = "ground_truth"
    return labels


def labels_from_frame(frame: pd.DataFrame, *, source: str | None = None) -> Labels:
    """Labels from a frame: an item frame with ``data`` (``include_data=True``), or one row per
    annotation (``df.synapse.annotations()`` or a predictions frame).

    Images are keyed by ``file_name`` (else by the row's id); a name that repeats gets the
    row's data unit appended (the row id when it has none) and a warning in the audit. A
    per-annotation frame's ``score`` column is kept as the ``score`` attribute.

    Args:
        frame: The frame.
        source: The labels' source name.

    Returns:
        Labels of format ``frame``.

    Raises:
        ImportFormatError: If the frame has neither ``data`` nor ``tool`` and ``geometry``.

    Example:
        >>> tasks = client.list_tasks({"project": 1}, list_all=True, include_data=True)
        >>> labels = labels_from_frame(tasks.head(5))
        >>> sorted(labels.images)[:2], labels["scene_0003.jpg"].item_id
        (['scene_0000.jpg', 'scene_0001.jpg'], 7)
    """
    where = source or "<frame>"
    if "data" in frame.columns:
        return _from_items(frame, where)
    if {"tool", "geometry"} <= set(frame.columns):
        return _from_annotations(frame, where)
    raise ImportFormatError(
        where,
        "columns",
        sorted(map(str, frame.columns))[:8],
        "have neither 'data' nor 'tool' and 'geometry'",
    )


def _from_items(frame: pd.DataFrame, where: str) -> Labels:
    audit = Audit()
    items = []
    keys = _keys(frame, audit)
    for pk, row in frame.iterrows():
        key = keys[pk]
        owner = row.get("task_id") if "task_id" in frame.columns else None
        items.append(
            {
                "file_name": key,
                "id": int(pk) if owner is None or pd.isna(owner) else int(owner),
                "data": {} if _missing(row["data"]) else row["data"],
                "width": _int(row.get("width")),
                "height": _int(row.get("height")),
            }
        )
    labels = read_dm(items) if items else Labels("dm")
    labels.audit.extend(audit)
    return Labels("frame", labels.images, labels.audit, where)


def _from_annotations(frame: pd.DataFrame, where: str) -> Labels:
    owner = next((c for c in _OWNERS if c in frame.columns), None)
    by = "file_name" if "file_name" in frame.columns else owner
    if by is None:
        raise ImportFormatError(
            where, "file_name", why="is not a column (nor task_id/assignment_id/event_id)"
        )
    media: dict[str, dict[str, list[dict[str, Any]]]] = {}
    first: dict[str, Any] = {}
    for row in frame.to_dict("records"):
        key = str(row[by])
        first.setdefault(key, row)
        media.setdefault(key, {}).setdefault(str(row["tool"]), []).append(_annotation(row))
    images = {
        key: LabelledImage(
            key,
            dm_document(tools),
            _int(first[key].get("width")),
            _int(first[key].get("height")),
            _int(first[key].get(owner)) if owner else None,
        )
        for key, tools in media.items()
    }
    return Labels("frame", images, Audit(), where)


def _annotation(row: Mapping[str, Any]) -> dict[str, Any]:
    stated = row.get("attributes")
    attrs = dict(stated) if isinstance(stated, Mapping) else {}
    score = row.get("score")
    if (
        score is not None
        and not pd.isna(score)
        and "score" not in attrs
        and "confidence" not in attrs
    ):
        attrs["score"] = float(score)
    ann: dict[str, Any] = {
        "id": None if _missing(row.get("annotation_id")) else str(row["annotation_id"]),
        "classification": None if _missing(row.get("class_name")) else str(row["class_name"]),
        "attrs": [{"name": k, "value": v} for k, v in attrs.items()],
        "data": row.get("geometry"),
    }
    if not _missing(row.get("visibility")):
        ann["visibility"] = int(row["visibility"])
    if not _missing(row.get("group_id")):
        ann["group_id"] = str(row["group_id"])
    return ann


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, list | dict) and bool(pd.isna(value)))


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _keys(frame: pd.DataFrame, audit: Audit) -> dict[Any, str]:
    """Each row's image key: its file name (else its row id), made unique.

    A name that repeats is told apart by the row's data unit (``"name (data unit 7)"``), which
    is the same image in every version of a dataset; the repeat with the lowest data unit keeps
    the bare name. Without a data unit (or for the same data unit twice) the row id is used.
    """
    names = frame["file_name"] if "file_name" in frame.columns else pd.Series(None, frame.index)
    units = (
        frame["data_unit_id"] if "data_unit_id" in frame.columns else pd.Series(None, frame.index)
    )
    bare = {pk: str(pk) if _missing(name) else str(name) for pk, name in names.items()}
    order = sorted(frame.index, key=lambda pk: (_missing(units.loc[pk]), _int(units.loc[pk]) or 0))
    keys: dict[Any, str] = {}
    seen: set[str] = set()
    for pk in order:
        key = bare[pk]
        if key in seen:
            unit = _int(units.loc[pk])
            key = f"{key} (data unit {unit})" if unit is not None else f"{key} ({pk})"
            if key in seen:
                key = f"{bare[pk]} ({pk})"
            audit.warnings.append(f"DUPLICATE_FILE_NAME: {bare[pk]} of row {pk} is keyed {key!r}")
        seen.add(key)
        keys[pk] = key
    return keys
