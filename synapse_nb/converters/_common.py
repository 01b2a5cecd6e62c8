"""Shared pieces of the format converters: items, labels, class order, annotation checks."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from synapse_nb.annotations.geometry import polygon_area
from synapse_nb.annotations.skeleton import COCO_PERSON_SKELETON, PERSON_17
from synapse_nb.annotations.values import VISIBILITY_NAMES, attr_value, is_number, visibility_code
from synapse_nb.exceptions import InvalidInputError

from ._audit import Audit, Outcome, Reason

__all__ = [
    "COCO_PERSON_SKELETON",
    "PERSON_17",
    "VISIBILITY_NAMES",
    "YOLO_FLIP_IDX",
    "ImageItem",
    "attr_value",
    "collect_classes",
    "is_number",
    "normalize_label",
    "polygon_area",
    "resolve_class_order",
]

#: Ultralytics horizontal-flip permutation of the 17 joints.
YOLO_FLIP_IDX: list[int] = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]

#: Tools whose labels are object classes (keypoint labels are joint names instead).
CLASS_TOOLS = ("bounding_box", "polygon", "segmentation")
SEGMENTATION_MODES = ("instance", "semantic", "exclude")
_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+\Z")
#: What POSIX or Windows paths read as structure in a file name: separators, drives.
_PATH_SYNTAX = re.compile(r"[/\\:]")


@dataclass(frozen=True)
class ImageItem:
    """One image with its DM annotation document, as the format converters take it.

    Plain mappings with the same keys are accepted wherever an ``ImageItem`` is.

    Attributes:
        id: The export item id (task, assignment or ground-truth event id).
        data: DM v2 document (``{"images": [...]}``); DM v1 documents are detected and
            converted first.
        width: Image width in pixels (required by the format converters).
        height: Image height in pixels.
        file_name: Image file name; only its last path component is used. Defaults to
            the id.

    Example:
        >>> ImageItem(id=1, data={"images": [{}]}, width=640, height=480, file_name="a.jpg").leaf
        'a.jpg'
    """

    id: str | int
    data: Mapping[str, Any]
    width: int | None = None
    height: int | None = None
    file_name: str | None = None

    @property
    def leaf(self) -> str:
        """The file name without directories (the id when no file name was given)."""
        name = self.file_name if self.file_name else str(self.id)
        if isinstance(name, str) and not _PATH_SYNTAX.search(name) and name not in ("", "."):
            return name  # what both path flavours give for a plain name, without parsing it
        return PureWindowsPath(PurePosixPath(name).name).name

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``; the format converters check both are set before using it.

        Raises:
            ValueError: If either is missing.
        """
        if self.width is None or self.height is None:
            raise ValueError(f"item {self.id!r}: width and height are required, got None")
        return self.width, self.height

    @property
    def stem(self) -> str:
        """The leaf without its extension."""
        leaf = self.leaf
        dot = leaf.rfind(".")
        return (leaf[:dot] if 0 < dot < len(leaf) - 1 else leaf) or str(self.id)


#: The largest image (width x height) a converter accepts: mask outputs are allocated at this
#: size, so a document claiming a huge image must not drive allocations of many GiB. The same
#: bound as Pillow's decompression-bomb check; raise it when your images really are larger.
MAX_IMAGE_PIXELS = 89_478_485


class InputTypeError(InvalidInputError, TypeError):
    """An argument of the wrong type: an :class:`InvalidInputError` that is also the
    ``TypeError`` the converters raised for it before, so either ``except`` catches it.

    Example:
        >>> err = InputTypeError("items", None, "must be a list of items", method="to_coco")
        >>> isinstance(err, TypeError) and isinstance(err, ValueError), err.field
        (True, 'items')
    """


