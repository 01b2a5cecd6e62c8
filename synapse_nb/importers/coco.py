"""COCO readers: instances/keypoints files, and results files (``[{image_id, category_id,
bbox, score, segmentation?, keypoints?}]``) named by an instances file or by maps.

Both go through the converters' :func:`~synapse_nb.converters.from_coco`, so a COCO file
reads the same whichever entry point reads it. A result's ``score`` becomes the ``score``
attribute of every annotation made from it (each joint of a keypoints result).

Example:
    >>> instances = {"images": [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 8}],
    ...              "annotations": [], "categories": [{"id": 3, "name": "car"}]}
    >>> results = [{"image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 2], "score": 0.7}]
    >>> labels = read_coco_results(results, instances)
    >>> ann = labels["a.jpg"].document().media[0].annotations[0]
    >>> ann.label, ann.bbox(), ann.score()
    ('car', (1.0, 1.0, 4.0, 2.0), 0.7)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synapse_nb.converters import MAX_IMAGE_PIXELS, from_coco
from synapse_nb.importers._sources import Source, is_path, load_json, name_of, number_or_none
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.labels import LabelledImage, Labels, dm_document, rekey_audit

__all__ = ["read_coco", "read_coco_results"]


def read_coco(source: Source) -> Labels:
    """Read a COCO instances or person-keypoints file (or a dict of one) into :class:`Labels`.

    Args:
        source: A path to the JSON file (or to a folder of them, e.g. ``instances.json`` and
            ``person_keypoints.json``, whose images are merged by file name), or its dict.

    Returns:
        Labels keyed by each image's file name (last path component).

    Raises:
        ImportFormatError: If the file is missing, is not JSON, or lacks ``images`` /
            ``categories``.

    Example:
        >>> coco = {"images": [{"id": 1, "file_name": "img/a.jpg", "width": 8, "height": 8}],
        ...         "categories": [{"id": 1, "name": "car"}],
        ...         "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
        ...                          "bbox": [0, 0, 2, 2]}]}
        >>> read_coco(coco)["a.jpg"].n_annotations()
        1
    """
    where = name_of(source)
    if is_path(source) and Path(source).is_dir():
        files = sorted(Path(source).glob("*.json"))
        if not files:
            raise ImportFormatError(where, "*.json", why="no COCO files in the folder")
        documents = [load_json(f) for f in files]
        for path, document in zip(files, documents, strict=True):
            _check_instances(document, str(path))
            _check_masks(document, str(path), "annotations")
        return _labels(documents, where, "coco")
    document = load_json(source)
    _check_instances(document, where)
    _check_masks(document, where, "annotations")
    return _labels(document, where, "coco")


def read_coco_results(
    results: Source,
    instances: Source | None = None,
    *,
    categories: Mapping[Any, str] | None = None,
    images: Mapping[Any, Any] | None = None,
) -> Labels:
    """Read a COCO results list into :class:`Labels` with a ``score`` per annotation.

    Category names come from ``categories`` (``{category_id: name}``) or the instances
    file; images from ``images`` (``{image_id: file_name}`` or ``{image_id: {"file_name",
    "width", "height"}}``) or the instances file, else the image id is the key. Every image
    of the instances file is listed, with no annotations when the model predicted nothing
    there. A result with ``segmentation`` becomes polygons or a mask (its ``bbox`` is then
    not kept), one with ``keypoints`` becomes joints named by the category's ``keypoints``
    list (``keypoint_<n>`` without one). Masks need the image size.

    Args:
        results: The results list, or a path to its JSON file.
        instances: The COCO instances file (path or dict) the results refer to.
        categories: Category id -> class name (overrides the instances file's).
        images: Image id -> file name or image record (overrides the instances file's).

    Returns:
        Labels of format ``coco_results``.

    Raises:
        ImportFormatError: Naming the file and the field: a results entry that is not an
            object, has no ``image_id``, an unknown ``category_id``, or a ``score`` that is
            not a finite number.

    Example:
        >>> read_coco_results([{"image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1],
        ...                     "score": "high"}], categories={1: "car"})
        Traceback (most recent call last):
        ...
        synapse_nb.importers.errors.ImportFormatError: <object>: results[0].score = 'high' is \
not a finite number
    """
    where = name_of(results)
    entries = load_json(results)
    if not isinstance(entries, list):
        raise ImportFormatError(where, "results", type(entries).__name__, "is not a list")
    base: Mapping[str, Any] = {}
    if instances is not None:
        base = load_json(instances)
        _check_instances(base, name_of(instances))
    cats = _categories(base, categories)
    image_records = _images(base, images, entries, where)
    scored = [_check_result(n, e, cats, image_records, where) for n, e in enumerate(entries)]
    document = {
        "images": list(image_records.values()),
        "categories": list(cats.values()),
        "annotations": [e for e in scored if not e.get("keypoints")],
    }
    _check_masks({**document, "annotations": scored}, where, "results")
    labels = _labels(document, where, "coco_results")
    for entry in (e for e in scored if e.get("keypoints")):
        _add_pose(labels, entry, image_records[entry["image_id"]], cats[entry["category_id"]])
    return labels


def _check_instances(document: Any, where: str) -> None:
    if not isinstance(document, Mapping):
        raise ImportFormatError(where, "document", type(document).__name__, "is not a COCO object")
    for key in ("images", "categories"):
        if not isinstance(document.get(key), list):
            raise ImportFormatError(where, key, why="is missing or not a list")


def _check_masks(document: Mapping[str, Any], where: str, what: str) -> None:
    """RLE masks must be the size of their image, an image no larger than the converters
    accept: checked before anything is decoded (a few bytes of counts can claim gigabytes)."""
    sizes = {
        img.get("id"): (img.get("height"), img.get("width"))
        for img in document.get("images", [])
        if isinstance(img, Mapping)
    }
    for n, ann in enumerate(document.get("annotations", [])):
        rle = ann.get("segmentation") if isinstance(ann, Mapping) else None
        if not isinstance(rle, Mapping):
            continue
        height, width = sizes.get(ann.get("image_id"), (None, None))
        field = f"{what}[{n}].segmentation.size"
        if not isinstance(height, int) or not isinstance(width, int):
            raise ImportFormatError(
                where, field, rle.get("size"), "needs the image's width and height"
            )
        if height * width > MAX_IMAGE_PIXELS:
            raise ImportFormatError(
                where, field, [height, width], f"is over {MAX_IMAGE_PIXELS:,} pixels"
            )
        if list(rle.get("size") or []) != [height, width]:
            raise ImportFormatError(
                where,
                field,
                rle.get("size"),
                f"is not the image's [height, width] {[height, width]}",
            )


def _labels(document: Any, where: str, fmt: str) -> Labels:
    items, audit = from_coco(document)
    keys = {item["id"]: item["file_name"] for item in items}
    images = {
        item["file_name"]: LabelledImage(
            item["file_name"], item["data"], item.get("width"), item.get("height"), item["id"]
        )
        for item in items
    }
    return Labels(fmt, images, rekey_audit(audit, keys), where)


def _categories(
    base: Mapping[str, Any], given: Mapping[Any, str] | None
) -> dict[Any, dict[str, Any]]:
    """Category id -> category record (name, and the joint names of keypoint categories)."""
    cats = {
        c.get("id"): dict(c)
        for c in base.get("categories", [])
        if isinstance(c, Mapping) and c.get("name") is not None
    }
    for cat_id, name in (given or {}).items():
        cats[cat_id] = {**cats.get(cat_id, {}), "id": cat_id, "name": str(name)}
    return cats


def _images(
    base: Mapping[str, Any], given: Mapping[Any, Any] | None, entries: list[Any], where: str
) -> dict[Any, dict[str, Any]]:
    records = {
        img.get("id"): dict(img) for img in base.get("images", []) if isinstance(img, Mapping)
    }
    for image_id, value in (given or {}).items():
        record = dict(value) if isinstance(value, Mapping) else {"file_name": str(value)}
        records[image_id] = {**record, "id": image_id}
    if base or given:
        return records
    ids = dict.fromkeys(e.get("image_id") for e in entries if isinstance(e, Mapping))
    return {i: {"id": i, "file_name": str(i)} for i in ids if i is not None}


def _check_result(
    n: int,
    entry: Any,
    cats: Mapping[Any, Any],
    images: Mapping[Any, Any],
    where: str,
) -> dict[str, Any]:
    field = f"results[{n}]"
    if not isinstance(entry, Mapping):
        raise ImportFormatError(where, field, type(entry).__name__, "is not an object")
    if entry.get("image_id") not in images:
        raise ImportFormatError(
            where, f"{field}.image_id", entry.get("image_id"), "is not an image of the instances"
        )
    if entry.get("category_id") not in cats:
        raise ImportFormatError(
            where, f"{field}.category_id", entry.get("category_id"), "is not a known category"
        )
    score = number_or_none(entry.get("score"))
    if score is None:
        raise ImportFormatError(
            where, f"{field}.score", entry.get("score"), "is not a finite number"
        )
    attributes = dict(entry["attributes"]) if isinstance(entry.get("attributes"), Mapping) else {}
    return {**entry, "id": n + 1, "attributes": {**attributes, "score": score}}


def _add_pose(
    labels: Labels,
    entry: Mapping[str, Any],
    image: Mapping[str, Any],
    category: Mapping[str, Any],
) -> None:
    """A keypoints result, read alone so its joints can carry its score."""
    one = {"images": [image], "categories": [category], "annotations": [entry]}
    items, audit = from_coco(one)
    key = items[0]["file_name"]
    labels.audit.extend(rekey_audit(audit, {items[0]["id"]: key}))
    joints = items[0]["data"]["images"][0].get("keypoint", [])
    for joint in joints:
        joint["attrs"] = [{"name": "score", "value": entry["attributes"]["score"]}]
    target = labels.images[key]
    media = dict(target.data["images"][0])
    media["keypoint"] = [*media.get("keypoint", []), *joints]
    target.data = dm_document(media)
