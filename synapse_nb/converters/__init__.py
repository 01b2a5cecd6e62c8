"""DM annotation converters: DM v1 <-> v2, and DM v2 <-> COCO / Pascal VOC / YOLO.

All converters are pure functions over dicts (plus ``write_*``/``read_*`` helpers for the
on-disk layouts) and return ``(result, audit)``. The :class:`Audit` lists, per item, every
annotation that was **skipped** (valid, but the target cannot hold it), written **lossy**
(some meaning lost) or **failed** (malformed input); nothing is dropped silently. The
DM format itself is described in :mod:`synapse_nb.annotations`.

Items
    The format converters take a list of :class:`ImageItem` (or mappings with the same
    keys): ``id`` (task/assignment/ground-truth-event id), ``data`` (DM v2 document; a v1
    document is detected and converted first), ``width`` and ``height`` (required: DM v2
    does not store the image size) and ``file_name`` (only its leaf is used). Only
    ``images[0]`` is converted; annotations of other media are audited.

API
    ===================================================  ====================================
    ``dm_v1_to_v2(doc) -> ({annotation_data, annotation_meta}, audit)``
    ``dm_v2_to_v1(data, meta=None) -> (v1_doc, audit)``
    ``to_coco(items, classes=, segmentation_mode=)``     ``-> ({instances, person_keypoints,
                                                         stuff}, audit)``; ``write_coco``
    ``from_coco(coco) -> (items, audit)``                dicts, ``{role: dict}`` or a path
    ``to_voc(items, classes=, segmentation_mode=,``      ``-> (voc, audit)``; ``write_voc``
    ``splits=)``
    ``from_voc(xml_by_stem)`` / ``read_voc(dir)``        ``-> (items, audit)``
    ``to_yolo(items, classes=, segmentation_mode=,``     ``-> ({detect, segment, pose, ...},
    ``tasks=)``                                          audit)``; ``write_yolo``
    ``from_yolo(labels, task=, names=, sizes=)`` /       ``-> (items, audit)``
    ``read_yolo(task_dir)``
    ===================================================  ====================================

Class numbering
    One run-wide order: the configured classes first (``classes=`` takes a list of names
    or a project configuration), then unconfigured ones lexically; with no configuration,
    lexical order and the audit warning ``CLASS_SCHEMA_UNAVAILABLE``. YOLO ids start at 0,
    COCO and VOC at 1; pose always has the single class ``person``. An exporter that
    converts in batches should fix the order once with
    ``resolve_class_order(collect_classes(all_items), classes)`` and pass that list to
    every batch.

Coordinates
    DM holds absolute pixels, origin top-left, y down; only YOLO is normalised. Masks are
    ``raw_indices`` or ``dm_rle`` over the row-major flat index (:mod:`.masks`).

Example:
    >>> from synapse_nb import converters
    >>> item = {"id": 7, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
    ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car", "attrs": [],
    ...                                   "data": [100, 120, 200, 80]}],
    ...                 "polyline": [{"id": "l1", "classification": "lane", "attrs": [],
    ...                               "data": [[0, 0], [5, 5]]}]}]}}
    >>> coco, audit = converters.to_coco([item], classes=["car"])
    >>> [(r.annotation_id, str(r.outcome), str(r.reason_code)) for r in audit]
    [('l1', 'skipped', 'UNSUPPORTED_ANNOTATION_TYPE')]
"""

from ._audit import Audit, AuditRecord, Outcome, Reason
from ._common import (
    COCO_PERSON_SKELETON,
    MAX_IMAGE_PIXELS,
    PERSON_17,
    YOLO_FLIP_IDX,
    ImageItem,
    collect_classes,
    normalize_label,
    resolve_class_order,
)
from .coco import COCO_ROLES, from_coco, to_coco, write_coco
from .dm import DMFormatError, dm_v1_to_v2, dm_v2_to_v1
from .masks import (
    MaskError,
    coco_rle_decode,
    coco_rle_encode,
    decode_mask,
    encode_mask,
    mask_encoding,
)
from .voc import from_voc, read_voc, to_voc, voc_palette, write_voc
from .yolo import YOLO_TASKS, from_yolo, mask_contours, read_yolo, to_yolo, write_yolo

__all__ = [
    "COCO_PERSON_SKELETON",
    "COCO_ROLES",
    "MAX_IMAGE_PIXELS",
    "PERSON_17",
    "YOLO_FLIP_IDX",
    "YOLO_TASKS",
    "Audit",
    "AuditRecord",
    "DMFormatError",
    "ImageItem",
    "MaskError",
    "Outcome",
    "Reason",
    "coco_rle_decode",
    "coco_rle_encode",
    "collect_classes",
    "decode_mask",
    "dm_v1_to_v2",
    "dm_v2_to_v1",
    "encode_mask",
    "from_coco",
    "from_voc",
    "from_yolo",
    "mask_contours",
    "mask_encoding",
    "normalize_label",
    "read_voc",
    "read_yolo",
    "resolve_class_order",
    "to_coco",
    "to_voc",
    "to_yolo",
    "voc_palette",
    "write_coco",
    "write_voc",
    "write_yolo",
]
