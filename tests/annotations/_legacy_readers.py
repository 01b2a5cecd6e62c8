"""Frozen copies of the DM readers as they were before ``synapse_nb.annotations`` existed.

Test-side reference only: the property tests in this folder feed the same documents to these
functions and to their replacements and compare the outputs. Nothing in the package imports
this module; do not "fix" it (it must keep the old behaviour, quirks included).
"""
# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synapse_nb.converters import COCO_PERSON_SKELETON, PERSON_17, dm_v1_to_v2
from synapse_nb.converters.dm import DMFormatError

VISIBILITY_NAMES = {"missing": 0, "occluded": 1, "visible": 2}

# ============================================================== frames/dm.py


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


def frames_summarize(data: Any) -> tuple[str | None, dict[str, int], list[str]]:
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


def frames_iter_annotations(data: Any, width: int | None = None) -> Iterator[dict[str, Any]]:
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


# ============================================================== widgets/_render.py (parsing)

#: Order in which tools are drawn: area fills first, then outlines, points and badges on top.
_DRAW_ORDER = (
    "segmentation",
    "polygon",
    "polyline",
    "bounding_box",
    "relation",
    "keypoint",
    "classification",
)
_R_VISIBILITY_NAMES = {"missing": 0, "occluded": 1, "visible": 2}
#: Label used for keypoints whose skeleton group has no class.
KEYPOINT_LABEL = "keypoints"
#: COCO Person-17 skeleton as joint-name pairs: the fallback when no project configures one.
PERSON_17_SKELETON: tuple[tuple[str, str], ...] = tuple(
    (PERSON_17[a - 1], PERSON_17[b - 1]) for a, b in COCO_PERSON_SKELETON
)


@dataclass(slots=True)
class Shape:
    """One drawable annotation, in source-image pixels.

    Attributes:
        tool: DM tool (``bounding_box``, ``polygon``, ``polyline``, ``keypoint``,
            ``segmentation``, ``classification``, ``relation``).
        label: Class name; for keypoints the class of their skeleton group. Colours and
            class toggles go by it.
        data: The DM v2 ``data`` of the annotation.
        ann_id: Annotation id.
        name: Joint name of a keypoint.
        visibility: Keypoint visibility (0 missing, 1 occluded, 2 visible).
        group: Skeleton group of a keypoint.
        score: ``score``/``confidence`` attr (predictions), if any.
        rotation: ``rotation`` attr of a box, radians (0 when absent).
        encoding: A mask's ``encoding``/``isCompressed``/``compressionFormat`` fields.
        attrs: Other attrs, as a dict.
        status: Compare mode: ``matched``, ``missed`` or ``extra``.
        source: Compare mode: ``"a"`` (reference) or ``"b"``.
        iou: Compare mode: IoU with the matched partner.

    Example:
        >>> Shape("bounding_box", "car", [0, 0, 2, 3]).box()
        (0.0, 0.0, 2.0, 3.0)
    """

    tool: str
    label: str
    data: Any
    ann_id: str | None = None
    name: str | None = None
    visibility: int | None = None
    group: str | None = None
    score: float | None = None
    rotation: float = 0.0
    encoding: dict[str, Any] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    source: str = "a"
    iou: float | None = None

    def box(self) -> tuple[float, float, float, float] | None:
        """Tight ``(x, y, w, h)`` of a box, polygon or polyline (None for other tools).

        Example:
            >>> Shape("polygon", "road", [[0, 0], [4, 0], [4, 3]]).box()
            (0.0, 0.0, 4.0, 3.0)
        """
        if self.tool == "bounding_box":
            x, y, w, h = self.data
            return float(x), float(y), float(w), float(h)
        if self.tool in ("polygon", "polyline"):
            xs = [p[0] for p in self.data]
            ys = [p[1] for p in self.data]
            x0, y0 = float(min(xs)), float(min(ys))
            return x0, y0, float(max(xs)) - x0, float(max(ys)) - y0
        return None


# ---------------------------------------------------------------------------- parsing


