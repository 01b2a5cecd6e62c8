"""``read_predictions``: one entry point for every labelled-data format, sniffed by default.

How the format is told when ``format=None``:

=====================================================  ==================
source                                                 format
=====================================================  ==================
folder with ``Annotations/`` or ``*.xml``, a ``.xml``  ``voc``
folder with ``dataset.yaml``, ``labels/*.txt`` or      ``yolo``
``*.txt``; ``{stem: label text}``
folder whose JSON files have ``images`` and            ``coco``
``categories``; such a dict or file
list of ``{image_id, category_id, ...}`` (or its file) ``coco_results``
anything else DM-shaped (folder of ``*.json``,         ``dm``
document, ``{name: document}``, list of items)
a DataFrame (item frame with ``data``, or one row per  ``frame``
annotation)
=====================================================  ==================

Example:
    >>> doc = {"images": [{"bounding_box": [{"id": "b", "classification": "car",
    ...                                       "data": [0, 0, 2, 2]}]}]}
    >>> read_predictions({"a.jpg": doc}).format
    'dm'
    >>> read_predictions([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
    ...                    "score": 0.5}], categories={1: "car"}).format
    'coco_results'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from synapse_nb.importers._sources import Source, is_path, load_json, name_of
from synapse_nb.importers.coco import read_coco, read_coco_results
from synapse_nb.importers.dm import is_dm_document, read_dm
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.frames_in import labels_from_frame
from synapse_nb.importers.labels import Labels
from synapse_nb.importers.voc import read_voc_folder
from synapse_nb.importers.yolo import read_yolo_labels

__all__ = ["FORMATS", "read_predictions", "sniff_format"]

#: The formats :func:`read_predictions` reads.
FORMATS = ("coco", "coco_results", "voc", "yolo", "dm", "frame")


def read_predictions(
    source: Source | pd.DataFrame,
    format: str | None = None,
    *,
    instances: Source | None = None,
    categories: Mapping[Any, str] | None = None,
    images: Any = None,
    names: Sequence[str] | None = None,
    sizes: Any = None,
    task: str | None = None,
    name: str | None = None,
) -> Labels:
    """Read predictions (or any labelled data) into :class:`Labels`, keyed by file name.

    Args:
        source: A path (file or folder), a loaded object, or a frame.
        format: One of :data:`FORMATS`; sniffed from the content when None.
        instances: COCO results: the instances file naming images and categories.
        categories: COCO results: ``{category_id: name}``.
        images: COCO results: ``{image_id: file name}``; YOLO: the images folder.
        names: YOLO: class names by id.
        sizes: YOLO: ``{file name or stem: (width, height)}`` or a task frame.
        task: YOLO: ``detect``, ``segment`` or ``pose``.
        name: DM: the image file name of a single document.

    Returns:
        The :class:`Labels`; scores are kept per annotation (``score`` attribute).

    Raises:
        ImportFormatError: Naming the file and the field when the format is unknown or the
            content does not fit it.

    Example:
        >>> read_predictions({"a.jpg": {"images": []}}, format="xml")
        Traceback (most recent call last):
        ...
        synapse_nb.importers.errors.ImportFormatError: <object>: format = 'xml' is not one of \
['coco', 'coco_results', 'voc', 'yolo', 'dm', 'frame']
    """
    where = name_of(source)
    if format is not None and format not in FORMATS:
        raise ImportFormatError(where, "format", format, f"is not one of {list(FORMATS)}")
    if isinstance(source, pd.DataFrame):
        if format not in (None, "frame"):
            raise ImportFormatError("<frame>", "format", format, "does not fit a DataFrame")
        return labels_from_frame(source)
    fmt = format or sniff_format(source)
    if fmt == "frame":
        raise ImportFormatError(where, "format", fmt, "needs a DataFrame source")
    if fmt == "coco":
        return read_coco(source)
    if fmt == "coco_results":
        return read_coco_results(source, instances, categories=categories, images=images)
    if fmt == "voc":
        if not is_path(source):
            raise ImportFormatError(where, "source", why="VOC is read from a folder or .xml file")
        return read_voc_folder(source if Path(source).is_dir() else Path(source).parent)
    if fmt == "yolo":
        if isinstance(source, list):
            raise ImportFormatError(where, "source", why="YOLO is a folder or {stem: label text}")
        return read_yolo_labels(source, task=task, names=names, sizes=sizes, images=images)
    return read_dm(source, name=name)


def sniff_format(source: Source) -> str:
    """The format of ``source`` as :func:`read_predictions` tells it.

    Raises:
        ImportFormatError: If the content fits no format.

    Example:
        >>> sniff_format({"images": [], "categories": [], "annotations": []})
        'coco'
    """
    if is_path(source) and Path(source).is_dir():
        return _sniff_folder(Path(source))
    if is_path(source) and Path(source).suffix.lower() == ".xml":
        return "voc"
    loaded = load_json(source)
    found = _sniff_object(loaded)
    if found is None:
        raise ImportFormatError(
            name_of(source),
            "format",
            why=f"could not be told from the content; pass format= one of {list(FORMATS)}",
        )
    return found


def _sniff_folder(folder: Path) -> str:
    if (folder / "Annotations").is_dir() or any(folder.glob("*.xml")):
        return "voc"
    if (folder / "dataset.yaml").is_file() or (
        (folder / "labels").is_dir() and any((folder / "labels").glob("*.txt"))
    ):
        return "yolo"
    if any(p.name != "classes.txt" for p in folder.glob("*.txt")):
        return "yolo"
    for path in sorted(folder.glob("*.json"))[:1]:
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            break
        if _sniff_object(head) == "coco":
            return "coco"
    return "dm"


def _sniff_object(value: Any) -> str | None:
    if isinstance(value, list):
        first = next((v for v in value if isinstance(v, Mapping)), None)
        if first is None:
            return "coco_results" if value == [] else None
        if "image_id" in first and "category_id" in first:
            return "coco_results"
        return "dm" if "data" in first else None
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("images"), list) and isinstance(value.get("categories"), list):
        return "coco"
    if is_dm_document(value):
        return "dm"
    if value and all(isinstance(v, str) for v in value.values()):
        return "yolo"
    if value and all(isinstance(v, Mapping) or v is None for v in value.values()):
        return "dm"
    return None
