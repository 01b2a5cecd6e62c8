"""DM annotation data as the frames show it: per-item summaries and one row per annotation.

Both entry points are tolerant of partial or foreign JSON (they never raise on a shape they
do not know, since ``data`` is free-form on the server). Documents are read by the shared
annotation model, :mod:`synapse_nb.annotations`:

- :func:`summarize` — the per-item summary the resource frames carry (format, counts per tool,
  class labels present). It runs once per record while a listing streams in, so it touches
  only what it needs and builds no objects.
- :func:`iter_annotations` — one dict per annotation with a common geometry: the v2 ``data``
  shape (v1 geometry is converted to it), the bbox ``x/y/w/h`` (tight box of polygons,
  polylines and masks), the ``area`` (box area, shoelace area, mask pixel count) and the
  ``attrs`` as a ``{name: value}`` dict.

Example:
    >>> doc = {"images": [{"bounding_box": [{"id": "b1", "classification": "car",
    ...                                       "attrs": [], "data": [1, 2, 10, 5]}]}]}
    >>> summarize(doc)
    ('v2', {'bounding_box': 1}, ['car'])
    >>> row = next(iter_annotations(doc))
    >>> row["tool"], row["class_name"], row["area"]
    ('bounding_box', 'car', 50.0)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from synapse_nb.annotations import Annotation, read_document
from synapse_nb.annotations.media import MEDIA_KEYS, NOT_CLASS_TOOLS, v1_tool

__all__ = ["MEDIA_KEYS", "iter_annotations", "summarize", "v1_tool"]

_NOT_CLASSES = NOT_CLASS_TOOLS


_EMPTY: tuple[None, dict[str, int], list[str]] = (None, {}, [])


def summarize(data: Any) -> tuple[str | None, dict[str, int], list[str]]:
    """Format, annotation count per tool and sorted class labels of one item's DM data.

    Runs once per record while a listing streams in, so it is written for speed (exact type
    checks, one walk over the media lists); anything unexpected falls back to tolerant code.

    Args:
        data: The item's ``data`` (DM v2 document, DM v1 payload, ``{}`` or anything else).

    Returns:
        ``(version, counts, classes)``: version is ``'v2'``, ``'v1'``, ``'other'`` for
        non-empty JSON that is not DM, or ``None`` when empty. The returned dict and list
        must not be mutated (empty results are shared).

    Example:
        >>> summarize({})
        (None, {}, [])
        >>> summarize({"annotations": {"image_1": [{"id": "a", "tool": "polygon",
        ...                                          "classification": {"class": "road"}}]}})
        ('v1', {'polygon': 1}, ['road'])
    """
    if not data:
        return _EMPTY
    if type(data) is not dict and not isinstance(data, Mapping):
        return "other", {}, []
    v1 = data.get("annotations")
    if v1 is not None and isinstance(v1, Mapping):
        return _summarize_v1(data)
    counts: dict[str, int] = {}
    classes: set[str] = set()
    found = False
    for key, items in data.items():
        if key not in MEDIA_KEYS or type(items) is not list:
            continue
        found = True
        for item in items:
            if type(item) is not dict:
                continue
            for tool, anns in item.items():
                if type(anns) is not list or not anns:
                    continue
                counts[tool] = counts.get(tool, 0) + len(anns)
                if tool in _NOT_CLASSES:
                    continue
                for ann in anns:
                    label = ann.get("classification") if type(ann) is dict else None
                    if type(label) is str and label:
                        classes.add(label)
    if not found and "classification" not in data:
        return "other", {}, []
    return "v2", counts, sorted(classes)


def _summarize_v1(data: Mapping[str, Any]) -> tuple[str, dict[str, int], list[str]]:
    counts: dict[str, int] = {}
    classes: set[str] = set()
    for rows in data["annotations"].values():
        if not isinstance(rows, list):
            continue
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            tool = v1_tool(row.get("tool"))
            counts[tool] = counts.get(tool, 0) + 1
            cls = row.get("classification")
            if tool not in _NOT_CLASSES and isinstance(cls, Mapping):
                label = cls.get("class")
                if isinstance(label, str) and label:
                    classes.add(label)
    return "v1", counts, sorted(classes)


# ---------------------------------------------------------------------------- rows


def _row(ann: Annotation, width: int | None) -> dict[str, Any]:
    if ann.tool == "keypoint":
        x, y = ann.point()
        box, area = None, None
    else:
        box, area = ann.bbox_area(width)
        x = y = None
    return {
        "media": ann.media,
        "media_index": ann.media_index,
        "annotation_id": ann.id,
        "tool": ann.tool,
        "class_name": ann.label,
        "visibility": ann.visibility,
        "group_id": ann.group_id,
        "attributes": ann.attrs,
        "geometry": ann.data,
        "x": box[0] if box else x,
        "y": box[1] if box else y,
        "w": box[2] if box else None,
        "h": box[3] if box else None,
        "area": area,
    }


def iter_annotations(data: Any, width: int | None = None) -> Iterator[dict[str, Any]]:
    """One dict per annotation of an item's DM data (v1 or v2).

    Args:
        data: The item's ``data``.
        width: Width in px of the item's first image, needed for the box of a v2 mask (v2
            does not store image sizes; v1 does, in ``extra``).

    Yields:
        Dicts with ``media``, ``media_index``, ``annotation_id``, ``tool``, ``class_name``,
        ``x``, ``y``, ``w``, ``h``, ``area``, ``visibility``, ``group_id``, ``attributes``
        and ``geometry`` (the v2 ``data`` of the annotation).

    Example:
        >>> v1 = {"annotations": {"image_1": [{"id": "k", "tool": "keypoint",
        ...        "classification": {"class": "nose", "visibility": "occluded"}}]},
        ...       "annotationsData": {"image_1": [{"id": "k", "coordinate": {"x": 3, "y": 4}}]}}
        >>> r = next(iter_annotations(v1))
        >>> r["tool"], r["class_name"], r["visibility"], r["geometry"]
        ('keypoint', 'nose', 1, [3, 4])
    """
    document = read_document(data)
    for item in document.media:
        if document.version == "v1":
            item_width = item.width
        else:
            item_width = width if item.media == "image" and item.index == 0 else None
        for ann in item.annotations:
            yield _row(ann, item_width)
