"""``df.synapse.labels(result, ...)``: the label-level view of an evaluation on a task frame.

The annotations of ``result`` (every ground truth and prediction with its evaluation status,
see :mod:`~synapse_nb.frames.label_filters`) that fall on the frame's tasks, kept by status,
class and score. A result of ``client.evaluate`` numbers images by data unit id, so each
image's task is read from the frame's ``data_unit_id`` column; a result evaluated from
hand-made COCO data needs ``images`` (COCO image id -> task id), as
:func:`~synapse_nb.frames.label_filters.evaluation_labels` does.

Example:
    >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
    >>> tasks = client.list_tasks({"project": 1}, list_all=True)
    >>> fp = task_labels(tasks, res, status="FP", min_score=0.5)
    >>> sorted(set(fp["status"])), bool((fp["score"] >= 0.5).all())
    (['FP'], True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.evaluation import EvaluationResult
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.label_filters import evaluation_labels, filter_labels

__all__ = ["task_labels"]

_METHOD = "labels"


def _images_from_units(frame: pd.DataFrame, result: EvaluationResult) -> dict[int, int]:
    """COCO image id (= data unit id) -> task id of the frame; other images -> -1 (dropped)."""
    if result.links is None:
        raise InvalidInputError(
            "images", None, "must map COCO image ids to task ids: the result was not "
            "evaluated from Synapse data (client.evaluate)", method=_METHOD)  # fmt: skip
    if "data_unit_id" not in frame.columns:
        raise InvalidInputError("frame", "no data_unit_id", "must be a task frame with a "
                                "data_unit_id column (or pass images=)", method=_METHOD)
    units = frame["data_unit_id"]
    known = units.notna().to_numpy()
    pairs = pd.Series(frame.index[known].to_numpy(np.int64),
                      index=units[known].to_numpy(np.int64))
    doubled = pairs.index[pairs.index.duplicated()].unique()
    if len(doubled):
        raise InvalidInputError("frame", f"<data units {doubled[:5].tolist()} in several rows>",
                                "must hold one task per data unit (filter one project, or "
                                "pass images=)", method=_METHOD)
    images = dict.fromkeys(np.asarray(result.run.gt.image_ids, np.int64).tolist(), -1)
    images.update({int(u): int(t) for u, t in pairs.items() if int(u) in images})
    return images


def task_labels(
    frame: pd.DataFrame,
    result: EvaluationResult,
    *,
    status: str | Iterable[str] | None = None,
    classes: str | Iterable[str] | None = None,
    min_score: float | None = None,
    source: str | None = None,
    iou: float = 0.5,
    images: Mapping[Any, Any] | pd.Series | None = None,
) -> pd.DataFrame:
    """The evaluation's labels on ``frame``'s tasks, by status, class and score.

    Args:
        frame: A task frame (index = task id, ``data_unit_id``).
        result: A bbox or segm :class:`~synapse_nb.evaluation.EvaluationResult`.
        status: ``TP``, ``FP``, ``FN`` or ``ignored`` (or a list of them).
        classes: Class names to keep.
        min_score: Keep predictions with ``score >= min_score`` (ground truth is kept).
        source: ``gt`` or ``pred`` only.
        iou: IoU threshold of the matching.
        images: COCO image id -> task id (default: the frame's data units).

    Returns:
        Rows of :func:`~synapse_nb.frames.label_filters.evaluation_labels` whose task is a
        row of ``frame``, filtered as :func:`~synapse_nb.frames.label_filters.filter_labels`
        does.

    Raises:
        InvalidInputError: A bad argument (named), a result without links and no
            ``images``, or a frame with one data unit in several rows.

    Example:
        >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
        >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(20)
        >>> labels = task_labels(tasks, res, source="gt")
        >>> bool(labels["task_id"].isin(tasks.index).all()), sorted(set(labels["source"]))
        (True, ['gt'])
    """
    if not isinstance(result, EvaluationResult):
        raise InvalidInputError("result", type(result).__name__, "must be an EvaluationResult",
                                method=_METHOD)
    mapping = _images_from_units(frame, result) if images is None else images
    labels = evaluation_labels(result, mapping, iou=iou)
    labels = labels[labels["task_id"].isin(frame.index).to_numpy()]
    out = filter_labels(labels, status=status, classes=classes, min_score=min_score,
                        source=source)
    return out.reset_index(drop=True)
