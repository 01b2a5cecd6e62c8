"""The upload workflow's steps, in the Synapse SDK's order and with its progress weights.

=====  ==========================  ======  ================================================
order  step (``name``)             weight  does
=====  ==========================  ======  ================================================
1      ``initialize``              0.05    opens (or resumes) the manifest
2      ``process_metadata``        0.05    reads the Excel/CSV sheet (skipped without one)
3      ``analyze_collection``      0.05    the collection's file specs; checks the project
4      ``organize_files``          0.10    finds files, groups them into units, adds metadata
5      ``validate_files``          0.05    required specs, file types, unreadable/empty files
6      ``upload_files``            0.30    MD5, ``verify_checksums``, concurrent uploads
7      ``generate_data_units``     0.35    data units in batches (+ tasks with a project)
8      ``cleanup``                 0.05    final manifest, completion flag
=====  ==========================  ======  ================================================

The server offers no delete for data files or units, so a failed run is not rolled back:
``rollback`` persists the manifest, which records everything created, and a re-run resumes.

Example:
    >>> [step.name for step in default_steps()][:3]
    ['initialize', 'process_metadata', 'analyze_collection']

    Each step on its own, in order, on the context :func:`~synapse_nb.plugins.upload.prepare_upload`
    builds (this is what :func:`~synapse_nb.plugins.upload.upload` does):

    >>> from PIL import Image
    >>> from synapse_nb.plugins.upload import prepare_upload
    >>> Path("scenes").mkdir()
    >>> for i in range(3):
    ...     Image.new("RGB", (8, 8), (90 * i, 17, 0)).save(f"scenes/{i}.png")
    >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
    ...             if c["name"] == "Incoming uploads"][0]
    >>> ctx, registry = prepare_upload(backend, "scenes", incoming, progress=False)
    >>> for step in registry.get_steps():
    ...     result = StepResult(skipped=True) if step.can_skip(ctx) else step.execute(ctx)
    ...     print(step.name, "skipped" if result.skipped else sorted(result.data.items()))
    initialize [('resumed', False)]
    process_metadata skipped
    analyze_collection [('specs', ['image_1'])]
    organize_files [('units', 3)]
    validate_files [('valid', 3)]
    upload_files [('uploaded', 3)]
    generate_data_units [('created', 3)]
    cleanup [('completed', True)]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path, PurePosixPath
from typing import Any

from synapse_nb.exceptions import (
    AuthenticationError,
    ClientConnectionError,
    ClientError,
    ClientTimeoutError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UploadError,
    UploadInterruptedError,
)
from synapse_nb.plugins.upload.context import StepResult, UploadContext
from synapse_nb.plugins.upload.manifest import UploadManifest
from synapse_nb.utils.file import calculate_checksum

__all__ = [
    "ABORTING_ERRORS",
    "AnalyzeCollectionStep",
    "BaseStep",
    "CleanupStep",
    "GenerateDataUnitsStep",
    "InitializeStep",
    "OrganizeFilesStep",
    "ProcessMetadataStep",
    "UploadError",
    "UploadFilesStep",
    "ValidateFilesStep",
    "default_steps",
]

#: Failures that would repeat for every other file too: they stop the run (resumable)
#: instead of being recorded per file.
ABORTING_ERRORS = (
    ClientConnectionError,
    ClientTimeoutError,
    UploadInterruptedError,
    AuthenticationError,
    PermissionDeniedError,
)
#: Checksums per ``verify_checksums`` request.
VERIFY_BATCH = 1000
#: ``create_data_units`` requests in flight at once.
BATCHES_IN_FLIGHT = 4


class BaseStep:
    """One step of the workflow (Synapse SDK: ``BaseStep``).

    Example:
        >>> BaseStep().create_skip_result().skipped
        True
    """

    name = "step"
    progress_weight = 0.0

    def execute(self, context: UploadContext) -> StepResult:
        """Do the step's work; raise (or return an error result) when it cannot.
        """
        raise NotImplementedError

    def can_skip(self, context: UploadContext) -> bool:
        """True when the step has nothing to do.

        Example:
            >>> BaseStep().can_skip(None)
            False
        """
        return False

    def rollback(self, context: UploadContext) -> None:
        """Persist what the step did (nothing server-side can be undone).

        A new manifest that records nothing yet (the run stopped before any file was
        looked at, e.g. on a bad argument) is not written: there is nothing to resume.
        """
        manifest = context.manifest
        if manifest is None:
            return
        if not (manifest.resumed or manifest.files or manifest.units):
            return
        manifest.save(force=True)

    def create_success_result(self, data: dict[str, Any] | None = None) -> StepResult:
        """A successful result carrying ``data``.

        Example:
            >>> BaseStep().create_success_result({"n": 1}).data
            {'n': 1}
        """
        return StepResult(success=True, data=data or {})

    def create_error_result(self, error: str) -> StepResult:
        """A failed result; the orchestrator raises :class:`UploadError` with it.

        Example:
            >>> bool(BaseStep().create_error_result("no specs"))
            False
        """
        return StepResult(success=False, error=error)

    def create_skip_result(self) -> StepResult:
        """The result of a skipped step.

        Example:
            >>> BaseStep().create_skip_result().success
            True
        """
        return StepResult(success=True, skipped=True)


class InitializeStep(BaseStep):
    """Open the manifest (a resumed run picks up its state).

    Example:
        >>> InitializeStep().name
        'initialize'
    """

    name, progress_weight = "initialize", 0.05

    def execute(self, context: UploadContext) -> StepResult:
        """Load or start the manifest.
        """
        params = context.params
        context.manifest = UploadManifest.open(
            params.manifest, source_dir=params.source_dir, data_collection=params.collection_id
        )
        return self.create_success_result({"resumed": context.manifest.resumed})


class ProcessMetadataStep(BaseStep):
    """Read the metadata sheet into ``context.metadata``.

    Example:
        >>> ProcessMetadataStep().progress_weight
        0.05
    """

    name, progress_weight = "process_metadata", 0.05

    def can_skip(self, context: UploadContext) -> bool:
        """Skipped without a metadata sheet.
        """
        return context.params.metadata is None

    def execute(self, context: UploadContext) -> StepResult:
        """Read the sheet with the metadata strategy.
        """
        context.metadata = context.strategies["metadata"].process_metadata(context)
        return self.create_success_result({"rows": len(context.metadata)})


class AnalyzeCollectionStep(BaseStep):
    """Get the collection's file specifications (and check the project, if any).

    Example:
        >>> AnalyzeCollectionStep().name
        'analyze_collection'
    """

    name, progress_weight = "analyze_collection", 0.05

    def execute(self, context: UploadContext) -> StepResult:
        """Fetch the specifications; an error result when there are none.

        Raises:
            InvalidInputError: ``project_id`` names no project, or a project whose data
                collection is not the upload's (its tasks would point at units of another
                collection); before any file or unit is sent.
        """
        collection = context.client.get_data_collection(context.params.collection_id)
        specs = [s for s in collection.get("file_specifications") or [] if s.get("name")]
        if not specs:
            return self.create_error_result(
                f"data collection {context.params.collection_id} has no file specifications"
            )
        if context.params.project_id is not None:
            self._check_project(context)
        context.file_specifications = specs
        return self.create_success_result({"specs": [s["name"] for s in specs]})

    @staticmethod
    def _check_project(context: UploadContext) -> None:
        """The project must exist and use the upload's data collection (one GET)."""
        project, collection = context.params.project_id, context.params.collection_id
        try:
            found = context.client.get_project(project)
        except NotFoundError as exc:
            raise InvalidInputError(
                "project_id", project, "no such project", method="upload"
            ) from exc
        owner = found.get("data_collection") if isinstance(found, Mapping) else None
        if owner is not None and owner != collection:
            raise InvalidInputError(
                "project_id", project,
                f"uses data collection {owner}, not {collection}: upload into {owner} or "
                "pass a project of this collection",
                method="upload",
            )  # fmt: skip


