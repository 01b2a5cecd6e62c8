"""What every reader returns: labelled images keyed by file name, plus the reading audit.

A :class:`Labels` holds one :class:`LabelledImage` per image of the source, keyed by the
image's file name as the source states it (its last path component; YOLO and DM sources that
only know a stem are keyed by the stem). Each image's annotations are a DM v2 document, so
they read into the one annotation model (:func:`synapse_nb.annotations.read_document`);
prediction confidences are kept per annotation as a ``score`` attribute.

Example:
    >>> labels = Labels("dm", {"a.jpg": LabelledImage("a.jpg", {"images": [{"bounding_box": [
    ...     {"id": "b1", "classification": "car", "data": [0, 0, 4, 2],
    ...      "attrs": [{"name": "score", "value": 0.8}]}]}]})})
    >>> ann = labels["a.jpg"].document().media[0].annotations[0]
    >>> len(labels), ann.label, ann.score()
    (1, 'car', 0.8)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from synapse_nb.annotations import Document, read_document
from synapse_nb.converters import Audit

__all__ = ["LabelledImage", "Labels", "dm_document", "rekey_audit"]


@dataclass(slots=True)
class LabelledImage:
    """The labels of one image.

    Attributes:
        key: The image's file name as the source states it (a stem when the source only
            knows the stem).
        data: The annotations as a DM v2 document (``{"images": [{tool: [...]}]}``).
        width: Image width in px when the source states it.
        height: Image height in px when the source states it.
        item_id: An id the source carries for the image (our COCO export stores the task
            id there); used by ``match_to_tasks(..., by="id")``.

    Example:
        >>> LabelledImage("a.jpg", {"images": [{}]}).n_annotations()
        0
    """

    key: str
    data: dict[str, Any]
    width: int | None = None
    height: int | None = None
    item_id: Any = None

    def document(self) -> Document:
        """The annotations read into the annotation model.

        Example:
            >>> LabelledImage("a.jpg", {"images": [{"polygon": [{"id": "p"}]}]}).document().version
            'v2'
        """
        return read_document(self.data)

    def n_annotations(self) -> int:
        """Number of annotations (every tool).

        Example:
            >>> doc = {"images": [{"keypoint": [{"id": "k"}, {"id": "j"}]}]}
            >>> LabelledImage("a", doc).n_annotations()
            2
        """
        return sum(1 for _ in self.document().annotations())


@dataclass
class Labels:
    """Labelled images read from one source, keyed by file name.

    Attributes:
        format: The format read (``coco``, ``coco_results``, ``voc``, ``yolo``, ``dm``).
        images: ``{key: LabelledImage}`` in source order.
        audit: What the reader could not read, or read with a loss (the converters'
            :class:`~synapse_nb.converters.Audit`, keyed by image key).
        source: Where the labels came from (a path, or ``"<object>"``).

    Example:
        >>> Labels("dm", {}).summary()
        {'format': 'dm', 'images': 0, 'annotations': 0, 'scored': 0, 'failed': 0, 'lossy': 0}
    """

    format: str
    images: dict[str, LabelledImage] = field(default_factory=dict)
    audit: Audit = field(default_factory=Audit)
    source: str = "<object>"

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[LabelledImage]:
        return iter(self.images.values())

    def __getitem__(self, key: str) -> LabelledImage:
        return self.images[key]

    def __contains__(self, key: object) -> bool:
        return key in self.images

    def summary(self) -> dict[str, Any]:
        """Counts: images, annotations, annotations with a score, failed and lossy records.

        Example:
            >>> Labels("voc", {"a": LabelledImage("a", {"images": [{}]})}).summary()["images"]
            1
        """
        annotations = [a for image in self for a in image.document().annotations()]
        totals = self.audit.summary()
        return {
            "format": self.format,
            "images": len(self),
            "annotations": len(annotations),
            "scored": sum(1 for a in annotations if a.score() is not None),
            "failed": totals["failed"],
            "lossy": totals["lossy"],
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"Labels({s['format']}: {s['images']} images, {s['annotations']} annotations, "
            f"{s['scored']} scored; {self.audit!r} from {self.source})"
        )


def rekey_audit(audit: Audit, keys: Mapping[Any, str]) -> Audit:
    """A copy of ``audit`` whose item ids are replaced by image keys where known.

    Example:
        >>> from synapse_nb.converters import Outcome, Reason
        >>> a = Audit(); a.add(7, None, "x", Outcome.FAILED, Reason.MALFORMED_ANNOTATION)
        >>> [r.item_id for r in rekey_audit(a, {7: "a.jpg"})]
        ['a.jpg']
    """
    out = Audit()
    out.records = [replace(r, item_id=keys.get(r.item_id, r.item_id)) for r in audit]
    out.warnings = list(audit.warnings)
    return out


def dm_document(media: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A DM v2 document of one image from its ``{tool: [annotation, ...]}`` lists, with the
    top-level ``classification`` map (tool -> sorted labels) the converters write too.

    Example:
        >>> dm_document({"bounding_box": [{"id": "b", "classification": "car"}]})["classification"]
        {'bounding_box': ['car']}
    """
    labels = {
        tool: sorted(
            {a["classification"] for a in anns if isinstance(a.get("classification"), str)}
        )
        for tool, anns in media.items()
    }
    return {"classification": {t: v for t, v in labels.items() if v}, "images": [dict(media)]}
