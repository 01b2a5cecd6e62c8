"""The export workflow as a job: export, zip, then publish the zip or write it to a storage.

The job selects items with ``query`` (the list call's filters, e.g. ``{"project": 1,
"status": "completed"}``; ``ground_truth_version`` is a shortcut for a ground-truth version),
runs :func:`synapse_nb.plugins.export.export` with the job's client into its scratch folder,
zips the export and uploads the zip as a data file (chunked above the client's threshold).
``split`` maps item ids to ``train``/``val``/``test``. By default the
job result holds the archive's data file id and download URL and the export report's summary.

With ``storage`` (a ``file_system`` storage's id) and ``path`` (a folder inside it, created when
missing; ``""`` or ``/`` is its root) the zip is written there as ``<export name>.zip`` instead
(one archive, the same bytes a data-file export publishes), replacing an earlier archive of
that name in one rename, so a reader never sees half of one; the job result names the storage
and the archive's path inside it. A path that leaves the storage (``..`` or a symbolic link)
fails the job before anything is exported.

Progress follows the workflow's phases (``fetch``, ``dataset_conversion``) then ``upload`` (or
``write``); a stop request ends the job at the next progress report.
On Ray, a query selecting more than ``shard_size`` items is fetched and converted by Ray
tasks, one per shard (see :mod:`synapse_nb.plugins.builtin.sharded_export`), into the same
files.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import zipfile
from pathlib import Path
from typing import IO, Any

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.plugins.builtin.progress import job_progress
from synapse_nb.plugins.builtin.sharded_export import export_on_ray
from synapse_nb.plugins.builtin.sharding import shard_size
from synapse_nb.plugins.export import export
from synapse_nb.plugins.storages import inside, open_folder, relative, storage_root

METHOD = "dataset-export"


def export_query(params: dict[str, Any]) -> dict[str, Any]:
    """The list filters of the run: ``query`` plus the ground-truth version shortcut.

    Example:
        >>> export_query({"query": {"project": 1}, "ground_truth_version": 2})
        {'project': 1, 'ground_truth_dataset_versions': [2]}
    """
    query = dict(params.get("query") or {})
    version = params.get("ground_truth_version")
    if version is not None:
        query["ground_truth_dataset_versions"] = [version]
    return query


#: already-compressed media: stored as they are (deflating them costs time and saves nothing)
STORED = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".mp4", ".zip", ".gz", ".npz"})


def zip_folder(folder: Path, archive: Path) -> Path:
    """Zip every file under ``folder`` (paths relative to it) into ``archive``; text files
    are deflated, compressed media stored.

    Example:
        >>> from pathlib import Path
        >>> _ = Path("out/labels").mkdir(parents=True)
        >>> _ = Path("out/labels/a.txt").write_text("0 0.5 0.5 0.1 0.1")
        >>> zipfile.ZipFile(zip_folder(Path("out"), Path("out.zip"))).namelist()
        ['labels/a.txt']
    """
    _zip_into(folder, archive)
    return archive


def _zip_into(folder: Path, archive: Path | IO[bytes]) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stored = path.suffix.lower() in STORED
                method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                zf.write(path, path.relative_to(folder).as_posix(), compress_type=method)


def destination(params: dict[str, Any], ctx: Any) -> tuple[Path, Path] | None:
    """(storage root, folder) the archive goes to, checked; None to publish a data file.

    ``path`` is a folder inside the storage (``""`` or ``/``: its root), created when missing;
    a path that leaves the storage (``..``, a symbolic link) is refused before any export.

    Example:
        >>> destination({"target": "task"}, None) is None
        True
    """
    if params.get("storage") is None:
        if params.get("path") is not None:
            raise InvalidInputError("storage", None, "is required with path", method=METHOD)
        return None
    root = storage_root(ctx.client, params["storage"], method=METHOD, roots=ctx.storage_roots)
    folder = inside(root, params.get("path") or "", field="path", method=METHOD)
    if folder.exists() and not folder.is_dir():
        problem = f"is a file of storage {params['storage']}, not a folder"
        raise InvalidInputError("path", params.get("path"), problem, method=METHOD)
    return root, folder


def write_archive(folder: Path, root: Path, archive_name: str, export_dir: Path) -> Path:
    """Zip ``export_dir`` as ``folder/archive_name``, never half-written.

    ``folder`` (as :func:`destination` checked it) is created one level at a time and every
    step after that works on a descriptor of it, never through a symbolic link: a link
    swapped in meanwhile at any level fails the job and nothing is created through it. The zip
    is written under a hidden temporary name in that folder, then renamed over the final name
    in one step: a reader sees the previous archive or the new one, whole.

    Example:
        >>> _ = Path("done/labels").mkdir(parents=True)
        >>> _ = Path("done/labels/a.txt").write_text("0 0.5 0.5 0.2 0.2")
        >>> root = Path("disk").resolve()
        >>> root.mkdir()
        >>> out = write_archive(root / "exports", root, "done.zip", Path("done"))
        >>> zipfile.ZipFile(out).namelist(), sorted(p.name for p in out.parent.iterdir())
        (['labels/a.txt'], ['done.zip'])
    """
    where = relative(folder, root)
    fd = open_folder(root, where, field="path", method=METHOD)
    try:
        if _is_folder(archive_name, fd):
            problem = f"already holds a folder named {archive_name}"
            raise InvalidInputError("path", where, problem, method=METHOD)
        _zip_beside(export_dir, archive_name, fd)
    finally:
        os.close(fd)
    return folder / archive_name


def _is_folder(name: str, folder_fd: int) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _zip_beside(export_dir: Path, archive_name: str, folder_fd: int) -> None:
    """Zip into a temporary file of the folder open as ``folder_fd``, then rename it over
    ``archive_name`` (both by descriptor)."""
    temp = f".{archive_name}.{secrets.token_hex(6)}.part"
    # created exclusively with the umask's mode (mkstemp's 0600 would hide the archive from
    # the storage's other readers)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        with os.fdopen(os.open(temp, flags, 0o666, dir_fd=folder_fd), "wb") as fh:
            _zip_into(export_dir, fh)
        os.replace(temp, archive_name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=folder_fd)


def run_export(params: dict[str, Any], ctx: Any, out: Path, originals: Path) -> Any:
    """The export workflow into ``out`` with the job's client; returns its report.

    On Ray, more items than one shard are fetched and converted by Ray tasks, one per shard.
    """
    sharded = export_on_ray(ctx, params["target"], params["format"], out,
                            query=export_query(params), shard_size=shard_size(params),
                            split=params.get("split"), progress=job_progress(ctx),
                            name=params.get("name"), cache_dir=originals,
                            save_original_file=params["save_original_file"])  # fmt: skip
    report = sharded or export(  # not on Ray, or no more items than one shard
        ctx.client,
        params["target"],
        params["format"],
        out,
        params=export_query(params),
        split=params.get("split"),
        progress=job_progress(ctx),
        name=params.get("name"),
        save_original_file=params["save_original_file"],
        workers=4,
        cache_dir=originals,  # the job's own, not the user's download cache
    )
    ctx.check_stop()
    ctx.log_message(
        f"Exported {report.exported}/{report.total} {report.target} items as {report.format}",
        step="export",
    )
    return report


def publish(report: Any, ctx: Any, done_with: tuple[Path, ...]) -> dict[str, Any]:
    """Zip the export into scratch and upload the zip as a data file; returns its description.

    The folders ``done_with`` (the export, the originals) are removed once zipped, before the
    upload: the scratch folder holds the zip alone while it is sent.
    """
    archive = zip_folder(report.path, ctx.scratch_dir / f"{report.path.name}.zip")
    for folder in done_with:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        ctx.set_progress(0, 1, "upload")
        uploaded = ctx.client.create_data_file(archive, use_chunked_upload=None)
        ctx.set_progress(1, 1, "upload")
    finally:
        archive.unlink(missing_ok=True)
    ctx.log_message(
        f"Uploaded {archive.name} ({uploaded['size']} bytes) as data file {uploaded['id']}",
        level="success",
        step="upload",
    )
    return {
        "data_file": uploaded["id"],
        "url": uploaded["file"],
        "file_name": archive.name,
        "size": uploaded["size"],
        "checksum": uploaded["checksum"],
    }


def store(report: Any, ctx: Any, storage: int, where: tuple[Path, Path]) -> dict[str, Any]:
    """Write the zip into the storage's folder; returns where it is."""
    root, folder = where
    ctx.set_progress(0, 1, "write")
    final = write_archive(folder, root, f"{report.path.name}.zip", report.path)
    ctx.set_progress(1, 1, "write")
    size = final.stat().st_size
    path = relative(final, root)
    ctx.log_message(f"Wrote {path} ({size} bytes) to storage {storage}", level="success",
                    step="write")  # fmt: skip
    return {"storage": storage, "path": path, "file_name": final.name, "size": size}


