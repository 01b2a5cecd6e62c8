"""Audit records: what a conversion skipped, wrote with a loss, or could not read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Audit", "AuditRecord", "Outcome", "Reason"]


class Outcome(StrEnum):
    """The three audit channels: what happened to one annotation."""

    SKIPPED = "skipped"  # valid input the target format cannot hold; nothing written
    LOSSY = "lossy"  # written, but some meaning was lost
    FAILED = "failed"  # the input was malformed; nothing written


class Reason(StrEnum):
    """Reason codes. The first group are the names the Synapse SDK uses; the rest are ours."""

    UNSUPPORTED_ANNOTATION_TYPE = "UNSUPPORTED_ANNOTATION_TYPE"
    KEYPOINT_GROUP_INVALID = "KEYPOINT_GROUP_INVALID"
    SEGMENTATION_EXCLUDED = "SEGMENTATION_EXCLUDED"
    SEMANTIC_SEGMENTATION_UNSUPPORTED = "SEMANTIC_SEGMENTATION_UNSUPPORTED"
    MASK_HOLE_DROPPED = "MASK_HOLE_DROPPED"
    CUSTOM_ATTRIBUTES_DROPPED = "CUSTOM_ATTRIBUTES_DROPPED"
    UNSUPPORTED_ORIENTED_BOUNDING_BOX = "UNSUPPORTED_ORIENTED_BOUNDING_BOX"
    MALFORMED_ANNOTATION = "MALFORMED_ANNOTATION"
    INVALID_MASK_ENCODING = "INVALID_MASK_ENCODING"
    CLASS_SCHEMA_UNAVAILABLE = "CLASS_SCHEMA_UNAVAILABLE"
    # Ours: losses the SDK does not name but which must not pass silently.
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    EXTRA_IMAGE_IGNORED = "EXTRA_IMAGE_IGNORED"
    OUT_OF_BOUNDS = "OUT_OF_BOUNDS"
    COORDINATES_ROUNDED = "COORDINATES_ROUNDED"
    POLYGON_RASTERIZED = "POLYGON_RASTERIZED"
    MASK_FRAGMENT_DROPPED = "MASK_FRAGMENT_DROPPED"
    MASK_TOO_SMALL = "MASK_TOO_SMALL"
    OBJECT_MASK_DROPPED = "OBJECT_MASK_DROPPED"
    CLASS_ID_OUT_OF_RANGE = "CLASS_ID_OUT_OF_RANGE"
    MISSING_KEYPOINT_ZEROED = "MISSING_KEYPOINT_ZEROED"
    POSE_BOX_UNAVAILABLE = "POSE_BOX_UNAVAILABLE"
    MULTIPART_POLYGON_SPLIT = "MULTIPART_POLYGON_SPLIT"
    TASK_NOT_SELECTED = "TASK_NOT_SELECTED"
    GROUP_MEMBERSHIP_DROPPED = "GROUP_MEMBERSHIP_DROPPED"
    GROUP_CLASS_DROPPED = "GROUP_CLASS_DROPPED"
    RELATIONS_MAP_NOT_CONVERTED = "RELATIONS_MAP_NOT_CONVERTED"


@dataclass(frozen=True)
class AuditRecord:
    """One annotation (or item-level fact) that did not convert cleanly.

    Attributes:
        item_id: The export item (task, assignment, image) it belongs to.
        annotation_id: The DM annotation id, or None for item-level records.
        source_type: The DM tool (``bounding_box``, ``keypoint`` ...) or input kind.
        outcome: ``skipped``, ``lossy`` or ``failed``.
        reason_code: A :class:`Reason` value.
        target: Which output it concerns (``coco``, ``yolo.segment``, ``voc``, ``dm_v2`` ...).
        detail: Human-readable specifics, naming the offending field and value.
    """

    item_id: Any
    annotation_id: str | None
    source_type: str
    outcome: Outcome
    reason_code: Reason
    target: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with plain-string enums.

        Example:
            >>> AuditRecord(1, "a1", "polyline", Outcome.SKIPPED,
            ...             Reason.UNSUPPORTED_ANNOTATION_TYPE).to_dict()["outcome"]
            'skipped'
        """
        data = asdict(self)
        data["outcome"] = str(self.outcome)
        data["reason_code"] = str(self.reason_code)
        return data


