"""Reading DM annotation data (v1 and v2, ``shared/dm-format.md``) into summaries and rows.

Two entry points, both tolerant of partial or foreign JSON (never raising on a shape they do
not know, since ``data`` is free-form on the server):

- :func:`summarize` — the per-item summary the resource frames carry (format, counts per tool,
  class labels present). It runs once per record while a listing streams in, so it touches
  only what it needs.
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

import numpy as np

__all__ = ["MEDIA_KEYS", "iter_annotations", "summarize", "v1_tool"]

#: DM v2 media list key -> the media type (v1 media-id prefix)
MEDIA_KEYS = {
    "images": "image",
    "videos": "video",
    "pcds": "pcd",
    "texts": "text",
    "audios": "audio",
    "prompts": "prompt",
    "datas": "data",
}

#: Tools whose classification is not an object class (joint names, links).
_NOT_CLASSES = frozenset({"keypoint", "relation"})

#: Non-canonical v1 tool names seen in the wild -> the v2 tool name.
_V1_ALIASES = {
    "boundingBox": "bounding_box",
    "bbox": "bounding_box",
    "polyLine": "polyline",
    "namedEntity": "named_entity",
    "timeRange": "time_range",
    "annotationGroup": "group",
    "3dBoundingBox": "3d_bounding_box",
    "3dSegmentation": "3d_segmentation",
}

_VISIBILITY = {"missing": 0, "occluded": 1, "visible": 2}


def v1_tool(name: Any) -> str:
    """The v2 tool name of a v1 ``tool`` value.

    Example:
        >>> v1_tool("boundingBox"), v1_tool("polygon")
        ('bounding_box', 'polygon')
    """
    text = str(name)
    return _V1_ALIASES.get(text, text)


def _is_v1(data: Mapping[str, Any]) -> bool:
    return isinstance(data.get("annotations"), Mapping)


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


def _attrs_v2(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {a["name"]: a.get("value") for a in value if isinstance(a, Mapping) and "name" in a}
    return dict(value) if isinstance(value, Mapping) else {}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _points(value: Any) -> list[tuple[float, float]]:
    out = []
    if isinstance(value, list):
        for p in value:
            if isinstance(p, list | tuple) and len(p) >= 2:
                x, y = _num(p[0]), _num(p[1])
                if x is not None and y is not None:
                    out.append((x, y))
    return out


def _extent(points: list[tuple[float, float]]) -> tuple[float, float, float, float] | None:
    if not points:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def _shoelace(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 3:
        return None
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


def _mask_geometry(
    ann: Mapping[str, Any], width: int | None
) -> tuple[tuple[float, float, float, float] | None, float | None]:
    """Tight pixel-inclusive box and pixel count of an image mask (either encoding)."""
    data = ann.get("data")
    if not isinstance(data, list) or not data:
        return None, 0.0 if isinstance(data, list) else None
    encoding = ann.get("encoding")
    rle = encoding == "dm_rle" or (
        encoding is None and isinstance(data[0], list | tuple) and len(data[0]) == 2
    )
    try:
        if rle:
            runs = np.asarray(data, dtype=np.int64).reshape(-1, 2)
            area = float(runs[:, 1].sum())
            starts, ends = runs[:, 0], runs[:, 0] + runs[:, 1] - 1
        else:
            flat = np.asarray(data, dtype=np.int64).ravel()
            area = float(flat.size)
            starts = ends = flat
    except (TypeError, ValueError):
        return None, None
    if not width or width <= 0:
        return None, area
    rows0, rows1 = starts // width, ends // width
    wraps = rows1 > rows0  # a run that crosses a row edge touches x = 0 and x = W - 1
    xmin = 0 if wraps.any() else int((starts % width).min())
    xmax = width - 1 if wraps.any() else int((ends % width).max())
    ymin, ymax = int(rows0.min()), int(rows1.max())
    return (float(xmin), float(ymin), float(xmax - xmin + 1), float(ymax - ymin + 1)), area


def _geometry(tool: str, ann: Mapping[str, Any], width: int | None) -> dict[str, Any]:
    """bbox x/y/w/h and area of one v2-shaped annotation (missing values are None)."""
    data = ann.get("data")
    box: tuple[float, float, float, float] | None = None
    area = None
    if tool == "bounding_box" and isinstance(data, list) and len(data) >= 4:
        values = [_num(v) for v in data[:4]]
        if None not in values:
            box = (values[0], values[1], values[2], values[3])  # type: ignore[assignment]
            area = box[2] * box[3]
    elif tool in ("polygon", "polyline"):
        points = _points(data)
        box = _extent(points)
        area = _shoelace(points) if tool == "polygon" else None
    elif tool == "keypoint" and isinstance(data, list) and len(data) >= 2:
        x, y = _num(data[0]), _num(data[1])
        return {"x": x, "y": y, "w": None, "h": None, "area": None}
    elif tool == "segmentation" and isinstance(data, list):
        box, area = _mask_geometry(ann, width)
    if box is None:
        return {"x": None, "y": None, "w": None, "h": None, "area": area}
    return {"x": box[0], "y": box[1], "w": box[2], "h": box[3], "area": area}


def _visibility(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return _VISIBILITY.get(value.lower())
    return None


def _row(
    media: str,
    index: int,
    tool: str,
    ann: Mapping[str, Any],
    label: Any,
    attrs: dict[str, Any],
    geometry: Any,
    width: int | None,
) -> dict[str, Any]:
    row = {
        "media": media,
        "media_index": index,
        "annotation_id": None if ann.get("id") is None else str(ann.get("id")),
        "tool": tool,
        "class_name": label if isinstance(label, str) else None,
        "visibility": _visibility(ann.get("visibility")) if tool == "keypoint" else None,
        "group_id": None if ann.get("group_id") is None else str(ann.get("group_id")),
        "attributes": attrs,
        "geometry": geometry,
    }
    row.update(_geometry(tool, {**ann, "data": geometry}, width))
    return row


def _iter_v2(data: Mapping[str, Any], width: int | None) -> Iterator[dict[str, Any]]:
    for key, media in MEDIA_KEYS.items():
        items = data.get(key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            for tool, anns in item.items():
                if not isinstance(anns, list):
                    continue
                for ann in anns:
                    if not isinstance(ann, Mapping):
                        continue
                    attrs = _attrs_v2(ann.get("attrs"))
                    yield _row(
                        media,
                        index,
                        tool,
                        ann,
                        ann.get("classification"),
                        attrs,
                        ann.get("data"),
                        width if media == "image" and index == 0 else None,
                    )


def _v1_geometry(tool: str, row: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A v1 data row -> (v2-shaped data, extra keys for the annotation)."""
    coord = row.get("coordinate")
    extra: dict[str, Any] = {}
    if tool == "bounding_box" and isinstance(coord, Mapping):
        data = [coord.get("x"), coord.get("y"), coord.get("width"), coord.get("height")]
        if coord.get("rotation"):
            extra["rotation"] = coord.get("rotation")
        return data, extra
    if tool in ("polygon", "polyline") and isinstance(coord, list):
        return [[p.get("x"), p.get("y")] for p in coord if isinstance(p, Mapping)], extra
    if tool == "keypoint" and isinstance(coord, Mapping):
        return [coord.get("x"), coord.get("y")], extra
    if tool == "segmentation":
        if "section" in row:
            return row.get("section"), extra
        compressed = bool(row.get("isCompressed"))
        extra["encoding"] = "dm_rle" if compressed else "raw_indices"
        return row.get("pixel_indices"), extra
    if tool == "relation":
        return [row.get("annotationId"), row.get("targetAnnotationId")], extra
    if tool == "3d_bounding_box":
        return row.get("psr"), extra
    if tool == "classification":
        return {}, extra
    return coord, extra


