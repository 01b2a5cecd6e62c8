"""DM documents (ground-truth events, tasks, predictions) as the engine's COCO inputs.

The adapter reads every document with the one annotation model (:mod:`synapse_nb.annotations`)
and writes a COCO ground-truth dict and a COCO results list whose image ids are **data unit
ids**, so ``per_image()`` and ``per_annotation()`` of the result join onto any Synapse frame by
``data_unit_id``. Each COCO annotation keeps the item it came from (event, task or assignment
id) and its DM annotation id in :class:`Links`.

What is evaluated, per IoU type (``tools=`` changes it):

* ``bbox``: ``bounding_box`` annotations. A rotated box is evaluated by its axis-aligned hull
  (the box of its four corners) and counted in ``notes``; to evaluate the rotated shape exactly,
  pass ``tools=("bounding_box",)`` with ``segm``.
* ``segm``: ``polygon`` and ``segmentation`` (mask) annotations as masks; ``bounding_box``
  when asked, as its (rotated) corner polygon. Masks need the image width and height.
* ``keypoints``: one pose per skeleton group, its joints in the order of the project
  configuration's ``keypoints`` (COCO Person-17 otherwise); the pose's class is its group's
  class, its box the group's box (else the extent of its visible joints), its area that box's.
  OKS sigmas: the project configuration's ``keypoint_sigmas`` when present (a list in joint
  order, a ``{joint: sigma}`` map, or ``{class: either}``), else COCO's sigma of each joint
  named as in COCO Person-17, else the mean COCO sigma.

Categories are the configuration's ``classes`` in order, then any other class met, sorted;
ids ``1..K``. A prediction that states no score (``score``/``confidence`` attribute or a top
``score`` field) counts with ``default_score`` (1.0): an annotator's work can then be evaluated
like a model's.

Example:
    >>> gt = [DMItem(7, {"images": [{"bounding_box": [
    ...     {"id": "a", "classification": "car", "data": [0, 0, 40, 40]}]}]})]
    >>> pred = [DMItem(7, {"images": [{"bounding_box": [{"id": "p", "classification": "car",
    ...     "data": [0, 0, 40, 38], "attrs": [{"name": "score", "value": 0.9}]}]}]})]
    >>> inputs = coco_from_dm(gt, pred, "bbox")
    >>> inputs.results[0]["image_id"], inputs.pred_links.loc[1, "dm_annotation_id"]
    (7, 'p')
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from synapse_nb.annotations import (
    Annotation,
    MaskError,
    box_corners,
    decode_mask,
    keypoint_arrays,
    read_document,
)
from synapse_nb.annotations.skeleton import PERSON_17
from synapse_nb.evaluation._engine import IouType
from synapse_nb.evaluation._inputs import EvaluationInputError
from synapse_nb.evaluation._iou import COCO_SIGMAS

__all__ = [
    "DEFAULT_TOOLS",
    "DMInputs",
    "DMItem",
    "Links",
    "add_named_results",
    "check_tools",
    "coco_from_dm",
    "iou_type_of",
    "keypoint_sigmas",
]

#: The DM tools evaluated under each IoU type unless ``tools=`` says otherwise.
DEFAULT_TOOLS: dict[str, tuple[str, ...]] = {
    "bbox": ("bounding_box",),
    "segm": ("polygon", "segmentation"),
    "keypoints": ("keypoint",),
}
_SUPPORTED = {"bbox": {"bounding_box"}, "segm": {"bounding_box", "polygon", "segmentation"},
              "keypoints": {"keypoint"}}


@dataclass(frozen=True)
class DMItem:
    """One data unit's DM document.

    Attributes:
        data_unit: Data unit id (the COCO image id).
        data: The DM v1/v2 document.
        item: The id of what holds it (event, task or assignment id); None when none.
        width, height: Image size in px (masks need it).
        file_name: The data unit's file name (COCO results may name images by it).
    """

    data_unit: int
    data: Any
    item: int | None = None
    width: int | None = None
    height: int | None = None
    file_name: str | None = None


@dataclass
class Links:
    """Where each COCO annotation came from: ``gt``/``pred`` frames indexed by COCO id with
    ``data_unit_id``, ``item_id`` and ``dm_annotation_id`` (the DM id; a pose's group id)."""

    gt: pd.DataFrame
    pred: pd.DataFrame


@dataclass
class DMInputs:
    """The engine's inputs built from DM documents, and how to map results back.

    Attributes:
        dataset: COCO ground-truth dict (image ids = data unit ids).
        results: COCO results list (``id`` = the row of ``pred_links``).
        gt_links, pred_links: :class:`Links` frames.
        sigmas: ``{category id: OKS sigmas}`` (keypoints only).
        joints: Joint names in keypoint order (keypoints only).
        notes: What was converted or left out, in words.
    """

    dataset: dict[str, Any]
    results: list[dict[str, Any]]
    gt_links: pd.DataFrame
    pred_links: pd.DataFrame
    sigmas: dict[int, list[float]] = field(default_factory=dict)
    joints: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def links(self) -> Links:
        """Both link frames."""
        return Links(self.gt_links, self.pred_links)


def iou_type_of(value: Any) -> IouType:
    """``value`` as an IoU type, checked.

    Example:
        >>> iou_type_of("segm")
        'segm'
    """
    if value == "bbox":
        return "bbox"
    if value == "segm":
        return "segm"
    if value == "keypoints":
        return "keypoints"
    raise EvaluationInputError(f"iou_type = {value!r} is not one of {sorted(DEFAULT_TOOLS)}")


def _check_iou_type(iou_type: Any) -> str:
    return iou_type_of(iou_type)


def check_tools(tools: Any, iou_type: str) -> tuple[str, ...]:
    """The DM tools evaluated under ``iou_type`` (``tools``, checked, or the defaults).

    Example:
        >>> check_tools(None, "segm")
        ('polygon', 'segmentation')
        >>> check_tools("keypoint", "bbox")
        Traceback (most recent call last):
        ...
        synapse_nb.evaluation._inputs.EvaluationInputError: tools = 'keypoint' is not a \
non-empty choice of ['bounding_box'] (the tools bbox evaluates)
    """
    if tools is None:
        return DEFAULT_TOOLS[iou_type]
    chosen = (tools,) if isinstance(tools, str) else tuple(tools)
    bad = [t for t in chosen if t not in _SUPPORTED[iou_type]]
    if bad or not chosen:
        raise EvaluationInputError(
            f"tools = {tools!r} is not a non-empty choice of {sorted(_SUPPORTED[iou_type])} "
            f"(the tools {iou_type} evaluates)")
    return chosen


@dataclass
class _Shape:
    """One annotation converted: class, geometry fields, score, DM id."""

    label: str
    fields: dict[str, Any]
    score: float | None
    dm_id: str | None


def _box_shape(ann: Annotation, iou_type: str, notes: dict[str, int]) -> dict[str, Any] | None:
    box = ann.bbox()
    if box is None or box[2] <= 0 or box[3] <= 0:
        return None
    rotation = ann.rotation()
    corners = box_corners(box, rotation) if rotation else None
    if iou_type == "segm":
        flat = [v for xy in (corners or box_corners(box)) for v in xy]
        return {"segmentation": [flat]}
    if corners is not None:
        notes["rotated boxes evaluated by their axis-aligned hull"] += 1
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    return {"bbox": [float(v) for v in box], "area": float(box[2] * box[3])}


def _polygon_shape(ann: Annotation) -> dict[str, Any] | None:
    points = ann.points()
    box, area = ann.bbox_area()
    if len(points) < 3 or box is None or not area:
        return None
    return {"segmentation": [[float(v) for xy in points for v in xy]]}


def _mask_shape(ann: Annotation, item: DMItem, notes: dict[str, int]) -> dict[str, Any] | None:
    if not item.width or not item.height:
        raise EvaluationInputError(
            f"data unit {item.data_unit}: field 'width'/'height' = "
            f"{item.width!r}x{item.height!r}: a mask needs the image size")
    fields = dict(ann.encoding or {})
    if fields.get("encoding") is None:
        rle = ann.is_rle()
        fields = {"encoding": "dm_rle" if rle else "raw_indices", "isCompressed": rle,
                  "compressionFormat": "rle" if rle else None}
    try:
        mask = decode_mask({"data": ann.data, **fields}, int(item.width), int(item.height))
    except MaskError:
        notes["undecodable masks left out"] += 1
        return None
    if not mask.any():
        return None
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"segmentation": {"size": [int(v) for v in rle["size"]],
                             "counts": rle["counts"].decode("ascii")}}


