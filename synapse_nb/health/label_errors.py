"""Label-error candidates: where one or more models' predictions disagree with the ground truth.

:func:`label_errors` takes the evaluation results of one or more models against the same
ground truth (an :class:`~synapse_nb.evaluation.EvaluationResult`, a
:class:`~synapse_nb.evaluation.Comparison` or ``{name: result}``) and lists three kinds of
candidates, judged on boxes (the evaluated predictions: at most the protocol's ``maxDets`` per
image and class; crowd ground truth is left out):

- ``class_confusion`` — a prediction with score ≥ ``min_score`` that overlaps a ground truth of
  *another* class at IoU ≥ ``iou`` while no ground truth of its own class reaches ``iou``
  (so the evaluation counts it a false positive). Score: prediction score × that IoU (the best
  such ground truth). The ground truth's class may be wrong.
- ``missing_label`` — a prediction with score ≥ ``min_score`` that overlaps no ground truth of
  any class at IoU ≥ ``background_iou``. Score: the prediction score. An object may be missing
  from the ground truth.
- ``unfound`` — a ground truth that no prediction of any model (any class, any score) overlaps
  at IoU ≥ ``iou``. Score: 1 − the highest IoU any model's prediction reaches. The box may be
  drawn on nothing, or far off its object.

Every score is in [0, 1]; higher means more likely a labelling error. Per ground-truth
annotation (:func:`annotation_scores`) the score is the **mean over the models** of each
model's best candidate score on it (0 for a model that raises none; an ``unfound`` score
already speaks for all models): a wrong label that every model contradicts outranks one
model's own confusion. Per image
(:func:`image_scores`) the score is the **maximum** over the image's annotation scores and
missing-label scores: one sure error is worth a look, while a sum would rank crowded scenes
with many weak candidates above it; the count is given next to it.

Example:
    >>> from synapse_nb.evaluation import evaluate
    >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"},
    ...       {"id": 2, "name": "bus"}], "annotations": [{"id": 1, "image_id": 1,
    ...       "category_id": 1, "bbox": [0, 0, 40, 40]}]}
    >>> res = evaluate(gt, [{"image_id": 1, "category_id": 2, "bbox": [0, 0, 40, 32],
    ...                      "score": 0.9}])
    >>> found = label_errors(res)
    >>> found[["kind", "gt_class", "pred_class"]].values.tolist()
    [['class_confusion', 'car', 'bus']]
    >>> round(float(found["score"][0]), 4)  # score 0.9 x IoU 0.8
    0.72
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.annotations.geometry import box_iou
from synapse_nb.evaluation import Comparison, EvaluationResult
from synapse_nb.health._errors import HealthInputError

__all__ = ["LABEL_ERROR_KINDS", "LabelErrorThresholds", "annotation_scores", "image_scores",
           "label_errors"]

#: The candidate kinds, in the order summaries list them.
LABEL_ERROR_KINDS = ("class_confusion", "missing_label", "unfound")

_COLUMNS = {
    "kind": "string", "score": "float64", "model": "string", "image_id": "Int64",
    "data_unit_id": "Int64", "item_id": "Int64", "gt_id": "Int64", "gt_annotation_id": "string",
    "gt_class": "string", "pred_id": "Int64", "pred_annotation_id": "string",
    "pred_class": "string", "pred_score": "float64", "iou": "float64",
}


@dataclass(frozen=True)
class LabelErrorThresholds:
    """When a prediction or a ground truth becomes a candidate (see the module docstring).

    Attributes:
        iou: Overlap at which a prediction meets a ground truth (class confusion, unfound).
        min_score: Lowest prediction score for class-confusion and missing-label candidates.
        background_iou: A prediction overlapping no ground truth at this IoU has no label.

    Example:
        >>> LabelErrorThresholds(min_score=0.8).iou
        0.5
        >>> LabelErrorThresholds(iou=1.5)
        Traceback (most recent call last):
        ...
        synapse_nb.health._errors.HealthInputError: invalid iou=1.5: must be a number in (0, 1]
    """

    iou: float = 0.5
    min_score: float = 0.5
    background_iou: float = 0.1

    def __post_init__(self) -> None:
        for name in ("iou", "min_score", "background_iou"):
            value = getattr(self, name)
            bound = "[0, 1]" if name == "min_score" else "(0, 1]"
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    (value >= 0 if name == "min_score" else value > 0) and value <= 1):
                raise HealthInputError(name, value, f"must be a number in {bound}")
        if self.background_iou > self.iou:
            raise HealthInputError("background_iou", self.background_iou,
                                   f"must not exceed iou={self.iou}")


def _named(results: Any) -> dict[str, EvaluationResult]:
    if isinstance(results, EvaluationResult):
        return {"model": results}
    if isinstance(results, Comparison):
        results = results.results
    if isinstance(results, Mapping):
        named = {str(k): v for k, v in results.items()}
    elif isinstance(results, Sequence) and not isinstance(results, str | bytes):
        named = {f"model {k}": v for k, v in enumerate(results)}
    else:
        raise HealthInputError("results", results, "must be an EvaluationResult, a Comparison, "
                               "or a list or dict of EvaluationResults")
    bad = {k: type(v).__name__ for k, v in named.items() if not isinstance(v, EvaluationResult)}
    if not named or bad:
        raise HealthInputError("results", bad or results,
                               "needs one EvaluationResult at least, and nothing else")
    return named


def _check_same_truth(named: Mapping[str, EvaluationResult]) -> None:
    first_name, first = next(iter(named.items()))
    for name, res in named.items():
        if res.run.params.iou_type == "keypoints":
            raise HealthInputError(f"results[{name!r}].iou_type", "keypoints",
                                   "label errors are judged on boxes ('bbox' or 'segm')")
        a, b = res.run.gt, first.run.gt
        same = all(np.array_equal(x, y) for x, y in (
            (a.ids, b.ids), (a.image_ids, b.image_ids), (a.image, b.image),
            (a.bbox, b.bbox))) and [a.category_names[k] for k in a.category] == [
            b.category_names[k] for k in b.category]
        if not same:
            raise HealthInputError(f"results[{name!r}]", res,
                                   f"was evaluated against other ground truth than "
                                   f"results[{first_name!r}]")


@dataclass
class _Overlaps:
    """Best overlaps of one evaluation's boxes, computed image by image.

    ``preds`` are the evaluated prediction rows, ``truth`` the non-crowd ground-truth rows;
    per prediction: ``own`` (best IoU with a ground truth of its class), ``other`` (best IoU
    with one of another class) and ``other_gt`` (that one's position in ``truth``, or -1);
    per ground truth: ``reach`` (best IoU with any prediction).
    """

    preds: np.ndarray
    truth: np.ndarray
    own: np.ndarray
    other: np.ndarray
    other_gt: np.ndarray
    reach: np.ndarray


def _overlaps(res: EvaluationResult) -> _Overlaps:
    gt, dt = res.run.gt, res.run.dt
    preds, truth = np.sort(res.run.dt_order), np.flatnonzero(~gt.crowd)
    out = _Overlaps(preds, truth, np.zeros(len(preds)), np.zeros(len(preds)),
                    np.full(len(preds), -1, np.int64), np.zeros(len(truth)))
    p_order = np.argsort(dt.image[preds], kind="stable")
    t_order = np.argsort(gt.image[truth], kind="stable")
    p_img, t_img = dt.image[preds][p_order], gt.image[truth][t_order]
    common = np.intersect1d(p_img, t_img)
    p_lo, p_hi = np.searchsorted(p_img, common, "left"), np.searchsorted(p_img, common, "right")
    t_lo, t_hi = np.searchsorted(t_img, common, "left"), np.searchsorted(t_img, common, "right")
    for a, b, c, d in zip(p_lo, p_hi, t_lo, t_hi, strict=True):
        pi, ti = p_order[a:b], t_order[c:d]
        ious = box_iou(dt.bbox[preds[pi]], gt.bbox[truth[ti]])
        same = dt.category[preds[pi]][:, None] == gt.category[truth[ti]][None, :]
        out.own[pi] = np.where(same, ious, 0.0).max(axis=1)
        other = np.where(same, 0.0, ious)
        out.other[pi] = other.max(axis=1)
        out.other_gt[pi] = ti[other.argmax(axis=1)]
        out.reach[ti] = ious.max(axis=0)
    return out


def _link(res: EvaluationResult, source: str, ids: np.ndarray, column: str) -> list[Any]:
    links = res.links
    if links is None:
        return [pd.NA] * len(ids)
    table = links.gt if source == "gt" else links.pred
    return table[column].reindex(ids).tolist()


def _rows(res: EvaluationResult, model: str, kind: str, score: np.ndarray,
          pred: np.ndarray | None, truth: np.ndarray | None, iou: np.ndarray) -> pd.DataFrame:
    gt, dt, names = res.run.gt, res.run.dt, res.run.gt.category_names
    n = len(score)
    image = dt.image[pred] if pred is not None else gt.image[truth] if truth is not None else []
    out: dict[str, Any] = {"kind": [kind] * n, "score": score, "model": [model] * n,
                           "image_id": gt.image_ids[np.asarray(image, np.int64)]}
    out["data_unit_id"] = out["image_id"] if res.links is not None else [pd.NA] * n
    gt_ids = gt.ids[truth] if truth is not None else None
    pred_ids = dt.ids[pred] if pred is not None else None
    item = (_link(res, "gt", gt_ids, "item_id") if gt_ids is not None
            else _link(res, "pred", pred_ids, "item_id") if pred_ids is not None else [])
    out["item_id"] = item
    out["gt_id"] = gt_ids if gt_ids is not None else [pd.NA] * n
    out["gt_annotation_id"] = (_link(res, "gt", gt_ids, "dm_annotation_id")
                               if gt_ids is not None else [pd.NA] * n)
    out["gt_class"] = ([names[c] for c in gt.category[truth]] if truth is not None
                       else [pd.NA] * n)
    out["pred_id"] = pred_ids if pred_ids is not None else [pd.NA] * n
    out["pred_annotation_id"] = (_link(res, "pred", pred_ids, "dm_annotation_id")
                                 if pred_ids is not None else [pd.NA] * n)
    out["pred_class"] = ([names[c] for c in dt.category[pred]] if pred is not None
                         else [pd.NA] * n)
    out["pred_score"] = dt.score[pred] if pred is not None else np.full(n, np.nan)
    out["iou"] = iou
    return pd.DataFrame(out)


def _prediction_candidates(res: EvaluationResult, model: str,
                           t: LabelErrorThresholds) -> list[pd.DataFrame]:
    dt = res.run.dt
    o = _overlaps(res)
    confident = dt.score[o.preds] >= t.min_score
    confused = confident & (o.own < t.iou) & (o.other >= t.iou)
    best_any = np.maximum(o.own, o.other)
    missing = confident & (best_any < t.background_iou)
    p, q = o.preds[confused], o.preds[missing]
    return [
        _rows(res, model, "class_confusion", dt.score[p] * o.other[confused], p,
              o.truth[o.other_gt[confused]], o.other[confused]),
        _rows(res, model, "missing_label", dt.score[q], q, None, best_any[missing]),
    ]


def _unfound(named: Mapping[str, EvaluationResult], t: LabelErrorThresholds) -> pd.DataFrame:
    first = next(iter(named.values()))
    truth = np.flatnonzero(~first.run.gt.crowd)
    reach = np.zeros(len(truth))
    for res in named.values():
        reach = np.maximum(reach, _overlaps(res).reach)
    lost = reach < t.iou
    model = ", ".join(named)
    return _rows(first, model, "unfound", 1.0 - reach[lost], None, truth[lost], reach[lost])


def label_errors(results: Any, *, thresholds: LabelErrorThresholds | None = None,
                 **overrides: Any) -> pd.DataFrame:
    """Label-error candidates of one or more models' evaluations, best candidates first.

    Args:
        results: An ``EvaluationResult``, a ``Comparison``, or a list or dict of results
            against the same ground truth (dict keys name the models).
        thresholds: The :class:`LabelErrorThresholds` (default values if None).
        **overrides: Single thresholds by name (``iou``, ``min_score``, ``background_iou``).

    Returns:
        One row per candidate, sorted by ``score`` (descending): ``kind``, ``score``,
        ``model`` (all models for ``unfound``), ``image_id`` / ``data_unit_id``,
        ``item_id``, the ground truth (``gt_id``, ``gt_annotation_id`` — the DM id that
        joins a ``df.synapse.annotations()`` frame with ``item_id`` —, ``gt_class``), the
        prediction (``pred_id``, ``pred_annotation_id``, ``pred_class``, ``pred_score``) and
        the ``iou`` the candidate rests on.

    Raises:
        HealthInputError: ``results`` or a threshold is invalid, or the results were
            evaluated against different ground truth.

    Example:
        >>> res = client.evaluate(2, {"model": 3})
        >>> found = label_errors(res, min_score=0.6)
        >>> sorted(found["kind"].unique()) == sorted(LABEL_ERROR_KINDS)
        True
        >>> bool(found["score"].is_monotonic_decreasing)
        True
    """
    named = _named(results)
    _check_same_truth(named)
    unknown = sorted(set(overrides) - {"iou", "min_score", "background_iou"})
    if unknown:
        raise HealthInputError(unknown[0], overrides[unknown[0]],
                               "is not a threshold; use iou, min_score or background_iou")
    if thresholds is not None and not isinstance(thresholds, LabelErrorThresholds):
        raise HealthInputError("thresholds", thresholds, "must be a LabelErrorThresholds")
    base = thresholds or LabelErrorThresholds()
    t = LabelErrorThresholds(**{**base.__dict__, **overrides})
    parts = [part for name, res in named.items() for part in _prediction_candidates(res, name, t)]
    parts.append(_unfound(named, t))
    frame = pd.concat([p for p in parts if len(p)] or [parts[-1]], ignore_index=True)
    frame = frame.astype(_COLUMNS)
    order = np.lexsort((frame["kind"].to_numpy(str), -frame["score"].to_numpy(float)))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.attrs["models"] = list(named)
    return frame


def annotation_scores(candidates: pd.DataFrame) -> pd.DataFrame:
    """Per ground-truth annotation: one score, the mean over the models (module docstring).

    Returns:
        One row per ground-truth annotation with a ``class_confusion`` or ``unfound``
        candidate, highest first: ``data_unit_id``, ``item_id``, ``gt_annotation_id``,
        ``gt_class``, ``label_error_score``, ``label_error_kinds``, ``n_models`` (the models
        that raised a class confusion on it).

    Example:
        >>> from synapse_nb.evaluation import evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"},
        ...       {"id": 2, "name": "bus"}], "annotations": [{"id": 1, "image_id": 1,
        ...       "category_id": 1, "bbox": [0, 0, 40, 40]}]}
        >>> bus = [{"image_id": 1, "category_id": 2, "bbox": [0, 0, 40, 40], "score": 0.8}]
        >>> found = label_errors({"a": evaluate(gt, bus), "b": evaluate(gt, [])})
        >>> annotation_scores(found)[["gt_id", "label_error_score", "n_models"]].values.tolist()
        [[1, 0.4, 1]]
    """
    _check_candidates(candidates)
    n_models = max(len(candidates.attrs.get("models", ())), 1)
    rows = candidates[candidates["kind"] != "missing_label"]
    key = ["image_id", "gt_id"]
    best = rows.groupby([*key, "kind", "model"], sort=False)["score"].max().reset_index()
    confusion = best["kind"] == "class_confusion"
    best.loc[confusion, "score"] = best.loc[confusion, "score"] / n_models
    grouped = best.groupby(key, sort=False)
    first = rows.drop_duplicates(key).set_index(key)
    out = pd.DataFrame({
        "data_unit_id": first["data_unit_id"], "item_id": first["item_id"],
        "gt_annotation_id": first["gt_annotation_id"], "gt_class": first["gt_class"],
        "label_error_score": grouped["score"].sum().clip(upper=1.0),
        "label_error_kinds": grouped["kind"].agg(lambda k: ", ".join(sorted(set(k)))),
        "n_models": best[confusion].groupby(key)["model"].nunique().reindex(
            first.index, fill_value=0).astype("int64"),
    })
    out = out.sort_values("label_error_score", ascending=False, kind="stable")
    return out.reset_index()


def _check_candidates(candidates: Any) -> None:
    if not isinstance(candidates, pd.DataFrame) or not set(_COLUMNS) <= set(candidates.columns):
        raise HealthInputError("candidates", type(candidates).__name__,
                               "must be the frame label_errors() returns")


def image_scores(candidates: pd.DataFrame) -> pd.DataFrame:
    """Per image: the highest score, the number of candidates and their kinds.

    The scores are the images' :func:`annotation_scores` and their missing-label candidates'
    scores. The maximum, not the sum: one sure error is worth reviewing, and a sum would rank
    crowded scenes with many weak candidates above it.

    Example:
        >>> from synapse_nb.evaluation import evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
        ...                        "bbox": [0, 0, 40, 40]}]}
        >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [60, 60, 9, 9],
        ...                      "score": 0.7}])
        >>> image_scores(label_errors(res)).values.tolist()
        [[1, 1.0, 2, 'missing_label, unfound']]
    """
    per_ann = annotation_scores(candidates)
    missing = candidates[candidates["kind"] == "missing_label"]
    scored = pd.DataFrame({
        "image_id": [*per_ann["image_id"], *missing["image_id"]],
        "score": [*per_ann["label_error_score"], *missing["score"]],
        "kind": [*per_ann["label_error_kinds"], *missing["kind"]],
    }).astype({"image_id": "Int64", "score": "float64"})
    grouped = scored.groupby("image_id", sort=False)
    out = pd.DataFrame({
        "label_error_score": grouped["score"].max(),
        "n_label_errors": grouped["score"].size(),
        "label_error_kinds": grouped["kind"].agg(
            lambda k: ", ".join(sorted({part for kinds in k for part in kinds.split(", ")}))),
    })
    out = out.sort_values("label_error_score", ascending=False, kind="stable")
    return out.reset_index()
