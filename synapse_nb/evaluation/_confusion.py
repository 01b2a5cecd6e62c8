"""Class-agnostic matching for the confusion matrix.

COCO matching is per class, so it cannot say that a ``truck`` box sat on a ``car``. As is
customary (FiftyOne, Ultralytics), the confusion matrix matches across classes instead: per
image, predictions at or above ``score_threshold`` (at most the protocol's last ``maxDets``) are
taken in score order and each takes the free ground truth of highest IoU ≥ ``iou``, with the
same greedy rule as COCO; crowd ground truths absorb predictions without counting. A matched
pair counts in (true class, predicted class); an unmatched ground truth in (class,
background); an unmatched prediction in (background, class).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synapse_nb.evaluation._engine import Run, block_for
from synapse_nb.evaluation._inputs import EvaluationInputError
from synapse_nb.evaluation._matching import TP, MatchInput, greedy_match, group_runs

__all__ = ["AgnosticMatch", "agnostic_match", "confusion_counts"]


@dataclass
class AgnosticMatch:
    """Pairs of the class-agnostic matching, in original row numbers.

    Attributes:
        dt_rows: predictions taken into account.
        dt_gt: for each, the matched ground-truth row or -1; ``dt_crowd`` marks crowd matches.
        gt_dt: for every ground-truth row, the matched prediction row or -1.
    """

    dt_rows: np.ndarray
    dt_gt: np.ndarray
    dt_crowd: np.ndarray
    gt_dt: np.ndarray


def agnostic_match(run: Run, iou: float, score_threshold: float = 0.0) -> AgnosticMatch:
    """Match predictions to ground truth across classes (see the module docstring).

    Example:
        >>> from synapse_nb.evaluation import evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"},
        ...       {"id": 2, "name": "truck"}], "annotations": [{"id": 1, "image_id": 1,
        ...       "category_id": 1, "bbox": [0, 0, 10, 10]}]}
        >>> res = evaluate(gt, [{"image_id": 1, "category_id": 2, "bbox": [0, 0, 10, 10],
        ...                      "score": 0.9}])
        >>> m = agnostic_match(res.run, 0.5)
        >>> m.dt_gt.tolist(), m.gt_dt.tolist()
        ([0], [0])
    """
    if run.params.iou_type == "keypoints":
        raise EvaluationInputError(
            "iou_type = 'keypoints': the confusion matrix needs one similarity across classes; "
            "OKS sigmas are per class (use the per-class tables)")
    if not 0.0 < iou <= 1.0:
        raise EvaluationInputError(f"iou = {iou!r} is not in (0, 1]")
    gt, dt = run.gt, run.dt
    cand = np.flatnonzero(dt.score >= score_threshold)
    order = cand[np.lexsort((-dt.score[cand], dt.image[cand]))]
    _, starts, lengths = group_runs(dt.image[order])
    rank = np.arange(len(order)) - np.repeat(starts, lengths)
    d_order = order[rank < run.params.max_dets[-1]]
    g_order = np.argsort(gt.image, kind="stable")
    crowd = gt.crowd[g_order]
    inp = MatchInput(
        gt_key=gt.image[g_order], dt_key=dt.image[d_order], gt_ignore=crowd[None, :],
        gt_crowd=crowd, gt_zero_id=np.zeros(len(g_order), bool),
        dt_out=np.zeros((1, len(d_order)), bool), thresholds=np.array([iou], np.float64),
        block=block_for(gt, dt, g_order, d_order, run.params, None)[0])
    codes, match = greedy_match(inp)
    hit = match[0] >= 0
    # no ground truth at all: nothing to index, every prediction is unmatched
    dt_gt = np.where(hit, g_order[np.maximum(match[0], 0)], -1) if len(g_order) else np.full(
        len(d_order), -1, np.int64)
    gt_dt = np.full(len(gt), -1, np.int64)
    real = codes[:, 0, 0] == TP
    gt_dt[dt_gt[real]] = d_order[real]
    return AgnosticMatch(dt_rows=d_order, dt_gt=dt_gt, dt_crowd=hit & ~real, gt_dt=gt_dt)


def confusion_counts(run: Run, match: AgnosticMatch) -> np.ndarray:
    """``(K+1, K+1)`` counts: rows true class, columns predicted class, last = background.

    Example:
        >>> from synapse_nb.evaluation import evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"},
        ...       {"id": 2, "name": "truck"}], "annotations": [{"id": 1, "image_id": 1,
        ...       "category_id": 1, "bbox": [0, 0, 10, 10]}]}
        >>> res = evaluate(gt, [{"image_id": 1, "category_id": 2, "bbox": [0, 0, 10, 10],
        ...                      "score": 0.9}])
        >>> confusion_counts(res.run, agnostic_match(res.run, 0.5)).tolist()
        [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    """
    n_cat = len(run.gt.category_ids)
    out = np.zeros((n_cat + 1, n_cat + 1), np.int64)
    gt_cat, dt_cat = run.gt.category, run.dt.category
    rows = match.dt_rows[~match.dt_crowd]
    paired = match.dt_gt[~match.dt_crowd]
    true = np.where(paired >= 0, gt_cat[np.maximum(paired, 0)], n_cat)
    np.add.at(out, (true, dt_cat[rows]), 1)
    missed = np.flatnonzero((match.gt_dt < 0) & ~run.gt.crowd)
    np.add.at(out, (gt_cat[missed], np.full(len(missed), n_cat)), 1)
    return out
