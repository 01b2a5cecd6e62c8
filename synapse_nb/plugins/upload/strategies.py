"""Pluggable behaviours of the upload steps (Synapse SDK: strategies, made by ``StrategyFactory``).

=================  =====================================================================
kind               strategies
=================  =====================================================================
validation         :class:`DefaultValidationStrategy`: required specs, file types, empty
file discovery     :class:`FlatFileDiscoveryStrategy`, :class:`RecursiveFileDiscoveryStrategy`
metadata           :class:`ExcelMetadataStrategy` (.xlsx, openpyxl), :class:`CSVMetadataStrategy`,
                   :class:`NoneMetadataStrategy`
upload             :class:`SyncUploadStrategy`, :class:`AsyncUploadStrategy` (threads)
data unit          :class:`SingleDataUnitStrategy`, :class:`BatchDataUnitStrategy`
=================  =====================================================================

**Folder layout.** Each file specification of the collection has a folder named after it
(``image_1/``, ``meta_json/``); files with the same path stem across those folders form one
data unit (``image_1/a/x.jpg`` + ``meta_json/a/x.json``). When no such folder exists, the
source folder itself holds the primary specification's files.

Example:
    >>> factory = StrategyFactory()
    >>> type(factory.create_file_discovery_strategy(recursive=False)).__name__
    'FlatFileDiscoveryStrategy'
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from typing import Any

from synapse_nb.exceptions import SynapseNBError

__all__ = [
    "FILE_TYPE_EXTENSIONS",
    "AsyncUploadStrategy",
    "BaseDataUnitStrategy",
    "BaseFileDiscoveryStrategy",
    "BaseMetadataStrategy",
    "BaseUploadStrategy",
    "BaseValidationStrategy",
    "BatchDataUnitStrategy",
    "CSVMetadataStrategy",
    "DefaultValidationStrategy",
    "ExcelMetadataStrategy",
    "ExcelParsingError",
    "ExcelSecurityConfig",
    "ExcelSecurityError",
    "FlatFileDiscoveryStrategy",
    "NoneMetadataStrategy",
    "RecursiveFileDiscoveryStrategy",
    "SingleDataUnitStrategy",
    "StrategyFactory",
    "SyncUploadStrategy",
]

#: Extensions accepted per file-spec ``file_type`` when the spec's ``configuration`` does not
#: list ``extensions``; ``data`` accepts any file.
FILE_TYPE_EXTENSIONS: dict[str, frozenset[str] | None] = {
    "image": frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}),
    "video": frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}),
    "audio": frozenset({".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac"}),
    "text": frozenset({".txt", ".md", ".csv", ".tsv", ".json", ".xml", ".html"}),
    "pcd": frozenset({".pcd", ".ply", ".las", ".laz", ".bin"}),
    "data": None,
}
#: Column names (case-insensitive) that hold the file name in a metadata sheet.
FILENAME_COLUMNS = ("filename", "file_name")


# ============================================================================ validation
def allowed_extensions(spec: Mapping[str, Any]) -> frozenset[str] | None:
    """Extensions a file specification accepts (None: any).

    Example:
        >>> sorted(allowed_extensions({"file_type": "image",
        ...                            "configuration": {"extensions": [".PNG"]}}))
        ['.png']
    """
    configured = (spec.get("configuration") or {}).get("extensions")
    if configured:
        return frozenset(f".{e.lower().lstrip('.')}" for e in configured)
    return FILE_TYPE_EXTENSIONS.get(spec.get("file_type") or "data")


class BaseValidationStrategy:
    """Checks organized units before anything is uploaded.

    Example:
        >>> issubclass(DefaultValidationStrategy, BaseValidationStrategy)
        True
    """

    def validate_files(self, units: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
        """Return the valid units; record a problem per invalid unit in ``context``.

        Example:
            >>> BaseValidationStrategy().validate_files([], None)
            Traceback (most recent call last):
            ...
            NotImplementedError
        """
        raise NotImplementedError

    def validate_security(self, file_path: Path) -> str | None:
        """A problem with one file (None when fine).

        Example:
            >>> BaseValidationStrategy().validate_security(Path("a.jpg"))
            Traceback (most recent call last):
            ...
            NotImplementedError
        """
        raise NotImplementedError


class DefaultValidationStrategy(BaseValidationStrategy):
    """Required specs present, extensions allowed by each spec, files readable and non-empty.

    Example:
        >>> DefaultValidationStrategy().validate_security(Path("/nonexistent.jpg"))
        'cannot read the file (No such file or directory)'
    """

    def validate_security(self, file_path: Path) -> str | None:
        """A problem that makes a file unusable (None when fine).

        Example:
            >>> DefaultValidationStrategy().validate_security(Path(__file__)) is None
            True
        """
        try:
            size = file_path.stat().st_size
            with open(file_path, "rb"):
                pass
        except OSError as exc:
            return f"cannot read the file ({exc.strerror})"
        return "the file is empty" if size == 0 else None

    def validate_files(self, units: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
        """Keep the units that pass; every other one gets an error in ``context``.

        Example:
            >>> from types import SimpleNamespace
            >>> _ = Path("a.jpg").write_bytes(b"jpeg bytes"); _ = Path("b.txt").write_bytes(b"")
            >>> ctx = SimpleNamespace(errors=[], add_error=lambda step, error, **where:
            ...     ctx.errors.append(error), file_specifications=[
            ...     {"name": "image_1", "file_type": "image", "is_required": True}])
            >>> units = [{"key": k, "files": {"image_1": Path(f)}, "rel": {"image_1": f}}
            ...          for k, f in (("a", "a.jpg"), ("b", "b.txt"))]
            >>> [u["key"] for u in DefaultValidationStrategy().validate_files(units, ctx)]
            ['a']
            >>> len(ctx.errors)
            1
        """
        specs = {s["name"]: s for s in context.file_specifications}
        required = sorted(n for n, s in specs.items() if s.get("is_required"))
        valid = []
        for unit in units:
            problems = [f"missing required file specification {n!r}" for n in required
                        if n not in unit["files"]]  # fmt: skip
            for spec_name, path in unit["files"].items():
                allowed = allowed_extensions(specs[spec_name])
                if allowed is not None and path.suffix.lower() not in allowed:
                    kind = specs[spec_name].get("file_type")
                    problems.append(
                        f"{spec_name}: {unit['rel'][spec_name]!r} has extension "
                        f"{path.suffix or '(none)'!r}; {spec_name} ({kind}) accepts "
                        f"{sorted(allowed)}"
                    )
                problem = self.validate_security(path)
                if problem:
                    problems.append(f"{spec_name}: {unit['rel'][spec_name]!r}: {problem}")
            if problems:
                context.add_error("validate_files", "; ".join(problems), unit=unit["key"])
            else:
                valid.append(unit)
        return valid


# ============================================================================ discovery
class BaseFileDiscoveryStrategy:
    """Finds the files of each spec folder and groups them into data units by stem.

    Example:
        >>> issubclass(FlatFileDiscoveryStrategy, BaseFileDiscoveryStrategy)
        True
    """

    def discover_files(self, path: Path, context: Any = None) -> list[Path]:
        """The candidate files under ``path`` (hidden ones excluded).

        Example:
            >>> BaseFileDiscoveryStrategy().discover_files(Path("photos"))
            Traceback (most recent call last):
            ...
            NotImplementedError
        """
        raise NotImplementedError

    @staticmethod
    def _visible(path: Path, root: Path) -> bool:
        return path.is_file() and not any(
            part.startswith(".") for part in path.relative_to(root).parts
        )

    def organize_files(
        self, source: Path, specs: list[dict[str, Any]], context: Any, exclude: Iterable[Path] = ()
    ) -> list[dict[str, Any]]:
        """One dict per data unit: ``key``, ``files`` {spec: Path}, ``rel`` {spec: str}.

        Example:
            >>> Path("photos/night").mkdir(parents=True)
            >>> for name in ("photos/a.jpg", "photos/night/b.jpg"):
            ...     _ = Path(name).write_bytes(b"jpeg bytes")
            >>> units = RecursiveFileDiscoveryStrategy().organize_files(
            ...     Path("photos"), [{"name": "image_1"}], context=None)
            >>> [(u["key"], u["rel"]["image_1"]) for u in units]
            [('a', 'a.jpg'), ('night/b', 'night/b.jpg')]
        """
        excluded = {p.resolve() for p in exclude}
        folders = {s["name"]: source / s["name"] for s in specs if (source / s["name"]).is_dir()}
        if folders:
            left_out = sorted(
                p.name
                for p in source.iterdir()
                if not p.name.startswith(".") and p.name not in folders
                and p.resolve() not in excluded
            )  # fmt: skip
            if left_out:
                context.warnings.append(
                    f"{len(left_out)} entries beside the spec folders {sorted(folders)} were "
                    f"not uploaded: {left_out[:5]}"
                )
        else:
            primary = next((s for s in specs if s.get("is_primary")), None)
            primary = primary or next((s for s in specs if s.get("is_required")), specs[0])
            folders = {primary["name"]: source}
        units: dict[str, dict[str, Any]] = {}
        ambiguous: set[str] = set()
        for spec_name, folder in folders.items():
            for path in sorted(self.discover_files(folder, context)):
                if path.resolve() in excluded:
                    continue
                key = str(PurePosixPath(path.relative_to(folder).as_posix()).with_suffix(""))
                unit = units.setdefault(key, {"key": key, "files": {}, "rel": {}})
                rel = path.relative_to(source).as_posix()
                if spec_name in unit["files"]:
                    context.add_error(
                        "organize_files",
                        f"two files for {spec_name}: {unit['rel'][spec_name]!r} and {rel!r}",
                        unit=key,
                    )
                    ambiguous.add(key)
                    continue
                unit["files"][spec_name] = path
                unit["rel"][spec_name] = rel
        return [u for key, u in units.items() if key not in ambiguous]


class FlatFileDiscoveryStrategy(BaseFileDiscoveryStrategy):
    """Only the files directly in each folder.

    Example:
        >>> FlatFileDiscoveryStrategy().discover_files(Path("/nonexistent"))
        []
    """

    def discover_files(self, path: Path, context: Any = None) -> list[Path]:
        """The visible files directly in ``path``.

        Example:
            >>> Path("photos/night").mkdir(parents=True)
            >>> for name in ("photos/a.jpg", "photos/night/b.jpg", "photos/.hidden"):
            ...     _ = Path(name).write_bytes(b"jpeg bytes")
            >>> FlatFileDiscoveryStrategy().discover_files(Path("photos"))
            [PosixPath('photos/a.jpg')]
        """
        if not path.is_dir():
            return []
        return [p for p in path.iterdir() if self._visible(p, path)]


class RecursiveFileDiscoveryStrategy(BaseFileDiscoveryStrategy):
    """Files at any depth (hidden files and folders are skipped).

    Example:
        >>> RecursiveFileDiscoveryStrategy().discover_files(Path("/nonexistent"))
        []
    """

    def discover_files(self, path: Path, context: Any = None) -> list[Path]:
        """The visible files under ``path`` at any depth.

        Example:
            >>> Path("photos/night").mkdir(parents=True)
            >>> for name in ("photos/a.jpg", "photos/night/b.jpg", "photos/.hidden"):
            ...     _ = Path(name).write_bytes(b"jpeg bytes")
            >>> sorted(RecursiveFileDiscoveryStrategy().discover_files(Path("photos")))
            [PosixPath('photos/a.jpg'), PosixPath('photos/night/b.jpg')]
        """
        if not path.is_dir():
            return []
        return [p for p in path.rglob("*") if self._visible(p, path)]


# ============================================================================ metadata
class ExcelSecurityError(SynapseNBError, ValueError):
    """The metadata sheet exceeds a limit of :class:`ExcelSecurityConfig`.

    Example:
        >>> issubclass(ExcelSecurityError, ValueError)
        True
    """


class ExcelParsingError(SynapseNBError, ValueError):
    """The metadata sheet cannot be read (format, header, content).

    Example:
        >>> issubclass(ExcelParsingError, ValueError)
        True
    """


@dataclass(frozen=True)
class ExcelSecurityConfig:
    """Limits on a metadata sheet (the Synapse SDK's defaults).

    Example:
        >>> ExcelSecurityConfig().max_file_size_bytes
        10485760
    """

    max_file_size_mb: int = 10
    max_rows: int = 100_000
    max_columns: int = 50

    @property
    def max_file_size_bytes(self) -> int:
        """``max_file_size_mb`` in bytes.

        Example:
            >>> ExcelSecurityConfig(max_file_size_mb=1).max_file_size_bytes
            1048576
        """
        return self.max_file_size_mb * 1024 * 1024


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class BaseMetadataStrategy:
    """Reads a metadata sheet into ``{file name: {column: value}}``.

    Args:
        path: The sheet (None: no metadata).
        security: Limits on size, rows and columns.

    Example:
        >>> NoneMetadataStrategy().security.max_rows
        100000
    """

    def __init__(self, path: Path | None = None, security: ExcelSecurityConfig | None = None):
        self.path = path
        self.security = security or ExcelSecurityConfig()

    def process_metadata(self, context: Any = None) -> dict[str, dict[str, Any]]:
        """``{file name: {column: value}}`` for every row (empty values left out).

        Raises:
            ExcelSecurityError: A limit is exceeded.
            ExcelParsingError: No ``filename``/``file_name`` column, a name listed twice, or
                an unreadable file.

        Example:
            >>> _ = Path("meta.csv").write_text("filename,weather,note\\na.jpg,rain,\\n")
            >>> CSVMetadataStrategy(Path("meta.csv")).process_metadata()
            {'a.jpg': {'weather': 'rain'}}
        """
        if self.path is None:
            return {}
        size = self.path.stat().st_size
        if size > self.security.max_file_size_bytes:
            raise ExcelSecurityError(
                f"metadata {str(self.path)!r} is {size} bytes; the limit is "
                f"{self.security.max_file_size_mb} MiB"
            )
        rows = self.extract_metadata(self.path)
        return self._index(rows)

    def extract_metadata(self, file_path: Path) -> list[list[Any]]:
        """All rows of the sheet, the header first (stops one row past ``max_rows``).

        Example:
            >>> BaseMetadataStrategy().extract_metadata(Path("meta.csv"))
            Traceback (most recent call last):
            ...
            NotImplementedError
        """
        raise NotImplementedError

    def _index(self, rows: list[list[Any]]) -> dict[str, dict[str, Any]]:
        if not rows:
            raise ExcelParsingError(f"metadata {str(self.path)!r} is empty")
        header = [str(h).strip() if h is not None else "" for h in rows[0]]
        if len(header) > self.security.max_columns:
            raise ExcelSecurityError(
                f"metadata {str(self.path)!r} has {len(header)} columns; the limit is "
                f"{self.security.max_columns}"
            )
        if len(rows) - 1 > self.security.max_rows:
            raise ExcelSecurityError(
                f"metadata {str(self.path)!r} has more than {self.security.max_rows} rows "
                "(ExcelSecurityConfig.max_rows)"
            )
        lowered = [h.lower() for h in header]
        column = next((lowered.index(c) for c in FILENAME_COLUMNS if c in lowered), None)
        if column is None:
            raise ExcelParsingError(
                f"metadata {str(self.path)!r}: the header row {header[:10]} has no "
                f"'filename' or 'file_name' column"
            )
        table: dict[str, dict[str, Any]] = {}
        for number, row in enumerate(rows[1:], start=2):
            name = row[column] if column < len(row) else None
            if name is None or not str(name).strip():
                continue
            values = {
                header[i]: _json_value(v)
                for i, v in enumerate(row)
                if i != column and i < len(header) and header[i] and v not in (None, "")
            }
            key = str(name).strip()
            if key in table:
                raise ExcelParsingError(
                    f"metadata {str(self.path)!r}: file name {key!r} is listed twice "
                    f"(row {number} repeats an earlier row)"
                )
            table[key] = values
        return table


class NoneMetadataStrategy(BaseMetadataStrategy):
    """No metadata sheet.

    Example:
        >>> NoneMetadataStrategy().process_metadata()
        {}
    """

    def extract_metadata(self, file_path: Path) -> list[list[Any]]:
        """No rows.

        Example:
            >>> NoneMetadataStrategy().extract_metadata(Path("x"))
            []
        """
        return []


class ExcelMetadataStrategy(BaseMetadataStrategy):
    """The first worksheet of an ``.xlsx``/``.xlsm`` file (openpyxl, imported when needed).

    Example:
        >>> import openpyxl
        >>> book = openpyxl.Workbook()
        >>> book.active.append(["filename", "weather"]); book.active.append(["a.jpg", "rain"])
        >>> book.save("meta.xlsx")
        >>> ExcelMetadataStrategy(Path("meta.xlsx")).process_metadata()
        {'a.jpg': {'weather': 'rain'}}
    """

    def extract_metadata(self, file_path: Path) -> list[list[Any]]:
        """The rows of the first worksheet (cell values, not formulas).

        Example:
            >>> import openpyxl
            >>> book = openpyxl.Workbook()
            >>> book.active.append(["filename", "weather"]); book.active.append(["a.jpg", "rain"])
            >>> book.save("meta.xlsx")
            >>> ExcelMetadataStrategy().extract_metadata(Path("meta.xlsx"))
            [['filename', 'weather'], ['a.jpg', 'rain']]
        """
        try:
            import openpyxl
        except ImportError:
            raise ImportError(
                "reading Excel metadata needs openpyxl: pip install openpyxl "
                "(or save the sheet as CSV and pass the .csv file)"
            ) from None
        try:
            book = openpyxl.load_workbook(file_path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a broken file
            raise ExcelParsingError(f"cannot read {str(file_path)!r} as Excel: {exc}") from None
        try:
            sheet = book.worksheets[0]
            rows = []
            for row in sheet.iter_rows(values_only=True):
                rows.append(list(row))
                if len(rows) - 1 > self.security.max_rows:
                    break
            return rows
        finally:
            book.close()


class CSVMetadataStrategy(BaseMetadataStrategy):
    """A CSV file (UTF-8, optional BOM); values stay strings.

    Example:
        >>> _ = Path("meta.csv").write_text("filename,weather\\na.jpg,rain\\n")
        >>> CSVMetadataStrategy(Path("meta.csv")).process_metadata()
        {'a.jpg': {'weather': 'rain'}}
    """

    def extract_metadata(self, file_path: Path) -> list[list[Any]]:
        """The rows of the CSV file.

        Example:
            >>> _ = Path("meta.csv").write_text("filename,weather\\na.jpg,rain\\n")
            >>> CSVMetadataStrategy().extract_metadata(Path("meta.csv"))
            [['filename', 'weather'], ['a.jpg', 'rain']]
        """
        try:
            with open(file_path, encoding="utf-8-sig", newline="") as handle:
                rows = []
                for row in csv.reader(handle):
                    rows.append(row)
                    if len(rows) - 1 > self.security.max_rows:
                        break
                return rows
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ExcelParsingError(f"cannot read {str(file_path)!r} as CSV: {exc}") from None


# ============================================================================ upload
#: ``on_done(job, result, error)``: called in the caller's thread for every finished job.
OnDone = Callable[[Any, Any, BaseException | None], None]


class BaseUploadStrategy:
    """Runs ``upload_one`` over the jobs and reports each in the caller's thread.

    Example:
        >>> AsyncUploadStrategy(4).workers
        4
    """

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def upload_files(
        self, jobs: list[Any], upload_one: Callable[[Any], Any], on_done: OnDone
    ) -> None:
        """Run every job; an exception from ``on_done`` stops the rest and propagates.

        Example:
            >>> SyncUploadStrategy().upload_files([], print, print)
        """
        raise NotImplementedError

    def upload_batch(self, batch: list[Any], upload_one: Callable[[Any], Any], on_done: OnDone):
        """The Synapse SDK's name: upload a batch (the same as :meth:`upload_files`).

        Example:
            >>> SyncUploadStrategy().upload_batch([], print, print)
        """
        return self.upload_files(batch, upload_one, on_done)


class SyncUploadStrategy(BaseUploadStrategy):
    """One file after the other.

    Example:
        >>> done = []
        >>> SyncUploadStrategy().upload_files([1, 2], lambda j: j * 10,
        ...                                   lambda j, r, e: done.append(r))
        >>> done
        [10, 20]
    """

    def upload_files(
        self, jobs: list[Any], upload_one: Callable[[Any], Any], on_done: OnDone
    ) -> None:
        for job in jobs:
            try:
                result = upload_one(job)
            except Exception as exc:
                on_done(job, None, exc)
            else:
                on_done(job, result, None)


class AsyncUploadStrategy(BaseUploadStrategy):
    """``workers`` files at once in threads; results are handed back in the caller's thread.

    At most ``2 * workers`` jobs are in flight, so stopping (an exception from ``on_done``)
    cancels the rest quickly.

    Example:
        >>> done = []
        >>> AsyncUploadStrategy(4).upload_files([1, 2, 3], lambda j: j,
        ...                                     lambda j, r, e: done.append(r))
        >>> sorted(done)
        [1, 2, 3]
    """

    def upload_files(
        self, jobs: list[Any], upload_one: Callable[[Any], Any], on_done: OnDone
    ) -> None:
        queue = iter(jobs)
        in_flight: dict[Future[Any], Any] = {}
        with ThreadPoolExecutor(self.workers, thread_name_prefix="synapse-upload") as pool:
            try:
                while True:
                    while len(in_flight) < 2 * self.workers:
                        job = next(queue, _END)
                        if job is _END:
                            break
                        in_flight[pool.submit(upload_one, job)] = job
                    if not in_flight:
                        return
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        job = in_flight.pop(future)
                        error = future.exception()
                        on_done(job, None if error else future.result(), error)
            finally:
                for future in in_flight:
                    future.cancel()


_END = object()


# ============================================================================ data units
class BaseDataUnitStrategy:
    """Creates data units from binding dicts, in requests of ``batch_size``.

    Example:
        >>> BatchDataUnitStrategy(50).batch_size
        50
    """

    batch_size = 1

    def generate_data_units(self, bindings: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
        """The bindings in request-sized batches.

        Example:
            >>> list(SingleDataUnitStrategy().generate_data_units([]))
            []
        """
        size = self.batch_size
        return (bindings[i : i + size] for i in range(0, len(bindings), size))

    def create_data_unit_batch(self, client: Any, batch: list[dict[str, Any]]) -> list[Any]:
        """Create one batch (``key`` is dropped from each binding); units in request order.

        Example:
            >>> collection = backend.list_data_collections()["results"][0]["id"]
            >>> _ = Path("a.jpg").write_bytes(b"jpeg bytes")
            >>> checksum = backend.create_data_file(Path("a.jpg"))["checksum"]
            >>> batch = [{"key": k, "data_collection": collection, "meta": {"note": k},
            ...           "files": {"image_1": {"checksum": checksum, "path": "a.jpg"}}}
            ...          for k in ("a", "b")]
            >>> units = BatchDataUnitStrategy().create_data_unit_batch(backend, batch)
            >>> [u["meta"]["note"] for u in units]
            ['a', 'b']
        """
        body = [{k: v for k, v in b.items() if k != "key"} for b in batch]
        created = client.create_data_units(body, batch_size=len(body))
        return created if isinstance(created, list) else [created]


class SingleDataUnitStrategy(BaseDataUnitStrategy):
    """One request per data unit.

    Example:
        >>> list(SingleDataUnitStrategy().generate_data_units([{"k": 1}, {"k": 2}]))
        [[{'k': 1}], [{'k': 2}]]
    """


class BatchDataUnitStrategy(BaseDataUnitStrategy):
    """``batch_size`` data units per request.

    Example:
        >>> [len(b) for b in BatchDataUnitStrategy(2).generate_data_units([{}] * 5)]
        [2, 2, 1]
    """

    def __init__(self, batch_size: int = 100) -> None:
        self.batch_size = batch_size


# ============================================================================ factory
class StrategyFactory:
    """Chooses each strategy from the upload's arguments (Synapse SDK: ``StrategyFactory``).

    Example:
        >>> type(StrategyFactory().create_upload_strategy(workers=1)).__name__
        'SyncUploadStrategy'
    """

    def create_validation_strategy(self, **params: Any) -> BaseValidationStrategy:
        """The validation strategy.

        Example:
            >>> type(StrategyFactory().create_validation_strategy()).__name__
            'DefaultValidationStrategy'
        """
        return DefaultValidationStrategy()

    def create_file_discovery_strategy(
        self, *, recursive: bool = True, **params: Any
    ) -> BaseFileDiscoveryStrategy:
        """Recursive or flat discovery.

        Example:
            >>> type(StrategyFactory().create_file_discovery_strategy()).__name__
            'RecursiveFileDiscoveryStrategy'
        """
        return RecursiveFileDiscoveryStrategy() if recursive else FlatFileDiscoveryStrategy()

    def create_metadata_strategy(
        self, *, metadata: Path | None = None, **params: Any
    ) -> BaseMetadataStrategy:
        """CSV for ``.csv``, Excel for other sheets, none without one.

        Example:
            >>> type(StrategyFactory().create_metadata_strategy(metadata=Path("m.csv"))).__name__
            'CSVMetadataStrategy'
        """
        if metadata is None:
            return NoneMetadataStrategy()
        if metadata.suffix.lower() == ".csv":
            return CSVMetadataStrategy(metadata)
        return ExcelMetadataStrategy(metadata)

    def create_upload_strategy(self, *, workers: int = 1, **params: Any) -> BaseUploadStrategy:
        """Threads for ``workers > 1``, else one file at a time.

        Example:
            >>> StrategyFactory().create_upload_strategy(workers=8).workers
            8
        """
        return AsyncUploadStrategy(workers) if workers > 1 else SyncUploadStrategy()

    def create_data_unit_strategy(
        self, *, batch_size: int = 100, **params: Any
    ) -> BaseDataUnitStrategy:
        """Batches for ``batch_size > 1``, else one unit per request.

        Example:
            >>> type(StrategyFactory().create_data_unit_strategy(batch_size=1)).__name__
            'SingleDataUnitStrategy'
        """
        return BatchDataUnitStrategy(batch_size) if batch_size > 1 else SingleDataUnitStrategy()

    def get_available_strategies(self) -> dict[str, list[str]]:
        """Names of the strategies per kind.

        Example:
            >>> StrategyFactory().get_available_strategies()["metadata"]
            ['ExcelMetadataStrategy', 'CSVMetadataStrategy', 'NoneMetadataStrategy']
        """
        return {
            "validation": ["DefaultValidationStrategy"],
            "file_discovery": ["FlatFileDiscoveryStrategy", "RecursiveFileDiscoveryStrategy"],
            "metadata": ["ExcelMetadataStrategy", "CSVMetadataStrategy", "NoneMetadataStrategy"],
            "upload": ["SyncUploadStrategy", "AsyncUploadStrategy"],
            "data_unit": ["SingleDataUnitStrategy", "BatchDataUnitStrategy"],
        }
