"""The annotation model: DM v1 and v2 documents read into the same objects.

A DM document holds the annotations of one data unit (a task, an assignment, a
ground-truth event). Version 2 lists media items under plural keys (``images``,
``videos``, ...), each item mapping a tool name to its annotations, whose ``data`` holds
the geometry. Version 1 keys everything by media id (``image_1``): ``annotations`` holds
the label rows (tool, ``classification`` with the class and other attributes),
``annotationsData`` the geometry rows (``coordinate``, ``pixel_indices``, ...),
``annotationGroups`` the groups and ``extra`` the media sizes. :func:`read_document`
reads both into a :class:`Document` of :class:`MediaItem` of :class:`Annotation`, whose
``data`` always has the v2 shape.

Reading is tolerant: a value of the wrong type reads as ``None`` (or empty) and the
annotation is kept, so each consumer decides what is usable (frames show it, the preview
skips it, the converters audit it). Objects are plain slotted dataclasses, cheap enough to
build for every annotation of a 100k-task listing.

Example:
    >>> doc = read_document({"images": [{"bounding_box": [
    ...     {"id": "b1", "classification": "car", "data": [1, 2, 10, 5],
    ...      "attrs": [{"name": "score", "value": 0.9}]}]}]})
    >>> ann = doc.media[0].annotations[0]
    >>> ann.tool, ann.label, ann.bbox(), ann.area(), ann.score()
    ('bounding_box', 'car', (1.0, 2.0, 10.0, 5.0), 50.0, 0.9)
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from synapse_nb.annotations.geometry import Box, extent, polygon_area
from synapse_nb.annotations.masks import guess_rle, mask_extent
from synapse_nb.annotations.media import MEDIA_KEYS, is_v1, parse_media_id, v1_tool
from synapse_nb.annotations.values import (
    attrs_dict,
    is_number,
    number,
    point_list,
    visibility_code,
)

__all__ = [
    "MASK_FIELDS",
    "Annotation",
    "Document",
    "MediaItem",
    "iter_annotations",
    "read_document",
]

#: The fields of a mask annotation that state its encoding.
MASK_FIELDS = ("encoding", "isCompressed", "compressionFormat")


@dataclass(slots=True)
class Annotation:
    """One annotation, v2-shaped whatever the document's version.

    Attributes:
        tool: DM tool (``bounding_box``, ``polygon``, ``polyline``, ``keypoint``,
            ``segmentation``, ``classification``, ``relation``, ``group``, ...).
        id: Annotation id as a string (None when missing).
        label: The ``classification`` (class name; a joint name for keypoints) when it is
            a string.
        data: The geometry in its v2 shape: ``[x, y, w, h]`` for a box, ``[[x, y], ...]``
            for polygons and polylines, ``[x, y]`` for a keypoint, mask indices or runs,
            member ids of a group, ``[from, to]`` ids of a relation.
        attrs: Attributes as ``{name: value}`` (a box's ``rotation`` among them).
        media: Media type (``image``, ``video``, ...).
        media_index: Position of the media item among those of its type (0 = first).
        visibility: Keypoint visibility code (0 missing, 1 occluded, 2 visible) as stated;
            None when absent or unreadable, and for other tools.
        group_id: The group a keypoint (v1: any annotation) belongs to, as stated.
        encoding: For masks, the stated ``encoding``/``isCompressed``/``compressionFormat``.
        raw_score: A top-level ``score`` field (predictions), as stated.

    Example:
        >>> Annotation("polygon", "p", "road", [[0, 0], [4, 0], [4, 3]], {}).area()
        6.0
    """

    tool: str
    id: str | None
    label: str | None
    data: Any
    attrs: dict[str, Any]
    media: str = "image"
    media_index: int = 0
    visibility: int | None = None
    group_id: str | None = None
    encoding: dict[str, Any] | None = None
    raw_score: Any = None

    def points(self) -> list[tuple[float, float]]:
        """The readable ``(x, y)`` points of a polygon or polyline (others: ``[]``).

        Example:
            >>> Annotation("polyline", None, None, [[0, 1], [2, 3]], {}).points()
            [(0.0, 1.0), (2.0, 3.0)]
        """
        return point_list(self.data) if self.tool in ("polygon", "polyline") else []

    def point(self) -> tuple[float | None, float | None]:
        """A keypoint's ``(x, y)`` (None where unreadable).

        Example:
            >>> Annotation("keypoint", None, "nose", [3, 4], {}).point()
            (3.0, 4.0)
        """
        data = self.data
        if isinstance(data, list) and len(data) >= 2:
            return number(data[0]), number(data[1])
        return None, None

    def rotation(self) -> float:
        """A box's ``rotation`` attribute in radians (0.0 when absent or not a number).

        Example:
            >>> Annotation("bounding_box", None, None, [0, 0, 1, 1], {"rotation": 0.5}).rotation()
            0.5
        """
        value = self.attrs.get("rotation")
        return float(value) if is_number(value) else 0.0

    def score(self) -> float | None:
        """A prediction's confidence: the ``score`` or ``confidence`` attribute, else a
        top-level ``score``; None when there is none (ground truth).

        Example:
            >>> Annotation("bounding_box", None, None, [], {"confidence": 0.4}).score()
            0.4
        """
        attrs = self.attrs
        for key in ("score", "confidence"):
            if is_number(attrs.get(key)):
                return float(attrs[key])
        return float(self.raw_score) if is_number(self.raw_score) else None

    def is_rle(self) -> bool:
        """Whether a mask's payload is ``dm_rle`` runs (stated, or read from its shape).

        Example:
            >>> Annotation("segmentation", None, None, [[0, 4]], {}, encoding={}).is_rle()
            True
        """
        return guess_rle((self.encoding or {}).get("encoding"), self.data)

    def bbox_area(self, width: int | None = None) -> tuple[Box | None, float | None]:
        """Tight ``(x, y, w, h)`` and area, each None where it cannot be read.

        Boxes give their own box and ``w * h``; polygons their extent and shoelace area
        (polylines: no area); masks their pixel box and pixel count (the box needs the
        image ``width``); other tools nothing.

        Example:
            >>> Annotation("polygon", None, None, [[0, 0], [4, 0], [4, 3]], {}).bbox_area()
            ((0.0, 0.0, 4.0, 3.0), 6.0)
        """
        data = self.data
        tool = self.tool
        if tool == "bounding_box":
            if isinstance(data, list) and len(data) >= 4:
                x, y, w, h = number(data[0]), number(data[1]), number(data[2]), number(data[3])
                if x is not None and y is not None and w is not None and h is not None:
                    return (x, y, w, h), w * h
            return None, None
        if tool in ("polygon", "polyline"):
            points = point_list(data)
            area = polygon_area(points) if tool == "polygon" and len(points) >= 3 else None
            return extent(points), area
        if tool == "segmentation" and isinstance(data, list):
            return mask_extent(data, rle=self.is_rle(), width=width)
        return None, None

    def bbox(self, width: int | None = None) -> Box | None:
        """The box of :meth:`bbox_area`.

        Example:
            >>> Annotation("segmentation", None, None, [5, 6, 9], {}, encoding={}).bbox(4)
            (1.0, 1.0, 2.0, 2.0)
        """
        return self.bbox_area(width)[0]

    def area(self, width: int | None = None) -> float | None:
        """The area of :meth:`bbox_area`.

        Example:
            >>> Annotation("segmentation", None, None, [[0, 5]], {}, encoding={}).area()
            5.0
        """
        return self.bbox_area(width)[1]


@dataclass(slots=True)
class MediaItem:
    """One media item of a document and its annotations, in document order.

    Attributes:
        media: Media type (``image``, ``video``, ...).
        index: Position among the media items of its type (0 = first).
        annotations: The annotations, tool by tool as the document lists them.
        width: Width in px when the document states it (v1 ``extra``), else None.

    Example:
        >>> MediaItem("image", 0).group_classes()
        ({}, {})
    """

    media: str
    index: int
    annotations: list[Annotation] = field(default_factory=list)
    width: int | None = None

    def by_tool(self, tool: str) -> list[Annotation]:
        """The annotations of one tool.

        Example:
            >>> item = MediaItem("image", 0, [Annotation("polygon", "p", None, [], {})])
            >>> item.by_tool("polygon")[0].id
            'p'
        """
        return [a for a in self.annotations if a.tool == tool]

    def group_classes(self) -> tuple[dict[str, str], dict[str, str]]:
        """``group id -> class`` and ``member id -> group id`` of the ``group`` annotations.

        A member listed by two groups belongs to the first.

        Example:
            >>> g = Annotation("group", "g1", "person", ["k1", "k2"], {})
            >>> MediaItem("image", 0, [g]).group_classes()
            ({'g1': 'person'}, {'k1': 'g1', 'k2': 'g1'})
        """
        classes: dict[str, str] = {}
        members: dict[str, str] = {}
        for group in self.annotations:
            if group.tool != "group" or group.id is None:
                continue
            if group.label is not None:
                classes[group.id] = group.label
            for member in group.data if isinstance(group.data, list) else ():
                members.setdefault(str(member), group.id)
        return classes, members


@dataclass(slots=True)
class Document:
    """A DM document read: its version and media items.

    Attributes:
        version: ``"v1"`` or ``"v2"``.
        media: Media items in document order.

    Example:
        >>> read_document({}).first_image() is None
        True
    """

    version: str
    media: list[MediaItem] = field(default_factory=list)

    def first_image(self) -> MediaItem | None:
        """The first image (the one most tools and formats work on), or None.

        In v1 that is the image of lowest number (``image_1`` unless it is missing).

        Example:
            >>> doc = read_document({"annotations": {"image_2": [], "image_1": []}})
            >>> doc.first_image().index
            0
        """
        images = [m for m in self.media if m.media == "image"]
        if self.version == "v2":  # v2 lists images in order: the first one or none
            images = [m for m in images if m.index == 0]
        return min(images, key=lambda m: m.index) if images else None

    def annotations(self) -> Iterator[Annotation]:
        """Every annotation of every media item, in document order.

        Example:
            >>> list(read_document({"images": [{}]}).annotations())
            []
        """
        for item in self.media:
            yield from item.annotations


def read_document(data: Any, tools: Collection[str] | None = None) -> Document:
    """Read a DM v1 or v2 document (anything else gives an empty v2 document).

    Args:
        data: The item's ``data``: a DM v2 document, a DM v1 document, ``{}`` or any JSON.
        tools: Keep only the annotations of these tools (None: all). A v2 document then
            builds no object for the others, which makes reading only boxes several times
            faster on documents full of keypoints.

    Returns:
        A :class:`Document`.

    Example:
        >>> v1 = {"annotations": {"image_1": [{"id": "k", "tool": "keypoint",
        ...        "classification": {"class": "nose", "visibility": "occluded"}}]},
        ...       "annotationsData": {"image_1": [{"id": "k", "coordinate": {"x": 3, "y": 4}}]}}
        >>> a = next(read_document(v1).annotations())
        >>> a.tool, a.label, a.visibility, a.data
        ('keypoint', 'nose', 1, [3, 4])
        >>> doc = {"images": [{"polygon": [{"id": "p"}], "bounding_box": [{"id": "b"}]}]}
        >>> [a.id for a in read_document(doc, tools=("bounding_box",)).annotations()]
        ['b']
        >>> list(read_document(v1, tools=("polygon",)).annotations())
        []
    """
    if not data or not isinstance(data, Mapping):
        return Document("v2")
    if is_v1(data):
        media = list(_read_v1(data))
        if tools is not None:
            for item in media:
                item.annotations = [a for a in item.annotations if a.tool in tools]
        return Document("v1", media)
    return Document("v2", list(_read_v2(data, tools)))


def iter_annotations(data: Any) -> Iterator[Annotation]:
    """The annotations of a DM v1 or v2 document, in document order.

    Example:
        >>> [a.tool for a in iter_annotations({"images": [{"polygon": [{"id": "p"}]}]})]
        ['polygon']
    """
    return read_document(data).annotations()


# ---------------------------------------------------------------------------- v2


def _v2_annotation(tool: str, ann: Mapping[str, Any], media: str, index: int) -> Annotation:
    get = ann.get
    ann_id = get("id")
    label = get("classification")
    group = get("group_id")
    return Annotation(
        tool,
        None if ann_id is None else str(ann_id),
        label if isinstance(label, str) else None,
        get("data"),
        attrs_dict(get("attrs")),
        media,
        index,
        visibility_code(get("visibility")) if tool == "keypoint" else None,
        None if group is None else str(group),
        {k: get(k) for k in MASK_FIELDS} if tool == "segmentation" else None,
        get("score"),
    )


def _read_v2(data: Mapping[str, Any], tools: Collection[str] | None = None) -> Iterator[MediaItem]:
    for key, media in MEDIA_KEYS.items():
        items = data.get(key)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            anns = [
                _v2_annotation(tool, ann, media, index)
                for tool, tool_anns in item.items()
                if isinstance(tool_anns, list) and (tools is None or tool in tools)
                for ann in tool_anns
                if isinstance(ann, Mapping)
            ]
            yield MediaItem(media, index, anns)


# ---------------------------------------------------------------------------- v1


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _v1_data(tool: str, row: Mapping[str, Any]) -> tuple[Any, dict[str, Any] | None, Any]:
    """A v1 geometry row -> (v2-shaped data, mask encoding fields, box rotation)."""
    coord = row.get("coordinate")
    if tool == "bounding_box" and isinstance(coord, Mapping):
        data = [coord.get("x"), coord.get("y"), coord.get("width"), coord.get("height")]
        return data, None, coord.get("rotation")
    if tool in ("polygon", "polyline") and isinstance(coord, list):
        return [[p.get("x"), p.get("y")] for p in coord if isinstance(p, Mapping)], None, None
    if tool == "keypoint" and isinstance(coord, Mapping):
        return [coord.get("x"), coord.get("y")], None, None
    if tool == "segmentation":
        if "section" in row:
            return row.get("section"), None, None
        compressed = row.get("isCompressed")
        encoding = {
            "encoding": "dm_rle" if compressed else "raw_indices",
            "isCompressed": compressed,
            "compressionFormat": row.get("compressionFormat"),
        }
        return row.get("pixel_indices"), encoding, None
    if tool == "relation":
        return [row.get("annotationId"), row.get("targetAnnotationId")], None, None
    if tool == "3d_bounding_box":
        return row.get("psr"), None, None
    if tool == "classification":
        return {}, None, None
    return coord, None, None


def _v1_annotation(
    row: Mapping[str, Any],
    geometry: Mapping[Any, Mapping[str, Any]],
    member_of: Mapping[Any, Any],
    media: str,
    index: int,
) -> Annotation:
    tool = v1_tool(row.get("tool"))
    row_id = row.get("id")
    cls = row.get("classification")
    attrs = dict(cls) if isinstance(cls, Mapping) else {}
    label = attrs.pop("class", None)
    visibility = attrs.pop("visibility", None) if tool == "keypoint" else None
    data, encoding, rotation = _v1_data(tool, geometry.get(row_id, {}))
    if rotation is not None:
        attrs["rotation"] = rotation
    group = member_of.get(row_id)
    return Annotation(
        tool,
        None if row_id is None else str(row_id),
        label if isinstance(label, str) else None,
        data,
        attrs,
        media,
        index,
        visibility_code(visibility) if tool == "keypoint" else None,
        None if group is None else str(group),
        encoding,
    )


def _read_v1(data: Mapping[str, Any]) -> Iterator[MediaItem]:
    geometry_rows = _mapping(data.get("annotationsData"))
    extras = _mapping(data.get("extra"))
    groups = _mapping(data.get("annotationGroups"))
    for media_id, rows in data["annotations"].items():
        if not isinstance(rows, list):
            continue
        media, index = parse_media_id(media_id)
        geometry = {
            g.get("id"): g
            for g in _list(geometry_rows.get(media_id))
            if isinstance(g, Mapping) and g.get("id") is not None
        }
        member_of = {
            member: g.get("id")
            for g in _list(groups.get(media_id))
            if isinstance(g, Mapping)
            for member in _list(g.get("annotationIds"))
        }
        info = extras.get(media_id)
        stated = info.get("width") if isinstance(info, Mapping) else None
        width = int(stated) if is_number(stated) and stated == int(stated) else None
        anns = [
            _v1_annotation(row, geometry, member_of, media, index)
            for row in rows
            if isinstance(row, Mapping)
        ]
        yield MediaItem(media, index, anns, width)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
