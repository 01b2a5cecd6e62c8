"""Evaluation from the notebook client: ground truth and predictions fetched, converted, evaluated.

Modules: this one (sources and ``evaluate``), :mod:`~synapse_nb.frames.eval_inputs` (COCO
results and predictions frames), :mod:`~synapse_nb.frames.eval_models` (comparison, metrics
on the models frame, ``push_metrics``), :mod:`~synapse_nb.frames.eval_annotators` (annotator
quality).

What :meth:`Client.evaluate <synapse_nb.frames.client.Client.evaluate>`, ``df.synapse.evaluate``
and :meth:`Client.compare_models <synapse_nb.frames.client.Client.compare_models>`
(:func:`~synapse_nb.frames.eval_models.evaluate_models`) accept:

``ground_truth``
    a ground-truth version id (its events are fetched with their data) or a task,
    assignment or ground-truth-event frame (its rows' data is used, or fetched by id). Every
    data unit of it is an image of the evaluation, annotated or not.

``predictions``
    * a ground-truth version id (a predictions dataset kept on the server);
    * a model: its id as ``{"model": 3}``, a row of ``list_models()`` or the model dict. Its
      predictions are the project's ground-truth dataset named ``"<name> <version>
      predictions"`` (latest version);
    * a task, assignment or ground-truth-event frame;
    * a COCO results list, or the path of a JSON file holding one (or a COCO dict whose
      ``annotations`` carry ``score``). ``image_id`` is the data unit id (or give
      ``file_name``); the class is ``category_name``, else ``category_id`` read through the
      file's ``categories``, else the position (1-based) in the project's ``classes``;
    * a predictions frame: one row per predicted annotation with ``data_unit_id`` (or
      ``task_id``, read through the tasks, or ``file_name``), ``class_name``, ``score``
      (missing: 1.0) and the geometry as ``tool`` +
      ``geometry`` (DM v2 ``data``, as in ``df.synapse.annotations()``) or ``x, y, w, h``
      (a box). Keypoint rows also need ``group_id`` (their pose) and may give
      ``visibility``; a ``tool == "group"`` row names a pose's class.

Predictions on data units outside the ground truth are left out (``result.notes`` counts
them); when none is on a data unit of the ground truth, that is an error.

The result is an :class:`~synapse_nb.evaluation.EvaluationResult` whose image ids are data
unit ids; ``per_annotation()`` also carries ``item_id`` (event/task/assignment id) and
``dm_annotation_id``, and ``label_annotations()`` joins onto ``df.synapse.annotations()``.

Example:
    >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
    >>> res.summary.loc["AP", "value"] > 0, res.per_image().columns[:2].tolist()
    (np.True_, ['image_id', 'data_unit_id'])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from synapse_nb.evaluation import EvaluationInputError, EvaluationResult
from synapse_nb.evaluation import evaluate as run_evaluation
from synapse_nb.evaluation.dm import (
    DMItem,
    add_named_results,
    check_tools,
    coco_from_dm,
    iou_type_of,
)
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.build import frame_meta
from synapse_nb.frames.eval_inputs import (
    GroundTruthSource,
    _inside,
    _is_id,
    _missing,
    named_results,
    predictions_frame_items,
    read_results,
)

if TYPE_CHECKING:
    from synapse_nb.frames.client import Client

__all__ = [
    "PREDICTIONS_SUFFIX",
    "GroundTruthSource",
    "evaluate_on_server",
    "evaluate_read_versions",
    "evaluate_source",
    "ground_truth_source",
    "model_predictions_version",
    "version_items",
]

#: A model's predictions dataset is named ``"<name> <version>" + PREDICTIONS_SUFFIX``.
PREDICTIONS_SUFFIX = " predictions"
_DM_KINDS = ("task", "assignment", "ground_truth_event")
_IOU_TYPES = ("bbox", "segm", "keypoints")


def _events(client: Client, version: int, progress: Any) -> pd.DataFrame:
    client.get_ground_truth_version(version)  # a clear 404 for an unknown version
    return client.list_ground_truth_events(
        {"ground_truth_dataset_versions": [version]}, list_all=True, include_data=True,
        progress=progress)


def _frame_items(client: Client, frame: pd.DataFrame, field: str, method: str) -> list[DMItem]:
    kind = frame_meta(frame).get("kind")
    if kind not in _DM_KINDS or "data_unit_id" not in frame.columns:
        raise InvalidInputError(field, f"<{kind or 'DataFrame'} frame>",
                                f"must be a frame of {', '.join(_DM_KINDS)}", method=method)
    ids = [int(pk) for pk in frame.index]
    if "data" in frame.columns:
        data = dict(zip(ids, frame["data"].tolist(), strict=True))
    else:
        data = client.rows.data(str(kind), ids)
    items = []
    for pk, row in zip(ids, frame.itertuples(index=False), strict=True):
        unit = getattr(row, "data_unit_id", None)
        if unit is None or pd.isna(unit):
            continue
        items.append(DMItem(int(unit), data.get(pk), item=pk, width=_int(row, "width"),
                            height=_int(row, "height"), file_name=_str(row, "file_name")))
    return items


def _int(row: Any, name: str) -> int | None:
    value = getattr(row, name, None)
    return None if value is None or pd.isna(value) else int(value)


def _str(row: Any, name: str) -> str | None:
    value = getattr(row, name, None)
    return None if value is None or pd.isna(value) else str(value)


def _configuration(client: Client, project: Any) -> dict[str, Any]:
    if project is None or pd.isna(project):
        return {}
    config = client.get_project(int(project)).get("configuration")
    return dict(config) if isinstance(config, Mapping) else {}


def _every(lister: Any, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every row of a raw listing, across pages."""
    rows, _ = lister(dict(params or {}), list_all=True)
    return list(rows)