class OrganizeFilesStep(BaseStep):
    """Group the folder's files into units and attach each unit's metadata row.

    Example:
        >>> OrganizeFilesStep().progress_weight
        0.1
    """

    name, progress_weight = "organize_files", 0.10

    def execute(self, context: UploadContext) -> StepResult:
        """Discover, group and annotate the units.
        """
        params = context.params
        exclude = [p for p in (params.manifest, params.metadata) if p is not None]
        units = context.strategies["file_discovery"].organize_files(
            params.source_dir, context.file_specifications, context, exclude=exclude
        )
        primary = self._primary_spec(context.file_specifications)
        matched: set[str] = set()
        for unit in units:
            row_key = self._metadata_key(unit, primary, context.metadata)
            name = unit["files"].get(primary) or next(iter(unit["files"].values()))
            unit["meta"] = {
                **(context.metadata.get(row_key, {}) if row_key else {}),
                "origin_file_stem": name.stem,
                "origin_file_extension": name.suffix,
            }
            if row_key:
                matched.add(row_key)
        unmatched = sorted(set(context.metadata) - matched)
        if unmatched:
            context.warnings.append(
                f"{len(unmatched)} metadata row(s) match no file: {unmatched[:5]}"
            )
        context.organized_files = units
        context.set_progress(0, len(units), "analyze_collection")
        return self.create_success_result({"units": len(units)})

    @staticmethod
    def _primary_spec(specs: list[dict[str, Any]]) -> str:
        primary = next((s for s in specs if s.get("is_primary")), None)
        return (primary or specs[0])["name"]

    @staticmethod
    def _metadata_key(
        unit: Mapping[str, Any], primary: str, metadata: Mapping[str, Any]
    ) -> str | None:
        """The sheet row of a unit: by relative path, file name, unit key, then stem."""
        if not metadata:
            return None
        spec = primary if primary in unit["files"] else next(iter(unit["files"]))
        rel = unit["rel"][spec]
        leaf = PurePosixPath(rel)
        for candidate in (rel, leaf.name, unit["key"], leaf.stem):
            if candidate in metadata:
                return candidate
        return None


