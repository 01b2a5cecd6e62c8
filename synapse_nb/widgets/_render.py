"""Drawing DM annotations over images with Pillow, and matching two sources by IoU.

Pure functions, no widgets and no network: the preview widget feeds them a downloaded file
and a DM document and puts the returned bytes into an ``ipywidgets.Image``.

Speed comes from never touching the full-resolution image: a JPEG is decoded straight at
(about) the display size with Pillow's ``draft`` mode, shapes are scaled to the display and
drawn there, translucent fills (polygons, masks) go into one RGBA layer that is blended with
a single ``paste``, and the PNG is written with the fastest zlib setting.

Example:
    >>> from PIL import Image
    >>> doc = {"images": [{"bounding_box": [{"id": "b1", "classification": "car",
    ...                                       "attrs": [], "data": [10, 10, 40, 20]}]}]}
    >>> shapes = shapes_from_doc(doc)
    >>> [(s.tool, s.label) for s in shapes]
    [('bounding_box', 'car')]
    >>> out = render(Image.new("RGB", (50, 40)), shapes, source_size=(100, 80))
    >>> out.size, out.getpixel((5, 5)) != (0, 0, 0)
    ((50, 40), True)
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from synapse_nb.converters import COCO_PERSON_SKELETON, PERSON_17, dm_v1_to_v2
from synapse_nb.converters.dm import DMFormatError
from synapse_nb.converters.masks import MaskError, decode_mask
from synapse_nb.widgets._colors import STATUS_COLORS, class_color

__all__ = [
    "COMPARE_TOOLS",
    "CompareResult",
    "RenderOptions",
    "Shape",
    "box_iou",
    "encode_image",
    "match_shapes",
    "open_display",
    "placeholder",
    "render",
    "shapes_from_doc",
    "skeleton_from_configuration",
]

#: Tools whose annotations compare mode matches (the tools with a box to compute IoU on).
COMPARE_TOOLS = ("bounding_box",)

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
_VISIBILITY_NAMES = {"missing": 0, "occluded": 1, "visible": 2}
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


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _attrs(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {a["name"]: a.get("value") for a in value if isinstance(a, Mapping) and "name" in a}
    return dict(value) if isinstance(value, Mapping) else {}


def _visibility(value: Any) -> int:
    if isinstance(value, str):
        return _VISIBILITY_NAMES.get(value.lower(), 2)
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value
    return 2  # a keypoint without a visibility was drawn, so it is visible


def _points(data: Any, least: int) -> list[tuple[float, float]] | None:
    if not isinstance(data, list):
        return None
    points = [
        (float(p[0]), float(p[1]))
        for p in data
        if isinstance(p, list | tuple) and len(p) >= 2 and _number(p[0]) and _number(p[1])
    ]
    return points if len(points) >= least and len(points) == len(data) else None


def _media_item(doc: Any) -> Mapping[str, Any] | None:
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


def _group_classes(item: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
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


def _shape(tool: str, ann: Mapping[str, Any], groups: tuple[dict, dict]) -> Shape | None:
    """A :class:`Shape` of one v2 annotation, or None when its geometry is unusable."""
    attrs = _attrs(ann.get("attrs"))
    label = ann.get("classification")
    label = label if isinstance(label, str) else ""
    ann_id = None if ann.get("id") is None else str(ann["id"])
    score = next((attrs[k] for k in ("score", "confidence") if _number(attrs.get(k))), None)
    if score is None and _number(ann.get("score")):
        score = ann["score"]
    common = {"ann_id": ann_id, "attrs": attrs, "score": None if score is None else float(score)}
    data = ann.get("data")
    if tool == "bounding_box":
        ok = isinstance(data, list) and len(data) >= 4 and all(_number(v) for v in data[:4])
        if not ok or data[2] <= 0 or data[3] <= 0:
            return None
        rotation = attrs.get("rotation")
        return Shape(
            tool,
            label,
            [float(v) for v in data[:4]],
            rotation=float(rotation) if _number(rotation) else 0.0,
            **common,
        )
    if tool in ("polygon", "polyline"):
        points = _points(data, 3 if tool == "polygon" else 2)
        return None if points is None else Shape(tool, label, points, **common)
    if tool == "keypoint":
        if not (isinstance(data, list) and len(data) >= 2 and all(map(_number, data[:2]))):
            return None
        classes, members = groups
        group = ann.get("group_id")
        group = str(group) if group is not None else members.get(ann_id or "")
        return Shape(
            tool,
            classes.get(group or "", KEYPOINT_LABEL),
            (float(data[0]), float(data[1])),
            name=label,
            visibility=_visibility(ann.get("visibility")),
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


def shapes_from_doc(doc: Any) -> list[Shape]:
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
    item = _media_item(doc)
    if item is None:
        return []
    groups = _group_classes(item)
    shapes: list[Shape] = []
    for tool in _DRAW_ORDER:
        anns = item.get(tool)
        if not isinstance(anns, list):
            continue
        for ann in anns:
            if isinstance(ann, Mapping):
                shape = _shape(tool, ann, groups)
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


# ---------------------------------------------------------------------------- compare


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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


@dataclass
class CompareResult:
    """Outcome of matching source B against reference source A on one image.

    Attributes:
        matched: ``(a_shape, b_shape, iou)`` pairs.
        missed: Shapes only in A (e.g. ground truth no prediction found).
        extra: Shapes only in B (e.g. false positives, or boxes added in version B).
        threshold: The IoU threshold used.

    Example:
        >>> CompareResult([], [], [], 0.5).counts()
        {'matched': 0, 'missed': 0, 'extra': 0}
    """

    matched: list[tuple[Shape, Shape, float]]
    missed: list[Shape]
    extra: list[Shape]
    threshold: float

    def counts(self) -> dict[str, int]:
        """Number of matched pairs, missed and extra shapes.

        Example:
            >>> CompareResult([], [Shape("bounding_box", "a", [0, 0, 1, 1])], [], .5).counts()
            {'matched': 0, 'missed': 1, 'extra': 0}
        """
        return {"matched": len(self.matched), "missed": len(self.missed), "extra": len(self.extra)}

    def by_class(self) -> dict[str, dict[str, int]]:
        """The counts per class, classes sorted by name.

        Example:
            >>> a = Shape("bounding_box", "car", [0, 0, 1, 1])
            >>> CompareResult([], [a], [], .5).by_class()
            {'car': {'matched': 0, 'missed': 1, 'extra': 0}}
        """
        out: dict[str, dict[str, int]] = {}

        def add(label: str, status: str) -> None:
            out.setdefault(label, {"matched": 0, "missed": 0, "extra": 0})[status] += 1

        for a, _b, _iou in self.matched:
            add(a.label, "matched")
        for shape in self.missed:
            add(shape.label, "missed")
        for shape in self.extra:
            add(shape.label, "extra")
        return dict(sorted(out.items()))

    def shapes(self) -> list[Shape]:
        """Every shape with its ``status``/``source``/``iou`` set, ready to draw.

        Example:
            >>> CompareResult([], [], [], 0.5).shapes()
            []
        """
        out = []
        for a, b, iou in self.matched:
            out.append(replace(a, status="matched", source="a", iou=iou))
            out.append(replace(b, status="matched", source="b", iou=iou))
        out.extend(replace(s, status="missed", source="a") for s in self.missed)
        out.extend(replace(s, status="extra", source="b") for s in self.extra)
        return out


def _greedy(ious: np.ndarray, scores: list[float | None], threshold: float) -> list[tuple]:
    """Pairs ``(i_a, j_b, iou)``: by descending B score when B has scores (as detection
    metrics do), else by descending IoU over all pairs."""
    pairs: list[tuple[int, int, float]] = []
    if ious.size == 0:
        return pairs
    taken_a: set[int] = set()
    if any(s is not None for s in scores):
        order = sorted(range(len(scores)), key=lambda j: -(scores[j] or 0.0))
        for j in order:
            column = ious[:, j].copy()
            column[list(taken_a)] = -1.0
            i = int(column.argmax())
            if column[i] >= threshold:
                taken_a.add(i)
                pairs.append((i, j, float(ious[i, j])))
        return pairs
    taken_b: set[int] = set()
    flat = np.argsort(-ious, axis=None, kind="stable")
    for index in flat:
        i, j = divmod(int(index), ious.shape[1])
        if ious[i, j] < threshold:
            break
        if i in taken_a or j in taken_b:
            continue
        taken_a.add(i)
        taken_b.add(j)
        pairs.append((i, j, float(ious[i, j])))
    return pairs


def match_shapes(
    a: Iterable[Shape],
    b: Iterable[Shape],
    threshold: float = 0.5,
    tools: Sequence[str] = COMPARE_TOOLS,
) -> CompareResult:
    """Match the boxes of two annotation sources, per class, greedily by IoU.

    Within each class, B's shapes are taken by descending ``score`` when B has scores (a
    model's predictions), each matching the unmatched A shape of highest IoU; without
    scores, the pair of highest IoU is matched first. A pair needs IoU >= ``threshold``.

    Args:
        a: Reference shapes (ground truth, or version A).
        b: Shapes to check against it (predictions, or version B).
        threshold: Minimum IoU of a match, in [0, 1].
        tools: Tools that take part (others are ignored).

    Returns:
        A :class:`CompareResult`.

    Example:
        >>> gt = [Shape("bounding_box", "car", [0, 0, 10, 10])]
        >>> pred = [Shape("bounding_box", "car", [1, 0, 10, 10], score=0.9),
        ...         Shape("bounding_box", "car", [50, 50, 5, 5], score=0.3)]
        >>> match_shapes(gt, pred, 0.5).counts()
        {'matched': 1, 'missed': 0, 'extra': 1}
    """
    a_by: dict[str, list[Shape]] = {}
    b_by: dict[str, list[Shape]] = {}
    for shape in a:
        if shape.tool in tools and shape.box() is not None:
            a_by.setdefault(shape.label, []).append(shape)
    for shape in b:
        if shape.tool in tools and shape.box() is not None:
            b_by.setdefault(shape.label, []).append(shape)
    matched: list[tuple[Shape, Shape, float]] = []
    missed: list[Shape] = []
    extra: list[Shape] = []
    for label in sorted(set(a_by) | set(b_by)):
        sa, sb = a_by.get(label, []), b_by.get(label, [])
        ious = box_iou(np.array([s.box() for s in sa]), np.array([s.box() for s in sb]))
        pairs = _greedy(ious, [s.score for s in sb], threshold)
        used_a = {i for i, _, _ in pairs}
        used_b = {j for _, j, _ in pairs}
        matched.extend((sa[i], sb[j], iou) for i, j, iou in pairs)
        missed.extend(s for i, s in enumerate(sa) if i not in used_a)
        extra.extend(s for j, s in enumerate(sb) if j not in used_b)
    return CompareResult(matched, missed, extra, threshold)


# ---------------------------------------------------------------------------- drawing


@dataclass(frozen=True)
class RenderOptions:
    """How to draw.

    Attributes:
        hidden: Classes not to draw.
        show_labels: Draw class labels (and scores / IoU).
        fill_alpha: Opacity (0-255) of polygon fills.
        mask_alpha: Opacity (0-255) of masks.
        skeleton: Edges between joint names; None uses COCO Person-17.
        line_width: Stroke width in display pixels (None: from the display size).

    Example:
        >>> RenderOptions(hidden=frozenset({"car"})).show_labels
        True
    """

    hidden: frozenset[str] = frozenset()
    show_labels: bool = True
    fill_alpha: int = 60
    mask_alpha: int = 110
    skeleton: tuple[tuple[str, str], ...] | None = None
    line_width: int | None = None


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=1024)
def _glyph(char: str, size: int) -> tuple[Image.Image, int]:
    """One character rendered once: its coverage mask (a full line high) and its advance."""
    font = _font(size)
    ascent, descent = font.getmetrics()  # type: ignore[union-attr]
    advance = max(1, round(font.getlength(char)))
    right = int(font.getbbox(char)[2])
    cell = Image.new("L", (max(advance, right, 1), ascent + descent), 0)
    ImageDraw.Draw(cell).text((0, 0), char, font=font, fill=255)
    return cell, advance


@functools.lru_cache(maxsize=4096)
def _text_mask(text: str, size: int) -> Image.Image:
    """A label's coverage mask, put together from cached glyphs.

    FreeType renders each distinct character once instead of every label every time, which
    is what keeps 100 labels cheap (kerning is dropped; labels are short).
    """
    glyphs = [_glyph(char, size) for char in text]
    width = sum(advance for _, advance in glyphs)
    if glyphs:
        width += max(0, glyphs[-1][0].width - glyphs[-1][1])
    height = glyphs[0][0].height if glyphs else 1
    mask = Image.new("L", (max(width, 1), height), 0)
    x = 0
    for cell, advance in glyphs:
        mask.paste(cell, (x, 0), cell)
        x += advance
    return mask


def _text_color(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if luminance > 150 else (255, 255, 255)


class _Painter:
    """Draws shapes scaled from source pixels onto a display-size image."""

    def __init__(
        self, image: Image.Image, source_size: tuple[int, int], options: RenderOptions
    ) -> None:
        self.image = image
        self.options = options
        self.sx = image.width / max(source_size[0], 1)
        self.sy = image.height / max(source_size[1], 1)
        self.source_size = source_size
        short = min(image.size)
        self.width = options.line_width or max(1, round(short / 300))
        self.font_size = max(9, min(16, round(short / 40)))
        self.font = _font(self.font_size)
        self.fills: Image.Image | None = None
        self._fill_draw: ImageDraw.ImageDraw | None = None
        self.draw = ImageDraw.Draw(image)
        self.labels: list[tuple[float, float, str, tuple[int, int, int]]] = []
        #: class -> its bounding boxes (source px), to label an object once
        self.boxes: dict[str, np.ndarray] = {}

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.sx, y * self.sy

    def fill_image(self) -> Image.Image:
        if self.fills is None:
            self.fills = Image.new("RGBA", self.image.size, (0, 0, 0, 0))
            self._fill_draw = ImageDraw.Draw(self.fills)
        return self.fills

    def fill_layer(self) -> ImageDraw.ImageDraw:
        self.fill_image()
        assert self._fill_draw is not None
        return self._fill_draw

    def blend_fills(self) -> None:
        if self.fills is not None:
            # one paste blends every translucent fill: the layer's alpha is the blend factor
            self.image.paste(self.fills, (0, 0), self.fills)
            self.fills = self._fill_draw = None

    def label(self, x: float, y: float, text: str, color: tuple[int, int, int]) -> None:
        if self.options.show_labels and text:
            self.labels.append((x, y, text, color))

    def flush_labels(self) -> None:
        placed: list[tuple[float, float, float, float]] = []
        for x, y, text, color in self.labels:
            glyphs = _text_mask(text, self.font_size)
            w, h = glyphs.width + 4, glyphs.height + 1
            x0 = min(max(x, 0), max(self.image.width - w, 0))
            # above the shape, else just inside it, else lower still: the first free spot
            tries = [y - h, y, y + h, y + 2 * h]
            tries = [t for t in tries if 0 <= t <= self.image.height - h] or [max(y, 0)]
            y0 = next(
                (t for t in tries if not any(_overlaps((x0, t, x0 + w, t + h), r) for r in placed)),
                tries[0],
            )
            placed.append((x0, y0, x0 + w, y0 + h))
            self.draw.rectangle([x0, y0, x0 + w, y0 + h], fill=color)
            self.image.paste(_text_color(color), (round(x0) + 2, round(y0) + 1), glyphs)
        self.labels.clear()

    def boxed(self, label: str, box: tuple[float, float, float, float]) -> bool:
        """Whether a bounding box of the same class covers ``box`` (then one label is enough)."""
        boxes = self.boxes.get(label)
        if boxes is None or not len(boxes):
            return False
        x, y, w, h = box
        iw = np.minimum(x + w, boxes[:, 0] + boxes[:, 2]) - np.maximum(x, boxes[:, 0])
        ih = np.minimum(y + h, boxes[:, 1] + boxes[:, 3]) - np.maximum(y, boxes[:, 1])
        # share of ``box`` inside a box of the class (a flat extent counts by its edges)
        inside = np.clip(iw, 0, None) * np.clip(ih, 0, None) / max(w * h, 1e-9)
        if w * h == 0:
            inside = ((iw >= 0) & (ih >= 0)).astype(float)
        return bool((inside >= 0.7).any())


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_text(shape: Shape) -> str:
    text = shape.label
    if shape.score is not None:
        text += f" {shape.score:.2f}"
    if shape.status == "matched" and shape.source == "b" and shape.iou is not None:
        text += f" IoU {shape.iou:.2f}"
    return text


def _color(shape: Shape) -> tuple[int, int, int]:
    if shape.status is not None:
        return STATUS_COLORS[shape.status]
    return class_color(shape.label)


def _box_corners(shape: Shape) -> list[tuple[float, float]]:
    x, y, w, h = shape.data
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    if not shape.rotation:
        return corners
    # the rotation centre is not specified by DM; the box centre is the natural reading
    cx, cy = x + w / 2, y + h / 2
    cos, sin = math.cos(shape.rotation), math.sin(shape.rotation)
    return [
        (cx + (px - cx) * cos - (py - cy) * sin, cy + (px - cx) * sin + (py - cy) * cos)
        for px, py in corners
    ]


def _draw_box(p: _Painter, shape: Shape) -> None:
    color = _color(shape)
    # compare mode: B's matched partner is drawn thin so the reference box stays readable
    width = max(1, p.width // 2) if shape.status == "matched" and shape.source == "b" else p.width
    points = [p.xy(x, y) for x, y in _box_corners(shape)]
    if shape.rotation:
        p.draw.polygon(points, outline=color, width=width)
    else:
        (x0, y0), (x1, y1) = points[0], points[2]
        p.draw.rectangle([x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)], outline=color, width=width)
    anchor = min(points, key=lambda q: (q[1], q[0]))
    if not (shape.status == "matched" and shape.source == "a"):
        p.label(anchor[0], anchor[1], _label_text(shape), color)


def _draw_polygon(p: _Painter, shape: Shape) -> None:
    color = _color(shape)
    points = [p.xy(x, y) for x, y in shape.data]
    if shape.tool == "polygon":
        p.fill_layer().polygon(points, fill=(*color, p.options.fill_alpha))
        p.draw.line([*points, points[0]], fill=color, width=p.width, joint="curve")
    else:
        p.draw.line(points, fill=color, width=p.width + 1, joint="curve")
    box = shape.box()
    if shape.tool == "polyline" or box is None or not p.boxed(shape.label, box):
        top = min(points, key=lambda q: (q[1], q[0]))
        p.label(top[0], top[1], _label_text(shape), color)


def _draw_mask(p: _Painter, shape: Shape) -> bool:
    width, height = p.source_size
    try:
        mask = decode_mask({"data": shape.data, **(shape.encoding or {})}, width, height)
    except MaskError:
        return False
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return True
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    # scale only the mask's own box: masks are small next to a 1920x1080 frame
    dx0, dy0 = math.floor(x0 * p.sx), math.floor(y0 * p.sy)
    dx1, dy1 = max(math.ceil(x1 * p.sx), dx0 + 1), max(math.ceil(y1 * p.sy), dy0 + 1)
    crop = Image.fromarray(mask[y0:y1, x0:x1]).convert("L")
    scaled = crop.resize((dx1 - dx0, dy1 - dy0), Image.Resampling.NEAREST)
    color = _color(shape)
    fills = p.fill_image()
    fills.paste((*color, p.options.mask_alpha), (dx0, dy0), scaled)
    # an opaque outline keeps a mask readable where its tint matches the object's colour;
    # the 1 px margin makes the crop's own border count as outside the mask
    padded = Image.new("L", (scaled.width + 2, scaled.height + 2), 0)
    padded.paste(scaled, (1, 1))
    outline = ImageChops.subtract(padded, padded.filter(ImageFilter.MinFilter(3)))
    fills.paste((*color, 255), (dx0 - 1, dy0 - 1), outline)
    if not p.boxed(shape.label, (x0, y0, x1 - x0, y1 - y0)):
        p.label(dx0, dy0, _label_text(shape), color)
    return True


def _draw_keypoints(p: _Painter, shapes: list[Shape]) -> None:
    skeleton = p.options.skeleton or PERSON_17_SKELETON
    groups: dict[str | None, list[Shape]] = {}
    for shape in shapes:
        groups.setdefault(shape.group, []).append(shape)
    radius = max(2, p.width + 1)
    for group, members in groups.items():
        color = _color(members[0])
        joints = {m.name: m for m in members if m.visibility and m.visibility > 0}
        if group is not None:
            for a, b in skeleton:
                if a in joints and b in joints:
                    p.draw.line(
                        [p.xy(*joints[a].data), p.xy(*joints[b].data)], fill=color, width=p.width
                    )
        for m in joints.values():
            x, y = p.xy(*m.data)
            box = [x - radius, y - radius, x + radius, y + radius]
            if m.visibility == 2:
                p.draw.ellipse(box, fill=color, outline=(0, 0, 0))
            else:  # occluded: labelled but not seen, drawn hollow (over its skeleton edges)
                p.draw.ellipse(box, fill=(0, 0, 0), outline=color, width=max(1, p.width))
        if joints:
            xs = [m.data[0] for m in joints.values()]
            ys = [m.data[1] for m in joints.values()]
            extent = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
            if not p.boxed(members[0].label, extent):  # a person box already says "person"
                top = min((p.xy(*m.data) for m in joints.values()), key=lambda q: q[1])
                p.label(top[0], top[1] - radius, members[0].label, color)


def _draw_relations(p: _Painter, relations: list[Shape], drawn: Mapping[str, Shape]) -> None:
    for rel in relations:
        ends = [drawn.get(ref) for ref in rel.data]
        centres = []
        for end in ends:
            box = end.box() if end is not None else None
            if box is None and end is not None and end.tool == "keypoint":
                box = (*end.data, 0.0, 0.0)
            if box is not None:
                centres.append(p.xy(box[0] + box[2] / 2, box[1] + box[3] / 2))
        if len(centres) == 2:
            p.draw.line(centres, fill=_color(rel), width=p.width)


def _draw_badges(p: _Painter, badges: list[Shape]) -> None:
    y = 2.0
    for badge in badges:
        text = badge.label + "".join(f" · {k}={v}" for k, v in badge.attrs.items())
        color = class_color(badge.label)
        left, top, right, bottom = p.draw.textbbox((0, 0), text, font=p.font)
        p.draw.rectangle([2, y, 6 + right - left, y + bottom - top + 4], fill=color)
        p.draw.text((4 - left, y + 2 - top), text, fill=_text_color(color), font=p.font)
        y += bottom - top + 6


def render(
    image: Image.Image,
    shapes: Sequence[Shape],
    *,
    source_size: tuple[int, int] | None = None,
    options: RenderOptions | None = None,
) -> Image.Image:
    """Draw ``shapes`` onto a copy of ``image``.

    Args:
        image: The image at display size (RGB).
        shapes: Shapes in source pixels (from :func:`shapes_from_doc`, or compare shapes
            from :meth:`CompareResult.shapes`, which are coloured by outcome).
        source_size: ``(width, height)`` of the source image the coordinates refer to
            (masks are decoded at this size); defaults to ``image.size``.
        options: :class:`RenderOptions`.

    Returns:
        A new RGB image of ``image.size``.

    Example:
        >>> from PIL import Image
        >>> s = Shape("bounding_box", "car", [0, 0, 10, 10])
        >>> render(Image.new("RGB", (20, 20)), [s], options=RenderOptions(hidden=frozenset({"car"}))
        ...        ).getbbox() is None
        True
    """
    options = options or RenderOptions()
    out = image.convert("RGB") if image.mode != "RGB" else image.copy()
    painter = _Painter(out, source_size or image.size, options)
    visible = [s for s in shapes if s.label not in options.hidden]
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    for shape in visible:
        if shape.tool == "bounding_box" and shape.status is None:
            boxes.setdefault(shape.label, []).append(shape.data)
    painter.boxes = {label: np.array(b, dtype=float) for label, b in boxes.items()}
    masks = [s for s in visible if s.tool == "segmentation"]
    for shape in masks:
        _draw_mask(painter, shape)
    for shape in visible:
        if shape.tool == "polygon":
            _draw_polygon(painter, shape)
    painter.blend_fills()
    keypoints: list[Shape] = []
    relations: list[Shape] = []
    badges: list[Shape] = []
    for shape in visible:
        if shape.tool == "polyline":
            _draw_polygon(painter, shape)
        elif shape.tool == "bounding_box":
            _draw_box(painter, shape)
        elif shape.tool == "keypoint":
            keypoints.append(shape)
        elif shape.tool == "relation":
            relations.append(shape)
        elif shape.tool == "classification":
            badges.append(shape)
    if relations:
        by_id = {s.ann_id: s for s in visible if s.ann_id is not None}
        _draw_relations(painter, relations, by_id)
    if keypoints:
        _draw_keypoints(painter, keypoints)
    painter.flush_labels()
    if badges and options.show_labels:
        _draw_badges(painter, badges)
    return out


# ---------------------------------------------------------------------------- images


def open_display(
    source: str | Path | bytes, max_size: tuple[int, int]
) -> tuple[Image.Image, tuple[int, int]]:
    """Open an image at (at most) ``max_size``, keeping its aspect ratio.

    A JPEG is decoded directly at a reduced scale (``Image.draft``), which is what makes a
    1920x1080 photo cheap to preview.

    Args:
        source: A file path or the encoded bytes.
        max_size: ``(width, height)`` the result must fit in.

    Returns:
        ``(image, source_size)``: the RGB display image and the full image's size.

    Example:
        >>> import io
        >>> buf = io.BytesIO(); Image.new("RGB", (400, 200)).save(buf, "PNG")
        >>> img, size = open_display(buf.getvalue(), (100, 100))
        >>> img.size, size
        ((100, 50), (400, 200))
    """
    handle = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    with handle:
        size = handle.size
        scale = min(1.0, max_size[0] / size[0], max_size[1] / size[1])
        target = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        if handle.format == "JPEG" and target != size:
            handle.draft("RGB", target)
        image = handle.convert("RGB")
    if image.size != target:
        image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image, size


def placeholder(size: tuple[int, int], text: str) -> Image.Image:
    """A grey image with a message, shown when an item has no image or it failed to load.

    Example:
        >>> placeholder((80, 40), "no image").size
        (80, 40)
    """
    image = Image.new("RGB", size, (64, 64, 64))
    draw = ImageDraw.Draw(image)
    font = _font(max(9, min(16, size[1] // 12)))
    draw.multiline_text((8, 8), text, fill=(230, 230, 230), font=font)
    return image


def encode_image(image: Image.Image, fmt: str = "png") -> bytes:
    """Encode for an ``ipywidgets.Image``: PNG with zlib's fastest level, or JPEG.

    Example:
        >>> encode_image(Image.new("RGB", (4, 4)))[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    if fmt == "png":
        # level 1 + Huffman-only: the deflate search is what dominates PNG time at 1 MP
        image.save(buffer, "PNG", compress_level=1, compress_type=2)
    else:
        image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
