"""Shared helpers of the importer tests (imported by name)."""

from __future__ import annotations

from typing import Any

from synapse_nb.annotations import read_document
from synapse_nb.importers import Labels


def canon(doc: Any, digits: int = 3) -> list[tuple[Any, ...]]:
    """A document's annotations without ids, sorted: what a round trip must keep.

    Each is ``(tool, class, rounded geometry, score, visibility)``; keypoints keep their
    group only as "belongs to a group".
    """
    out = []
    for ann in read_document(doc).annotations():
        out.append(
            (
                ann.tool,
                ann.label,
                _rounded(ann.data, digits),
                None if ann.score() is None else round(ann.score(), 6),
                ann.visibility,
                ann.group_id is not None,
            )
        )
    return sorted(out, key=repr)


def canon_labels(labels: Labels, digits: int = 3) -> dict[str, list[tuple[Any, ...]]]:
    return {key: canon(image.data, digits) for key, image in labels.images.items()}


def _rounded(value: Any, digits: int) -> Any:
    if isinstance(value, list):
        return tuple(_rounded(v, digits) for v in value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return round(float(value), digits) + 0.0
    return value


def box_doc(boxes: list[tuple[str, list[float]]], score: list[float] | None = None) -> dict:
    """A DM v2 document of boxes, optionally scored."""
    anns = []
    for n, (label, data) in enumerate(boxes):
        attrs = [] if score is None else [{"name": "score", "value": score[n]}]
        anns.append({"id": f"b{n}", "classification": label, "attrs": attrs, "data": list(data)})
    return {"images": [{"bounding_box": anns}]}
