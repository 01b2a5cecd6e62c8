"""Drawing DM annotations over images with Pillow.

Pure functions, no widgets and no network: the preview widget feeds them a downloaded file
and the shapes of a DM document (:mod:`synapse_nb.widgets._shapes`; compare mode matches
them in :mod:`synapse_nb.widgets._match`) and puts the returned bytes into an
``ipywidgets.Image``. The shape and matching names stay importable from here.

Speed comes from never touching the full-resolution image: a JPEG is decoded straight at
(about) the display size with Pillow's ``draft`` mode, shapes are scaled to the display and
drawn there, and translucent fills (polygons, masks) are blended into the image only where
a shape covers it (no frame-sized layer to allocate and blend). Reading and encoding images
is :mod:`synapse_nb.widgets._imageio` (``open_display`` and ``encode_image`` stay importable
from here).

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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from synapse_nb.annotations.geometry import box_corners, box_iou
from synapse_nb.annotations.masks import MaskError, decode_mask, mask_encoding, mask_extent
from synapse_nb.widgets._colors import STATUS_COLORS, class_color
from synapse_nb.widgets._imageio import encode_image, open_display
from synapse_nb.widgets._match import COMPARE_TOOLS, CompareResult, match_shapes
from synapse_nb.widgets._shapes import (
    KEYPOINT_LABEL,
    PERSON_17_SKELETON,
    Shape,
    shapes_from_doc,
    skeleton_from_configuration,
)

__all__ = [
    "COMPARE_TOOLS",
    "KEYPOINT_LABEL",
    "PERSON_17_SKELETON",
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
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
    else:  # Pillow without FreeType: the fixed bitmap font
        ascent, descent = size, max(1, size // 4)
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
        #: draws translucent fills blended into the image, only where a shape covers it
        self.tint = ImageDraw.Draw(image, "RGBA")
        self.draw = ImageDraw.Draw(image)
        self.labels: list[tuple[float, float, str, tuple[int, int, int]]] = []
        #: class -> its bounding boxes (source px), to label an object once
        self.boxes: dict[str, np.ndarray] = {}

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.sx, y * self.sy

    def label(self, x: float, y: float, text: str, color: tuple[int, int, int]) -> None:
        if self.options.show_labels and text:
            self.labels.append((x, y, text, color))

    def flush_labels(self) -> None:
        # boxes of the labels placed so far, (x0, y0, x1, y1) rows
        placed = np.empty((len(self.labels), 4))
        for n, (x, y, text, color) in enumerate(self.labels):
            glyphs = _text_mask(text, self.font_size)
            w, h = glyphs.width + 4, glyphs.height + 1
            x0 = min(max(x, 0), max(self.image.width - w, 0))
            # above the shape, else just inside it, else lower still: the first free spot
            tries = [y - h, y, y + h, y + 2 * h]
            tries = [t for t in tries if 0 <= t <= self.image.height - h] or [max(y, 0)]
            y0 = tries[_first_free(placed[:n], x0, x0 + w, tries, h)]
            placed[n] = (x0, y0, x0 + w, y0 + h)
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


def _first_free(placed: np.ndarray, x0: float, x1: float, tops: list[float], h: float) -> int:
    """Index of the first of ``tops`` where a label ``h`` high overlaps no placed box (else 0).

    All tops against all placed boxes at once: a hundred labels stay cheap.
    """
    across = (x0 < placed[:, 2]) & (placed[:, 0] < x1)
    y = np.asarray(tops)[:, None]
    hits = (across & (y < placed[:, 3]) & (placed[:, 1] < y + h)).any(axis=1)
    free = np.flatnonzero(~hits)
    return int(free[0]) if free.size else 0


def _outline(mask: np.ndarray) -> Image.Image:
    """The pixels of ``mask`` with a 3x3 neighbour outside it, on a 1 px wider canvas.

    The margin makes the mask's own box edge count as outside (a mask cut by its crop is
    still closed).
    """
    inside = np.pad(mask, 2)
    core = inside[1:-1, 1:-1]
    eroded = core.copy()
    rows, cols = core.shape
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            eroded &= inside[dy : dy + rows, dx : dx + cols]
    return Image.fromarray((core & ~eroded).astype(np.uint8) * 255)


def _label_text(shape: Shape) -> str:
    text = shape.label
    if shape.score is not None:
        text += f" {shape.score:.2f}"
    if shape.status == "matched" and shape.source == "b" and shape.iou is not None:
        text += f" IoU {shape.iou:.2f}"
    if shape.flag:
        text += f" ! {shape.flag}"
    return text


#: Colour of annotations flagged by the dataset-health checks.
FLAG_COLOR = (255, 0, 110)


def _color(shape: Shape) -> tuple[int, int, int]:
    if shape.flag:
        return FLAG_COLOR
    if shape.status is not None:
        return STATUS_COLORS[shape.status]
    return class_color(shape.label)


def _box_corners(shape: Shape) -> list[tuple[float, float]]:
    # the rotation centre is not specified by DM; the box centre is the natural reading
    return box_corners(shape.data, shape.rotation)


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
        p.tint.polygon(points, fill=(*color, p.options.fill_alpha))
        p.draw.line([*points, points[0]], fill=color, width=p.width, joint="curve")
    else:
        p.draw.line(points, fill=color, width=p.width + 1, joint="curve")
    box = shape.box()
    if shape.tool == "polyline" or box is None or not p.boxed(shape.label, box):
        top = min(points, key=lambda q: (q[1], q[0]))
        p.label(top[0], top[1], _label_text(shape), color)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _mask_rows(shape: Shape, width: int, height: int) -> tuple[int, np.ndarray]:
    """A mask decoded into the rows it covers: ``(first row, (rows, width) bool array)``.

    Only that band is allocated and filled (a mask is usually a small part of a 2 MP
    frame). The band goes through :func:`decode_mask`, so a malformed mask raises the same
    :class:`MaskError` as when it is decoded whole.
    """
    annotation = {"data": shape.data, **(shape.encoding or {})}
    rle = mask_encoding(annotation) == "dm_rle"
    data = shape.data
    well_formed = isinstance(data, list) and (
        all(isinstance(r, list | tuple) and len(r) == 2 and all(map(_is_int, r)) for r in data)
        if rle
        else all(map(_is_int, data))
    )
    box = mask_extent(data, rle=rle, width=width)[0] if well_formed else None
    if box is None or box[1] < 0 or box[1] + box[3] > height:
        return 0, decode_mask(annotation, width, height)  # empty, or says what is wrong
    top, rows = int(box[1]), int(box[3])
    flat = np.asarray(data, dtype=np.int64)
    shifted = flat - (np.array([top * width, 0]) if rle else top * width)
    return top, decode_mask({**annotation, "data": shifted.tolist()}, width, rows)


def _draw_mask(p: _Painter, shape: Shape) -> bool:
    width, height = p.source_size
    try:
        top, mask = _mask_rows(shape, width, height)
    except MaskError:
        return False
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return True
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    mask = mask[y0:y1]
    y0, y1 = y0 + top, y1 + top
    # scale only the mask's own box: masks are small next to a 1920x1080 frame
    dx0, dy0 = math.floor(x0 * p.sx), math.floor(y0 * p.sy)
    dx1, dy1 = max(math.ceil(x1 * p.sx), dx0 + 1), max(math.ceil(y1 * p.sy), dy0 + 1)
    crop = Image.fromarray(mask[:, x0:x1]).convert("L")
    scaled = crop.resize((dx1 - dx0, dy1 - dy0), Image.Resampling.NEAREST)
    color = _color(shape)
    inside = np.asarray(scaled) > 0
    tint = Image.fromarray(np.where(inside, np.uint8(p.options.mask_alpha), np.uint8(0)))
    p.image.paste(color, (dx0, dy0), tint)  # the mask's alpha blends the colour in
    # an opaque outline keeps a mask readable where its tint matches the object's colour
    p.image.paste(color, (dx0 - 1, dy0 - 1), _outline(inside))
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
