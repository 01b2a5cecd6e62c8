"""BaseExporter: the Synapse SDK's export plugin base class, with its hooks in its order.

For each export item, in stream order (see docs/annotation-format.md):

1. ``before_convert(item)`` → 2. ``convert_data(item)`` → 3. ``after_convert(item)``
   (together :meth:`BaseExporter.process_data_conversion`; each returns the dict passed on);
4. ``process_file_saving(final_data, unique_export_path, save_original_file_flag,
   errors_json_file_list, errors_original_file_list, original_file_metrics_record,
   data_file_metrics_record, no)``: by default saves the original (a failure is recorded but
   does not skip the JSON), then the item's ``data`` as ``labels/<stem>.json``; returns
   False to skip the item.

Then, once: 5. ``additional_file_saving(unique_export_path)`` for aggregate files, and
6. ``error_file_list.json`` if any file failed.

An export item is ``{"id", "data", "files": {"url", "file_name_original", ...}}`` (``files``
is the primary file entry), plus what :func:`~synapse_nb.plugins.export.export` adds:
``width``/``height``, ``split`` and, once fetched, ``files["path"]`` (the local original).
Before the hooks run, each item gets ``export_name``: its original file name, or
``<stem>__<item id><ext>`` when an earlier item already used that name.

Example:
    >>> class UpperExporter(BaseExporter):
    ...     def convert_data(self, data):
    ...         return {**data, "data": {"text": str(data["data"]).upper()}}
    >>> run = ExportRun(progress=False)
    >>> items = [{"id": 1, "data": {"a": 1}, "files": {"file_name_original": "x.jpg"}}]
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> out = UpperExporter(run, items, root, name="demo", save_original_file=False).export()
    >>> import json
    >>> json.loads((pathlib.Path(out["export_path"]) / "labels" / "x.json").read_text())
    {'text': "{'A': 1}"}
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sized
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path, PurePath, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from synapse_nb.converters import Audit
from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.plugins._progress import ProgressCallback, ProgressReporter
from synapse_nb.plugins.export._files import (
    Directories,
    child_path,
    is_plain_name,
    json_document,
    link_file,
    write_file,
)
from synapse_nb.utils.file import download_file, get_temp_path

__all__ = ["BaseExporter", "ExportRun", "ExportStatus", "MetricsRecord", "place_file"]

logger = logging.getLogger("synapse_nb.plugins.export")

#: Item data problems that fail one item (recorded in the report) instead of the export.
ITEM_ERRORS = (ValueError, TypeError, KeyError)


class ExportStatus(StrEnum):
    """Outcome of saving one file (Synapse SDK: ``ExportStatus``).

    Example:
        >>> ExportStatus("failed") is ExportStatus.FAILED
        True
    """

    SUCCESS = "success"
    FAILED = "failed"


@dataclass
class MetricsRecord:
    """Counts of one metrics category (Synapse SDK: ``run.MetricsRecord``).

    Example:
        >>> MetricsRecord(stand_by=3).success
        0
    """

    stand_by: int = 0
    success: int = 0
    failed: int = 0


_Metrics = MetricsRecord  # for annotations inside ExportRun, whose attribute shadows the name


class ExportRun:
    """The ``run`` object an exporter reports to (Synapse SDK: ``self.run``).

    It offers the Synapse SDK's ``log_message``, ``set_progress``, ``log_metrics`` and ``end_log``,
    keeps every message and the latest metrics per category, and forwards progress to a
    :class:`~synapse_nb.plugins._progress.ProgressCallback` (tqdm bars when None).

    Args:
        progress: A progress callback, None (tqdm) or False (silent).

    Example:
        >>> run = ExportRun(progress=False)
        >>> run.log_message("Starting export process.")
        >>> run.messages
        ['Starting export process.']
    """

    MetricsRecord: type[MetricsRecord] = MetricsRecord  # the Synapse SDK's run.MetricsRecord

    def __init__(self, progress: ProgressCallback | ProgressReporter | bool | None = None) -> None:
        self._progress = (
            progress
            if isinstance(progress, ProgressReporter)
            else ProgressReporter(progress, method="export")
        )
        self.messages: list[str] = []
        self.metrics: dict[str, dict[str, int]] = {}

    def log_message(self, message: str, level: str = "info") -> None:
        """Record a message (and log it at debug level).

        Example:
            >>> ExportRun(progress=False).log_message("Converting dataset.")
        """
        self.messages.append(message)
        logger.debug("[%s] %s", level, message)

    def set_progress(self, current: int, total: int, category: str = "dataset_conversion") -> None:
        """Forward progress to the callback or tqdm.

        Example:
            >>> ExportRun(progress=False).set_progress(1, 4)
        """
        self._progress.set_progress(current, total, category)

    def log_metrics(self, record: _Metrics, category: str) -> None:
        """Keep the latest counts of a category.

        Example:
            >>> run = ExportRun(progress=False)
            >>> run.log_metrics(MetricsRecord(success=2), "data_file")
            >>> run.metrics["data_file"]["success"]
            2
        """
        if type(record) is MetricsRecord:  # once per item: skip asdict's deep copy
            counts = {"stand_by": record.stand_by, "success": record.success}
            self.metrics[category] = {**counts, "failed": record.failed}
        else:
            self.metrics[category] = asdict(record)

    def end_log(self) -> None:
        """Close progress bars.

        Example:
            >>> ExportRun(progress=False).end_log()
        """
        self._progress.close()


def _leaf(text: str) -> str:
    """``PurePosixPath(text).name``, without building a path for a plain name."""
    if "/" in text or text in ("", "."):
        return PurePosixPath(text).name
    return text


def plain_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be an export directory name inside the given folder, or None.

    A name must be one plain path component: a non-blank string that is not ``.`` or
    ``..`` and holds no path separator (``/`` or ``\\``) or NUL.

    Example:
        >>> plain_name_problem("task-coco") is None, plain_name_problem("..")
        (True, "must be a plain directory name (one path component, not '.' or '..')")
    """
    if (
        not isinstance(name, str)
        or not name.strip()
        or name in (".", "..")
        or any(c in name for c in "/\\\0")
    ):
        return "must be a plain directory name (one path component, not '.' or '..')"
    return None