class ValidateFilesStep(BaseStep):
    """Drop (and report) units that break the collection's file specifications.

    Example:
        >>> ValidateFilesStep().name
        'validate_files'
    """

    name, progress_weight = "validate_files", 0.05

    def execute(self, context: UploadContext) -> StepResult:
        """Keep the valid units.
        """
        before = len(context.organized_files)
        context.organized_files = context.strategies["validation"].validate_files(
            context.organized_files, context
        )
        context.count("data_units", "invalid", before - len(context.organized_files))
        context.set_progress(before, before, "analyze_collection")
        return self.create_success_result({"valid": len(context.organized_files)})


def existing_checksums(client: Any, checksums: list[str], collection_id: int) -> set[str]:
    """The checksums that already exist as data files on the server.

    Uses the client's ``data_files_verify_checksums`` (newer SDK: ``verify_data_files_checksums``).
    A client without either falls back to the checksums bound in the collection's data
    units, which misses files uploaded without a unit.

    Example:
        >>> _ = Path("a.bin").write_bytes(b"bytes already uploaded")
        >>> known = backend.create_data_file(Path("a.bin"))["checksum"]
        >>> collection = backend.list_data_collections()["results"][0]["id"]
        >>> existing_checksums(backend, [known, "0" * 32], collection) == {known}
        True
    """
    if not checksums:
        return set()
    verify = getattr(client, "data_files_verify_checksums", None) or getattr(
        client, "verify_data_files_checksums", None
    )
    found: set[str] = set()
    if verify is not None:
        for start in range(0, len(checksums), VERIFY_BATCH):
            reply = verify(checksums[start : start + VERIFY_BATCH])
            values = reply.get("existing_checksums", []) if isinstance(reply, Mapping) else reply
            found.update(values or [])
        return found
    units, _ = client.list_data_units(
        {"data_collection": collection_id}, url_conversion=False, list_all=True
    )
    wanted = set(checksums)
    for unit in units:
        for entry in (unit.get("files") or {}).values():
            if isinstance(entry, Mapping) and entry.get("checksum") in wanted:
                found.add(entry["checksum"])
    return found


