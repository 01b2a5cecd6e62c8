"""Media types and tool names of DM documents, in one place.

A DM v2 document lists media items under plural keys (``images``, ``videos``, ...); a DM
v1 document names each media item ``<type>_<n>`` (``image_1`` is the first image). The
two spellings are one map, :data:`MEDIA_TYPES`, read in both directions.

Example:
    >>> MEDIA_TYPES["image"], MEDIA_KEYS["pcds"]
    ('images', 'pcd')
    >>> parse_media_id("video_3")
    ('video', 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "MEDIA_KEYS",
    "MEDIA_TYPES",
    "NOT_CLASS_TOOLS",
    "V1_TOOL_ALIASES",
    "is_v1",
    "parse_media_id",
    "v1_tool",
]

#: Media type (the v1 media-id prefix) -> the v2 list key.
MEDIA_TYPES: dict[str, str] = {
    "image": "images",
    "video": "videos",
    "pcd": "pcds",
    "text": "texts",
    "audio": "audios",
    "prompt": "prompts",
    "data": "datas",
}
#: The v2 list key -> the media type (the same map read the other way).
MEDIA_KEYS: dict[str, str] = {v: k for k, v in MEDIA_TYPES.items()}

#: Tools whose ``classification`` is not an object class (joint names, links).
NOT_CLASS_TOOLS = frozenset({"keypoint", "relation"})

#: Non-canonical v1 tool names seen in the wild -> the v2 tool name.
V1_TOOL_ALIASES: dict[str, str] = {
    "boundingBox": "bounding_box",
    "bbox": "bounding_box",
    "polyLine": "polyline",
    "namedEntity": "named_entity",
    "timeRange": "time_range",
    "annotationGroup": "group",
    "3dBoundingBox": "3d_bounding_box",
    "3dSegmentation": "3d_segmentation",
}


def v1_tool(name: Any) -> str:
    """The v2 tool name of a v1 ``tool`` value.

    Example:
        >>> v1_tool("boundingBox"), v1_tool("polygon")
        ('bounding_box', 'polygon')
    """
    text = str(name)
    return V1_TOOL_ALIASES.get(text, text)


def is_v1(data: Mapping[str, Any]) -> bool:
    """Whether a document is DM v1 (its ``annotations`` is a mapping keyed by media id).

    Example:
        >>> is_v1({"annotations": {}}), is_v1({"images": []})
        (True, False)
    """
    return isinstance(data.get("annotations"), Mapping)


def parse_media_id(media_id: Any) -> tuple[str, int]:
    """``(media type, 0-based index)`` of a v1 media id; index 0 when it has no number.

    Example:
        >>> parse_media_id("image_1"), parse_media_id("odd")
        (('image', 0), ('odd', 0))
    """
    media, _, number = str(media_id).partition("_")
    return media, int(number) - 1 if number.isdigit() else 0
