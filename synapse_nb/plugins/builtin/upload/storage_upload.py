"""The upload workflow as a job: a folder of a storage into a data collection, server-side.

``storage`` (a ``file_system`` storage's id) and ``path`` (a folder inside it; ``""`` or ``/``
is its root) name the folder on the backend's machine; ``collection`` the data collection;
``project`` also creates a task per new data unit; ``metadata`` is a ``.csv``/``.xlsx`` sheet
inside the same storage. The folder is checked before anything is sent: a path or a symbolic
link (at any depth) that leaves the storage fails the job with a message naming the parameter.

:func:`synapse_nb.plugins.upload.upload` then runs with the job's client. Its manifest lies
beside the folder (as when a user runs the workflow there; inside the storage's root when the
folder is the root), so a job stopped half-way and run again sends only what is missing and
creates no data unit twice. Progress moves per file (``upload_data_files``) and per data unit
(``generate_data_units``); a stop request ends the job at the next step. The job result counts
the files (uploaded, ``existing``: already on the server and not sent again, failed) and the
data units (found, created with their ids, ``already_created`` by an earlier run, failed:
not created, e.g. a file of the wrong type), and lists the per-file errors; a failure leaves
``ok`` false while the job itself succeeds (run it again to retry what failed).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.plugins.builtin.progress import job_progress
from synapse_nb.plugins.storages import check_links, inside, relative, storage_root
from synapse_nb.plugins.upload import UploadReport, upload
from synapse_nb.plugins.upload.manifest import default_manifest_path

METHOD = "storage-upload"
#: ids and errors listed in the job result (the counts are always whole)
MAX_LISTED_IDS = 1000
MAX_LISTED_ERRORS = 50


def manifest_for(folder: Path, root: Path, collection: int) -> Path:
    """Where the run's manifest goes: beside ``folder``, or inside it when it is the root.

    Example:
        >>> manifest_for(Path("/srv/disk/scenes"), Path("/srv/disk"), 4)
        PosixPath('/srv/disk/.scenes.synapse-upload-4.json')
        >>> manifest_for(Path("/srv/disk"), Path("/srv/disk"), 4)
        PosixPath('/srv/disk/.synapse-upload-4.json')
    """
    if folder == root:
        return root / f".synapse-upload-{collection}.json"
    # hidden, so that an upload of the parent folder does not take it for a data file
    return folder.parent / f".{default_manifest_path(folder, collection).name}"


@contextlib.contextmanager
def exclusive(manifest: Path, params: dict[str, Any]) -> Iterator[None]:
    """Hold the manifest's lock for the run: two uploads of one folder into one collection at
    the same time would both read an empty manifest and create every data unit twice.

    Example:
        >>> from pathlib import Path
        >>> params = {"path": "street", "collection": 4}
        >>> with exclusive(Path(".street.synapse-upload-4.json"), params):
        ...     try:
        ...         with exclusive(Path(".street.synapse-upload-4.json"), params):
        ...             pass
        ...     except InvalidInputError as err:
        ...         print(err.message)
        storage-upload: invalid path='street': another storage-upload of this folder into \
