"""Skeleton groups of Person-17 keypoints, shared by the COCO and YOLO pose writers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._audit import Audit, Outcome, Reason
from ._common import PERSON_17, is_number, visibility_of


@dataclass
class PoseGroup:
    """One person: joint name -> (x, y, visibility, annotation id)."""

    group_id: str
    joints: dict[str, tuple[float, float, int, str]] = field(default_factory=dict)
    box: tuple[float, float, float, float] | None = None

    def visible_extent(self) -> tuple[float, float, float, float] | None:
        """Tight ``(x, y, w, h)`` around joints with v > 0, or None if there are none."""
        points = [(x, y) for x, y, v, _ in self.joints.values() if v > 0]
        if not points:
            return None
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def _explicit_box(ann: Mapping[str, Any]) -> tuple[float, float, float, float] | None:
    for key in ("group_bbox", "bounding_box"):
        box = ann.get(key)
        if not (isinstance(box, list | tuple) and len(box) == 4):
            continue
        x, y, w, h = box
        if is_number(x) and is_number(y) and is_number(w) and is_number(h) and w > 0 and h > 0:
            return float(x), float(y), float(w), float(h)
    return None


def pose_groups(
    item_id: Any, keypoints: Sequence[Mapping[str, Any]], audit: Audit, target: str
) -> list[PoseGroup]:
    """Group keypoints by ``group_id`` into Person-17 skeletons, auditing what cannot be used."""

    def add(ann_id: str, outcome: Outcome, reason: Reason, detail: str) -> None:
        audit.add(item_id, ann_id, "keypoint", outcome, reason, detail, target)

    groups: dict[str, PoseGroup] = {}
    members: dict[str, list[tuple[str, str]]] = {}
    for ann in keypoints:
        ann_id = ann["id"]
        data = ann.get("data")
        if not (
            isinstance(data, list | tuple) and len(data) == 2 and all(is_number(v) for v in data)
        ):
            add(
                ann_id,
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                f"keypoint data must be [x, y], got {data!r}",
            )
            continue
        visibility = visibility_of(ann)
        if visibility is None:
            add(
                ann_id,
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                f"visibility must be 0, 1 or 2, got {ann.get('visibility')!r}",
            )
            continue
        group_id = ann.get("group_id")
        if not isinstance(group_id, str) or not group_id:
            add(
                ann_id,
                Outcome.SKIPPED,
                Reason.KEYPOINT_GROUP_INVALID,
                "keypoint has no group_id, so it belongs to no skeleton",
            )
            continue
        name = ann.get("classification")
        if name not in PERSON_17:
            add(
                ann_id,
                Outcome.SKIPPED,
                Reason.KEYPOINT_GROUP_INVALID,
                f"joint name {name!r} is not a coco_person_17 joint",
            )
            continue
        group = groups.setdefault(group_id, PoseGroup(group_id))
        members.setdefault(group_id, []).append((name, ann_id))
        group.joints.setdefault(name, (float(data[0]), float(data[1]), visibility, ann_id))
        group.box = group.box or _explicit_box(ann)

    valid: list[PoseGroup] = []
    for group_id, group in groups.items():
        names = [name for name, _ in members[group_id]]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            for _, ann_id in members[group_id]:
                add(
                    ann_id,
                    Outcome.FAILED,
                    Reason.KEYPOINT_GROUP_INVALID,
                    f"group {group_id!r} repeats joint(s) {repeated}",
                )
            continue
        valid.append(group)
    return valid


def note_zeroed_joints(item_id: Any, group: PoseGroup, audit: Audit, target: str) -> None:
    """Audit the joints of a written group whose position was replaced by ``0, 0, 0``."""
    for name, (_, _, v, ann_id) in group.joints.items():
        if v == 0:
            audit.add(
                item_id,
                ann_id,
                "keypoint",
                Outcome.LOSSY,
                Reason.MISSING_KEYPOINT_ZEROED,
                f"joint {name!r} has visibility 0; written as 0,0,0 so its position is lost",
                target,
            )
