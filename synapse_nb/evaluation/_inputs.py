"""Ground truth and predictions as column arrays, read from COCO dicts or a per-image mapping.

The engine never sees dicts after this module: every annotation becomes one row of a few numpy
arrays (image index, category index, id, area, box, score, crowd/ignore flags) plus, for masks
and keypoints, the raw geometry. What pycocotools' ``COCO.loadRes`` does to a results list is
reproduced here (ids ``1..n``, the area rule), so numbers come out identical.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from synapse_nb.exceptions import ClientError, InvalidInputError

__all__ = ["EvaluationInputError", "GroundTruth", "Predictions", "coco_from_per_image"]


class EvaluationInputError(InvalidInputError):
    """Ground truth or predictions are malformed; the message names the field and the value.

    An :class:`~synapse_nb.exceptions.InvalidInputError` (so a ``ClientError`` and a
    ``ValueError``): ``field`` and ``value`` say what was wrong where they are known.

    Example:
        >>> err = _fail("predictions[0]", "bbox", [1, 2], "is not [x, y, width, height]")
        >>> isinstance(err, ValueError), isinstance(err, ClientError), err.field, err.value
        (True, True, 'predictions[0].bbox', [1, 2])
    """

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        self.field = field if field is not None else "data"
        self.value = value
        ClientError.__init__(self, 400, {self.field: [message]}, message=message)


def _fail(where: str, key: str, value: Any, why: str) -> EvaluationInputError:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return EvaluationInputError(
        f"{where}: field {key!r} = {shown} {why}", field=f"{where}.{key}", value=value
    )


def _number(ann: Mapping[str, Any], key: str, where: str) -> float:
    value = ann.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _fail(where, key, value, "is not a number")
    if not math.isfinite(float(value)):
        raise _fail(where, key, value, "is not finite")
    return float(value)


def _bbox(ann: Mapping[str, Any], where: str) -> list[float]:
    box = ann.get("bbox")
    if not isinstance(box, Sequence) or isinstance(box, str) or len(box) != 4:
        raise _fail(where, "bbox", box, "is not [x, y, width, height]")
    out = [_number({"v": v}, "v", where) for v in box]
    return out


def _id(ann: Mapping[str, Any], key: str, where: str) -> int:
    value = ann.get(key)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _fail(where, key, value, "is not an integer id")
    return int(value)


@dataclass
class GroundTruth:
    """Ground-truth annotations as columns (one row per annotation).

    Attributes:
        image_ids: sorted image ids; ``image`` indexes into it.
        heights, widths: image sizes (0 when unknown; masks then need them).
        category_ids: sorted category ids; ``category`` indexes into it.
        category_names: names in the same order.
    """

    image_ids: np.ndarray
    heights: np.ndarray
    widths: np.ndarray
    category_ids: np.ndarray
    category_names: list[str]
    image: np.ndarray
    category: np.ndarray
    ids: np.ndarray
    area: np.ndarray
    bbox: np.ndarray
    crowd: np.ndarray
    records: Sequence[Mapping[str, Any]] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def raw(self, key: str) -> list[Any]:
        """One raw field (``segmentation``, ``keypoints``, ...) of every row, None if absent."""
        return [r.get(key) for r in self.records]

    @classmethod
    def from_coco(cls, dataset: Mapping[str, Any]) -> GroundTruth:
        """Read a COCO instances/keypoints dict (``images``, ``annotations``, ``categories``).

        ``iscrowd`` defaults to 0; ``area`` defaults to the box area (pycocotools needs it).

        Example:
            >>> gt = GroundTruth.from_coco({"images": [{"id": 1, "width": 9, "height": 9}],
            ...     "categories": [{"id": 3, "name": "cat"}],
            ...     "annotations": [{"id": 1, "image_id": 1, "category_id": 3,
            ...                      "bbox": [0, 0, 4, 5]}]})
            >>> len(gt), float(gt.area[0]), gt.category_names
            (1, 20.0, ['cat'])
        """
        if not isinstance(dataset, Mapping):
            raise _fail("ground truth", "dataset", dataset, "is not a COCO dict")
        images = _records(dataset, "images")
        cats = _records(dataset, "categories")
        image_ids = np.array(sorted({_id(im, "id", "images") for im in images}), dtype=np.int64)
        sizes = {_id(im, "id", "images"): (im.get("height") or 0, im.get("width") or 0)
                 for im in images}
        cat_sorted = sorted({_id(c, "id", "categories"): str(c.get("name", c["id"]))
                             for c in cats}.items())
        category_ids = np.array([c for c, _ in cat_sorted], dtype=np.int64)
        rows = _gt_rows(_records(dataset, "annotations"), image_ids, category_ids)
        return cls(
            image_ids=image_ids,
            heights=np.array([sizes[i][0] for i in image_ids.tolist()], dtype=np.int64),
            widths=np.array([sizes[i][1] for i in image_ids.tolist()], dtype=np.int64),
            category_ids=category_ids,
            category_names=[n for _, n in cat_sorted],
            **rows,
        )


def _records(dataset: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = dataset.get(key, [])
    if not isinstance(value, list) or not (all(type(v) is dict for v in value) or all(
            isinstance(v, Mapping) for v in value)):  # the exact-type check is the fast path
        raise _fail("ground truth", key, value, "is not a list of objects")
    return value


def _index_of(sorted_ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_ids, values)
    pos = np.minimum(pos, max(len(sorted_ids) - 1, 0))
    found = (sorted_ids[pos] == values) if len(sorted_ids) else np.zeros(len(values), bool)
    return np.where(found, pos, -1)


def _column(rows: Sequence[Mapping[str, Any]], key: str, where: str, kinds: str,
            default: Any = None) -> np.ndarray:
    """One field of every row as an array, checked in bulk; the slow path names the culprit."""
    try:
        values = list(map(itemgetter(key), rows))  # twice as fast as .get when all have it
    except KeyError:
        values = [r.get(key, default) for r in rows]
    arr = np.array(values) if values else np.zeros(0, np.int64 if "f" not in kinds else float)
    if arr.ndim == 1 and arr.dtype.kind in kinds and ("f" not in kinds or np.isfinite(
            arr.astype(np.float64)).all()):
        return arr
    check = _number if "f" in kinds else _id
    for i, row in enumerate(rows):
        check({key: row.get(key, default)}, key, f"{where}[{i}]")
    raise _fail(where, key, values[:3], "has values of mixed types")


def _boxes(rows: Sequence[Mapping[str, Any]], where: str, required: bool) -> np.ndarray:
    try:
        values = list(map(itemgetter("bbox"), rows))
    except KeyError:
        values = [r.get("bbox") for r in rows]
    if not required and all(v is None for v in values):
        return np.zeros((len(rows), 4), np.float64)
    try:
        arr = np.array(values) if values else np.zeros((0, 4))
    except ValueError:
        arr = np.zeros(0)
    if arr.shape == (len(rows), 4) and arr.dtype.kind in "iuf" and np.isfinite(arr).all():
        return arr.astype(np.float64)
    for i, row in enumerate(rows):
        if required or row.get("bbox") is not None:
            _bbox(row, f"{where}[{i}]")
    raise _fail(where, "bbox", values[:3], "has boxes of mixed types")


def _gt_rows(anns: list[Mapping[str, Any]], image_ids: np.ndarray,
             category_ids: np.ndarray) -> dict[str, Any]:
    where = "annotations"
    img = _column(anns, "image_id", where, "iu")
    cat = _column(anns, "category_id", where, "iu")
    ids = _column(anns, "id", where, "iu")
    bbox = _boxes(anns, where, required=False)
    with_area = [a for a in anns if "area" in a]
    if len(with_area) == len(anns):
        area = _column(anns, "area", where, "iuf").astype(np.float64)
    else:
        area = bbox[:, 2] * bbox[:, 3]
        if with_area:
            has = np.array(["area" in a for a in anns])
            area[has] = _column(with_area, "area", where, "iuf")
    crowd = _column(anns, "iscrowd", where, "iub", default=0).astype(bool)
    img_idx = _index_of(image_ids, img)
    if (img_idx < 0).any():
        bad = int(img[np.argmax(img_idx < 0)])
        raise _fail("annotations", "image_id", bad, "is not in 'images'")
    cat_idx = _index_of(category_ids, cat)
    keep = cat_idx >= 0  # like pycocotools: annotations of unlisted categories are not evaluated
    kept = anns if keep.all() else [a for a, k in zip(anns, keep.tolist(), strict=True) if k]
    return {"image": img_idx[keep], "category": cat_idx[keep], "ids": ids[keep],
            "area": area[keep], "bbox": bbox[keep], "crowd": crowd[keep], "records": kept}


def keypoint_array(kp: Any, where: str) -> np.ndarray:
    """A flat ``[x, y, v, ...]`` keypoint list as a float array, checked.

    Example:
        >>> keypoint_array([1, 2, 2], "x").tolist()
        [1.0, 2.0, 2.0]
    """
    try:
        arr = np.asarray(kp, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros((0, 0))
    if arr.ndim != 1 or len(arr) == 0 or len(arr) % 3 or not np.isfinite(arr).all():
        raise _fail(where, "keypoints", kp, "is not a flat [x, y, v, ...] list")
    return arr


@dataclass
class Predictions:
    """Predicted annotations as columns, in the order of the results list.

    ``ids`` are the results' own ``id`` when they have one (all or none), else ``1..n`` (what
    pycocotools assigns). ``area`` follows ``COCO.loadRes``: the box area when the first result
    has a box, else the mask area (segm) or the keypoints' extent (keypoints).
    """

    image: np.ndarray
    category: np.ndarray
    ids: np.ndarray
    score: np.ndarray
    area: np.ndarray
    bbox: np.ndarray
    has_bbox: bool
    records: Sequence[Mapping[str, Any]] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def raw(self, key: str) -> list[Any]:
        """One raw field (``segmentation``, ``keypoints``, ...) of every row, None if absent."""
        return [r.get(key) for r in self.records]

    @classmethod
    def from_coco(cls, results: Sequence[Mapping[str, Any]], gt: GroundTruth) -> Predictions:
        """Read a COCO results list (``image_id``, ``category_id``, ``score``, geometry).

        Results of categories the ground truth does not list are dropped (as pycocotools does);
        a result on an image the ground truth does not list is an error.

        Example:
            >>> gt = GroundTruth.from_coco({"images": [{"id": 1}],
            ...     "categories": [{"id": 3, "name": "cat"}], "annotations": []})
            >>> p = Predictions.from_coco([{"image_id": 1, "category_id": 3,
            ...     "bbox": [0, 0, 2, 2], "score": 0.5}], gt)
            >>> p.ids.tolist(), p.area.tolist()
            ([1], [4.0])
        """
        if isinstance(results, Mapping) or not isinstance(results, Sequence):
            raise _fail("predictions", "results", results, "is not a list of result objects")
        where = "predictions"
        if not all(type(r) is dict for r in results) and not all(  # the fast check first
                isinstance(r, Mapping) for r in results):
            bad = next(i for i, r in enumerate(results) if not isinstance(r, Mapping))
            raise _fail(f"{where}[{bad}]", "result", results[bad], "is not an object")
        n = len(results)
        img = _column(results, "image_id", where, "iu")
        cat = _column(results, "category_id", where, "iu")
        score = _column(results, "score", where, "iuf").astype(np.float64)
        has_bbox = n > 0 and bool(results[0].get("bbox"))
        bbox = _boxes(results, where, required=has_bbox)
        ids = (_column(results, "id", where, "iu") if n and "id" in results[0]
               else np.arange(1, n + 1, dtype=np.int64))
        img_idx = _index_of(gt.image_ids, img)
        if (img_idx < 0).any():
            bad = int(img[np.argmax(img_idx < 0)])
            raise _fail("predictions", "image_id", bad, "is not an image of the ground truth")
        area = (bbox[:, 2] * bbox[:, 3] if has_bbox else _area_without_box(
            [r.get("segmentation") for r in results], [r.get("keypoints") for r in results],
            gt, img_idx))
        cat_idx = _index_of(gt.category_ids, cat)
        keep = cat_idx >= 0
        kept = (results if keep.all()
                else [r for r, k in zip(results, keep.tolist(), strict=True) if k])
        return cls(image=img_idx[keep], category=cat_idx[keep], ids=ids[keep],
                   score=score[keep], area=np.asarray(area, np.float64)[keep], bbox=bbox[keep],
                   has_bbox=has_bbox, records=kept)


def _area_without_box(segm: list[Any], kps: list[Any], gt: GroundTruth,
                      img_idx: np.ndarray) -> np.ndarray:
    if segm and segm[0] is not None:
        from synapse_nb.evaluation._masks import mask_areas, to_rles  # masks import this module

        return mask_areas(to_rles(segm, gt.heights[img_idx], gt.widths[img_idx], "predictions"))
    out = np.zeros(len(kps), np.float64)
    for i, raw in enumerate(kps):
        kp = keypoint_array(raw, f"predictions[{i}]")
        x, y = kp[0::3], kp[1::3]
        out[i] = (x.max() - x.min()) * (y.max() - y.min())
    return out


def coco_from_per_image(
    ground_truth: Mapping[Any, Sequence[Mapping[str, Any]]],
    predictions: Mapping[Any, Sequence[Mapping[str, Any]]],
    *,
    image_sizes: Mapping[Any, tuple[int, int]] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Turn ``{image: [{"label", "bbox", ...}]}`` mappings into a COCO dict and results list.

    Each annotation names its class with ``label`` (any hashable) or ``category_id``; boxes are
    ``[x, y, width, height]``; predictions carry ``score``. Images are keyed by any hashable and
    numbered in sorted order of their string form; categories likewise. ``image_sizes`` maps an
    image to ``(height, width)``, needed for masks.

    Example:
        >>> gt, res = coco_from_per_image({"a.jpg": [{"label": "car", "bbox": [0, 0, 4, 4]}]},
        ...                               {"a.jpg": [{"label": "car", "bbox": [0, 0, 4, 3],
        ...                                           "score": 0.9}]})
        >>> gt["categories"], res[0]["image_id"], gt["annotations"][0]["area"]
        ([{'id': 1, 'name': 'car'}], 1, 16.0)
    """
    images = sorted(set(ground_truth) | set(predictions), key=str)
    image_ids = {key: i + 1 for i, key in enumerate(images)}
    labels = {_label(a) for anns in (*ground_truth.values(), *predictions.values()) for a in anns}
    cat_ids = {lab: i + 1 for i, lab in enumerate(sorted(labels, key=str))}
    sizes = image_sizes or {}
    dataset: dict[str, Any] = {
        "images": [{"id": image_ids[k], "file_name": str(k), "height": sizes.get(k, (0, 0))[0],
                    "width": sizes.get(k, (0, 0))[1]} for k in images],
        "categories": [{"id": i, "name": str(lab)} for lab, i in cat_ids.items()],
        "annotations": [],
    }
    for key, anns in ground_truth.items():
        for ann in anns:
            row = _converted(ann, image_ids[key], cat_ids)
            row.setdefault("id", len(dataset["annotations"]) + 1)
            row.setdefault("iscrowd", 0)
            if "area" not in row and "bbox" in row:
                row["area"] = float(row["bbox"][2]) * float(row["bbox"][3])
            dataset["annotations"].append(row)
    results = [_converted(ann, image_ids[key], cat_ids)
               for key, anns in predictions.items() for ann in anns]
    return dataset, results


def _label(ann: Mapping[str, Any]) -> Any:
    if "label" in ann:
        return ann["label"]
    if "category_id" in ann:
        return ann["category_id"]
    raise _fail("per-image annotation", "label", None, "is missing (give label or category_id)")


def _converted(ann: Mapping[str, Any], image_id: int, cat_ids: Mapping[Any, int]) -> dict[str, Any]:
    row = {k: v for k, v in ann.items() if k not in ("label", "category_id")}
    row["image_id"] = image_id
    row["category_id"] = cat_ids[_label(ann)]
    return row
