"""DM reader: DM v1 or v2 JSON, one document per image, from files or objects.

Accepted shapes: a folder of ``<stem>.json`` files (as the export plugins write under
``labels/``), one JSON file of a single document (keyed by the file's stem), a mapping
``{file name: document}``, a list of items ``{"file_name" | "id", "data", "width"?,
"height"?}``, or a single document with ``name=``. Version 1 documents are converted to
version 2 (:func:`~synapse_nb.converters.dm_v1_to_v2`, its audit kept).

Example:
    >>> doc = {"images": [{"bounding_box": [{"id": "b", "classification": "car",
    ...        "data": [1, 2, 3, 4], "attrs": [{"name": "score", "value": 0.5}]}]}]}
    >>> labels = read_dm({"a.jpg": doc})
    >>> labels["a.jpg"].document().media[0].annotations[0].score()
    0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synapse_nb.annotations import MEDIA_KEYS, is_v1
from synapse_nb.converters import Audit, DMFormatError, dm_v1_to_v2
from synapse_nb.importers._sources import (
    Source,
    is_path,
    load_json,
    name_of,
    positive_int,
)
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.labels import LabelledImage, Labels

__all__ = ["is_dm_document", "read_dm"]


def is_dm_document(value: Any) -> bool:
    """Whether ``value`` is one DM document (v1 or v2), not a collection of them.

    Example:
        >>> is_dm_document({"images": []}), is_dm_document({"a.jpg": {"images": []}})
        (True, False)
    """
    return isinstance(value, Mapping) and (is_v1(value) or any(k in value for k in MEDIA_KEYS))


def read_dm(source: Source, *, name: str | None = None) -> Labels:
    """Read DM v1/v2 documents into :class:`Labels`.

    Args:
        source: A folder of ``*.json`` documents, a JSON file, a ``{file name: document}``
            mapping, a list of items, or one document (then give ``name``).
        name: The image file name of a single document.

    Returns:
        Labels of format ``dm``.

    Raises:
        ImportFormatError: Naming the file and field of anything that is not a DM document.

    Example:
        >>> read_dm({"images": []})
        Traceback (most recent call last):
        ...
        synapse_nb.importers.errors.ImportFormatError: <object>: name is missing: a single \
DM document needs name= (its image file name)
    """
    where = name_of(source)
    audit = Audit()
    images: dict[str, LabelledImage] = {}
    for key, document, extra in _documents(source, name, where):
        images[key] = _image(key, document, extra, audit, f"{where}: {key}")
    return Labels("dm", images, audit, where)


def _documents(
    source: Any, name: str | None, where: str
) -> list[tuple[str, Any, Mapping[str, Any]]]:
    if is_path(source) and Path(source).is_dir():
        folder = Path(source)
        for sub in ("labels", "json"):
            if not any(folder.glob("*.json")) and (folder / sub).is_dir():
                folder = folder / sub
        files = sorted(folder.glob("*.json"))
        if not files:
            raise ImportFormatError(str(folder), "*.json", why="no DM documents in the folder")
        return [(f.stem, load_json(f), {}) for f in files]
    loaded = load_json(source)
    if is_dm_document(loaded):
        key = name or (Path(source).stem if is_path(source) else None)
        if key is None:
            raise ImportFormatError(
                where,
                "name",
                why="is missing: a single DM document needs name= (its image file name)",
            )
        return [(key, loaded, {})]
    if isinstance(loaded, Mapping):
        return [(str(k), v, {}) for k, v in loaded.items()]
    if isinstance(loaded, list):
        return [_item(n, item, where) for n, item in enumerate(loaded)]
    raise ImportFormatError(where, "document", type(loaded).__name__, "is not DM JSON")


def _item(n: int, item: Any, where: str) -> tuple[str, Any, Mapping[str, Any]]:
    if not isinstance(item, Mapping) or "data" not in item:
        raise ImportFormatError(where, f"items[{n}]", why="must be an object with a 'data' key")
    key = item.get("file_name") or item.get("id")
    if key is None:
        raise ImportFormatError(where, f"items[{n}].file_name", why="is missing (and so is id)")
    return str(key), item["data"], item


def _image(
    key: str, document: Any, extra: Mapping[str, Any], audit: Audit, where: str
) -> LabelledImage:
    if not is_dm_document(document) and document not in ({}, None):
        raise ImportFormatError(
            where, "document", _shape(document), "is not a DM v1 or v2 document"
        )
    data = dict(document or {"images": [{}]})
    width, height = positive_int(extra.get("width")), positive_int(extra.get("height"))
    if is_v1(data):
        stated_width, stated_height = _v1_size(data)
        width, height = width or stated_width, height or stated_height
        try:
            converted, v1_audit = dm_v1_to_v2(data, item_id=key)
        except DMFormatError as exc:
            raise ImportFormatError(where, "document", why=f"is not valid DM v1: {exc}") from None
        audit.extend(v1_audit)
        data = converted["annotation_data"]
    return LabelledImage(key, data, width, height, extra.get("id"))


def _v1_size(data: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """The first image's size a v1 document states in ``extra``."""
    extra = data.get("extra")
    size = extra.get("image_1") if isinstance(extra, Mapping) else None
    if not isinstance(size, Mapping):
        return None, None
    return positive_int(size.get("width")), positive_int(size.get("height"))


def _shape(value: Any) -> Any:
    return sorted(value)[:5] if isinstance(value, Mapping) else type(value).__name__
