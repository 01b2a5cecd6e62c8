"""One document's annotations as numpy arrays, per kind, for evaluation code.

Each function returns a frozen :class:`Detections` whose arrays all have one row per
annotation of the first image (or of ``media_index``): ids, class names, scores (NaN
where the annotation states none, as ground truth does), boxes ``(x, y, w, h)`` and areas,
plus the kind's own geometry (polygon point arrays, boolean masks, keypoint arrays).
Annotations whose geometry cannot be read are left out.

Example:
    >>> doc = {"images": [{"bounding_box": [
    ...     {"id": "a", "classification": "car", "data": [0, 0, 4, 2]},
    ...     {"id": "b", "classification": "bus", "data": [1, 1, 2, 2],
    ...      "attrs": [{"name": "score", "value": 0.8}]}]}]}
    >>> d = box_arrays(doc)
    >>> d.boxes.tolist(), d.classes.tolist(), d.areas.tolist()
    ([[0.0, 0.0, 4.0, 2.0], [1.0, 1.0, 2.0, 2.0]], ['car', 'bus'], [8.0, 4.0])
    >>> d.scores.tolist()
    [nan, 0.8]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synapse_nb.annotations.masks import MaskError, decode_mask
from synapse_nb.annotations.model import Annotation, MediaItem, read_document
from synapse_nb.annotations.skeleton import PERSON_17

__all__ = [
    "Detections",
    "box_arrays",
    "keypoint_arrays",
    "mask_arrays",
    "polygon_arrays",
]


@dataclass(frozen=True, slots=True)
class Detections:
    """Annotations of one kind as parallel arrays (row ``i`` is one annotation or pose).

    Attributes:
        ids: ``(N,)`` object array of annotation ids (group ids for keypoint poses).
        classes: ``(N,)`` object array of class names (None where unlabelled).
        scores: ``(N,)`` float array; NaN where no score is stated.
        boxes: ``(N, 4)`` float array of ``x, y, w, h``.
        areas: ``(N,)`` float array (box area, polygon area, mask pixel count, or the
            area of a pose's box).
        rotations: ``(N,)`` float array of box rotations in radians (0 for other kinds).
        polygons: Polygon point arrays, ``(K_i, 2)`` each (polygon kind only).
        masks: ``(N, H, W)`` boolean array (mask kind only).
        keypoints: ``(N, J, 3)`` float array of ``x, y, visibility`` per joint, 0 for a
            joint a pose lacks (keypoint kind only).
        joints: Joint names, in the order of ``keypoints``' second axis.

    Example:
        >>> len(box_arrays({}))
        0
    """

    ids: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray
    rotations: np.ndarray
    polygons: list[np.ndarray] = field(default_factory=list)
    masks: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    joints: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.ids)


def _media(doc: Any, media_index: int) -> MediaItem | None:
    document = read_document(doc)
    images = [m for m in document.media if m.media == "image" and m.index == media_index]
    return images[0] if images else None


def _build(
    anns: Sequence[Annotation],
    boxes: Sequence[Sequence[float]],
    areas: Sequence[float],
    ids: Sequence[Any] | None = None,
    classes: Sequence[Any] | None = None,
    scores: Sequence[float | None] | None = None,
    **extra: Any,
) -> Detections:
    score_list = [a.score() for a in anns] if scores is None else list(scores)
    return Detections(
        ids=np.array([a.id for a in anns] if ids is None else list(ids), dtype=object),
        classes=np.array(
            [a.label for a in anns] if classes is None else list(classes), dtype=object
        ),
        scores=np.array([np.nan if s is None else s for s in score_list], dtype=float),
        boxes=np.array(boxes, dtype=float).reshape(-1, 4),
        areas=np.array(areas, dtype=float),
        rotations=np.array([a.rotation() for a in anns] if ids is None else [0.0] * len(boxes)),
        **extra,
    )


def box_arrays(doc: Any, media_index: int = 0) -> Detections:
    """The bounding boxes of an image (boxes with a non-positive side are left out).

    Example:
        >>> box_arrays({"images": [{"bounding_box": [{"data": [0, 0, 0, 5]}]}]}).boxes.shape
        (0, 4)
    """
    item = _media(doc, media_index)
    anns, boxes = [], []
    for ann in item.by_tool("bounding_box") if item else []:
        box = ann.bbox()
        if box is not None and box[2] > 0 and box[3] > 0:
            anns.append(ann)
            boxes.append(box)
    return _build(anns, boxes, [w * h for _, _, w, h in boxes])


def polygon_arrays(doc: Any, media_index: int = 0) -> Detections:
    """The polygons of an image (fewer than 3 readable points: left out).

    Example:
        >>> d = polygon_arrays({"images": [{"polygon": [{"id": "p", "classification": "road",
        ...                    "data": [[0, 0], [4, 0], [4, 3]]}]}]})
        >>> d.polygons[0].shape, d.boxes.tolist(), d.areas.tolist()
        ((3, 2), [[0.0, 0.0, 4.0, 3.0]], [6.0])
    """
    item = _media(doc, media_index)
    anns, boxes, areas, polygons = [], [], [], []
    for ann in item.by_tool("polygon") if item else []:
        box, area = ann.bbox_area()
        if box is None or area is None:
            continue
        anns.append(ann)
        boxes.append(box)
        areas.append(area)
        polygons.append(np.array(ann.points(), dtype=float))
    return _build(anns, boxes, areas, polygons=polygons)


def mask_arrays(doc: Any, width: int, height: int, media_index: int = 0) -> Detections:
    """The masks of an image decoded at ``width x height`` (undecodable masks: left out).

    Example:
        >>> d = mask_arrays({"images": [{"segmentation": [{"id": "m", "classification": "sky",
        ...     "data": [[0, 3]], "encoding": "dm_rle", "isCompressed": True,
        ...     "compressionFormat": "rle"}]}]}, 2, 2)
        >>> d.masks.shape, d.areas.tolist(), d.boxes.tolist()
        ((1, 2, 2), [3.0], [[0.0, 0.0, 2.0, 2.0]])
    """
    item = _media(doc, media_index)
    anns, boxes, areas, masks = [], [], [], []
    for ann in item.by_tool("segmentation") if item else []:
        fields = dict(ann.encoding or {})
        if fields.get("encoding") is None:
            rle = ann.is_rle()
            fields = {
                "encoding": "dm_rle" if rle else "raw_indices",
                "isCompressed": rle,
                "compressionFormat": "rle" if rle else None,
            }
        try:
            mask = decode_mask({"data": ann.data, **fields}, width, height)
        except MaskError:
            continue
        box, area = ann.bbox_area(width)
        anns.append(ann)
        boxes.append(box or (0.0, 0.0, 0.0, 0.0))
        areas.append(area or 0.0)
        masks.append(mask)
    stack = np.stack(masks) if masks else np.zeros((0, height, width), dtype=bool)
    return _build(anns, boxes, areas, masks=stack)


def keypoint_arrays(
    doc: Any, joints: Sequence[str] = PERSON_17, media_index: int = 0
) -> Detections:
    """The keypoints of an image as poses: one row per skeleton group.

    Keypoints are grouped by their group (the ``group`` annotation that lists them, or
    their ``group_id``); a pose's class is its group's class, its box is its explicit
    ``bounding_box`` member when there is one, else the extent of its visible joints.
    Joints whose name is not in ``joints`` are left out; so are keypoints in no group.

    Example:
        >>> doc = {"images": [{"keypoint": [
        ...     {"id": "k1", "classification": "a", "data": [1, 2], "group_id": "g"},
        ...     {"id": "k2", "classification": "b", "data": [5, 4], "visibility": 1,
        ...      "group_id": "g"}]}]}
        >>> d = keypoint_arrays(doc, joints=("a", "b"))
        >>> d.ids.tolist(), d.keypoints.tolist(), d.boxes.tolist()
        (['g'], [[[1.0, 2.0, 2.0], [5.0, 4.0, 1.0]]], [[1.0, 2.0, 4.0, 2.0]])
    """
    item = _media(doc, media_index)
    slot = {name: i for i, name in enumerate(joints)}
    classes, members = item.group_classes() if item else ({}, {})
    poses: dict[str, np.ndarray] = {}
    scores: dict[str, float | None] = {}
    for ann in item.by_tool("keypoint") if item else []:
        group = ann.group_id or members.get(ann.id or "")
        x, y = ann.point()
        if group is None or ann.label not in slot or x is None or y is None:
            continue
        pose = poses.setdefault(group, np.zeros((len(joints), 3)))
        visibility = ann.visibility if ann.visibility in (0, 1, 2) else 2
        pose[slot[ann.label]] = (x, y, visibility)
        scores[group] = scores.get(group) or ann.score()
    explicit = {
        members[b.id]: b.bbox()
        for b in (item.by_tool("bounding_box") if item else [])
        if b.id in members
    }
    boxes = [explicit.get(g) or _pose_extent(p) for g, p in poses.items()]
    return Detections(
        ids=np.array(list(poses), dtype=object),
        classes=np.array([classes.get(g) for g in poses], dtype=object),
        scores=np.array([np.nan if scores[g] is None else scores[g] for g in poses], dtype=float),
        boxes=np.array(boxes, dtype=float).reshape(-1, 4),
        areas=np.array([b[2] * b[3] for b in boxes], dtype=float),
        rotations=np.zeros(len(poses)),
        keypoints=np.stack(list(poses.values())) if poses else np.zeros((0, len(joints), 3)),
        joints=tuple(joints),
    )


def _pose_extent(pose: np.ndarray) -> tuple[float, float, float, float]:
    seen = pose[pose[:, 2] > 0]
    if not len(seen):
        return 0.0, 0.0, 0.0, 0.0
    x0, y0 = seen[:, 0].min(), seen[:, 1].min()
    return float(x0), float(y0), float(seen[:, 0].max() - x0), float(seen[:, 1].max() - y0)