def _version_project(client: Client, version: int) -> int | None:
    dataset = client.get_ground_truth_version(version).get("ground_truth_dataset")
    for row in _every(client.list_ground_truth_datasets):
        if row.get("id") == dataset:
            project = row.get("project")
            return int(project) if project is not None else None
    return None


def ground_truth_source(client: Client, ground_truth: Any, *, progress: Any = None,
                        method: str = "evaluate") -> GroundTruthSource:
    """The ground truth of an evaluation: a version id or a frame (see the module docstring).

    Example:
        >>> ground_truth_source(client, 2)
        GroundTruthSource(180 data units, project=1, version=2)
    """
    if _is_id(ground_truth):
        frame = _events(client, int(ground_truth), progress)
        items = _frame_items(client, frame, "ground_truth", method)
        project = _version_project(client, int(ground_truth))
        return GroundTruthSource(items, project, _configuration(client, project),
                                 int(ground_truth))
    if isinstance(ground_truth, pd.DataFrame):
        items = _frame_items(client, ground_truth, "ground_truth", method)
        units = [it.data_unit for it in items]
        if len(set(units)) != len(units):
            dup = next(u for u in units if units.count(u) > 1)
            raise InvalidInputError("ground_truth", f"<frame: data unit {dup} twice>",
                                    "must hold one row per data unit", method=method)
        project = _frame_project(client, ground_truth)
        return GroundTruthSource(items, project, _configuration(client, project))
    raise InvalidInputError("ground_truth", ground_truth,
                            "must be a ground-truth version id or a task/assignment/"
                            "ground-truth-event frame", method=method)


def _frame_project(client: Client, frame: pd.DataFrame) -> int | None:
    if "project" in frame.columns and frame["project"].notna().any():
        return int(frame["project"].dropna().iloc[0])
    if "ground_truth_dataset_version" in frame.columns and frame[
            "ground_truth_dataset_version"].notna().any():
        return _version_project(client, int(frame["ground_truth_dataset_version"].dropna().iloc[0]))
    return None


def model_predictions_version(client: Client, model: Any, *, method: str = "evaluate") -> int:
    """The ground-truth version holding a model's predictions (see the module docstring).

    Args:
        client: The notebook client.
        model: A model id, a ``list_models()`` row or a model dict.
        method: Named in errors.

    Raises:
        InvalidInputError: The model has no predictions dataset on the server.

    Example:
        >>> model_predictions_version(client, 3)
        3
    """
    record = _model_record(client, model, method)
    name = f"{record.get('name')} {record.get('version')}{PREDICTIONS_SUFFIX}"
    params = {"project": record["project"]} if record.get("project") is not None else {}
    datasets = [d for d in _every(client.list_ground_truth_datasets, params)
                if d.get("name") == name]
    versions = [v for d in datasets for v in _every(
        client.list_ground_truth_versions, {"ground_truth_dataset": d["id"]})]
    if not versions:
        raise InvalidInputError("model", record.get("id"),
                                f"has no predictions dataset named {name!r} on the server",
                                method=method)
    live = [v for v in versions if not v.get("is_archived")] or versions
    return int(max(live, key=lambda v: v["id"])["id"])