def _shapes(item: DMItem, iou_type: str, tools: tuple[str, ...], joints: tuple[str, ...],
            notes: dict[str, int]) -> list[_Shape]:
    if iou_type == "keypoints":
        return _pose_shapes(item, joints)
    doc = read_document(item.data, tools)
    image = doc.first_image()
    out: list[_Shape] = []
    for ann in image.annotations if image else []:
        if ann.tool not in tools or ann.label is None:
            continue
        if ann.tool == "bounding_box":
            shape = _box_shape(ann, iou_type, notes)
        elif ann.tool == "polygon":
            shape = _polygon_shape(ann)
        else:
            shape = _mask_shape(ann, item, notes)
        if shape is None:
            notes[f"{ann.tool} annotations without a usable geometry left out"] += 1
            continue
        out.append(_Shape(ann.label, shape, ann.score(), ann.id))
    return out


def _pose_shapes(item: DMItem, joints: tuple[str, ...]) -> list[_Shape]:
    poses = keypoint_arrays(item.data, joints=joints)
    out: list[_Shape] = []
    if poses.keypoints is None:
        return out
    for i in range(len(poses)):
        label = poses.classes[i]
        if label is None:
            continue
        kp = poses.keypoints[i]
        box = [float(v) for v in poses.boxes[i]]
        score = None if math.isnan(poses.scores[i]) else float(poses.scores[i])
        out.append(_Shape(str(label), {
            "keypoints": [float(v) for v in kp.reshape(-1)],
            "num_keypoints": int(np.count_nonzero(kp[:, 2] > 0)),
            "bbox": box, "area": box[2] * box[3]}, score, str(poses.ids[i])))
    return out


