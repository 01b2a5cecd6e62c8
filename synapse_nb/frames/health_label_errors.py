"""The label-error part of ``df.synapse.health(predictions=...)``.

:func:`evaluations_of` turns what ``predictions=`` accepts into evaluation results against the
frame's rows; :func:`join_label_errors` puts the candidates of
:func:`synapse_nb.health.label_errors` onto the annotations view and the frame:

- annotations: ``label_error_score`` (``Float64``, the per-annotation score, NA when the
  annotation is no candidate), ``is_class_confusion`` and ``is_unfound`` (``bool``); the kinds
  join each annotation's ``issues``, so ``flagged_annotations`` and the preview mark them;
- frame rows (by data unit): ``label_error_score`` (the image score: the maximum),
  ``n_label_errors`` (``Int64``), ``n_missing_labels`` (``Int64``, confident predictions on
  no ground truth; such a row also lists ``missing_label`` in its ``image_issues``) and
  ``label_error_kinds`` (a list);
- :func:`label_error_summary`: one summary row per kind (level ``label_error``; ``share`` is
  the share of the frame's images with such a candidate).

Example:
    >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [2]},
    ...                                      list_all=True).head(10)
    >>> sorted(evaluations_of(gt, client, [{"model": 3}, {"model": 5}]))
    ['predictions 0', 'predictions 1']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.evaluation import Comparison, EvaluationResult
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.build import STRING, frame_meta
from synapse_nb.frames.client import Client
from synapse_nb.health.label_errors import LABEL_ERROR_KINDS, annotation_scores, image_scores

__all__ = ["evaluations_of", "join_label_errors", "label_error_summary"]

#: Candidate kinds that sit on a ground-truth annotation (the others sit on an image).
ANNOTATION_KINDS = ("class_confusion", "unfound")


def _is_results(value: Any) -> bool:
    if isinstance(value, EvaluationResult | Comparison):
        return True
    if isinstance(value, Mapping):
        return bool(value) and all(isinstance(v, EvaluationResult) for v in value.values())
    return (isinstance(value, list | tuple) and bool(value)
            and all(isinstance(v, EvaluationResult) for v in value))


def evaluations_of(frame: pd.DataFrame, live: Client, predictions: Any) -> Any:
    """Evaluation results of ``predictions`` with the frame's rows as the ground truth.

    Results (an ``EvaluationResult``, a ``Comparison``, a list or dict of results) are used
    as they are; a model frame is evaluated model by model; a list of prediction sources
    (each anything ``df.synapse.evaluate`` takes, e.g. ``{"model": 3}``) gives one result
    each, named ``predictions <k>``; anything else is one source.

    Example:
        >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [2]},
        ...                                      list_all=True).head(5)
        >>> type(evaluations_of(gt, client, {"model": 3})).__name__
        'EvaluationResult'
    """
    if _is_results(predictions):
        return predictions
    if isinstance(predictions, pd.DataFrame) and frame_meta(predictions).get("kind") == "model":
        return predictions.synapse.evaluate(ground_truth=frame, client=live)
    if isinstance(predictions, list | tuple) and predictions and all(
            isinstance(p, Mapping | int) and not isinstance(p, bool) for p in predictions):
        return {f"predictions {k}": frame.synapse.evaluate(p, client=live)
                for k, p in enumerate(predictions)}
    if predictions is None or isinstance(predictions, bool):
        raise InvalidInputError("predictions", predictions, "must be evaluation results, a "
                                "model frame, or predictions df.synapse.evaluate() takes",
                                method="health")
    return frame.synapse.evaluate(predictions, client=live)


def _annotation_keys(annotations: pd.DataFrame, owner: str) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([pd.array(annotations[owner], dtype="Int64"),
                                      pd.array(annotations["annotation_id"], dtype="string")])


def join_label_errors(frame: pd.DataFrame, annotations: pd.DataFrame, owner: str,
                      candidates: pd.DataFrame) -> pd.DataFrame:
    """Add the label-error columns to ``frame`` (in place) and return the annotations with
    theirs (see the module docstring).

    Example:
        >>> from synapse_nb.health import label_errors
        >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [2]},
        ...                                      list_all=True).head(10)
        >>> found = label_errors(gt.synapse.evaluate({"model": 3}))
        >>> ann = join_label_errors(gt, gt.synapse.annotations(), "event_id", found)
        >>> str(ann["label_error_score"].dtype), str(gt["n_label_errors"].dtype)
        ('Float64', 'Int64')
    """
    per_ann = annotation_scores(candidates).set_index(["item_id", "gt_annotation_id"])
    per_ann = per_ann[~per_ann.index.duplicated()]
    keys = _annotation_keys(annotations, owner)
    out = annotations.copy()
    out["label_error_score"] = pd.array(
        per_ann["label_error_score"].reindex(keys).to_numpy(dtype=float, na_value=np.nan),
        dtype="Float64")
    kinds = per_ann["label_error_kinds"].reindex(keys).fillna("").astype(str).to_numpy()
    for kind in ANNOTATION_KINDS:
        out["is_" + kind] = np.array([kind in k for k in kinds], dtype=bool)
    before = out["issues"] if "issues" in out else pd.Series([[]] * len(out), dtype=object)
    out["issues"] = [[*issues, *(k for k in ANNOTATION_KINDS if k in found)]
                     for issues, found in zip(before, kinds, strict=True)]
    _join_images(frame, candidates)
    return out


def _join_images(frame: pd.DataFrame, candidates: pd.DataFrame) -> None:
    per_image = image_scores(candidates).set_index("image_id")
    missing = candidates[candidates["kind"] == "missing_label"].groupby("image_id").size()
    units = pd.array(frame["data_unit_id"], dtype="Int64")
    frame["label_error_score"] = pd.array(per_image["label_error_score"].reindex(units)
                                          .to_numpy(dtype=float, na_value=np.nan),
                                          dtype="Float64")
    counts = per_image["n_label_errors"].reindex(units).fillna(0).astype("int64")
    frame["n_label_errors"] = pd.array(counts.to_numpy(), dtype="Int64")
    frame["n_missing_labels"] = pd.array(
        missing.reindex(units).fillna(0).astype("int64").to_numpy(), dtype="Int64")
    kinds = per_image["label_error_kinds"].reindex(units).fillna("").astype(str)
    frame["label_error_kinds"] = [[k for k in LABEL_ERROR_KINDS if k in found]
                                  for found in kinds.tolist()]
    if "image_issues" in frame:  # the filter panel's issue facet reads this list
        frame["image_issues"] = [[*issues, "missing_label"] if n else issues for issues, n in
                                 zip(frame["image_issues"], frame["n_missing_labels"],
                                     strict=True)]


def label_error_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per kind: the number of images with a candidate of that kind, and their share.

    Example:
        >>> frame = pd.DataFrame({"data_unit_id": [1, 2],
        ...                       "label_error_kinds": [["unfound"], []]})
        >>> label_error_summary(frame)[["issue", "count"]].values.tolist()
        [['class_confusion', 0], ['missing_label', 0], ['unfound', 1]]
    """
    units = frame.drop_duplicates("data_unit_id")
    total = max(len(units), 1)
    counts = [int(units["label_error_kinds"].map(lambda k, kind=kind: kind in k).sum())
              for kind in LABEL_ERROR_KINDS]
    table = pd.DataFrame([("label_error", kind, n, n / total)
                          for kind, n in zip(LABEL_ERROR_KINDS, counts, strict=True)],
                         columns=["level", "issue", "count", "share"])
    return table.astype({"level": STRING, "issue": STRING, "count": "int64"})
