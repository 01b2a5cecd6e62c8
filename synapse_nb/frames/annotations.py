"""The annotations view: one row per annotation of a task, assignment or ground-truth frame.

Example:
    >>> import pandas as pd
    >>> doc = {"images": [{"polygon": [{"id": "p1", "classification": "road", "attrs": [],
    ...                                 "data": [[0, 0], [4, 0], [4, 3]]}]}]}
    >>> ann = annotations_from_data([7], [doc], owner="task_id")
    >>> ann["task_id"].tolist(), ann["tool"].tolist(), ann["class_name"].tolist()
    ([7], ['polygon'], ['road'])
    >>> ann[["w", "h", "area"]].iloc[0].astype(float).tolist()
    [4.0, 3.0, 6.0]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from synapse_nb.annotations.media import MEDIA_KEYS
from synapse_nb.frames.build import STRING, SynapseFrame, convert_column
from synapse_nb.frames.dm import iter_annotations
from synapse_nb.frames.schemas import IMAGE_TOOLS, Column

__all__ = ["ANNOTATION_COLUMNS", "annotations_from_data", "class_counts"]

#: Columns of the annotations view after the owner id column, in order.
ANNOTATION_COLUMNS = (
    Column(
        "media",
        "category",
        "media type (image, video, ...)",
        categories=tuple(sorted(set(MEDIA_KEYS.values()))),
    ),
    Column("media_index", "Int64", "position of the media item in the task (0 = first)"),
    Column("annotation_id", "string", "annotation id (unique within a media item)"),
    Column("tool", "category", "DM tool", categories=IMAGE_TOOLS),
    Column("class_name", "string", "class label (joint name for keypoints)"),
    Column("x", "Float64", "left of the box, px (point x for keypoints)"),
    Column("y", "Float64", "top of the box, px (point y for keypoints)"),
    Column("w", "Float64", "box width, px (tight box of polygons, polylines, masks)"),
    Column("h", "Float64", "box height, px"),
    Column("area", "Float64", "box area, polygon area (shoelace) or mask pixel count"),
    Column("visibility", "Int64", "keypoint visibility: 0 missing, 1 occluded, 2 visible"),
    Column("group_id", "string", "skeleton group of a keypoint"),
    Column("attributes", "object", "attrs as a {name: value} dict"),
    Column("geometry", "object", "the annotation's DM v2 data (v1 geometry converted)"),
)


def annotations_from_data(
    ids: Iterable[Any],
    data: Iterable[Any],
    *,
    owner: str,
    widths: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """Build the annotations view from parallel sequences of item ids and DM data.

    Args:
        ids: Item ids (task, assignment or event ids).
        data: The items' DM data (v1 or v2; empty or foreign JSON gives no rows).
        owner: Name of the id column (``task_id``, ``assignment_id``, ``event_id``).
        widths: Image widths, needed for the boxes of v2 masks.

    Returns:
        A frame with ``owner`` then :data:`ANNOTATION_COLUMNS`, one row per annotation.

    Example:
        >>> list(annotations_from_data([], [], owner="event_id").columns)[:3]
        ['event_id', 'media', 'media_index']
    """
    owners: list[Any] = []
    values: dict[str, list[Any]] = {c.name: [] for c in ANNOTATION_COLUMNS}
    width_list = list(widths) if widths is not None else None
    for position, (pk, doc) in enumerate(zip(ids, data, strict=True)):
        width = width_list[position] if width_list is not None else None
        width = None if width is None or pd.isna(width) else int(width)
        for row in iter_annotations(doc, width):
            owners.append(pk)
            for name, column in values.items():
                column.append(row.get(name))
    columns = {owner: pd.array([None if pd.isna(o) else int(o) for o in owners], dtype="Int64")}
    for spec in ANNOTATION_COLUMNS:
        columns[spec.name] = convert_column(values[spec.name], spec)
    frame = SynapseFrame(columns)
    frame.attrs["synapse"] = {"kind": "annotation", "owner": owner}
    return frame


def class_counts(annotations: pd.DataFrame, owner: str) -> pd.DataFrame:
    """Annotations and items per class, with one count column per tool.

    Keypoints (whose labels are joint names) and relations are left out, as in the
    ``classes`` column of the resource frames.

    Args:
        annotations: The annotations view.
        owner: Its id column.

    Returns:
        Frame indexed by ``class_name``: ``n_items``, ``n_annotations``, then ``n_<tool>``;
        sorted by ``n_annotations`` (descending), then name.

    Example:
        >>> ann = annotations_from_data([1, 2], [
        ...     {"images": [{"bounding_box": [{"id": "a", "classification": "car",
        ...                                     "data": [0, 0, 1, 1]}]}]},
        ...     {"images": [{"bounding_box": [{"id": "b", "classification": "car",
        ...                                     "data": [0, 0, 1, 1]}]}]}], owner="task_id")
        >>> class_counts(ann, "task_id").loc["car", ["n_items", "n_annotations"]].tolist()
        [2, 2]
    """
    rows = annotations[
        annotations["class_name"].notna()
        & ~annotations["tool"].isin(["keypoint", "relation"]).fillna(False)
    ]
    index = pd.Index(sorted(rows["class_name"].dropna().unique()), dtype=STRING, name="class_name")
    out = pd.DataFrame(index=index)
    grouped = rows.groupby("class_name", observed=True)
    out["n_items"] = grouped[owner].nunique().reindex(index).astype("Int64")
    out["n_annotations"] = grouped.size().reindex(index).astype("Int64")
    per_tool = rows.groupby(["class_name", "tool"], observed=True).size().unstack(fill_value=0)
    for tool in per_tool.columns:
        out[f"n_{tool}"] = per_tool[tool].reindex(index).fillna(0).astype("Int64")
    out = out.sort_values(["n_annotations"], ascending=False, kind="stable")
    return out