class UploadFilesStep(BaseStep):
    """Upload every file of the units not created yet, skipping what the server has.

    Checksums come from the manifest when a file is unchanged, otherwise they are computed
    (concurrently). Files the manifest records as uploaded are skipped; for the others
    ``verify_checksums`` tells which already exist; the rest are uploaded
    concurrently, chunked above ``chunk_threshold`` bytes, and each success is recorded in
    the manifest before progress is reported (so a callback that raises loses nothing).

    Example:
        >>> UploadFilesStep().progress_weight
        0.3
    """

    name, progress_weight = "upload_files", 0.30

    def execute(self, context: UploadContext) -> StepResult:
        """Upload what is missing and prepare the units' binding dicts.
        """
        manifest = context.manifest
        assert manifest is not None
        pending = []
        for unit in context.organized_files:
            state = manifest.unit(unit["key"]) or {}
            if state.get("state") == "created":
                context.count("data_units", "already_created")
            else:
                pending.append(unit)
        files = {unit["rel"][s]: path for unit in pending for s, path in unit["files"].items()}
        checksums = self._checksums(context, files)
        # Recorded uploads are trusted; the server is asked only about the others (files
        # of a crashed run's last moments, or uploaded by another run or machine).
        existing = {md5 for rel, md5 in checksums.items() if manifest.files[rel].get("uploaded")}
        unknown = sorted(set(checksums.values()) - existing)
        existing |= existing_checksums(context.client, unknown, context.params.collection_id)
        total = len(files)
        done = 0
        jobs: dict[str, tuple[str, Path]] = {}  # one upload per distinct checksum
        waiting: dict[str, list[str]] = {}  # every path sharing an upload's checksum
        for rel, md5 in checksums.items():
            if md5 in existing:
                manifest.mark_uploaded(rel)
                context.count("data_files", "existing")
                done += 1
            else:
                jobs.setdefault(md5, (rel, files[rel]))
                waiting.setdefault(md5, []).append(rel)
        context.set_progress(done, total, "upload_data_files")
        failed: set[str] = set()
        threshold = context.params.chunk_threshold

        def upload_one(job: tuple[str, tuple[str, Path]]) -> dict[str, Any]:
            _, (_, path) = job
            chunked = path.stat().st_size > threshold
            return context.client.create_data_file(path, use_chunked_upload=chunked)

        def on_done(job: Any, reply: Any, error: BaseException | None) -> None:
            nonlocal done
            md5, _ = job
            if error is None and str((reply or {}).get("checksum", "")).lower() != md5:
                error = ClientError(
                    None, f"server checksum {reply.get('checksum')!r} differs from the file's {md5}"
                )
            if isinstance(error, ABORTING_ERRORS):
                raise error
            if error is not None and not isinstance(error, ClientError | OSError):
                raise error  # a bug, not a per-file problem
            for same in waiting[md5]:
                if error is None:
                    manifest.mark_uploaded(same)
                    context.count("data_files", "uploaded")
                else:
                    context.add_error("upload_files", str(error), path=same)
                    context.count("data_files", "failed")
            if error is not None:
                failed.add(md5)
            manifest.save()
            done += len(waiting[md5])
            context.set_progress(done, total, "upload_data_files")

        context.strategies["upload"].upload_files(list(jobs.items()), upload_one, on_done)
        manifest.save(force=True)
        context.uploaded_files = [
            self._binding(context, unit, checksums)
            for unit in pending
            if not any(checksums[r] in failed for r in unit["rel"].values())
        ]
        for unit in pending:
            if any(checksums[r] in failed for r in unit["rel"].values()):
                context.count("data_units", "failed")
        return self.create_success_result({"uploaded": len(jobs) - len(failed)})

    @staticmethod
    def _checksums(context: UploadContext, files: dict[str, Path]) -> dict[str, str]:
        manifest = context.manifest
        assert manifest is not None
        stats = {rel: path.stat() for rel, path in files.items()}
        unknown = [rel for rel in files if manifest.known_checksum(rel, stats[rel]) is None]
        with ThreadPoolExecutor(context.params.workers) as pool:
            digests = pool.map(calculate_checksum, [files[rel] for rel in unknown])
            for rel, md5 in zip(unknown, digests, strict=True):
                manifest.record_file(rel, stats[rel], md5, uploaded=False)
        return {rel: manifest.files[rel]["checksum"] for rel in files}

    @staticmethod
    def _binding(context: UploadContext, unit: dict[str, Any], sums: dict[str, str]) -> dict:
        return {
            "key": unit["key"],
            "data_collection": context.params.collection_id,
            "files": {
                spec: {"checksum": sums[rel], "path": rel} for spec, rel in unit["rel"].items()
            },
            "meta": unit["meta"],
        }