def coerce_items(
    items: Iterable[Any], *, need_size: bool, what: str, method: str | None = None
) -> list[ImageItem]:
    """Validate the input items of a converter and return them as ``ImageItem``.

    ``method`` (the converter's name) goes into the error raised for ``items`` that is
    not a list of items.
    """
    if isinstance(items, Mapping | str | bytes):
        raise InputTypeError(
            "items", items, f"must be a list of items, got a single {type(items).__name__}",
            method=method,
        )  # fmt: skip
    if not isinstance(items, Iterable):
        raise InputTypeError(
            "items", items, f"must be a list of items, got {type(items).__name__}", method=method
        )
    result: list[ImageItem] = []
    seen: set[Any] = set()
    for position, raw in enumerate(items):
        item = raw if isinstance(raw, ImageItem) else _item_from_mapping(raw, position)
        if isinstance(item.id, bool) or not isinstance(item.id, str | int) or item.id == "":
            raise ValueError(
                f"items[{position}].id must be a non-empty str or int, got {item.id!r}"
            )
        if item.id in seen:
            raise ValueError(f"item {item.id!r}: id is duplicated; item ids must be unique")
        seen.add(item.id)
        if not isinstance(item.data, Mapping):
            raise TypeError(
                f"item {item.id!r}: data must be a DM document mapping, "
                f"got {type(item.data).__name__}"
            )
        for name in ("width", "height"):
            value = getattr(item, name)
            if value is None:
                if need_size:
                    raise ValueError(f"item {item.id!r}: {name} is required for {what}, got None")
            elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"item {item.id!r}: {name} must be a positive integer, got {value!r}"
                )
        if item.width and item.height and item.width * item.height > MAX_IMAGE_PIXELS:
            # sizes come from the input and size the masks converters allocate
            raise ValueError(
                f"item {item.id!r}: width x height = {item.width} x {item.height} is over the "
                f"limit of {MAX_IMAGE_PIXELS:,} pixels (converters.MAX_IMAGE_PIXELS)"
            )
        if item.file_name is not None and (not isinstance(item.file_name, str) or not item.leaf):
            raise ValueError(
                f"item {item.id!r}: file_name must be a non-empty string, got {item.file_name!r}"
            )
        result.append(item)
    return result


def _item_from_mapping(raw: Any, position: int) -> ImageItem:
    if not isinstance(raw, Mapping):
        raise TypeError(
            f"items[{position}] must be an ImageItem or a mapping, got {type(raw).__name__}"
        )
    if "id" not in raw or "data" not in raw:
        raise ValueError(f"items[{position}] needs 'id' and 'data' keys, got {sorted(raw)}")
    return ImageItem(
        id=raw["id"],
        data=raw["data"],
        width=raw.get("width"),
        height=raw.get("height"),
        file_name=raw.get("file_name"),
    )


def normalize_label(label: Any) -> str | None:
    """Trim and NFC-normalise a class label; None for anything that is not a usable label.

    Example:
        >>> normalize_label("  cafe\\u0301 ")
        'café'
        >>> normalize_label("") is None
        True
    """
    if not isinstance(label, str):
        return None
    text = unicodedata.normalize("NFC", label.strip())
    return text or None


def configured_class_names(classes: Any) -> list[str] | None:
    """Class names from a list, or from either shape of a project configuration."""
    if classes is None:
        return None
    if isinstance(classes, list | tuple) and all(type(name) is str for name in classes):
        # an exporter passes its run-wide list once per item: normalise it once
        return list(_names_of(tuple(classes)))
    return _class_names(classes)


@lru_cache(maxsize=32)
def _names_of(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_class_names(names))


