"""Checks of a DM v2 document before it is written to the server.

The readers are tolerant (a malformed annotation is audited, not raised); a write is not:
every annotation about to be stored must have an id unique in its document, a class, and
geometry of its tool's shape with finite numbers. Problems are returned as strings naming
the image, the annotation and the field, so a caller can list them all at once.

Example:
    >>> doc = {"images": [{"bounding_box": [{"id": "b", "classification": "car",
    ...                                       "data": [0, 0, -1, 2]}]}]}
    >>> document_problems("a.jpg", doc)
    ["a.jpg: bounding_box 'b': data = [0, 0, -1, 2] needs a positive width and height"]
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from synapse_nb.annotations import MEDIA_KEYS, read_document

__all__ = ["CLASS_TOOLS", "document_problems", "size_problems"]

#: Tools whose ``classification`` is an object class checked against ``classes=``.
CLASS_TOOLS = ("bounding_box", "polygon", "polyline", "segmentation")
_MIN_POINTS = {"polygon": 3, "polyline": 2}


def document_problems(
    key: str, document: Mapping[str, Any], classes: Collection[str] | None = None
) -> list[str]:
    """Everything that keeps ``document`` from being written (empty when it is fine).

    Args:
        key: The image key, used in the messages.
        document: A DM v2 document.
        classes: When given, the class names allowed for :data:`CLASS_TOOLS`.

    Example:
        >>> document_problems("a.jpg", {"images": [{"polygon": [{"id": "p",
        ...     "classification": "cat", "data": [[0, 0], [1, 0], [1, 1]]}]}]}, ["car"])
        ["a.jpg: polygon 'p': classification = 'cat' is not a class of the project"]
    """
    problems: list[str] = []
    seen: set[str] = set()
    for list_key in MEDIA_KEYS:
        for item in document.get(list_key) or []:
            for tool, anns in item.items() if isinstance(item, Mapping) else ():
                for ann in anns if isinstance(anns, list) else [anns]:
                    problems += _annotation_problems(key, tool, ann, seen, classes)
    return problems


def size_problems(
    key: str,
    document: Mapping[str, Any],
    task_size: tuple[int, int],
    label_size: tuple[int | None, int | None] = (None, None),
) -> list[str]:
    """Where labels do not fit the task's image: a different stated size, or geometry
    outside it (half a pixel of slack) — usually the sign of a wrong match.

    Args:
        key: The image key, used in the messages.
        document: A DM v2 document.
        task_size: The task image's ``(width, height)``.
        label_size: The size the labels' source states, if any.

    Example:
        >>> doc = {"images": [{"bounding_box": [{"id": "b", "data": [600, 0, 100, 10]}]}]}
        >>> size_problems("a.jpg", doc, (640, 480))
        ["a.jpg: bounding_box 'b': extends outside the task's 640x480 image"]
    """
    width, height = task_size
    if None not in label_size and tuple(label_size) != (width, height):
        stated = f"{label_size[0]}x{label_size[1]}"
        return [f"{key}: the labels are for a {stated} image, the task's is {width}x{height}"]
    out = []
    for ann in read_document(document).annotations():
        box = ann.bbox(width) if ann.tool != "keypoint" else None
        if ann.tool == "keypoint":
            x, y = ann.point()
            box = (x, y, 0.0, 0.0) if x is not None and y is not None else None
        if box is None:
            continue
        x, y, w, h = box
        if x < -0.5 or y < -0.5 or x + w > width + 0.5 or y + h > height + 0.5:
            out.append(
                f"{key}: {ann.tool} {ann.id!r}: extends outside the task's {width}x{height} image"
            )
    return out


def _annotation_problems(
    key: str, tool: str, ann: Any, seen: set[str], classes: Collection[str] | None
) -> list[str]:
    if not isinstance(ann, Mapping):
        return [f"{key}: {tool}: annotation = {_short(ann)} is not an object"]
    ann_id = ann.get("id")
    where = f"{key}: {tool} {ann_id!r}"
    out = []
    if not isinstance(ann_id, str) or not ann_id:
        out.append(f"{where}: id is missing or not a string")
    elif ann_id in seen:
        out.append(f"{where}: id is used twice in the document")
    else:
        seen.add(ann_id)
    label = ann.get("classification")
    if tool in (*CLASS_TOOLS, "keypoint") and (not isinstance(label, str) or not label.strip()):
        out.append(f"{where}: classification = {_short(label)} is not a class name")
    elif classes is not None and tool in CLASS_TOOLS and label not in classes:
        out.append(f"{where}: classification = {label!r} is not a class of the project")
    geometry = _geometry_problem(tool, ann.get("data"))
    if geometry:
        out.append(f"{where}: data = {_short(ann.get('data'))} {geometry}")
    return out


def _finite(values: Any) -> bool:
    return all(
        not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v) for v in values
    )


def _geometry_problem(tool: str, data: Any) -> str:
    if tool == "bounding_box":
        if not isinstance(data, list) or len(data) != 4 or not _finite(data):
            return "is not [x, y, width, height] numbers"
        return "" if data[2] > 0 and data[3] > 0 else "needs a positive width and height"
    if tool in _MIN_POINTS:
        points = data if isinstance(data, list) else []
        pairs = all(isinstance(p, list) and len(p) == 2 and _finite(p) for p in points)
        if not pairs or len(points) < _MIN_POINTS[tool]:
            return f"is not a list of at least {_MIN_POINTS[tool]} [x, y] points"
        return ""
    if tool == "keypoint":
        ok = isinstance(data, list) and len(data) == 2 and _finite(data)
        return "" if ok else "is not an [x, y] point"
    if tool == "segmentation":
        return "" if isinstance(data, list) else "is not a list of pixel indices or runs"
    return ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
