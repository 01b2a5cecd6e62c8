"""Compare mode: matching two annotation sources of one image by IoU.

Example:
    >>> gt = [Shape("bounding_box", "car", [0, 0, 10, 10])]
    >>> match_shapes(gt, [Shape("bounding_box", "car", [0, 0, 10, 9])]).counts()
    {'matched': 1, 'missed': 0, 'extra': 0}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from synapse_nb.annotations.geometry import box_iou
from synapse_nb.widgets._shapes import Shape

__all__ = ["COMPARE_TOOLS", "CompareResult", "box_iou", "match_shapes"]

#: Tools whose annotations compare mode matches (the tools with a box to compute IoU on).
COMPARE_TOOLS = ("bounding_box",)


@dataclass
class CompareResult:
    """Outcome of matching source B against reference source A on one image.

    Attributes:
        matched: ``(a_shape, b_shape, iou)`` pairs.
        missed: Shapes only in A (e.g. ground truth no prediction found).
        extra: Shapes only in B (e.g. false positives, or boxes added in version B).
        threshold: The IoU threshold used.

    Example:
        >>> CompareResult([], [], [], 0.5).counts()
        {'matched': 0, 'missed': 0, 'extra': 0}
    """

    matched: list[tuple[Shape, Shape, float]]
    missed: list[Shape]
    extra: list[Shape]
    threshold: float

    def counts(self) -> dict[str, int]:
        """Number of matched pairs, missed and extra shapes.

        Example:
            >>> CompareResult([], [Shape("bounding_box", "a", [0, 0, 1, 1])], [], .5).counts()
            {'matched': 0, 'missed': 1, 'extra': 0}
        """
        return {"matched": len(self.matched), "missed": len(self.missed), "extra": len(self.extra)}

    def by_class(self) -> dict[str, dict[str, int]]:
        """The counts per class, classes sorted by name.

        Example:
            >>> a = Shape("bounding_box", "car", [0, 0, 1, 1])
            >>> CompareResult([], [a], [], .5).by_class()
            {'car': {'matched': 0, 'missed': 1, 'extra': 0}}
        """
        out: dict[str, dict[str, int]] = {}

        def add(label: str, status: str) -> None:
            out.setdefault(label, {"matched": 0, "missed": 0, "extra": 0})[status] += 1

        for a, _b, _iou in self.matched:
            add(a.label, "matched")
        for shape in self.missed:
            add(shape.label, "missed")
        for shape in self.extra:
            add(shape.label, "extra")
        return dict(sorted(out.items()))

    def shapes(self) -> list[Shape]:
        """Every shape with its ``status``/``source``/``iou`` set, ready to draw.

        Example:
            >>> CompareResult([], [], [], 0.5).shapes()
            []
        """
        out = []
        for a, b, iou in self.matched:
            out.append(replace(a, status="matched", source="a", iou=iou))
            out.append(replace(b, status="matched", source="b", iou=iou))
        out.extend(replace(s, status="missed", source="a") for s in self.missed)
        out.extend(replace(s, status="extra", source="b") for s in self.extra)
        return out


def _greedy(
    ious: np.ndarray, scores: list[float | None], threshold: float
) -> list[tuple[int, int, float]]:
    """Pairs ``(i_a, j_b, iou)``: by descending B score when B has scores (as detection
    metrics do), else by descending IoU over all pairs."""
    pairs: list[tuple[int, int, float]] = []
    if ious.size == 0:
        return pairs
    taken_a: set[int] = set()
    if any(s is not None for s in scores):
        order = sorted(range(len(scores)), key=lambda j: -(scores[j] or 0.0))
        for j in order:
            column = ious[:, j].copy()
            column[list(taken_a)] = -1.0
            i = int(column.argmax())
            if column[i] >= threshold:
                taken_a.add(i)
                pairs.append((i, j, float(ious[i, j])))
        return pairs
    taken_b: set[int] = set()
    flat = np.argsort(-ious, axis=None, kind="stable")
    for index in flat:
        i, j = divmod(int(index), ious.shape[1])
        if ious[i, j] < threshold:
            break
        if i in taken_a or j in taken_b:
            continue
        taken_a.add(i)
        taken_b.add(j)
        pairs.append((i, j, float(ious[i, j])))
    return pairs


def match_shapes(
    a: Iterable[Shape],
    b: Iterable[Shape],
    threshold: float = 0.5,
    tools: Sequence[str] = COMPARE_TOOLS,
) -> CompareResult:
    """Match the boxes of two annotation sources, per class, greedily by IoU.

    Within each class, B's shapes are taken by descending ``score`` when B has scores (a
    model's predictions), each matching the unmatched A shape of highest IoU; without
    scores, the pair of highest IoU is matched first. A pair needs IoU >= ``threshold``.

    Args:
        a: Reference shapes (ground truth, or version A).
        b: Shapes to check against it (predictions, or version B).
        threshold: Minimum IoU of a match, in [0, 1].
        tools: Tools that take part (others are ignored).

    Returns:
        A :class:`CompareResult`.

    Example:
        >>> gt = [Shape("bounding_box", "car", [0, 0, 10, 10])]
        >>> pred = [Shape("bounding_box", "car", [1, 0, 10, 10], score=0.9),
        ...         Shape("bounding_box", "car", [50, 50, 5, 5], score=0.3)]
        >>> match_shapes(gt, pred, 0.5).counts()
        {'matched': 1, 'missed': 0, 'extra': 1}
    """
    a_by: dict[str, list[Shape]] = {}
    b_by: dict[str, list[Shape]] = {}
    for shape in a:
        if shape.tool in tools and shape.box() is not None:
            a_by.setdefault(shape.label, []).append(shape)
    for shape in b:
        if shape.tool in tools and shape.box() is not None:
            b_by.setdefault(shape.label, []).append(shape)
    matched: list[tuple[Shape, Shape, float]] = []
    missed: list[Shape] = []
    extra: list[Shape] = []
    for label in sorted(set(a_by) | set(b_by)):
        sa, sb = a_by.get(label, []), b_by.get(label, [])
        ious = box_iou(np.array([s.box() for s in sa]), np.array([s.box() for s in sb]))
        pairs = _greedy(ious, [s.score for s in sb], threshold)
        used_a = {i for i, _, _ in pairs}
        used_b = {j for _, j, _ in pairs}
        matched.extend((sa[i], sb[j], iou) for i, j, iou in pairs)
        missed.extend(s for i, s in enumerate(sa) if i not in used_a)
        extra.extend(s for j, s in enumerate(sb) if j not in used_b)
    return CompareResult(matched, missed, extra, threshold)
