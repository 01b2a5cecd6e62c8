"""DM v2 <-> Pascal VOC (XML boxes, class/object PNG masks)."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ._audit import Audit, Outcome, Reason
from ._common import (
    ImageItem,
    InputTypeError,
    InvalidInputError,
    audit_unsupported,
    bbox_of,
    check_segmentation_mode,
    coerce_items,
    custom_attrs,
    image_tools,
    make_dm_document,
    new_id,
    normalize_label,
    points_of,
    resolve_class_order,
    rotation_of,
    unique_stems,
)
from .jsontext import write_json
from .masks import MaskError, decode_mask, encode_mask

__all__ = ["from_voc", "read_voc", "to_voc", "voc_palette", "write_voc"]

_MAX_ID = 254  # 0 is background, 255 is VOC's "void" border value
_SPLITS = ("train", "val", "test")
_BOOL_TAGS = ("truncated", "difficult", "occluded")


def voc_palette() -> list[int]:
    """The standard 256-colour Pascal VOC palette as a flat ``[r, g, b, ...]`` list.

    Example:
        >>> voc_palette()[3:6]
        [128, 0, 0]
    """
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette += [r, g, b]
    return palette


def _split_of(item_id: Any, splits: Mapping[Any, str] | None) -> str:
    if splits is not None and item_id in splits:
        return splits[item_id]
    bucket = int(hashlib.sha256(str(item_id).encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "val"


def to_voc(
    items: Iterable[ImageItem | Mapping[str, Any]],
    *,
    classes: Any = None,
    segmentation_mode: str = "instance",
    splits: Mapping[Any, str] | None = None,
) -> tuple[dict[str, Any], Audit]:
    """Convert DM items to Pascal VOC.

    Boxes become XML ``<object>`` entries (``xmin = round(x)``, ``xmax = round(x + w)``,
    integers, no +1 shift; must lie inside the image). Polygons and masks are painted into
    ``SegmentationClass`` (class id) and ``SegmentationObject`` (instance 1..254 in
    annotation-id order) arrays; semantic masks are painted first and only into the class
    array. Rotated boxes are skipped; attrs, rounding and rasterising are audited as lossy.

    Args:
        items: :class:`ImageItem` objects or mappings with ``id``, ``data``, ``width``,
            ``height`` and optional ``file_name``.
        classes: Class configuration (see :func:`resolve_class_order`); ids from 1.
        segmentation_mode: ``"instance"`` (default), ``"semantic"`` or ``"exclude"``.
        splits: Explicit split per item id (``"train"``, ``"val"`` or ``"test"``); other
            items go to train when ``sha256(item_id) % 100 < 80``, else val.

    Returns:
        ``(result, audit)`` where ``result`` has ``labelmap`` (names by id, 0 =
        ``background``), ``annotations`` (XML text per stem), ``segmentation_class`` and
        ``segmentation_object`` (uint8 arrays per stem, only for items with segments),
        ``image_sets`` (``{"Main": {split: [stems]}, "Segmentation": {...}}``), ``items``
        and ``filename_collisions``.

    Raises:
        ValueError: If an item lacks width/height, ids repeat, or a mode/split is unknown.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> voc, audit = to_voc([item], classes=["car"])
        >>> "<xmax>300</xmax>" in voc["annotations"]["a"]
        True
    """
    mode = check_segmentation_mode(segmentation_mode)
    if splits is not None and not isinstance(splits, Mapping):
        raise InputTypeError(
            "splits", splits, "must be a mapping {item id: 'train'|'val'|'test'} or None",
            method="to_voc",
        )  # fmt: skip
    for item_id, split in (splits or {}).items():
        if split not in _SPLITS:
            raise InvalidInputError(
                f"splits[{item_id!r}]", split, f"must be one of {_SPLITS}", method="to_voc"
            )
    checked = coerce_items(items, need_size=True, what="Pascal VOC export", method="to_voc")
    audit = Audit()
    prepared = [(item, image_tools(item, audit, "voc")) for item in checked]
    observed = [
        label
        for _, tools in prepared
        for tool in ("bounding_box", "polygon", "segmentation")
        for label in (normalize_label(a.get("classification")) for a in tools.get(tool, []))
        if label
    ]
    order = resolve_class_order(observed, classes, audit)
    class_id = {name: i + 1 for i, name in enumerate(order)}
    stems, collisions = unique_stems(checked)
    result: dict[str, Any] = {
        "labelmap": ["background", *order],
        "annotations": {},
        "segmentation_class": {},
        "segmentation_object": {},
        "image_sets": {"Main": {}, "Segmentation": {}},
        "items": {stems[i.id]: {"item_id": i.id, "file_name": i.leaf} for i in checked},
        "filename_collisions": collisions,
    }
    for item, tools in prepared:
        stem = stems[item.id]
        writer = _ItemWriter(item, class_id, mode, audit)
        objects = writer.boxes(tools.get("bounding_box", []))
        class_png, object_png = writer.paint(
            tools.get("polygon", []), tools.get("segmentation", [])
        )
        audit_unsupported(item.id, tools, ("bounding_box", "polygon", "segmentation"), audit, "voc")
        result["annotations"][stem] = _xml(item, objects, segmented=class_png is not None)
        split = _split_of(item.id, splits)
        result["image_sets"]["Main"].setdefault(split, []).append(stem)
        if class_png is not None:
            result["segmentation_class"][stem] = class_png
            result["image_sets"]["Segmentation"].setdefault(split, []).append(stem)
        if object_png is not None:
            result["segmentation_object"][stem] = object_png
    return result, audit


class _ItemWriter:
    def __init__(
        self, item: ImageItem, class_id: Mapping[str, int], mode: str, audit: Audit
    ) -> None:
        self.item, self.class_id, self.mode, self.audit = item, class_id, mode, audit
        self.w, self.h = item.size

    def note(
        self, ann_id: str | None, tool: str, outcome: Outcome, reason: Reason, detail: str
    ) -> None:
        self.audit.add(self.item.id, ann_id, tool, outcome, reason, detail, "voc")

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

    def boxes(self, anns: list[dict[str, Any]]) -> list[tuple[str, tuple[int, int, int, int]]]:
        objects = []
        for ann in anns:
            box = bbox_of(ann)
            if isinstance(box, str):
                self.note(
                    ann["id"], "bounding_box", Outcome.FAILED, Reason.MALFORMED_ANNOTATION, box
                )
                continue
            label = self.label(ann, "bounding_box")
            if label is None:
                continue
            if rotation_of(ann):
                self.note(
                    ann["id"],
                    "bounding_box",
                    Outcome.SKIPPED,
                    Reason.UNSUPPORTED_ORIENTED_BOUNDING_BOX,
                    f"rotation {rotation_of(ann)!r} rad: VOC boxes are axis-aligned",
                )
                continue
            x, y, w, h = box
            rounded = (round(x), round(y), round(x + w), round(y + h))
            xmin, ymin, xmax, ymax = rounded
            if xmin < 0 or ymin < 0 or xmax > self.w or ymax > self.h:
                self.note(
                    ann["id"],
                    "bounding_box",
                    Outcome.FAILED,
                    Reason.OUT_OF_BOUNDS,
                    f"box {list(rounded)} leaves the {self.w}x{self.h} image",
                )
                continue
            if xmax <= xmin or ymax <= ymin:
                self.note(
                    ann["id"],
                    "bounding_box",
                    Outcome.FAILED,
                    Reason.MALFORMED_ANNOTATION,
                    f"box {[x, y, w, h]} has no area after rounding",
                )
                continue
            if (xmin, ymin, xmax - xmin, ymax - ymin) != (x, y, w, h):
                self.note(
                    ann["id"],
                    "bounding_box",
                    Outcome.LOSSY,
                    Reason.COORDINATES_ROUNDED,
                    f"box {[x, y, w, h]} written as integers {list(rounded)}",
                )
            attrs = custom_attrs(ann)
            if attrs:
                self.note(
                    ann["id"],
                    "bounding_box",
                    Outcome.LOSSY,
                    Reason.CUSTOM_ATTRIBUTES_DROPPED,
                    f"VOC XML keeps no custom attributes; dropped {[a['name'] for a in attrs]}",
                )
            objects.append((label, rounded))
        return objects

    def shape_of(self, ann: Mapping[str, Any], tool: str) -> np.ndarray | None:
        """The pixels of a polygon or mask, or None after auditing why not."""
        if tool == "polygon":
            points = points_of(ann)
            if isinstance(points, str):
                self.note(ann["id"], tool, Outcome.FAILED, Reason.MALFORMED_ANNOTATION, points)
                return None
            canvas = Image.new("1", (self.w, self.h), 0)
            ImageDraw.Draw(canvas).polygon(points, fill=1, outline=1)
            return np.array(canvas, dtype=bool)
        try:
            mask = decode_mask(ann, self.w, self.h)
        except MaskError as exc:
            self.note(ann["id"], tool, Outcome.FAILED, Reason.INVALID_MASK_ENCODING, str(exc))
            return None
        if not mask.any():
            self.note(ann["id"], tool, Outcome.FAILED, Reason.MALFORMED_ANNOTATION, "mask is empty")
            return None
        return mask

    def paint(
        self, polygons: list[dict[str, Any]], masks: list[dict[str, Any]]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        semantic: list[tuple[str, dict[str, Any]]] = []
        instances: list[tuple[str, dict[str, Any]]] = []
        for ann in masks:
            if self.mode == "exclude":
                self.note(
                    ann["id"],
                    "segmentation",
                    Outcome.SKIPPED,
                    Reason.SEGMENTATION_EXCLUDED,
                    "segmentation_mode is 'exclude'",
                )
            else:
                (semantic if self.mode == "semantic" else instances).append(("segmentation", ann))
        instances += [("polygon", ann) for ann in polygons]
        instances.sort(key=lambda pair: pair[1]["id"])  # object ids follow annotation-id order
        if not semantic and not instances:
            return None, None  # nothing to paint: no image-sized arrays for a box-only item

        class_png = np.zeros((self.h, self.w), dtype=np.uint8)
        object_png = np.zeros((self.h, self.w), dtype=np.uint8)
        painted = objects = 0
        too_many = len(instances) > _MAX_ID
        for layer, entries in (("semantic", semantic), ("instance", instances)):
            for tool, ann in entries:
                label = self.label(ann, tool)
                if label is None:
                    continue
                cid = self.class_id[label]
                if cid > _MAX_ID:
                    self.note(
                        ann["id"],
                        tool,
                        Outcome.FAILED,
                        Reason.CLASS_ID_OUT_OF_RANGE,
                        f"class {label!r} has id {cid}; VOC PNGs hold ids 1..{_MAX_ID}",
                    )
                    continue
                shape = self.shape_of(ann, tool)
                if shape is None:
                    continue
                class_png[shape] = cid
                painted += 1
                if tool == "polygon":
                    self.note(
                        ann["id"],
                        tool,
                        Outcome.LOSSY,
                        Reason.POLYGON_RASTERIZED,
                        "VOC holds polygons only as pixels in the segmentation PNGs",
                    )
                if layer == "instance" and too_many:
                    self.note(
                        ann["id"],
                        tool,
                        Outcome.LOSSY,
                        Reason.OBJECT_MASK_DROPPED,
                        f"{len(instances)} instances exceed {_MAX_ID}; no SegmentationObject PNG",
                    )
                elif layer == "instance":
                    objects += 1
                    object_png[shape] = objects
        if not painted:
            return None, None
        return class_png, (object_png if objects else None)


def _text(value: Any) -> str:
    """Element text as ElementTree writes it: ``&``, ``<`` and ``>`` escaped."""
    text = str(value)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _leaf_element(indent: str, tag: str, value: Any) -> str:
    text = _text(value)
    return f"{indent}<{tag}>{text}</{tag}>\n" if text else f"{indent}<{tag} />\n"


def _xml(
    item: ImageItem, objects: list[tuple[str, tuple[int, int, int, int]]], segmented: bool
) -> str:
    """The annotation XML, as ``ElementTree`` indents and serialises it, built as text."""
    parts = [
        "<annotation>\n",
        _leaf_element("  ", "folder", "JPEGImages"),
        _leaf_element("  ", "filename", item.leaf),
        "  <size>\n",
        _leaf_element("    ", "width", item.width),
        _leaf_element("    ", "height", item.height),
        _leaf_element("    ", "depth", 3),
        "  </size>\n",
        _leaf_element("  ", "segmented", "1" if segmented else "0"),
    ]
    for label, (xmin, ymin, xmax, ymax) in objects:
        parts += [
            "  <object>\n",
            _leaf_element("    ", "name", label),
            "    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n",
            "    <difficult>0</difficult>\n    <bndbox>\n",
            _leaf_element("      ", "xmin", xmin),
            _leaf_element("      ", "ymin", ymin),
            _leaf_element("      ", "xmax", xmax),
            _leaf_element("      ", "ymax", ymax),
            "    </bndbox>\n  </object>\n",
        ]
    parts.append("</annotation>\n")
    return "".join(parts)


def write_voc(
    result: Mapping[str, Any], out_dir: str | PathLike[str], audit: Audit | None = None
) -> Path:
    """Write :func:`to_voc`'s result in the Pascal VOC layout.

    ``Annotations/``, ``ImageSets/{Main,Segmentation}/`` (per split plus ``trainval``),
    ``SegmentationClass/`` and ``SegmentationObject/`` (palette PNGs), ``labelmap.txt``
    and, with an audit, ``export_report.json``. ``JPEGImages/`` is created empty.

    Args:
        result: The first element of :func:`to_voc`'s result.
        out_dir: Directory to write into.
        audit: The audit of the same run.

    Returns:
        ``out_dir`` as a Path.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> voc, audit = to_voc([item], classes=["car"])
        >>> write_voc(voc, "export/voc", audit)
        PosixPath('export/voc')
        >>> sorted(p.name for p in Path("export/voc/Annotations").iterdir())
        ['a.xml']
    """
    out = Path(out_dir)
    for sub in (
        "JPEGImages",
        "Annotations",
        "ImageSets/Main",
        "ImageSets/Segmentation",
        "SegmentationClass",
        "SegmentationObject",
    ):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for stem, text in result["annotations"].items():
        (out / "Annotations" / f"{stem}.xml").write_text(text, encoding="utf-8")
    palette = voc_palette()
    for folder, key in (
        ("SegmentationClass", "segmentation_class"),
        ("SegmentationObject", "segmentation_object"),
    ):
        for stem, array in result[key].items():
            image = Image.fromarray(np.asarray(array, dtype=np.uint8))
            image.putpalette(palette)  # turns the "L" image into a palette ("P") PNG
            image.save(out / folder / f"{stem}.png")
    for kind, sets in result["image_sets"].items():
        for split, stems in sets.items():
            (out / "ImageSets" / kind / f"{split}.txt").write_text("".join(f"{s}\n" for s in stems))
        trainval = [s for split in ("train", "val") for s in sets.get(split, [])]
        (out / "ImageSets" / kind / "trainval.txt").write_text("".join(f"{s}\n" for s in trainval))
    lines = ["# label:color_rgb:parts:actions"]
    for index, name in enumerate(result["labelmap"]):
        r, g, b = palette[3 * index : 3 * index + 3] if index < 256 else (0, 0, 0)
        lines.append(f"{name}:{r},{g},{b}::")
    (out / "labelmap.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if audit is not None:
        report = {
            "items": len(result["annotations"]),
            "filename_collisions": result.get("filename_collisions", []),
            "summary": audit.summary(),
            "records": audit.to_records(),
        }
        write_json(out / "export_report.json", report, indent=2, ensure_ascii=True, default=str)
    return out


def from_voc(annotations: Mapping[str, str]) -> tuple[list[dict[str, Any]], Audit]:
    """Convert Pascal VOC XML texts to DM v2 items (boxes only; see :func:`read_voc`).

    ``bndbox`` becomes ``[xmin, ymin, xmax - xmin, ymax - ymin]``; ``truncated``,
    ``difficult`` and ``occluded`` flags that are set, and a ``pose`` other than
    ``Unspecified``, become attrs.

    Args:
        annotations: XML text per stem.

    Returns:
        ``(items, audit)``; items have ``id`` (the stem), ``file_name``, ``width``,
        ``height`` and ``data``.

    Raises:
        InvalidInputError: ``annotations`` is not a mapping of XML texts (also a
            ``TypeError``); malformed XML is audited instead.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> voc, _ = to_voc([item], classes=["car"])
        >>> items, _ = from_voc({"a": voc["annotations"]["a"]})
        >>> box = items[0]["data"]["images"][0]["bounding_box"][0]
        >>> items[0]["id"], items[0]["width"], box["data"]
        ('a', 640, [100.0, 120.0, 200.0, 80.0])
    """
    if not isinstance(annotations, Mapping):
        raise InputTypeError(
            "annotations", annotations, "must be a mapping {stem: XML text}", method="from_voc"
        )
    for stem, text in annotations.items():
        if not isinstance(text, str | bytes):
            raise InputTypeError(
                f"annotations[{stem!r}]", text, "must be XML text", method="from_voc"
            )
    audit = Audit()
    items = []
    for stem, text in annotations.items():
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            audit.add(
                stem,
                None,
                "voc_xml",
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                f"XML: {exc}",
                "dm_v2",
            )
            continue
        width, height = _int(root.findtext("size/width")), _int(root.findtext("size/height"))
        boxes = []
        for number, obj in enumerate(root.iter("object"), start=1):
            box = _voc_box(obj)
            name = normalize_label(obj.findtext("name"))
            if box is None or name is None:
                audit.add(
                    stem,
                    None,
                    "voc_object",
                    Outcome.FAILED,
                    Reason.MALFORMED_ANNOTATION,
                    f"object {number} needs a name and integer xmin < xmax, ymin < ymax",
                    "dm_v2",
                )
                continue
            attrs = [
                {"name": tag, "value": True}
                for tag in _BOOL_TAGS
                if obj.findtext(tag, "0").strip() == "1"
            ]
            pose = (obj.findtext("pose") or "Unspecified").strip()
            if pose != "Unspecified":
                attrs.append({"name": "pose", "value": pose})
            boxes.append({"id": new_id(), "classification": name, "attrs": attrs, "data": box})
        media = {"bounding_box": boxes} if boxes else {}
        items.append(
            {
                "id": stem,
                "file_name": root.findtext("filename"),
                "width": width,
                "height": height,
                "data": make_dm_document(media),
            }
        )
    return items, audit


def _int(text: str | None) -> int | None:
    try:
        return int(float(text)) if text is not None else None
    except ValueError:
        return None


def _voc_box(obj: ET.Element) -> list[float] | None:
    xmin, ymin, xmax, ymax = (
        _int(obj.findtext(f"bndbox/{tag}")) for tag in ("xmin", "ymin", "xmax", "ymax")
    )
    if xmin is None or ymin is None or xmax is None or ymax is None:
        return None
    if xmax <= xmin or ymax <= ymin:
        return None
    return [float(xmin), float(ymin), float(xmax - xmin), float(ymax - ymin)]


def read_voc(voc_dir: str | PathLike[str]) -> tuple[list[dict[str, Any]], Audit]:
    """Read a VOC directory written by :func:`write_voc` back into DM v2 items.

    Boxes come from ``Annotations/``. Each instance of ``SegmentationObject`` becomes a
    ``segmentation`` mask (``dm_rle``) with the class found under it in
    ``SegmentationClass``; class pixels outside every instance become one mask per class.

    Args:
        voc_dir: The VOC root directory.

    Returns:
        ``(items, audit)`` as :func:`from_voc`.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> voc, audit = to_voc([item], classes=["car"])
        >>> _ = write_voc(voc, "export/voc", audit)
        >>> items, audit = read_voc("export/voc")
        >>> box = items[0]["data"]["images"][0]["bounding_box"][0]
        >>> [i["file_name"] for i in items], box["classification"]
        (['a.jpg'], 'car')
    """
    root = Path(voc_dir)
    texts = {
        p.stem: p.read_text(encoding="utf-8") for p in sorted((root / "Annotations").glob("*.xml"))
    }
    items, audit = from_voc(texts)
    labelmap = _read_labelmap(root / "labelmap.txt")
    for item in items:
        class_path = root / "SegmentationClass" / f"{item['id']}.png"
        if not class_path.is_file():
            continue
        classes = np.array(Image.open(class_path))
        object_path = root / "SegmentationObject" / f"{item['id']}.png"
        objects = (
            np.array(Image.open(object_path)) if object_path.is_file() else np.zeros_like(classes)
        )
        masks = []
        for instance in sorted(int(v) for v in np.unique(objects) if 0 < v < 255):
            region = objects == instance
            values, counts = np.unique(classes[region], return_counts=True)
            cid = int(values[np.argmax(counts)])
            masks.append(_mask_annotation(labelmap, cid, region, item["id"], audit))
        leftover = (objects == 0) & (classes > 0) & (classes < 255)
        for cid in sorted(int(v) for v in np.unique(classes[leftover])):
            masks.append(
                _mask_annotation(labelmap, cid, leftover & (classes == cid), item["id"], audit)
            )
        media = dict(item["data"]["images"][0])
        media["segmentation"] = [m for m in masks if m is not None]
        item["data"] = make_dm_document(media)
    return items, audit


def _mask_annotation(
    labelmap: list[str], cid: int, region: np.ndarray, item_id: Any, audit: Audit
) -> dict[str, Any] | None:
    if cid >= len(labelmap):
        audit.add(
            item_id,
            None,
            "voc_mask",
            Outcome.FAILED,
            Reason.CLASS_ID_OUT_OF_RANGE,
            f"class id {cid} is not in labelmap.txt",
            "dm_v2",
        )
        return None
    return {"id": new_id(), "classification": labelmap[cid], "attrs": [], **encode_mask(region)}


def _read_labelmap(path: Path) -> list[str]:
    if not path.is_file():
        return ["background"]
    return [
        line.split(":", 1)[0]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