def _model_record(client: Client, model: Any, method: str) -> dict[str, Any]:
    if _is_id(model):
        return client.get_model(int(model), url_conversion=False)
    if isinstance(model, pd.Series):
        record = {k: (None if _missing(v) else v) for k, v in model.items()}
        record.setdefault("id", model.name)
        return record
    if isinstance(model, Mapping) and {"name", "version"} <= set(model):
        return dict(model)
    raise InvalidInputError("model", model, "must be a model id, a list_models() row or a "
                            "model dict with name and version", method=method)


def evaluate_on_server(
    client: Client,
    ground_truth: Any,
    predictions: Any,
    iou_type: str = "bbox",
    *,
    tools: Any = None,
    progress: Any = None,
    method: str = "evaluate",
) -> EvaluationResult:
    """Evaluate ``predictions`` against ``ground_truth`` (see the module docstring).

    Example:
        >>> evaluate_on_server(client, 2, {"model": 3}).run.params.iou_type
        'bbox'
    """
    kind = _checked_iou_type(iou_type, tools, method)
    _check_predictions_shape(predictions, method)
    if isinstance(predictions, str | os.PathLike):
        predictions = read_results(predictions, method)  # a bad file fails before any request
    source = ground_truth_source(client, ground_truth, progress=progress, method=method)
    return evaluate_source(client, source, predictions, kind, tools=tools,
                           progress=progress, method=method)


def _checked_iou_type(iou_type: Any, tools: Any, method: str) -> str:
    if iou_type not in _IOU_TYPES:
        raise InvalidInputError("iou_type", iou_type, f"must be one of {list(_IOU_TYPES)}",
                                method=method)
    try:
        check_tools(tools, iou_type)
    except EvaluationInputError as exc:
        raise InvalidInputError("tools", tools, str(exc), method=method) from None
    return str(iou_type)


def _check_predictions_shape(predictions: Any, method: str) -> None:
    ok = _is_id(predictions) or isinstance(
        predictions, pd.DataFrame | pd.Series | str | os.PathLike | Mapping | list)
    if not ok:
        raise InvalidInputError("predictions", predictions,
                                "must be a ground-truth version id, a model, a frame, a COCO "
                                "results list or the path of a COCO results file", method=method)


def evaluate_source(client: Client, source: GroundTruthSource, predictions: Any,
                    iou_type: str, *, tools: Any = None, progress: Any = None,
                    method: str = "evaluate",
                    items: list[DMItem] | None = None) -> EvaluationResult:
    """Evaluate ``predictions`` (or DM ``items`` already at hand) against fetched ground truth.

    Example:
        >>> src = ground_truth_source(client, 2)
        >>> evaluate_source(client, src, 3, "bbox").summary.index[0]
        'AP'
    """
    kind = iou_type_of(iou_type)
    results: list[dict[str, Any]] = []
    left_out = 0
    if items is None:
        items, results, left_out = _prediction_inputs(client, source, predictions, progress,
                                                      method)
    inputs = coco_from_dm(source.items, items, kind, configuration=source.configuration,
                          tools=tools)
    if results:
        add_named_results(inputs, results)
    result = run_evaluation(inputs.dataset, inputs.results, kind, sigmas=inputs.sigmas)
    result.links = inputs.links
    result.notes = inputs.notes
    if left_out:
        result.notes.append(f"{left_out} predictions on data units outside the ground truth "
                            "left out")
    return result


def _items_inside(items: list[DMItem], source: GroundTruthSource,
                  method: str) -> tuple[list[DMItem], list[dict[str, Any]], int]:
    inside = _inside([it.data_unit for it in items], source.items, "predictions[0].data_unit",
                     items[0].data_unit if items else None, method)
    kept = [it for it, ok in zip(items, inside, strict=True) if ok]
    return kept, [], len(items) - len(kept)


