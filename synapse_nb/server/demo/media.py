"""Generated media and DM v2 annotations for the demo workspace.

The embedded backend's ``--demo`` seeding stores what this module makes: street, park and indoor
scenes drawn with Pillow, each with DM v2 ground truth that matches the pixels. Every object's
shapes are rasterised once more into a silhouette, and boxes, masks, occlusion flags and keypoint
visibility are all read from those silhouettes, so the annotations describe what was drawn.

What an item carries:

* ``bounding_box`` for every object, with ``occluded``/``truncated`` attrs (and ``color`` or
  ``state`` for some classes),
* ``polygon`` outlines for cars, buses, traffic lights and stop signs that are not occluded,
* a ``keypoint`` skeleton per person (:data:`KEYPOINT_NAMES`, which are COCO Person-17 names) with
  ``group_id`` on each joint and a ``group`` annotation listing the joints,
* a few ``segmentation`` masks (visible pixels) in both ``raw_indices`` and ``dm_rle`` encodings,
* ``polyline`` lane markings on some streets, and a scene-level ``classification``.

Everything is a pure function of ``(index, seed)``: two calls give byte-identical JPEGs and equal
documents (in one environment; other Pillow/libjpeg/numpy versions may render other bytes).
:func:`perturb` and :func:`predictions` derive the alternative annotation sources that the compare
mode shows next to the ground truth (the demo's stored model predictions, with realistic errors,
come from :mod:`synapse_nb.server.demo.predictions`).

Example:
    >>> item, jpeg = generate_item(7)
    >>> item.file_name, jpeg[:2] == b"\\xff\\xd8"
    ('scene_0007.jpg', True)
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import itertools
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from synapse_nb.annotations.geometry import iou_xywh, point_in_polygon

__all__ = [
    "CLASSES",
    "GENERATOR_VERSION",
    "KEYPOINT_NAMES",
    "LANE_CLASS",
    "SCENES",
    "SKELETON",
    "DemoItem",
    "generate_item",
    "generate_items",
    "perturb",
    "predictions",
]

# Bump whenever a change alters any rendered byte or annotation: cached manifests are keyed by it.
GENERATOR_VERSION = "1"

CLASSES: tuple[str, ...] = (
    "car",
    "person",
    "bicycle",
    "dog",
    "bus",
    "traffic_light",
    "stop_sign",
)
"""Object classes (bounding-box labels), in a stable order."""

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_shoulder",
    "right_shoulder",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_ankle",
    "right_ankle",
)
"""Person joints. They are COCO Person-17 names, so the COCO/YOLO exporters accept them."""

SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1),
    (0, 2),
    (1, 2),
    (1, 3),
    (2, 4),
    (1, 5),
    (2, 6),
    (5, 6),
    (5, 7),
    (6, 8),
)
"""Edges between :data:`KEYPOINT_NAMES`, as 0-based index pairs."""

LANE_CLASS = "lane_marking"
SCENES: tuple[str, ...] = ("street", "park", "indoor")
JPEG_QUALITY = 85

_MANIFEST_PREFIX = "demo_manifest"

# (width, height, weight): landscape sizes dominate, as in real collections, with some portrait.
_SIZES = (
    (640, 480, 6),
    (800, 600, 5),
    (1024, 768, 4),
    (1280, 720, 4),
    (1920, 1080, 2),
    (480, 640, 3),
    (720, 960, 2),
    (1080, 1920, 1),
)
_SCENE_WEIGHTS = {"street": 0.5, "park": 0.3, "indoor": 0.2}

# Relative frequencies per scene; together they give the imbalance of real driving/COCO-like
# data (cars and people everywhere, stop signs rare).
_CLASS_WEIGHTS = {
    "street": {
        "car": 50,
        "person": 12,
        "bicycle": 4,
        "dog": 2,
        "bus": 5,
        "traffic_light": 4,
        "stop_sign": 1,
    },
    "park": {"person": 9, "dog": 4, "bicycle": 3},
    "indoor": {"person": 5, "dog": 2},
}
_OBJECTS_PER_SCENE = {"street": (4, 10), "park": (3, 7), "indoor": (3, 5)}
# Where along the ground an object's foot may stand: fraction of the distance horizon -> bottom.
_DEPTH_RANGE = {
    "car": (0.05, 0.55),
    "bus": (0.06, 0.35),
    "person": (0.10, 1.05),
    "bicycle": (0.10, 0.90),
    "dog": (0.15, 1.00),
    "traffic_light": (0.12, 0.60),
    "stop_sign": (0.15, 0.80),
}
_MASK_CLASSES = ("dog", "person", "car", "bus", "stop_sign")
_MIN_BOX_SIDE = 8
_MIN_IN_IMAGE = 0.4  # drop objects with less than this share of their pixels inside the image
_MIN_VISIBLE = 0.35  # ... or less than this share of their in-image pixels left uncovered
_OCCLUDED_BELOW = 0.98
_RAW_MASK_MAX_PIXELS = 8000  # larger masks are stored as dm_rle to keep documents small

_Point = tuple[float, float]
_Color = tuple[int, int, int]

_CAR_COLORS: dict[str, _Color] = {
    "red": (178, 34, 40),
    "blue": (36, 72, 160),
    "white": (226, 226, 222),
    "black": (32, 32, 36),
    "silver": (160, 165, 172),
    "yellow": (222, 180, 34),
    "green": (42, 110, 62),
}
_BUS_COLORS: dict[str, _Color] = {
    "yellow": (236, 190, 30),
    "red": (190, 40, 36),
    "blue": (40, 90, 170),
    "white": (230, 230, 228),
}
_SKIN = ((241, 194, 160), (224, 172, 125), (198, 134, 90), (141, 85, 54), (92, 58, 38))
_CLOTHES = (
    (200, 40, 40),
    (40, 80, 170),
    (40, 140, 70),
    (230, 200, 50),
    (120, 60, 150),
    (240, 240, 240),
    (40, 40, 45),
    (230, 120, 40),
)
_PANTS = ((35, 45, 80), (40, 40, 45), (110, 90, 70), (90, 100, 110), (60, 80, 60))
_HAIR = ((30, 25, 20), (80, 50, 30), (160, 120, 60), (200, 200, 190), (110, 40, 20))
_DOG_COLORS = ((140, 90, 50), (40, 35, 30), (212, 168, 92), (232, 226, 214), (122, 116, 110))
_FRAME_COLORS = ((200, 30, 30), (30, 90, 190), (30, 30, 30), (20, 140, 90), (230, 150, 20))


@dataclass(frozen=True)
class DemoItem:
    """One generated image and its DM v2 ground truth.

    Attributes:
        index: Position in the generated sequence (0-based).
        file_name: File name of the JPEG, e.g. ``"scene_0007.jpg"``.
        width: Image width in pixels.
        height: Image height in pixels.
        annotations: DM v2 document ``{"classification": {...}, "images": [{...}]}``.
        classes_present: Object classes with at least one box, in :data:`CLASSES` order.

    Example:
        >>> item, _ = generate_item(0)
        >>> set(item.classes_present) <= set(CLASSES)
        True
    """

    index: int
    file_name: str
    width: int
    height: int
    annotations: dict
    classes_present: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Shapes: every object is a list of these, painted once in colour and once as a silhouette.


@dataclass(frozen=True)
class _Shape:
    kind: str  # polygon | line | ellipse | ring | rect | text
    xy: tuple  # points for polygon/line, a box (x0, y0, x1, y1) otherwise, an anchor for text
    fill: _Color
    width: int = 0
    text: str = ""


def _ipts(points: Iterable[_Point]) -> tuple[tuple[int, int], ...]:
    # Integer vertices make the colour render and the silhouette rasterise to the same pixels.
    return tuple((round(x), round(y)) for x, y in points)


def _ibox(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
    a, b = round(min(x0, x1)), round(min(y0, y1))
    return a, b, max(a, round(max(x0, x1))), max(b, round(max(y0, y1)))


def _poly(points: Iterable[_Point], fill: _Color) -> _Shape:
    return _Shape("polygon", _ipts(points), fill)


def _line(points: Iterable[_Point], fill: _Color, width: float) -> _Shape:
    return _Shape("line", _ipts(points), fill, max(1, round(width)))


def _ellipse(cx: float, cy: float, rx: float, ry: float, fill: _Color) -> _Shape:
    return _Shape("ellipse", _ibox(cx - rx, cy - ry, cx + rx, cy + ry), fill)


def _ring(cx: float, cy: float, r: float, fill: _Color, width: float) -> _Shape:
    return _Shape("ring", _ibox(cx - r, cy - r, cx + r, cy + r), fill, max(1, round(width)))


def _rect(x0: float, y0: float, x1: float, y1: float, fill: _Color) -> _Shape:
    return _Shape("rect", _ibox(x0, y0, x1, y1), fill)


def _shift(shape: _Shape, dx: int, dy: int) -> _Shape:
    if shape.kind in ("polygon", "line"):
        return replace(shape, xy=tuple((x + dx, y + dy) for x, y in shape.xy))
    if shape.kind == "text":
        return replace(shape, xy=(shape.xy[0] + dx, shape.xy[1] + dy))
    x0, y0, x1, y1 = shape.xy
    return replace(shape, xy=(x0 + dx, y0 + dy, x1 + dx, y1 + dy))


def _mirror_shape(shape: _Shape, cx: float) -> _Shape:
    axis = round(2 * cx)
    if shape.kind in ("polygon", "line"):
        return replace(shape, xy=tuple((axis - x, y) for x, y in shape.xy))
    if shape.kind == "text":
        return replace(shape, xy=(axis - shape.xy[0], shape.xy[1]))
    x0, y0, x1, y1 = shape.xy
    return replace(shape, xy=(axis - x1, y0, axis - x0, y1))


def _extent(shape: _Shape) -> tuple[float, float, float, float] | None:
    if shape.kind == "text":
        return None  # text is always painted inside its object's other shapes
    if shape.kind in ("polygon", "line"):
        pad = shape.width / 2 + 1
        xs = [p[0] for p in shape.xy]
        ys = [p[1] for p in shape.xy]
        return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad
    x0, y0, x1, y1 = shape.xy
    return x0 - 1, y0 - 1, x1 + 1, y1 + 1


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _paint(draw: ImageDraw.ImageDraw, shape: _Shape, fill: Any = None) -> None:
    color = shape.fill if fill is None else fill
    kind = shape.kind
    if kind == "polygon":
        draw.polygon(shape.xy, fill=color)
    elif kind == "line":
        draw.line(shape.xy, fill=color, width=shape.width, joint="curve")
    elif kind == "ellipse":
        draw.ellipse(shape.xy, fill=color)
    elif kind == "ring":
        draw.ellipse(shape.xy, outline=color, width=shape.width)
    elif kind == "rect":
        draw.rectangle(shape.xy, fill=color)
    elif kind == "text":
        draw.text(shape.xy, shape.text, fill=color, font=_font(shape.width), anchor="mm")


def _covers(shape: _Shape, x: float, y: float) -> bool:
    """Whether ``shape`` paints the point (x, y); used for keypoint self-occlusion."""
    kind = shape.kind
    if kind == "polygon":
        return bool(point_in_polygon(x, y, shape.xy))
    if kind == "line":
        half = shape.width / 2
        pts = shape.xy
        return any(_dist_to_segment(x, y, a, b) <= half for a, b in itertools.pairwise(pts))
    if kind in ("ellipse", "ring", "rect"):
        x0, y0, x1, y1 = shape.xy
        if kind == "rect":
            return x0 <= x <= x1 and y0 <= y <= y1
        rx, ry = max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
        u, v = (x - (x0 + x1) / 2) / rx, (y - (y0 + y1) / 2) / ry
        inside = u * u + v * v <= 1
        if kind == "ellipse" or not inside:
            return inside
        irx, iry = max(rx - shape.width, 0.5), max(ry - shape.width, 0.5)
        u, v = (x - (x0 + x1) / 2) / irx, (y - (y0 + y1) / 2) / iry
        return u * u + v * v >= 1
    return False


def _dist_to_segment(x: float, y: float, a: _Point, b: _Point) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


@dataclass
class _Mask:
    """A silhouette cropped to the image: ``pixels[r, c]`` is image pixel (x0 + c, y0 + r)."""

    pixels: np.ndarray
    x0: int
    y0: int
    amodal_area: int  # pixel count before clipping to the image

    # computed once: placement asks for them for every candidate against every placed object
    @functools.cached_property
    def area(self) -> int:
        return int(np.count_nonzero(self.pixels))

    @functools.cached_property
    def box(self) -> tuple[int, int, int, int]:
        """Tight ``(x0, y0, x1, y1)`` box of the set pixels, in image coordinates."""
        rows = np.flatnonzero(self.pixels.any(axis=1))
        cols = np.flatnonzero(self.pixels.any(axis=0))
        return (
            self.x0 + int(cols[0]),
            self.y0 + int(rows[0]),
            self.x0 + int(cols[-1]) + 1,
            self.y0 + int(rows[-1]) + 1,
        )


def _rasterize(shapes: Sequence[_Shape], width: int, height: int) -> _Mask | None:
    extents = [e for e in (_extent(s) for s in shapes) if e is not None]
    if not extents:
        return None
    x0 = math.floor(min(e[0] for e in extents))
    y0 = math.floor(min(e[1] for e in extents))
    x1 = math.ceil(max(e[2] for e in extents)) + 1
    y1 = math.ceil(max(e[3] for e in extents)) + 1
    canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(canvas)
    for shape in shapes:
        if shape.kind != "text":
            _paint(draw, _shift(shape, -x0, -y0), 255)
    full = np.asarray(canvas) > 0
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    crop = full[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    return _Mask(crop, cx0, cy0, int(np.count_nonzero(full)))


# --------------------------------------------------------------------------------------------
# Scene layout: one ground plane seen by a level pinhole camera, so sizes follow depth.


@dataclass(frozen=True)
class _Layout:
    kind: str
    width: int
    height: int
    horizon: float
    cam_h: float  # camera height in metres: an object of h metres at depth d is d*h/cam_h px
    vp_x: float
    road_offset: float  # lateral position of the road (or path) centre, metres
    road_half: float
    curve: float
    floor_y: float  # indoor wall/floor seam; equals the horizon outdoors
    time_of_day: str
    lanes: tuple[tuple[float, str, str], ...]  # (lateral metres, style, colour name)

    def px(self, metres: float, y: float) -> float:
        return max(0.0, y - self.horizon) * metres / self.cam_h

    def ground_y(self, s: float) -> float:
        return self.horizon + s * (self.height - self.horizon)

    def road_x(self, y: float, lateral: float) -> float:
        d = y - self.horizon
        s = d / (self.height - self.horizon)
        return (
            self.vp_x
            + d * (self.road_offset + lateral) / self.cam_h
            + self.curve * self.width * (1 - s) ** 2
        )


def _choose(rng: np.random.Generator, options: Sequence[Any], weights: Sequence[float]) -> Any:
    p = np.asarray(weights, dtype=float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _make_layout(rng: np.random.Generator) -> _Layout:
    width, height, _ = _choose(rng, _SIZES, [s[2] for s in _SIZES])
    kind = _choose(rng, SCENES, [_SCENE_WEIGHTS[k] for k in SCENES])
    lanes: tuple[tuple[float, str, str], ...] = ()
    if kind == "street":
        horizon = height * rng.uniform(0.35, 0.48)
        road_half, offset, curve, cam_h = 3.6, rng.uniform(-3.5, 3.5), rng.uniform(-0.1, 0.1), 1.6
        tod = _choose(rng, ("day", "dusk", "overcast"), (6, 2, 2))
        if rng.random() < 0.75:
            centre = ("solid", "yellow") if rng.random() < 0.3 else ("dashed", "white")
            found = [(0.0, *centre)]
            found += [(side * (road_half - 0.2), "solid", "white") for side in (-1, 1)]
            lanes = tuple(lane for i, lane in enumerate(found) if i == 0 or rng.random() < 0.6)
        floor_y = horizon
    elif kind == "park":
        horizon = height * rng.uniform(0.3, 0.45)
        road_half, offset, curve, cam_h = 1.2, rng.uniform(-6, 6), rng.uniform(-0.2, 0.2), 1.6
        tod = _choose(rng, ("day", "dusk", "overcast"), (7, 2, 2))
        floor_y = horizon
    else:
        horizon = height * rng.uniform(0.38, 0.5)
        road_half, offset, curve, cam_h = 0.0, 0.0, 0.0, 1.5
        tod = _choose(rng, ("day", "evening"), (3, 1))
        floor_y = horizon + (height - horizon) * rng.uniform(0.08, 0.2)
    return _Layout(
        kind=kind,
        width=width,
        height=height,
        horizon=float(horizon),
        cam_h=cam_h,
        vp_x=float(width * rng.uniform(0.4, 0.6)),
        road_offset=float(offset),
        road_half=road_half,
        curve=float(curve),
        floor_y=float(floor_y),
        time_of_day=tod,
        lanes=lanes,
    )


# --------------------------------------------------------------------------------------------
# Objects


@dataclass
class _Obj:
    cls: str
    bx: float  # foot point: horizontal centre on the ground ...
    by: float  # ... and the ground line, which also orders drawing (far first)
    half_width: float
    shapes: list[_Shape]
    scenery: list[_Shape] = field(default_factory=list)  # drawn with it but not part of it (poles)
    joints: dict[str, tuple[float, float, int]] | None = None  # name -> (x, y, owning shape)
    outline: list[_Point] | None = None
    attrs: list[dict] = field(default_factory=list)
    mask: _Mask | None = None
    visible: np.ndarray | None = None
    occluded: bool = False
    truncated: bool = False
    joint_visibility: dict[str, int] | None = None
    # the scenery's silhouette, rasterised once (visibility is resolved for every candidate)
    scenery_mask: _Mask | None = field(default=None, repr=False, compare=False)
    scenery_done: bool = field(default=False, repr=False, compare=False)


def _scenery_mask(obj: _Obj, width: int, height: int) -> _Mask | None:
    if not obj.scenery_done:
        obj.scenery_mask = _rasterize(obj.scenery, width, height) if obj.scenery else None
        obj.scenery_done = True
    return obj.scenery_mask


def _mirror_obj(obj: _Obj) -> _Obj:
    obj.shapes = [_mirror_shape(s, obj.bx) for s in obj.shapes]
    obj.scenery = [_mirror_shape(s, obj.bx) for s in obj.scenery]
    if obj.outline:
        obj.outline = [(2 * obj.bx - x, y) for x, y in obj.outline]
    return obj


def _shade(color: _Color, factor: float) -> _Color:
    r, g, b = (max(0, min(255, round(c * factor))) for c in color)
    return (r, g, b)


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _wheel_arc(wx: float, cy: float, r: float, yb: float, steps: int = 7) -> list[_Point]:
    """Points of the wheel's rim below the body line ``yb``, right to left."""
    a = math.asin(max(-1.0, min(1.0, (yb - cy) / r)))
    ts = np.linspace(a, math.pi - a, steps)
    return [(wx + r * math.cos(t), cy + r * math.sin(t)) for t in ts]


def _build_vehicle(
    cls: str,
    bx: float,
    by: float,
    length: float,
    r: float,
    top: list[_Point],
    wheels_at: tuple[float, float],
    body: _Color,
    details: list[_Shape],
) -> _Obj:
    """Common frame of car and bus, facing right: body polygon, details, wheels, outline."""
    x0 = bx - length / 2
    cy = by - r
    yb = cy + 0.3 * r
    body_pts = [*top, (x0 + length, yb), (x0, yb)]
    shapes = [_poly(body_pts, body), *details]
    outline = [*top, (x0 + length, yb)]
    for frac in sorted(wheels_at, reverse=True):
        wx = x0 + frac * length
        shapes.append(_ellipse(wx, cy, r, r, (24, 24, 26)))
        shapes.append(_ellipse(wx, cy, 0.5 * r, 0.5 * r, (150, 150, 155)))
        outline += _wheel_arc(wx, cy, r, yb)
    outline.append((x0, yb))
    return _Obj(cls, bx, by, length / 2, shapes, outline=outline)


def _car(lay: _Layout, bx: float, by: float, rng: np.random.Generator) -> _Obj:
    length = lay.px(rng.uniform(4.0, 4.8), by)
    r = 0.115 * length
    x0, yb = bx - length / 2, by - r + 0.3 * r
    color = _pick(rng, list(_CAR_COLORS))
    body = _CAR_COLORS[color]

    def at(fx: float, fh: float) -> _Point:
        return (x0 + fx * length, yb - fh * length)

    top = [at(*p) for p in ((0, 0.2), (0.05, 0.26), (0.24, 0.28), (0.34, 0.42), (0.62, 0.42))]
    top += [at(*p) for p in ((0.76, 0.28), (0.96, 0.24), (1.0, 0.13))]
    glass = (70, 96, 118)
    details = [
        _poly([at(0.36, 0.395), at(0.47, 0.395), at(0.47, 0.29), at(0.27, 0.29)], glass),
        _poly([at(0.5, 0.395), at(0.61, 0.395), at(0.72, 0.29), at(0.5, 0.29)], glass),
        _line([at(0.485, 0.29), at(0.485, 0.04)], _shade(body, 0.7), max(1.0, 0.006 * length)),
        _ellipse(*at(0.975, 0.175), 0.02 * length, 0.025 * length, (250, 240, 200)),
        _rect(*at(0.0, 0.19), *at(0.025, 0.14), (200, 20, 20)),
    ]
    obj = _build_vehicle("car", bx, by, length, r, top, (0.2, 0.8), body, details)
    obj.attrs = [{"name": "color", "value": color}]
    return _mirror_obj(obj) if rng.random() < 0.5 else obj


def _bus(lay: _Layout, bx: float, by: float, rng: np.random.Generator) -> _Obj:
    length = lay.px(rng.uniform(10.0, 12.0), by)
    r = lay.px(0.5, by)
    height = lay.px(2.9, by)
    x0, yb = bx - length / 2, by - r + 0.3 * r
    color = _pick(rng, list(_BUS_COLORS))
    body = _BUS_COLORS[color]
    top = [(x0, yb - height), (x0 + 0.97 * length, yb - height), (x0 + length, yb - 0.88 * height)]
    glass = (64, 88, 110)
    details = [_rect(x0, yb - 0.45 * height, x0 + length, yb - 0.38 * height, _shade(body, 0.7))]
    n_windows = 7
    pitch = 0.7 * length / n_windows
    for i in range(n_windows):
        wx = x0 + 0.07 * length + i * pitch
        details.append(_rect(wx, yb - 0.86 * height, wx + 0.82 * pitch, yb - 0.55 * height, glass))
    details.append(_rect(x0 + 0.8 * length, yb - 0.82 * height, x0 + 0.86 * length, yb, glass))
    details.append(
        _rect(
            x0 + 0.885 * length, yb - 0.86 * height, x0 + 0.985 * length, yb - 0.5 * height, glass
        )
    )
    obj = _build_vehicle("bus", bx, by, length, r, top, (0.16, 0.82), body, details)
    obj.attrs = [{"name": "color", "value": color}]
    return _mirror_obj(obj) if rng.random() < 0.5 else obj


def _person(lay: _Layout, bx: float, by: float, rng: np.random.Generator) -> _Obj:
    hp = lay.px(rng.uniform(1.55, 1.9), by)
    facing = _choose(rng, ("front", "left", "right"), (4, 3, 3))
    skin, shirt, pants, hair = (
        _pick(rng, _SKIN),
        _pick(rng, _CLOTHES),
        _pick(rng, _PANTS),
        _pick(rng, _HAIR),
    )
    r = 0.065 * hp
    sh_y, hip_y, foot_y = by - 0.8 * hp, by - 0.49 * hp, by - 0.02 * hp
    arm_len, arm_w, leg_w = 0.34 * hp, max(2.0, 0.055 * hp), max(2.0, 0.07 * hp)
    head = (bx, sh_y - 0.05 * hp - r)

    def limb(start: _Point, angle_deg: float, length: float) -> _Point:
        a = math.radians(angle_deg)
        return (start[0] + length * math.sin(a), start[1] + length * math.cos(a))

    def leg_end(hip: _Point, angle_deg: float) -> _Point:
        return limb(hip, angle_deg, (foot_y - hip[1]) / math.cos(math.radians(angle_deg)))

    shapes: list[_Shape] = []
    joints: dict[str, tuple[float, float, int]] = {}

    def add(shape: _Shape, *owned: tuple[str, _Point]) -> None:
        shapes.append(shape)
        for name, (x, y) in owned:
            joints[name] = (x, y, len(shapes) - 1)

    if facing == "front":
        # Facing the camera, the person's left side is on the image's right.
        sw, hw = 0.11 * hp, 0.075 * hp
        l_sh, r_sh, l_hip, r_hip = (
            (bx + sw, sh_y),
            (bx - sw, sh_y),
            (bx + hw, hip_y),
            (bx - hw, hip_y),
        )
        raise_arm = rng.random() < 0.15
        a_l = rng.uniform(130, 160) if raise_arm else rng.uniform(5, 30)
        a_r = rng.uniform(5, 30)
        l_wr, r_wr = limb(l_sh, a_l, arm_len), limb(r_sh, -a_r, arm_len)
        l_an, r_an = leg_end(l_hip, rng.uniform(2, 10)), leg_end(r_hip, -rng.uniform(2, 10))
        add(_line([r_hip, r_an], pants, leg_w), ("right_ankle", r_an))
        add(_line([l_hip, l_an], pants, leg_w), ("left_ankle", l_an))
        torso = [(bx - sw - 0.02 * hp, sh_y - 0.02 * hp), (bx + sw + 0.02 * hp, sh_y - 0.02 * hp)]
        torso += [
            (bx + hw + 0.02 * hp, hip_y + 0.03 * hp),
            (bx - hw - 0.02 * hp, hip_y + 0.03 * hp),
        ]
        add(_poly(torso, shirt), ("left_hip", l_hip), ("right_hip", r_hip))
        add(_line([r_sh, r_wr], skin, arm_w), ("right_shoulder", r_sh), ("right_wrist", r_wr))
        add(_line([l_sh, l_wr], skin, arm_w), ("left_shoulder", l_sh), ("left_wrist", l_wr))
        nose = (head[0], head[1] + 0.15 * r)
    else:
        # Facing right the person's left side is away from the camera (and the other way round):
        # the far limbs are drawn first, so the torso hides the far shoulder and hip.
        sign = 1 if facing == "right" else -1
        near, far = ("right", "left") if sign == 1 else ("left", "right")
        swing, stride = rng.uniform(5, 30), rng.uniform(5, 22)
        sh, hip = (bx, sh_y), (bx, hip_y)
        far_wr, near_wr = limb(sh, -sign * swing, arm_len), limb(sh, sign * swing, arm_len)
        far_an, near_an = leg_end(hip, sign * stride), leg_end(hip, -sign * stride)
        dark_skin, dark_pants = _shade(skin, 0.8), _shade(pants, 0.8)
        add(
            _line([sh, far_wr], dark_skin, arm_w), (f"{far}_shoulder", sh), (f"{far}_wrist", far_wr)
        )
        add(_line([hip, far_an], dark_pants, leg_w), (f"{far}_hip", hip), (f"{far}_ankle", far_an))
        torso = [(bx - 0.065 * hp, sh_y - 0.02 * hp), (bx + 0.065 * hp, sh_y - 0.02 * hp)]
        torso += [(bx + 0.055 * hp, hip_y + 0.03 * hp), (bx - 0.055 * hp, hip_y + 0.03 * hp)]
        add(_poly(torso, shirt))
        add(_line([hip, near_an], pants, leg_w), (f"{near}_hip", hip), (f"{near}_ankle", near_an))
        add(_line([sh, near_wr], skin, arm_w), (f"{near}_shoulder", sh), (f"{near}_wrist", near_wr))
        nose = (head[0] + sign * 0.75 * r, head[1] + 0.1 * r)
    back = 0.0 if facing == "front" else (-0.2 * r if facing == "right" else 0.2 * r)
    hair_box = _ibox(
        head[0] + back - 1.05 * r, head[1] - 1.18 * r, head[0] + back + 1.05 * r, head[1]
    )
    add(_Shape("ellipse", hair_box, hair))
    add(_ellipse(head[0], head[1], r, r, skin), ("nose", nose))
    return _Obj("person", bx, by, 0.2 * hp, shapes, joints=joints)


def _bicycle(lay: _Layout, bx: float, by: float, rng: np.random.Generator) -> _Obj:
    r = lay.px(0.34, by)
    base = lay.px(1.05, by)
    frame = _pick(rng, _FRAME_COLORS)
    rim_w, tube_w = max(2.0, 0.11 * r), max(2.0, 0.08 * r)
    rear, front = (bx - base / 2, by - r), (bx + base / 2, by - r)
    crank = (bx - 0.08 * base, by - 0.75 * r)
    seat = (crank[0] - 0.25 * r, by - 1.95 * r)
    head = (front[0] - 0.35 * r, by - 1.95 * r)
    tyre, dark = (30, 30, 32), (25, 25, 25)

    def off(p: _Point, dx: float, dy: float) -> _Point:
        return (p[0] + dx * r, p[1] + dy * r)

    shapes = [
        _ring(*rear, r, tyre, rim_w),
        _ring(*front, r, tyre, rim_w),
        _line([rear, crank, head, front], frame, tube_w),
        _line([rear, seat, crank], frame, tube_w),
        _line([seat, head], frame, tube_w),
        _line([off(seat, -0.22, -0.08), off(seat, 0.2, 0)], dark, 1.6 * tube_w),
        _line([head, off(head, -0.1, -0.35), off(head, -0.35, -0.35)], dark, tube_w),
        _ellipse(*crank, 0.12 * r, 0.12 * r, dark),
    ]
    obj = _Obj("bicycle", bx, by, base / 2 + r, shapes)
    return _mirror_obj(obj) if rng.random() < 0.5 else obj


def _dog(lay: _Layout, bx: float, by: float, rng: np.random.Generator) -> _Obj:
    length = lay.px(rng.uniform(0.7, 1.0), by)
    coat = _pick(rng, _DOG_COLORS)
    dark, leg_w = _shade(coat, 0.7), max(2.0, 0.07 * length)

    # Body-relative coordinates, in dog lengths from the foot point (x right, y up).
    def at(fx: float, fy: float) -> _Point:
        return (bx + fx * length, by - fy * length)

    def oval(fx0: float, fy0: float, fx1: float, fy1: float, fill: _Color) -> _Shape:
        (x0, y0), (x1, y1) = at(fx0, fy0), at(fx1, fy1)
        return _Shape("ellipse", _ibox(x0, y0, x1, y1), fill)

    hx, hy = 0.36, 0.63  # head centre
    legs = (-0.3, -0.2, 0.15, 0.24)
    shapes = [_line([at(x, 0.35), at(x, 0)], dark, leg_w) for x in legs[1::2]]
    shapes += [
        _line([at(-0.36, 0.43), at(-0.52, 0.66)], coat, max(2.0, 0.05 * length)),
        oval(-0.38, 0.52, 0.3, 0.27, coat),
    ]
    shapes += [_line([at(x, 0.35), at(x, 0)], coat, leg_w) for x in legs[::2]]
    shapes += [
        _poly(
            [at(0.12, 0.5), at(hx - 0.02, hy + 0.05), at(hx + 0.06, hy - 0.08), at(0.28, 0.38)],
            coat,
        ),
        oval(hx - 0.13, hy + 0.12, hx + 0.13, hy - 0.12, coat),
        oval(hx + 0.05, hy + 0.02, hx + 0.25, hy - 0.09, coat),
        _poly([at(hx - 0.08, hy + 0.07), at(hx + 0.02, hy + 0.11), at(hx - 0.1, hy - 0.1)], dark),
        oval(hx + 0.022, hy + 0.048, hx + 0.058, hy + 0.012, (15, 15, 15)),
        oval(hx + 0.22, hy + 0.01, hx + 0.27, hy - 0.03, (15, 15, 15)),
    ]
    obj = _Obj("dog", bx, by, 0.55 * length, shapes)
    return _mirror_obj(obj) if rng.random() < 0.5 else obj


def _traffic_light(lay: _Layout, bx: float, by: float, rng: np.random.Generator) -> _Obj:
    w, h = lay.px(0.36, by), lay.px(0.95, by)
    top = by - lay.px(4.3, by)
    state = _choose(rng, ("red", "yellow", "green"), (4, 1.5, 4.5))
    lit = {"red": (255, 48, 40), "yellow": (255, 200, 40), "green": (60, 230, 100)}
    dim = {"red": (80, 28, 26), "yellow": (80, 66, 22), "green": (24, 66, 38)}
    x0, x1 = bx - w / 2, bx + w / 2
    shapes = [_rect(x0, top, x1, top + h, (34, 34, 36))]
    for i, name in enumerate(("red", "yellow", "green")):
        cy = top + h * (2 * i + 1) / 6
        shapes.append(
            _ellipse(bx, cy, 0.32 * w, 0.32 * w, lit[name] if name == state else dim[name])
        )
    pole = _line([(bx, by), (bx, top + h - 1)], (110, 112, 118), lay.px(0.12, by))
    outline = [(x0, top), (x1, top), (x1, top + h), (x0, top + h)]
    obj = _Obj("traffic_light", bx, by, w / 2, shapes, scenery=[pole], outline=outline)
    obj.attrs = [{"name": "state", "value": state}]
    return obj


def _stop_sign(lay: _Layout, bx: float, by: float, rng: np.random.Generator) -> _Obj:
    r = lay.px(0.38, by) * rng.uniform(0.95, 1.05)
    cy = by - lay.px(2.1, by)

    def octagon(radius: float) -> list[_Point]:
        angles = [math.radians(22.5 + 45 * k) for k in range(8)]
        return [(bx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]

    outer = octagon(r)
    shapes = [_poly(outer, (245, 245, 245)), _poly(octagon(0.86 * r), (200, 20, 28))]
    size = round(0.52 * r)
    if size >= 8:  # smaller text is an unreadable smudge
        shapes.append(_Shape("text", (round(bx), round(cy)), (250, 250, 250), size, "STOP"))
    pole = _line([(bx, by), (bx, cy)], (120, 122, 128), lay.px(0.08, by))
    return _Obj("stop_sign", bx, by, r, shapes, scenery=[pole], outline=outer)


_BUILDERS = {
    "car": _car,
    "bus": _bus,
    "person": _person,
    "bicycle": _bicycle,
    "dog": _dog,
    "traffic_light": _traffic_light,
    "stop_sign": _stop_sign,
}


# --------------------------------------------------------------------------------------------
# Placement and visibility


def _lateral(lay: _Layout, cls: str, rng: np.random.Generator) -> float:
    side = 1 if rng.random() < 0.5 else -1
    if lay.kind != "street":
        return rng.uniform(-4, 4) if lay.kind == "indoor" else rng.uniform(-12, 12)
    half = lay.road_half
    if cls in ("car", "bus"):
        return rng.uniform(-half + 1.2, half - 1.2)
    if cls in ("traffic_light", "stop_sign"):
        return side * rng.uniform(half + 0.4, half + 1.2)
    if cls == "bicycle" and rng.random() < 0.6:
        return side * (half - 0.7)
    if cls == "person" and rng.random() < 0.2:
        return rng.uniform(-half, half)  # crossing the road
    return side * rng.uniform(half + 0.8, half + 6)


def _foot_point(
    lay: _Layout, cls: str, placed: list[_Obj], rng: np.random.Generator
) -> tuple[float, float] | None:
    min_y = max(lay.floor_y, lay.ground_y(0.04)) + 1
    behind = [o for o in placed if o.cls not in ("traffic_light", "stop_sign")]
    if behind and cls in ("person", "dog", "bicycle", "car") and rng.random() < 0.25:
        # Stand just behind something already placed: the partial occlusion the demo needs.
        other = _pick(rng, behind)
        by = other.by - rng.uniform(0.03, 0.1) * (lay.height - lay.horizon)
        bx = other.bx + rng.uniform(-0.6, 0.6) * other.half_width
    else:
        lo, hi = _DEPTH_RANGE[cls]
        by = lay.ground_y(lo + (hi - lo) * rng.random() ** 1.3)
        bx = lay.road_x(by, _lateral(lay, cls, rng))
    if by < min_y or not -0.1 * lay.width <= bx <= 1.1 * lay.width:
        return None
    return bx, by


def _box_of(mask: _Mask) -> tuple[int, int, int, int]:
    return mask.box


def _xywh(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return box[0], box[1], box[2] - box[0], box[3] - box[1]


def _place_objects(lay: _Layout, rng: np.random.Generator) -> list[_Obj]:
    weights = _CLASS_WEIGHTS[lay.kind]
    names = list(weights)
    lo, hi = _OBJECTS_PER_SCENE[lay.kind]
    target = int(rng.integers(lo, hi + 1))
    placed: list[_Obj] = []
    attempts = 0
    # Every perturb/compare demo needs a few boxes, so keep trying (boundedly) for at least 3.
    while (len(placed) < target and attempts < 15 * target) or (len(placed) < 3 and attempts < 400):
        attempts += 1
        cls = _choose(rng, names, [weights[n] for n in names])
        foot = _foot_point(lay, cls, placed, rng)
        if foot is None:
            continue
        obj = _BUILDERS[cls](lay, foot[0], foot[1], rng)
        obj.mask = _rasterize(obj.shapes, lay.width, lay.height)
        if obj.mask is None or obj.mask.area < _MIN_IN_IMAGE * obj.mask.amodal_area:
            continue
        box = _xywh(_box_of(obj.mask))
        if min(box[2], box[3]) < _MIN_BOX_SIDE:
            continue
        if any(iou_xywh(box, _xywh(_box_of(o.mask))) > 0.6 for o in placed if o.mask):
            continue
        # Accept only if nothing (the newcomer included) ends up hidden beyond recognition.
        resolved = _resolve_visibility(lay, [*placed, obj])
        if len(resolved) == len(placed) + 1:
            placed = resolved
    return placed


def _resolve_visibility(lay: _Layout, placed: list[_Obj]) -> list[_Obj]:
    """Drop hidden objects and set occlusion/truncation, nearest object first."""
    cover = np.zeros((lay.height, lay.width), dtype=bool)
    kept: list[_Obj] = []
    for obj in sorted(placed, key=lambda o: (o.by, o.bx), reverse=True):
        mask = obj.mask
        assert mask is not None
        h, w = mask.pixels.shape
        hidden = cover[mask.y0 : mask.y0 + h, mask.x0 : mask.x0 + w]
        visible = mask.pixels & ~hidden
        seen = int(np.count_nonzero(visible))
        if seen < _MIN_VISIBLE * mask.area:
            continue
        obj.visible = visible
        obj.occluded = seen < _OCCLUDED_BELOW * mask.area
        obj.truncated = mask.area < mask.amodal_area
        if obj.joints:
            obj.joint_visibility = _joint_visibility(obj, cover, lay.width, lay.height)
        kept.append(obj)
        hidden |= mask.pixels
        pole = _scenery_mask(obj, lay.width, lay.height)
        if pole is not None:
            ph, pw = pole.pixels.shape
            cover[pole.y0 : pole.y0 + ph, pole.x0 : pole.x0 + pw] |= pole.pixels
    kept.reverse()  # drawing order: far to near
    return kept


# --------------------------------------------------------------------------------------------
# Annotation document


def _attr(name: str, value: Any) -> dict:
    return {"name": name, "value": value}


def _clip_polygon(points: Sequence[_Point], width: int, height: int) -> list[_Point]:
    """Sutherland–Hodgman clip of a polygon to the image rectangle."""
    edges = (
        (lambda p: p[0] >= 0, lambda a, b: _cross_x(a, b, 0.0)),
        (lambda p: p[0] <= width, lambda a, b: _cross_x(a, b, float(width))),
        (lambda p: p[1] >= 0, lambda a, b: _cross_y(a, b, 0.0)),
        (lambda p: p[1] <= height, lambda a, b: _cross_y(a, b, float(height))),
    )
    out = list(points)
    for inside, cross in edges:
        src, out = out, []
        for i, cur in enumerate(src):
            prev = src[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross(prev, cur))
        if not out:
            break
    return out


def _cross_x(a: _Point, b: _Point, x: float) -> _Point:
    t = (x - a[0]) / (b[0] - a[0])
    return x, a[1] + t * (b[1] - a[1])


def _cross_y(a: _Point, b: _Point, y: float) -> _Point:
    t = (y - a[1]) / (b[1] - a[1])
    return a[0] + t * (b[0] - a[0]), y


def _polygon_data(points: Sequence[_Point], width: int, height: int) -> list[list[float]] | None:
    ring: list[list[float]] = []
    for x, y in _clip_polygon(points, width, height):
        p = [round(min(max(x, 0.0), width), 1), round(min(max(y, 0.0), height), 1)]
        if not ring or p != ring[-1]:
            ring.append(p)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
    return ring if len(ring) >= 3 and abs(area2) > 2 else None


def _mask_payload(obj: _Obj, width: int, height: int, encoding: str) -> dict:
    assert obj.mask is not None and obj.visible is not None
    full = np.zeros((height, width), dtype=bool)
    h, w = obj.visible.shape
    full[obj.mask.y0 : obj.mask.y0 + h, obj.mask.x0 : obj.mask.x0 + w] = obj.visible
    flat = full.reshape(-1)
    if encoding == "raw_indices":
        return {
            "data": np.flatnonzero(flat).tolist(),
            "encoding": "raw_indices",
            "isCompressed": False,
            "compressionFormat": None,
        }
    edges = np.diff(np.concatenate(([0], flat.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    runs = [[int(s), int(e - s)] for s, e in zip(starts, ends, strict=True)]
    return {"data": runs, "encoding": "dm_rle", "isCompressed": True, "compressionFormat": "rle"}


def _lane_points(lay: _Layout, lateral: float, samples: int) -> list[_Point]:
    top = lay.horizon + 0.04 * (lay.height - lay.horizon)
    ys = np.linspace(top, lay.height, samples)
    return [(lay.road_x(float(y), lateral), float(y)) for y in ys]


def _lane_polyline(lay: _Layout, lateral: float) -> list[list[float]] | None:
    points = _lane_points(lay, lateral, 40)
    runs: list[list[_Point]] = [[]]
    for x, y in points:
        if 0 <= x <= lay.width:
            runs[-1].append((x, y))
        elif runs[-1]:
            runs.append([])
    run = max(runs, key=len)
    if len(run) < 2 or math.dist(run[0], run[-1]) < 20:
        return None
    picks = sorted({round(i) for i in np.linspace(0, len(run) - 1, min(8, len(run)))})
    return [[round(run[i][0], 1), round(run[i][1], 1)] for i in picks]


def _classification_map(item: dict) -> dict[str, list[str]]:
    labels: dict[str, list[str]] = {}
    for tool, entries in item.items():
        if isinstance(entries, list):
            names = sorted({a["classification"] for a in entries if "classification" in a})
            if names:
                labels[tool] = names
    return dict(sorted(labels.items()))


def _document(lay: _Layout, objects: list[_Obj], masked: dict[int, str]) -> dict:
    tools = ("bounding_box", "polygon", "polyline", "keypoint", "segmentation")
    item: dict[str, list] = {t: [] for t in (*tools, "classification", "relation", "group")}
    w, h = lay.width, lay.height
    for pos, obj in enumerate(objects):
        assert obj.mask is not None
        x0, y0, x1, y1 = _box_of(obj.mask)
        attrs = [_attr("occluded", obj.occluded), _attr("truncated", obj.truncated), *obj.attrs]
        box_id = f"bbox_{len(item['bounding_box']) + 1:04d}"
        item["bounding_box"].append(
            {
                "id": box_id,
                "classification": obj.cls,
                "attrs": attrs,
                "data": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
            }
        )
        ring = _polygon_data(obj.outline, w, h) if obj.outline and not obj.occluded else None
        if ring:
            poly_id = f"poly_{len(item['polygon']) + 1:04d}"
            item["polygon"].append(
                {"id": poly_id, "classification": obj.cls, "attrs": [], "data": ring}
            )
        if obj.joints:
            _add_skeleton(item, obj, w, h)
        if pos in masked:
            seg_id = f"seg_{len(item['segmentation']) + 1:04d}"
            payload = _mask_payload(obj, w, h, masked[pos])
            item["segmentation"].append(
                {"id": seg_id, "classification": obj.cls, "attrs": [], **payload}
            )
    for lateral, style, colour in lay.lanes:
        data = _lane_polyline(lay, lateral)
        if data:
            line_id = f"line_{len(item['polyline']) + 1:04d}"
            attrs = [_attr("style", style), _attr("color", colour)]
            item["polyline"].append(
                {"id": line_id, "classification": LANE_CLASS, "attrs": attrs, "data": data}
            )
    item["classification"].append(
        {
            "id": "cls_0001",
            "classification": lay.kind,
            "attrs": [_attr("time_of_day", lay.time_of_day)],
            "data": {},
        }
    )
    return {"classification": _classification_map(item), "images": [item]}


def _joint_visibility(obj: _Obj, cover: np.ndarray, width: int, height: int) -> dict[str, int]:
    """0 outside the image, 1 hidden (by a nearer object or the person's own later shapes)."""
    assert obj.joints is not None
    result = {}
    for name, (x, y, owner) in obj.joints.items():
        if not (0 <= x < width and 0 <= y < height):
            result[name] = 0
        elif cover[int(y), int(x)] or any(_covers(s, x, y) for s in obj.shapes[owner + 1 :]):
            result[name] = 1
        else:
            result[name] = 2
    return result


def _add_skeleton(item: dict, obj: _Obj, width: int, height: int) -> None:
    assert obj.joints is not None and obj.joint_visibility is not None
    visibility = obj.joint_visibility
    group_id = f"grp_{len(item['group']) + 1:04d}"
    members = []
    for name in KEYPOINT_NAMES:
        x, y, _ = obj.joints[name]
        kp_id = f"kpt_{len(item['keypoint']) + 1:04d}"
        # A missing joint still needs a position in the schema; clamping keeps it in the image.
        data = [round(min(max(x, 0.0), width - 1.0), 1), round(min(max(y, 0.0), height - 1.0), 1)]
        item["keypoint"].append(
            {
                "id": kp_id,
                "classification": name,
                "attrs": [],
                "data": data,
                "visibility": visibility[name],
                "group_id": group_id,
            }
        )
        members.append(kp_id)
    item["group"].append({"id": group_id, "classification": "person", "attrs": [], "data": members})


def _choose_masks(objects: list[_Obj], rng: np.random.Generator) -> dict[int, str]:
    if rng.random() >= 0.3:
        return {}
    candidates = [
        i
        for i, o in enumerate(objects)
        if o.cls in _MASK_CLASSES and o.visible is not None and int(o.visible.sum()) >= 150
    ]
    if not candidates:
        return {}
    count = min(len(candidates), 1 + int(rng.random() < 0.4))
    chosen = sorted(int(i) for i in rng.choice(candidates, size=count, replace=False))
    masked = {}
    for i in chosen:
        vis = objects[i].visible
        small = vis is not None and int(vis.sum()) <= _RAW_MASK_MAX_PIXELS
        masked[i] = "raw_indices" if small and rng.random() < 0.7 else "dm_rle"
    return masked


# --------------------------------------------------------------------------------------------
# Rendering


_SKY = {
    "day": ((72, 128, 206), (188, 216, 240)),
    "dusk": ((46, 44, 96), (246, 152, 96)),
    "overcast": ((140, 146, 156), (196, 198, 202)),
}


def _gradient(width: int, height: int, stops: Sequence[tuple[float, _Color]]) -> Image.Image:
    rows = np.arange(height) / max(height - 1, 1)
    at = [s[0] for s in stops]
    column = np.stack([np.interp(rows, at, [s[1][c] for s in stops]) for c in range(3)], axis=1)
    strip = Image.fromarray(column.astype(np.uint8).reshape(height, 1, 3), "RGB")
    return strip.resize((width, height), Image.Resampling.NEAREST)


def _noise_layer(
    rng: np.random.Generator, width: int, height: int, cell: int, amp: int
) -> Image.Image:
    small = rng.integers(0, amp + 1, size=(height // cell + 2, width // cell + 2), dtype=np.uint8)
    return Image.fromarray(small, "L").resize((width, height), Image.Resampling.BICUBIC)


def _add_texture(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = img.size
    coarse = _noise_layer(rng, w, h, max(24, w // 24), 26)
    fine = _noise_layer(rng, w, h, 5, 14)
    tex = ImageChops.add(coarse, fine)
    return ImageChops.add(img, Image.merge("RGB", (tex, tex, tex)), offset=-20)


def _add_grain(img: Image.Image, rng: np.random.Generator, amount: int = 6) -> Image.Image:
    w, h = img.size
    grain = Image.fromarray(rng.integers(0, 2 * amount + 1, size=(h, w), dtype=np.uint8), "L")
    return ImageChops.add(img, Image.merge("RGB", (grain, grain, grain)), offset=-amount)


def _road_polygon(lay: _Layout, half: float) -> list[_Point]:
    left = _lane_points(lay, -half, 24)
    right = _lane_points(lay, half, 24)
    start = (lay.road_x(lay.horizon + 0.5, 0.0), lay.horizon + 0.5)
    return [
        start,
        *left,
        (left[-1][0], lay.height + 2),
        (right[-1][0], lay.height + 2),
        *right[::-1],
    ]


def _draw_buildings(draw: ImageDraw.ImageDraw, lay: _Layout, rng: np.random.Generator) -> None:
    lit = lay.time_of_day == "dusk"
    x = -rng.uniform(0, 0.1) * lay.width
    while x < lay.width:
        bw = lay.width * rng.uniform(0.06, 0.16)
        top = lay.horizon * rng.uniform(0.35, 0.85)
        r, g, b = (int(v) for v in rng.integers(90, 190, size=3))
        base = (r, g, b)
        draw.rectangle(_ibox(x, top, x + bw, lay.horizon + 1), fill=base)
        cols, rows = max(2, int(bw // 14)), max(2, int((lay.horizon - top) // 16))
        cw, rh = bw / cols, (lay.horizon - top) / rows
        for r in range(rows - 1):
            wy = top + r * rh
            for c in range(cols):
                on = lit and rng.random() < 0.4
                win = (250, 220, 130) if on else _shade(base, 0.55)
                wx = x + c * cw
                draw.rectangle(
                    _ibox(wx + 0.25 * cw, wy + 0.3 * rh, wx + 0.75 * cw, wy + 0.75 * rh), win
                )
        x += bw + lay.width * rng.uniform(0.0, 0.03)


def _lane_strip(lay: _Layout, lateral: float, y0: float, y1: float) -> list[_Point]:
    # A 15 cm wide painted strip between two ground lines, narrowing with distance.
    ys = np.linspace(y0, y1, 6)
    left = [(lay.road_x(float(y), lateral - 0.075), float(y)) for y in ys]
    right = [(lay.road_x(float(y), lateral + 0.075), float(y)) for y in ys]
    return left + right[::-1]


def _draw_lanes(draw: ImageDraw.ImageDraw, lay: _Layout) -> None:
    colours = {"white": (236, 236, 230), "yellow": (232, 196, 60)}
    top = lay.horizon + 0.04 * (lay.height - lay.horizon)
    focal = lay.cam_h * lay.height  # ground distance z maps to y = horizon + focal / z
    z_near, z_far = focal / (lay.height - lay.horizon), focal / (top - lay.horizon)
    for lateral, style, colour in lay.lanes:
        if style == "solid":
            spans = [(top, float(lay.height))]
        else:  # 3 m dashes with 3 m gaps
            starts = np.arange(math.floor(z_near / 6) * 6, z_far, 6.0)
            far_ends, near_ends = np.minimum(starts + 3, z_far), np.maximum(starts, z_near)
            spans = list(
                zip(lay.horizon + focal / far_ends, lay.horizon + focal / near_ends, strict=True)
            )
        for y0, y1 in spans:
            draw.polygon(_ipts(_lane_strip(lay, lateral, y0, y1)), fill=colours[colour])


def _street(lay: _Layout, rng: np.random.Generator) -> Image.Image:
    top, low = _SKY[lay.time_of_day]
    hz = lay.horizon / lay.height
    img = _gradient(
        lay.width, lay.height, [(0, top), (hz, low), (hz, (150, 150, 146)), (1, (176, 174, 168))]
    )
    draw = ImageDraw.Draw(img)
    _draw_buildings(draw, lay, rng)
    draw.polygon(_ipts(_road_polygon(lay, lay.road_half + 0.25)), fill=(196, 194, 188))  # curb
    draw.polygon(_ipts(_road_polygon(lay, lay.road_half)), fill=(86, 86, 92))
    img = _add_texture(img, rng)
    _draw_lanes(ImageDraw.Draw(img), lay)
    return img


def _park(lay: _Layout, rng: np.random.Generator) -> Image.Image:
    top, low = _SKY[lay.time_of_day]
    hz = lay.horizon / lay.height
    img = _gradient(
        lay.width, lay.height, [(0, top), (hz, low), (hz, (96, 140, 70)), (1, (64, 132, 52))]
    )
    draw = ImageDraw.Draw(img)
    x = -0.05 * lay.width
    while x < 1.05 * lay.width:
        r = lay.height * rng.uniform(0.04, 0.1)
        green = (int(rng.integers(30, 60)), int(rng.integers(80, 120)), int(rng.integers(30, 60)))
        draw.rectangle(
            _ibox(x - 0.1 * r, lay.horizon - r, x + 0.1 * r, lay.horizon + 1), fill=(80, 60, 40)
        )
        draw.ellipse(_ibox(x - r, lay.horizon - 2.6 * r, x + r, lay.horizon - 0.7 * r), fill=green)
        x += r * rng.uniform(0.9, 1.8)
    draw.polygon(_ipts(_road_polygon(lay, lay.road_half)), fill=(200, 184, 150))
    return _add_texture(img, rng)


def _indoor(lay: _Layout, rng: np.random.Generator) -> Image.Image:
    wall = _pick(rng, ((222, 210, 186), (200, 214, 222), (226, 200, 196), (210, 220, 200)))
    floor = _pick(rng, ((150, 104, 64), (120, 84, 52), (176, 140, 100)))
    fy = lay.floor_y / lay.height
    dark = 0.8 if lay.time_of_day == "evening" else 1.0
    stops = [
        (0, _shade(wall, 0.85 * dark)),
        (fy, _shade(wall, dark)),
        (fy, _shade(floor, 0.8 * dark)),
    ]
    img = _gradient(lay.width, lay.height, [*stops, (1, _shade(floor, dark))])
    draw = ImageDraw.Draw(img)
    wx, ww = lay.width * rng.uniform(0.05, 0.55), lay.width * rng.uniform(0.18, 0.3)
    wy0, wy1 = lay.floor_y * 0.15, lay.floor_y * 0.7
    sky = _SKY["dusk" if lay.time_of_day == "evening" else "day"][1]
    draw.rectangle(_ibox(wx, wy0, wx + ww, wy1), fill=(240, 240, 236))
    draw.rectangle(_ibox(wx + 6, wy0 + 6, wx + ww - 6, wy1 - 6), fill=sky)
    draw.line(_ipts([(wx + ww / 2, wy0), (wx + ww / 2, wy1)]), fill=(240, 240, 236), width=5)
    px = (wx + ww + lay.width * 0.08) % (lay.width * 0.8)
    art = tuple(int(v) for v in rng.integers(40, 220, size=3))
    draw.rectangle(_ibox(px, wy0 + 10, px + ww * 0.5, wy0 + ww * 0.4), fill=(70, 50, 30))
    draw.rectangle(_ibox(px + 5, wy0 + 15, px + ww * 0.5 - 5, wy0 + ww * 0.4 - 5), fill=art)
    for k in range(-12, 13):
        bottom = lay.vp_x + k * lay.width * 0.09
        top_x = lay.vp_x + (bottom - lay.vp_x) * (lay.floor_y - lay.horizon) / (
            lay.height - lay.horizon
        )
        draw.line(
            _ipts([(top_x, lay.floor_y), (bottom, lay.height)]), fill=_shade(floor, 0.7), width=2
        )
    draw.rectangle(
        _ibox(0, lay.floor_y - 0.012 * lay.height, lay.width, lay.floor_y), fill=(244, 242, 236)
    )
    return _add_texture(img, rng)


_BACKGROUNDS = {"street": _street, "park": _park, "indoor": _indoor}


def _render(lay: _Layout, objects: list[_Obj], rng: np.random.Generator) -> bytes:
    img = _BACKGROUNDS[lay.kind](lay, rng)
    draw = ImageDraw.Draw(img)
    for obj in objects:
        for shape in (*obj.scenery, *obj.shapes):
            _paint(draw, shape)
    img = _add_grain(img, rng)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Public generation API


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return int(value)


def _file_name(index: int) -> str:
    return f"scene_{index:04d}.jpg"


def generate_item(index: int, seed: int = 0) -> tuple[DemoItem, bytes]:
    """Generate one demo image and its DM v2 annotations.

    The result depends only on ``(index, seed)``: repeated calls return equal items and
    byte-identical JPEGs. Items of one seed are independent, so any index can be made alone.

    Args:
        index: Item number (>= 0); it also names the file (``scene_<index:04d>.jpg``).
        seed: Dataset seed (>= 0).

    Returns:
        The item and its JPEG bytes.

    Raises:
        TypeError: ``index`` or ``seed`` is not an int.
        ValueError: ``index`` or ``seed`` is negative.

    Example:
        >>> item, jpeg = generate_item(3, seed=1)
        >>> sorted(item.annotations["images"][0])[:2]
        ['bounding_box', 'classification']
    """
    index, seed = _check_int("index", index), _check_int("seed", seed)
    rng = np.random.default_rng([seed, index, 0])
    lay = _make_layout(rng)
    objects = _place_objects(lay, rng)
    doc = _document(lay, objects, _choose_masks(objects, rng))
    present = {a["classification"] for a in doc["images"][0]["bounding_box"]}
    item = DemoItem(
        index=index,
        file_name=_file_name(index),
        width=lay.width,
        height=lay.height,
        annotations=doc,
        classes_present=tuple(c for c in CLASSES if c in present),
    )
    # A separate stream for pixels only, so backgrounds never shift the annotations.
    return item, _render(lay, objects, np.random.default_rng([seed, index, 1]))


_ENTRY_KEYS = frozenset(
    {"index", "file_name", "width", "height", "classes_present", "annotations"}
    | {"sha256", "size", "mtime_ns"}
)


def _manifest_path(cache_dir: Path, n: int, seed: int) -> Path:
    return cache_dir / f"{_MANIFEST_PREFIX}_v{GENERATOR_VERSION}_seed{seed}_n{n}.json"


def _read_manifest(path: Path, n: int, seed: int) -> list[dict] | None:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or damaged: regenerate
    key = {"version": GENERATOR_VERSION, "seed": seed, "n": n}
    if not isinstance(manifest, dict) or any(manifest.get(k) != v for k, v in key.items()):
        return None
    entries = manifest.get("items")
    if not isinstance(entries, list) or len(entries) != n:
        return None
    if not all(isinstance(e, dict) and e.keys() >= _ENTRY_KEYS for e in entries):
        return None
    return entries


def _write_atomic(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_entry(item: DemoItem, path: Path, digest: str) -> dict:
    st = path.stat()
    return {
        "index": item.index,
        "file_name": item.file_name,
        "width": item.width,
        "height": item.height,
        "classes_present": list(item.classes_present),
        "annotations": item.annotations,
        "sha256": digest,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
    }


def _store(item: DemoItem, jpeg: bytes, cache_dir: Path) -> dict:
    path = cache_dir / item.file_name
    digest = hashlib.sha256(jpeg).hexdigest()
    if not _same_file(path, len(jpeg), digest):
        _write_atomic(path, jpeg)
    return _file_entry(item, path, digest)


def _same_file(path: Path, size: int, digest: str) -> bool:
    try:
        if path.stat().st_size != size:
            return False
        return hashlib.sha256(path.read_bytes()).hexdigest() == digest
    except OSError:
        return False


def _entry_is_current(cache_dir: Path, entry: dict) -> bool:
    path = cache_dir / entry["file_name"]
    try:
        st = path.stat()
    except OSError:
        return False
    if st.st_size == entry["size"] and st.st_mtime_ns == entry["mtime_ns"]:
        return True
    # Touched or replaced since the manifest was written (e.g. by another seed): check contents.
    return _same_file(path, entry["size"], entry["sha256"])


def _item_from_entry(entry: dict) -> DemoItem:
    return DemoItem(
        index=entry["index"],
        file_name=entry["file_name"],
        width=entry["width"],
        height=entry["height"],
        annotations=entry["annotations"],
        classes_present=tuple(entry["classes_present"]),
    )


def generate_items(n: int, cache_dir: Path, seed: int = 0) -> list[DemoItem]:
    """Generate ``n`` demo items and keep their JPEGs in ``cache_dir``.

    Images are written as ``<cache_dir>/<file_name>`` only when missing or stale. The annotation
    documents go to one JSON manifest keyed by seed, ``n`` and :data:`GENERATOR_VERSION`; with
    that manifest present and the files unchanged (size and mtime) nothing is rendered, which
    makes a warm call on 200 items take a few milliseconds. A file changed since (for instance
    by a run with another seed into the same directory) is checked by SHA-256 and re-rendered
    if its content differs.

    Args:
        n: Number of items (>= 0), indices ``0 .. n-1``.
        cache_dir: Directory for the JPEGs and the manifest; created if missing.
        seed: Dataset seed (>= 0).

    Returns:
        The items in index order.

    Raises:
        TypeError: ``n`` or ``seed`` is not an int.
        ValueError: ``n`` or ``seed`` is negative.

    Example:
        >>> import tempfile
        >>> items = generate_items(3, Path(tempfile.mkdtemp()))
        >>> [i.file_name for i in items]
        ['scene_0000.jpg', 'scene_0001.jpg', 'scene_0002.jpg']
    """
    n, seed = _check_int("n", n), _check_int("seed", seed)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = _manifest_path(cache_dir, n, seed)
    cached = _read_manifest(manifest_path, n, seed)
    if cached is None:
        missing = list(range(n))
    else:
        missing = [pos for pos, e in enumerate(cached) if not _entry_is_current(cache_dir, e)]
    entries: list[dict] = list(cached) if cached is not None else [{}] * n
    for pos, entry in _render_missing(missing, seed, cache_dir).items():
        entries[pos] = entry
    if cached is None or missing:
        manifest = {"version": GENERATOR_VERSION, "seed": seed, "n": n, "items": entries}
        _write_atomic(manifest_path, json.dumps(manifest, separators=(",", ":")).encode())
    return [_item_from_entry(e) for e in entries]


def _render_missing(missing: list[int], seed: int, cache_dir: Path) -> dict[int, dict]:
    """Render and store the items at ``missing``, saying on stderr how far it got.

    One process renders them: worker processes would have to re-import the caller's main
    module (``spawn``) or fork a process that runs threads (a kernel, a running backend).
    """
    if not missing:
        return {}
    started = time.perf_counter()
    _say(f"rendering {len(missing)} demo images into {cache_dir} (first start only)...")
    done: dict[int, dict] = {}
    for index in missing:
        done[index] = _store(*generate_item(index, seed), cache_dir)
        _progress(len(done), len(missing), started)
    _say(f"{len(missing)} demo images ready in {time.perf_counter() - started:.1f} s")
    return done


def _progress(count: int, total: int, started: float) -> None:
    """A line at each quarter of the work (a notebook shows stderr lines as they come)."""
    quarter = max(1, total // 4)
    if count < total and count % quarter == 0:
        _say(f"  {count}/{total} images ({time.perf_counter() - started:.0f} s)")


def _say(message: str) -> None:
    print(f"synapse_nb: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Alternative annotation sources for compare mode


def _boxes_of(doc: Any, name: str) -> list[dict]:
    """Validate the parts of a DM v2 document that perturb/predictions read; return its boxes."""
    if not isinstance(doc, dict):
        raise TypeError(f"{name} must be a DM v2 document (dict), got {type(doc).__name__}")
    images = doc.get("images")
    if not isinstance(images, list) or not images or not isinstance(images[0], dict):
        raise ValueError(
            f"{name}['images'] must be a non-empty list of media items, got {images!r}"
        )
    boxes = images[0].get("bounding_box", [])
    if not isinstance(boxes, list):
        raise ValueError(f"{name}['images'][0]['bounding_box'] must be a list, got {boxes!r}")
    for pos, box in enumerate(boxes):
        data = box.get("data") if isinstance(box, dict) else None
        if not (isinstance(data, list) and len(data) == 4 and all(map(_plain_number, data))):
            raise ValueError(
                f"{name}['images'][0]['bounding_box'][{pos}]['data'] must be [x, y, w, h], "
                f"got {data!r}"
            )
        if not isinstance(box.get("id"), str) or not isinstance(box.get("classification"), str):
            raise ValueError(
                f"{name}['images'][0]['bounding_box'][{pos}] needs a string 'id' and "
                f"'classification', got id={box.get('id')!r}, "
                f"classification={box.get('classification')!r}"
            )
    return boxes


def _plain_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _geometry_extent(item: dict) -> tuple[float, float]:
    """Right/bottom extent of all geometry: a lower bound of the image size, which v2 omits."""
    right = bottom = 0.0
    for box in item.get("bounding_box", []):
        x, y, w, h = box["data"]
        right, bottom = max(right, x + w), max(bottom, y + h)
    for tool in ("polygon", "polyline"):
        for ann in item.get(tool, []):
            for x, y in ann.get("data", []):
                right, bottom = max(right, x), max(bottom, y)
    for kp in item.get("keypoint", []):
        x, y = kp["data"][:2]
        right, bottom = max(right, x), max(bottom, y)
    return right, bottom


def _fit_box(cx: float, cy: float, w: float, h: float, right: float, bottom: float) -> list[float]:
    """A box of (at most) the given size around (cx, cy), kept inside [0, right] x [0, bottom]."""
    w, h = min(max(w, 2.0), right), min(max(h, 2.0), bottom)
    x = min(max(cx - w / 2, 0.0), right - w)
    y = min(max(cy - h / 2, 0.0), bottom - h)
    return [round(x, 1), round(y, 1), round(w, 1), round(h, 1)]


def _unique_id(prefix: str, taken: set[str]) -> str:
    n = 1
    while f"{prefix}{n:04d}" in taken:
        n += 1
    taken.add(f"{prefix}{n:04d}")
    return f"{prefix}{n:04d}"


# Relabelling picks a class an annotator could plausibly confuse with the original one.
_CONFUSABLE: dict[str, tuple[str, ...]] = {
    "car": ("bus",),
    "bus": ("car",),
    "bicycle": ("person",),
    "person": ("bicycle",),
    "dog": ("person",),
    "traffic_light": ("stop_sign",),
    "stop_sign": ("traffic_light",),
}


def perturb(doc: dict, seed: int) -> dict:
    """Make a second ground-truth version of ``doc`` as another annotator might have drawn it.

    Changes, all on ``bounding_box`` (other tools are copied unchanged), each on a different box:

    * one box is removed (when there are at least 2),
    * one box is relabelled to another class of :data:`CLASSES` (when at least 3), same id/data,
    * about a quarter of the remaining boxes (at least one) are moved and resized, same id,
    * one new box (new id) is added, sized like an existing box.

    Boxes stay inside the extent of the document's own geometry, so they stay inside the image
    even though a v2 document does not store its size. The input is never modified.

    Args:
        doc: A DM v2 document; ``images[0]`` is perturbed.
        seed: Seed (>= 0) for the choices; equal inputs give equal outputs.

    Returns:
        A new DM v2 document with its top-level ``classification`` map recomputed.

    Raises:
        TypeError: ``doc`` is not a dict or ``seed`` is not an int.
        ValueError: ``doc`` has no media item or a malformed box; ``seed`` is negative.

    Example:
        >>> item, _ = generate_item(0)
        >>> other = perturb(item.annotations, seed=1)
        >>> other != item.annotations
        True
    """
    _boxes_of(doc, "doc")
    rng = np.random.default_rng([_check_int("seed", seed), 0x9E37])
    out = copy.deepcopy(doc)
    item = out["images"][0]
    boxes: list[dict] = item.setdefault("bounding_box", [])
    right, bottom = _geometry_extent(item)
    taken = {a.get("id") for anns in item.values() if isinstance(anns, list) for a in anns}
    order = [int(i) for i in rng.permutation(len(boxes))]
    removed = order.pop(0) if len(boxes) >= 2 else None
    if len(boxes) >= 3:
        target = boxes[order.pop(0)]
        label = target["classification"]
        others = _CONFUSABLE.get(label) or tuple(c for c in CLASSES if c != label)
        target["classification"] = _pick(rng, others)
    for pos in order[: max(1, round(0.25 * len(order)))]:
        _move_box(boxes[pos], rng, right, bottom)
    if boxes and right > 4 and bottom > 4:
        template = boxes[int(rng.integers(len(boxes)))]["data"]
        scale = rng.uniform(0.5, 1.0)
        cx, cy = rng.uniform(0, right), rng.uniform(0, bottom)
        box = _fit_box(cx, cy, template[2] * scale, template[3] * scale, right, bottom)
        boxes.append(
            {
                "id": _unique_id("bbox_add_", taken),
                "classification": _pick(rng, CLASSES),
                "attrs": [_attr("occluded", False), _attr("truncated", False)],
                "data": box,
            }
        )
    if removed is not None:
        del boxes[removed]
    out["classification"] = _classification_map(item)
    return out


def _move_box(box: dict, rng: np.random.Generator, right: float, bottom: float) -> None:
    x, y, w, h = box["data"]
    for _ in range(10):
        cx = x + w / 2 + rng.normal(0, 0.1) * w
        cy = y + h / 2 + rng.normal(0, 0.1) * h
        sw, sh = math.exp(rng.normal(0, 0.15)), math.exp(rng.normal(0, 0.15))
        moved = _fit_box(cx, cy, w * sw, h * sh, right, bottom)
        if iou_xywh(moved, box["data"]) < 0.97:  # a visible change, not a rounding difference
            box["data"] = moved
            return
    box["data"] = _fit_box(x + w / 2 + 0.2 * w, y + h / 2, 0.8 * w, h, max(right, 1.0), bottom)


def predictions(doc: dict, seed: int, *, miss_rate: float = 0.1, fp_rate: float = 0.1) -> dict:
    """Make model-like detections from a ground-truth document.

    Each ground-truth box is missed with probability ``miss_rate``; every other one becomes a
    prediction of the same class whose box is jittered but keeps IoU >= 0.6 with it and whose
    ``score`` attr lies in [0.55, 0.99]. On top of that come ``Poisson(fp_rate * boxes)`` false
    positives (for a document without boxes, ``Poisson(fp_rate)``) with scores in [0.05, 0.6]:
    boxes of a random class placed with IoU < 0.3 against every ground-truth box (one that finds
    no such place in 50 tries is left out). Predictions are sorted by descending score and only
    contain ``bounding_box`` annotations with ids ``pred_0001``, ``pred_0002``, ...

    This is the plain model of detections (every kept box is a true positive of its class). The
    demo workspace stores :func:`synapse_nb.server.demo.predictions.model_predictions` instead,
    whose errors (confusions, poor localisation, duplicates, size-dependent misses) and
    polygons and skeletons are those of real detectors.

    Args:
        doc: A DM v2 ground-truth document; ``images[0]`` is used.
        seed: Seed (>= 0) for the choices; equal inputs give equal outputs.
        miss_rate: Probability in [0, 1] that a ground-truth box gets no prediction.
        fp_rate: Expected false positives per ground-truth box (>= 0).

    Returns:
        A new DM v2 document holding the predictions.

    Raises:
        TypeError: ``doc`` is not a dict or ``seed`` is not an int.
        ValueError: malformed ``doc``, negative ``seed`` or a rate out of range.

    Example:
        >>> item, _ = generate_item(0)
        >>> preds = predictions(item.annotations, seed=2, miss_rate=0.0, fp_rate=0.0)
        >>> gt = item.annotations["images"][0]["bounding_box"]
        >>> len(preds["images"][0]["bounding_box"]) == len(gt)
        True
    """
    gt = _boxes_of(doc, "doc")
    rng = np.random.default_rng([_check_int("seed", seed), 0x51ED])
    _check_rate("miss_rate", miss_rate, upper=1.0)
    _check_rate("fp_rate", fp_rate, upper=math.inf)
    right, bottom = _geometry_extent(doc["images"][0])
    scored: list[tuple[float, str, list[float]]] = []
    for box in gt:
        if rng.random() < miss_rate:
            continue
        score = 0.55 + 0.44 * float(rng.beta(4, 1.5))
        scored.append(
            (round(score, 3), box["classification"], _jitter(box["data"], rng, right, bottom))
        )
    n_fp = int(rng.poisson(fp_rate * len(gt) if gt else fp_rate))
    for _ in range(n_fp):
        fp_box = _false_positive(gt, rng, right, bottom)
        if fp_box is not None:
            scored.append((round(float(rng.uniform(0.05, 0.6)), 3), _pick(rng, CLASSES), fp_box))
    scored.sort(key=lambda s: -s[0])
    preds = [
        {
            "id": f"pred_{n:04d}",
            "classification": cls,
            "attrs": [_attr("score", score)],
            "data": data,
        }
        for n, (score, cls, data) in enumerate(scored, 1)
    ]
    item = {"bounding_box": preds}
    return {"classification": _classification_map(item), "images": [item]}


def _check_rate(name: str, value: Any, upper: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (0.0 <= value <= upper) or math.isinf(value):  # also rejects NaN
        bound = "in [0, 1]" if upper == 1.0 else "finite and >= 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")


def _jitter(
    data: list[float], rng: np.random.Generator, right: float, bottom: float
) -> list[float]:
    x, y, w, h = data
    spread = 1.0
    for _ in range(8):
        cx = x + w / 2 + rng.normal(0, 0.06 * spread) * w
        cy = y + h / 2 + rng.normal(0, 0.06 * spread) * h
        sw, sh = math.exp(rng.normal(0, 0.08 * spread)), math.exp(rng.normal(0, 0.08 * spread))
        box = _fit_box(cx, cy, w * sw, h * sh, max(right, x + w), max(bottom, y + h))
        if iou_xywh(box, data) >= 0.6:
            return box
        spread /= 2  # rare wide draws are pulled back so a prediction stays a true positive
    return [round(v, 1) for v in data]


def _false_positive(
    gt: list[dict], rng: np.random.Generator, right: float, bottom: float
) -> list[float] | None:
    if right < 8 or bottom < 8:
        return None
    if gt:
        template = gt[int(rng.integers(len(gt)))]["data"]
        w, h = template[2] * rng.uniform(0.4, 1.0), template[3] * rng.uniform(0.4, 1.0)
    else:
        w, h = 0.1 * right, 0.1 * bottom
    for _ in range(50):
        box = _fit_box(rng.uniform(0, right), rng.uniform(0, bottom), w, h, right, bottom)
        if all(iou_xywh(box, g["data"]) < 0.3 for g in gt):
            return box
    return None