def _class_names(classes: Any) -> list[str]:
    if isinstance(classes, str | bytes) or not isinstance(classes, Iterable):
        raise InputTypeError(
            "classes", classes, "must be a list of class names or a configuration mapping"
        )
    names: list[tuple[str, Any]] = []  # (field naming where it came from, name)
    if isinstance(classes, Mapping):
        prefix = "classes"
        if isinstance(classes.get("classification"), Mapping):
            classes, prefix = classes["classification"], "classes['classification']"
        for tool, spec in classes.items():
            if tool not in CLASS_TOOLS:
                continue
            field = f"{prefix}[{tool!r}]"
            if isinstance(spec, Mapping):  # {tool: {classification_schema: [{code}]}}
                schema = spec.get("classification_schema") or []
                if isinstance(schema, str | bytes) or not isinstance(schema, Iterable):
                    raise InvalidInputError(
                        f"{field}['classification_schema']", schema, "must be a list"
                    )
                names.extend(
                    (
                        f"{field}['classification_schema'][{i}]",
                        entry.get("code") if isinstance(entry, Mapping) else entry,
                    )
                    for i, entry in enumerate(schema)
                )
            elif isinstance(spec, Sequence) and not isinstance(spec, str | bytes):
                names.extend((f"{field}[{i}]", name) for i, name in enumerate(spec))
            else:
                raise InvalidInputError(field, spec, "must be a list or a schema mapping")
    else:
        names = [(f"classes[{i}]", name) for i, name in enumerate(classes)]
    out: list[str] = []
    for field, name in names:
        label = normalize_label(name)
        if label is None:
            raise InvalidInputError(field, name, "class names must be non-empty strings")
        if label not in out:
            out.append(label)
    return out


def resolve_class_order(
    observed: Iterable[str], classes: Any = None, audit: Audit | None = None
) -> list[str]:
    """Run-wide class order: configured classes first, then unconfigured ones lexically.

    Without a configuration the order is lexical and the warning
    ``CLASS_SCHEMA_UNAVAILABLE`` goes to ``audit``. YOLO numbers this list from 0, COCO
    and Pascal VOC from 1.

    Args:
        observed: Labels seen in the data.
        classes: None, a list of class names, or a project configuration
            (``{tool: [names]}`` or ``{tool: {"classification_schema": [{"code": ...}]}}``,
            optionally under a ``"classification"`` key).
        audit: Where the warning goes.

    Returns:
        The ordered, de-duplicated class names.

    Example:
        >>> resolve_class_order(["truck", "car", "bus"], ["car"])
        ['car', 'bus', 'truck']
    """
    configured = configured_class_names(classes)
    seen = {label for label in (normalize_label(o) for o in observed) if label}
    if configured is None:
        if audit is not None:
            audit.warn(
                Reason.CLASS_SCHEMA_UNAVAILABLE,
                "no class configuration given; classes are numbered in lexical order",
            )
        return sorted(seen)
    return configured + sorted(seen - set(configured))


def collect_classes(items: Iterable[Any]) -> list[str]:
    """All object-class labels (boxes, polygons, masks) in the first image of each item.

    Use it with :func:`resolve_class_order` to fix one class order before converting
    items in batches, so class ids agree across batches.

    Example:
        >>> collect_classes([{"id": 1, "data": {"images": [
        ...     {"bounding_box": [{"id": "a", "classification": "car", "data": [0, 0, 1, 1]}]}]}}])
        ['car']
    """
    labels: set[str] = set()
    for item in coerce_items(
        items, need_size=False, what="collect_classes", method="collect_classes"
    ):
        media = first_image(dm_v2_document(item.data))
        for tool in CLASS_TOOLS:
            for ann in media.get(tool) or []:
                label = (
                    normalize_label(ann.get("classification")) if isinstance(ann, Mapping) else None
                )
                if label:
                    labels.add(label)
    return sorted(labels)


def is_dm_v1(data: Mapping[str, Any]) -> bool:
    return "annotations" in data and "annotationsData" in data


def dm_v2_document(
    data: Mapping[str, Any], item_id: Any = None, audit: Audit | None = None
) -> Mapping[str, Any]:
    """The DM v2 document of an item's data (v1 converted; v1->v2 output unwrapped)."""
    if "annotation_data" in data and isinstance(data["annotation_data"], Mapping):
        return data["annotation_data"]
    if is_dm_v1(data):
        from .dm import dm_v1_to_v2

        converted, sub_audit = dm_v1_to_v2(data, item_id=item_id)
        if audit is not None:
            audit.extend(sub_audit)
        return converted["annotation_data"]
    return data


