"""Models against ground truth: comparison, computed metrics on the models frame, and the
explicit write-back of metrics to a model (a diff first, a write only when confirmed).

Example:
    >>> cmp = evaluate_models(client, 2, [3])
    >>> cmp.model_ids
    {'yolo-v8n 2.0.0': 3}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from synapse_nb.evaluation import Comparison, EvaluationResult
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.eval_inputs import _is_id
from synapse_nb.frames.evaluation import (
    _checked_iou_type,
    _model_record,
    evaluate_source,
    ground_truth_source,
    model_predictions_version,
)

if TYPE_CHECKING:
    from synapse_nb.frames.client import Client

__all__ = ["MetricsPush", "computed_metrics", "evaluate_models", "push_metrics", "with_metrics"]


def _check_models(models: Any, method: str) -> None:
    if models is None or isinstance(models, pd.DataFrame):
        return
    values = [models] if _is_id(models) else models
    if not isinstance(values, list | tuple) or not values or not all(_is_id(v) for v in values):
        raise InvalidInputError("models", models, "must be model ids, a list_models() frame or "
                                "None (the project's models)", method=method)


def _model_rows(client: Client, models: Any, project: int | None, method: str) -> pd.DataFrame:
    if models is None:
        params = {"project": project} if project is not None else {}
        return client.list_models(params, list_all=True)
    if isinstance(models, pd.DataFrame):
        return models
    values = [models] if _is_id(models) else models  # checked by _check_models
    frame = client.frame_by_id("model", [int(v) for v in values])
    missing = sorted(set(values) - set(frame.index.tolist()))
    if missing:
        raise InvalidInputError("models", missing, "are not models on the server", method=method)
    return frame


def _has_predictions(client: Client, row: pd.Series) -> bool:
    try:
        model_predictions_version(client, row)
    except InvalidInputError:
        return False
    return True


def evaluate_models(client: Client, ground_truth: Any, models: Any = None,
                   iou_type: str = "bbox", *, progress: Any = None,
                   method: str = "compare_models") -> Comparison:
    """Evaluate several models' predictions against one ground truth, fetched once.

    ``models`` are model ids, a ``list_models()`` frame, or None for every model of the
    ground truth's project that has a predictions dataset. Results are keyed by
    ``"<name> <version>"``; ``Comparison.model_ids`` maps that key to the model id.

    Example:
        >>> cmp = evaluate_models(client, 2)
        >>> "yolo-v8n 2.0.0" in cmp.results, cmp.model_ids["yolo-v8n 2.0.0"]
        (True, 3)
    """
    kind = _checked_iou_type(iou_type, None, method)
    _check_models(models, method)
    source = ground_truth_source(client, ground_truth, progress=progress, method=method)
    rows = _model_rows(client, models, source.project, method)
    if models is None:
        rows = rows[[_has_predictions(client, row) for _, row in rows.iterrows()]]
    if rows.empty:
        raise InvalidInputError("models", models, "names no model with predictions on the "
                                "server", method=method)
    results, ids = {}, {}
    for pk, row in rows.iterrows():
        key = f"{row['name']} {row['version']}"
        results[key] = evaluate_source(client, source, row, kind, progress=progress,
                                       method=method)
        ids[key] = int(str(pk))
    comparison = Comparison(results)
    comparison.model_ids = ids
    return comparison


def computed_metrics(result: EvaluationResult) -> dict[str, Any]:
    """The metrics ``push_metrics`` writes, in the models' own naming.

    ``mAP`` (AP .50:.95), ``mAP50``, ``mAP75``, ``AR100`` (``AR`` for keypoints) and
    ``per_class_AP``, plus ``evaluation`` saying what they were computed on.

    Example:
        >>> m = computed_metrics(client.evaluate(ground_truth=2, predictions={"model": 3}))
        >>> sorted(m)
        ['evaluation', 'mAP', 'mAP50', 'mAP75', 'per_class_AP', 'recall']
    """
    s = result.summary["value"]
    recall = "AR" if "AR" in s.index else "AR100"
    per_class = result.per_class["AP"]
    return {
        "mAP": _rounded(s["AP"]), "mAP50": _rounded(s["AP50"]), "mAP75": _rounded(s["AP75"]),
        "recall": _rounded(s[recall]),
        "per_class_AP": {str(k): _rounded(v) for k, v in per_class.items()
                         if not pd.isna(v)},
        "evaluation": {"iou_type": result.run.params.iou_type,
                       "images": len(result.run.gt.image_ids), "protocol": "COCO"},
    }


def _rounded(value: Any) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)


def _flat(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


class MetricsPush:
    """What ``push_metrics`` would write (``diff``) and whether it did (``written``).

    Attributes:
        model: Model id.
        diff: ``metric, old, new`` for every metric that changes (nested ones dotted).
        metrics: The full metrics dict written (old metrics updated with the new ones).
        written: True when the server was updated.
    """

    def __init__(self, model: int, diff: pd.DataFrame, metrics: dict[str, Any],
                 written: bool) -> None:
        self.model = model
        self.diff = diff
        self.metrics = metrics
        self.written = written

    def __repr__(self) -> str:
        state = "written" if self.written else "dry run, nothing written"
        return f"MetricsPush(model={self.model}, {len(self.diff)} changes, {state})"

    def _repr_html_(self) -> str:
        state = "written" if self.written else "dry run: nothing was written"
        return f"<p>Model {self.model}: {len(self.diff)} metric changes ({state})</p>" + str(
            self.diff.to_html(index=False))


def push_metrics(client: Client, model: Any, result: EvaluationResult, *, dry_run: bool = True,
                 confirm: Any = None, method: str = "push_metrics") -> MetricsPush:
    """Show the change of a model's metrics on the server, and write it when confirmed.

    Writes only when ``dry_run=False`` **and** ``confirm`` is True or a callable that returns
    True for the diff frame. Every argument is checked before anything is sent.

    Example:
        >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
        >>> plan = push_metrics(client, 3, res)
        >>> plan.written, plan.diff.columns.tolist()
        (False, ['metric', 'old', 'new'])
    """
    if not isinstance(result, EvaluationResult):
        raise InvalidInputError("result", type(result).__name__, "must be an EvaluationResult",
                                method=method)
    if not isinstance(dry_run, bool):
        raise InvalidInputError("dry_run", dry_run, "must be True or False", method=method)
    if not (confirm is None or isinstance(confirm, bool) or callable(confirm)):
        raise InvalidInputError("confirm", confirm, "must be True/False or a callable "
                                "diff -> bool", method=method)
    if not dry_run and confirm is None:
        raise InvalidInputError("confirm", confirm, "dry_run=False writes only with "
                                "confirm=True (or a callable); look at the dry run first",
                                method=method)
    record = _model_record(client, model, method)
    pk = int(record["id"])
    old = client.get_model(pk, url_conversion=False).get("metrics") or {}
    new = {**old, **computed_metrics(result)}
    before, after = _flat(old), _flat(new)
    keys = [k for k in after if before.get(k) != after[k]]
    diff = pd.DataFrame({"metric": keys, "old": [before.get(k) for k in keys],
                         "new": [after[k] for k in keys]})
    approved = bool(confirm(diff)) if callable(confirm) else bool(confirm)
    written = not dry_run and approved
    if written:
        client.update_model(pk, {"metrics": new})
    return MetricsPush(pk, diff, new, written)


def with_metrics(client: Client, models: pd.DataFrame, ground_truth: Any,
                 iou_type: str = "bbox", *, progress: Any = None) -> pd.DataFrame:
    """``models`` (a ``list_models()`` frame) with computed ``eval_<metric>`` columns.

    Models without a predictions dataset get NA.

    Example:
        >>> models = client.list_models({"project": 1})
        >>> out = with_metrics(client, models, 2)
        >>> bool(out.loc[3, "eval_AP"] > 0), bool(out["eval_AP"].isna().any())
        (True, True)
    """
    usable = models[[_has_predictions(client, row) for _, row in models.iterrows()]]
    out = models.copy()
    if usable.empty:
        return out
    comparison = evaluate_models(client, ground_truth, usable, iou_type, progress=progress,
                                method="with_metrics")
    for key, pk in comparison.model_ids.items():
        for metric, value in comparison.summary.loc[key].items():
            column = f"eval_{metric}"
            if column not in out.columns:
                out[column] = pd.array([pd.NA] * len(out), dtype="Float64")
            out.loc[pk, column] = value
    return out