data collection 4 is running (nothing was sent)
    """
    lock = manifest.with_name(manifest.name + ".lock")
    with open(lock, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            problem = (f"another {METHOD} of this folder into data collection "
                       f"{params['collection']} is running")  # fmt: skip
            raise InvalidInputError("path", params["path"], problem, method=METHOD) from None
        try:
            yield
        finally:  # the (hidden) lock file stays: removing it would let two runs lock two files
            fcntl.flock(handle, fcntl.LOCK_UN)


def source_folder(params: dict[str, Any], root: Path) -> Path:
    """The folder to upload, checked: inside the storage, a folder, no link leading out."""
    folder = inside(root, params["path"], field="path", method=METHOD)
    if not folder.is_dir():
        problem = f"is not a folder of storage {params['storage']}"
        raise InvalidInputError("path", params["path"], problem, method=METHOD)
    check_links(folder, root, field="path", method=METHOD)
    manifest = manifest_for(folder, root, params["collection"])
    if manifest.is_symlink():  # it would be read, then replaced: neither through a link
        problem = f"its manifest {relative(manifest.parent, root)}/{manifest.name} is a link"
        raise InvalidInputError("path", params["path"], problem, method=METHOD)
    return folder


def metadata_sheet(params: dict[str, Any], root: Path) -> Path | None:
    """The metadata sheet inside the storage, or None.

    Example:
        >>> metadata_sheet({"metadata": "sheets/meta.csv"}, Path("/srv/disk"))
        PosixPath('/srv/disk/sheets/meta.csv')
        >>> try:
        ...     metadata_sheet({"metadata": "../../etc/passwd.csv"}, Path("/srv/disk"))
        ... except InvalidInputError as err:
        ...     print(err.field, "leaves the storage" in err.message)
        metadata True
    """
    if not params.get("metadata"):
        return None
    return inside(root, params["metadata"], field="metadata", method=METHOD)


def summary(report: UploadReport, root: Path, params: dict[str, Any]) -> dict[str, Any]:
    """The job result: counts of files and data units, created ids and per-file errors."""
    errors = [
        {k: relative(Path(v), root) if k == "path" and v.startswith(str(root)) else v
         for k, v in error.items()}
        for error in report.errors[:MAX_LISTED_ERRORS]
    ]  # fmt: skip
    return {
        "ok": report.ok,
        "storage": params["storage"],
        "path": relative(report.source_dir, root),
        "collection": report.collection_id,
        "files": dict(report.files),
        "data_units": {
            "found": report.data_units,
            "created": len(report.created),
            "already_created": report.already_created,
            "failed": report.data_units - len(report.created) - report.already_created,
            "ids": report.created[:MAX_LISTED_IDS],
        },
        "tasks": len(report.tasks),
        "errors": errors,
        "error_count": len(report.errors),
        "warnings": report.warnings[:MAX_LISTED_ERRORS],
        "elapsed_s": round(report.elapsed, 3),
    }


def run(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Check the folder, upload it with the job's client, return the per-file summary.

    Example:
        >>> from PIL import Image
        >>> from synapse_nb.plugins.runtime import RunContext
        >>> for i in range(2):
        ...     _ = Path("disk/street").mkdir(parents=True, exist_ok=True)
        ...     Image.new("RGB", (8, 8), (i * 90, 7, 3)).save(f"disk/street/{i}.png")
        >>> disk = backend.create_storage({"name": "Upload disk", "provider": "file_system",
        ...     "configuration": {"location": str(Path("disk").resolve())}})["id"]
        >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
        ...             if c["name"] == "Incoming uploads"][0]
        >>> params = {"storage": disk, "path": "street", "collection": incoming}
        >>> ctx = RunContext({"job_id": "doc", "action": "upload", "params": params,
        ...                   "scratch_dir": ".", "base_url": srv.url, "token": srv.token,
        ...                   "storage_roots": srv.state.config.allowed_storage_roots})
        >>> result = run(params, ctx)
        >>> result["ok"], result["files"]["uploaded"], result["data_units"]["created"]
        (True, 2, 2)
        >>> run(params, ctx)["data_units"]["already_created"]  # a second run sends nothing
        2
    """
    root = storage_root(ctx.client, params["storage"], method=METHOD, roots=ctx.storage_roots)
    folder = source_folder(params, root)
    sheet = metadata_sheet(params, root)
    where = f"{relative(folder, root) or '/'} of storage {params['storage']}"
    ctx.log_message(f"Uploading {where} into data collection {params['collection']}",
                    step="upload")  # fmt: skip
    manifest = manifest_for(folder, root, params["collection"])
    with exclusive(manifest, params):
        report = upload(
            ctx.client,
            folder,
            params["collection"],
            project_id=params.get("project"),
            metadata=sheet,
            recursive=params.get("recursive", True),
            batch_size=params.get("batch_size", 100),
            workers=4,
            progress=job_progress(ctx),
            manifest=manifest,
        )
    result = summary(report, root, params)
    for error in result["errors"]:
        ctx.log_message(f"{error.get('path') or error.get('unit')}: {error['error']}",
                        level="warning", step=error.get("step"))  # fmt: skip
    files, units = result["files"], result["data_units"]
    ctx.log_message(
        f"{where}: {files['uploaded']} files uploaded, {files['existing']} already there, "
        f"{files['failed']} failed; {units['created']} data units created, "
        f"{units['already_created']} created before",
        level="success" if report.ok else "warning",
        step="upload",
    )
    return result
