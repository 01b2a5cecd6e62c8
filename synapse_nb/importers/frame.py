"""The predictions frame: one row per imported annotation, shaped like the annotations view.

Columns, in order (the first 15 are those of ``df.synapse.annotations()`` of a task frame,
same names and dtypes, so the two concatenate and compare directly):

================  ========  ========================================================
column            dtype     meaning
================  ========  ========================================================
``task_id``       Int64     the matched task (NA when the image matched no task)
``media``         category  media type (``image``)
``media_index``   Int64     position of the media item (0 = first)
``annotation_id`` string    annotation id (made up by the reader where the format has none)
``tool``          category  DM tool (``bounding_box``, ``polygon``, ``keypoint``, ...)
``class_name``    string    class label (joint name for keypoints)
``x``, ``y``      Float64   left, top of the box, px (the point for keypoints)
``w``, ``h``      Float64   box width, height, px (tight box of polygons and masks)
``area``          Float64   box area, polygon area (shoelace) or mask pixel count
``visibility``    Int64     keypoint visibility: 0 missing, 1 occluded, 2 visible
``group_id``      string    skeleton group of a keypoint
``attributes``    object    attrs as a ``{name: value}`` dict (``score`` among them)
``geometry``      object    the annotation's DM v2 ``data``
``score``         Float64   confidence (NA for ground truth)
``source``        string    where the labels came from (``source=`` or the file)
``file_name``     string    the label's image key (its file name)
================  ========  ========================================================

It joins onto a task frame by id: ``preds.merge(tasks, left_on="task_id",
right_index=True)``.

Example:
    >>> from synapse_nb.importers.labels import LabelledImage, Labels
    >>> doc = {"images": [{"bounding_box": [{"id": "b", "classification": "car",
    ...        "data": [1, 2, 4, 5], "attrs": [{"name": "score", "value": 0.5}]}]}]}
    >>> frame = predictions_frame(Labels("dm", {"a.jpg": LabelledImage("a.jpg", doc)}))
    >>> frame[["class_name", "area", "score", "file_name"]].values.tolist()
    [['car', 20.0, 0.5, 'a.jpg']]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.annotations import MEDIA_KEYS, Annotation
from synapse_nb.importers.labels import Labels
from synapse_nb.importers.matching import Matching

__all__ = ["PREDICTION_COLUMNS", "predictions_frame"]

#: Tools the ``tool`` column lists first (the order of the annotations view).
_TOOLS = (
    "bounding_box",
    "polygon",
    "polyline",
    "keypoint",
    "segmentation",
    "classification",
    "relation",
    "group",
)
_MEDIA = tuple(sorted(set(MEDIA_KEYS.values())))
_STRING = pd.StringDtype("pyarrow")

#: Column -> dtype of the predictions frame, in order.
PREDICTION_COLUMNS: dict[str, str] = {
    "task_id": "Int64",
    "media": "category",
    "media_index": "Int64",
    "annotation_id": "string",
    "tool": "category",
    "class_name": "string",
    "x": "Float64",
    "y": "Float64",
    "w": "Float64",
    "h": "Float64",
    "area": "Float64",
    "visibility": "Int64",
    "group_id": "string",
    "attributes": "object",
    "geometry": "object",
    "score": "Float64",
    "source": "string",
    "file_name": "string",
}


def predictions_frame(
    labels: Labels,
    matching: Matching | None = None,
    *,
    source: str | None = None,
    keep_unmatched: bool = False,
) -> pd.DataFrame:
    """One row per annotation of ``labels`` (no server call).

    Args:
        labels: What :func:`~synapse_nb.importers.read_predictions` returned.
        matching: A :func:`~synapse_nb.importers.match_to_tasks` result; fills ``task_id``.
        source: The ``source`` column's value (e.g. a model name); default the labels'
            source.
        keep_unmatched: With a matching, keep the rows of images that matched no task
            (``task_id`` NA); by default they are left out (the matching's report lists
            them).

    Returns:
        The predictions frame (see :data:`PREDICTION_COLUMNS`).

    Example:
        >>> tasks = client.list_tasks({"project": 1}, list_all=True)
        >>> from synapse_nb.importers import LabelledImage, Labels, match_to_tasks
        >>> doc = {"images": [{"bounding_box": [{"id": "b", "classification": "car",
        ...        "data": [0, 0, 8, 8], "attrs": [{"name": "score", "value": 0.9}]}]}]}
        >>> labels = Labels("dm", {"scene_0001.jpg": LabelledImage("scene_0001.jpg", doc)})
        >>> preds = predictions_frame(labels, match_to_tasks(labels, tasks), source="m1")
        >>> joined = preds.merge(tasks[["file_name"]], left_on="task_id", right_index=True,
        ...                      suffixes=("", "_task"))
        >>> joined[["file_name_task", "score", "source"]].values.tolist()
        [['scene_0001.jpg', 0.9, 'm1']]
    """
    pairs = matching.pairs if matching is not None else {}
    name = source if source is not None else labels.source
    rows: list[tuple[Any, ...]] = []
    for image in labels:
        task_id = pairs.get(image.key)
        if matching is not None and task_id is None and not keep_unmatched:
            continue
        width = image.width
        rows += [
            (task_id, *_row(ann, width), ann.score(), name, image.key)
            for ann in image.document().annotations()
        ]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(PREDICTION_COLUMNS)
    frame = pd.DataFrame(
        {c: _column(list(v), c) for c, v in zip(PREDICTION_COLUMNS, columns, strict=True)}
    )
    frame.attrs["importers"] = {"format": labels.format, "source": name}
    return frame


def _row(ann: Annotation, width: int | None) -> tuple[Any, ...]:
    """The annotations view's columns of one annotation, ``media`` to ``geometry``."""
    if ann.tool == "keypoint":
        x, y = ann.point()
        box: tuple[Any, ...] = (x, y, None, None)
        area = None
    else:
        found, area = ann.bbox_area(
            width if ann.media == "image" and ann.media_index == 0 else None
        )
        box = found if found else (None, None, None, None)
    return (
        ann.media,
        ann.media_index,
        ann.id,
        ann.tool,
        ann.label,
        *box,
        area,
        ann.visibility,
        ann.group_id,
        ann.attrs,
        ann.data,
    )


def _column(values: list[Any], name: str) -> Any:
    dtype = PREDICTION_COLUMNS[name]
    if dtype in ("Int64", "Float64"):
        return pd.array(values, dtype=dtype)
    if dtype == "string":
        return pd.array([None if v is None else str(v) for v in values], dtype=_STRING)
    if dtype == "category":
        known = _MEDIA if name == "media" else _TOOLS
        extra = sorted({v for v in values if v is not None and v not in known}, key=str)
        return pd.Categorical(values, categories=[*known, *extra])
    return np.fromiter(values, dtype=object, count=len(values))
