"""Masks (polygons, RLE) to COCO run-length encodings, and mask IoU.

Rasterisation and RLE IoU come from ``pycocotools.mask``: a well-kept C library beats a
hand-written rasteriser, and using the very code the reference protocol uses is what makes segm
numbers equal to ``COCOeval`` bit for bit (a polygon edge rounded differently moves IoUs across
thresholds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from synapse_nb.evaluation._inputs import EvaluationInputError

__all__ = ["box_polygon", "mask_areas", "mask_iou_block", "rotated_box_polygon", "to_rles"]


def box_polygon(box: Sequence[float]) -> list[list[float]]:
    """The polygon ``COCO.loadRes`` gives a box result that has no segmentation.

    Example:
        >>> box_polygon([1, 2, 3, 4])
        [[1, 2, 1, 6, 4, 6, 4, 2]]
    """
    x1, y1 = box[0], box[1]
    x2, y2 = box[0] + box[2], box[1] + box[3]
    return [[x1, y1, x1, y2, x2, y2, x2, y1]]


def rotated_box_polygon(cx: float, cy: float, width: float, height: float,
                        angle_degrees: float) -> list[list[float]]:
    """Corners of a box rotated about its centre (counter-clockwise in image axes), as a polygon.

    Rotated boxes are evaluated as these polygons under segm (mask) IoU: the axis-aligned hull
    would overstate the overlap of thin diagonal objects.

    Example:
        >>> [round(v, 6) + 0.0 for v in rotated_box_polygon(5, 5, 4, 2, 90)[0]]
        [6.0, 3.0, 6.0, 7.0, 4.0, 7.0, 4.0, 3.0]
    """
    a = math.radians(angle_degrees)
    c, s = math.cos(a), math.sin(a)
    out: list[float] = []
    for dx, dy in ((-width / 2, -height / 2), (width / 2, -height / 2),
                   (width / 2, height / 2), (-width / 2, height / 2)):
        out += [cx + dx * c - dy * s, cy + dx * s + dy * c]
    return [out]


def to_rles(segmentations: Sequence[Any], heights: np.ndarray, widths: np.ndarray,
            where: str, boxes: np.ndarray | None = None) -> list[Any]:
    """One compressed RLE per annotation, as ``COCO.annToRLE`` builds it.

    A missing segmentation falls back to the box polygon when ``boxes`` is given.

    Example:
        >>> r = to_rles([[[0, 0, 0, 4, 4, 4, 4, 0]]], np.array([8]), np.array([8]), "gt")
        >>> int(mask_utils.area(r)[0])
        16
    """
    out = []
    for i, segm in enumerate(segmentations):
        h, w = int(heights[i]), int(widths[i])
        if segm is None and boxes is not None:
            segm = box_polygon(boxes[i].tolist())
        if h <= 0 or w <= 0:
            raise EvaluationInputError(
                f"{where}[{i}]: the image has no 'height'/'width' ({h}x{w}); masks need them")
        out.append(_one_rle(segm, h, w, f"{where}[{i}]"))
    return out


def _one_rle(segm: Any, h: int, w: int, where: str) -> Any:
    if isinstance(segm, list):
        if not segm or not all(isinstance(p, list) and len(p) >= 6 for p in segm):
            raise EvaluationInputError(
                f"{where}: field 'segmentation' = {str(segm)[:60]} is not a list of polygons")
        return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    if isinstance(segm, dict) and "counts" in segm:
        if isinstance(segm["counts"], list):
            return mask_utils.frPyObjects(segm, h, w)
        return segm
    raise EvaluationInputError(
        f"{where}: field 'segmentation' = {str(segm)[:60]} is neither polygons nor RLE")


def mask_areas(rles: Sequence[Any]) -> np.ndarray:
    """Pixel areas of RLE masks (as floats, like ``COCO.loadRes``).

    Example:
        >>> mask_areas(to_rles([[[0, 0, 0, 2, 2, 2, 2, 0]]], np.array([4]), np.array([4]), "x"))
        array([4.])
    """
    if not rles:
        return np.zeros(0, np.float64)
    return np.asarray(mask_utils.area(list(rles)), np.float64)


def mask_iou_block(dt_rles: Sequence[Any], gt_rles: Sequence[Any],
                   crowd: Sequence[bool]) -> np.ndarray:
    """IoU of every detection mask (rows) with every ground-truth mask (columns).

    Example:
        >>> r = to_rles([[[0, 0, 0, 4, 4, 4, 4, 0]], [[0, 0, 0, 4, 2, 4, 2, 0]]],
        ...             np.array([8, 8]), np.array([8, 8]), "x")
        >>> mask_iou_block(r[1:], r[:1], [False]).tolist()
        [[0.5]]
    """
    ious = mask_utils.iou(list(dt_rles), list(gt_rles), [int(c) for c in crowd])
    return np.asarray(ious, np.float64).reshape(len(dt_rles), len(gt_rles))
