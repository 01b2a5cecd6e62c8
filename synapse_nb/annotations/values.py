"""Reading single DM values: numbers, visibility, attributes and point lists.

These are the few rules every reader of DM data shares. They never raise: a value of the
wrong shape reads as ``None`` (or is left out), and the caller decides whether that is an
error (the converters) or simply nothing to show (frames, the preview).

Example:
    >>> visibility_code("Occluded"), visibility_code(2), visibility_code(True)
    (1, 2, None)
    >>> attrs_dict([{"name": "color", "value": "red"}, {"value": 1}])
    {'color': 'red'}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

__all__ = [
    "VISIBILITY_NAMES",
    "all_points",
    "attr_value",
    "attrs_dict",
    "is_number",
    "number",
    "point_list",
    "visibility_code",
]

#: Keypoint visibility names and their codes (0 missing, 1 occluded, 2 visible).
VISIBILITY_NAMES: dict[str, int] = {"missing": 0, "occluded": 1, "visible": 2}


def is_number(value: Any) -> TypeGuard[int | float]:
    """Whether ``value`` is a finite int or float (``bool`` is not a number here).

    Example:
        >>> is_number(1.5), is_number(True), is_number(float("nan"))
        (True, False, False)
    """
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def number(value: Any) -> float | None:
    """``value`` as a float when it is an int or float (not bool), else None.

    Non-finite floats are kept (use :func:`is_number` to reject them).

    Example:
        >>> number(3), number("3"), number(False)
        (3.0, None, None)
    """
    kind = type(value)
    if kind is float or kind is int:  # the common case, without the isinstance chain
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def visibility_code(value: Any) -> int | None:
    """A keypoint visibility as its integer code.

    Names are read case-insensitively; integers are returned as they are (callers that
    need 0/1/2 check the range); anything else is None.

    Example:
        >>> visibility_code("visible"), visibility_code("MISSING"), visibility_code("seen")
        (2, 0, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return VISIBILITY_NAMES.get(value.lower())
    return None


def attrs_dict(value: Any) -> dict[str, Any]:
    """DM attributes as ``{name: value}``.

    DM v2 stores attributes as a list of ``{"name", "value"}`` entries; a mapping is
    accepted as it is; entries without a name are left out.

    Example:
        >>> attrs_dict({"a": 1}), attrs_dict(None)
        ({'a': 1}, {})
    """
    if type(value) is list:
        return {
            a["name"]: a.get("value")
            for a in value
            if (type(a) is dict or isinstance(a, Mapping)) and "name" in a
        }
    if isinstance(value, list):
        return attrs_dict(list(value))
    return dict(value) if isinstance(value, Mapping) else {}


def attr_value(ann: Mapping[str, Any], name: str) -> Any:
    """The value of the first attribute called ``name`` in a v2 annotation's ``attrs`` list.

    Example:
        >>> attr_value({"attrs": [{"name": "rotation", "value": 0.5}]}, "rotation")
        0.5
    """
    for attr in ann.get("attrs") or []:
        if isinstance(attr, Mapping) and attr.get("name") == name:
            return attr.get("value")
    return None


def point_list(value: Any) -> list[tuple[float, float]]:
    """The ``[x, y]`` points of a polygon/polyline ``data`` list, malformed points left out.

    Example:
        >>> point_list([[0, 1], ["a", 2], [3, 4, 5]])
        [(0.0, 1.0), (3.0, 4.0)]
    """
    out = []
    if isinstance(value, list):
        for p in value:
            if isinstance(p, list | tuple) and len(p) >= 2:
                x, y = number(p[0]), number(p[1])
                if x is not None and y is not None:
                    out.append((x, y))
    return out


def all_points(value: Any, least: int = 0) -> list[tuple[float, float]] | None:
    """Every point of a polygon/polyline ``data`` list, or None when one is malformed.

    Strict where :func:`point_list` is lenient: a point that is not ``[x, y, ...]`` with
    finite numbers, or fewer than ``least`` points, makes the whole list unusable.

    Example:
        >>> all_points([[0, 1], [2, 3]], least=2), all_points([[0, 1], ["a", 2]])
        ([(0.0, 1.0), (2.0, 3.0)], None)
    """
    if not isinstance(value, list):
        return None
    points = [
        (float(p[0]), float(p[1]))
        for p in value
        if isinstance(p, list | tuple) and len(p) >= 2 and is_number(p[0]) and is_number(p[1])
    ]
    return points if len(points) >= least and len(points) == len(value) else None
