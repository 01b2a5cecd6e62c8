"""Drawable shapes of a DM document: what the preview draws, read by the annotation model.

Example:
    >>> doc = {"images": [{"bounding_box": [{"id": "b1", "classification": "car",
    ...                                       "attrs": [], "data": [10, 10, 40, 20]}]}]}
    >>> [(s.tool, s.label, s.box()) for s in shapes_from_doc(doc)]
    [('bounding_box', 'car', (10.0, 10.0, 40.0, 20.0))]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synapse_nb.annotations import Annotation, read_document
from synapse_nb.annotations.geometry import bounds
from synapse_nb.annotations.skeleton import PERSON_17_SKELETON, skeleton_from_configuration
from synapse_nb.annotations.values import all_points, is_number

__all__ = [
    "DRAW_ORDER",
    "KEYPOINT_LABEL",
    "PERSON_17_SKELETON",
    "Shape",
    "shapes_from_doc",
    "skeleton_from_configuration",
]

#: Order in which tools are drawn: area fills first, then outlines, points and badges on top.
DRAW_ORDER = (
    "segmentation",
    "polygon",
    "polyline",
    "bounding_box",
    "relation",
    "keypoint",
    "classification",
)
#: Label used for keypoints whose skeleton group has no class.
KEYPOINT_LABEL = "keypoints"


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
        flag: Dataset-health issues of the annotation (``df.synapse.health()``), drawn in
            the flag colour with the issue names in the label.

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
    flag: str | None = None

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
            corners = bounds(self.data)
            if corners is None:
                return None
            x0, y0 = float(corners[0]), float(corners[1])
            return x0, y0, float(corners[2]) - x0, float(corners[3]) - y0
        return None


def _box(ann: Annotation, label: str, common: dict[str, Any]) -> Shape | None:
    data = ann.data
    ok = isinstance(data, list) and len(data) >= 4 and all(is_number(v) for v in data[:4])
    if not ok or data[2] <= 0 or data[3] <= 0:
        return None
    return Shape(
        "bounding_box", label, [float(v) for v in data[:4]], rotation=ann.rotation(), **common
    )


def _keypoint(
    ann: Annotation, groups: tuple[dict[str, str], dict[str, str]], common: dict[str, Any]
) -> Shape | None:
    data = ann.data
    if not (isinstance(data, list) and len(data) >= 2 and is_number(data[0])):
        return None
    if not is_number(data[1]):
        return None
    classes, members = groups
    group = ann.group_id if ann.group_id is not None else members.get(ann.id or "")
    visibility = ann.visibility if ann.visibility in (0, 1, 2) else 2  # unstated: drawn, so seen
    return Shape(
        "keypoint",
        classes.get(group or "", KEYPOINT_LABEL),
        (float(data[0]), float(data[1])),
        name=ann.label if ann.label is not None else "",
        visibility=visibility,
        group=group,
        **common,
    )


def _mask(ann: Annotation, label: str, common: dict[str, Any]) -> Shape | None:
    if not isinstance(ann.data, list):
        return None  # a video/audio time span: nothing to draw on an image
    encoding = dict(ann.encoding or {})
    if encoding.get("encoding") is None and ann.data:
        # older documents carry raw indices (or runs) without stating the encoding
        rle = ann.is_rle()
        encoding = {
            "encoding": "dm_rle" if rle else "raw_indices",
            "isCompressed": rle,
            "compressionFormat": "rle" if rle else None,
        }
    return Shape("segmentation", label, ann.data, encoding=encoding, **common)


def _shape(ann: Annotation, groups: tuple[dict[str, str], dict[str, str]]) -> Shape | None:
    """A :class:`Shape` of one annotation, or None when its geometry is unusable."""
    tool = ann.tool
    label = ann.label if ann.label is not None else ""
    common: dict[str, Any] = {"ann_id": ann.id, "attrs": ann.attrs, "score": ann.score()}
    if tool == "bounding_box":
        return _box(ann, label, common)
    if tool in ("polygon", "polyline"):
        points = all_points(ann.data, 3 if tool == "polygon" else 2)
        return None if points is None else Shape(tool, label, points, **common)
    if tool == "keypoint":
        return _keypoint(ann, groups, common)
    if tool == "segmentation":
        return _mask(ann, label, common)
    if tool == "classification":
        return Shape(tool, label, None, **common)
    if tool == "relation" and isinstance(ann.data, list) and len(ann.data) == 2:
        return Shape(tool, label, [str(v) for v in ann.data], **common)
    return None


def shapes_from_doc(doc: Any) -> list[Shape]:
    """The drawable annotations of an item's first image, in drawing order.

    DM v1 and v2 documents are read alike (:func:`synapse_nb.annotations.read_document`).
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
    item = read_document(doc).first_image()
    if item is None:
        return []
    groups = item.group_classes()
    by_tool: dict[str, list[Annotation]] = {}
    for ann in item.annotations:
        by_tool.setdefault(ann.tool, []).append(ann)
    shapes: list[Shape] = []
    for tool in DRAW_ORDER:
        for ann in by_tool.get(tool, ()):
            shape = _shape(ann, groups)
            if shape is not None:
                shapes.append(shape)
    return shapes
