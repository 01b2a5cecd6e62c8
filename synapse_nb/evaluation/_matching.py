"""COCO greedy matching, vectorised across (image, class) groups.

pycocotools matches one detection at a time: in score order, each detection takes the
still-free ground truth of highest IoU above the threshold (ties go to the later one), trying
ground truths that are not ignored first and ignored ones (crowd, or outside the area range)
only when no other qualifies; a crowd ground truth can absorb any number of detections.

The only sequential dependency is *within* a group, along the detection rank. So we process
rank ``r`` of every group at once: groups are bucketed by their number of ground truths ``G``
(no padding), sorted by their number of detections (the groups still active at rank ``r`` are
a prefix), and each step decides all area ranges × thresholds × groups with a handful of numpy
operations. "Highest IoU, ties to the later one, non-ignored first" becomes one ``argmax`` over
an integer key: the IoU's rank within its row (ties ordered by column) plus ``G`` for the
non-ignored. Memory is bounded by processing at most ``_BLOCK`` (group × G) cells at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synapse_nb.evaluation._iou import BlockFn

__all__ = ["FP", "IGNORED", "TP", "MatchInput", "greedy_match", "group_runs"]

FP, TP, IGNORED = 0, 1, 2
_BLOCK = 1 << 17


@dataclass
class MatchInput:
    """Sorted inputs of the matcher.

    Ground truths are sorted by ``gt_key`` (stable, so a group keeps its input order) and
    detections by ``dt_key`` then rank (score descending, stable).

    Attributes:
        gt_key, dt_key: group key of each row (image, or image × category).
        gt_ignore: ``(A, n_gt)`` ignored per area range (crowd, out of range, no keypoints).
        gt_crowd: ``(n_gt,)`` crowd flags (may match many detections).
        gt_zero_id: ``(n_gt,)`` the annotation id is 0 (pycocotools then counts the match as
            a miss, since it tests ``dtMatches`` for truth; reproduced for equal numbers).
        dt_out: ``(A, n_dt)`` the detection's area is outside the range.
        bucket_of_key: optional extra bucket split per group key (e.g. category for OKS).
    """

    gt_key: np.ndarray
    dt_key: np.ndarray
    gt_ignore: np.ndarray
    gt_crowd: np.ndarray
    gt_zero_id: np.ndarray
    dt_out: np.ndarray
    thresholds: np.ndarray
    block: BlockFn
    bucket_of_key: np.ndarray | None = None
    bucket_key_values: np.ndarray | None = None


def group_runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique keys of a sorted array, with the start and length of each run.

    Example:
        >>> [a.tolist() for a in group_runs(np.array([3, 3, 5, 9, 9, 9]))]
        [[3, 5, 9], [0, 2, 3], [2, 1, 3]]
    """
    if len(sorted_keys) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    lengths = np.diff(np.r_[starts, len(sorted_keys)])
    return sorted_keys[starts], starts, lengths


