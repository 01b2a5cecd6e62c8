"""Pascal VOC reader: a VOC root (``Annotations/``, optional ``SegmentationObject/`` and
``SegmentationClass/``) or a plain folder of VOC XML files.

Boxes and instance masks are read by the converters (:func:`~synapse_nb.converters.read_voc`
/ :func:`~synapse_nb.converters.from_voc`); images are keyed by the ``<filename>`` the XML
states, else by the XML file's stem.

Example:
    >>> from synapse_nb.converters import to_voc, write_voc
    >>> item = {"id": 1, "width": 64, "height": 48, "file_name": "a.jpg", "data": {"images": [
    ...     {"bounding_box": [{"id": "b", "classification": "car", "data": [4, 4, 10, 8]}]}]}}
    >>> voc, audit = to_voc([item], classes=["car"])
    >>> _ = write_voc(voc, "voc", audit)
    >>> labels = read_voc_folder("voc")
    >>> list(labels.images), labels["a.jpg"].document().media[0].annotations[0].bbox()
    (['a.jpg'], (4.0, 4.0, 10.0, 8.0))
"""

from __future__ import annotations

from os import PathLike
from pathlib import PurePosixPath, PureWindowsPath

from synapse_nb.converters import from_voc, read_voc
from synapse_nb.importers._sources import existing_path
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.labels import LabelledImage, Labels, rekey_audit

__all__ = ["read_voc_folder"]


def read_voc_folder(folder: str | PathLike[str]) -> Labels:
    """Read Pascal VOC annotations into :class:`Labels`.

    Args:
        folder: A VOC root holding ``Annotations/`` (masks are read from
            ``SegmentationObject/`` and ``SegmentationClass/`` when present), or a folder of
            ``*.xml`` files.

    Returns:
        Labels of format ``voc``.

    Raises:
        ImportFormatError: If the folder does not exist or holds no VOC XML.

    Example:
        >>> read_voc_folder("nowhere")
        Traceback (most recent call last):
        ...
        synapse_nb.importers.errors.ImportFormatError: nowhere: folder does not exist
    """
    root = existing_path(folder, "folder")
    if (root / "Annotations").is_dir():
        items, audit = read_voc(root)
    else:
        texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(root.glob("*.xml"))}
        if not texts:
            raise ImportFormatError(str(root), "Annotations/", why="is missing and no *.xml found")
        items, audit = from_voc(texts)
    keys = {item["id"]: _key(item["file_name"], item["id"]) for item in items}
    images = {
        keys[item["id"]]: LabelledImage(
            keys[item["id"]], item["data"], item.get("width"), item.get("height")
        )
        for item in items
    }
    return Labels("voc", images, rekey_audit(audit, keys), str(root))


def _key(file_name: str | None, stem: str) -> str:
    if not file_name:
        return stem
    return PureWindowsPath(PurePosixPath(file_name).name).name or stem
