"""YOLO reader: detect, segment and pose label files, with an optional confidence column.

Rows are read by the converters' :func:`~synapse_nb.converters.from_yolo`. A model's
predictions often carry one more token, the confidence, at the end of the row; it is told
apart by the row's token count, which the task fixes: detect ``cls cx cy w h [conf]``
(5 or 6), segment ``cls x1 y1 ... xn yn [conf]`` (odd, or even with a confidence), pose
``cls cx cy w h`` + ``joints x dims`` values ``[conf]``. The confidence becomes the
``score`` attribute of what the row makes (each joint of a pose row).

YOLO coordinates are fractions of the image size, so every image needs its size: from
``sizes`` (a ``{file name or stem: (width, height)}`` map, or a task frame with
``file_name``, ``width``, ``height``), else from the image file in ``images/``.

Example:
    >>> labels = read_yolo_labels({"a": "0 0.5 0.5 0.5 0.5 0.9\\n"}, task="detect",
    ...                           names=["car"], sizes={"a.jpg": (100, 50)})
    >>> ann = labels["a"].document().media[0].annotations[0]
    >>> ann.bbox(), ann.score()
    ((25.0, 12.5, 50.0, 25.0), 0.9)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from synapse_nb.converters import YOLO_TASKS, Audit, from_yolo
from synapse_nb.importers._sources import (
    existing_path,
    is_path,
    name_of,
    number_or_none,
    positive_int,
)
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.labels import LabelledImage, Labels, dm_document

__all__ = ["read_yolo_labels"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def read_yolo_labels(
    source: str | PathLike[str] | Mapping[str, str],
    *,
    task: str | None = None,
    names: Sequence[str] | None = None,
    sizes: Any = None,
    images: str | PathLike[str] | None = None,
    kpt_shape: Sequence[int] | None = None,
) -> Labels:
    """Read YOLO label files into :class:`Labels` (scores from a confidence column).

    Args:
        source: A YOLO task folder (``dataset.yaml`` + ``labels/``), a folder of ``*.txt``
            label files, or ``{stem: label text}``.
        task: ``detect``, ``segment`` or ``pose``; by default the folder's name, else
            ``pose`` when ``dataset.yaml`` has ``kpt_shape``, else read from the rows.
        names: Class names by id; by default from ``dataset.yaml`` or ``classes.txt``.
        sizes: ``{file name or stem: (width, height)}`` or a frame with ``file_name``,
            ``width`` and ``height`` (e.g. ``client.list_tasks(...)``).
        images: Folder of the images (for sizes and file names); by default ``images/``
            next to ``labels/``.
        kpt_shape: ``[joints, 2 or 3]`` of pose rows; by default from ``dataset.yaml``,
            else ``[17, 3]``.

    Returns:
        Labels of format ``yolo``, keyed by the image's file name when the image was found,
        else by the label file's stem.

    Raises:
        ImportFormatError: No class names, an unknown task, or an image of unknown size.

    Example:
        >>> read_yolo_labels({"a": "0 0.5 0.5 0.1 0.1"}, names=["car"])
        Traceback (most recent call last):
        ...
        synapse_nb.importers.errors.ImportFormatError: <object>: sizes['a'] is missing: \