def _stem_suffix(name: str) -> tuple[str, str]:
    """``(PurePosixPath(name).stem, .suffix)``, without building a path for a plain name."""
    if "/" in name or name in ("", "."):
        leaf = PurePosixPath(name)
        return leaf.stem, leaf.suffix
    dot = name.rfind(".")
    if 0 < dot < len(name) - 1:
        return name[:dot], name[dot:]
    return name, ""


def place_file(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    directories: Directories | None = None,
) -> None:
    """Put ``source`` at ``target``: a hard link when possible (one disk copy), else a copy.

    An existing ``target`` is replaced. ``directories`` (an export's
    :class:`~synapse_nb.plugins.export._files.Directories`) skips making a parent it made.

    Example:
        >>> _ = Path("ab12.jpg").write_bytes(b"jpeg bytes")
        >>> place_file(Path("ab12.jpg"), Path("export/images/a.jpg"))
        >>> Path("export/images/a.jpg").read_bytes(), Path("export/images/a.jpg").stat().st_nlink
        (b'jpeg bytes', 2)
    """
    parent = Path(target).parent
    if directories is None:
        parent.mkdir(parents=True, exist_ok=True)
    else:
        directories.ensure(parent)
    link_file(source, target)


class BaseExporter:
    """Base class of export plugins (Synapse SDK: ``BaseExporter``); override the hooks.

    Args:
        run: An :class:`ExportRun` (or any object with the same methods).
        export_items: Iterable of export items (see the module docstring).
        path_root: Directory under which ``<name>`` (or ``<name>(1)``, ...) is created.
        **params: ``name`` (default ``"export"``), ``save_original_file`` (default True),
            ``count`` (number of items, for progress), plus exporter-specific options.

    Example:
        >>> exporter = BaseExporter(ExportRun(progress=False), [], "/tmp/out", name="empty")
        >>> exporter.params["name"]
        'empty'
    """

    #: Directory of the per-item JSON files (the older SDK layout used ``json``).
    json_dir_name = "labels"
    #: Directory of the original files.
    origin_dir_name = "origin_files"

    def __init__(self, run: Any, export_items: Iterable[Any], path_root: Any, **params: Any):
        self.run = run
        self.export_items = export_items
        self.path_root = Path(path_root)
        self.params = {"name": "export", "save_original_file": True, **params}
        self.audit = Audit()
        #: Items that could not be exported: ``{"id", "stage", "error"}``.
        self.item_errors: list[dict[str, Any]] = []
        #: Originals that could not be saved: ``{"id", "file_name", "error"}``.
        self.original_failures: list[dict[str, Any]] = []
        #: Names used twice: ``{"name", "item_id", "renamed_to"}``.
        self.filename_collisions: list[dict[str, Any]] = []
        self.exported = 0
        self.processed = 0
        self.split_counts: dict[str, int] = {}
        self.unique_export_path: Path | None = None
        self._names: set[str] = set()
        self._directories = Directories()
        self._output_dirs: dict[tuple[Path, tuple[str, ...], str | None], Path] = {}

    # ------------------------------------------------------------------ helpers (Synapse SDK)
    def _create_unique_export_path(self, base_name: str) -> Path:
        """``path_root/base_name``, or ``base_name(1)``, ``(2)``... if it exists.

        Raises:
            InvalidInputError: ``base_name`` is not one plain path component (``""``, ``.``,
                ``..`` or a name with a separator would put the export outside
                ``path_root``).
        """
        problem = plain_name_problem(base_name)
        if problem:
            raise InvalidInputError("name", base_name, problem, method="export")
        export_path = self.path_root / base_name
        candidate, counter = export_path, 1
        while candidate.exists():
            candidate = export_path.with_name(f"{export_path.name}({counter})")
            counter += 1
        candidate.mkdir(parents=True)
        return candidate

    def _save_error_list(
        self, export_path: Path, errors_json_file_list: list, errors_original_file_list: list
    ) -> None:
        if errors_json_file_list or errors_original_file_list:
            body = {
                "json_file_name": errors_json_file_list,
                "origin_file_name": errors_original_file_list,
            }
            (export_path / "error_file_list.json").write_text(
                json.dumps(body, indent=4, ensure_ascii=False), encoding="utf-8"
            )

    def get_original_file_name(self, files: Mapping[str, Any]) -> str:
        """The original file name of a files entry (``file_name_original``, else the URL's).

        Example:
            >>> BaseExporter(None, [], ".").get_original_file_name(
            ...     {"url": "http://h/media/a/b/cat.jpg?sig=1"})
            'cat.jpg'
        """
        name = files.get("file_name_original") or files.get("path") or ""
        if not name and files.get("url"):
            name = PurePosixPath(urlsplit(str(files["url"])).path).name
        return _leaf(str(name).replace("\\", "/"))

    def export_file_name(self, item: Mapping[str, Any]) -> str:
        """The collision-free file name of an item's outputs (``export_name``).

        Example:
            >>> BaseExporter(None, [], ".").export_file_name({"id": 3, "export_name": "a.jpg"})
            'a.jpg'
        """
        return item.get("export_name") or self.get_original_file_name(item.get("files") or {})

    def _assign_name(self, item: Mapping[str, Any]) -> dict[str, Any]:
        named = dict(item)
        name = self.get_original_file_name(item.get("files") or {}) or str(item.get("id"))
        stem, suffix = _stem_suffix(name)
        # Label and JSON files are named by stem, so "a.jpg" and "a.png" collide too.
        if stem in self._names:
            renamed = f"{stem}__{item.get('id')}{suffix}"
            self.filename_collisions.append(
                {"name": name, "item_id": item.get("id"), "renamed_to": renamed}
            )
            name = renamed
            stem = _stem_suffix(name)[0]
        self._names.add(stem)
        named["export_name"] = name
        return named

    def split_dir(self, base: Path, item: Mapping[str, Any]) -> Path:
        """``base/<split>`` for an item with a split, else ``base``.

        Example:
            >>> BaseExporter(None, [], ".").split_dir(Path("labels"), {"split": "val"})
            PosixPath('labels/val')
        """
        split = item.get("split")
        return base / split if split else base

    def _output_dir(self, root: Path, *parts: str, item: Mapping[str, Any] | None = None) -> Path:
        """``root/parts``, then :meth:`split_dir` for ``item``: one Path object per directory.

        Items of a split share their directory's Path, so saving an item builds none (and
        :class:`~synapse_nb.plugins.export._files.Directories` finds it by its cached hash).
        A subclass overriding :meth:`split_dir` has it called for every item, as it may look
        at more than the split.

        Example:
            >>> exporter = BaseExporter(None, [], ".")
            >>> a = exporter._output_dir(Path("out"), "labels", item={"split": "val"})
            >>> a, exporter._output_dir(Path("out"), "labels", item={"split": "val"}) is a
            (PosixPath('out/labels/val'), True)
        """
        split = None if item is None else item.get("split")
        if item is not None and (
            type(self).split_dir is not BaseExporter.split_dir or not isinstance(split, str | None)
        ):
            return self.split_dir(root.joinpath(*parts), item)
        key = (root, parts, split)
        known = self._output_dirs.get(key)
        if known is None:
            base = root.joinpath(*parts)
            known = self._output_dirs[key] = base if item is None else self.split_dir(base, item)
        return known

    def _place(self, source: str | os.PathLike[str], directory: Path, name: str) -> str:
        """:func:`place_file` of ``source`` at ``directory / name``; the target's path as text.

        A plain name is joined as text under the directory, made once per export, so
        placing a file builds no Path.

        Example:
            >>> _ = Path("cat.jpg").write_bytes(b"jpeg")
            >>> BaseExporter(None, [], ".")._place("cat.jpg", Path("out/images"), "a.jpg")
            'out/images/a.jpg'
        """
        if not is_plain_name(name):
            target = directory / name
            place_file(source, target, self._directories)
            return os.fspath(target)
        placed = child_path(self._directories.ensure(directory), name)
        link_file(source, placed)
        return placed

    # ------------------------------------------------------------------ file saving (Synapse SDK)
    def save_original_file(
        self, result: Mapping[str, Any], base_path: Path, error_file_list: list
    ) -> ExportStatus:
        """Save the item's original file into ``base_path`` under its export name.

        A prefetched original (``files["path"]``) is linked or copied; otherwise the file
        is downloaded from ``files["url"]`` (unauthenticated, as file URLs are).
        """
        name = self.export_file_name(result)
        files = result.get("files") or {}
        try:
            if files.get("error"):
                raise OSError(files["error"])
            source = files.get("path")
            if source is None:
                if not files.get("url"):
                    raise OSError("the item has no file URL")
                source = download_file(str(files["url"]), get_temp_path("media"))
            # as a Path, which errors name by its (normalised) text, as before
            self._place(source if isinstance(source, PurePath) else Path(source), base_path, name)
        except (OSError, ValueError, ClientError) as exc:
            error_file_list.append([name, str(exc)])
            self.original_failures.append(
                {"id": result.get("id"), "file_name": name, "error": str(exc)}
            )
            self.run.log_message(f"original of item {result.get('id')} failed: {exc}", "danger")
            return ExportStatus.FAILED
        return ExportStatus.SUCCESS

    def save_as_json(
        self, result: Mapping[str, Any], base_path: Path, error_file_list: list
    ) -> ExportStatus:
        """Save ``result["data"]`` as ``<stem>.json`` in ``base_path`` (indented by 4).

        With the ``json_data`` param (set by :func:`~synapse_nb.plugins.export.export` when
        the data can only hold decoded JSON) the document goes through the fast encoder of
        :func:`~synapse_nb.plugins.export._files.json_document`, with the same bytes.
        """
        file_name = f"{_stem_suffix(self.export_file_name(result))[0]}.json"
        data = result.get("data")
        if data is None:
            error_file_list.append([file_name, "data is Null"])
            return ExportStatus.FAILED
        try:
            target = os.path.join(self._directories.ensure(base_path), file_name)
            try:
                payload = (
                    json_document(data)
                    if self.params.get("json_data")
                    else json.dumps(data, indent=4, ensure_ascii=False).encode("utf-8")
                )
            except UnicodeEncodeError:
                write_file(target, b"")  # as writing the text leaves the file empty
                raise
            write_file(target, payload)
        except (OSError, TypeError, ValueError) as exc:
            error_file_list.append([file_name, str(exc)])
            return ExportStatus.FAILED
        return ExportStatus.SUCCESS

    # ------------------------------------------------------------------ conversion hooks
    def before_convert(self, data: dict[str, Any]) -> dict[str, Any]:
        """Pre-process one item before conversion (identity by default).

        Example:
            >>> BaseExporter(None, [], ".").before_convert({"id": 1})
            {'id': 1}
        """
        return data

    def convert_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Convert one item; the main override (identity by default).

        Example:
            >>> BaseExporter(None, [], ".").convert_data({"id": 1})
            {'id': 1}
        """
        return data

    def after_convert(self, data: dict[str, Any]) -> dict[str, Any]:
        """Post-process one converted item (identity by default).

        Example:
            >>> BaseExporter(None, [], ".").after_convert({"id": 1})
            {'id': 1}
        """
        return data

    def process_data_conversion(self, export_item: dict[str, Any]) -> dict[str, Any]:
        """``before_convert`` → ``convert_data`` → ``after_convert`` for one item.

        Example:
            >>> BaseExporter(None, [], ".").process_data_conversion({"id": 1})
            {'id': 1}
        """
        preprocessed = self.before_convert(export_item)
        converted = self.convert_data(preprocessed)
        return self.after_convert(converted)

    # ------------------------------------------------------------------ saving hooks
    def setup_output_directories(
        self, unique_export_path: Path, save_original_file_flag: bool
    ) -> dict[str, Path]:
        """Create ``labels/`` (and ``origin_files/``) and return their paths.

        Example:
            >>> BaseExporter(None, [], ".").setup_output_directories(
            ...     tmp, False)["json_output_path"].name
            'labels'
        """
        paths = {"json_output_path": unique_export_path / self.json_dir_name}
        if save_original_file_flag:
            paths["origin_files_output_path"] = unique_export_path / self.origin_dir_name
        for path in paths.values():
            path.mkdir(parents=True, exist_ok=True)
        return paths

    def process_file_saving(
        self,
        final_data: dict[str, Any],
        unique_export_path: Path,
        save_original_file_flag: bool,
        errors_json_file_list: list,
        errors_original_file_list: list,
        original_file_metrics_record: MetricsRecord,
        data_file_metrics_record: MetricsRecord,
        no: int,
    ) -> bool:
        """Save one item's files; return False to count the item as not exported.

        The default saves the original (when requested; a failure is recorded and the JSON
        is still written) and then the item's data as JSON.
        """
        if save_original_file_flag:
            if no == 1:
                self.run.log_message("Saving original file.")
            self.count_status(
                self.save_original_file(
                    final_data,
                    self._output_dir(unique_export_path, self.origin_dir_name, item=final_data),
                    errors_original_file_list,
                ),
                original_file_metrics_record,
                "original_file",
            )
        if no == 1:
            self.run.log_message("Saving json file.")
        status = self.save_as_json(
            final_data,
            self._output_dir(unique_export_path, self.json_dir_name, item=final_data),
            errors_json_file_list,
        )
        return self.count_status(status, data_file_metrics_record, "data_file")

    def count_status(self, status: ExportStatus, record: MetricsRecord, category: str) -> bool:
        """Move one file from ``stand_by`` to ``success``/``failed``; True on success.

        Example:
            >>> r = MetricsRecord(stand_by=1)
            >>> BaseExporter(ExportRun(progress=False), [], ".").count_status(
            ...     ExportStatus.FAILED, r, "data_file"), r.failed
            (False, 1)
        """
        record.stand_by = max(record.stand_by - 1, 0)
        if status == ExportStatus.SUCCESS:
            record.success += 1
        else:
            record.failed += 1
        self.run.log_metrics(record, category)
        return status == ExportStatus.SUCCESS

    def additional_file_saving(self, unique_export_path: Path) -> None:
        """Save aggregate files once, after every item (class lists, dataset.yaml, ...).

        Example:
            >>> BaseExporter(None, [], ".").additional_file_saving(Path("."))
        """

    # ------------------------------------------------------------------ driver
    def export(
        self, export_items: Iterable[Any] | None = None, results: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Run the whole export and return ``{"export_path": str}``.

        Items whose conversion raises ``ValueError``/``TypeError``/``KeyError`` (bad data)
        are recorded in :attr:`item_errors` and skipped; other exceptions stop the export.

        Example:
            >>> result = BaseExporter(ExportRun(progress=False), [], tmp).export()
            >>> Path(result["export_path"]).relative_to(tmp).as_posix()
            'export'
        """
        items = export_items if export_items is not None else self.export_items
        path = self.unique_export_path = self._create_unique_export_path(self.params["name"])
        self.run.log_message("Starting export process.")
        save_original = bool(self.params.get("save_original_file"))
        errors_json: list = []
        errors_original: list = []
        self.setup_output_directories(path, save_original)
        total = self.params.get("count")
        if total is None:
            total = len(items) if isinstance(items, Sized) else 0
        original_metrics = MetricsRecord(stand_by=total if save_original else 0)
        data_metrics = MetricsRecord(stand_by=total)
        self.run.set_progress(0, total, category="dataset_conversion")
        for no, raw in enumerate(items, start=1):
            self.processed = no
            if no == 1:
                self.run.log_message("Converting dataset.")
            item = self._assign_name(raw)
            if item.get("split"):
                self.split_counts[item["split"]] = self.split_counts.get(item["split"], 0) + 1
            try:
                final_data = self.process_data_conversion(item)
            except ITEM_ERRORS as exc:
                self.item_errors.append(
                    {"id": item.get("id"), "stage": "convert", "error": str(exc)}
                )
                stem = PurePosixPath(self.export_file_name(item)).stem
                errors_json.append([f"{stem}.json", str(exc)])
                self.count_status(ExportStatus.FAILED, data_metrics, "data_file")
            else:
                failures = len(errors_json)
                if self.process_file_saving(
                    final_data,
                    path,
                    save_original,
                    errors_json,
                    errors_original,
                    original_metrics,
                    data_metrics,
                    no,
                ):
                    self.exported += 1
                else:
                    why = errors_json[-1][1] if len(errors_json) > failures else "not saved"
                    self.item_errors.append({"id": item.get("id"), "stage": "save", "error": why})
            self.run.set_progress(no, max(total, no), category="dataset_conversion")
        self.additional_file_saving(path)
        self._save_error_list(path, errors_json, errors_original)
        self.errors_original_file_list = errors_original
        self.errors_json_file_list = errors_json
        self.run.end_log()
        return {"export_path": str(path)}
