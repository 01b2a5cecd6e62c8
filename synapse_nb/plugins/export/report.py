"""ExportReport: what an export wrote, what failed, and the converters' audit.

Example:
    >>> from synapse_nb.converters import Audit
    >>> report = ExportReport(path=tmp / "task-yolo", format="yolo", target="task",
    ...                       total=2, exported=2, audit=Audit())
    >>> report.ok, report.summary()["exported"]
    (True, 2)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synapse_nb.converters import Audit
from synapse_nb.converters.jsontext import write_json
from synapse_nb.plugins.export.base import BaseExporter

__all__ = ["ExportReport", "write_report"]

#: the error recorded for a selected id that the fetch did not return
_NOT_FOUND = "not found (or not visible with this token)"


@dataclass
class ExportReport:
    """Counts, failures and audit of one export (also written as ``export_report.json``).

    Attributes:
        path: The export directory.
        format: ``dm``, ``coco``, ``voc``, ``yolo`` or the custom exporter's class name.
        target: ``task``, ``assignment`` or ``ground_truth``.
        total: Items selected (records fetched plus ids not found).
        exported: Items whose files were written.
        failed: ``{"id", "stage", "error"}`` per item not exported (``stage`` is ``fetch``,
            ``convert`` or ``save``).
        original_files: ``{"success", "failed"}`` counts of original files.
        missing_originals: ``{"id", "error"}`` per original that could not be saved.
        audit: Every annotation skipped, written lossy or failed by the converters.
        splits: Items per split.
        filename_collisions: Names used twice and what they were renamed to.
        elapsed: Seconds, from the first request to the last file.

    Example:
        >>> ExportReport(Path("x"), "dm", "task", 0, 0, audit=Audit()).items_per_second
        0.0
    """

    path: Path
    format: str
    target: str
    total: int
    exported: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    original_files: dict[str, int] = field(default_factory=lambda: {"success": 0, "failed": 0})
    missing_originals: list[dict[str, Any]] = field(default_factory=list)
    audit: Audit = field(default_factory=Audit)
    splits: dict[str, int] = field(default_factory=dict)
    filename_collisions: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every selected item was exported with its original.

        Example:
            >>> ExportReport(Path("x"), "dm", "task", 1, 0, audit=Audit()).ok
            False
        """
        return self.exported == self.total and not self.failed and not self.missing_originals

    @property
    def items_per_second(self) -> float:
        """Exported items per second of wall time.

        Example:
            >>> ExportReport(Path("x"), "dm", "task", 4, 4, audit=Audit(),
            ...              elapsed=2.0).items_per_second
            2.0
        """
        return self.exported / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts (no per-record detail).

        Example:
            >>> ExportReport(Path("x"), "dm", "task", 0, 0, audit=Audit()).summary()["failed"]
            0
        """
        return {
            "path": str(self.path),
            "format": self.format,
            "target": self.target,
            "total": self.total,
            "exported": self.exported,
            "failed": len(self.failed),
            "original_files": dict(self.original_files),
            "splits": dict(self.splits),
            "filename_collisions": len(self.filename_collisions),
            "audit": self.audit.summary(),
            "elapsed_s": round(self.elapsed, 3),
            "items_per_s": round(self.items_per_second, 1),
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (the content of ``export_report.json``).

        Example:
            >>> data = ExportReport(Path("x"), "dm", "task", 0, 0, audit=Audit()).to_dict()
            >>> data["failed_items"], data["audit_records"]
            ([], [])
        """
        return {
            **self.summary(),
            "failed_items": self.failed,
            "missing_originals": self.missing_originals,
            "filename_collisions": self.filename_collisions,
            "audit_records": self.audit.to_records(),
        }

    def write(self) -> Path:
        """Write ``export_report.json`` into the export directory and return its path.

        Example:
            >>> report = ExportReport(tmp / "task-yolo", "yolo", "task", 0, 0, audit=Audit())
            >>> report.path.mkdir(); report.write().relative_to(tmp).as_posix()
            'task-yolo/export_report.json'
        """
        target = self.path / "export_report.json"
        write_json(target, self.to_dict(), indent=2, default=str)
        return target

    def __repr__(self) -> str:
        audit = self.audit.summary()
        return (
            f"ExportReport({self.format}, {self.exported}/{self.total} {self.target}s -> "
            f"{str(self.path)!r}; {len(self.failed)} failed, "
            f"{self.original_files.get('failed', 0)} originals missing; audit: "
            f"{audit['skipped']} skipped, {audit['lossy']} lossy, {audit['failed']} failed; "
            f"{self.elapsed:.1f} s)"
        )


def write_report(
    exporter: BaseExporter,
    fmt_name: str,
    target: str,
    count: int,
    missing: Iterable[int],
    started: float,
) -> ExportReport:
    """Build the report of a finished export and write it into the export directory.

    Args:
        exporter: The exporter after its ``export()`` ran (it holds the counts and failures).
        fmt_name: The format's name as the report shows it.
        target: ``task``, ``assignment`` or ``ground_truth``.
        count: Items fetched and handed to the exporter.
        missing: Selected ids the fetch did not return (each a ``fetch`` failure).
        started: ``time.perf_counter()`` at the first request (for ``elapsed``).

    Example:
        >>> from synapse_nb.plugins.export.base import ExportRun
        >>> exporter = BaseExporter(ExportRun(progress=False), [], tmp, name="none")
        >>> _ = exporter.export()
        >>> report = write_report(exporter, "dm", "task", 0, [7], time.perf_counter())
        >>> report.total, report.failed[0]["stage"], (report.path / "export_report.json").is_file()
        (1, 'fetch', True)
    """
    assert exporter.unique_export_path is not None
    failed = [{"id": i, "stage": "fetch", "error": _NOT_FOUND} for i in missing]
    report = ExportReport(
        path=exporter.unique_export_path,
        format=fmt_name,
        target=target,
        total=count + len(failed),
        exported=exporter.exported,
        failed=failed + exporter.item_errors,
        original_files={
            "success": exporter.run.metrics.get("original_file", {}).get("success", 0),
            "failed": len(exporter.original_failures),
        },
        missing_originals=exporter.original_failures,
        audit=exporter.audit,
        splits=dict(exporter.split_counts),
        filename_collisions=exporter.filename_collisions,
        elapsed=time.perf_counter() - started,
    )
    report.write()
    return report
