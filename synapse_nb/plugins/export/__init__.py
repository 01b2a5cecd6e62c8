"""Export workflow: tasks, assignments or ground-truth events to DM, COCO, Pascal VOC or YOLO.

:func:`export` is the one call a notebook needs (``df.synapse.export(...)`` calls it too):

1. fetch the records, from a query (``params``) or from a DataFrame whose index is the
   object ``id`` (and whose optional split column sends items to train/val/test);
2. fix the run-wide class order from the project configuration (or ``classes=``);
3. stream the items through an exporter, the Synapse SDK's
   :class:`~synapse_nb.plugins.export.base.BaseExporter` hooks in the Synapse SDK's order, while
   the originals download concurrently ahead of it;
4. write the aggregate files (``additional_file_saving``) and ``export_report.json``, and
   return an :class:`~synapse_nb.plugins.export.report.ExportReport`.

Custom exporters subclass ``BaseExporter`` (or a built-in one) and are passed as ``fmt``.

Example:
    >>> from synapse_nb.plugins import export
    >>> project = backend.list_projects()["results"][0]["id"]
    >>> report = export(backend, "task", "yolo", "exports", progress=False,
    ...                 params={"project": project, "status": "completed"})
    >>> report.exported > 0, report.path.name, (report.path / "detect" / "dataset.yaml").is_file()
    (True, 'task-yolo', True)
"""

from __future__ import annotations

import numbers
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from synapse_nb.converters import YOLO_TASKS, collect_classes, resolve_class_order
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.plugins._progress import ProgressCallback, ProgressReporter
from synapse_nb.plugins.export.base import (
    BaseExporter,
    ExportRun,
    ExportStatus,
    MetricsRecord,
    plain_name_problem,
)
from synapse_nb.plugins.export.formats import (
    EXPORTERS,
    SEGMENTATION_MODES,
    COCOExporter,
    DMExporter,
    FormatExporter,
    VOCExporter,
    YOLOExporter,
)
from synapse_nb.plugins.export.items import (
    SPLITS,
    build_export_item,
    configured_classes,
    fetch_records,
    frame_ids,
    frame_splits,
    resolve_target,
)
from synapse_nb.plugins.export.originals import OriginalsPrefetcher
from synapse_nb.plugins.export.report import ExportReport, write_report
from synapse_nb.utils.file import get_temp_path

__all__ = [
    "EXPORTERS",
    "BaseExporter",
    "COCOExporter",
    "DMExporter",
    "ExportReport",
    "ExportRun",
    "ExportStatus",
    "MetricsRecord",
    "VOCExporter",
    "YOLOExporter",
    "export",
]

_FORMAT_ALIASES = {"pascal": "voc", "pascal_voc": "voc", "ultralytics": "yolo"}
_METHOD = "export"
_HOOKS = ("before_convert", "convert_data", "after_convert", "process_data_conversion")
_BUILT_IN = (*EXPORTERS.values(), FormatExporter, BaseExporter)


def _json_data(exporter_class: type[BaseExporter]) -> bool:
    """True when items reach the JSON writer as decoded JSON: no hook of a subclass's own."""
    built_in = next(c for c in exporter_class.__mro__ if c in _BUILT_IN)
    return all(getattr(exporter_class, h) is getattr(built_in, h) for h in _HOOKS)


def _exporter_class(fmt: Any) -> tuple[str, type[BaseExporter]]:
    if isinstance(fmt, type) and issubclass(fmt, BaseExporter):
        return fmt.__name__, fmt
    key = _FORMAT_ALIASES.get(fmt.lower(), fmt.lower()) if isinstance(fmt, str) else None
    if key not in EXPORTERS:
        raise InvalidInputError(
            "fmt", fmt, f"must be one of {sorted(EXPORTERS)} or a BaseExporter subclass",
            method=_METHOD,
        )  # fmt: skip
    return key, EXPORTERS[key]


def _item_id(key: Any) -> int | None:
    """An item id given as an int, a whole float (``12.0``, as pandas may give) or digit
    text (spaces around allowed), else None.

    Example:
        >>> _item_id(12), _item_id(12.0), _item_id(" 12"), _item_id(12.5), _item_id(True)
        (12, 12, 12, None, None)
    """
    if isinstance(key, bool):
        return None
    if isinstance(key, numbers.Integral):
        return int(key)
    if isinstance(key, float) and key.is_integer():
        return int(key)
    if isinstance(key, str):
        text = key.strip()
        if text.isascii() and text.isdigit() and len(text) <= 19:
            return int(text)
    return None