def greedy_match(inp: MatchInput, keep_area: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Match every detection; return codes ``(n_dt, A, T)`` (FP/TP/IGNORED, int8) and, for
    area range ``keep_area``, the matched ground-truth row ``(T, n_dt)`` (-1 when none).

    Example:
        >>> from synapse_nb.evaluation._iou import box_block
        >>> gt = np.array([[0., 0, 10, 10]]); dt = np.array([[0., 0, 10, 10], [0., 0, 10, 9]])
        >>> inp = MatchInput(np.array([0]), np.array([0, 0]), np.zeros((1, 1), bool),
        ...     np.zeros(1, bool), np.zeros(1, bool), np.zeros((1, 2), bool), np.array([.5]),
        ...     box_block(dt, gt, np.zeros(1, bool)))
        >>> codes, match = greedy_match(inp)
        >>> codes.tolist(), match.tolist()
        ([[[1]], [[0]]], [[0, -1]])
    """
    n_thr, n_dt = len(inp.thresholds), len(inp.dt_key)
    codes = np.where(inp.dt_out.T, IGNORED, FP).astype(np.int8)[:, :, None].repeat(n_thr, 2)
    match = np.full((n_thr, n_dt), -1, np.int32 if n_dt < 2**31 else np.int64)
    dkeys, dstart, dlen = group_runs(inp.dt_key)
    gkeys, gstart, glen = group_runs(inp.gt_key)
    pos = np.minimum(np.searchsorted(gkeys, dkeys), max(len(gkeys) - 1, 0))
    has_gt = (gkeys[pos] == dkeys) if len(gkeys) else np.zeros(len(dkeys), bool)
    dstart, dlen, dkeys = dstart[has_gt], dlen[has_gt], dkeys[has_gt]
    gstart, glen = gstart[pos[has_gt]], glen[pos[has_gt]]
    extra = (np.zeros(len(dkeys), np.int64)
             if inp.bucket_of_key is None or inp.bucket_key_values is None
             else inp.bucket_of_key[np.searchsorted(inp.bucket_key_values, dkeys)])
    order = np.lexsort((-dlen, glen, extra))
    dstart, dlen, gstart, glen, extra = (a[order] for a in (dstart, dlen, gstart, glen, extra))
    _, bstart, blen = group_runs(glen * (extra.max(initial=0) + 1) + extra)
    for b0, bn in zip(bstart.tolist(), blen.tolist(), strict=True):
        n_gt = int(glen[b0])
        step = max(1, _BLOCK // n_gt)
        for c0 in range(b0, b0 + bn, step):
            c1 = min(c0 + step, b0 + bn)
            _match_chunk(inp, dstart[c0:c1], dlen[c0:c1], gstart[c0:c1], n_gt, codes, match,
                         keep_area)
    return codes, match


def _ranks_within_rows(block: np.ndarray) -> np.ndarray:
    """1-based rank of each value in its row; equal values rank by column (later = higher)."""
    order = np.argsort(block, axis=1, kind="stable")
    dtype = np.int16 if block.shape[1] < 8000 else np.int32
    ranks = np.empty(block.shape, dtype)
    np.put_along_axis(ranks, order, np.arange(1, block.shape[1] + 1, dtype=dtype)[None, :], 1)
    return ranks


def _match_chunk(inp: MatchInput, dstart: np.ndarray, dlen: np.ndarray, gstart: np.ndarray,
                 n_gt: int, codes: np.ndarray, match: np.ndarray, keep_area: int) -> None:
    """Match the detections of groups that all have ``n_gt`` ground truths.

    Arrays are laid out ground-truth-major (``G`` first) so that choosing the best ground truth
    is ``G`` elementwise passes over long contiguous rows, not an ``argmax`` over a short axis.
    """
    n_groups = len(dstart)
    n_area, n_thr = inp.dt_out.shape[0], len(inp.thresholds)
    cols = gstart[:, None] + np.arange(n_gt)[None, :]
    active = [int(np.count_nonzero(dlen > r)) for r in range(int(dlen[0]))]
    rows = np.concatenate([dstart[:n] + r for r, n in enumerate(active)])
    block = inp.block(rows, np.concatenate([cols[:n] for n in active]))
    ranks = np.ascontiguousarray(_ranks_within_rows(block).T)
    ious = np.ascontiguousarray(block.T)
    crowd = inp.gt_crowd[cols].T
    # non-ignored ground truths outrank every ignored one: their key is lifted by G
    prio = np.where(inp.gt_ignore[:, cols], 0, n_gt).astype(ranks.dtype).transpose(2, 0, 1)
    zero_id = inp.gt_zero_id[cols]
    free = np.ones((n_gt, n_area, n_thr, n_groups), bool)
    thr = np.minimum(inp.thresholds, 1 - 1e-10)[:, None]  # pycocotools' cap: IoU 1.0 can match
    stride = np.arange(n_area * n_thr).reshape(n_area, n_thr, 1) * n_groups
    off = 0
    for n in active:
        sl = slice(off, off + n)
        rws = rows[sl]
        off += n
        best_key = np.zeros((n_area, n_thr, n), ranks.dtype)
        best = np.zeros((n_area, n_thr, n), np.intp)
        for g in range(n_gt):
            key = np.where(free[g, :, :, :n] & (ious[g, sl] >= thr),
                           (ranks[g, sl] + prio[g, :, :n])[:, None, :], 0)
            better = key > best_key
            best_key = np.where(better, key, best_key)
            best[better] = g
        hit = best_key > 0
        grp = np.arange(n)
        consume = hit & ~crowd[best, grp]
        free.reshape(-1)[(best * (n_area * n_thr * n_groups) + stride + grp)[consume]] = False
        real = hit & ~zero_id[grp, best]
        ignored = (hit & (best_key <= n_gt)) | (~real & inp.dt_out[:, rws][:, None, :])
        codes[rws] = np.where(ignored, IGNORED, real).astype(np.int8).transpose(2, 0, 1)
        match[:, rws] = np.where(hit[keep_area], cols[grp, best[keep_area]], -1)
