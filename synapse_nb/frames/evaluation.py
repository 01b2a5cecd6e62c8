"""Evaluation from the notebook client: ground truth and predictions fetched, converted, evaluated.

What :meth:`Client.evaluate <synapse_nb.frames.client.Client.evaluate>`, ``df.synapse.evaluate``
and :meth:`Client.compare_models <synapse_nb.frames.client.Client.compare_models>`
(:func:`evaluate_models`) accept:

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
      ``file_name``), ``class_name``, ``score`` (missing: 1.0) and the geometry as ``tool`` +
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

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synapse_nb.evaluation import Comparison, EvaluationInputError, EvaluationResult, Params
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

if TYPE_CHECKING:
    from synapse_nb.frames.client import Client

__all__ = [
    "PREDICTIONS_SUFFIX",
    "AnnotatorQuality",
    "GroundTruthSource",
    "MetricsPush",
    "annotator_quality",
    "computed_metrics",
    "evaluate_models",
    "evaluate_on_server",
    "ground_truth_source",
    "model_predictions_version",
    "push_metrics",
    "with_metrics",
]

#: A model's predictions dataset is named ``"<name> <version>" + PREDICTIONS_SUFFIX``.
PREDICTIONS_SUFFIX = " predictions"
_DM_KINDS = ("task", "assignment", "ground_truth_event")
_IOU_TYPES = ("bbox", "segm", "keypoints")


class GroundTruthSource:
    """Ground-truth items fetched for an evaluation, and their project's configuration.

    Attributes:
        items: One :class:`~synapse_nb.evaluation.dm.DMItem` per data unit.
        project: Project id (None when unknown).
        configuration: The project's configuration (``{}`` when unknown).
        version: The ground-truth version id, when given by id.
    """

    def __init__(self, items: list[DMItem], project: int | None,
                 configuration: Mapping[str, Any], version: int | None = None) -> None:
        self.items = items
        self.project = project
        self.configuration = dict(configuration)
        self.version = version

    def __repr__(self) -> str:
        return (f"GroundTruthSource({len(self.items)} data units, project={self.project}, "
                f"version={self.version})")


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


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
        predictions = _read_json(predictions, method)  # a bad file fails before any request
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


def _inside(units: Sequence[int | None], ground_truth: Sequence[DMItem], field: str,
            shown: Any, method: str) -> list[bool]:
    """Which of ``units`` are data units of the ground truth; none of them is an error
    (naming the first), since predictions and ground truth then do not belong together."""
    known = {it.data_unit for it in ground_truth}
    inside = [u is not None and u in known for u in units]
    if units and not any(inside):
        raise InvalidInputError(field, shown, "is not a data unit of the ground truth (nor is "
                                "any other prediction's)", method=method)
    return inside


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
        items, left_out = predictions_frame_items(predictions, source.items, method=method)
        return items, [], left_out
    if isinstance(predictions, str | os.PathLike):
        results, left_out = named_results(_read_json(predictions, method), source, method=method)
        return [], results, left_out
    if isinstance(predictions, list | Mapping):
        results, left_out = named_results(predictions, source, method=method)
        return [], results, left_out
    raise InvalidInputError("predictions", predictions, "is not a supported predictions source",
                            method=method)


def _model_of(predictions: Any) -> Any:
    """The model ``predictions`` names (``{"model": id}``, a model row or dict), else None."""
    if isinstance(predictions, Mapping) and set(predictions) == {"model"}:
        return predictions["model"]
    if isinstance(predictions, pd.Series) or (
            isinstance(predictions, Mapping) and {"name", "version"} <= set(predictions)):
        return predictions
    return None


def _read_json(path: str | os.PathLike[str], method: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError("predictions", str(path), "no such file", method=method)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError("predictions", str(path), f"is not JSON ({exc})",
                                method=method) from None


def named_results(coco: Any, source: GroundTruthSource, *,
                  method: str = "evaluate") -> tuple[list[dict[str, Any]], int]:
    """A COCO results list (or COCO dict) with ``image_id`` = data unit id and
    ``category_name`` set (see the module docstring for how both are resolved), and how many
    results on other images were left out.

    Example:
        >>> src = GroundTruthSource([DMItem(5, {}, file_name="a.jpg")], 1, {"classes": ["car"]})
        >>> results, left_out = named_results([
        ...     {"file_name": "a.jpg", "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.5},
        ...     {"image_id": 6, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.5}], src)
        >>> results, left_out
        ([{'file_name': 'a.jpg', 'category_id': 1, 'bbox': [0, 0, 2, 2], 'score': 0.5, \
'image_id': 5, 'category_name': 'car'}], 1)
    """
    names: dict[Any, str] = {}
    rows = coco
    if isinstance(coco, Mapping):
        names = {c.get("id"): str(c.get("name")) for c in coco.get("categories", [])
                 if isinstance(c, Mapping)}
        rows = coco.get("annotations")
    if not isinstance(rows, list):
        raise InvalidInputError("predictions", coco, "must be a COCO results list or a COCO "
                                "dict with 'annotations'", method=method)
    classes = list(source.configuration.get("classes") or [])
    by_file = {it.file_name: it.data_unit for it in source.items if it.file_name}
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInputError(f"predictions[{i}]", row, "must be an object", method=method)
        result = dict(row)
        result["image_id"] = _image_of(result, i, by_file, method)
        result["category_name"] = _class_of(result, i, names, classes, method)
        out.append(result)
    first = out[0] if out else {}
    key = "image_id" if first.get("file_name") is None else "file_name"
    inside = _inside([r["image_id"] for r in out], source.items, f"predictions[0].{key}",
                     first.get(key), method)
    kept = [r for r, ok in zip(out, inside, strict=True) if ok]
    return kept, len(out) - len(kept)


def _image_of(row: dict[str, Any], i: int, by_file: Mapping[str, int],
              method: str) -> int | None:
    """The data unit of a result (None: a file name no data unit has)."""
    if row.get("image_id") is None and row.get("file_name") is not None:
        return by_file.get(row["file_name"])
    image = row.get("image_id")
    if not isinstance(image, int) or not _is_id(image):
        raise InvalidInputError(f"predictions[{i}].image_id", image,
                                "must be a data unit id (or give file_name)", method=method)
    return image


def _class_of(row: Mapping[str, Any], i: int, names: Mapping[Any, str], classes: list[Any],
              method: str) -> str:
    if isinstance(row.get("category_name"), str):
        return str(row["category_name"])
    cat = row.get("category_id")
    if cat in names:
        return names[cat]
    if isinstance(cat, int) and _is_id(cat) and cat <= len(classes):
        return str(classes[cat - 1])
    raise InvalidInputError(f"predictions[{i}].category_id", cat,
                            "names no class (give category_name, a COCO dict with "
                            "'categories', or a position in the project's classes)",
                            method=method)


def predictions_frame_items(frame: pd.DataFrame, ground_truth: Sequence[DMItem], *,
                            method: str = "evaluate") -> tuple[list[DMItem], int]:
    """A predictions frame (see the module docstring) as one DM document per data unit of the
    ground truth, and how many rows on other data units were left out.

    Example:
        >>> preds = pd.DataFrame({"data_unit_id": [5, 6], "class_name": ["car", "car"],
        ...                       "score": [0.7, 0.2], "x": [0.0, 1.0], "y": [0.0, 1.0],
        ...                       "w": [4.0, 4.0], "h": [2.0, 2.0]})
        >>> items, left_out = predictions_frame_items(preds, [DMItem(5, {})])
        >>> items[0].data_unit, items[0].data["images"][0]["bounding_box"][0]["data"], left_out
        (5, [0.0, 0.0, 4.0, 2.0], 1)
    """
    columns = set(frame.columns)
    if "class_name" not in columns:
        raise InvalidInputError("predictions", "<frame without 'class_name'>",
                                "needs a class_name column", method=method)
    has_box = {"x", "y", "w", "h"} <= columns
    if not has_box and not {"tool", "geometry"} <= columns:
        raise InvalidInputError("predictions", "<frame without geometry>",
                                "needs x, y, w, h columns or tool and geometry", method=method)
    units, key = _frame_units(frame, ground_truth, method)
    inside = _inside(units, ground_truth, f"predictions[0].{key}",
                     frame[key].iloc[0] if len(frame) else None, method)
    docs: dict[int, dict[str, list[dict[str, Any]]]] = {}
    rows = frame.to_dict("records")
    for pos, (unit, ok, row) in enumerate(zip(units, inside, rows, strict=True)):
        tool, ann = _row_annotation(row, pos, has_box, method)  # every row is checked
        if ok and unit is not None:
            docs.setdefault(unit, {}).setdefault(tool, []).append(ann)
    by_unit = {it.data_unit: it for it in ground_truth}
    items = [DMItem(unit, {"images": [tools]}, width=by_unit[unit].width,
                    height=by_unit[unit].height) for unit, tools in docs.items()]
    return items, len(rows) - sum(inside)


def _frame_units(frame: pd.DataFrame, ground_truth: Sequence[DMItem],
                 method: str) -> tuple[list[int | None], str]:
    """Each row's data unit (None: a file name no data unit has) and the column read."""
    if "data_unit_id" in frame.columns:
        values = frame["data_unit_id"].tolist()
        for pos, value in enumerate(values):
            if _missing(value) or isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInputError(f"predictions[{pos}].data_unit_id", value,
                                        "must be a data unit id", method=method)
        return [int(v) for v in values], "data_unit_id"
    if "file_name" in frame.columns:
        by_file = {it.file_name: it.data_unit for it in ground_truth if it.file_name}
        return [by_file.get(v) for v in frame["file_name"].tolist()], "file_name"
    raise InvalidInputError("predictions", "<frame without data_unit_id>",
                            "needs a data_unit_id (or file_name) column", method=method)


def _row_annotation(row: Mapping[str, Any], pos: int, has_box: bool,
                    method: str) -> tuple[str, dict[str, Any]]:
    tool = row.get("tool") if not _missing(row.get("tool")) else "bounding_box"
    geometry = row.get("geometry")
    if _missing(geometry) or geometry is None:
        if not has_box or tool != "bounding_box":
            raise InvalidInputError(f"predictions[{pos}].geometry", geometry,
                                    f"is missing for a {tool!r} row", method=method)
        geometry = [_float(row, k, pos, method) for k in ("x", "y", "w", "h")]
    score = row.get("score")
    ann: dict[str, Any] = {"id": str(row.get("annotation_id") or f"row{pos}"),
                           "classification": str(row["class_name"]), "data": geometry,
                           "attrs": []}
    if not _missing(score) and score is not None:
        ann["attrs"] = [{"name": "score", "value": _float(row, "score", pos, method)}]
    for key in ("group_id", "visibility"):
        if not _missing(row.get(key)) and row.get(key) is not None:
            ann[key] = row[key] if key == "group_id" else int(row[key])
    return str(tool), ann


def _float(row: Mapping[str, Any], key: str, pos: int, method: str) -> float:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            float(value)):
        raise InvalidInputError(f"predictions[{pos}].{key}", value, "must be a finite number",
                                method=method)
    return float(value)


# ---------------------------------------------------------------------------- models
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


# ---------------------------------------------------------------------------- annotators
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
        work = [items[int(pk)] for pk in group.index if int(pk) in items]
        covered = sorted({it.data_unit for it in work})
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