class Audit:
    """Collected audit records of one conversion run, plus run-level warnings.

    Iterate it for the records, ``by_item()`` for the per-item view, ``summary()`` for
    counts, ``to_records()`` for JSON, ``to_frame()`` for a DataFrame.

    Example:
        >>> audit = Audit()
        >>> audit.add(7, "abc", "polyline", Outcome.SKIPPED, Reason.UNSUPPORTED_ANNOTATION_TYPE)
        >>> audit.summary()["skipped"], len(audit)
        (1, 1)
    """

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.warnings: list[str] = []

    def add(
        self,
        item_id: Any,
        annotation_id: str | None,
        source_type: str,
        outcome: Outcome,
        reason: Reason,
        detail: str = "",
        target: str = "",
    ) -> None:
        """Append one record.

        Example:
            >>> Audit().add(1, "k1", "keypoint", Outcome.LOSSY, Reason.MISSING_KEYPOINT_ZEROED)
        """
        self.records.append(
            AuditRecord(item_id, annotation_id, source_type, outcome, reason, target, detail)
        )

    def warn(self, code: Reason, message: str) -> None:
        """Record a run-level warning (not tied to one annotation), once per code.

        Example:
            >>> a = Audit(); a.warn(Reason.CLASS_SCHEMA_UNAVAILABLE, "no classes given")
            >>> a.warnings
            ['CLASS_SCHEMA_UNAVAILABLE: no classes given']
        """
        text = f"{code}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)

    def extend(self, other: Audit) -> None:
        """Append all records and warnings of another audit.

        Example:
            >>> a, b = Audit(), Audit(); a.extend(b); len(a)
            0
        """
        self.records.extend(other.records)
        for warning in other.warnings:
            if warning not in self.warnings:
                self.warnings.append(warning)

    def __iter__(self) -> Iterator[AuditRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def by_item(self) -> dict[Any, list[AuditRecord]]:
        """Records grouped by item id, in first-seen order.

        Example:
            >>> Audit().by_item()
            {}
        """
        grouped: dict[Any, list[AuditRecord]] = {}
        for record in self.records:
            grouped.setdefault(record.item_id, []).append(record)
        return grouped

    def for_item(self, item_id: Any) -> list[AuditRecord]:
        """Records of one item.

        Example:
            >>> Audit().for_item(3)
            []
        """
        return [r for r in self.records if r.item_id == item_id]

    def counts(self) -> Counter[tuple[str, str]]:
        """Number of records per (outcome, reason code).

        Example:
            >>> Audit().counts()
            Counter()
        """
        return Counter((str(r.outcome), str(r.reason_code)) for r in self.records)

    def summary(self) -> dict[str, Any]:
        """Totals per outcome, per ``outcome/reason`` and the warnings (JSON-ready).

        Example:
            >>> Audit().summary()["failed"]
            0
        """
        per_outcome = Counter(str(r.outcome) for r in self.records)
        return {
            "skipped": per_outcome.get("skipped", 0),
            "lossy": per_outcome.get("lossy", 0),
            "failed": per_outcome.get("failed", 0),
            "by_reason": {f"{o}/{c}": n for (o, c), n in sorted(self.counts().items())},
            "warnings": list(self.warnings),
        }

    def to_records(self) -> list[dict[str, Any]]:
        """All records as JSON-ready dicts.

        Example:
            >>> Audit().to_records()
            []
        """
        return [r.to_dict() for r in self.records]

    def to_frame(self) -> Any:
        """All records as a pandas DataFrame (one row per record).

        Example:
            >>> list(Audit().to_frame().columns)[:2]
            ['item_id', 'annotation_id']
        """
        import pandas as pd

        columns = [
            "item_id", "annotation_id", "source_type", "outcome", "reason_code", "target", "detail",
        ]  # fmt: skip
        return pd.DataFrame(self.to_records(), columns=columns)

    def __repr__(self) -> str:
        s = self.summary()
        text = f"Audit({len(self)} records: {s['skipped']} skipped, {s['lossy']} lossy, "
        text += f"{s['failed']} failed"
        if self.warnings:
            text += f"; {len(self.warnings)} warning(s)"
        return text + ")"