def run(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Export and zip; publish the zip as a data file or write it to a storage.

    Example:
        >>> from synapse_nb.plugins.runtime import RunContext
        >>> params = {"target": "task", "format": "coco", "save_original_file": False,
        ...           "query": {"project": 1, "status": "completed"}}
        >>> ctx = RunContext({"job_id": "doc", "action": "export", "params": params,
        ...                   "scratch_dir": ".", "base_url": srv.url, "token": srv.token,
        ...                   "storage_roots": srv.state.config.allowed_storage_roots})
        >>> result = run(params, ctx)
        >>> result["report"]["exported"] > 0, result["archive"]["file_name"]
        (True, 'task-coco.zip')

        With a ``file_system`` storage and a folder inside it, the zip is written there:

        >>> disk = backend.create_storage({"name": "Export disk", "provider": "file_system",
        ...     "configuration": {"location": str(Path(".").resolve())}})["id"]
        >>> archive = run({**params, "storage": disk, "path": "exports/coco"}, ctx)["archive"]
        >>> archive["path"], zipfile.ZipFile(archive["path"]).testzip() is None
        ('exports/coco/task-coco.zip', True)
    """
    where = destination(params, ctx)
    out = ctx.scratch_dir / "export"
    originals = ctx.scratch_dir / "originals"
    try:  # the export and the downloaded originals go, whether it succeeds or not
        report = run_export(params, ctx, out, originals)
        summary = {k: v for k, v in report.summary().items() if k != "path"}  # scratch, removed
        if where is None:
            archive = publish(report, ctx, (out, originals))
        else:
            archive = store(report, ctx, params["storage"], where)
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(originals, ignore_errors=True)
    return {"archive": archive, "report": summary}
