"""Class colours that stay the same across images, widgets and sessions.

A class name is hashed (CRC-32 of its UTF-8 bytes, which unlike ``hash()`` is not salted per
process) into a fixed palette of 20 colours chosen to stay apart from each other on photos.
When that slot is already taken by another class, the next free slot is used, so up to 20
classes never share a colour. :func:`register_classes` fixes a project's class list as a
function of the list alone, so the same list has the same colours in every process.

Compare mode does not colour by class but by outcome: :data:`MATCHED`, :data:`MISSED` and
:data:`EXTRA`.

Example:
    >>> class_color("car") == class_color("car")
    True
    >>> hex_color(class_color("car"))
    '#6a5acd'
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable

__all__ = [
    "EXTRA",
    "MATCHED",
    "MISSED",
    "PALETTE",
    "STATUS_COLORS",
    "class_color",
    "hex_color",
    "register_classes",
]

RGB = tuple[int, int, int]

#: Distinct, saturated colours that read on photos (no pastels, no white), in a fixed order:
#: changing it would recolour every class, so it never changes.
PALETTE: tuple[RGB, ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (0, 128, 128),
    (170, 110, 40),
    (128, 0, 0),
    (128, 128, 0),
    (0, 0, 128),
    (255, 105, 180),
    (30, 144, 255),
    (0, 255, 127),
    (106, 90, 205),
    (218, 165, 32),
    (255, 127, 80),
)

#: Compare mode: the object is in both sources (IoU at or above the threshold).
MATCHED: RGB = (46, 204, 64)
#: Compare mode: the object is only in the reference source (A), e.g. a missed detection.
MISSED: RGB = (255, 65, 54)
#: Compare mode: the object is only in the other source (B), e.g. a false positive.
EXTRA: RGB = (255, 0, 255)

#: outcome name -> colour
STATUS_COLORS: dict[str, RGB] = {"matched": MATCHED, "missed": MISSED, "extra": EXTRA}


def class_color(name: str | None) -> RGB:
    """The colour of a class: the same for a name in every image, widget and process.

    Args:
        name: Class name (``None`` or ``""`` for unlabelled shapes).

    Returns:
        An ``(r, g, b)`` tuple from :data:`PALETTE`.

    Example:
        >>> class_color("person") in PALETTE
        True
    """
    key = name or ""
    with _LOCK:
        slot = _ASSIGNED.get(key)
        if slot is None:
            slot = zlib.crc32(key.encode("utf-8")) % len(PALETTE)
            used = set(_ASSIGNED.values())
            if len(used) < len(PALETTE):
                while slot in used:  # linear probing: distinct colours for up to 20 classes
                    slot = (slot + 1) % len(PALETTE)
            _ASSIGNED[key] = slot
    return PALETTE[slot]


_ASSIGNED: dict[str, int] = {}
_LOCK = threading.Lock()


def register_classes(names: Iterable[str]) -> None:
    """Fix the colours of a class list: a function of the list alone, in every process.

    The names are placed in sorted order, each at its hash slot or the next one free among
    the list, overriding earlier assignments of those names; up to 20 classes get distinct
    colours. The preview registers its project's class list when it loads.

    Example:
        >>> register_classes(["car", "stop_sign"])
        >>> class_color("car") != class_color("stop_sign")
        True
    """
    taken: set[int] = set()
    with _LOCK:
        for name in sorted({n for n in names if n}):
            slot = zlib.crc32(name.encode("utf-8")) % len(PALETTE)
            if len(taken) < len(PALETTE):
                while slot in taken:
                    slot = (slot + 1) % len(PALETTE)
            taken.add(slot)
            _ASSIGNED[name] = slot


def hex_color(rgb: RGB) -> str:
    """``(r, g, b)`` as ``#rrggbb``.

    Example:
        >>> hex_color((255, 0, 16))
        '#ff0010'
    """
    return "#{:02x}{:02x}{:02x}".format(*rgb)