def _iter_v1(data: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    geometry_rows = data.get("annotationsData") or {}
    extras = data.get("extra") or {}
    groups = data.get("annotationGroups") or {}
    for media_id, rows in data["annotations"].items():
        if not isinstance(rows, list):
            continue
        media, _, number = str(media_id).partition("_")
        index = int(number) - 1 if number.isdigit() else 0
        by_id = {
            g.get("id"): g
            for g in (geometry_rows.get(media_id) or [])
            if isinstance(g, Mapping) and g.get("id") is not None
        }
        member_of = {
            member: g.get("id")
            for g in (groups.get(media_id) or [])
            if isinstance(g, Mapping)
            for member in g.get("annotationIds") or []
        }
        info = extras.get(media_id) if isinstance(extras, Mapping) else None
        width = info.get("width") if isinstance(info, Mapping) else None
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            tool = v1_tool(row.get("tool"))
            cls = row.get("classification")
            cls = dict(cls) if isinstance(cls, Mapping) else {}
            label = cls.pop("class", None)
            geometry, extra = _v1_geometry(tool, by_id.get(row.get("id"), {}))
            attrs = {k: v for k, v in cls.items() if not (k == "visibility" and tool == "keypoint")}
            if "rotation" in extra:
                attrs["rotation"] = extra.pop("rotation")
            ann = {
                "id": row.get("id"),
                "visibility": cls.get("visibility"),
                "group_id": member_of.get(row.get("id")),
                **extra,
            }
            yield _row(media, index, tool, ann, label, attrs, geometry, width)


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
    if not data or not isinstance(data, Mapping):
        return iter(())
    if _is_v1(data):
        return _iter_v1(data)
    return _iter_v2(data, width)