def _categories(classes: Sequence[str] | None, seen: Iterable[str]) -> dict[str, int]:
    ordered = [str(c) for c in classes or ()]
    ordered += sorted(set(seen) - set(ordered))
    return {name: i + 1 for i, name in enumerate(dict.fromkeys(ordered))}


def _check_items(items: Any, name: str) -> list[DMItem]:
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        raise EvaluationInputError(f"{name} = {type(items).__name__} is not a list of DMItem")
    out = list(items)
    for i, it in enumerate(out):
        if not isinstance(it, DMItem) or isinstance(it.data_unit, bool) or not isinstance(
                it.data_unit, int | np.integer):
            raise EvaluationInputError(
                f"{name}[{i}]: field 'data_unit' = {getattr(it, 'data_unit', it)!r} is not a "
                "data unit id (give DMItem(data_unit=<int>, data=<DM document>))")
    return out


def _links(rows: Sequence[tuple[int, int | None, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame({
        "data_unit_id": pd.array([r[0] for r in rows], dtype="Int64"),
        "item_id": pd.array([r[1] for r in rows], dtype="Int64"),
        "dm_annotation_id": pd.array([r[2] for r in rows], dtype="string")},
        index=pd.RangeIndex(1, len(rows) + 1, name="coco_id"))
    return frame


def coco_from_dm(
    ground_truth: Iterable[DMItem],
    predictions: Iterable[DMItem],
    iou_type: IouType = "bbox",
    *,
    configuration: Mapping[str, Any] | None = None,
    tools: str | Sequence[str] | None = None,
    default_score: float = 1.0,
) -> DMInputs:
    """Build the COCO ground truth and results of DM documents (see the module docstring).

    Args:
        ground_truth: One :class:`DMItem` per data unit of the ground truth (every one is an
            image of the evaluation, annotated or not).
        predictions: Predicted documents; a data unit the ground truth lacks is an error.
        iou_type: ``bbox``, ``segm`` or ``keypoints``.
        configuration: The project configuration (``classes``, ``keypoints``,
            ``keypoint_sigmas``), when known.
        tools: The DM tools to evaluate (default: :data:`DEFAULT_TOOLS`).
        default_score: The score of a prediction that states none.

    Raises:
        EvaluationInputError: A bad argument or a prediction on an unknown data unit; the
            message names the field and the value.

    Example:
        >>> gt = [DMItem(1, {"images": [{"polygon": [{"id": "r", "classification": "road",
        ...     "data": [[0, 0], [8, 0], [8, 8]]}]}]}, width=10, height=10)]
        >>> coco_from_dm(gt, [], "segm").dataset["annotations"][0]["segmentation"]
        [[0.0, 0.0, 8.0, 0.0, 8.0, 8.0]]
    """
    kind = _check_iou_type(iou_type)
    chosen = check_tools(tools, kind)
    gt_items = _check_items(ground_truth, "ground_truth")
    pred_items = _check_items(predictions, "predictions")
    if isinstance(default_score, bool) or not isinstance(default_score, int | float) or not (
            math.isfinite(default_score)):
        raise EvaluationInputError(f"default_score = {default_score!r} is not a finite number")
    config = dict(configuration or {})
    joints = tuple(config.get("keypoints") or PERSON_17)
    with _gc_paused():
        return _convert(gt_items, pred_items, kind, chosen, joints, config, float(default_score))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic collector off while annotations are read: its full passes over the many
    fresh objects cost as much as the reading (the objects hold no cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _convert(gt_items: list[DMItem], pred_items: list[DMItem], kind: str,
             chosen: tuple[str, ...], joints: tuple[str, ...], config: Mapping[str, Any],
             default_score: float) -> DMInputs:
    notes: dict[str, int] = _Counter()
    gt_shapes = [(it, _shapes(it, kind, chosen, joints, notes)) for it in gt_items]
    known = {int(it.data_unit) for it in gt_items}
    for i, it in enumerate(pred_items):
        if int(it.data_unit) not in known:
            raise EvaluationInputError(
                f"predictions[{i}]: field 'data_unit' = {it.data_unit!r} is not a data unit "
                "of the ground truth")
    pred_shapes = [(it, _shapes(it, kind, chosen, joints, notes)) for it in pred_items]
    seen = {s.label for _, shapes in (*gt_shapes, *pred_shapes) for s in shapes}
    cats = _categories(config.get("classes"), seen)
    dataset, gt_rows = _dataset(gt_items, gt_shapes, cats)
    results, pred_rows = _results(pred_shapes, cats, default_score)
    return DMInputs(
        dataset=dataset, results=results, gt_links=_links(gt_rows), pred_links=_links(pred_rows),
        sigmas=keypoint_sigmas(config, joints, cats) if kind == "keypoints" else {},
        joints=joints if kind == "keypoints" else (),
        notes=[f"{n} {what}" for what, n in notes.items()])


class _Counter(dict[str, int]):
    def __missing__(self, key: str) -> int:
        return 0


def _dataset(items: list[DMItem], shapes: list[tuple[DMItem, list[_Shape]]],
             cats: Mapping[str, int]) -> tuple[dict[str, Any], list[Any]]:
    images = {}
    for it in items:
        images[int(it.data_unit)] = {"id": int(it.data_unit), "width": int(it.width or 0),
                                     "height": int(it.height or 0),
                                     "file_name": it.file_name or ""}
    annotations: list[dict[str, Any]] = []
    rows: list[tuple[int, int | None, str | None]] = []
    for it, found in shapes:
        for s in found:
            ann = {"id": len(annotations) + 1, "image_id": int(it.data_unit),
                   "category_id": cats[s.label], "iscrowd": 0, **s.fields}
            if "area" not in ann and "segmentation" in ann:
                ann["area"] = _segm_area(ann["segmentation"], it)
            if "bbox" not in ann and "segmentation" in ann:
                ann["bbox"] = _segm_box(ann["segmentation"], it)
            annotations.append(ann)
            rows.append((int(it.data_unit), it.item, s.dm_id))
    dataset = {"images": [images[k] for k in sorted(images)],
               "categories": [{"id": i, "name": n} for n, i in cats.items()],
               "annotations": annotations}
    return dataset, rows


def _segm_rle(segm: Any, it: DMItem) -> Any:
    if isinstance(segm, dict):
        return segm
    h, w = int(it.height or 0), int(it.width or 0)
    if h <= 0 or w <= 0:  # polygon area without a raster: the shoelace area of the polygon
        return None
    return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))


def _segm_area(segm: Any, it: DMItem) -> float:
    rle = _segm_rle(segm, it)
    if rle is None:
        xy = np.asarray(segm[0], float).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)
    return float(mask_utils.area(rle))


def _segm_box(segm: Any, it: DMItem) -> list[float]:
    rle = _segm_rle(segm, it)
    if rle is None:
        xy = np.asarray(segm[0], float).reshape(-1, 2)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
    return [float(v) for v in mask_utils.toBbox(rle)]


def _results(shapes: list[tuple[DMItem, list[_Shape]]], cats: Mapping[str, int],
             default_score: float) -> tuple[list[dict[str, Any]], list[Any]]:
    results: list[dict[str, Any]] = []
    rows: list[tuple[int, int | None, str | None]] = []
    for it, found in shapes:
        for s in found:
            fields = _result_geometry(s.fields, it)
            results.append({"id": len(results) + 1, "image_id": int(it.data_unit),
                            "category_id": cats[s.label],
                            "score": default_score if s.score is None else s.score, **fields})
            rows.append((int(it.data_unit), it.item, s.dm_id))
    return results, rows


def _result_geometry(fields: Mapping[str, Any], it: DMItem) -> dict[str, Any]:
    """What a COCO result carries: the box, the mask as RLE, or the keypoints alone (their
    area and box are derived from them, as ``COCO.loadRes`` does)."""
    if "keypoints" in fields:
        return {"keypoints": fields["keypoints"]}
    if "segmentation" in fields:
        rle = _segm_rle(fields["segmentation"], it)
        if rle is None:
            raise EvaluationInputError(
                f"data unit {it.data_unit}: field 'width'/'height' = {it.width!r}x"
                f"{it.height!r}: a predicted polygon is rasterised, which needs the image size")
        counts = rle["counts"]
        return {"segmentation": {"size": [int(v) for v in rle["size"]], "counts": counts.decode(
            "ascii") if isinstance(counts, bytes) else counts}}
    return {"bbox": fields["bbox"]}


def keypoint_sigmas(configuration: Mapping[str, Any], joints: Sequence[str],
                    categories: Mapping[str, int]) -> dict[int, list[float]]:
    """OKS sigmas per category id from a project configuration (see the module docstring).

    Example:
        >>> keypoint_sigmas({}, ("nose", "left_eye"), {"person": 1})
        {1: [0.026, 0.025]}
        >>> keypoint_sigmas({"keypoint_sigmas": {"a": 0.1}}, ("a",), {"p": 1})
        {1: [0.1]}
    """
    given = configuration.get("keypoint_sigmas")
    out = {}
    for name, cid in categories.items():
        spec = given.get(name, given) if isinstance(given, Mapping) else given
        out[cid] = _sigmas_of(spec, joints, name)
    return out


def _sigmas_of(spec: Any, joints: Sequence[str], label: str) -> list[float]:
    coco = {j: float(s) for j, s in zip(PERSON_17, COCO_SIGMAS, strict=True)}
    default = float(COCO_SIGMAS.mean())
    if spec is None:
        return [round(coco.get(j, default), 6) for j in joints]
    if isinstance(spec, Mapping):
        values = [spec.get(j, coco.get(j, default)) for j in joints]
    elif isinstance(spec, Sequence) and not isinstance(spec, str):
        values = list(spec)
    else:
        values = []
    if len(values) != len(joints) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in values):
        raise EvaluationInputError(
            f"configuration: field 'keypoint_sigmas' = {spec!r} (class {label!r}) is not "
            f"{len(joints)} positive numbers (one per keypoint) nor a {{joint: sigma}} map")
    return [float(v) for v in values]