def _signature(files: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """Identity of a unit: (spec, checksum, path) of each of its files."""
    return tuple(
        sorted(
            (spec, str(entry.get("checksum")), str(entry.get("path")))
            for spec, entry in files.items()
            if isinstance(entry, Mapping)
        )
    )


class GenerateDataUnitsStep(BaseStep):
    """Create the data units (and tasks), batch by batch, recording each in the manifest.

    Up to :data:`BATCHES_IN_FLIGHT` batches are sent at once. A batch is marked ``creating``
    before its request and ``created`` after; units left ``creating`` by a crash are looked
    up among the collection's units on the next run, so none is created twice. A batch the
    server rejects is retried unit by unit, so one bad unit does not fail the others.

    Example:
        >>> GenerateDataUnitsStep().name
        'generate_data_units'
    """

    name, progress_weight = "generate_data_units", 0.35

    def execute(self, context: UploadContext) -> StepResult:
        """Create the units (and tasks) not created yet.
        """
        manifest = context.manifest
        assert manifest is not None
        bindings = self._reconcile(context, context.uploaded_files)
        strategy = context.strategies["data_unit"]
        queue = deque(strategy.generate_data_units(bindings))
        total, done = len(bindings), 0
        parallel = max(1, min(BATCHES_IN_FLIGHT, context.params.workers))
        context.set_progress(0, total, "generate_data_units")
        in_flight: dict[Future[Any], list[dict[str, Any]]] = {}
        with ThreadPoolExecutor(parallel, thread_name_prefix="synapse-units") as pool:
            try:
                while queue or in_flight:
                    while queue and len(in_flight) < parallel:
                        batch = queue.popleft()
                        for binding in batch:
                            manifest.mark_unit(binding["key"], "creating")
                        manifest.save(force=True)
                        future = pool.submit(self._create, context.client, strategy, batch)
                        in_flight[future] = batch
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        batch = in_flight.pop(future)
                        self._record(context, future.result())
                        done += len(batch)
                        context.set_progress(done, total, "generate_data_units")
            finally:
                # Batches still in flight stay "creating": the next run looks them up.
                for future in in_flight:
                    future.cancel()
        if context.params.project_id is not None:
            self._create_tasks(context)
        return self.create_success_result({"created": len(context.data_units)})

    @staticmethod
    def _record(context: UploadContext, results: list[tuple[dict, Any, str | None]]) -> None:
        manifest = context.manifest
        assert manifest is not None
        for binding, unit, error in results:
            if unit is None:
                manifest.mark_unit(binding["key"], "pending")
                context.add_error("generate_data_units", str(error), unit=binding["key"])
                context.count("data_units", "failed")
            else:
                manifest.mark_unit(binding["key"], "created", data_unit=unit["id"])
                context.data_units.append({"key": binding["key"], "id": unit["id"]})
                context.count("data_units", "created")
        manifest.save(force=True)

    def _create(
        self, client: Any, strategy: Any, batch: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], Any, str | None]]:
        """``(binding, created unit or None, error)`` per binding; runs in a worker thread."""
        try:
            created = strategy.create_data_unit_batch(client, batch)
            return [(b, unit, None) for b, unit in zip(batch, created, strict=True)]
        except ABORTING_ERRORS:
            raise
        except ClientError as exc:
            if len(batch) == 1:
                return [(batch[0], None, str(exc))]
        results = []
        for binding in batch:  # isolate the unit(s) the server rejects
            results.extend(self._create(client, strategy, [binding]))
        return results

    def _reconcile(
        self, context: UploadContext, bindings: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        manifest = context.manifest
        assert manifest is not None
        unsure = {
            b["key"] for b in bindings if (manifest.unit(b["key"]) or {}).get("state") == "creating"
        }
        if not unsure:
            return bindings
        units, _ = context.client.list_data_units(
            {"data_collection": context.params.collection_id}, url_conversion=False, list_all=True
        )
        on_server = {_signature(u.get("files") or {}): u["id"] for u in units}
        remaining = []
        for binding in bindings:
            found = on_server.get(_signature(binding["files"]))
            if binding["key"] in unsure and found is not None:
                manifest.mark_unit(binding["key"], "created", data_unit=found)
                context.count("data_units", "already_created")
            else:
                remaining.append(binding)
        manifest.save(force=True)
        return remaining

    def _create_tasks(self, context: UploadContext) -> None:
        manifest = context.manifest
        assert manifest is not None
        project = context.params.project_id
        created = {
            u["key"]: state
            for u in context.organized_files
            if (state := manifest.unit(u["key"])) and state.get("state") == "created"
        }
        unsure = [k for k, state in created.items() if state.get("task") == "creating"]
        if unsure:  # a crash between a task request and its record: look the tasks up
            tasks, _ = context.client.list_tasks(
                {"project": project}, url_conversion=False, list_all=True
            )
            by_unit = {t.get("data_unit"): t["id"] for t in tasks}
            for key in unsure:
                manifest.mark_unit(key, "created", task=by_unit.get(created[key]["data_unit"]))
        todo = [
            (k, s["data_unit"]) for k, s in created.items() if not isinstance(s.get("task"), int)
        ]
        size = max(context.params.batch_size, 1)
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            for key, _ in batch:
                manifest.mark_unit(key, "created", task="creating")
            manifest.save(force=True)
            reply = context.client.create_tasks(
                {"project": project, "data": [{"data_unit": unit_id} for _, unit_id in batch]}
            )
            for (key, _), task in zip(
                batch, reply if isinstance(reply, list) else [reply], strict=True
            ):
                manifest.mark_unit(key, "created", task=task["id"])
                context.tasks.append(task["id"])
            manifest.save(force=True)


class CleanupStep(BaseStep):
    """Write the final manifest, flagged complete when every unit exists and nothing failed.

    Example:
        >>> CleanupStep().name
        'cleanup'
    """

    name, progress_weight = "cleanup", 0.05

    def execute(self, context: UploadContext) -> StepResult:
        """Flag and save the manifest.
        """
        manifest = context.manifest
        assert manifest is not None
        keys = [u["key"] for u in context.organized_files]
        complete = not context.errors and all(
            (manifest.unit(k) or {}).get("state") == "created" for k in keys
        )
        manifest.state["completed"] = complete
        manifest.save(force=True)
        return self.create_success_result({"completed": complete})


def default_steps() -> list[BaseStep]:
    """A new instance of every step, in order.

    Example:
        >>> len(default_steps())
        8
    """
    return [
        InitializeStep(),
        ProcessMetadataStep(),
        AnalyzeCollectionStep(),
        OrganizeFilesStep(),
        ValidateFilesStep(),
        UploadFilesStep(),
        GenerateDataUnitsStep(),
        CleanupStep(),
    ]