pass sizes= (a {name: (width, height)} map or a task frame) or put the image in images/
    """
    where = name_of(source)
    texts, spec, root = _texts(source, where)
    names = list(names) if names is not None else _names(spec, root, where)
    shape = tuple(kpt_shape or spec.get("kpt_shape") or (17, 3))
    task = task or _task(root, spec, texts)
    if task not in YOLO_TASKS:
        raise ImportFormatError(where, "task", task, f"is not one of {list(YOLO_TASKS)}")
    image_dir = Path(images) if images is not None else _image_dir(root)
    known = _size_map(sizes, where)
    audit = Audit()
    out: dict[str, LabelledImage] = {}
    for stem, text in texts.items():
        file_name, size = _size(stem, known, image_dir, where)
        key = file_name or stem
        media = _read_file(key, text, task, names, size, shape, audit)
        out[key] = LabelledImage(key, dm_document(media), size[0], size[1])
    return Labels("yolo", out, audit, where)


def _texts(source: Any, where: str) -> tuple[dict[str, str], dict[str, Any], Path | None]:
    if not is_path(source):
        if not isinstance(source, Mapping) or not all(isinstance(v, str) for v in source.values()):
            raise ImportFormatError(where, "labels", why="must be a folder or {stem: label text}")
        return {str(k): v for k, v in source.items()}, {}, None
    root = existing_path(source, "folder")
    spec_path = root / "dataset.yaml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8")) if spec_path.is_file() else {}
    label_dir = root / "labels" if (root / "labels").is_dir() else root
    texts = {
        p.stem: p.read_text(encoding="utf-8")
        for p in sorted(label_dir.glob("*.txt"))
        if p.name != "classes.txt"
    }
    return texts, dict(spec) if isinstance(spec, Mapping) else {}, root


def _names(spec: Mapping[str, Any], root: Path | None, where: str) -> list[str]:
    names = spec.get("names")
    if isinstance(names, Mapping):
        return [str(names[k]) for k in sorted(names)]
    if isinstance(names, list):
        return [str(n) for n in names]
    classes = root / "classes.txt" if root is not None else None
    if classes is not None and classes.is_file():
        return [
            line.strip()
            for line in classes.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    raise ImportFormatError(
        where, "names", why="are unknown: pass names= or add dataset.yaml or classes.txt"
    )


def _task(root: Path | None, spec: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    if root is not None and root.name in YOLO_TASKS:
        return root.name
    if "kpt_shape" in spec:
        return "pose"
    counts = {
        len(line.split()) for text in texts.values() for line in text.splitlines() if line.strip()
    }
    return "detect" if counts <= {5, 6} else "segment"


def _image_dir(root: Path | None) -> Path | None:
    if root is None:
        return None
    for candidate in (root / "images", root.parent / "images"):
        if candidate.is_dir():
            return candidate
    return None


def _size_map(sizes: Any, where: str) -> dict[str, tuple[int, int]]:
    """``{file name: size}`` and ``{stem: size}`` from a mapping or a task frame."""
    if sizes is None:
        return {}
    if hasattr(sizes, "columns"):
        rows = sizes[["file_name", "width", "height"]].dropna().itertuples(index=False)
        pairs = [(str(name), (w, h)) for name, w, h in rows]
    elif isinstance(sizes, Mapping):
        pairs = [(str(name), size) for name, size in sizes.items()]
    else:
        raise ImportFormatError(where, "sizes", type(sizes).__name__, "is not a mapping or a frame")
    known: dict[str, tuple[int, int]] = {}
    for name, size in pairs:
        checked = _pair(size)
        if checked is None:
            raise ImportFormatError(where, f"sizes[{name!r}]", size, "is not (width, height) in px")
        known.setdefault(PurePosixPath(name).stem, checked)
        known[PurePosixPath(name).name] = checked
    return known


def _pair(size: Any) -> tuple[int, int] | None:
    if not isinstance(size, tuple | list) or len(size) != 2:
        return None
    width, height = positive_int(size[0]), positive_int(size[1])
    return (width, height) if width and height else None


def _size(
    stem: str, known: Mapping[str, tuple[int, int]], image_dir: Path | None, where: str
) -> tuple[str | None, tuple[int, int]]:
    image = None
    if image_dir is not None:
        image = next(
            (
                image_dir / f"{stem}{s}"
                for s in _IMAGE_SUFFIXES
                if (image_dir / f"{stem}{s}").is_file()
            ),
            None,
        )
    name = image.name if image is not None else None
    if name is not None and name in known:
        return name, known[name]
    if stem in known:
        return name, known[stem]
    if image is not None:
        from PIL import Image

        with Image.open(image) as img:
            return name, img.size
    raise ImportFormatError(
        where,
        f"sizes[{stem!r}]",
        why="is missing: pass sizes= (a {name: (width, height)} map or a task frame) "
        "or put the image in images/",
    )


def _confidence(tokens: list[str], task: str, shape: tuple[int, ...]) -> bool:
    """Whether a row ends with a confidence column (told by its token count)."""
    n = len(tokens)
    if task == "detect":
        return n == 6
    if task == "segment":
        return n >= 8 and n % 2 == 0
    return n == 6 + int(shape[0]) * int(shape[1])


def _read_file(
    key: str,
    text: str,
    task: str,
    names: Sequence[str],
    size: tuple[int, int],
    shape: tuple[int, ...],
    audit: Audit,
) -> dict[str, list[dict[str, Any]]]:
    rows = [tokens for tokens in (line.split() for line in text.splitlines())]
    scores = [
        number_or_none(_float(t[-1])) if t and _confidence(t, task, shape) else None for t in rows
    ]
    stripped = "".join(
        " ".join(t[:-1] if score is not None else t) + "\n"
        for t, score in zip(rows, scores, strict=True)
    )
    items, found = from_yolo(
        {key: stripped}, task=task, names=names, sizes={key: size}, kpt_shape=shape
    )
    media: dict[str, list[dict[str, Any]]] = dict(items[0]["data"]["images"][0])
    if not any(s is not None for s in scores):
        audit.extend(found)
        return media
    if task != "pose" and len(found) == 0:
        # one row, one annotation, in row order: the scores go on in the same order
        (anns,) = media.values() if media else ([],)
        for ann, score in zip(
            anns, (s for t, s in zip(rows, scores, strict=True) if t), strict=True
        ):
            _add_score(ann, score)
        return media
    return _read_rows(key, rows, scores, task, names, size, shape, audit)


def _read_rows(
    key: str,
    rows: list[list[str]],
    scores: list[float | None],
    task: str,
    names: Sequence[str],
    size: tuple[int, int],
    shape: tuple[int, ...],
    audit: Audit,
) -> dict[str, list[dict[str, Any]]]:
    """Row by row, so each row's score goes to what the row made (pose rows, bad rows)."""
    media: dict[str, list[dict[str, Any]]] = {}
    for number, (tokens, score) in enumerate(zip(rows, scores, strict=True), start=1):
        if not tokens:
            continue
        row = " ".join(tokens[:-1] if score is not None else tokens)
        items, found = from_yolo(
            {key: row}, task=task, names=names, sizes={key: size}, kpt_shape=shape
        )
        for record in found:
            detail = record.detail.replace("line 1:", f"line {number}:", 1)
            audit.records.append(replace(record, detail=detail))
        for tool, anns in items[0]["data"]["images"][0].items():
            for ann in anns:
                _add_score(ann, score)
            media.setdefault(tool, []).extend(anns)
    return media


def _add_score(ann: dict[str, Any], score: float | None) -> None:
    if score is not None:
        ann["attrs"] = [*ann.get("attrs", []), {"name": "score", "value": score}]


def _float(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None