def add_named_results(inputs: DMInputs, results: Sequence[Mapping[str, Any]]) -> None:
    """Append COCO results that name their class (``category_name``) to ``inputs``.

    ``image_id`` must be a data unit of the ground truth; the geometry (``bbox``,
    ``segmentation``, ``keypoints``) is kept as given. Results of a class the evaluation does
    not know are left out (as pycocotools leaves out unknown categories) and counted in
    ``notes``; their ``id``, when given, becomes the link's ``dm_annotation_id``.

    Example:
        >>> inputs = coco_from_dm([DMItem(1, {"images": [{"bounding_box": [
        ...     {"id": "a", "classification": "car", "data": [0, 0, 4, 4]}]}]})], [])
        >>> add_named_results(inputs, [{"image_id": 1, "category_name": "car",
        ...                             "bbox": [0, 0, 4, 4], "score": 0.5}])
        >>> inputs.results[0]["category_id"], len(inputs.pred_links)
        (1, 1)
    """
    cats = {c["name"]: c["id"] for c in inputs.dataset["categories"]}
    images = {im["id"] for im in inputs.dataset["images"]}
    rows: list[tuple[int, int | None, str | None]] = [
        (int(unit), None if pd.isna(item) else int(item), None if pd.isna(dm) else str(dm))
        for unit, item, dm in inputs.pred_links.itertuples(index=False)]
    unknown = 0
    for i, res in enumerate(results):
        image = res.get("image_id")
        if not isinstance(image, int) or image not in images:
            raise EvaluationInputError(
                f"predictions[{i}]: field 'image_id' = {image!r} is not a data unit of the "
                "ground truth")
        name = res.get("category_name")
        if name not in cats:
            unknown += 1
            continue
        out = {k: v for k, v in res.items() if k not in ("category_name", "id", "file_name")}
        out.update({"id": len(inputs.results) + 1, "category_id": cats[name]})
        inputs.results.append(out)
        dm_id = res.get("id")
        rows.append((int(image), None, None if dm_id is None else str(dm_id)))
    inputs.pred_links = _links(rows)
    if unknown:
        inputs.notes.append(f"{unknown} results of classes the ground truth does not have "
                            "left out")
