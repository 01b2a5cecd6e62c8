"""Shared state of an upload run (Synapse SDK: ``UploadContext``), step results and the report.

Example:
    >>> result = StepResult(success=True, data={"files": 3})
    >>> bool(result), result.data["files"]
    (True, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synapse_nb.plugins._progress import ProgressReporter
from synapse_nb.plugins.upload.manifest import UploadManifest

__all__ = ["StepResult", "UploadContext", "UploadParams", "UploadReport"]


@dataclass(frozen=True)
class UploadParams:
    """Validated arguments of :func:`~synapse_nb.plugins.upload.upload`.

    Example:
        >>> UploadParams(Path("photos"), 2).batch_size
        100
    """

    source_dir: Path
    collection_id: int
    project_id: int | None = None
    metadata: Path | None = None
    recursive: bool = True
    chunk_threshold: int = 50 * 1024 * 1024
    workers: int = 8
    batch_size: int = 100
    manifest: Path | None = None


@dataclass
class StepResult:
    """Outcome of one step (Synapse SDK: ``StepResult``); truthy when the step succeeded.

    Example:
        >>> bool(StepResult(success=False, error="no files"))
        False
    """

    success: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: bool = False
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __bool__(self) -> bool:
        return self.success


@dataclass
class UploadContext:
    """What the steps share (Synapse SDK: ``UploadContext``).

    Attributes:
        params: The validated arguments.
        client: The BackendClient.
        manifest: The run's :class:`UploadManifest`.
        progress: Where progress goes.
        metadata: ``{file name: {column: value}}`` from the metadata sheet.
        file_specifications: The collection's file specifications.
        organized_files: One dict per future data unit: ``key``, ``files`` (spec ->
            Path), ``meta``.
        uploaded_files: Binding dicts ready for ``create_data_units``, with their ``key``.
        data_units: ``{"key", "id"}`` per unit created by this run.
        tasks: Ids of the tasks created by this run.
        errors: ``{"step", "path" or "unit", "error"}`` per problem.
        warnings: Messages about things left out (unmatched metadata, stray files).
        metrics: Counts per category (``data_files``, ``data_units``).
        strategies: The strategy of each kind (``validation``, ``file_discovery``,
            ``metadata``, ``upload``, ``data_unit``).

    Example:
        >>> ctx = UploadContext(UploadParams(Path("p"), 1), client=None,
        ...                     manifest=None, progress=None)
        >>> ctx.add_error("organize_files", "two files for one unit", unit="a"); ctx.has_errors()
        True
    """

    params: UploadParams
    client: Any
    manifest: UploadManifest | None
    progress: ProgressReporter | None
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    file_specifications: list[dict[str, Any]] = field(default_factory=list)
    organized_files: list[dict[str, Any]] = field(default_factory=list)
    uploaded_files: list[dict[str, Any]] = field(default_factory=list)
    data_units: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, int]] = field(default_factory=dict)
    strategies: dict[str, Any] = field(default_factory=dict)
    tasks: list[int] = field(default_factory=list)
    step_results: dict[str, StepResult] = field(default_factory=dict)

    def add_error(self, step: str, error: str, **where: Any) -> None:
        """Record a per-file or per-unit problem.

        Example:
            >>> ctx = UploadContext(UploadParams(Path("p"), 1), None, None, progress=None)
            >>> ctx.add_error("upload_files", "HTTP 400", path="image_1/a.jpg")
            >>> ctx.errors
            [{'step': 'upload_files', 'path': 'image_1/a.jpg', 'error': 'HTTP 400'}]
        """
        self.errors.append({"step": step, **{k: str(v) for k, v in where.items()}, "error": error})

    def has_errors(self) -> bool:
        """True when a problem was recorded.

        Example:
            >>> ctx = UploadContext(UploadParams(Path("p"), 1), None, None, progress=None)
            >>> ctx.has_errors()
            False
        """
        return bool(self.errors)

    def count(self, category: str, key: str, n: int = 1) -> None:
        """Add ``n`` to ``metrics[category][key]``.

        Example:
            >>> ctx = UploadContext(UploadParams(Path("p"), 1), None, None, progress=None)
            >>> ctx.count("data_files", "success"); ctx.count("data_files", "success", 2)
            >>> ctx.metrics
            {'data_files': {'success': 3}}
        """
        bucket = self.metrics.setdefault(category, {})
        bucket[key] = bucket.get(key, 0) + n

    def set_progress(self, current: int, total: int, category: str) -> None:
        """Forward progress (no-op without a reporter).

        Example:
            >>> from synapse_nb.plugins._progress import ProgressReporter
            >>> seen = []
            >>> reporter = ProgressReporter(lambda *event: seen.append(event), method="upload")
            >>> ctx = UploadContext(UploadParams(Path("p"), 1), None, None, progress=reporter)
            >>> ctx.set_progress(1, 2, "upload_data_files"); seen
            [(1, 2, 'upload_data_files')]
        """
        if self.progress is not None:
            self.progress.set_progress(current, total, category)


@dataclass
class UploadReport:
    """What an upload did; also what a resumed run skipped.

    Attributes:
        source_dir: The uploaded folder.
        collection_id: The data collection.
        manifest: Path of the manifest (None when disabled).
        data_units: Units found in the folder.
        created: Ids of the data units created by this run.
        already_created: Units skipped because an earlier run created them.
        files: ``{"total", "uploaded", "existing", "failed"}``; ``existing`` were already on
            the server (``verify_checksums``) and were not sent again.
        tasks: Ids of the tasks created by this run.
        errors: ``{"step", "path" or "unit", "error"}`` per problem.
        warnings: Things left out on purpose.
        elapsed: Seconds.

    Example:
        >>> r = UploadReport(Path("p"), 2, None, data_units=3, created=[1, 2, 3])
        >>> r.ok, r.summary()["created"]
        (True, 3)
    """

    source_dir: Path
    collection_id: int
    manifest: Path | None
    data_units: int = 0
    created: list[int] = field(default_factory=list)
    already_created: int = 0
    files: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "uploaded": 0, "existing": 0, "failed": 0}
    )
    tasks: list[int] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every unit of the folder exists on the server and nothing failed.

        Example:
            >>> UploadReport(Path("p"), 2, None, data_units=1).ok
            False
        """
        return not self.errors and len(self.created) + self.already_created == self.data_units

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts.

        Example:
            >>> UploadReport(Path("p"), 2, None).summary()["errors"]
            0
        """
        return {
            "source_dir": str(self.source_dir),
            "collection_id": self.collection_id,
            "manifest": str(self.manifest) if self.manifest else None,
            "data_units": self.data_units,
            "created": len(self.created),
            "already_created": self.already_created,
            "files": dict(self.files),
            "tasks": len(self.tasks),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "elapsed_s": round(self.elapsed, 3),
        }

    def __repr__(self) -> str:
        f = self.files
        return (
            f"UploadReport({str(self.source_dir)!r} -> collection {self.collection_id}: "
            f"{len(self.created)} units created, {self.already_created} already there, "
            f"of {self.data_units}; files {f['uploaded']} uploaded, {f['existing']} existing, "
            f"{f['failed']} failed; {len(self.errors)} errors; {self.elapsed:.1f} s)"
        )