def _prediction_inputs(
    client: Client, source: GroundTruthSource, predictions: Any, progress: Any, method: str
) -> tuple[list[DMItem], list[dict[str, Any]], int]:
    """DM items and/or named COCO results of ``predictions`` on the ground truth's data
    units, and how many predictions (documents or results) fell outside them."""
    if _is_id(predictions):
        frame = _events(client, int(predictions), progress)
        return _items_inside(_frame_items(client, frame, "predictions", method), source, method)
    model = _model_of(predictions)
    if model is not None:
        version = model_predictions_version(client, model, method=method)
        frame = _events(client, version, progress)
        return _items_inside(_frame_items(client, frame, "predictions", method), source, method)
    if isinstance(predictions, pd.DataFrame):
        if frame_meta(predictions).get("kind") in _DM_KINDS:
            items = _frame_items(client, predictions, "predictions", method)
            return _items_inside(items, source, method)
        frame = _with_data_units(client, predictions)
        items, left_out = predictions_frame_items(frame, source.items, method=method)
        return items, [], left_out
    if isinstance(predictions, str | os.PathLike):
        results, left_out = named_results(read_results(predictions, method), source, method=method)
        return [], results, left_out
    if isinstance(predictions, list | Mapping):
        results, left_out = named_results(predictions, source, method=method)
        return [], results, left_out
    raise InvalidInputError("predictions", predictions, "is not a supported predictions source",
                            method=method)


def _with_data_units(client: Client, frame: pd.DataFrame) -> pd.DataFrame:
    """A predictions frame that names its images by ``task_id`` only (as the importers'
    frames do) gets the tasks' ``data_unit_id``; rows of no task keep NA and are left out."""
    if "data_unit_id" in frame.columns or "task_id" not in frame.columns:
        return frame
    tasks = sorted({int(t) for t in frame["task_id"].dropna()})
    units = client.frame_by_id("task", tasks)["data_unit_id"] if tasks else pd.Series(
        dtype="Int64")
    out = frame.copy()
    out["data_unit_id"] = pd.array(frame["task_id"].map(units), dtype="Int64")
    return out


def _model_of(predictions: Any) -> Any:
    """The model ``predictions`` names (``{"model": id}``, a model row or dict), else None."""
    if isinstance(predictions, Mapping) and set(predictions) == {"model"}:
        return predictions["model"]
    if isinstance(predictions, pd.Series) or (
            isinstance(predictions, Mapping) and {"name", "version"} <= set(predictions)):
        return predictions
    return None


# ------------------------------------------------------------------ versions read in parts


def version_items(client: Client, version: int, field: str = "ground_truth", *,
                  ids: list[int] | None = None) -> list[DMItem]:
    """The DM items of a ground-truth version's events (only those with ``ids`` when given),
    read as :func:`evaluate_on_server` reads a version.

    Example:
        >>> items = version_items(client, 2, ids=[181, 182])
        >>> [it.item for it in items], items[0].width > 0
        ([181, 182], True)
    """
    query: dict[str, Any] = {"ground_truth_dataset_versions": [version]}
    if ids is not None:
        query["id__in"] = ",".join(map(str, ids))
    frame = client.list_ground_truth_events(query, list_all=True, include_data=True)
    return _frame_items(client, frame, field, "evaluate")


def evaluate_read_versions(client: Client, ground_truth: int, gt_items: list[DMItem],
                           pred_items: list[DMItem], iou_type: str = "bbox") -> EvaluationResult:
    """Evaluate two versions whose items were read already (e.g. in parts with
    :func:`version_items`): the result of ``evaluate_on_server(client, ground_truth,
    predictions_version, iou_type)``.

    Example:
        >>> res = evaluate_read_versions(client, 2, version_items(client, 2),
        ...                              version_items(client, 3, "predictions"))
        >>> res.summary.loc["AP", "value"] == client.evaluate(2, 3).summary.loc["AP", "value"]
        np.True_
    """
    kind = _checked_iou_type(iou_type, None, "evaluate")
    project = _version_project(client, ground_truth)
    source = GroundTruthSource(gt_items, project, _configuration(client, project), ground_truth)
    kept, _, left_out = _items_inside(pred_items, source, "evaluate")
    result = evaluate_source(client, source, None, kind, items=kept)
    if left_out:  # worded as evaluate_source words it when it reads the predictions itself
        result.notes.append(f"{left_out} predictions on data units outside the ground truth "
                            "left out")
    return result
