"""Label-level views of an evaluation: every ground truth and prediction as one row of an
annotations-shaped frame, filtered by evaluation status, class and score.

:func:`evaluation_labels` turns an :class:`~synapse_nb.evaluation.EvaluationResult` into
the frame; :func:`filter_labels` keeps only TP / FP / FN, some classes, predictions above a
confidence threshold; :func:`confusion_cell` picks the annotations behind one cell of the
confusion matrix. The evaluation package numbers images and annotations its own way (COCO
ids), so the caller says which task each COCO image is: ``images`` maps a COCO image id to a
task id.

Columns of the label frame (one row per annotation):

==================  ===================================================================
``task_id``         the task of the image (from ``images``)
``image_id``        the COCO image id
``source``          ``gt`` (ground truth) or ``pred`` (prediction)
``annotation_id``   the COCO annotation id (a string, like the annotations view's ids)
``tool``            ``bounding_box``
``class_name``      the annotation's class (categorical, like ``status`` and ``source``)
``x y w h area``    the box (px) and the evaluated area
``score``           confidence of a prediction (NaN for ground truth)
``status``          ``TP``, ``FP``, ``FN`` (or ``ignored`` for crowd regions)
``matched_id``      the COCO id of the per-class match (NA when none)
``iou``             IoU with that match
``matched_class``   the class met in the class-agnostic matching of the confusion matrix
                    (``background`` when none)
==================  ===================================================================

Example:
    >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
    >>> gt, preds = coco_from_per_image(
    ...     {"7": [{"label": "car", "bbox": [0, 0, 40, 40]}]},
    ...     {"7": [{"label": "truck", "bbox": [0, 0, 40, 40], "score": 0.8}]})
    >>> labels = evaluation_labels(evaluate(gt, preds), images={1: 7})
    >>> labels[["task_id", "source", "class_name", "status", "matched_class"]].values.tolist()
    [[7, 'gt', 'car', 'FN', 'truck'], [7, 'pred', 'truck', 'FP', 'car']]
    >>> confusion_cell(labels, "car", "truck")["source"].tolist()
    ['gt', 'pred']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.evaluation import EvaluationResult
from synapse_nb.exceptions import InvalidInputError

__all__ = [
    "BACKGROUND",
    "LABEL_STATUSES",
    "cell_mask",
    "confusion_cell",
    "evaluation_labels",
    "filter_labels",
    "label_mask",
]

#: Evaluation statuses of a label (``ignored``: matched a crowd region, counts neither way).
LABEL_STATUSES = ("TP", "FP", "FN", "ignored")
#: The confusion matrix's row/column for misses and false positives.
BACKGROUND = "background"
_SOURCES = ("gt", "pred")


def _boxes(ids: np.ndarray, all_ids: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    order = np.argsort(all_ids, kind="stable")
    pos = order[np.searchsorted(all_ids[order], ids)]
    return boxes[pos]


def _task_ids(image_ids: np.ndarray, images: Mapping[Any, Any] | pd.Series) -> np.ndarray:
    if not isinstance(images, Mapping | pd.Series):
        raise InvalidInputError("images", type(images).__name__,
                                "must map COCO image ids to task ids", method="evaluation_labels")
    mapping = images if isinstance(images, pd.Series) else pd.Series(dict(images), dtype=object)
    unique = np.unique(image_ids)
    missing = [int(i) for i in unique if i not in mapping.index]
    if missing:
        raise InvalidInputError("images", missing[:10], "are COCO image ids with no task id",
                                method="evaluation_labels")
    lookup = mapping.reindex(unique)
    return np.asarray(lookup.to_numpy()[np.searchsorted(unique, image_ids)], dtype=np.int64)


def evaluation_labels(
    result: EvaluationResult, images: Mapping[Any, Any] | pd.Series, *, iou: float = 0.5
) -> pd.DataFrame:
    """Every ground truth and prediction of ``result`` at ``iou``, with its task and box.

    Args:
        result: A bbox or segm :class:`~synapse_nb.evaluation.EvaluationResult`.
        images: COCO image id -> task id (a dict or a Series).
        iou: IoU threshold of the matching (one of the protocol's thresholds).

    Returns:
        The label frame (columns in the module docstring), ordered by task, source, id.

    Raises:
        InvalidInputError: ``images`` misses an image of the result.

    Example:
        >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
        >>> gt, preds = coco_from_per_image({"a": [{"label": "car", "bbox": [0, 0, 9, 9]}]},
        ...     {"a": [{"label": "car", "bbox": [50, 50, 9, 9], "score": 0.3}]})
        >>> evaluation_labels(evaluate(gt, preds), {1: 3})["status"].tolist()
        ['FN', 'FP']
    """
    if not isinstance(result, EvaluationResult):
        raise InvalidInputError("result", type(result).__name__, "must be an EvaluationResult",
                                method="evaluation_labels")
    per = result.per_annotation(iou)
    run = result.run
    is_gt = (per["source"] == "gt").to_numpy()
    ids = per["annotation_id"].to_numpy(np.int64)
    box = np.zeros((len(per), 4), np.float64)
    if is_gt.any():
        box[is_gt] = _boxes(ids[is_gt], run.gt.ids, run.gt.bbox)
    if (~is_gt).any():
        box[~is_gt] = _boxes(ids[~is_gt], run.dt.ids, run.dt.bbox)
    image_ids = per["image_id"].to_numpy(np.int64)
    # categoricals: millions of rows compare by integer code (a click must stay fast)
    names = pd.CategoricalDtype([*result.run.gt.category_names, BACKGROUND])
    frame = pd.DataFrame({
        "task_id": _task_ids(image_ids, images), "image_id": image_ids,
        "source": per["source"].astype("category"), "annotation_id": ids.astype(str),
        "tool": "bounding_box", "class_name": per["category"].astype(names),
        "x": box[:, 0], "y": box[:, 1], "w": box[:, 2], "h": box[:, 3],
        "area": per["area"].to_numpy(np.float64), "score": per["score"].to_numpy(np.float64),
        "status": per["status"].astype(pd.CategoricalDtype(LABEL_STATUSES)),
        "matched_id": per["matched_id"],
        "iou": per["iou"].to_numpy(np.float64),
        "matched_class": per["matched_category"].astype(names),
    })
    frame = frame.sort_values(["task_id", "source"], kind="stable", ignore_index=True)
    frame.attrs["synapse"] = {"kind": "evaluation_label", "owner": "task_id", "iou": iou}
    return frame


def _names(value: Any, field: str, allowed: Iterable[str] | None = None) -> set[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, Iterable) or not all(isinstance(v, str) for v in values):
        raise InvalidInputError(field, value, "must be a name or a list of names",
                                method="filter_labels")
    chosen = set(values)
    if allowed is not None:
        unknown = sorted(chosen - set(allowed))
        if unknown:
            raise InvalidInputError(field, unknown, f"must be among {list(allowed)}",
                                    method="filter_labels")
    return chosen


#: the names ``EvaluationResult.per_annotation()`` gives the label frame's class columns
_PER_ANNOTATION_NAMES = {"category": "class_name", "matched_category": "matched_class"}


def _columns(labels: Any, method: str) -> dict[str, pd.Series]:
    """The columns the filters read, from a label frame or a ``per_annotation()`` frame."""
    if not isinstance(labels, pd.DataFrame):
        raise InvalidInputError("labels", type(labels).__name__,
                                "must be a frame from evaluation_labels() or per_annotation()",
                                method=method)
    columns = {_PER_ANNOTATION_NAMES.get(str(c), str(c)): labels[c] for c in labels.columns}
    missing = sorted({"source", "class_name", "status", "score", "matched_class"} - set(columns))
    if missing:
        raise InvalidInputError("labels", missing, "are missing: give a frame from "
                                "evaluation_labels() or per_annotation()", method=method)
    return columns


def label_mask(
    labels: pd.DataFrame,
    *,
    status: str | Iterable[str] | None = None,
    classes: str | Iterable[str] | None = None,
    min_score: float | None = None,
    source: str | None = None,
) -> np.ndarray:
    """The boolean row mask behind :func:`filter_labels` (same arguments).

    Example:
        >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
        >>> gt, preds = coco_from_per_image({"a": [{"label": "car", "bbox": [0, 0, 9, 9]}]},
        ...     {"a": [{"label": "car", "bbox": [50, 50, 9, 9], "score": 0.3}]})
        >>> label_mask(evaluation_labels(evaluate(gt, preds), {1: 3}), status="FP").tolist()
        [False, True]
    """
    columns = _columns(labels, "filter_labels")
    keep = np.ones(len(labels), bool)
    statuses = _names(status, "status", LABEL_STATUSES)
    if statuses is not None:
        keep &= columns["status"].isin(statuses).to_numpy()
    names = _names(classes, "classes")
    if names is not None:
        keep &= columns["class_name"].isin(names).to_numpy()
    if source is not None:
        if source not in _SOURCES:
            raise InvalidInputError("source", source, f"must be one of {list(_SOURCES)}",
                                    method="filter_labels")
        keep &= (columns["source"] == source).to_numpy()
    if min_score is not None:
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not (
                math.isfinite(min_score) and 0.0 <= min_score <= 1.0):
            raise InvalidInputError("min_score", min_score, "must be a number in [0, 1]",
                                    method="filter_labels")
        score = columns["score"].to_numpy(np.float64)
        # ground truth has no score: a confidence threshold only thins the predictions
        keep &= np.isnan(score) | (score >= min_score)
    return keep


def filter_labels(
    labels: pd.DataFrame,
    *,
    status: str | Iterable[str] | None = None,
    classes: str | Iterable[str] | None = None,
    min_score: float | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """The labels with a status, of some classes, and predictions scoring at least ``min_score``.

    Args:
        labels: A frame from :func:`evaluation_labels`, or the evaluation's own
            ``per_annotation()`` frame (then without tasks and boxes).
        status: ``TP``, ``FP``, ``FN`` or ``ignored`` (or a list of them).
        classes: Class names to keep.
        min_score: Keep predictions with ``score >= min_score`` (ground truth is kept).
        source: ``gt`` or ``pred`` only.

    Returns:
        The matching rows (a copy, same columns).

    Raises:
        InvalidInputError: An unknown status or source, or a score outside [0, 1].

    Example:
        >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
        >>> gt, preds = coco_from_per_image(
        ...     {"a": [{"label": "car", "bbox": [0, 0, 40, 40]}]},
        ...     {"a": [{"label": "car", "bbox": [0, 0, 40, 40], "score": 0.9},
        ...            {"label": "car", "bbox": [90, 90, 9, 9], "score": 0.2}]})
        >>> labels = evaluation_labels(evaluate(gt, preds), {1: 5})
        >>> filter_labels(labels, status="FP")["score"].tolist()
        [0.2]
        >>> filter_labels(labels, min_score=0.5)[["source", "status"]].values.tolist()
        [['gt', 'TP'], ['pred', 'TP']]
        >>> per = evaluate(gt, preds).per_annotation()
        >>> filter_labels(per, status="FP", source="pred")["annotation_id"].tolist()
        [2]
    """
    keep = label_mask(labels, status=status, classes=classes, min_score=min_score,
                      source=source)
    return labels[keep].copy()


def cell_mask(labels: pd.DataFrame, true: str, predicted: str) -> np.ndarray:
    """The boolean row mask behind :func:`confusion_cell`.

    Example:
        >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
        >>> gt, preds = coco_from_per_image({"a": [{"label": "car", "bbox": [0, 0, 9, 9]}]},
        ...     {"a": [{"label": "car", "bbox": [50, 50, 9, 9], "score": 0.3}]})
        >>> cell_mask(evaluation_labels(evaluate(gt, preds), {1: 3}), "car", "background")
        array([ True, False])
    """
    columns = _columns(labels, "confusion_cell")
    for field, value in (("true", true), ("predicted", predicted)):
        if not isinstance(value, str):
            raise InvalidInputError(field, value, "must be a class name or 'background'",
                                    method="confusion_cell")
    if true == BACKGROUND and predicted == BACKGROUND:
        raise InvalidInputError("true", true, "and predicted cannot both be 'background'",
                                method="confusion_cell")

    def equal(column: str, value: str) -> np.ndarray:
        return (columns[column] == value).to_numpy(bool)

    gt = equal("source", "gt")
    counted = ~equal("status", "ignored")
    # a ground truth of class ``true`` that met ``predicted`` (a miss met nothing), and a
    # prediction of class ``predicted`` that met a ground truth of ``true`` (or nothing)
    none = np.zeros(len(labels), bool)
    from_gt = gt & equal("class_name", true) & equal("matched_class", predicted) if (
        true != BACKGROUND) else none
    from_pred = ~gt & equal("class_name", predicted) & equal("matched_class", true) if (
        predicted != BACKGROUND) else none
    return np.asarray((from_gt | from_pred) & counted, bool)


def confusion_cell(labels: pd.DataFrame, true: str, predicted: str) -> pd.DataFrame:
    """The annotations counted in one cell of the confusion matrix.

    ``(car, truck)``: ground-truth cars matched by a truck prediction, and those trucks.
    ``(person, background)``: ground-truth persons no prediction matched.
    ``(background, dog)``: dog predictions that met no ground truth.

    Args:
        labels: A frame from :func:`evaluation_labels` (or ``per_annotation()``).
        true: Ground-truth class (row of the matrix) or ``background``.
        predicted: Predicted class (column) or ``background``.

    Returns:
        The rows of the cell (a copy).

    Example:
        >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
        >>> gt, preds = coco_from_per_image(
        ...     {"a": [{"label": "person", "bbox": [0, 0, 9, 9]}]},
        ...     {"a": [{"label": "dog", "bbox": [50, 50, 9, 9], "score": 0.4}]})
        >>> labels = evaluation_labels(evaluate(gt, preds), {1: 2})
        >>> confusion_cell(labels, "person", "background")["class_name"].tolist()
        ['person']
        >>> confusion_cell(labels, "background", "dog")["source"].tolist()
        ['pred']
    """
    return labels[cell_mask(labels, true, predicted)].copy()
