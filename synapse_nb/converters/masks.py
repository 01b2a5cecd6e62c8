"""Image masks: writing DM ``raw_indices`` / ``dm_rle`` and COCO compressed RLE.

Reading DM masks lives in :mod:`synapse_nb.annotations.masks` (``decode_mask``,
``mask_encoding`` and ``MaskError`` are re-exported here). COCO RLE runs
column-major, alternating background/foreground counts starting with background, and is
stored as the compact ASCII string of the COCO API (written here, checked against
pycocotools in the tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synapse_nb.annotations.masks import ENCODINGS as _ENCODINGS
from synapse_nb.annotations.masks import MaskError, decode_mask, mask_encoding

__all__ = [
    "MaskError",
    "coco_rle_decode",
    "coco_rle_encode",
    "decode_mask",
    "encode_mask",
    "mask_encoding",
]


def encode_mask(mask: np.ndarray, encoding: str = "dm_rle") -> dict[str, Any]:
    """Encode a 2-D mask as DM segmentation fields.

    Args:
        mask: 2-D array; nonzero pixels are foreground.
        encoding: ``"dm_rle"`` (default, compact) or ``"raw_indices"``.

    Returns:
        ``{"data", "encoding", "isCompressed", "compressionFormat"}`` ready to merge into
        a DM ``segmentation`` annotation.

    Raises:
        ValueError: If ``mask`` is not 2-D or the encoding is unknown.

    Example:
        >>> encode_mask(np.array([[0, 1], [1, 0]]))["data"]
        [[1, 2]]
        >>> encode_mask(np.array([[0, 1], [1, 0]]), "raw_indices")["data"]
        [1, 2]
    """
    if encoding not in _ENCODINGS:
        raise ValueError(f"encoding must be 'raw_indices' or 'dm_rle', got {encoding!r}")
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"mask must be 2-D (height, width), got shape {array.shape}")
    flat = array.astype(bool).ravel()
    compressed, fmt = _ENCODINGS[encoding]
    if encoding == "raw_indices":
        data: list[Any] = np.flatnonzero(flat).tolist()
    else:
        padded = np.concatenate(([False], flat, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        starts, ends = edges[0::2], edges[1::2]
        data = [[int(s), int(e - s)] for s, e in zip(starts, ends, strict=True)]
    return {
        "data": data,
        "encoding": encoding,
        "isCompressed": compressed,
        "compressionFormat": fmt,
    }


def _column_major_counts(mask: np.ndarray) -> list[int]:
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(bounds).tolist()
    return [0, *counts] if flat[0] else counts


def coco_rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """Encode a 2-D mask as COCO compressed RLE ``{"size": [h, w], "counts": str}``.

    Args:
        mask: 2-D array; nonzero pixels are foreground.

    Returns:
        The RLE dict, as ``pycocotools.mask.encode`` would give (with ``counts`` as str).

    Example:
        >>> coco_rle_encode(np.array([[0, 1], [1, 1]]))
        {'size': [2, 2], 'counts': '13'}
    """
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"mask must be 2-D (height, width), got shape {array.shape}")
    counts = _column_major_counts(array)
    chars: list[str] = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count  # delta coding, as in the COCO API
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative deltas terminate at -1
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return {"size": [int(array.shape[0]), int(array.shape[1])], "counts": "".join(chars)}


def coco_rle_decode(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode COCO RLE (compressed string or uncompressed count list) to a boolean array.

    Args:
        rle: ``{"size": [h, w], "counts": str | bytes | list[int]}``.

    Returns:
        Boolean ``(h, w)`` array.

    Raises:
        MaskError: If the counts do not add up to ``h * w`` or are malformed.

    Example:
        >>> coco_rle_decode({"size": [2, 2], "counts": "13"}).astype(int).tolist()
        [[0, 1], [1, 1]]
    """
    size = rle.get("size")
    if not (isinstance(size, list | tuple) and len(size) == 2):
        raise MaskError(f"RLE size must be [height, width], got {size!r}")
    height, width = int(size[0]), int(size[1])
    counts = rle.get("counts")
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = _parse_counts(counts)
    if not isinstance(counts, list) or any(c < 0 for c in counts):
        raise MaskError("RLE counts must be a string or a list of non-negative integers")
    if sum(counts) != height * width:
        raise MaskError(f"RLE counts add up to {sum(counts)}, expected {height * width}")
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape((width, height)).T.copy()


def _parse_counts(text: str) -> list[int]:
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            if p >= len(text):
                raise MaskError("RLE counts string ends in the middle of a number")
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts
