"""Geometry of annotations: boxes, areas, IoU, OKS and point-in-polygon.

Boxes are ``(x, y, w, h)`` in pixels (top-left corner, width, height), as DM stores them.
The pairwise functions take arrays and return a matrix with one row per element of the
first argument, so matching a whole image's annotations is one numpy call.

Example:
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 2, 2], [5, 5, 1, 1]]).round(3)
    array([[0.333, 0.   ]])
    >>> polygon_area([(0, 0), (4, 0), (4, 3)])
    6.0
    >>> bool(point_in_polygon(1, 1, [(0, 0), (4, 0), (4, 4), (0, 4)]))
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "COCO_PERSON_SIGMAS",
    "bounds",
    "box_corners",
    "box_iou",
    "extent",
    "iou_xywh",
    "mask_iou",
    "oks",
    "point_in_polygon",
    "polygon_area",
    "polygon_iou",
    "polygon_mask",
]

Point = tuple[float, float]
Box = tuple[float, float, float, float]

#: Per-joint OKS constants of the COCO Person-17 keypoints (in :data:`PERSON_17` order).
COCO_PERSON_SIGMAS = np.array(
    [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]
) / 10.0  # fmt: skip


def bounds(points: Sequence[Sequence[float]]) -> tuple[float, float, float, float] | None:
    """``(x_min, y_min, x_max, y_max)`` of points; None when there are none.

    Example:
        >>> bounds([(1, 5), (4, 2)])
        (1, 2, 4, 5)
    """
    if not points:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def extent(points: Sequence[Sequence[float]]) -> Box | None:
    """Tight ``(x, y, w, h)`` around points; None when there are none.

    Example:
        >>> extent([(1, 5), (4, 2)])
        (1, 2, 3, 3)
    """
    corners = bounds(points)
    if corners is None:
        return None
    x0, y0, x1, y1 = corners
    return x0, y0, x1 - x0, y1 - y0


def polygon_area(points: Sequence[Sequence[float]]) -> float:
    """Area of a closed ring by the shoelace formula (absolute value; 0 below 3 points).

    Example:
        >>> polygon_area([(0, 0), (2, 0), (2, 2), (0, 2)])
        4.0
    """
    total = 0.0
    n = len(points)
    for i in range(n if n >= 3 else 0):
        (x1, y1), (x2, y2) = points[i][:2], points[(i + 1) % n][:2]
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


def box_corners(box: Sequence[float], rotation: float = 0.0) -> list[Point]:
    """The four corners of a box, turned by ``rotation`` radians about its centre.

    Corners go clockwise on screen from the top-left one (before rotation).

    Example:
        >>> box_corners([0, 0, 2, 1])
        [(0, 0), (2, 0), (2, 1), (0, 1)]
    """
    x, y, w, h = box[:4]
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    if not rotation:
        return corners
    cx, cy = x + w / 2, y + h / 2
    cos, sin = math.cos(rotation), math.sin(rotation)
    return [
        (cx + (px - cx) * cos - (py - cy) * sin, cy + (px - cx) * sin + (py - cy) * cos)
        for px, py in corners
    ]


def iou_xywh(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two boxes (plain floats, for one pair; :func:`box_iou` for many).

    Example:
        >>> iou_xywh([0, 0, 2, 2], [1, 0, 2, 2])
        0.3333333333333333
    """
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return min(inter / union, 1.0) if union > 0 else 0.0  # rounding can push it past 1


def box_iou(a: Any, b: Any) -> np.ndarray:
    """IoU of every box of ``a`` with every box of ``b`` (``(N, 4)`` and ``(M, 4)``).

    Returns:
        ``(N, M)`` float array; 0 where the union is empty.

    Example:
        >>> box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape
        (0, 1)
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
        iou = np.where(union > 0, inter / union, 0.0)
    # (x + w) - x can exceed w by a rounding step, and the ratio 1 by ~1e-12: an IoU is <= 1
    return np.minimum(iou, 1.0)


def mask_iou(a: Any, b: Any) -> np.ndarray:
    """IoU of every mask of ``a`` with every mask of ``b`` (``(N, H, W)``, ``(M, H, W)``).

    Example:
        >>> m = np.zeros((1, 2, 2), bool); m[0, 0] = True
        >>> mask_iou(m, np.ones((1, 2, 2), bool))
        array([[0.5]])
    """
    fa = np.asarray(a, dtype=bool).reshape(len(a), -1).astype(np.float64)
    fb = np.asarray(b, dtype=bool).reshape(len(b), -1).astype(np.float64)
    inter = fa @ fb.T
    union = fa.sum(axis=1)[:, None] + fb.sum(axis=1)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def polygon_mask(points: Sequence[Sequence[float]], width: int, height: int) -> np.ndarray:
    """A polygon filled into a boolean ``(height, width)`` array, its edge pixels included.

    Example:
        >>> int(polygon_mask([(0, 0), (3, 0), (3, 3), (0, 3)], 5, 5).sum())
        16
    """
    image = Image.new("1", (width, height), 0)
    if len(points) >= 3:
        ImageDraw.Draw(image).polygon([(float(x), float(y)) for x, y in points], fill=1)
    return np.asarray(image, dtype=bool)


def polygon_iou(
    a: Sequence[Sequence[Sequence[float]]],
    b: Sequence[Sequence[Sequence[float]]],
    width: int,
    height: int,
) -> np.ndarray:
    """IoU of every polygon of ``a`` with every polygon of ``b``, on a ``width x height`` grid.

    Polygons are filled into masks (:func:`polygon_mask`, as COCO evaluates segmentation),
    so self-intersecting and concave polygons are handled alike; pixels on an edge count as
    inside, which weighs small polygons' overlaps more than exact areas would.

    Example:
        >>> square = [(0, 0), (4, 0), (4, 4), (0, 4)]
        >>> polygon_iou([square], [[(2, 0), (6, 0), (6, 4), (2, 4)]], 8, 8).round(2)
        array([[0.43]])
    """
    ma = np.stack([polygon_mask(p, width, height) for p in a]) if len(a) else np.zeros((0, 1))
    mb = np.stack([polygon_mask(p, width, height) for p in b]) if len(b) else np.zeros((0, 1))
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    return mask_iou(ma, mb)


def oks(gt: Any, dt: Any, areas: Any, sigmas: Any = None) -> np.ndarray:
    """Object keypoint similarity of every ground-truth pose with every detected pose.

    Args:
        gt: ``(G, K, 3)`` ground-truth joints ``x, y, visibility`` (visibility 0: not
            labelled, left out of the score).
        dt: ``(D, K, 3)`` or ``(D, K, 2)`` detected joints.
        areas: ``(G,)`` object areas (the scale of the error), px².
        sigmas: ``(K,)`` per-joint constants; the COCO Person-17 ones by default.

    Returns:
        ``(G, D)`` array in [0, 1] (0 for a ground truth without labelled joints).

    Example:
        >>> g = np.array([[[10, 10, 2], [20, 20, 2]]])
        >>> oks(g, g[:, :, :2], [100.0], sigmas=[0.1, 0.1]).tolist()
        [[1.0]]
    """
    g = np.asarray(gt, dtype=float).reshape(len(gt), -1, 3)
    d = np.asarray(dt, dtype=float)
    d = d.reshape(len(dt), g.shape[1] if len(g) else -1, d.shape[-1] if d.ndim else 2)
    k = np.asarray(COCO_PERSON_SIGMAS if sigmas is None else sigmas, dtype=float) * 2
    scale = np.asarray(areas, dtype=float).reshape(-1)[:, None, None] + np.spacing(1)
    dx = g[:, None, :, 0] - d[None, :, :, 0]
    dy = g[:, None, :, 1] - d[None, :, :, 1]
    e = (dx**2 + dy**2) / (k[None, None, :] ** 2) / scale / 2
    labelled = (g[:, :, 2] > 0)[:, None, :]
    count = labelled.sum(axis=2)
    total = np.where(labelled, np.exp(-e), 0.0).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, 0.0)


def point_in_polygon(x: Any, y: Any, polygon: Sequence[Sequence[float]]) -> Any:
    """Whether points lie inside a polygon (even-odd rule), for one point or arrays of them.

    Example:
        >>> point_in_polygon(np.array([1, 9]), np.array([1, 1]), [(0, 0), (4, 0), (4, 4)])
        array([ True, False])
    """
    px, py = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pts = np.asarray(polygon, dtype=float).reshape(-1, 2)
    xa, ya = pts[:, 0], pts[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    px_, py_ = px[..., None], py[..., None]
    crosses = (ya > py_) != (yb > py_)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = xa + (py_ - ya) * (xb - xa) / (yb - ya)
    inside = (crosses & (px_ < at)).sum(axis=-1) % 2 == 1
    return inside if inside.ndim else bool(inside)
