"""Similarity blocks: for detection rows ``(N,)`` and ground-truth columns ``(N, G)``, an ``(N, G)``
matrix of box IoU, mask IoU or keypoint OKS.

Every formula performs the same floating-point operations in the same order as pycocotools
(``bbIou`` in its C code, ``computeOks`` in ``cocoeval.py``): an IoU one ulp off can cross a
threshold and change a match, so "close" is not enough.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from synapse_nb.evaluation._masks import mask_iou_block

__all__ = ["BlockFn", "box_block", "mask_block", "oks_block"]

BlockFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: Per-keypoint OKS sigmas of the 17 COCO person keypoints (pycocotools' defaults).
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                        .87, .87, .89, .89]) / 10.0


def box_block(dt_box: np.ndarray, gt_box: np.ndarray, crowd: np.ndarray) -> BlockFn:
    """Box IoU; a crowd ground truth divides by the detection's area only.

    Example:
        >>> f = box_block(np.array([[0., 0, 2, 2]]), np.array([[1., 0, 2, 2]]), np.array([False]))
        >>> f(np.array([0]), np.array([[0]])).round(4).tolist()
        [[0.3333]]
    """
    def block(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        d = dt_box[rows][:, None, :]
        g = gt_box[cols]
        ga = g[..., 2] * g[..., 3]
        da = d[..., 2] * d[..., 3]
        w = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0],
                                                                                 g[..., 0])
        h = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1],
                                                                                 g[..., 1])
        inter = w * h
        union = np.where(crowd[cols], da, da + ga - inter)
        ok = (w > 0) & (h > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ok, inter / np.where(ok, union, 1.0), 0.0)

    return block


def mask_block(dt_rles: Sequence[Any], gt_rles: Sequence[Any], crowd: np.ndarray) -> BlockFn:
    """Mask IoU through ``pycocotools.mask.iou``, one call per (image, class) group.

    Example:
        >>> from synapse_nb.evaluation._masks import to_rles
        >>> r = to_rles([[[0, 0, 0, 4, 4, 4, 4, 0]]] * 2, np.array([8, 8]), np.array([8, 8]), "x")
        >>> mask_block(r[:1], r[1:], np.array([False]))(np.array([0]), np.array([[0]])).tolist()
        [[1.0]]
    """
    def block(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        out = np.zeros(cols.shape, np.float64)
        # rows of one group share their column vector; its first column identifies the group
        order = np.argsort(cols[:, 0], kind="stable")
        keys = cols[order, 0]
        cuts = np.flatnonzero(np.diff(keys)) + 1
        for part in np.split(order, cuts):
            gcols = cols[part[0]]
            out[part] = mask_iou_block([dt_rles[i] for i in rows[part]],
                                       [gt_rles[j] for j in gcols], crowd[gcols])
        return out

    return block


def oks_block(dt_kp: np.ndarray, gt_kp: np.ndarray, gt_box: np.ndarray, gt_area: np.ndarray,
              sigmas: np.ndarray) -> BlockFn:
    """Object keypoint similarity for one category (all rows share ``sigmas``).

    ``dt_kp``/``gt_kp`` are ``(n, 3K)`` arrays ``[x, y, v, ...]``. A ground truth with no visible
    keypoint measures the distance to the box grown by its size on each side, as COCO does.

    Example:
        >>> kp = np.array([[10., 10, 2] * 17])
        >>> f = oks_block(kp, kp, np.array([[0., 0, 20, 20]]), np.array([400.]), COCO_SIGMAS)
        >>> f(np.array([0]), np.array([[0]])).tolist()
        [[1.0]]
    """
    variances = (sigmas * 2) ** 2
    k = len(sigmas)

    def block(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        g = gt_kp[cols][..., : 3 * k]
        d = dt_kp[rows][:, None, : 3 * k]
        xg, yg, vg = g[..., 0::3], g[..., 1::3], g[..., 2::3]
        xd, yd = d[..., 0::3], d[..., 1::3]
        visible = vg > 0
        k1 = visible.sum(-1)
        bb = gt_box[cols][..., None, :]
        x0, x1 = bb[..., 0] - bb[..., 2], bb[..., 0] + bb[..., 2] * 2
        y0, y1 = bb[..., 1] - bb[..., 3], bb[..., 1] + bb[..., 3] * 2
        zero = np.zeros(1)
        some = (k1 > 0)[..., None]
        dx = np.where(some, xd - xg, np.maximum(zero, x0 - xd) + np.maximum(zero, xd - x1))
        dy = np.where(some, yd - yg, np.maximum(zero, y0 - yd) + np.maximum(zero, yd - y1))
        area = gt_area[cols][..., None]
        e = (dx ** 2 + dy ** 2) / variances / (area + np.spacing(1)) / 2
        used = np.where(some, visible, True)
        return _mean_of_used(np.exp(-e), used)

    return block


def _mean_of_used(values: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Mean of the used entries of each last-axis vector, summed exactly as ``np.sum`` of the
    compacted 1-D array would be (numpy's pairwise summation groups by position)."""
    flat_v = values.reshape(-1, values.shape[-1])
    flat_u = used.reshape(-1, used.shape[-1])
    counts = flat_u.sum(-1)
    order = np.argsort(~flat_u, axis=-1, kind="stable")
    packed = np.take_along_axis(flat_v, order, -1)
    out = np.zeros(len(flat_v), np.float64)
    for c in np.unique(counts):
        if c == 0:
            continue
        sel = counts == c
        out[sel] = np.ascontiguousarray(packed[sel, :c]).sum(-1) / c
    return out.reshape(values.shape[:-1])
