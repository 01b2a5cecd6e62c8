"""DM image masks: reading ``raw_indices`` and ``dm_rle`` payloads.

DM masks index pixels row-major over the flattened image (``index = y * width + x``).
``raw_indices`` lists the foreground indices (sorted, unique); ``dm_rle`` lists half-open
``[start, length]`` runs (sorted, non-overlapping, may wrap rows). Which one a payload uses
is stated by ``encoding`` together with ``isCompressed``/``compressionFormat``; older
documents leave it out, and :func:`guess_rle` reads it from the payload's shape.

Example:
    >>> ann = {"data": [[1, 2]], "encoding": "dm_rle", "isCompressed": True,
    ...        "compressionFormat": "rle"}
    >>> decode_mask(ann, 2, 2).astype(int).tolist()
    [[0, 1], [1, 0]]
    >>> mask_extent([[1, 2]], rle=True, width=2)
    ((0.0, 0.0, 2.0, 2.0), 2.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synapse_nb.exceptions import SynapseNBError

__all__ = [
    "ENCODINGS",
    "MaskError",
    "decode_mask",
    "guess_rle",
    "mask_encoding",
    "mask_extent",
]

ENCODINGS = {
    # encoding: (isCompressed, compressionFormat)
    "raw_indices": (False, None),
    "dm_rle": (True, "rle"),
}


class MaskError(SynapseNBError, ValueError):
    """A mask payload is malformed; ``code`` is the audit reason code."""

    def __init__(self, message: str, code: str = "INVALID_MASK_ENCODING") -> None:
        self.code = code
        super().__init__(message)


def mask_encoding(annotation: Mapping[str, Any]) -> str:
    """Return the stated encoding of a DM segmentation annotation after checking its fields.

    ``encoding``, ``isCompressed`` and ``compressionFormat`` must agree; the encoding is
    never guessed from the payload shape (as in the SDK).

    Args:
        annotation: A DM v2 image ``segmentation`` annotation.

    Returns:
        ``"raw_indices"`` or ``"dm_rle"``.

    Raises:
        MaskError: If the three fields are missing or disagree.

    Example:
        >>> mask_encoding({"encoding": "dm_rle", "isCompressed": True, "compressionFormat": "rle"})
        'dm_rle'
    """
    encoding = annotation.get("encoding")
    if encoding not in ENCODINGS:
        raise MaskError(f"encoding must be 'raw_indices' or 'dm_rle', got {encoding!r}")
    compressed, fmt = ENCODINGS[encoding]
    got = (annotation.get("isCompressed"), annotation.get("compressionFormat"))
    if got[0] is not compressed or got[1] != fmt:
        raise MaskError(
            f"encoding {encoding!r} needs isCompressed={compressed} and compressionFormat="
            f"{fmt!r}, got isCompressed={got[0]!r} and compressionFormat={got[1]!r}"
        )
    return encoding


def _check_size(width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise MaskError(f"image {name} must be a positive integer, got {value!r}")


def decode_mask(annotation: Mapping[str, Any], width: int, height: int) -> np.ndarray:
    """Decode a DM segmentation annotation into a boolean ``(height, width)`` array.

    Args:
        annotation: DM v2 image ``segmentation`` annotation (``data`` plus encoding fields).
        width: Image width in pixels.
        height: Image height in pixels.

    Returns:
        Boolean array, True on the mask.

    Raises:
        MaskError: If the encoding fields disagree, or indices/runs are unsorted,
            overlapping, duplicated, non-integer or outside ``0 .. width*height``.

    Example:
        >>> ann = {"data": [[1, 2]], "encoding": "dm_rle", "isCompressed": True,
        ...        "compressionFormat": "rle"}
        >>> decode_mask(ann, 2, 2).astype(int).tolist()
        [[0, 1], [1, 0]]
    """
    _check_size(width, height)
    encoding = mask_encoding(annotation)
    data = annotation.get("data")
    total = width * height
    flat = np.zeros(total, dtype=bool)
    if not isinstance(data, list):
        raise MaskError(f"mask data must be a list, got {type(data).__name__}")
    if encoding == "raw_indices":
        idx = _int_array(data, "pixel index")
        if idx.size and (idx[0] < 0 or idx[-1] >= total):
            raise MaskError(f"pixel indices must lie in 0..{total - 1} for {width}x{height}")
        if idx.size > 1 and np.any(np.diff(idx) <= 0):
            raise MaskError("raw_indices must be sorted ascending without duplicates")
        flat[idx] = True
    else:
        if not all(isinstance(run, list | tuple) and len(run) == 2 for run in data):
            raise MaskError("dm_rle data must be a list of [start, length] pairs")
        runs = _int_array(data, "run").reshape(-1, 2)
        previous_end = 0
        for start, length in runs:
            if start < 0 or length <= 0:
                raise MaskError(f"run [{start}, {length}] needs start >= 0 and length > 0")
            if start < previous_end:
                raise MaskError(f"run starting at {start} is unsorted or overlaps the previous")
            previous_end = start + length
            if previous_end > total:
                raise MaskError(f"run [{start}, {length}] ends past {total} ({width}x{height})")
            flat[start:previous_end] = True
    return flat.reshape(height, width)


def _int_array(values: list[Any], what: str) -> np.ndarray:
    flat = np.asarray(values, dtype=object).ravel()
    if flat.size and not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        raise MaskError(f"every {what} must be an integer")
    return flat.astype(np.int64) if flat.size else np.zeros(0, dtype=np.int64)


def guess_rle(encoding: Any, data: Any) -> bool:
    """Whether a mask payload is ``dm_rle``: as stated, else read from its first entry.

    Example:
        >>> guess_rle(None, [[0, 3]]), guess_rle(None, [0, 1, 2]), guess_rle("dm_rle", [])
        (True, False, True)
    """
    if encoding is not None:
        return encoding == "dm_rle"
    return bool(data) and isinstance(data[0], list | tuple) and len(data[0]) == 2


def mask_extent(
    data: Any, *, rle: bool, width: int | None
) -> tuple[tuple[float, float, float, float] | None, float | None]:
    """Tight pixel-inclusive ``(x, y, w, h)`` and pixel count of a mask payload.

    Works on the indices/runs directly (no image-sized array). The box needs the image
    ``width``; without it only the count is known. A malformed payload gives
    ``(None, None)``; an empty one ``(None, 0.0)``.

    Example:
        >>> mask_extent([5, 6, 9], rle=False, width=4)
        ((1.0, 1.0, 2.0, 2.0), 3.0)
    """
    if not isinstance(data, list):
        return None, None
    if not data:
        return None, 0.0
    try:
        if rle:
            runs = np.asarray(data, dtype=np.int64).reshape(-1, 2)
            area = float(runs[:, 1].sum())
            starts, ends = runs[:, 0], runs[:, 0] + runs[:, 1] - 1
        else:
            flat = np.asarray(data, dtype=np.int64).ravel()
            area = float(flat.size)
            starts = ends = flat
    except (TypeError, ValueError):
        return None, None
    if not width or width <= 0:
        return None, area
    rows0, rows1 = starts // width, ends // width
    wraps = rows1 > rows0  # a run that crosses a row edge touches x = 0 and x = W - 1
    xmin = 0 if wraps.any() else int((starts % width).min())
    xmax = width - 1 if wraps.any() else int((ends % width).max())
    ymin, ymax = int(rows0.min()), int(rows1.max())
    return (float(xmin), float(ymin), float(xmax - xmin + 1), float(ymax - ymin + 1)), area
