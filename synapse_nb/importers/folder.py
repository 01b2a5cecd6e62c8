"""The whole-folder import: images + labels → data units, tasks and their annotations.

:func:`import_folder` takes a labelled dataset folder in one of the layouts our exporters
write, and puts it on the server in three resumable stages:

1. **Check** (nothing is sent yet): find the layout, read every label, match labels to
   image files, and check every document against the project's classes and its image's
   size. Any problem refuses the whole import with one :class:`ImportFormatError` that
   lists them.
2. **Upload** the images into the data collection with the upload workflow
   (:func:`synapse_nb.plugins.upload.upload`), which also creates one task per data unit in
   the project. Its manifest (``<images>.synapse-upload-<collection>.json`` beside the
   images folder) records every file, unit and task, so a second call sends nothing twice.
3. **Annotate** the tasks with :func:`~synapse_nb.importers.import_to_tasks`; tasks that
   already hold annotations (written by an earlier, interrupted call) are skipped.

=========  ==========================================  ==========================
format     labels                                      images
=========  ==========================================  ==========================
``coco``   ``*.json`` COCO files at the top            ``images/``
``voc``    ``Annotations/*.xml``                       ``JPEGImages/``
``yolo``   ``labels/*.txt`` + ``dataset.yaml``         ``images/``
``dm``     ``labels/*.json`` (or ``json/``)            ``origin_files/`` or ``images/``
=========  ==========================================  ==========================

Example:
    >>> from PIL import Image
    >>> from synapse_nb.converters import to_yolo, write_yolo
    >>> item = {"id": 1, "file_name": "cam_0.jpg", "width": 64, "height": 48, "data": {
    ...     "images": [{"bounding_box": [{"id": "b", "classification": "car", "attrs": [],
    ...                                   "data": [8, 8, 16, 12]}]}]}}
    >>> result, _ = to_yolo([item], classes=["car", "person"], tasks=("detect",))
    >>> _ = write_yolo(result, "ds")
    >>> Image.new("RGB", (64, 48), (200, 10, 10)).save("ds/detect/images/cam_0.jpg")
    >>> report = import_folder(backend, "ds/detect", collection=2, project=3, progress=False)
    >>> report
    FolderImport(yolo: 1 images, 1 uploaded, 1 tasks created, 1 annotated, 0 skipped, 0 failed)
    >>> import_folder(backend, "ds/detect", collection=2, project=3, progress=False).counts()
    {'uploaded': 0, 'tasks_created': 0, 'annotated': 0, 'skipped': 1, 'failed': 0}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synapse_nb._progress import ProgressCallback
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.labels import LabelledImage, Labels
from synapse_nb.importers.matching import Matching, match_to_tasks
from synapse_nb.importers.readers import read_predictions
from synapse_nb.importers.tasks import ImportResult, import_to_tasks
from synapse_nb.importers.validate import document_problems, size_problems
from synapse_nb.plugins.upload import UploadManifest, UploadReport, upload

__all__ = ["FOLDER_FORMATS", "FolderImport", "find_layout", "import_folder"]

#: The folder layouts :func:`import_folder` reads.
FOLDER_FORMATS = ("coco", "voc", "yolo", "dm")
_METHOD = "import_folder"
_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
_SHOWN = 8
#: Task ids per listing request when reading the import's tasks back.
_ID_CHUNK = 200
_IMAGE_DIRS = {"voc": ("JPEGImages",), "dm": ("origin_files", "images")}
#: A top-level JSON object with any of these keys is meant as a COCO file.
_COCO_KEYS = ("images", "annotations", "categories")
#: names a COCO file starts with (checked for files that cannot be read as JSON)
_COCO_NAMES = ("instances", "person_keypoints", "captions", "image_info", "coco")
#: Per-image statuses of :attr:`FolderImport.frame`.
STATUSES = ("written", "already_annotated", "empty", "no_labels", "skipped", "failed")


@dataclass(frozen=True)
class Layout:
    """Where a dataset folder keeps its labels and images.

    Example:
        >>> Layout("voc", Path("d"), Path("d/JPEGImages")).images.name
        'JPEGImages'
    """

    format: str
    labels: Path
    images: Path


@dataclass
class FolderImport:
    """What :func:`import_folder` did.

    Attributes:
        format: The dataset's format.
        frame: One row per image file: ``image`` (path in the images folder), ``label``
            (its label key, or NA), ``data_unit``, ``task_id``, ``status`` (``written``,
            ``already_annotated`` by an earlier call, ``empty`` labels with no annotation,
            ``no_labels``, ``skipped`` for unreadable labels with ``skip_failed=True``,
            ``failed``), ``n_annotations`` and ``error``.
        upload: The upload workflow's report of this call.
        annotations: The :class:`~synapse_nb.importers.ImportResult` of the labels written
            by this call (None when there was nothing left to write).
        unmatched: Labels without an image file and images without labels
            (``side``, ``label``, ``image``, ``problem``).

    Example:
        >>> empty = FolderImport("dm", _frame([]), UploadReport(Path("i"), 2, None), None,
        ...                      _unmatched([]))
        >>> empty.counts()["annotated"], empty.ok
        (0, True)
    """

    format: str
    frame: pd.DataFrame
    upload: UploadReport
    annotations: ImportResult | None
    unmatched: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """``uploaded``, ``tasks_created``, ``annotated``, ``skipped``, ``failed``.

        ``skipped`` are labelled images this call wrote nothing for: their task was
        annotated before this call, their labels hold no annotation, or they were left out
        with ``skip_failed=True``; ``failed`` are images whose upload or write failed.

        Example:
            >>> FolderImport("dm", _frame([]), UploadReport(Path("i"), 2, None), None,
            ...              _unmatched([])).counts()["failed"]
            0
        """
        status = self.frame["status"].value_counts()
        return {
            "uploaded": int(self.upload.files["uploaded"]),
            "tasks_created": len(self.upload.tasks),
            "annotated": int(status.get("written", 0)),
            "skipped": int(
                sum(status.get(s, 0) for s in ("already_annotated", "empty", "skipped"))
            ),
            "failed": int(status.get("failed", 0)),
        }

    @property
    def ok(self) -> bool:
        """True when every image has a task and no write failed.

        Example:
            >>> FolderImport("dm", _frame([("a.jpg", None, 1, 2, "failed", 0, "x")]),
            ...              UploadReport(Path("i"), 2, None), None, _unmatched([])).ok
            False
        """
        return bool(
            not (self.frame["status"] == "failed").any() and self.frame["task_id"].notna().all()
        )

    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"FolderImport({self.format}: {len(self.frame)} images, {c['uploaded']} uploaded, "
            f"{c['tasks_created']} tasks created, {c['annotated']} annotated, "
            f"{c['skipped']} skipped, {c['failed']} failed)"
        )


def import_folder(
    client: Any,
    folder: str | os.PathLike[str],
    *,
    collection: int,
    project: int,
    format: str | None = None,
    images: str | os.PathLike[str] | None = None,
    skip_failed: bool = False,
    progress: ProgressCallback | bool | None = None,
) -> FolderImport:
    """Upload a labelled dataset folder: data units, one task each, and their annotations.

    Resumable: call it again after an interruption (a lost server, a fault, Ctrl-C) and it
    finishes the job without creating any data unit, task or annotation twice.

    Args:
        client: A ``BackendClient`` or notebook ``Client``.
        folder: The dataset folder (layouts in :mod:`~synapse_nb.importers.folder`).
        collection: The data collection the images go into.
        project: The project that gets one task per image; its data collection must be
            ``collection``.
        format: One of :data:`FOLDER_FORMATS`; told from the layout when None.
        images: The images folder, when it is not where the layout keeps it.
        skip_failed: Upload images whose labels failed to read, without labels, instead of
            refusing the import.
        progress: True/False for bars, None for bars on large imports, or a callable
            ``(current, total, category)``.

    Returns:
        A :class:`FolderImport`.

    Raises:
        ImportFormatError: Before anything is sent: the layout is not recognised, a COCO
            file is not JSON or lacks its ``images`` or ``categories`` list (the error names
            the file and the problem), or labels are unreadable, invalid, of a class the
            project does not have, do not fit their image, or match no image.
        InvalidInputError: A bad argument, or a project whose data collection is not
            ``collection``.

    Example:
        >>> Path("empty").mkdir()
        >>> import_folder(backend, "empty", collection=2, project=3)
        Traceback (most recent call last):
        ...
        synapse_nb.importers.errors.ImportFormatError: empty: format could not be told \
