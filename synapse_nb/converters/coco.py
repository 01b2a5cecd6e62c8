"""DM v2 <-> COCO (instances, person_keypoints, stuff)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ._audit import Audit, Outcome, Reason
from ._common import (
    COCO_PERSON_SKELETON,
    PERSON_17,
    ImageItem,
    InputTypeError,
    InvalidInputError,
    attr_value,
    audit_unsupported,
    bbox_of,
    check_segmentation_mode,
    coerce_items,
    custom_attrs,
    image_tools,
    is_number,
    make_dm_document,
    new_id,
    normalize_label,
    points_of,
    polygon_area,
    resolve_class_order,
    rotation_of,
)
from ._pose import note_zeroed_joints, pose_groups
from .masks import MaskError, coco_rle_decode, coco_rle_encode, decode_mask, encode_mask

__all__ = ["COCO_ROLES", "from_coco", "to_coco", "write_coco"]

#: The three COCO files, in the order they are written.
COCO_ROLES = ("instances", "person_keypoints", "stuff")
_TARGET = "coco"
_SUPPORTED = ("bounding_box", "polygon", "segmentation", "keypoint")


def to_coco(
    items: Iterable[ImageItem | Mapping[str, Any]],
    *,
    classes: Any = None,
    segmentation_mode: str = "instance",
) -> tuple[dict[str, dict[str, Any]], Audit]:
    """Convert DM items to the three COCO documents.

    * ``instances``: boxes (``bbox`` as is, ``area = w*h``), polygons (flat ring, tight box,
      shoelace area), and masks in ``instance`` mode (compressed RLE, pixel-count area,
      pixel-inclusive box).
    * ``person_keypoints``: one annotation per Person-17 skeleton group (``group_id``), 17
      ``x, y, v`` slots, box around the visible joints, category ``person`` (id 1).
    * ``stuff``: masks in ``semantic`` mode.

    Category ids follow the run-wide class order from 1. Custom attrs are kept in each
    annotation's ``attributes`` mapping (a common COCO extension), and each image carries
    its ``item_id``; pycocotools ignores both. Everything else is audited.

    Args:
        items: :class:`ImageItem` objects or mappings with ``id``, ``data``, ``width``,
            ``height`` and optional ``file_name``.
        classes: Class configuration (see :func:`resolve_class_order`).
        segmentation_mode: ``"instance"`` (default), ``"semantic"`` or ``"exclude"``.

    Returns:
        ``({"instances": {...}, "person_keypoints": {...}, "stuff": {...}}, audit)``.

    Raises:
        ValueError: If an item lacks width/height, ids repeat, or the mode is unknown.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> coco, audit = to_coco([item], classes=["car"])
        >>> coco["instances"]["annotations"][0]["bbox"], len(audit)
        ([100.0, 120.0, 200.0, 80.0], 0)
    """
    mode = check_segmentation_mode(segmentation_mode)
    checked = coerce_items(items, need_size=True, what="COCO export", method="to_coco")
    audit = Audit()
    prepared = [(item, image_tools(item, audit, _TARGET)) for item in checked]
    observed = [
        label
        for _, tools in prepared
        for tool in ("bounding_box", "polygon", "segmentation")
        for label in (normalize_label(a.get("classification")) for a in tools.get(tool, []))
        if label
    ]
    order = resolve_class_order(observed, classes, audit)
    cat_id = {name: i + 1 for i, name in enumerate(order)}

    images = [
        {
            "id": n + 1,
            "file_name": f"images/{item.leaf}",
            "width": item.width,
            "height": item.height,
            "item_id": item.id,
        }
        for n, item in enumerate(checked)
    ]
    out = {role: _empty_document(images) for role in COCO_ROLES}
    categories = [{"id": cat_id[name], "name": name, "supercategory": ""} for name in order]
    out["instances"]["categories"] = categories
    out["stuff"]["categories"] = [dict(c) for c in categories]
    out["person_keypoints"]["categories"] = [
        {
            "id": 1,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(PERSON_17),
            "skeleton": [list(edge) for edge in COCO_PERSON_SKELETON],
        }
    ]

    for image_id, (item, tools) in enumerate(prepared, start=1):  # the ids of ``images``
        writer = _ItemWriter(item, image_id, cat_id, mode, audit, out)
        writer.run(tools)
    for role in COCO_ROLES:
        for n, ann in enumerate(out[role]["annotations"]):
            ann["id"] = n + 1
    return out, audit


def _empty_document(images: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "info": {"description": "Exported by synapse_nb from DM v2", "version": "1.0"},
        "licenses": [],
        "images": [dict(image) for image in images],
        "annotations": [],
        "categories": [],
    }


class _ItemWriter:
    def __init__(
        self,
        item: ImageItem,
        image_id: int,
        cat_id: Mapping[str, int],
        mode: str,
        audit: Audit,
        out: dict[str, dict[str, Any]],
    ) -> None:
        self.item, self.image_id, self.cat_id, self.mode = item, image_id, cat_id, mode
        self.audit, self.out = audit, out

    def note(
        self, ann_id: str | None, tool: str, outcome: Outcome, reason: Reason, detail: str
    ) -> None:
        self.audit.add(self.item.id, ann_id, tool, outcome, reason, detail, _TARGET)

    def emit(self, role: str, ann: Mapping[str, Any], label: str, **fields: Any) -> None:
        record: dict[str, Any] = {
            "id": 0,
            "image_id": self.image_id,
            "category_id": self.cat_id[label],
            "iscrowd": 0,
        }
        record.update(fields)
        attrs = custom_attrs(ann)
        rotation = attr_value(ann, "rotation")
        if attrs or rotation is not None:
            record["attributes"] = {a["name"]: a.get("value") for a in attrs}
            if rotation is not None:
                record["attributes"]["rotation"] = rotation
        self.out[role]["annotations"].append(record)

    def label(self, ann: Mapping[str, Any], tool: str) -> str | None:
        label = normalize_label(ann.get("classification"))
        if label is None:
            self.note(
                ann["id"],
                tool,
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                f"classification must be a non-empty label, got {ann.get('classification')!r}",
            )
        return label

    def run(self, tools: Mapping[str, list[dict[str, Any]]]) -> None:
        for ann in tools.get("bounding_box", []):
            self.box(ann)
        for ann in tools.get("polygon", []):
            self.polygon(ann)
        for ann in tools.get("segmentation", []):
            self.mask(ann)
        self.poses(tools.get("keypoint", []))
        audit_unsupported(self.item.id, tools, _SUPPORTED, self.audit, _TARGET)

    def box(self, ann: Mapping[str, Any]) -> None:
        box = bbox_of(ann)
        if isinstance(box, str):
            self.note(ann["id"], "bounding_box", Outcome.FAILED, Reason.MALFORMED_ANNOTATION, box)
            return
        label = self.label(ann, "bounding_box")
        if label is None:
            return
        if rotation_of(ann):
            self.note(
                ann["id"],
                "bounding_box",
                Outcome.LOSSY,
                Reason.UNSUPPORTED_ORIENTED_BOUNDING_BOX,
                f"rotation {rotation_of(ann)!r} rad: bbox written axis-aligned (angle kept in "
                "attributes)",
            )
        x, y, w, h = box
        self.emit("instances", ann, label, bbox=[x, y, w, h], area=w * h, segmentation=[])

    def polygon(self, ann: Mapping[str, Any]) -> None:
        points = points_of(ann)
        if isinstance(points, str):
            self.note(ann["id"], "polygon", Outcome.FAILED, Reason.MALFORMED_ANNOTATION, points)
            return
        label = self.label(ann, "polygon")
        if label is None:
            return
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        flat = [v for point in points for v in point]
        self.emit(
            "instances", ann, label, bbox=bbox, area=polygon_area(points), segmentation=[flat]
        )

    def mask(self, ann: Mapping[str, Any]) -> None:
        if self.mode == "exclude":
            self.note(
                ann["id"],
                "segmentation",
                Outcome.SKIPPED,
                Reason.SEGMENTATION_EXCLUDED,
                "segmentation_mode is 'exclude'",
            )
            return
        try:
            mask = decode_mask(ann, *self.item.size)
        except MaskError as exc:
            self.note(
                ann["id"], "segmentation", Outcome.FAILED, Reason.INVALID_MASK_ENCODING, str(exc)
            )
            return
        if not mask.any():
            self.note(
                ann["id"],
                "segmentation",
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                "mask is empty",
            )
            return
        label = self.label(ann, "segmentation")
        if label is None:
            return
        rows, cols = np.nonzero(mask)
        bbox = [
            float(cols.min()),
            float(rows.min()),
            float(cols.max() - cols.min() + 1),
            float(rows.max() - rows.min() + 1),
        ]
        role = "instances" if self.mode == "instance" else "stuff"
        self.emit(
            role, ann, label, bbox=bbox, area=float(mask.sum()), segmentation=coco_rle_encode(mask)
        )

    def poses(self, keypoints: list[dict[str, Any]]) -> None:
        for group in pose_groups(self.item.id, keypoints, self.audit, _TARGET):
            slots: list[float] = []
            for name in PERSON_17:
                x, y, v, _ = group.joints.get(name, (0.0, 0.0, 0, ""))
                slots += [x, y, v] if v > 0 else [0, 0, 0]
            extent = group.visible_extent() or (0.0, 0.0, 0.0, 0.0)
            record = {
                "id": 0,
                "image_id": self.image_id,
                "category_id": 1,
                "iscrowd": 0,
                "keypoints": slots,
                "num_keypoints": sum(1 for _, _, v, _ in group.joints.values() if v > 0),
                "bbox": list(extent),
                "area": extent[2] * extent[3],
                "segmentation": [],
            }
            self.out["person_keypoints"]["annotations"].append(record)
            note_zeroed_joints(self.item.id, group, self.audit, _TARGET)


def write_coco(coco: Mapping[str, Mapping[str, Any]], out_dir: str | PathLike[str]) -> list[Path]:
    """Write the documents of :func:`to_coco` as ``<role>.json`` files (and ``images/``).

    Args:
        coco: The first element of :func:`to_coco`'s result.
        out_dir: Directory to write into (created if missing).

    Returns:
        Paths of the written JSON files.

    Raises:
        InvalidInputError: ``coco`` is not such a dict (also a ``TypeError``), or has an
            unknown role; nothing is written then.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> coco, _ = to_coco([item], classes=["car"])
        >>> [p.name for p in write_coco(coco, "export/coco")]
        ['instances.json', 'person_keypoints.json', 'stuff.json']
    """
    if not isinstance(coco, Mapping):
        raise InputTypeError(
            "coco", coco, "must be the {role: document} dict of to_coco()", method="write_coco"
        )
    for role, document in coco.items():
        if role not in COCO_ROLES:
            raise InvalidInputError(
                "coco", role, f"unknown COCO role; expected one of {COCO_ROLES}",
                method="write_coco",
            )  # fmt: skip
        if not isinstance(document, Mapping):
            raise InputTypeError(
                f"coco[{role!r}]", document, "must be a COCO document dict", method="write_coco"
            )
    if not isinstance(out_dir, str | PathLike) or not str(out_dir):
        raise InputTypeError("out_dir", out_dir, "must be a directory path", method="write_coco")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    written = []
    for role, document in coco.items():
        path = out / f"{role}.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written


def _load_documents(source: Any) -> list[Mapping[str, Any]]:
    if isinstance(source, str | PathLike):
        path = Path(source)
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        return [json.loads(f.read_text(encoding="utf-8")) for f in files]
    if isinstance(source, Mapping):
        if "images" in source or "annotations" in source:
            return [source]
        return [doc for doc in source.values() if isinstance(doc, Mapping)]
    if isinstance(source, Sequence):
        return [doc for entry in source for doc in _load_documents(entry)]
    raise InputTypeError(
        "coco", source, "must be a COCO dict, a mapping/list of them or a path",
        method="from_coco",
    )  # fmt: skip


def _entries(doc: Mapping[str, Any], key: str) -> list[Any]:
    """``doc[key]`` (absent: empty), which must be a list."""
    if key not in doc:
        return []
    value = doc[key]
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise InputTypeError(f"coco[{key!r}]", value, "must be a list", method="from_coco")
    return list(value)


def from_coco(coco: Any) -> tuple[list[dict[str, Any]], Audit]:
    """Convert COCO documents back to DM v2 items.

    Boxes without segmentation become ``bounding_box``; polygon segmentations become
    ``polygon`` (one per ring); RLE segmentations become ``segmentation`` masks
    (``dm_rle``); keypoint annotations become Person-17 (or the category's) keypoints with
    their visibility, a shared ``group_id`` and the COCO box as ``group_bbox``; joints with
    v=0 are left out. ``attributes`` become attrs. Images are matched across documents by
    file name.

    Args:
        coco: A COCO dict, the ``{role: dict}`` result of :func:`to_coco`, a list of
            dicts, or a path to a JSON file or a directory of them.

    Returns:
        ``(items, audit)``; each item has ``id`` (the ``item_id`` stored by
        :func:`to_coco`, else the COCO image id), ``file_name``, ``width``, ``height`` and
        ``data`` (a DM v2 document).

    Raises:
        InvalidInputError: ``coco`` (or its ``images``, ``annotations`` or ``categories``)
            has the wrong type (also a ``TypeError``); malformed annotations are audited.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> coco, _ = to_coco([item], classes=["car"])
        >>> items, audit = from_coco(coco)
        >>> items[0]["data"]["images"][0]["bounding_box"][0]["data"]
        [100.0, 120.0, 200.0, 80.0]
    """
    audit = Audit()
    items: dict[str, dict[str, Any]] = {}
    media: dict[str, dict[str, list[dict[str, Any]]]] = {}
    documents = _load_documents(coco)
    for doc in documents:
        if not isinstance(doc, Mapping):
            raise InputTypeError("coco", doc, "must hold COCO dicts", method="from_coco")
        for key in ("categories", "images", "annotations"):
            _entries(doc, key)
        for position, image in enumerate(_entries(doc, "images")):
            if not isinstance(image, Mapping):
                raise InputTypeError(
                    f"coco['images'][{position}]", image, "must be a dict", method="from_coco"
                )
    for doc in documents:
        categories = {c.get("id"): c for c in _entries(doc, "categories") if isinstance(c, Mapping)}
        by_image: dict[Any, str] = {}
        for image in _entries(doc, "images"):
            leaf = PurePosixPath(str(image.get("file_name", image.get("id")))).name
            by_image[image.get("id")] = leaf
            items.setdefault(
                leaf,
                {
                    "id": image.get("item_id", image.get("id")),
                    "file_name": leaf,
                    "width": image.get("width"),
                    "height": image.get("height"),
                },
            )
            media.setdefault(leaf, {})
        for ann in _entries(doc, "annotations"):
            if not isinstance(ann, Mapping):
                audit.add(
                    None,
                    None,
                    "coco_annotation",
                    Outcome.FAILED,
                    Reason.MALFORMED_ANNOTATION,
                    f"annotation must be a dict, got {type(ann).__name__}",
                    "dm_v2",
                )
                continue
            owner = by_image.get(ann.get("image_id"))
            if owner is None:
                audit.add(
                    None,
                    None,
                    "coco_annotation",
                    Outcome.FAILED,
                    Reason.MALFORMED_ANNOTATION,
                    f"annotation {ann.get('id')!r} refers to unknown image {ann.get('image_id')!r}",
                    "dm_v2",
                )
                continue
            _import_annotation(ann, categories, items[owner], media[owner], audit)
    result = []
    for leaf, item in items.items():
        result.append({**item, "data": make_dm_document(media[leaf])})
    return result, audit


def _attrs(ann: Mapping[str, Any]) -> list[dict[str, Any]]:
    attributes = ann.get("attributes")
    if not isinstance(attributes, Mapping):
        return []
    return [{"name": str(k), "value": v} for k, v in attributes.items()]


def _import_annotation(
    ann: Mapping[str, Any],
    categories: Mapping[Any, Mapping[str, Any]],
    item: Mapping[str, Any],
    media: dict[str, list[dict[str, Any]]],
    audit: Audit,
) -> None:
    def fail(detail: str, reason: Reason = Reason.MALFORMED_ANNOTATION) -> None:
        audit.add(
            item["id"],
            str(ann.get("id")),
            "coco_annotation",
            Outcome.FAILED,
            reason,
            detail,
            "dm_v2",
        )

    category = categories.get(ann.get("category_id"))
    if category is None:
        fail(f"category_id {ann.get('category_id')!r} is not in categories")
        return
    name = category.get("name")
    keypoints = ann.get("keypoints")
    segmentation = ann.get("segmentation")
    if keypoints:
        _import_pose(ann, category, item, media, fail)
    if isinstance(segmentation, Mapping):
        try:
            if isinstance(segmentation.get("counts"), list) and segmentation.get("size") is None:
                raise MaskError("uncompressed RLE needs a size")
            mask = coco_rle_decode(segmentation)
            if mask.shape != (item["height"], item["width"]):
                raise MaskError(f"RLE size {list(mask.shape)} differs from the image's")
        except (MaskError, TypeError, ValueError) as exc:
            fail(f"segmentation: {exc}", Reason.INVALID_MASK_ENCODING)
            return
        media.setdefault("segmentation", []).append(
            {"id": new_id(), "classification": name, "attrs": _attrs(ann), **encode_mask(mask)}
        )
    elif isinstance(segmentation, list) and segmentation:
        rings = [r for r in segmentation if isinstance(r, list) and len(r) >= 6 and len(r) % 2 == 0]
        if len(rings) != len(segmentation) or not all(is_number(v) for r in rings for v in r):
            fail(f"polygon segmentation must be rings of >= 3 x,y pairs: {str(segmentation)[:50]}")
            return
        ids = []
        for ring in rings:
            ids.append(new_id())
            points = [[ring[i], ring[i + 1]] for i in range(0, len(ring), 2)]
            media.setdefault("polygon", []).append(
                {"id": ids[-1], "classification": name, "attrs": _attrs(ann), "data": points}
            )
        if len(rings) > 1:
            for ann_id in ids:
                audit.add(
                    item["id"],
                    ann_id,
                    "polygon",
                    Outcome.LOSSY,
                    Reason.MULTIPART_POLYGON_SPLIT,
                    f"COCO annotation {ann.get('id')!r}: {len(rings)} rings became polygons",
                    "dm_v2",
                )
    elif not keypoints:
        box = ann.get("bbox")
        if not (isinstance(box, list) and len(box) == 4 and all(is_number(v) for v in box)):
            fail(f"bbox must be [x, y, w, h] numbers, got {box!r}")
            return
        attrs = _attrs(ann)
        media.setdefault("bounding_box", []).append(
            {
                "id": new_id(),
                "classification": name,
                "attrs": attrs,
                "data": [float(v) for v in box],
            }
        )


def _import_pose(
    ann: Mapping[str, Any],
    category: Mapping[str, Any],
    item: Mapping[str, Any],
    media: dict[str, list[dict[str, Any]]],
    fail: Any,
) -> None:
    keypoints = ann["keypoints"]
    if not (
        isinstance(keypoints, list)
        and len(keypoints) % 3 == 0
        and all(is_number(v) for v in keypoints)
    ):
        fail(f"keypoints must be a flat list of x, y, v triplets, got {str(keypoints)[:60]}")
        return
    names = category.get("keypoints") or []
    group_id = new_id()
    box = ann.get("bbox")
    group_box = [float(v) for v in box] if isinstance(box, list) and len(box) == 4 else None
    for slot in range(len(keypoints) // 3):
        x, y, v = keypoints[3 * slot : 3 * slot + 3]
        if int(v) == 0:
            continue  # a missing joint carries no position
        joint = {
            "id": new_id(),
            "classification": names[slot] if slot < len(names) else f"keypoint_{slot}",
            "attrs": [],
            "data": [float(x), float(y)],
            "visibility": int(v),
            "group_id": group_id,
        }
        if group_box and group_box[2] > 0 and group_box[3] > 0:
            joint["group_bbox"] = group_box
        media.setdefault("keypoint", []).append(joint)
