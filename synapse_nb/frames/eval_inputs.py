"""Predictions given as data rather than server objects: COCO results and predictions frames.

Both are matched to the ground truth's data units (by id or file name) and checked row by
row; rows on other data units are counted, not kept (see :mod:`synapse_nb.frames.evaluation`
for the accepted shapes).

Example:
    >>> src = GroundTruthSource([DMItem(5, {})], 1, {"classes": ["car"]})
    >>> named_results([{"image_id": 5, "category_id": 1, "bbox": [0, 0, 2, 2],
    ...                 "score": 0.5}], src)[0][0]["category_name"]
    'car'
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from synapse_nb.evaluation.dm import DMItem
from synapse_nb.exceptions import InvalidInputError

__all__ = ["GroundTruthSource", "named_results", "predictions_frame_items", "read_results"]


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


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


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


def read_results(path: str | os.PathLike[str], method: str) -> Any:
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
        if "task_id" in frame.columns:  # units read from the tasks: NA = a row of no task
            values = [None if _missing(v) else v for v in values]
        for pos, value in enumerate(values):
            if value is None and "task_id" in frame.columns:
                continue
            if _missing(value) or isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInputError(f"predictions[{pos}].data_unit_id", value,
                                        "must be a data unit id", method=method)
        return [None if v is None else int(v) for v in values], "data_unit_id"
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
