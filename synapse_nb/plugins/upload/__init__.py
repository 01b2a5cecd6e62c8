"""Upload workflow: a folder (with Excel/CSV metadata) into a data collection, resumably.

:func:`upload` runs the Synapse SDK's steps (initialize, process_metadata, analyze_collection,
organize_files, validate_files, upload_files, generate_data_units, cleanup; see
:mod:`.steps`) with the Synapse SDK's strategies (:mod:`.strategies`). A manifest beside the source
folder records every uploaded file and created unit, so a run that crashed, was
interrupted or lost the server resumes where it stopped, and a re-run of a finished upload
sends nothing.

Folder layout: one folder per file specification, named after it; files with the same
stem across them form one data unit::

    scenes/                          (source_dir)
        image_1/a.jpg  image_1/b.jpg
        meta_json/a.json
    scenes.synapse-upload-2.json     (the manifest, written by upload)

A folder with no spec folders holds the primary specification's files directly.

Example:
    >>> from PIL import Image
    >>> from synapse_nb.plugins import upload
    >>> Path("scenes").mkdir()
    >>> for i in range(3):
    ...     Image.new("RGB", (16, 16), (80 * i, 23, 0)).save(f"scenes/{i}.png")
    >>> _ = Path("scenes.csv").write_text("filename,weather\\n0.png,rain\\n")
    >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
    ...             if c["name"] == "Incoming uploads"][0]
    >>> report = upload(backend, "scenes", incoming, metadata="scenes.csv", progress=False)
    >>> report.ok, len(report.created), report.files["uploaded"]
    (True, 3, 3)
    >>> upload(backend, "scenes", incoming, progress=False).already_created  # resumed: no-op
    3
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from synapse_nb._config import DEFAULT_CHUNK_SIZE, DEFAULT_UPLOAD_WORKERS
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.plugins._progress import ProgressCallback, ProgressReporter
from synapse_nb.plugins.upload.context import StepResult, UploadContext, UploadParams, UploadReport
from synapse_nb.plugins.upload.manifest import UploadManifest, default_manifest_path
from synapse_nb.plugins.upload.orchestrator import StepRegistry, UploadOrchestrator
from synapse_nb.plugins.upload.steps import UploadError, default_steps
from synapse_nb.plugins.upload.strategies import (
    ExcelParsingError,
    ExcelSecurityConfig,
    ExcelSecurityError,
    StrategyFactory,
)

__all__ = [
    "ExcelParsingError",
    "ExcelSecurityConfig",
    "ExcelSecurityError",
    "StepResult",
    "StrategyFactory",
    "UploadContext",
    "UploadError",
    "UploadManifest",
    "UploadOrchestrator",
    "UploadParams",
    "UploadReport",
    "prepare_upload",
    "upload",
]

_METHOD = "upload"
METADATA_SUFFIXES = (".xlsx", ".xlsm", ".csv")
#: What a ``strategy_factory`` must have (:class:`StrategyFactory` has them all).
_FACTORY_METHODS = (
    "create_validation_strategy",
    "create_file_discovery_strategy",
    "create_metadata_strategy",
    "create_upload_strategy",
    "create_data_unit_strategy",
)
#: Data units per ``create_data_units`` request (Synapse SDK: ``creating_data_unit_batch_size``).
DEFAULT_BATCH_SIZE = 100


def _positive_int(value: Any, field: str, *, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(field, value, "must be an int >= 1", method=_METHOD)
    if maximum is not None and value > maximum:
        raise InvalidInputError(field, value, f"must be at most {maximum}", method=_METHOD)
    return value


def _params(
    source_dir: Any,
    collection_id: Any,
    project_id: Any,
    metadata: Any,
    recursive: Any,
    chunk_threshold: Any,
    workers: Any,
    batch_size: Any,
    manifest: Any,
) -> UploadParams:
    if not isinstance(source_dir, str | os.PathLike) or not str(source_dir):
        raise InvalidInputError("source_dir", source_dir, "must be a folder path", method=_METHOD)
    source = Path(source_dir).expanduser().resolve()
    if not source.is_dir():
        raise InvalidInputError("source_dir", str(source_dir), "is not a folder", method=_METHOD)
    collection = _positive_int(collection_id, "collection_id")
    project = None if project_id is None else _positive_int(project_id, "project_id")
    sheet = None
    if metadata is not None:
        if not isinstance(metadata, str | os.PathLike):
            raise InvalidInputError("metadata", metadata, "must be a file path", method=_METHOD)
        sheet = Path(metadata).expanduser().resolve()
        if sheet.suffix.lower() not in METADATA_SUFFIXES:
            raise InvalidInputError(
                "metadata", str(metadata), f"must be one of {METADATA_SUFFIXES}", method=_METHOD
            )
        if not sheet.is_file():
            raise InvalidInputError("metadata", str(metadata), "no such file", method=_METHOD)
    if not isinstance(recursive, bool):
        raise InvalidInputError("recursive", recursive, "must be True or False", method=_METHOD)
    if manifest is None or manifest is True:
        manifest_path: Path | None = default_manifest_path(source, collection)
    elif manifest is False:
        manifest_path = None
    elif isinstance(manifest, str | os.PathLike):
        manifest_path = Path(manifest).expanduser().resolve()
        if manifest_path.is_dir():
            raise InvalidInputError("manifest", str(manifest), "is a folder", method=_METHOD)
    else:
        raise InvalidInputError(
            "manifest", manifest, "must be a path, None (default) or False", method=_METHOD
        )
    return UploadParams(
        source_dir=source,
        collection_id=collection,
        project_id=project,
        metadata=sheet,
        recursive=recursive,
        chunk_threshold=_positive_int(chunk_threshold, "chunk_threshold"),
        workers=_positive_int(workers, "workers", maximum=64),
        batch_size=_positive_int(batch_size, "batch_size", maximum=1000),
        manifest=manifest_path,
    )


def upload(
    client: Any,
    source_dir: str | os.PathLike[str],
    collection_id: int,
    *,
    project_id: int | None = None,
    metadata: str | os.PathLike[str] | None = None,
    recursive: bool = True,
    chunk_threshold: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | bool | None = None,
    manifest: str | os.PathLike[str] | bool | None = None,
    strategy_factory: StrategyFactory | None = None,
) -> UploadReport:
    """Upload a folder into a data collection as data units (resumable).

    Args:
        client: A :class:`~synapse_nb.clients.BackendClient`.
        source_dir: The folder (one sub-folder per file specification, or the primary
            specification's files directly).
        collection_id: The data collection.
        project_id: Also create one task per new data unit in this project (it must use
            ``collection_id``; checked with one request before anything is uploaded).
        metadata: An ``.xlsx`` (needs openpyxl) or ``.csv`` sheet with a ``filename`` (or
            ``file_name``) column; each row's other columns become the ``meta`` of the unit
            whose primary file has that name (or path, or stem).
        recursive: Look into sub-folders (their path becomes part of the unit key).
        chunk_threshold: Files larger than this many bytes use the resumable chunked upload.
        workers: Concurrent uploads (default: the client's ``max_workers``, at most 4: each
            large file in flight holds two 50 MiB chunk buffers).
        batch_size: Data units per request (1 creates them one by one).
        progress: ``progress(current, total, category)`` for ``analyze_collection``,
            ``upload_data_files`` and ``generate_data_units``; None shows tqdm bars, False
            nothing. An exception raised by it stops the run (resumable).
        manifest: Manifest path; None puts it beside the folder
            (``<folder>.synapse-upload-<collection_id>.json``); False disables resuming.
        strategy_factory: A :class:`StrategyFactory` subclass instance for custom
            strategies.

    Returns:
        An :class:`UploadReport`: units created (and skipped as already created), files
        uploaded / already on the server / failed, per-file errors and warnings.

    Raises:
        InvalidInputError: A bad argument, before anything is read, sent or written
            (``project_id`` that names no project, or one of another data collection:
            after looking it up, before any file or data unit is sent).
        ExcelParsingError, ExcelSecurityError: The metadata sheet is unusable.
        ClientError: The server became unreachable or refused the token; the manifest keeps
            what was done, and the exception's note says how to resume.

    Example:
        >>> from PIL import Image
        >>> Path("street").mkdir()
        >>> for i in range(2):
        ...     Image.new("RGB", (16, 16), (29, 90 * i, 0)).save(f"street/{i}.png")
        >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
        ...             if c["name"] == "Incoming uploads"][0]
        >>> project = [p["id"] for p in backend.list_projects()["results"]
        ...            if p["data_collection"] == incoming][0]  # a project of that collection
        >>> report = upload(backend, "street", incoming, project_id=project, progress=False)
        >>> report.ok, len(report.created), len(report.tasks)
        (True, 2, 2)
    """
    started = time.perf_counter()
    context, registry = prepare_upload(
        client,
        source_dir,
        collection_id,
        project_id=project_id,
        metadata=metadata,
        recursive=recursive,
        chunk_threshold=chunk_threshold,
        workers=workers,
        batch_size=batch_size,
        progress=progress,
        manifest=manifest,
        strategy_factory=strategy_factory,
    )
    try:
        UploadOrchestrator(context, registry).execute()
    finally:
        if context.progress is not None:
            context.progress.close()
    return _report(context, time.perf_counter() - started)


def prepare_upload(
    client: Any,
    source_dir: str | os.PathLike[str],
    collection_id: int,
    *,
    project_id: int | None = None,
    metadata: str | os.PathLike[str] | None = None,
    recursive: bool = True,
    chunk_threshold: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | bool | None = None,
    manifest: str | os.PathLike[str] | bool | None = None,
    strategy_factory: StrategyFactory | None = None,
) -> tuple[UploadContext, StepRegistry]:
    """The context and the steps :func:`upload` runs, for running or inspecting them yourself.

    Takes the arguments of :func:`upload` and checks them the same way (nothing is read, sent
    or written; the ``analyze_collection`` step looks ``project_id`` up).
    :class:`UploadOrchestrator` ``(context, registry).execute()`` then does what
    :func:`upload` does, and each step can also be run on its own, in order.

    Example:
        >>> from PIL import Image
        >>> Path("one").mkdir(); Image.new("RGB", (8, 8), (31, 0, 0)).save("one/a.png")
        >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
        ...             if c["name"] == "Incoming uploads"][0]
        >>> context, registry = prepare_upload(backend, "one", incoming, progress=False)
        >>> [step.name for step in registry.get_steps()][:2]
        ['initialize', 'process_metadata']
        >>> for step in registry.get_steps()[:4]:  # up to organize_files
        ...     _ = step.execute(context)
        >>> [unit["key"] for unit in context.organized_files]
        ['a']
    """
    default_workers = min(
        getattr(client, "max_workers", DEFAULT_UPLOAD_WORKERS), DEFAULT_UPLOAD_WORKERS
    )
    params = _params(
        source_dir,
        collection_id,
        project_id,
        metadata,
        recursive,
        chunk_threshold,
        default_workers if workers is None else workers,
        batch_size,
        manifest,
    )
    needed = ["get_data_collection", "create_data_file", "create_data_units"]
    if params.project_id is not None:
        needed += ["get_project", "create_tasks"]
    for method in needed:
        if not hasattr(client, method):
            raise InvalidInputError(
                "client", type(client).__name__, f"has no {method}()", method=_METHOD
            )
    factory = StrategyFactory() if strategy_factory is None else strategy_factory
    for method in _FACTORY_METHODS:
        if not callable(getattr(factory, method, None)):
            raise InvalidInputError(
                "strategy_factory", strategy_factory,
                f"has no {method}(): pass a StrategyFactory subclass instance (or None)",
                method=_METHOD,
            )  # fmt: skip
    reporter = ProgressReporter(progress, method=_METHOD)
    context = UploadContext(params, client=client, manifest=None, progress=reporter)
    context.strategies = {
        "validation": factory.create_validation_strategy(),
        "file_discovery": factory.create_file_discovery_strategy(recursive=params.recursive),
        "metadata": factory.create_metadata_strategy(metadata=params.metadata),
        "upload": factory.create_upload_strategy(workers=params.workers),
        "data_unit": factory.create_data_unit_strategy(batch_size=params.batch_size),
    }
    registry = StepRegistry()
    for step in default_steps():
        registry.register(step)
    return context, registry


def _report(context: UploadContext, elapsed: float) -> UploadReport:
    files = context.metrics.get("data_files", {})
    units = context.metrics.get("data_units", {})
    return UploadReport(
        source_dir=context.params.source_dir,
        collection_id=context.params.collection_id,
        manifest=context.params.manifest,
        data_units=len(context.organized_files) + units.get("invalid", 0),
        created=[u["id"] for u in context.data_units],
        already_created=units.get("already_created", 0),
        files={
            "total": sum(files.get(k, 0) for k in ("uploaded", "existing", "failed")),
            "uploaded": files.get("uploaded", 0),
            "existing": files.get("existing", 0),
            "failed": files.get("failed", 0),
        },
        tasks=list(context.tasks),
        errors=list(context.errors),
        warnings=list(context.warnings),
        elapsed=elapsed,
    )
