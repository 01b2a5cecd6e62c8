"""DM v1 (event-based, keyed by media id) <-> DM v2 (collections of media items).

Malformed annotations are audited as ``failed`` and left out; losses of
the v2 shape (group membership of non-keypoints, the top-level ``relations`` map) are
audited as ``lossy`` but kept verbatim in ``annotation_meta``, which restores them.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

from synapse_nb.annotations.media import MEDIA_KEYS
from synapse_nb.annotations.media import MEDIA_TYPES as _MEDIA_TYPES
from synapse_nb.annotations.values import VISIBILITY_NAMES, is_number
from synapse_nb.exceptions import SynapseNBError

from ._audit import Audit, Outcome, Reason

__all__ = ["MEDIA_TYPES", "DMFormatError", "dm_v1_to_v2", "dm_v2_to_v1"]

#: v1 media-id prefix -> v2 media list key (the shared map, re-exported).
MEDIA_TYPES = _MEDIA_TYPES
_PLURAL_TO_PREFIX = MEDIA_KEYS
_MEDIA_ID = re.compile(r"^([a-z]+)_(\d+)\Z")
_KNOWN_TOOLS = {
    "bounding_box", "polygon", "polyline", "keypoint", "segmentation", "classification",
    "relation", "group", "3d_bounding_box", "3d_segmentation", "named_entity", "prompt",
    "answer", "time_range",
}  # fmt: skip
_VISIBILITY_BY_INT = {v: k for k, v in VISIBILITY_NAMES.items()}
_META_KEYS = ("extra", "annotations", "annotationsData", "relations", "annotationGroups")
_TARGET_V2, _TARGET_V1 = "dm_v2", "dm_v1"


class DMFormatError(SynapseNBError, ValueError):
    """The document as a whole is not DM v1/v2 (wrong top-level types)."""


def _media_sort_key(media_id: str) -> tuple[str, int, str]:
    match = _MEDIA_ID.match(media_id)
    return (match[1], int(match[2]), "") if match else ("~", 0, media_id)


def _mapping(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DMFormatError(
            f"v1 field {key!r} must be a mapping keyed by media id, got {type(value).__name__}"
        )
    return value


def dm_v1_to_v2(data: Mapping[str, Any], *, item_id: Any = None) -> tuple[dict[str, Any], Audit]:
    """Convert a DM v1 document to DM v2.

    Args:
        data: The v1 document (``annotations``, ``annotationsData``, ``extra`` ...).
        item_id: Id used in audit records (e.g. the assignment id).

    Returns:
        ``({"annotation_data": <v2 document>, "annotation_meta": <verbatim v1 parts>},
        audit)``.

    Raises:
        DMFormatError: If top-level fields have the wrong type.

    Example:
        >>> v1 = {"extra": {"image_1": {"width": 64, "height": 48}},
        ...       "annotations": {"image_1": [{"id": "b1", "tool": "bounding_box",
        ...                                    "classification": {"class": "car"}}]},
        ...       "annotationsData": {"image_1": [{"id": "b1", "coordinate":
        ...                            {"x": 1, "y": 2, "width": 3, "height": 4}}]}}
        >>> out, audit = dm_v1_to_v2(v1)
        >>> out["annotation_data"]["images"][0]["bounding_box"][0]["data"]
        [1, 2, 3, 4]
    """
    if not isinstance(data, Mapping):
        raise DMFormatError(f"a DM v1 document must be a mapping, got {type(data).__name__}")
    audit = Audit()
    annotations = _mapping(data, "annotations")
    data_rows = _mapping(data, "annotationsData")
    extra = _mapping(data, "extra")
    groups = _mapping(data, "annotationGroups")
    relations = _mapping(data, "relations")

    media_ids = sorted({*annotations, *data_rows}, key=_media_sort_key)
    v2: dict[str, Any] = {"classification": {}}
    for media_id in media_ids:
        rows = annotations.get(media_id) or []
        if not isinstance(rows, list):
            audit.add(
                item_id,
                None,
                "annotations",
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                f"annotations[{media_id!r}] must be a list of rows, got {type(rows).__name__}",
                _TARGET_V2,
            )
            continue
        match = _MEDIA_ID.match(str(media_id))
        plural = MEDIA_TYPES.get(match[1]) if match else None
        if match is None or plural is None:
            for row in rows:
                audit.add(
                    item_id,
                    _row_id(row),
                    _row_tool(row),
                    Outcome.FAILED,
                    Reason.UNSUPPORTED_MEDIA_TYPE,
                    f"media id {media_id!r} has no known type prefix",
                    _TARGET_V2,
                )
            continue
        media = _convert_media(
            media_id,
            match[1],
            rows,
            _list_or_empty(data_rows.get(media_id)),
            _mapping_or_empty(extra.get(media_id)),
            _list_or_empty(groups.get(media_id)),
            item_id,
            audit,
        )
        if relations.get(media_id):
            audit.add(
                item_id,
                None,
                "relations",
                Outcome.LOSSY,
                Reason.RELATIONS_MAP_NOT_CONVERTED,
                f"{media_id}: the top-level relations map has no v2 form (kept in meta)",
                _TARGET_V2,
            )
        v2.setdefault(plural, []).append(media)

    v2["classification"] = _label_map(v2)
    meta: dict[str, Any] = {key: copy.deepcopy(dict(_mapping(data, key))) for key in _META_KEYS}
    meta["assignmentId"] = data.get("assignmentId")
    return {"annotation_data": v2, "annotation_meta": meta}, audit


def _list_or_empty(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # a malformed part reads as absent


def _mapping_or_empty(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _row_id(row: Any) -> str | None:
    return row.get("id") if isinstance(row, Mapping) and isinstance(row.get("id"), str) else None


def _row_tool(row: Any) -> str:
    return str(row.get("tool")) if isinstance(row, Mapping) else "unknown"


def _label_map(v2: Mapping[str, Any]) -> dict[str, list[str]]:
    labels: dict[str, set[str]] = {}
    for key, media_list in v2.items():
        if key == "classification":
            continue
        for media in media_list:
            for tool, anns in media.items():
                for ann in anns:
                    if isinstance(ann.get("classification"), str) and ann["classification"]:
                        labels.setdefault(tool, set()).add(ann["classification"])
    return {tool: sorted(names) for tool, names in sorted(labels.items())}


def _convert_media(
    media_id: str,
    prefix: str,
    rows: list[Any],
    data_rows: list[Any],
    extra: Mapping[str, Any],
    groups: list[Any],
    item_id: Any,
    audit: Audit,
) -> dict[str, list[dict[str, Any]]]:
    by_id = {
        r["id"]: r for r in data_rows if isinstance(r, Mapping) and isinstance(r.get("id"), str)
    }
    media: dict[str, list[dict[str, Any]]] = {}
    tool_of: dict[str, str] = {}
    failed: set[str] = set()
    for row in rows:
        try:
            try:
                tool, ann = _convert_row(row, by_id, prefix, extra)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
                # a shape no rule above foresaw: this row fails, the document goes on
                raise _RowError(f"cannot convert this row ({type(exc).__name__}: {exc})") from exc
        except _RowError as exc:
            row_id = _row_id(row)
            if row_id:
                failed.add(row_id)
            audit.add(
                item_id,
                _row_id(row),
                _row_tool(row),
                Outcome.FAILED,
                exc.reason,
                f"{media_id}: {exc}",
                _TARGET_V2,
            )
            continue
        media.setdefault(tool, []).append(ann)
        tool_of[ann["id"]] = tool
    _apply_groups(media_id, media, tool_of, groups, failed, item_id, audit)
    return media


class _RowError(Exception):
    def __init__(self, message: str, reason: Reason = Reason.MALFORMED_ANNOTATION) -> None:
        self.reason = reason
        super().__init__(message)


def _convert_row(
    row: Any, by_id: Mapping[str, Any], prefix: str, extra: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    if not isinstance(row, Mapping) or not isinstance(row.get("id"), str):
        raise _RowError(f"annotation row must be a mapping with a string id, got {str(row)[:60]}")
    tool = row.get("tool")
    if not isinstance(tool, str) or tool not in _KNOWN_TOOLS:
        raise _RowError(f"unknown tool {tool!r}", Reason.UNSUPPORTED_ANNOTATION_TYPE)
    classification = row.get("classification") or {}
    if not isinstance(classification, Mapping):
        raise _RowError(f"classification must be a mapping, got {classification!r}")
    data_row = by_id.get(row["id"])
    if data_row is None and tool != "classification":
        raise _RowError(f"no annotationsData row for id {row['id']!r}")
    skip = {"class", "visibility"} if tool == "keypoint" else {"class"}
    label = classification.get("class")
    ann: dict[str, Any] = {
        "id": row["id"],
        "classification": label,
        "attrs": [{"name": k, "value": v} for k, v in classification.items() if k not in skip],
    }
    ann["data"] = _v2_data(tool, prefix, data_row or {}, ann, classification, extra)
    return tool, ann


def _v2_data(
    tool: str,
    prefix: str,
    row: Mapping[str, Any],
    ann: dict[str, Any],
    classification: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> Any:
    coord = row.get("coordinate")
    if tool == "bounding_box":
        if not isinstance(coord, Mapping) or not all(
            is_number(coord.get(k)) for k in ("x", "y", "width", "height")
        ):
            raise _RowError(
                f"bounding_box coordinate needs numeric x, y, width, height, got {coord!r}"
            )
        if coord.get("rotation") is not None:
            ann["attrs"].append({"name": "rotation", "value": coord["rotation"]})
        return [coord["x"], coord["y"], coord["width"], coord["height"]]
    if tool in ("polygon", "polyline"):
        if not isinstance(coord, list) or not all(
            isinstance(p, Mapping) and is_number(p.get("x")) and is_number(p.get("y"))
            for p in coord
        ):
            raise _RowError(f"{tool} coordinate must be a list of {{x, y}} points")
        return [[p["x"], p["y"]] for p in coord]
    if tool == "keypoint":
        if not isinstance(coord, Mapping) or not (
            is_number(coord.get("x")) and is_number(coord.get("y"))
        ):
            raise _RowError(f"keypoint coordinate needs numeric x and y, got {coord!r}")
        visibility = classification.get("visibility", 2)
        visibility = VISIBILITY_NAMES.get(visibility, visibility)
        if visibility not in (0, 1, 2) or isinstance(visibility, bool):
            raise _RowError(
                f"keypoint visibility must be 0/1/2 or missing/occluded/visible, got {visibility!r}"
            )
        ann["visibility"] = visibility
        return [coord["x"], coord["y"]]
    if tool == "segmentation" and prefix == "image":
        return _v2_mask(row, ann, extra)
    if tool == "segmentation":
        section = row.get("section")
        if not isinstance(section, Mapping):
            raise _RowError(f"{prefix} segmentation needs a section mapping, got {section!r}")
        return dict(section)
    if tool == "classification":
        return {}
    if tool == "relation":
        ends = (row.get("annotationId"), row.get("targetAnnotationId"))
        if not all(isinstance(e, str) for e in ends):
            raise _RowError(f"relation needs annotationId and targetAnnotationId, got {ends!r}")
        return list(ends)
    if tool == "3d_bounding_box":
        if not isinstance(row.get("psr"), Mapping):
            raise _RowError(f"3d_bounding_box needs psr, got {row.get('psr')!r}")
        return copy.deepcopy(dict(row["psr"]))
    # Tools whose v1 row shape is undocumented: the row's fields are the v2 data.
    return {k: copy.deepcopy(v) for k, v in row.items() if k != "id"}


def _v2_mask(row: Mapping[str, Any], ann: dict[str, Any], extra: Mapping[str, Any]) -> Any:
    from .masks import MaskError, decode_mask

    compressed, fmt = row.get("isCompressed"), row.get("compressionFormat")
    if compressed is False and fmt is None:
        encoding = "raw_indices"
    elif compressed is True and fmt == "rle":
        encoding = "dm_rle"
    else:
        raise _RowError(
            "mask needs isCompressed/compressionFormat false/null or true/'rle', "
            f"got {compressed!r}/{fmt!r}",
            Reason.INVALID_MASK_ENCODING,
        )
    # unchecked JSON: decode_mask validates the sizes and names a bad one in its error
    width: Any = extra.get("width")
    height: Any = extra.get("height")
    payload = {
        "data": row.get("pixel_indices"),
        "encoding": encoding,
        "isCompressed": compressed,
        "compressionFormat": fmt,
    }
    try:
        decode_mask(payload, width, height)  # validates bounds, order and size
    except MaskError as exc:
        raise _RowError(f"mask: {exc}", Reason.INVALID_MASK_ENCODING) from None
    ann.update(encoding=encoding, isCompressed=compressed, compressionFormat=fmt)
    return copy.deepcopy(row["pixel_indices"])


def _group_members(group: Any) -> tuple[str, list[Any]] | None:
    if not isinstance(group, Mapping) or not isinstance(group.get("id"), str):
        return None
    if isinstance(group.get("annotationIds"), list):
        return group["id"], list(group["annotationIds"])
    if isinstance(group.get("annotationList"), list):  # the pydantic model's shape
        members: list[Any] = []
        for entry in group["annotationList"]:
            if isinstance(entry, Mapping):
                members.append(entry.get("annotationId"))
                members.extend(entry.get("children") or [])
        return group["id"], members
    return None


def _apply_groups(
    media_id: str,
    media: Mapping[str, list[dict[str, Any]]],
    tool_of: Mapping[str, str],
    groups: list[Any],
    failed: set[str],
    item_id: Any,
    audit: Audit,
) -> None:
    anns = {ann["id"]: ann for anns in media.values() for ann in anns}
    owner: dict[str, str] = {}
    for group in groups:
        parsed = _group_members(group)
        if parsed is None:
            audit.add(
                item_id,
                None,
                "annotationGroup",
                Outcome.FAILED,
                Reason.KEYPOINT_GROUP_INVALID,
                f"{media_id}: group must be {{id, annotationIds}}, got {str(group)[:60]}",
                _TARGET_V2,
            )
            continue
        group_id, members = parsed
        members = [m for m in members if m not in failed]  # already audited as failed
        problem = next(
            (f"member {m!r} does not exist" for m in members if m not in anns), None
        ) or next(
            (f"member {m!r} is already in group {owner[m]!r}" for m in members if m in owner), None
        )
        if problem:
            audit.add(
                item_id,
                group_id,
                "annotationGroup",
                Outcome.FAILED,
                Reason.KEYPOINT_GROUP_INVALID,
                f"{media_id}: {problem}",
                _TARGET_V2,
            )
            continue
        for member in members:
            owner[member] = group_id
            if tool_of[member] == "keypoint":
                anns[member]["group_id"] = group_id
            else:
                audit.add(
                    item_id,
                    member,
                    tool_of[member],
                    Outcome.LOSSY,
                    Reason.GROUP_MEMBERSHIP_DROPPED,
                    f"{media_id}: v2 keeps group membership only on keypoints (group {group_id!r}; "
                    "kept in meta)",
                    _TARGET_V2,
                )


def _random_point_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(10))


def dm_v2_to_v1(
    annotation_data: Mapping[str, Any],
    annotation_meta: Mapping[str, Any] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    item_id: Any = None,
) -> tuple[dict[str, Any], Audit]:
    """Convert a DM v2 document back to DM v1.

    Media ids are regenerated by position (``image_1``, ``image_2`` ...). With the
    ``annotation_meta`` of :func:`dm_v1_to_v2`, UI flags, labels, extra classification
    keys, polygon point ids, ``extra``, ``relations``, ``annotationGroups`` and
    ``assignmentId`` are restored. Without it, defaults are used and ``annotationGroups``
    is rebuilt from keypoint ``group_id`` and v2 ``group`` entries (so membership survives,
    unlike the SDK); a group's own class label has no v1 place and is audited as lossy.

    Args:
        annotation_data: The v2 document.
        annotation_meta: The meta half of :func:`dm_v1_to_v2`'s result, if kept.
        extra: v1 ``extra`` per media id (e.g. ``{"image_1": {"width": 640, "height": 480}}``)
            when there is no meta.
        item_id: Id used in audit records.

    Returns:
        ``(v1 document, audit)``.

    Raises:
        DMFormatError: If the document is not a mapping of media lists.

    Example:
        >>> v2 = {"images": [{"keypoint": [{"id": "k1", "classification": "nose", "attrs": [],
        ...       "data": [5, 6], "visibility": 1, "group_id": "g1"}]}]}
        >>> v1, _ = dm_v2_to_v1(v2)
        >>> v1["annotationGroups"]["image_1"], v1["annotations"]["image_1"][0]["classification"]
        ([{'id': 'g1', 'annotationIds': ['k1']}], {'class': 'nose', 'visibility': 'occluded'})
    """
    if not isinstance(annotation_data, Mapping):
        raise DMFormatError(
            f"a DM v2 document must be a mapping, got {type(annotation_data).__name__}"
        )
    meta = annotation_meta or {}
    audit = Audit()
    out: dict[str, Any] = {
        "assignmentId": meta.get("assignmentId"),
        "extra": copy.deepcopy(dict(meta.get("extra") or extra or {})),
        "annotations": {},
        "annotationsData": {},
        "relations": copy.deepcopy(dict(meta.get("relations") or {})),
        "annotationGroups": copy.deepcopy(dict(meta.get("annotationGroups") or {})),
    }
    meta_rows = _index_meta(meta.get("annotations"))
    meta_data = _index_meta(meta.get("annotationsData"))
    for key, media_list in annotation_data.items():
        if key == "classification":
            continue
        if not isinstance(media_list, list):
            raise DMFormatError(
                f"v2 field {key!r} must be a list of media items, got {type(media_list).__name__}"
            )
        prefix = _PLURAL_TO_PREFIX.get(key)
        for position, media in enumerate(media_list):
            if not isinstance(media, Mapping):
                raise DMFormatError(f"{key}[{position}] must be a mapping of tool lists")
            if prefix is None:
                for tool, anns in media.items():
                    for ann in anns if isinstance(anns, list) else []:
                        audit.add(
                            item_id,
                            _row_id(ann),
                            tool,
                            Outcome.FAILED,
                            Reason.UNSUPPORTED_MEDIA_TYPE,
                            f"v2 media key {key!r} has no v1 media-id prefix",
                            _TARGET_V1,
                        )
                continue
            media_id = f"{prefix}_{position + 1}"
            rows, data_rows, groups = _media_to_v1(
                media_id, prefix, media, meta_rows, meta_data, item_id, audit
            )
            out["annotations"][media_id] = rows
            out["annotationsData"][media_id] = data_rows
            if not meta.get("annotationGroups") and groups:
                out["annotationGroups"][media_id] = groups
    return out, audit


def _index_meta(section: Any) -> dict[tuple[str, str], Mapping[str, Any]]:
    index: dict[tuple[str, str], Mapping[str, Any]] = {}
    for media_id, rows in (section or {}).items():
        for row in rows or []:
            if isinstance(row, Mapping) and isinstance(row.get("id"), str):
                index[(media_id, row["id"])] = row
    return index


def _media_to_v1(
    media_id: str,
    prefix: str,
    media: Mapping[str, Any],
    meta_rows: Mapping[tuple[str, str], Mapping[str, Any]],
    meta_data: Mapping[tuple[str, str], Mapping[str, Any]],
    item_id: Any,
    audit: Audit,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    data_rows: list[dict[str, Any]] = []
    groups: dict[str, list[str]] = {}
    for tool, anns in media.items():
        if not isinstance(anns, list):
            audit.add(
                item_id,
                None,
                str(tool),
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                f"{media_id}: {tool!r} must be a list of annotations, got {type(anns).__name__}",
                _TARGET_V1,
            )
            continue
        for ann in anns:
            if not isinstance(ann, Mapping) or not isinstance(ann.get("id"), str):
                audit.add(
                    item_id,
                    None,
                    tool,
                    Outcome.FAILED,
                    Reason.MALFORMED_ANNOTATION,
                    f"{media_id}: annotation without a string id: {str(ann)[:60]}",
                    _TARGET_V1,
                )
                continue
            if tool == "group":
                members = [m for m in ann.get("data") or [] if isinstance(m, str)]
                groups.setdefault(ann["id"], [])
                groups[ann["id"]] += [m for m in members if m not in groups[ann["id"]]]
                if ann.get("classification"):
                    audit.add(
                        item_id,
                        ann["id"],
                        tool,
                        Outcome.LOSSY,
                        Reason.GROUP_CLASS_DROPPED,
                        f"{media_id}: v1 groups have no class; {ann['classification']!r} dropped",
                        _TARGET_V1,
                    )
                continue
            key = (media_id, ann["id"])
            try:
                row, data_row = (
                    _v1_row(tool, ann, meta_rows.get(key)),
                    _v1_data(tool, prefix, ann, meta_data.get(key)),
                )
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
                # a malformed shape in one annotation: recorded, the rest goes on
                audit.add(
                    item_id,
                    ann["id"],
                    str(tool),
                    Outcome.FAILED,
                    Reason.MALFORMED_ANNOTATION,
                    f"{media_id}: cannot convert this annotation ({type(exc).__name__}: {exc})",
                    _TARGET_V1,
                )
                continue
            rows.append(row)
            data_rows.append(data_row)
            group_id = ann.get("group_id")
            if isinstance(group_id, str) and group_id:
                groups.setdefault(group_id, [])
                if ann["id"] not in groups[group_id]:
                    groups[group_id].append(ann["id"])
    return rows, data_rows, [{"id": gid, "annotationIds": ids} for gid, ids in groups.items()]


def _v1_row(
    tool: str, ann: Mapping[str, Any], meta_row: Mapping[str, Any] | None
) -> dict[str, Any]:
    base = meta_row or {}
    classification = dict(base.get("classification") or {})
    classification["class"] = ann.get("classification")
    for attr in ann.get("attrs") or []:
        name = attr.get("name") if isinstance(attr, Mapping) else None
        if not isinstance(name, str) or name.startswith("_"):
            continue
        if tool == "bounding_box" and name == "rotation":
            continue  # lives in the coordinate in v1
        classification[name] = attr.get("value")
    if tool == "keypoint":
        visibility = ann.get("visibility", 2)
        classification["visibility"] = _VISIBILITY_BY_INT.get(visibility, visibility)
    return {
        "id": ann["id"],
        "tool": tool,
        "isLocked": base.get("isLocked", False),
        "isVisible": base.get("isVisible", True),
        "isValid": base.get("isValid", False),
        "isDrawCompleted": base.get("isDrawCompleted", True),
        "label": copy.deepcopy(base.get("label", [])),
        "classification": classification,
    }


def _v1_data(
    tool: str, prefix: str, ann: Mapping[str, Any], meta_row: Mapping[str, Any] | None
) -> dict[str, Any]:
    data = ann.get("data")
    row: dict[str, Any] = {"id": ann["id"]}
    if tool == "bounding_box" and isinstance(data, list | tuple) and len(data) == 4:
        row["coordinate"] = dict(zip(("x", "y", "width", "height"), data, strict=True))
        rotation = next(
            (
                a.get("value")
                for a in ann.get("attrs") or []
                if isinstance(a, Mapping) and a.get("name") == "rotation"
            ),
            None,
        )
        if rotation is not None:
            row["coordinate"]["rotation"] = rotation
    elif tool in ("polygon", "polyline") and isinstance(data, list):
        old = (meta_row or {}).get("coordinate") or []
        row["coordinate"] = [
            {
                "x": p[0],
                "y": p[1],
                "id": old[i]["id"]
                if i < len(old) and isinstance(old[i], Mapping) and "id" in old[i]
                else _random_point_id(),
            }
            for i, p in enumerate(data)
        ]
    elif tool == "keypoint" and isinstance(data, list | tuple) and len(data) >= 2:
        row["coordinate"] = {"x": data[0], "y": data[1]}
    elif tool == "segmentation" and prefix == "image":
        row.update(
            pixel_indices=copy.deepcopy(data),
            isCompressed=ann.get("isCompressed", False),
            compressionFormat=ann.get("compressionFormat"),
        )
    elif tool == "segmentation":
        row["section"] = copy.deepcopy(data)
    elif tool == "classification":
        pass
    elif tool == "relation" and isinstance(data, list | tuple) and len(data) == 2:
        row.update(annotationId=data[0], targetAnnotationId=data[1])
    elif tool == "3d_bounding_box":
        row["psr"] = copy.deepcopy(data)
    elif isinstance(data, Mapping):
        row.update(copy.deepcopy(dict(data)))
    else:
        row["data"] = copy.deepcopy(data)
    return row