def _split_map(split: Any, frame: Any) -> dict[int, str]:
    if split is None:
        return {}
    if isinstance(split, str):
        if frame is None:
            raise InvalidInputError(
                "split", split, "a column name needs frame=; pass {id: split} with a query",
                method=_METHOD,
            )  # fmt: skip
        return frame_splits(frame, split)
    if isinstance(split, Mapping):
        out: dict[int, str] = {}
        for key, value in split.items():
            pk = _item_id(key)
            if pk is None:
                raise InvalidInputError(
                    "split", key, "keys must be item ids (integers)", method=_METHOD
                )
            if value not in SPLITS:
                raise InvalidInputError(
                    f"split[{key!r}]", value, f"must be one of {SPLITS}", method=_METHOD
                )
            out[pk] = str(value)
        return out
    raise InvalidInputError(
        "split", split, "must be a column name of frame or a {id: split} mapping", method=_METHOD
    )


def _directory_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a directory (it is one, or can be created), or None."""
    if path.exists():
        return None if path.is_dir() else "is a file, not a directory"
    parent = path.parent
    while parent != parent.parent and not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {str(parent)!r} is a file, not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {str(parent)!r} is not writable"
    return None


def _check_directory(field: str, value: Any) -> None:
    if isinstance(value, bytes) or not isinstance(value, str | os.PathLike) or not str(value):
        raise InvalidInputError(field, value, "must be a directory path", method=_METHOD)
    if "\0" in str(value):
        raise InvalidInputError(field, value, "must not contain NUL", method=_METHOD)
    problem = _directory_problem(Path(value))
    if problem:
        raise InvalidInputError(field, str(value), problem, method=_METHOD)


def _check_classes(classes: Any) -> None:
    """The class configuration is read now, so a bad one fails before the listing."""
    if classes is None:
        return
    try:
        resolve_class_order([], classes)  # reads (and checks) the configuration only
    except InvalidInputError as error:
        raise InvalidInputError(
            error.field, error.value, error.response[error.field][0], method=_METHOD
        ) from None


def _check_options(
    path: Any, params: Any, name: Any, segmentation_mode: Any, tasks: Any, dm_version: Any,
    workers: Any, save_original_file: Any, classes: Any = None, cache_dir: Any = None,
) -> None:  # fmt: skip
    _check_directory("path", path)
    if params is not None and not isinstance(params, Mapping):
        raise InvalidInputError("params", params, "must be a dict of filters", method=_METHOD)
    if name is not None and (problem := plain_name_problem(name)):
        raise InvalidInputError("name", name, problem, method=_METHOD)
    if segmentation_mode not in SEGMENTATION_MODES:
        raise InvalidInputError(
            "segmentation_mode", segmentation_mode, f"must be one of {SEGMENTATION_MODES}",
            method=_METHOD,
        )  # fmt: skip
    if tasks is not None and (
        not isinstance(tasks, list | tuple | set | frozenset)
        or not tasks
        or any(t not in YOLO_TASKS for t in tasks)
    ):
        raise InvalidInputError(
            "tasks", tasks, f"must be a non-empty list from {YOLO_TASKS}", method=_METHOD
        )
    if dm_version not in (None, "v1", "v2"):
        raise InvalidInputError(
            "dm_version", dm_version, "must be None, 'v1' or 'v2'", method=_METHOD
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInputError("workers", workers, "must be an int >= 1", method=_METHOD)
    if not isinstance(save_original_file, bool):
        raise InvalidInputError(
            "save_original_file", save_original_file, "must be True or False", method=_METHOD
        )
    _check_classes(classes)
    if cache_dir is not None:
        _check_directory("cache_dir", cache_dir)


def export(
    client: Any,
    target: str | None,
    fmt: str | type[BaseExporter],
    path: str | os.PathLike[str],
    *,
    params: Mapping[str, Any] | None = None,
    frame: Any = None,
    split: str | Mapping[int, str] | None = None,
    progress: ProgressCallback | bool | None = None,
    name: str | None = None,
    save_original_file: bool = True,
    classes: Any = None,
    segmentation_mode: str = "instance",
    tasks: list[str] | None = None,
    dm_version: str | None = None,
    workers: int = 8,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ExportReport:
    """Export tasks, assignments or ground-truth events with their originals.

    Args:
        client: A :class:`~synapse_nb.clients.BackendClient`.
        target: ``"task"``, ``"assignment"`` or ``"ground_truth"`` (plurals work; None
            takes the kind of a synapse_nb ``frame``).
        fmt: ``"dm"``, ``"coco"``, ``"voc"`` (``"pascal"``), ``"yolo"``, or a
            :class:`BaseExporter` subclass.
        path: Directory under which the export directory ``<name>`` is created (with
            ``(1)``, ``(2)``... appended when it exists, as the Synapse SDK does).
        params: Query filters. Without ``frame`` they select the items and must include
            ``project`` (tasks, assignments) or ``ground_truth_dataset_version(s)``
            (ground truth); with ``frame`` they narrow the id lookup.
        frame: A DataFrame whose index is the object ``id``; its rows are exported in
            frame order.
        split: Name of the frame's split column, or ``{id: "train"|"val"|"test"}``.
        progress: ``progress(current, total, category)`` for categories ``"fetch"`` and
            ``"dataset_conversion"``; None shows tqdm bars, False nothing.
        name: Export directory name (default ``"<target>-<fmt>"``).
        save_original_file: Also save the original files (images).
        classes: Class configuration overriding the project's (a list of names, or a
            ``classification`` configuration); None uses the project's.
        segmentation_mode: How masks export: ``"instance"``, ``"semantic"``, ``"exclude"``.
        tasks: YOLO tasks to write (default detect, segment and pose); a single name
            such as ``"detect"`` is one task.
        dm_version: DM export only: convert documents to ``"v1"`` or ``"v2"``.
        workers: Concurrent original downloads.
        cache_dir: Download cache of originals (default: the file utilities' media cache).

    Returns:
        The :class:`ExportReport` (also written as ``<export dir>/export_report.json``).

    Raises:
        InvalidInputError: A bad argument, named with its value, before anything is sent
            or written.
        ClientError: The listing failed (per-item problems are in the report instead).

    Example:
        >>> version = backend.list_ground_truth_versions()["results"][0]["id"]
        >>> report = export(backend, "ground_truth", "coco", "exports", progress=False,
        ...                 save_original_file=False,
        ...                 params={"ground_truth_dataset_versions": [version]})
        >>> report.exported > 0, report.audit.summary()["failed"]  # what COCO cannot hold: audit
        (True, 0)
    """
    started = time.perf_counter()
    fmt_name, exporter_class = _exporter_class(fmt)
    spec = resolve_target(target, frame)
    if isinstance(tasks, str):  # one YOLO task kind: what a single name means
        tasks = [tasks]
    elif isinstance(tasks, Iterable) and not isinstance(tasks, Mapping | bytes):
        tasks = list(tasks)  # any collection of kinds, as to_yolo takes (dict keys, a generator)
    _check_options(
        path, params, name, segmentation_mode, tasks, dm_version, workers, save_original_file,
        classes, cache_dir,
    )  # fmt: skip
    if not hasattr(client, spec.list_method):
        raise InvalidInputError(
            "client", type(client).__name__, f"has no {spec.list_method}()", method=_METHOD
        )
    ids = frame_ids(frame) if frame is not None else None
    splits = _split_map(split, frame)
    reporter = ProgressReporter(progress, method=_METHOD)
    try:
        records, missing = fetch_records(
            client,
            spec,
            params=params,
            ids=ids,
            on_progress=lambda done, total: reporter.set_progress(done, total, "fetch"),
        )
        items = [build_export_item(r, splits.get(r["id"])) for r in records]
        configured = (
            classes
            if classes is not None
            else configured_classes(client, spec, records, params or {})
        )
        exporter = _make_exporter(
            exporter_class,
            ExportRun(reporter),
            items,
            path=path,
            name=name,
            target=spec.name,
            fmt_name=fmt_name,
            save_original_file=save_original_file,
            prefetch=(workers, cache_dir),
            classes=configured,
            segmentation_mode=segmentation_mode,
            tasks=tasks,
            dm_version=dm_version,
            json_data=_json_data(exporter_class),
        )
        if isinstance(exporter, FormatExporter) and exporter.class_order is None:
            documents = [
                {"id": i["id"], "data": i["data"]} for i in items if isinstance(i["data"], Mapping)
            ]
            exporter.class_order = resolve_class_order(
                collect_classes(documents), configured, exporter.audit
            )
        exporter.export()
    finally:
        reporter.close()
    return write_report(exporter, fmt_name, spec.name, len(items), missing, started)


def _make_exporter(
    exporter_class: type[BaseExporter],
    run: ExportRun,
    items: list[dict[str, Any]],
    *,
    path: Any,
    name: str | None,
    target: str,
    fmt_name: str,
    save_original_file: bool,
    prefetch: tuple[int, Any],
    **options: Any,
) -> BaseExporter:
    """The run's exporter: ``path/name`` (by default ``<target>-<format>``), the items with
    the originals they need downloaded ahead (``prefetch``: workers and cache dir)."""
    workers, cache_dir = prefetch
    return exporter_class(
        run,
        _originals(items, exporter_class, save_original_file, workers, cache_dir),
        Path(path),
        name=name or f"{target}-{fmt_name.lower()}",
        save_original_file=save_original_file,
        count=len(items),
        target=target,
        **options,
    )


def _originals(
    items: list[dict[str, Any]],
    exporter_class: type[BaseExporter],
    save_original_file: bool,
    workers: int,
    cache_dir: Any,
) -> Any:
    needs_size = issubclass(exporter_class, FormatExporter)

    def needed(item: dict[str, Any]) -> bool:
        return save_original_file or (needs_size and not (item["width"] and item["height"]))

    if not any(needed(item) for item in items):
        return items
    cache = Path(cache_dir) if cache_dir is not None else get_temp_path("media")
    return OriginalsPrefetcher(items, cache, workers=workers, needed=needed)
