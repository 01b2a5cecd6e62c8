"""The export workflow with its fetching and converting done by Ray tasks, one per shard.

The job lists only the ids its query selects and splits them into shards. A first task per
shard fetches the shard's records through the job's token and builds their export items
(keeping them on the cluster) and sends back what the run-wide choices need: each item's
file name, its classes, its project. The job then fixes the class order and the
collision-free file names exactly as :func:`~synapse_nb.plugins.export.export` does, and a
second task per shard converts the shard's items with them. The job writes the converted
items in listing order through the same exporter, so the export's files are the ones of the
run without shards, byte for byte (items whose size is only known from their original are
converted by the job after the download, as without shards).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, cast

from synapse_nb.converters import Audit, collect_classes, resolve_class_order
from synapse_nb.plugins._progress import ProgressCallback, ProgressReporter
from synapse_nb.plugins.builtin.sharding import JobAccess, ShardTasks, list_ids, split_ids
from synapse_nb.plugins.export import (
    _check_options,
    _exporter_class,
    _make_exporter,
    _split_map,
)
from synapse_nb.plugins.export.base import ITEM_ERRORS, BaseExporter, ExportRun
from synapse_nb.plugins.export.formats import FormatExporter
from synapse_nb.plugins.export.items import (
    TARGETS,
    _check_query,
    build_export_item,
    configured_classes,
    fetch_records,
    resolve_target,
)
from synapse_nb.plugins.export.report import ExportReport, write_report

__all__ = ["convert_shard", "export_on_ray", "fetch_shard"]

#: what one shard's conversion gives back per item: the item and its audit (None: not converted)
Converted = list[tuple[dict[str, Any], Audit | None]]


def fetch_shard(
    access: JobAccess, target: str, query: Mapping[str, Any], ids: list[int],
    splits: Mapping[int, str],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """Fetch one shard's records and build its export items (a Ray task's body).

    Returns ``(items, summary)``: the items stay on the cluster for :func:`convert_shard`;
    the summary holds the missing ids, the items' primary files, their classes and projects.

    Example:
        >>> access = JobAccess(srv.url, srv.token)
        >>> items, summary = fetch_shard(access, "task", {"project": 1}, [1, 10**9], {1: "val"})
        >>> [i["split"] for i in items], summary["missing"]
        (['val'], [1000000000])
    """
    with access.client() as client:
        records, missing = fetch_records(client, TARGETS[target], params=query, ids=ids)
    items = [build_export_item(r, splits.get(r["id"])) for r in records]
    documents = [
        {"id": i["id"], "data": i["data"]} for i in items if isinstance(i["data"], Mapping)
    ]
    summary = {
        "missing": missing,
        "files": [(i["id"], i["files"]) for i in items],
        "classes": collect_classes(documents),
        "projects": sorted({r["project"] for r in records if r.get("project") is not None}),
    }
    return items, summary


def convert_shard(items: list[dict[str, Any]], fmt: str, options: Mapping[str, Any],
                  names: Mapping[int, str]) -> Converted:  # fmt: skip
    """Convert one shard's items with the run's class order and file names (a Ray task's body).

    Each entry is ``(item, audit)``: the converted item and its conversion's audit, or the
    item as it came with ``None`` when the job converts it itself (its size needs the
    original, or its data fails to convert: the job then records the failure as usual).

    Example:
        >>> item = {"id": 1, "data": {}, "files": {}, "width": 4, "height": 3, "split": None}
        >>> [(done, audit)] = convert_shard([item], "yolo", {"class_order": []}, {1: "a.jpg"})
        >>> done["export_name"], "converted" in done, len(audit)
        ('a.jpg', True, 0)
    """
    _, exporter_class = _exporter_class(fmt)
    exporter = exporter_class(ExportRun(progress=False), [], ".", **options)
    sized = not isinstance(exporter, FormatExporter)
    out: Converted = []
    for raw in items:
        item = {**raw, "export_name": names[raw["id"]]}
        if not (sized or (item["width"] and item["height"])):
            out.append((item, None))
            continue
        exporter.audit = Audit()
        try:
            out.append((exporter.process_data_conversion(item), exporter.audit))
        except ITEM_ERRORS:
            out.append((item, None))
    return out


def _with_converted(exporter_class: type[BaseExporter],
                    audits: dict[int, Audit]) -> type[BaseExporter]:  # fmt: skip
    """``exporter_class`` that takes the items the tasks converted as they are."""

    def process_data_conversion(self: BaseExporter, export_item: dict[str, Any]) -> dict[str, Any]:
        audit = audits.pop(export_item["id"], None)
        if audit is None:  # not converted by a task: converted here, as without shards
            return exporter_class.process_data_conversion(self, export_item)
        self.audit.extend(audit)
        return export_item

    body = {"process_data_conversion": process_data_conversion}
    return cast(type[BaseExporter], type(exporter_class.__name__, (exporter_class,), body))


def _names(files: list[tuple[int, dict[str, Any]]]) -> dict[int, str]:
    """The collision-free export names, given in listing order as the exporter gives them."""
    namer = BaseExporter(None, [], ".")
    return {pk: namer._assign_name({"id": pk, "files": entry})["export_name"]
            for pk, entry in files}  # fmt: skip


def export_on_ray(
    ctx: Any,
    target: str,
    fmt: str,
    path: str | os.PathLike[str],
    *,
    query: Mapping[str, Any],
    shard_size: int,
    split: Mapping[int, str] | None = None,
    progress: ProgressCallback | None = None,
    name: str | None = None,
    save_original_file: bool = True,
    workers: int = 4,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ExportReport | None:
    """:func:`~synapse_nb.plugins.export.export` of a query, sharded over Ray tasks.

    Returns None, having done nothing, when the job does not run on Ray or the query selects
    no more than ``shard_size`` items (the caller then exports as usual).
    """
    if ctx.ray_address is None:
        return None
    started = time.perf_counter()
    fmt_name, exporter_class = _exporter_class(fmt)
    spec = resolve_target(target)
    _check_options(path, query, name, "instance", None, None, workers, save_original_file)
    _check_query(spec, query)
    ids = list_ids(getattr(ctx.client, spec.list_method), query)
    if len(ids) <= shard_size:
        return None
    splits = _split_map(split, None)
    shards = split_ids(ids, shard_size)
    ctx.log_message(f"Sharded: {len(ids)} items in {len(shards)} Ray tasks of up to "
                    f"{shard_size}", step="shards")  # fmt: skip
    access = JobAccess(*ctx.backend_access())
    tasks = ShardTasks(ctx, "fetch")
    fetched = tasks.submit(fetch_shard, [
        (access, spec.name, dict(query), shard, {i: splits[i] for i in shard if i in splits})
        for shard in shards], num_returns=2)  # fmt: skip
    summaries = tasks.wait([summary for _, summary in fetched])
    missing = [i for s in summaries for i in s["missing"]]
    files = [entry for s in summaries for entry in s["files"]]
    projects = sorted({p for s in summaries for p in s["projects"]})
    configured = configured_classes(ctx.client, spec, [{"project": p} for p in projects], query)
    run = ExportRun(ProgressReporter(progress, method="export"))
    audit = Audit()
    class_order = None
    if issubclass(exporter_class, FormatExporter):
        labels = sorted({c for s in summaries for c in s["classes"]})
        class_order = resolve_class_order(labels, configured, audit)
    options = {"class_order": class_order, "classes": configured, "segmentation_mode": "instance",
               "tasks": None, "dm_version": None}  # export()'s defaults
    names = _names(files)
    tasks.category = "convert"
    converted = tasks.wait(tasks.submit(convert_shard, [
        (items, fmt_name, options, {pk: names[pk] for pk, _ in s["files"]})
        for (items, _), s in zip(fetched, summaries, strict=True)]))  # fmt: skip
    items = [item for part in converted for item, _ in part]
    audits = {item["id"]: a for part in converted for item, a in part if a is not None}
    exporter = _make_exporter(
        _with_converted(exporter_class, audits),
        run,
        items,
        path=path,
        name=name,
        target=spec.name,
        fmt_name=fmt_name,
        save_original_file=save_original_file,
        prefetch=(workers, cache_dir),
        **options,
    )
    exporter.audit = audit
    try:
        exporter.export()
    finally:
        run.end_log()
    return write_report(exporter, fmt_name, spec.name, len(items), missing, started)
