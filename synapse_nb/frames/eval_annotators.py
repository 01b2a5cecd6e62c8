"""Annotators against the reviewed ground truth: each assignee's submitted work evaluated with
the same machinery as a model's (unscored annotations count with score 1).

Example:
    >>> work = client.list_assignments({"project": 1}, list_all=True)
    >>> annotator_quality(client, work, 2).summary.index.name
    'assignee_name'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synapse_nb.evaluation import EvaluationResult, Params
from synapse_nb.evaluation.dm import DMItem, iou_type_of
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.build import frame_meta
from synapse_nb.frames.eval_inputs import GroundTruthSource
from synapse_nb.frames.evaluation import (
    _checked_iou_type,
    _frame_items,
    evaluate_source,
    ground_truth_source,
)

if TYPE_CHECKING:
    from synapse_nb.frames.client import Client

__all__ = ["AnnotatorQuality", "annotator_quality"]


class AnnotatorQuality:
    """Each assignee's submitted work against the reviewed ground truth.

    Attributes:
        summary: One row per assignee: ``assignments``, ``data_units``, ``n_gt``, ``tp``,
            ``misses`` (ground truth the assignee did not draw), ``extras`` (drawn, not in the
            ground truth), ``confused`` (extras that overlap a ground truth of another class),
            ``precision``, ``recall``, ``agreement`` (tp / (tp + misses + extras)), then
            ``review_<outcome>`` counts of the assignments' review status.
        per_class: The same counts per ``(assignee_name, class)``.
        results: ``{assignee name: EvaluationResult}`` (unscored work counts with score 1).
    """

    def __init__(self, summary: pd.DataFrame, per_class: pd.DataFrame,
                 results: dict[str, EvaluationResult]) -> None:
        self.summary = summary
        self.per_class = per_class
        self.results = results

    def __repr__(self) -> str:
        return f"AnnotatorQuality({len(self.summary)} assignees)"

    def _repr_html_(self) -> str:
        return str(self.summary.to_html())


_COUNTS = ("n_gt", "tp", "misses", "extras", "confused")


def _counts(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    gt, pred = rows[rows["source"] == "gt"], rows[rows["source"] == "pred"]
    confused = (pred["status"] == "FP") & ~pred["matched_category"].isin(["background"]) & (
        pred["matched_category"] != pred["category"])
    parts = {
        "n_gt": gt.groupby(by).size(),
        "tp": gt[gt["status"] == "TP"].groupby(by).size(),
        "misses": gt[gt["status"] == "FN"].groupby(by).size(),
        "extras": pred[pred["status"] == "FP"].groupby(by).size(),
        "confused": pred[confused].groupby(by).size(),
    }
    out = pd.DataFrame(parts).fillna(0).astype("int64")
    out["precision"] = out["tp"] / (out["tp"] + out["extras"]).where(lambda v: v > 0)
    out["recall"] = out["tp"] / out["n_gt"].where(lambda v: v > 0)
    out["agreement"] = out["tp"] / (out["tp"] + out["misses"] + out["extras"]).where(
        lambda v: v > 0)
    return out


def _check_iou(iou: Any, kind: str, method: str) -> None:
    thresholds = Params.coco(iou_type_of(kind)).iou_thresholds
    number = isinstance(iou, float | int) and not isinstance(iou, bool)
    if not number or not np.isclose(iou, thresholds).any():
        raise InvalidInputError("iou", iou, "must be one of the protocol's IoU thresholds "
                                "0.5, 0.55, ..., 0.95", method=method)


def annotator_quality(client: Client, assignments: pd.DataFrame, ground_truth: Any,
                      iou_type: str = "bbox", *, iou: float = 0.5, progress: Any = None,
                      method: str = "annotator_quality") -> AnnotatorQuality:
    """Evaluate each assignee's submitted assignments (``status_label == "completed"``)
    against the reviewed ground truth, on the data units both cover.

    Example:
        >>> work = client.list_assignments({"project": 1}, list_all=True)
        >>> quality = annotator_quality(client, work, 2)
        >>> quality.summary.columns[:4].tolist()
        ['assignments', 'data_units', 'n_gt', 'tp']
    """
    if frame_meta(assignments).get("kind") != "assignment":
        raise InvalidInputError("assignments", f"<{frame_meta(assignments).get('kind')} frame>",
                                "must be a list_assignments() frame", method=method)
    kind = _checked_iou_type(iou_type, None, method)
    _check_iou(iou, kind, method)
    source = ground_truth_source(client, ground_truth, progress=progress, method=method)
    units = {it.data_unit: it for it in source.items}
    done = assignments[(assignments["status_label"] == "completed")
                       & assignments["data_unit_id"].isin(list(units))]
    items = {it.item: it for it in _frame_items(client, done, "assignments", method)}
    results: dict[str, EvaluationResult] = {}
    frames, summary_rows = [], []
    for name, group in done.groupby(done["assignee_name"].fillna("(unknown)"), sort=True):
        # one submission per data unit and assignee: the latest (highest id); two of them
        # would both count as predictions on the same image and double the extras
        latest: dict[int, DMItem] = {}
        for pk in sorted(int(p) for p in group.index):
            if pk in items:
                latest[items[pk].data_unit] = items[pk]
        work = list(latest.values())
        covered = sorted(latest)
        sub = GroundTruthSource([units[u] for u in covered], source.project,
                                source.configuration, source.version)
        result = evaluate_source(client, sub, None, kind, method=method, items=work)
        results[str(name)] = result
        rows = result.per_annotation(iou).assign(assignee_name=str(name))
        frames.append(rows)
        reviews = group["status_review"].astype("string").value_counts()
        summary_rows.append({"assignee_name": str(name), "assignments": len(group),
                             "data_units": len(covered),
                             **{f"review_{k}": int(v) for k, v in reviews.items()}})
    if not frames:
        raise InvalidInputError("assignments", f"<{len(assignments)} rows>",
                                "hold no submitted assignment on a data unit of the ground truth",
                                method=method)
    rows = pd.concat(frames, ignore_index=True)
    per_class = _counts(rows, ["assignee_name", "category"])
    per_class.index = per_class.index.set_names(["assignee_name", "class"])
    head = pd.DataFrame(summary_rows).set_index("assignee_name")
    reviews = [c for c in head.columns if c.startswith("review_")]
    head[reviews] = head[reviews].fillna(0).astype("int64")
    summary = head[["assignments", "data_units"]].join(_counts(rows, ["assignee_name"])).join(
        head[sorted(reviews)])
    return AnnotatorQuality(summary, per_class, results)
