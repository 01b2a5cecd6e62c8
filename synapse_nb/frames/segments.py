""":class:`ColumnBuffer`: the typed segments of one frame column, written into its final array.

A long listing is converted to typed arrays a segment at a time while later pages are still
on the wire. Concatenating the segments at the end would hold every fixed-width column twice
at the frame's peak (the segments and the result), and the freed segments stay in the C heap
as holes the process never gives back. Instead, numpy-backed columns (nullable integers,
booleans and floats, UTC timestamps, Python objects) are written segment by segment into
arrays sized from the listing's announced ``count``: ``np.empty`` reserves the memory without
touching it, so a count larger than the rows that really come costs no resident memory (object
arrays, which numpy fills when it allocates them, double from the first segment instead), and
a listing that grows past it doubles the arrays. Columns of other types (categories, pyarrow
strings and lists) keep their segments, combined by the caller.

Example:
    >>> buffer = ColumnBuffer(capacity=4)
    >>> buffer.put(pd.array([1, None], dtype="Int64"))
    >>> buffer.put(pd.array([3], dtype="Int64"))
    >>> buffer.result().tolist()
    [1, <NA>, 3]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_PREALLOCATED", "ColumnBuffer"]

#: Most rows reserved up front from an announced count (a larger count grows as rows come).
MAX_PREALLOCATED = 1 << 22

_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")
#: The nullable arrays: a numpy ``_data`` array and a boolean ``_mask`` (True = missing).
_MASKED = (pd.arrays.IntegerArray, pd.arrays.BooleanArray, pd.arrays.FloatingArray)


def _layout(part: Any) -> tuple[str, np.dtype[Any]] | None:
    """How a typed segment is stored in a buffer: ``(kind, numpy dtype)``, or None."""
    if not _BUFFERS_WORK:
        return None
    if isinstance(part, _MASKED):
        return type(part).__name__, part._data.dtype
    if isinstance(part, pd.arrays.DatetimeArray) and part.dtype == _UTC_NS:
        return "datetime", part._ndarray.dtype
    if isinstance(part, np.ndarray) and part.ndim == 1 and part.dtype == object:
        return "object", part.dtype
    return None


class ColumnBuffer:
    """One column's typed segments, in a preallocated array when their type allows.

    Args:
        capacity: Rows to reserve at the first segment (e.g. the listing's ``count``);
            0 lets the array grow from the first segment's size.
        combine: Joins a list of segments (the fallback for the other types); defaults to
            returning the only segment.

    Example:
        >>> buffer = ColumnBuffer(capacity=10)
        >>> buffer.put(np.fromiter([[1], {}], dtype=object, count=2))
        >>> buffer.result().tolist()
        [[1], {}]
    """

    def __init__(self, capacity: int = 0, combine: Callable[[list[Any]], Any] | None = None):
        self.capacity = max(0, min(int(capacity), MAX_PREALLOCATED))
        self.size = 0
        self._combine = combine
        self._parts: list[Any] = []
        self._layout: tuple[str, np.dtype[Any]] | None = None
        self._template: Any = None
        self._data: np.ndarray | None = None
        self._mask: np.ndarray | None = None

    @property
    def empty(self) -> bool:
        """No segment was put yet."""
        return self._data is None and not self._parts

    def put(self, part: Any) -> None:
        """Append one typed segment."""
        layout = _layout(part)
        if self._data is None and not self._parts and layout is not None:
            self._layout, self._template = layout, part
            # numpy fills object arrays with None when it allocates them: those are never
            # reserved ahead (an announced count is the server's word), they double as needed
            ahead = 0 if layout[0] == "object" else self.capacity
            self._reserve(max(ahead, len(part)))
        elif self._data is None or layout != self._layout:
            if self._data is not None:  # a segment of another type: segments from now on
                self._parts.append(self._take())
            self._parts.append(part)
            return
        self._write(part)

    def result(self) -> Any:
        """The whole column (the buffer is handed over, not copied, when it is full)."""
        if self._data is None:
            if not self._parts:
                raise ValueError("no segment was put")
            if len(self._parts) == 1:
                return self._parts[0]
            if self._combine is None:
                raise ValueError("several segments of a type kept apart need a combine")
            return self._combine(self._parts)
        return self._take()

    # ------------------------------------------------------------------ the buffer
    def _reserve(self, capacity: int) -> None:
        assert self._layout is not None
        data = np.empty(capacity, dtype=self._layout[1])
        mask = np.empty(capacity, dtype=bool) if self._layout[0] not in _UNMASKED else None
        if self._data is not None and self.size:
            data[: self.size] = self._data[: self.size]
            if mask is not None and self._mask is not None:
                mask[: self.size] = self._mask[: self.size]
        self._data, self._mask, self.capacity = data, mask, capacity

    def _write(self, part: Any) -> None:
        assert self._data is not None and self._layout is not None
        start, stop = self.size, self.size + len(part)
        if stop > self.capacity:
            self._reserve(max(stop, 2 * self.capacity))
        kind = self._layout[0]
        if kind == "datetime":
            self._data[start:stop] = part._ndarray
        elif kind == "object":
            self._data[start:stop] = part
        else:
            assert self._mask is not None
            self._data[start:stop] = part._data
            self._mask[start:stop] = part._mask
        self.size = stop

    def _take(self) -> Any:
        """The buffer's rows as an array of the segments' type; the buffer is released."""
        assert self._data is not None and self._layout is not None
        n = self.size
        data = self._data if n == self.capacity else self._data[:n].copy()
        mask = self._mask
        if mask is not None and n != self.capacity:
            mask = mask[:n].copy()
        template, kind = self._template, self._layout[0]
        self._data = self._mask = None
        self.size = self.capacity = 0
        if kind == "datetime":
            return pd.arrays.DatetimeArray._simple_new(data, dtype=template.dtype)
        if kind == "object":
            return data
        return type(template)(data, mask)


_UNMASKED = frozenset({"datetime", "object"})


def _buffers_work() -> bool:
    """Whether this pandas stores arrays as the buffers expect (they read pandas' array
    internals, which pandas may change; where it has, every column keeps its segments)."""
    global _BUFFERS_WORK
    _BUFFERS_WORK = True
    try:
        samples = [
            pd.array([1, None], dtype="Int64"),
            pd.array([True, None], dtype="boolean"),
            pd.array([0.5, None], dtype="Float64"),
            pd.array(pd.to_datetime(["2024-01-01", None], utc=True)).astype(_UTC_NS),
        ]
        for sample in samples:
            buffer = ColumnBuffer(capacity=4)
            buffer.put(sample)
            buffer.put(sample)
            got = buffer.result()
            if got.dtype != sample.dtype or [bool(v) for v in pd.isna(got)] != [False, True] * 2:
                raise TypeError(f"{sample.dtype} came back as {got.dtype}")
            if got[0] != sample[0]:
                raise TypeError(f"{sample.dtype}: {got[0]!r} != {sample[0]!r}")
    except Exception:  # any surprise means: do not rely on the internals
        _BUFFERS_WORK = False
    return _BUFFERS_WORK


_BUFFERS_WORK = True
_buffers_work()