from the layout; pass format= one of ['coco', 'voc', 'yolo', 'dm']
    """
    raw = getattr(client, "raw", client)
    layout = find_layout(folder, format, images)
    classes = _project_classes(_target(raw, collection, project, skip_failed))
    plan = _plan(layout, classes, skip_failed)
    try:
        report = upload(raw, layout.images, collection, project_id=project, progress=progress)
        units = _units(report, collection)
        tasks = _task_frame(raw, project, units, plan.files)
        result, busy = _write(raw, plan, tasks, progress)
        return _summary(plan, units, tasks, report, result, busy)
    except BaseException as exc:
        exc.add_note(f"call import_folder({str(folder)!r}, ...) again to resume")
        raise


@dataclass
class _Plan:
    """What the checks found: the labels, the images and which label goes to which."""

    layout: Layout
    labels: Labels
    files: dict[str, Path]  # image path relative to the images folder -> file
    pairs: dict[str, str]  # label key -> image path
    left_out: set[str]  # label keys not written (unreadable, skip_failed=True)
    unmatched: pd.DataFrame


def _plan(layout: Layout, classes: set[str] | None, skip_failed: bool) -> _Plan:
    """Read and check everything; raises before anything is sent."""
    labels = _read(layout)
    files = image_files(layout.images)
    pairs, unmatched = _match(labels, files)
    left_out = _check(labels, files, pairs, classes, skip_failed)
    return _Plan(layout, labels, files, pairs, left_out, unmatched)


# ---------------------------------------------------------------------------- layout


def find_layout(
    folder: str | os.PathLike[str],
    format: str | None = None,
    images: str | os.PathLike[str] | None = None,
) -> Layout:
    """Where ``folder`` keeps its labels and images, and its format.

    Raises:
        ImportFormatError: When the format cannot be told or its folders are missing.

    Example:
        >>> for sub in ("ds_voc/Annotations", "ds_voc/JPEGImages"):
        ...     Path(sub).mkdir(parents=True)
        >>> find_layout("ds_voc")
        Layout(format='voc', labels=PosixPath('ds_voc'), images=PosixPath('ds_voc/JPEGImages'))
    """
    if not isinstance(folder, str | os.PathLike) or not Path(folder).is_dir():
        raise ImportFormatError(str(folder), "folder", why="is not a folder")
    root = Path(folder)
    if format is not None and format not in FOLDER_FORMATS:
        raise ImportFormatError(
            str(root), "format", format, f"is not one of {list(FOLDER_FORMATS)}"
        )
    fmt = format or _sniff(root)
    labels = root
    if fmt == "dm":
        labels = next((root / s for s in ("labels", "json") if (root / s).is_dir()), root)
    if images is not None:
        if not Path(images).is_dir():
            raise ImportFormatError(str(root), "images", str(images), "is not a folder")
        return Layout(fmt, labels, Path(images))
    names = _IMAGE_DIRS.get(fmt, ("images",))
    found = next((root / n for n in names if (root / n).is_dir()), None)
    if found is None:
        raise ImportFormatError(str(root), f"{names[0]}/", why="is missing (the images folder)")
    return Layout(fmt, labels, found)


def _sniff(root: Path) -> str:
    if (root / "Annotations").is_dir():
        return "voc"
    if (root / "dataset.yaml").is_file() or any((root / "labels").glob("*.txt")):
        return "yolo"
    coco, broken = _coco_files(root)
    if coco:
        if broken:  # e.g. a person_keypoints.json cut short beside a good instances.json
            raise _unreadable(root, broken)
        return "coco"
    if any((root / s).is_dir() and any((root / s).glob("*.json")) for s in ("labels", "json")):
        return "dm"
    if broken:  # the folder's only labels are JSON files that cannot be read as COCO
        raise _unreadable(root, broken)
    tasks = sorted(p.parent.name for p in root.glob("*/dataset.yaml"))
    hint = f" (YOLO task folders {tasks}: pass one of them)" if tasks else ""
    nested = sorted(p.relative_to(root).as_posix() for p in root.glob("annotations/*.json"))
    if nested:
        hint += f" (COCO files are read at the top of the folder, not as {nested[0]})"
    raise ImportFormatError(
        str(root), "format",
        why=f"could not be told from the layout{hint}; pass format= one of {list(FOLDER_FORMATS)}",
    )  # fmt: skip


def _coco_files(root: Path) -> tuple[list[Path], list[ImportFormatError]]:
    """The top-level JSON files that are COCO documents, and the problems of those that
    cannot be read as one: not JSON (naming the line and column) while named or written like
    COCO, or an object with COCO keys whose ``images`` or ``categories`` list is missing.
    Other JSON (an export report, an error list), and a file that cannot be read and does
    not look like COCO (a truncated ``report.json``), is not COCO and left alone.

    Example:
        >>> Path("ds").mkdir()
        >>> _ = Path("ds/instances.json").write_text('{"images": [],\\n "categories": [}')
        >>> _ = Path("ds/export_report.json").write_text('{"total": 0}')
        >>> found, broken = _coco_files(Path("ds"))
        >>> found, [str(err) for err in broken]
        ([], ['ds/instances.json: line 2 column 17 is not JSON: Expecting value'])
    """
    found: list[Path] = []
    broken: list[ImportFormatError] = []
    for path in sorted(root.glob("*.json")):
        if not path.is_file():
            continue
        try:
            head = _read_coco_candidate(path)
        except ImportFormatError as exc:  # not UTF-8, not JSON: named with the line
            broken.append(exc)
            continue
        if head is _NOT_COCO:  # unreadable, and neither its name nor its text says COCO
            continue
        if not isinstance(head, Mapping) or not any(k in head for k in _COCO_KEYS):
            continue
        missing = [k for k in ("images", "categories") if not isinstance(head.get(k), list)]
        if missing:
            broken.append(
                ImportFormatError(
                    str(path),
                    missing[0],
                    why='is missing or not a list (a COCO file has "images" and "categories")',
                )
            )
        else:
            found.append(path)
    return found, broken


#: what :func:`_read_coco_candidate` gives for a file that cannot be read and does not look
#: like COCO (a truncated export report, a JSON Lines file): skipped, as any other JSON is
_NOT_COCO: Any = object()


def _looks_like_coco(path: Path, text: str | bytes = "") -> bool:
    """Whether a file that cannot be read as JSON was meant as COCO: by its name (``instances``,
    ``person_keypoints``, ``captions``, ``image_info``, ``coco``) or a COCO key in its text."""
    if path.name.lower().startswith(_COCO_NAMES):
        return True
    if isinstance(text, bytes):
        return b'"images"' in text or b'"categories"' in text
    return '"images"' in text or '"categories"' in text


def _read_coco_candidate(path: Path) -> Any:
    """The JSON of a top-level ``*.json`` file, read once. One that cannot be read raises the
    error naming it when it looks like COCO (see :func:`_looks_like_coco`), else gives
    ``_NOT_COCO``.

    Example:
        >>> Path("cut").mkdir()
        >>> _ = Path("cut/report.json").write_text('{"total": 3, "fail')
        >>> _read_coco_candidate(Path("cut/report.json")) is _NOT_COCO
        True
        >>> _ = Path("cut/coco_val.json").write_text('{"total": 3, "fail')
        >>> try:
        ...     _read_coco_candidate(Path("cut/coco_val.json"))
        ... except ImportFormatError as err:
        ...     print(err.field)
        line 1 column 14
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        if _looks_like_coco(path):
            raise ImportFormatError(str(path), "file", why=f"cannot be read: {exc}") from None
        return _NOT_COCO
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if _looks_like_coco(path, raw):
            raise ImportFormatError(
                str(path), "file", why=f"is not UTF-8 text ({exc.reason})"
            ) from None
        return _NOT_COCO
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if _looks_like_coco(path, text):
            raise ImportFormatError(
                str(path), f"line {exc.lineno} column {exc.colno}", why=f"is not JSON: {exc.msg}"
            ) from None
        return _NOT_COCO
    except (ValueError, RecursionError) as exc:  # e.g. an int of 5000 digits
        if _looks_like_coco(path, text):
            raise ImportFormatError(str(path), "file", why=f"cannot be read: {exc}") from None
        return _NOT_COCO