def first_image(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    images = doc.get("images")
    if isinstance(images, list) and images and isinstance(images[0], Mapping):
        return images[0]
    return {}


def image_tools(item: ImageItem, audit: Audit, target: str) -> dict[str, list[dict[str, Any]]]:
    """Annotations of ``images[0]`` by tool, with malformed ones audited and removed.

    Everything a format converter never reads (other images, other media) is audited
    here, so nothing is dropped silently.
    """
    doc = dm_v2_document(item.data, item.id, audit)
    if "images" in doc and not isinstance(doc["images"], list):
        audit.add(
            item.id,
            None,
            "images",
            Outcome.FAILED,
            Reason.MALFORMED_ANNOTATION,
            f"data['images'] must be a list, got {type(doc['images']).__name__}: "
            "item not converted",
            target,
        )
        return {}
    for key, media_list in doc.items():
        if key == "classification" or not isinstance(media_list, list):
            continue
        for position, media in enumerate(media_list):
            if key == "images" and position == 0:
                continue
            reason = (
                Reason.EXTRA_IMAGE_IGNORED if key == "images" else Reason.UNSUPPORTED_MEDIA_TYPE
            )
            for tool, anns in media.items() if isinstance(media, Mapping) else []:
                for ann in anns if isinstance(anns, list) else []:
                    audit.add(
                        item.id,
                        _ann_id(ann),
                        tool,
                        Outcome.SKIPPED,
                        reason,
                        f"{key}[{position}] is not converted; only images[0] is",
                        target,
                    )

    media = first_image(doc)
    tools: dict[str, list[dict[str, Any]]] = {}
    counts: dict[Any, int] = {}  # keyed by the stated id, whatever its type (checked below)
    for tool, anns in media.items():
        if not isinstance(anns, list):
            audit.add(
                item.id,
                None,
                str(tool),
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                f"images[0][{tool!r}] must be a list, got {type(anns).__name__}",
                target,
            )
            continue
        for ann in anns:
            if isinstance(ann, Mapping) and isinstance(ann.get("id"), str):  # others fail below
                counts[ann["id"]] = counts.get(ann["id"], 0) + 1
    for tool, anns in media.items():
        if not isinstance(anns, list):
            continue
        kept = []
        for ann in anns:
            problem = _id_problem(ann, counts)
            if problem:
                audit.add(
                    item.id,
                    _ann_id(ann),
                    tool,
                    Outcome.FAILED,
                    Reason.MALFORMED_ANNOTATION,
                    problem,
                    target,
                )
            else:
                kept.append(ann)
        tools[tool] = kept
    return tools


def _ann_id(ann: Any) -> str | None:
    value = ann.get("id") if isinstance(ann, Mapping) else None
    return value if isinstance(value, str) else None


def _id_problem(ann: Any, counts: Mapping[Any, int]) -> str:
    if not isinstance(ann, Mapping):
        return f"annotation must be a mapping, got {type(ann).__name__}"
    ann_id = ann.get("id")
    if not isinstance(ann_id, str) or not _ID_PATTERN.match(ann_id):
        return f"id must match ^[a-zA-Z0-9_-]+$, got {ann_id!r}"
    if counts.get(ann_id, 0) > 1:
        return f"id {ann_id!r} is used {counts[ann_id]} times in this image"
    attrs = ann.get("attrs")
    if attrs is not None and not (
        isinstance(attrs, list) and all(isinstance(a, Mapping) for a in attrs)
    ):
        return f"attrs must be a list of {{name, value}} mappings, got {str(attrs)[:60]}"
    return ""


def audit_unsupported(
    item_id: Any,
    tools: Mapping[str, list[Any]],
    supported: Iterable[str],
    audit: Audit,
    target: str,
) -> None:
    """Audit every annotation of a tool the target cannot hold as skipped."""
    handled = set(supported)
    for tool, anns in tools.items():
        if tool in handled:
            continue
        for ann in anns:
            audit.add(
                item_id,
                _ann_id(ann),
                tool,
                Outcome.SKIPPED,
                Reason.UNSUPPORTED_ANNOTATION_TYPE,
                f"{target} has no representation for {tool!r}",
                target,
            )


def bbox_of(ann: Mapping[str, Any]) -> tuple[float, float, float, float] | str:
    """``(x, y, w, h)`` of a bounding_box annotation, or a problem description."""
    data = ann.get("data")
    if not (isinstance(data, list | tuple) and len(data) == 4 and all(is_number(v) for v in data)):
        return f"bounding_box data must be [x, y, width, height] numbers, got {data!r}"
    x, y, w, h = (float(v) for v in data)
    if w <= 0 or h <= 0:
        return f"bounding_box width and height must be > 0, got {w:g}x{h:g}"
    return x, y, w, h


def points_of(ann: Mapping[str, Any], tool: str = "polygon") -> list[tuple[float, float]] | str:
    """Points of a polygon annotation (>= 3 distinct, positive area), or a problem."""
    data = ann.get("data")
    if not isinstance(data, list) or not all(
        isinstance(p, list | tuple) and len(p) == 2 and all(is_number(v) for v in p) for p in data
    ):
        return f"{tool} data must be a list of [x, y] numbers, got {str(data)[:80]}"
    points = [(float(x), float(y)) for x, y in data]
    if len(set(points)) < 3:
        return f"{tool} needs at least 3 distinct points, got {len(set(points))}"
    if polygon_area(points) <= 0:
        return f"{tool} has zero area"
    return points


def rotation_of(ann: Mapping[str, Any]) -> float:
    value = attr_value(ann, "rotation")
    return float(value) if is_number(value) else 0.0


def custom_attrs(ann: Mapping[str, Any]) -> list[dict[str, Any]]:
    """User attrs: not internal (``_`` prefix) and not the box ``rotation``."""
    return [
        dict(a)
        for a in ann.get("attrs") or []
        if isinstance(a, Mapping)
        and isinstance(a.get("name"), str)
        and not a["name"].startswith("_")
        and a["name"] != "rotation"
    ]


def visibility_of(ann: Mapping[str, Any]) -> int | None:
    """Keypoint visibility as 0/1/2 (lower-case names accepted; missing means visible), or
    None when the stated value is not one of those."""
    value = ann.get("visibility", 2)
    if isinstance(value, str) and value not in VISIBILITY_NAMES:
        return None
    code = visibility_code(value)
    return code if code in (0, 1, 2) else None


def check_segmentation_mode(mode: Any) -> str:
    if mode not in SEGMENTATION_MODES:
        raise ValueError(f"segmentation_mode must be one of {SEGMENTATION_MODES}, got {mode!r}")
    return mode


def new_id() -> str:
    """A fresh DM annotation id (10 hex characters, as the SDK's to-DM converters make)."""
    return uuid.uuid4().hex[:10]


def make_dm_document(media: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A DM v2 document for one image, with the top-level per-tool label map."""
    classification: dict[str, list[str]] = {}
    for tool, anns in media.items():
        labels = sorted(
            {a["classification"] for a in anns if isinstance(a.get("classification"), str)}
        )
        if labels:
            classification[tool] = labels
    return {"classification": classification, "images": [dict(media)]}


def unique_stems(items: Sequence[ImageItem]) -> tuple[dict[Any, str], list[dict[str, Any]]]:
    """Collision-free output stems: a stem used twice becomes ``<stem>__<item id>``."""
    by_stem: dict[str, list[ImageItem]] = {}
    for item in items:
        by_stem.setdefault(item.stem, []).append(item)
    stems: dict[Any, str] = {}
    collisions: list[dict[str, Any]] = []
    for stem, group in by_stem.items():
        if len(group) == 1:
            stems[group[0].id] = stem
            continue
        renamed = {item.id: f"{stem}__{item.id}" for item in group}
        stems.update(renamed)
        collisions.append(
            {"stem": stem, "item_ids": [i.id for i in group], "renamed_to": list(renamed.values())}
        )
    return stems, collisions
