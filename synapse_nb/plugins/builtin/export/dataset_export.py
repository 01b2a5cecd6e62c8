"""The export workflow as a job: export, zip, upload the archive as a data file.

The job selects items with ``query`` (the list call's filters, e.g. ``{"project": 1,
"status": "completed"}``; ``ground_truth_version`` is a shortcut for a ground-truth version),
runs :func:`synapse_nb.plugins.export.export` with the job's client into its scratch folder,
zips the export and uploads the zip as a data file (chunked above the client's threshold).
``split`` maps item ids to ``train``/``val``/``test``. The
job result holds the archive's data file id and download URL and the export report's summary.
Progress follows the workflow's phases (``fetch``, ``dataset_conversion``) then ``upload``; a
stop request ends the job at the next progress report. On Ray, a query selecting more than
``shard_size`` items is fetched and converted by Ray tasks, one per shard (see
:mod:`synapse_nb.plugins.builtin.sharded_export`), into the same files.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from synapse_nb.plugins.builtin.sharded_export import export_on_ray
from synapse_nb.plugins.builtin.sharding import shard_size
from synapse_nb.plugins.export import export


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
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stored = path.suffix.lower() in STORED
                method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                zf.write(path, path.relative_to(folder).as_posix(), compress_type=method)
    return archive


def _progress(ctx: Any) -> Any:
    def report(current: int, total: int, category: str) -> None:
        ctx.check_stop()
        if total > 0:
            ctx.set_progress(current, total, category)

    return report


def run(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Export, zip and upload; returns the archive's data file and the report summary.

    Example:
        >>> from synapse_nb.plugins.runtime import RunContext
        >>> params = {"target": "task", "format": "coco", "save_original_file": False,
        ...           "query": {"project": 1, "status": "completed"}}
        >>> ctx = RunContext({"job_id": "doc", "action": "export", "params": params,
        ...                   "scratch_dir": ".", "base_url": srv.url, "token": srv.token})
        >>> result = run(params, ctx)
        >>> result["report"]["exported"] > 0, result["archive"]["file_name"]
        (True, 'task-coco.zip')
    """
    out = ctx.scratch_dir / "export"
    originals = ctx.scratch_dir / "originals"
    archive: Path | None = None
    try:  # the export, the downloaded originals and the zip go, whether it succeeds or not
        sharded = export_on_ray(ctx, params["target"], params["format"], out,
                                query=export_query(params), shard_size=shard_size(params),
                                split=params.get("split"), progress=_progress(ctx),
                                name=params.get("name"), cache_dir=originals,
                                save_original_file=params["save_original_file"])  # fmt: skip
        report = sharded or export(  # not on Ray, or no more items than one shard
            ctx.client,
            params["target"],
            params["format"],
            out,
            params=export_query(params),
            split=params.get("split"),
            progress=_progress(ctx),
            name=params.get("name"),
            save_original_file=params["save_original_file"],
            workers=4,
            cache_dir=originals,  # the job's own, not the user's download cache
        )
        ctx.check_stop()
        summary = {k: v for k, v in report.summary().items() if k != "path"}  # scratch, removed
        ctx.log_message(
            f"Exported {report.exported}/{report.total} {report.target} items as {report.format}",
            step="export",
        )
        archive = zip_folder(report.path, ctx.scratch_dir / f"{report.path.name}.zip")
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(originals, ignore_errors=True)
        ctx.set_progress(0, 1, "upload")
        uploaded = ctx.client.create_data_file(archive, use_chunked_upload=None)
        ctx.set_progress(1, 1, "upload")
        ctx.log_message(
            f"Uploaded {archive.name} ({uploaded['size']} bytes) as data file {uploaded['id']}",
            level="success",
            step="upload",
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(originals, ignore_errors=True)
        if archive is not None:
            archive.unlink(missing_ok=True)
    return {
        "archive": {
            "data_file": uploaded["id"],
            "url": uploaded["file"],
            "file_name": archive.name,
            "size": uploaded["size"],
            "checksum": uploaded["checksum"],
        },
        "report": summary,
    }