def _unreadable(root: Path, broken: list[ImportFormatError]) -> ImportFormatError:
    """One error for the JSON files that cannot be read as COCO: the file's own, or a list."""
    if len(broken) == 1:
        return broken[0]
    shown = "; ".join(str(err) for err in broken[:_SHOWN])
    more = f" (and {len(broken) - _SHOWN} more)" if len(broken) > _SHOWN else ""
    return ImportFormatError(
        str(root), "*.json", why=f"cannot be read as COCO files: {shown}{more}"
    )


def image_files(folder: Path) -> dict[str, Path]:
    """The image files under ``folder``, by path relative to it (as the upload keys them).

    Example:
        >>> Path("pics/sub").mkdir(parents=True)
        >>> for name in ("pics/a.jpg", "pics/sub/b.PNG", "pics/notes.txt"):
        ...     _ = Path(name).write_bytes(b"x")
        >>> sorted(image_files(Path("pics")))
        ['a.jpg', 'sub/b.PNG']
    """
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES
    }


# ---------------------------------------------------------------------------- check


def _target(client: Any, collection: Any, project: Any, skip_failed: Any) -> dict[str, Any]:
    """Check the arguments; the project (whose data collection must be ``collection``)."""
    for name, value in (("collection", collection), ("project", project)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(name, value, "must be an int >= 1", method=_METHOD)
    if not isinstance(skip_failed, bool):
        raise InvalidInputError("skip_failed", skip_failed, "must be True or False", method=_METHOD)
    found: dict[str, Any] = client.get_project(project)
    owner = found.get("data_collection")
    if owner is not None and owner != collection:
        raise InvalidInputError(
            "collection", collection,
            f"is not project {project}'s data collection ({owner})", method=_METHOD,
        )  # fmt: skip
    return found


def _project_classes(project: Mapping[str, Any]) -> set[str] | None:
    config = project.get("configuration") or {}
    classes = config.get("classes") if isinstance(config, Mapping) else None
    if not classes:
        return None
    return {str(c.get("name", c.get("code")) if isinstance(c, Mapping) else c) for c in classes}


def _read(layout: Layout) -> Labels:
    if layout.format == "coco":
        return _read_coco(layout.labels)
    if layout.format == "yolo":
        return read_predictions(layout.labels, "yolo", images=layout.images)
    return read_predictions(layout.labels, layout.format)


def _read_coco(root: Path) -> Labels:
    files, broken = _coco_files(root)
    if broken:  # e.g. a person_keypoints.json cut short: not left out without a word
        raise _unreadable(root, broken)
    if not files:
        raise ImportFormatError(str(root), "*.json", why="no COCO files in the folder")
    if len(files) == 1:
        return read_predictions(files[0], "coco")
    # several COCO files (instances, keypoints...) merge by image: read them as one folder
    import tempfile

    with tempfile.TemporaryDirectory(prefix="synapse-coco-") as tmp:
        for path in files:
            (Path(tmp) / path.name).symlink_to(path.resolve())
        labels = read_predictions(Path(tmp), "coco")
    labels.source = str(root)
    return labels


def _match(labels: Labels, files: dict[str, Path]) -> tuple[dict[str, str], pd.DataFrame]:
    """``{label key: image rel path}`` and the unmatched report."""
    rels = list(files)
    frame = pd.DataFrame({"file_name": rels}, index=pd.Index(range(1, len(rels) + 1), name="id"))
    matching = match_to_tasks(labels, frame)
    pairs = {key: rels[index - 1] for key, index in matching.pairs.items()}
    rows = []
    for row in matching.report.itertuples():
        image = None if pd.isna(row.task_id) else rels[int(row.task_id) - 1]
        rows.append((row.side, None if pd.isna(row.label) else row.label, image, row.problem))
    return pairs, _unmatched(rows)


def _check(
    labels: Labels,
    files: dict[str, Path],
    pairs: dict[str, str],
    classes: set[str] | None,
    skip_failed: bool,
) -> set[str]:
    """Raise listing every problem; returns the keys left out (unreadable, ``skip_failed``)."""
    if not files:
        raise ImportFormatError(labels.source, "images", why="the images folder has no images")
    if not pairs:
        raise ImportFormatError(labels.source, "labels", why="match no image file")
    failed = {str(r.item_id) for r in labels.audit if str(r.outcome) == "failed"} & set(pairs)
    problems = [] if skip_failed else [
        f"{r.item_id}: {r.detail} (skip_failed=True leaves it out)"
        for r in labels.audit if str(r.item_id) in failed
    ]  # fmt: skip
    for key, rel in pairs.items():
        if key in failed:
            continue
        image = labels[key]
        problems += document_problems(key, image.data, classes)
        problems += size_problems(key, image.data, _size(files[rel]), (image.width, image.height))
    if problems:
        shown = "; ".join(problems[:_SHOWN])
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise ImportFormatError(labels.source, "labels", why=f"{shown}{more}: nothing was uploaded")
    return failed if skip_failed else set()


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return int(img.width), int(img.height)
    except (OSError, ValueError) as exc:
        raise ImportFormatError(str(path), "image", why=f"cannot be read: {exc}") from exc


# ---------------------------------------------------------------------------- server side


def _units(report: UploadReport, collection: int) -> dict[str, dict[str, Any]]:
    """``{unit key: {"data_unit", "task"}}`` from the upload manifest."""
    assert report.manifest is not None  # import_folder always keeps a manifest
    manifest = UploadManifest.open(
        report.manifest, source_dir=report.source_dir, data_collection=collection
    )
    return {k: u for k, u in manifest.units.items() if u.get("state") == "created"}


def _unit_key(rel: str) -> str:
    return str(Path(rel).with_suffix("").as_posix())


def _task_frame(
    client: Any, project: int, units: dict[str, dict[str, Any]], files: dict[str, Path]
) -> pd.DataFrame:
    """The import's tasks: ``file_name`` (image rel path), size and current annotations."""
    ours = {}
    for rel in files:
        task = units.get(_unit_key(rel), {}).get("task")
        if isinstance(task, int):
            ours[task] = rel
    counts = {}
    ids = sorted(ours)
    for start in range(0, len(ids), _ID_CHUNK):  # only this import's tasks, id and data
        chunk = ",".join(map(str, ids[start : start + _ID_CHUNK]))
        query = {"project": project, "id__in": chunk, "fields": "id,data"}
        listed, _ = client.list_tasks(query, url_conversion=False, list_all=True)
        counts.update({t["id"]: _n_annotations(t.get("data")) for t in listed if t["id"] in ours})
    ids = [t for t in ours if t in counts]
    sizes = [_size(files[ours[t]]) for t in ids]
    return pd.DataFrame(
        {
            "file_name": [ours[t] for t in ids],
            "width": [s[0] for s in sizes],
            "height": [s[1] for s in sizes],
            "n_annotations": pd.array([counts[t] for t in ids], dtype="Int64"),
        },
        index=pd.Index(ids, name="id", dtype="int64"),
    )


def _n_annotations(data: Any) -> int:
    if not isinstance(data, Mapping) or not data.get("images"):
        return 0
    return LabelledImage("task", dict(data)).n_annotations()


def _write(
    client: Any, plan: _Plan, tasks: pd.DataFrame, progress: Any
) -> tuple[ImportResult | None, set[str]]:
    """Write the labels of tasks without annotations; also the images whose task had some."""
    task_of = {rel: int(t) for t, rel in tasks["file_name"].items()}
    busy = {rel for t, rel in tasks["file_name"].items() if tasks.at[t, "n_annotations"] > 0}
    todo = {
        key: task_of[rel]
        for key, rel in plan.pairs.items()
        if rel in task_of
        and rel not in busy
        and key not in plan.left_out
        and plan.labels[key].n_annotations() > 0
    }
    if not todo:
        return None, busy
    labels = plan.labels
    subset = Labels(labels.format, {k: labels[k] for k in todo}, labels.audit, labels.source)
    matching = Matching(todo, _empty_report(), "file_name")
    tasks = tasks.loc[list(todo.values())]
    return import_to_tasks(client, subset, tasks, matching=matching, progress=progress), busy


def _summary(
    plan: _Plan,
    units: dict[str, dict[str, Any]],
    tasks: pd.DataFrame,
    report: UploadReport,
    result: ImportResult | None,
    busy: set[str],
) -> FolderImport:
    task_of = {rel: int(t) for t, rel in tasks["file_name"].items()}
    written = {} if result is None else {
        r.label: (r.status, r.error) for r in result.frame.itertuples()
    }  # fmt: skip
    label_of = {rel: key for key, rel in plan.pairs.items()}
    rows = []
    for rel in plan.files:
        key, task = label_of.get(rel), task_of.get(rel)
        n = plan.labels[key].n_annotations() if key is not None else 0
        status, error = _status(rel, key, n, task, busy, plan.left_out, written, report)
        unit = units.get(_unit_key(rel), {}).get("data_unit")
        rows.append((rel, key, unit, task, status, n, error))
    return FolderImport(plan.layout.format, _frame(rows), report, result, plan.unmatched)


def _status(
    rel: str,
    key: str | None,
    n: int,
    task: int | None,
    busy: set[str],
    failed: set[str],
    written: dict[str, tuple[str, Any]],
    report: UploadReport,
) -> tuple[str, str | None]:
    if task is None:
        where = (_unit_key(rel), rel)
        errors = [e["error"] for e in report.errors if {e.get("unit"), e.get("path")} & set(where)]
        return "failed", "; ".join(str(e) for e in errors) or "no task was created"
    if key is None:
        return "no_labels", None
    if key in failed:
        return "skipped", "unreadable annotations"
    if rel in busy:
        return "already_annotated", None
    if key not in written and n == 0:
        return "empty", None  # its labels hold no annotation: nothing to write
    status, error = written.get(key, ("failed", "not written"))
    return str(status), None if pd.isna(error) else str(error)


def _empty_report() -> pd.DataFrame:
    return pd.DataFrame({"side": [], "label": [], "task_id": [], "problem": [], "candidates": []})


def _unmatched(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "side": pd.array([r[0] for r in rows], dtype="string"),
            "label": pd.array([r[1] for r in rows], dtype="string"),
            "image": pd.array([r[2] for r in rows], dtype="string"),
            "problem": pd.array([r[3] for r in rows], dtype="string"),
        }
    )


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image": pd.array([r[0] for r in rows], dtype="string"),
            "label": pd.array([r[1] for r in rows], dtype="string"),
            "data_unit": pd.array([r[2] for r in rows], dtype="Int64"),
            "task_id": pd.array([r[3] for r in rows], dtype="Int64"),
            "status": pd.Categorical([r[4] for r in rows], categories=list(STATUSES)),
            "n_annotations": pd.array([r[5] for r in rows], dtype="Int64"),
            "error": pd.array([r[6] for r in rows], dtype="string"),
        }
    )
