"""Which box a skeleton belongs to, for the keypoint-outside-box rule of ``df.synapse.health()``.

A skeleton is a keypoint group: the keypoints that name it in ``group_id`` or that a ``group``
annotation lists among its members. Its box, on the same image (row of the frame):

- the ``bounding_box`` the same ``group`` annotation lists as a member, when there is one;
- otherwise (no group links a box to it) the box of the group's class that holds most of its
  joints, among the boxes no group claims.

The work is one pass over the annotations: dictionaries keyed by (row, group) and by
(row, class) replace a search of every box per skeleton.

Example:
    >>> ann = pd.DataFrame({
    ...     "task_id": [1, 1, 1, 1, 1],
    ...     "tool": ["bounding_box", "bounding_box", "keypoint", "keypoint", "group"],
    ...     "annotation_id": ["a", "b", "k1", "k2", "g"],
    ...     "class_name": ["person", "person", "nose", "eye", "person"],
    ...     "x": [0.0, 50.0, 10.0, 20.0, None], "y": [0.0, 0.0, 10.0, 10.0, None],
    ...     "w": [40.0, 40.0, None, None, None], "h": [40.0, 40.0, None, None, None],
    ...     "visibility": [None, None, 2, 2, None], "group_id": [None, None, "g", "g", None],
    ...     "geometry": [None, None, None, None, ["b", "k1", "k2"]]})
    >>> skeleton_joints(ann, "task_id", ann[ann["tool"] == "bounding_box"]).tolist()
    [None, [[10.0, 10.0, 2.0], [20.0, 10.0, 2.0]]]
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["skeleton_joints"]

#: (frame row, group id)
_Key = tuple[Any, str]
_Box = tuple[Hashable, float, float, float, float]


@dataclass
class _Skeleton:
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    visible: list[list[float]] = field(default_factory=list)


def skeleton_joints(ann: pd.DataFrame, owner: str, rows: pd.DataFrame) -> pd.Series:
    """Per row of ``rows``: the visible joints of the skeleton whose box it is (else None).

    Args:
        ann: The annotations view (``tool``, ``annotation_id``, ``class_name``, ``x``, ``y``,
            ``w``, ``h``, ``visibility``, ``group_id``, ``geometry`` and ``owner``).
        owner: The column naming each annotation's row (``task_id``, ...).
        rows: The judged annotations (a subset of ``ann``); only boxes get joints.

    Returns:
        A Series on ``rows``' index: ``[[x, y, 2.0], ...]`` or None.
    """
    out = pd.Series([None] * len(rows), index=rows.index, dtype=object)
    keypoints = ann[ann["tool"] == "keypoint"]
    if keypoints.empty:
        return out
    classes, members = _groups(ann[ann["tool"] == "group"], owner)
    skeletons = _skeletons(keypoints, owner, members)
    linked, free = _boxes(rows[rows["tool"] == "bounding_box"], owner, members)
    for key, skeleton in skeletons.items():
        best = linked.get(key)
        if best is None and not _missing(classes.get(key)):
            best = _most_joints(free.get((key[0], classes[key]), []), skeleton)
        if best is not None:
            out.at[best] = skeleton.visible
    return out


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, list | dict) and bool(pd.isna(value)))


def _groups(groups: pd.DataFrame, owner: str) -> tuple[dict[_Key, Any], dict[_Key, str]]:
    """``(row, group) -> class`` and ``(row, member id) -> group`` (the first group wins)."""
    classes: dict[_Key, Any] = {}
    members: dict[_Key, str] = {}
    for unit, gid, cls, data in zip(groups[owner], groups["annotation_id"],
                                     groups["class_name"], groups["geometry"], strict=True):
        if _missing(gid):
            continue
        classes[(unit, str(gid))] = cls
        for member in data if isinstance(data, list) else ():
            members.setdefault((unit, str(member)), str(gid))
    return classes, members


def _skeletons(points: pd.DataFrame, owner: str, members: dict[_Key, str]
               ) -> dict[_Key, _Skeleton]:
    skeletons: dict[_Key, _Skeleton] = {}
    for unit, aid, gid, x, y, vis in zip(points[owner], points["annotation_id"],
                                         points["group_id"], points["x"], points["y"],
                                         points["visibility"], strict=True):
        group = str(gid) if not _missing(gid) else members.get((unit, str(aid)))
        if group is None or _missing(x) or _missing(y):
            continue
        skeleton = skeletons.setdefault((unit, group), _Skeleton())
        skeleton.xs.append(float(x))
        skeleton.ys.append(float(y))
        if not _missing(vis) and vis == 2:
            skeleton.visible.append([float(x), float(y), 2.0])
    return skeletons


def _boxes(boxes: pd.DataFrame, owner: str, members: dict[_Key, str]
           ) -> tuple[dict[_Key, Hashable], dict[tuple[Any, Any], list[_Box]]]:
    """The boxes a group lists (by group) and the others (by row and class)."""
    linked: dict[_Key, Hashable] = {}
    free: dict[tuple[Any, Any], list[_Box]] = {}
    for index, unit, aid, cls, x, y, w, h in zip(
            boxes.index, boxes[owner], boxes["annotation_id"], boxes["class_name"],
            boxes["x"], boxes["y"], boxes["w"], boxes["h"], strict=True):
        group = None if _missing(aid) else members.get((unit, str(aid)))
        if group is not None:
            linked.setdefault((unit, group), index)
        else:
            free.setdefault((unit, cls), []).append((index, x, y, w, h))
    return linked, free


def _most_joints(candidates: list[_Box], skeleton: _Skeleton) -> Hashable | None:
    if not candidates:
        return None
    xs, ys = np.asarray(skeleton.xs), np.asarray(skeleton.ys)
    inside = [int(((xs >= x) & (xs <= x + w) & (ys >= y) & (ys <= y + h)).sum())
              for _, x, y, w, h in candidates]
    return candidates[int(np.argmax(inside))][0]
