"""Per-annotation and per-image frames of an evaluation at one IoU threshold (area 'all')."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synapse_nb.evaluation._confusion import agnostic_match
from synapse_nb.evaluation._matching import IGNORED, TP

if TYPE_CHECKING:
    from synapse_nb.evaluation.result import EvaluationResult

__all__ = ["per_annotation_frame", "per_image_frame"]


def _pair_ious(result: EvaluationResult, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Similarity of matched pairs (positions in matching order), one category at a time."""
    run = result.run
    out = np.full(len(rows), np.nan)
    cats = run.gt.category[run.gt_order[cols]] if len(cols) else np.zeros(0, np.int64)
    for k in np.unique(cats):
        sel = cats == k
        out[sel] = run.block(rows[sel], cols[sel][:, None])[:, 0]
    return out


def _gt_matches(result: EvaluationResult, t: int) -> tuple[np.ndarray, np.ndarray]:
    """For each ground truth (matching order): the matching prediction position or -1."""
    run = result.run
    code = run.codes[:, 0, t]
    match = run.match[t]
    by_gt = np.full(len(run.gt_order), -1, np.int64)
    paired = np.flatnonzero(match >= 0)
    by_gt[match[paired]] = paired
    return by_gt, code


def _ids_at(ids: np.ndarray, rows: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``ids[rows[positions]]`` with -1 positions read as 0 (no rows at all: all zeros)."""
    if not len(rows):
        return np.zeros(len(positions), ids.dtype)
    return ids[rows[np.maximum(positions, 0)]]


def per_annotation_frame(result: EvaluationResult, t: int, iou: float) -> pd.DataFrame:
    """Rows for every ground truth and every evaluated prediction (see ``per_annotation``)."""
    run = result.run
    gt, dt, names = run.gt, run.dt, np.array([*run.gt.category_names, "background"], object)
    by_gt, code = _gt_matches(result, t)
    match = run.match[t]
    dpos = np.arange(len(run.dt_order))
    paired = match >= 0
    pair_iou = _pair_ious(result, dpos[paired], match[paired])
    d_iou = np.full(len(dpos), np.nan)
    d_iou[paired] = pair_iou
    g_iou = np.full(len(run.gt_order), np.nan)
    g_iou[match[paired]] = pair_iou
    d_status = np.where(code == TP, "TP", np.where(code == IGNORED, "ignored", "FP"))
    g_status = np.where(run.gt_ignore[0], "ignored", np.where(by_gt >= 0, "TP", "FN"))
    d_cat, g_cat = _agnostic_categories(result, iou)
    d_rows, g_rows = run.dt_order, run.gt_order
    pred = pd.DataFrame({
        "source": "pred", "annotation_id": dt.ids[d_rows],
        "image_id": gt.image_ids[dt.image[d_rows]], "category": names[dt.category[d_rows]],
        "score": dt.score[d_rows], "area": dt.area[d_rows], "status": d_status,
        "matched_id": pd.array(np.where(paired, _ids_at(gt.ids, g_rows, match), 0),
                               dtype="Int64"),
        "iou": d_iou, "matched_category": names[d_cat[d_rows]]})
    pred.loc[~paired, "matched_id"] = pd.NA
    truth = pd.DataFrame({
        "source": "gt", "annotation_id": gt.ids[g_rows],
        "image_id": gt.image_ids[gt.image[g_rows]], "category": names[gt.category[g_rows]],
        "score": np.nan, "area": gt.area[g_rows], "status": g_status,
        "matched_id": pd.array(np.where(by_gt >= 0, _ids_at(dt.ids, d_rows, by_gt), 0),
                               dtype="Int64"),
        "iou": g_iou, "matched_category": names[g_cat[g_rows]]})
    truth.loc[by_gt < 0, "matched_id"] = pd.NA
    frame = pd.concat([truth, pred], ignore_index=True)
    frame = frame.sort_values(["image_id", "source", "annotation_id"], kind="stable",
                              ignore_index=True)
    return _with_links(result, frame)


def _with_links(result: EvaluationResult, frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``data_unit_id``, ``item_id`` and ``dm_annotation_id`` when the result has links."""
    links = result.links
    if links is None:
        return frame
    out = frame.copy()
    out["data_unit_id"] = pd.array(out["image_id"], dtype="Int64")
    for column in ("item_id", "dm_annotation_id"):
        values = pd.Series(pd.NA, index=out.index, dtype=links.gt[column].dtype)
        for source, table in (("gt", links.gt), ("pred", links.pred)):
            sel = out["source"] == source
            values[sel] = table[column].reindex(out.loc[sel, "annotation_id"]).to_numpy()
        out[column] = values
    return out


def _agnostic_categories(result: EvaluationResult, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Category index each prediction / ground truth met across classes (K = background)."""
    run = result.run
    n_cat = len(run.gt.category_ids)
    d_cat = np.full(len(run.dt), n_cat, np.int64)
    g_cat = np.full(len(run.gt), n_cat, np.int64)
    if run.params.iou_type == "keypoints":
        return d_cat, g_cat
    m = agnostic_match(run, iou)
    hit = m.dt_gt >= 0
    d_cat[m.dt_rows[hit]] = run.gt.category[m.dt_gt[hit]]
    g_hit = m.gt_dt >= 0
    g_cat[g_hit] = run.dt.category[m.gt_dt[g_hit]]
    return d_cat, g_cat


def per_image_frame(result: EvaluationResult, t: int) -> pd.DataFrame:
    """Counts per image at threshold index ``t``, worst first."""
    run = result.run
    n_img = len(run.gt.image_ids)
    by_gt, code = _gt_matches(result, t)
    d_img = run.dt.image[run.dt_order]
    g_img = run.gt.image[run.gt_order]
    counted = ~run.gt_ignore[0]
    frame = pd.DataFrame({
        "image_id": run.gt.image_ids,
        "n_gt": np.bincount(g_img[counted], minlength=n_img),
        "n_pred": np.bincount(d_img, minlength=n_img),
        "tp": np.bincount(d_img[code == TP], minlength=n_img),
        "fp": np.bincount(d_img[code == 0], minlength=n_img),
        "fn": np.bincount(g_img[counted & (by_gt < 0)], minlength=n_img)})
    frame["errors"] = frame["fp"] + frame["fn"]
    if result.links is not None:
        frame.insert(1, "data_unit_id", pd.array(frame["image_id"], dtype="Int64"))
    return frame.sort_values(["errors", "tp", "image_id"], ascending=[False, True, True],
                             kind="stable", ignore_index=True)
