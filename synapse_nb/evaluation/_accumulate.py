"""Precision/recall tables and the COCO summary, from per-detection match codes.

Reproduces ``COCOeval.accumulate``: per class, detections of all images are sorted by score
(stable: ties keep image order, then rank), cumulative TP/FP give recall and precision,
precision is made monotone from the right and read at 101 recall points (``searchsorted``
left; points beyond the last recall stay 0). Classes without a non-ignored ground truth keep -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synapse_nb.evaluation._matching import FP, TP

__all__ = ["Tables", "accumulate", "mean_valid"]


@dataclass
class Tables:
    """``precision``/``scores`` ``(T, R, K, A, M)`` and ``recall`` ``(T, K, A, M)``; -1 = absent."""

    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray


def accumulate(codes: np.ndarray, dt_category: np.ndarray, dt_image: np.ndarray,
               dt_rank: np.ndarray, dt_score: np.ndarray, n_positive: np.ndarray,
               rec_thresholds: np.ndarray, max_dets: tuple[int, ...]) -> Tables:
    """Build the tables; ``n_positive`` is ``(K, A)``, the non-ignored ground truths.

    Example:
        >>> codes = np.array([[[1]], [[0]]], np.int8)       # A=1, T=1: a TP then an FP
        >>> t = accumulate(codes, np.array([0, 0]), np.array([0, 0]), np.array([0, 1]),
        ...                np.array([.9, .8]), np.array([[1]]), np.linspace(0, 1, 3), (100,))
        >>> t.precision[0, :, 0, 0, 0].round(6).tolist(), t.recall.ravel().tolist()
        ([1.0, 1.0, 1.0], [1.0])
    """
    n_area, n_thr = codes.shape[1], codes.shape[2]
    n_cat, n_rec, n_m = n_positive.shape[0], len(rec_thresholds), len(max_dets)
    precision = -np.ones((n_thr, n_rec, n_cat, n_area, n_m))
    scores = -np.ones((n_thr, n_rec, n_cat, n_area, n_m))
    recall = -np.ones((n_thr, n_cat, n_area, n_m))
    order = np.lexsort((dt_rank, dt_image, -dt_score, dt_category))
    codes_sorted = codes[order]
    rank_sorted, score_sorted = dt_rank[order], dt_score[order]
    bounds = np.searchsorted(dt_category[order], np.arange(n_cat + 1))
    for k in range(n_cat):
        areas = np.flatnonzero(n_positive[k] > 0)
        if len(areas) == 0:
            continue
        part = slice(bounds[k], bounds[k + 1])
        for m, max_det in enumerate(max_dets):
            keep = rank_sorted[part] < max_det
            code = codes_sorted[part][:, areas]
            score = score_sorted[part]
            if not keep.all():
                code, score = code[keep], score[keep]
            p, r, s = _curves(code, n_positive[k, areas], score, rec_thresholds)
            precision[:, :, k, areas, m] = p.transpose(1, 2, 0)
            recall[:, k, areas, m] = r.T
            scores[:, :, k, areas, m] = s.transpose(1, 2, 0)
    return Tables(precision=precision, recall=recall, scores=scores)


def _curves(code: np.ndarray, npig: np.ndarray, score_sorted: np.ndarray,
            rec_thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Curves for codes ``(nd, A, T)`` in score order; returns ``(A, T, R)``, ``(A, T)``, ...

    Cumulative sums run down axis 0 (vectorised across the A×T columns); integer counts are
    exact, so ``tp / npig`` and ``tp / (fp + tp + eps)`` equal pycocotools' float versions.
    """
    nd, n_area, n_thr = code.shape
    q = np.zeros((n_area, n_thr, len(rec_thresholds)))
    ss = np.zeros((n_area, n_thr, len(rec_thresholds)))
    if nd == 0:
        return q, np.zeros((n_area, n_thr)), ss
    tp = np.cumsum(code == TP, axis=0)
    fp = np.cumsum(code == FP, axis=0)
    rc = tp / npig[None, :, None]
    pr = tp / (fp + tp + np.spacing(1))
    pr = np.maximum.accumulate(pr[::-1], axis=0)[::-1]
    for a in range(n_area):
        for t in range(n_thr):
            inds = np.searchsorted(rc[:, a, t], rec_thresholds, side="left")
            ok = inds < nd
            q[a, t, ok] = pr[inds[ok], a, t]
            ss[a, t, ok] = score_sorted[inds[ok]]
    return q, rc[-1], ss


def mean_valid(values: np.ndarray) -> float:
    """Mean of the entries > -1, or -1 when there are none (COCO's summary rule).

    Example:
        >>> mean_valid(np.array([-1.0, 0.5, 1.0])), mean_valid(-np.ones(3))
        (0.75, -1.0)
    """
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0