def _r_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _r_attrs(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {a["name"]: a.get("value") for a in value if isinstance(a, Mapping) and "name" in a}
    return dict(value) if isinstance(value, Mapping) else {}


def _r_visibility(value: Any) -> int:
    if isinstance(value, str):
        return _R_VISIBILITY_NAMES.get(value.lower(), 2)
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value
    return 2  # a keypoint without a visibility was drawn, so it is visible


def _r_points(data: Any, least: int) -> list[tuple[float, float]] | None:
    if not isinstance(data, list):
        return None
    points = [
        (float(p[0]), float(p[1]))
        for p in data
        if isinstance(p, list | tuple) and len(p) >= 2 and _r_number(p[0]) and _r_number(p[1])
    ]
    return points if len(points) >= least and len(points) == len(data) else None


def _r_media_item(doc: Any) -> Mapping[str, Any] | None:
    if not isinstance(doc, Mapping) or not doc:
        return None
    if isinstance(doc.get("annotations"), Mapping):  # DM v1: convert with the converter
        try:
            converted, _audit = dm_v1_to_v2(doc)
        except DMFormatError:
            return None
        doc = converted["annotation_data"]
    images = doc.get("images")
    if not isinstance(images, list) or not images or not isinstance(images[0], Mapping):
        return None
    return images[0]


def _r_group_classes(item: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``group id -> class`` and ``member annotation id -> group id`` of ``group`` entries."""
    classes: dict[str, str] = {}
    members: dict[str, str] = {}
    for group in item.get("group") or []:
        if not isinstance(group, Mapping) or group.get("id") is None:
            continue
        gid = str(group["id"])
        if isinstance(group.get("classification"), str):
            classes[gid] = group["classification"]
        for member in group.get("data") or []:
            members.setdefault(str(member), gid)
    return classes, members


def _r_shape(tool: str, ann: Mapping[str, Any], groups: tuple[dict, dict]) -> Shape | None:
    """A :class:`Shape` of one v2 annotation, or None when its geometry is unusable."""
    attrs = _r_attrs(ann.get("attrs"))
    label = ann.get("classification")
    label = label if isinstance(label, str) else ""
    ann_id = None if ann.get("id") is None else str(ann["id"])
    score = next((attrs[k] for k in ("score", "confidence") if _r_number(attrs.get(k))), None)
    if score is None and _r_number(ann.get("score")):
        score = ann["score"]
    common = {"ann_id": ann_id, "attrs": attrs, "score": None if score is None else float(score)}
    data = ann.get("data")
    if tool == "bounding_box":
        ok = isinstance(data, list) and len(data) >= 4 and all(_r_number(v) for v in data[:4])
        if not ok or data[2] <= 0 or data[3] <= 0:
            return None
        rotation = attrs.get("rotation")
        return Shape(
            tool,
            label,
            [float(v) for v in data[:4]],
            rotation=float(rotation) if _r_number(rotation) else 0.0,
            **common,
        )
    if tool in ("polygon", "polyline"):
        points = _r_points(data, 3 if tool == "polygon" else 2)
        return None if points is None else Shape(tool, label, points, **common)
    if tool == "keypoint":
        if not (isinstance(data, list) and len(data) >= 2 and all(map(_r_number, data[:2]))):
            return None
        classes, members = groups
        group = ann.get("group_id")
        group = str(group) if group is not None else members.get(ann_id or "")
        return Shape(
            tool,
            classes.get(group or "", KEYPOINT_LABEL),
            (float(data[0]), float(data[1])),
            name=label,
            visibility=_r_visibility(ann.get("visibility")),
            group=group,
            **common,
        )
    if tool == "segmentation":
        if not isinstance(data, list):
            return None  # a video/audio time span: nothing to draw on an image
        keys = ("encoding", "isCompressed", "compressionFormat")
        encoding = {k: ann.get(k) for k in keys}
        if encoding["encoding"] is None and data:
            # legacy documents carry raw indices (or runs) without stating the encoding
            rle = isinstance(data[0], list | tuple)
            encoding = {
                "encoding": "dm_rle" if rle else "raw_indices",
                "isCompressed": rle,
                "compressionFormat": "rle" if rle else None,
            }
        return Shape(tool, label, data, encoding=encoding, **common)
    if tool == "classification":
        return Shape(tool, label, None, **common)
    if tool == "relation":
        ok = isinstance(data, list) and len(data) == 2
        return Shape(tool, label, [str(v) for v in data], **common) if ok else None
    return None


def render_shapes_from_doc(doc: Any) -> list[Shape]:
    """The drawable annotations of an item's first image, in drawing order.

    DM v1 documents are converted to v2 first (:func:`synapse_nb.converters.dm_v1_to_v2`).
    Annotations whose geometry is malformed are left out rather than failing the preview;
    ``group`` entries give their class to their keypoints instead of being drawn.

    Args:
        doc: The item's DM data (v1, v2, ``{}`` or anything else).

    Returns:
        Shapes, masks first and badges last.

    Example:
        >>> doc = {"images": [{
        ...     "keypoint": [{"id": "k1", "classification": "nose", "data": [5, 5],
        ...                   "visibility": 1, "group_id": "g1"}],
        ...     "group": [{"id": "g1", "classification": "person", "data": ["k1"]}]}]}
        >>> s = shapes_from_doc(doc)[0]
        >>> s.label, s.name, s.visibility, s.group
        ('person', 'nose', 1, 'g1')
    """
    item = _r_media_item(doc)
    if item is None:
        return []
    groups = _r_group_classes(item)
    shapes: list[Shape] = []
    for tool in _DRAW_ORDER:
        anns = item.get(tool)
        if not isinstance(anns, list):
            continue
        for ann in anns:
            if isinstance(ann, Mapping):
                shape = _r_shape(tool, ann, groups)
                if shape is not None:
                    shapes.append(shape)
    return shapes


def skeleton_from_configuration(configuration: Any) -> tuple[tuple[str, str], ...] | None:
    """Skeleton edges as joint-name pairs from a project configuration, if it has one.

    The configuration lists joint names under ``keypoints`` and edges under ``skeleton``,
    as name pairs or index pairs (0-based; 1-based as in COCO when an index equals the
    number of joints).

    Example:
        >>> skeleton_from_configuration({"keypoints": ["a", "b", "c"], "skeleton": [[0, 1]]})
        (('a', 'b'),)
        >>> skeleton_from_configuration({"keypoints": ["a", "b"], "skeleton": [[1, 2]]})
        (('a', 'b'),)
        >>> skeleton_from_configuration({}) is None
        True
    """
    if not isinstance(configuration, Mapping):
        return None
    names = configuration.get("keypoints")
    edges = configuration.get("skeleton")
    if not isinstance(edges, list) or not edges:
        return None
    names = [str(n) for n in names] if isinstance(names, list) else []
    pairs = [e for e in edges if isinstance(e, list | tuple) and len(e) == 2]
    if all(isinstance(a, str) and isinstance(b, str) for a, b in pairs):
        return tuple((a, b) for a, b in pairs) or None
    indices = [(a, b) for a, b in pairs if isinstance(a, int) and isinstance(b, int)]
    if not names or not indices:
        return None
    base = 1 if max(max(a, b) for a, b in indices) == len(names) else 0
    out = [
        (names[a - base], names[b - base])
        for a, b in indices
        if 0 <= a - base < len(names) and 0 <= b - base < len(names)
    ]
    return tuple(out) or None


def render_box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` with every box of ``b`` (``x, y, w, h`` rows).

    Example:
        >>> box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 2, 2], [5, 5, 1, 1]])).round(3)
        array([[0.333, 0.   ]])
    """
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    ax1, ay1 = a[:, 0:1], a[:, 1:2]
    ax2, ay2 = ax1 + a[:, 2:3], ay1 + a[:, 3:4]
    bx1, by1 = b[:, 0], b[:, 1]
    bx2, by2 = bx1 + b[:, 2], by1 + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = iw * ih
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


# ============================================================== converters/_common.py


class Audit:  # only the type name is used in a signature
    pass


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def bbox_of(ann: Mapping[str, Any]) -> tuple[float, float, float, float] | str:
    """``(x, y, w, h)`` of a bounding_box annotation, or a problem description."""
    data = ann.get("data")
    if not (isinstance(data, list | tuple) and len(data) == 4 and all(is_number(v) for v in data)):
        return f"bounding_box data must be [x, y, width, height] numbers, got {data!r}"
    x, y, w, h = (float(v) for v in data)
    if w <= 0 or h <= 0:
        return f"bounding_box width and height must be > 0, got {w:g}x{h:g}"
    return x, y, w, h


def points_of(ann: Mapping[str, Any], tool: str = "polygon") -> list[tuple[float, float]] | str:
    """Points of a polygon annotation (>= 3 distinct, positive area), or a problem."""
    data = ann.get("data")
    if not isinstance(data, list) or not all(
        isinstance(p, list | tuple) and len(p) == 2 and all(is_number(v) for v in p) for p in data
    ):
        return f"{tool} data must be a list of [x, y] numbers, got {str(data)[:80]}"
    points = [(float(x), float(y)) for x, y in data]
    if len(set(points)) < 3:
        return f"{tool} needs at least 3 distinct points, got {len(set(points))}"
    if polygon_area(points) <= 0:
        return f"{tool} has zero area"
    return points


def polygon_area(points: Sequence[tuple[float, float]]) -> float:
    """Shoelace area of a closed ring (absolute value)."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


def attr_value(ann: Mapping[str, Any], name: str) -> Any:
    for attr in ann.get("attrs") or []:
        if isinstance(attr, Mapping) and attr.get("name") == name:
            return attr.get("value")
    return None


def rotation_of(ann: Mapping[str, Any]) -> float:
    value = attr_value(ann, "rotation")
    return float(value) if is_number(value) else 0.0


def custom_attrs(ann: Mapping[str, Any]) -> list[dict[str, Any]]:
    """User attrs: not internal (``_`` prefix) and not the box ``rotation``."""
    return [
        dict(a)
        for a in ann.get("attrs") or []
        if isinstance(a, Mapping)
        and isinstance(a.get("name"), str)
        and not a["name"].startswith("_")
        and a["name"] != "rotation"
    ]


def visibility_of(ann: Mapping[str, Any]) -> int | None:
    """Keypoint visibility as 0/1/2 (names accepted; missing means visible), or None if bad."""
    value = ann.get("visibility", 2)
    if isinstance(value, str):
        return VISIBILITY_NAMES.get(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value
    return None


def is_dm_v1(data: Mapping[str, Any]) -> bool:
    return "annotations" in data and "annotationsData" in data


def dm_v2_document(
    data: Mapping[str, Any], item_id: Any = None, audit: Audit | None = None
) -> Mapping[str, Any]:
    """The DM v2 document of an item's data (v1 converted; v1->v2 output unwrapped)."""
    if "annotation_data" in data and isinstance(data["annotation_data"], Mapping):
        return data["annotation_data"]
    if is_dm_v1(data):
        from synapse_nb.converters.dm import dm_v1_to_v2

        converted, sub_audit = dm_v1_to_v2(data, item_id=item_id)
        if audit is not None:
            audit.extend(sub_audit)
        return converted["annotation_data"]
    return data


def first_image(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    images = doc.get("images")
    if isinstance(images, list) and images and isinstance(images[0], Mapping):
        return images[0]
    return {}


# ============================================================== server/demo/media.py


def demo_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x, y, w, h]`` boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def demo_point_in_polygon(x: float, y: float, pts: Sequence[tuple[float, float]]) -> bool:
    inside = False
    n = len(pts)
    for i in range(n):
        (xa, ya), (xb, yb) = pts[i], pts[(i + 1) % n]
        if (ya > y) != (yb > y) and x < xa + (y - ya) * (xb - xa) / (yb - ya):
            inside = not inside
    return inside
