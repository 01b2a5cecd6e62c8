"""Connected components of a pair list, in numpy (union by smallest index)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["components"]


def components(
    count: int, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Label of each of ``count`` items: the smallest item index of its component.

    Example:
        >>> components(5, np.array([0, 3]), np.array([2, 4])).tolist()
        [0, 1, 0, 3, 3]
    """
    parent = np.arange(count, dtype=np.int64)
    while True:
        while True:  # pointer jumping until every item points at its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        a, b = parent[left], parent[right]
        differ = a != b
        if not differ.any():
            return parent
        low, high = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
        np.minimum.at(parent, high, low)
