"""Keypoint skeletons: the COCO Person-17 profile and skeletons from a project configuration.

Example:
    >>> PERSON_17[0], PERSON_17_SKELETON[0]
    ('nose', ('left_ankle', 'left_knee'))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "COCO_PERSON_SKELETON",
    "PERSON_17",
    "PERSON_17_SKELETON",
    "skeleton_from_configuration",
]

#: The ``coco_person_17`` keypoint profile, in slot order.
PERSON_17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
#: COCO person skeleton, 1-based joint indices.
COCO_PERSON_SKELETON: list[list[int]] = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip
#: The COCO person skeleton as joint-name pairs.
PERSON_17_SKELETON: tuple[tuple[str, str], ...] = tuple(
    (PERSON_17[a - 1], PERSON_17[b - 1]) for a, b in COCO_PERSON_SKELETON
)


def skeleton_from_configuration(configuration: Any) -> tuple[tuple[str, str], ...] | None:
    """Skeleton edges as joint-name pairs from a project configuration, if it has one.

    The configuration lists joint names under ``keypoints`` and edges under ``skeleton``,
    as name pairs or index pairs (0-based; 1-based as in COCO when an index equals the
    number of joints).

    Example:
        >>> skeleton_from_configuration({"keypoints": ["a", "b", "c"], "skeleton": [[0, 1]]})
        (('a', 'b'),)
        >>> skeleton_from_configuration({"keypoints": ["a", "b"], "skeleton": [[1, 2]]})
        (('a', 'b'),)
        >>> skeleton_from_configuration({}) is None
        True
    """
    if not isinstance(configuration, Mapping):
        return None
    raw_names = configuration.get("keypoints")
    edges = configuration.get("skeleton")
    if not isinstance(edges, list) or not edges:
        return None
    names = [str(n) for n in raw_names] if isinstance(raw_names, list) else []
    pairs = [e for e in edges if isinstance(e, list | tuple) and len(e) == 2]
    if all(isinstance(a, str) and isinstance(b, str) for a, b in pairs):
        return tuple((a, b) for a, b in pairs) or None
    indices = [(a, b) for a, b in pairs if isinstance(a, int) and isinstance(b, int)]
    if not names or not indices:
        return None
    base = 1 if max(max(a, b) for a, b in indices) == len(names) else 0
    out = [
        (names[a - base], names[b - base])
        for a, b in indices
        if 0 <= a - base < len(names) and 0 <= b - base < len(names)
    ]
    return tuple(out) or None
