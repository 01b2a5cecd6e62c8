"""Near-duplicate search over 64-bit perceptual hashes by multi-index hashing.

A quadratic scan of 100,000 hashes is 5·10⁹ comparisons; this module finds every pair within
Hamming distance ``k`` in about a second. The index is **multi-index hashing** (Norouzi,
Punjani and Fleet, "Fast search in Hamming space with multi-index hashing", CVPR 2012): the
64 bits are cut into ``m`` contiguous bands. By the pigeonhole principle, two hashes within
distance ``k`` differ in at most ``k // m`` bits in at least one band. So for each band the
hashes are sorted by their band value, and every hash probes the band values within
``k // m`` bit flips of its own (``np.searchsorted`` on the sorted bands); each candidate pair
is then verified with a popcount of the XOR of the full hashes, in numpy. ``m`` is chosen
from a cost model (probes per band × expected bucket size), which gives ``k + 1`` bands with
exact band matches for small ``k`` and fewer, wider bands probed with one or two bit flips
for larger ``k``. Equal hashes are collapsed first, so 10,000 copies of one image cost one
index entry.

Example:
    >>> import numpy as np
    >>> from synapse_nb.health.index import near_pairs
    >>> hashes = np.array([0b1111, 0b0111, 0xF0F0F0F0, 0b1111], dtype=np.uint64)
    >>> i, j, d = near_pairs(hashes, max_distance=1)
    >>> [(int(a), int(b), int(c)) for a, b, c in zip(i, j, d)]
    [(0, 1, 1), (0, 3, 0), (1, 3, 1)]
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import numpy.typing as npt

from synapse_nb.health._errors import HealthInputError

__all__ = ["brute_force_pairs", "near_pairs", "popcount"]

Pairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]

_BITS = 64
_TABLE_BITS = 20  # bands this narrow get a bucket-offset table (8 MB at most)
_PROBE_COST = 4.0  # cost of one probe, in verified candidates (measured)
_BYTE_COUNTS = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)


def popcount(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Number of set bits of each 64-bit value.

    Example:
        >>> popcount(np.array([0, 1, 0xFF, 2**64 - 1], dtype=np.uint64)).tolist()
        [0, 1, 8, 64]
    """
    values = np.ascontiguousarray(values, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.asarray(np.bitwise_count(values), dtype=np.int64)
    as_bytes = values.view(np.uint8).reshape(-1, 8)
    return np.asarray(_BYTE_COUNTS[as_bytes].sum(axis=1), dtype=np.int64)


def _as_hashes(hashes: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    array = np.asarray(hashes)
    if array.ndim != 1:
        raise HealthInputError("hashes", array.shape, "must be a 1-d array of 64-bit hashes")
    if array.size and array.dtype.kind not in "ui":
        raise HealthInputError("hashes", array.dtype, "must hold unsigned 64-bit integers")
    return array.astype(np.uint64, copy=False)


def _check_distance(max_distance: int) -> None:
    if isinstance(max_distance, bool) or not isinstance(max_distance, int | np.integer):
        raise HealthInputError("max_distance", max_distance, "must be an int")
    if not 0 <= max_distance <= _BITS:
        raise HealthInputError("max_distance", max_distance, f"must be within [0, {_BITS}]")


def _bands(count: int) -> list[tuple[int, int]]:
    """(shift, width) of ``count`` contiguous bands covering the 64 bits."""
    widths = [_BITS // count + (1 if b < _BITS % count else 0) for b in range(count)]
    shifts = np.concatenate([[0], np.cumsum(widths)[:-1]]).tolist()
    return list(zip(shifts, widths, strict=True))


def _probes(width: int, radius: int) -> int:
    return sum(comb(width, r) for r in range(radius + 1))


def _choose_band_count(size: int, max_distance: int) -> int:
    """The band count with the least expected work (probes × (lookup + bucket size))."""
    if max_distance == 0:
        return 1
    best, best_cost = 1, float("inf")
    for count in range(2, min(max_distance + 1, _BITS) + 1):
        radius = max_distance // count
        width = min(w for _, w in _bands(count))
        bucket = size / 2.0**width
        cost = count * _probes(width, radius) * (_PROBE_COST + bucket)
        if cost < best_cost:
            best, best_cost = count, cost
    return best


def _flip_masks(width: int, radius: int) -> npt.NDArray[np.uint64]:
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(width), r)]
    return np.array(masks, dtype=np.uint64)


def _band_candidates(
    unique: npt.NDArray[np.uint64], shift: int, width: int, radius: int, max_distance: int
) -> list[npt.NDArray[np.int64]]:
    """Verified pair codes (i * n + j, i < j) of the pairs one band can reveal."""
    n = unique.size
    keys = (unique >> np.uint64(shift)) & np.uint64((1 << width) - 1)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    table = None
    if width <= _TABLE_BITS:  # bucket bounds by direct lookup instead of binary search
        table = np.concatenate([[0], np.cumsum(np.bincount(keys.astype(np.int64),
                                                           minlength=1 << width))])
    found: list[npt.NDArray[np.int64]] = []
    queries = np.arange(n, dtype=np.int64)
    for mask in _flip_masks(width, radius):
        probe = keys ^ mask
        if table is not None:
            slot = probe.astype(np.int64)
            lo, hi = table[slot], table[slot + 1]
        else:
            lo = np.searchsorted(sorted_keys, probe, side="left")
            hi = np.searchsorted(sorted_keys, probe, side="right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            continue
        left = np.repeat(queries, counts)
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        right = order[starts + np.arange(total)].astype(np.int64)
        keep = left < right
        left, right = left[keep], right[keep]
        close = popcount(unique[left] ^ unique[right]) <= max_distance
        found.append(left[close] * n + right[close])
    return found


def _unique_pairs(unique: npt.NDArray[np.uint64], max_distance: int) -> Pairs:
    n = unique.size
    count = _choose_band_count(n, max_distance)
    codes: list[npt.NDArray[np.int64]] = [np.empty(0, dtype=np.int64)]
    for shift, width in _bands(count):
        codes += _band_candidates(unique, shift, width, max_distance // count, max_distance)
    code = np.unique(np.concatenate(codes))
    left, right = code // max(n, 1), code % max(n, 1)
    return left, right, popcount(unique[left] ^ unique[right])


def _expand(inverse: npt.NDArray[np.int64], u: npt.NDArray[np.int64],
            v: npt.NDArray[np.int64], dist: npt.NDArray[np.int64]) -> Pairs:
    """Pairs of items from pairs of unique hashes (and items sharing one hash)."""
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(int(inverse.max()) + 1))
    sizes = np.diff(np.append(starts, inverse.size))
    out_i, out_j, out_d = [], [], []
    # Items sharing a hash: all pairs inside each group, distance 0.
    for size in np.unique(sizes[sizes > 1]):
        groups = np.flatnonzero(sizes == size)
        a, b = np.triu_indices(int(size), k=1)
        members = order[starts[groups][:, None] + np.arange(int(size))]
        out_i.append(members[:, a].ravel())
        out_j.append(members[:, b].ravel())
        out_d.append(np.zeros(groups.size * a.size, dtype=np.int64))
    # Pairs of distinct hashes: the product of their two groups.
    for su in np.unique(sizes[u]) if u.size else []:
        for sv in np.unique(sizes[v[sizes[u] == su]]):
            sel = (sizes[u] == su) & (sizes[v] == sv)
            mu = order[starts[u[sel]][:, None] + np.arange(int(su))]
            mv = order[starts[v[sel]][:, None] + np.arange(int(sv))]
            out_i.append(np.repeat(mu, int(sv), axis=1).ravel())
            out_j.append(np.tile(mv, (1, int(su))).ravel())
            out_d.append(np.repeat(dist[sel], int(su) * int(sv)))
    return _ordered(out_i, out_j, out_d)


def _ordered(out_i: list[npt.NDArray[np.int64]], out_j: list[npt.NDArray[np.int64]],
             out_d: list[npt.NDArray[np.int64]]) -> Pairs:
    empty = np.empty(0, dtype=np.int64)
    i = np.concatenate([empty, *out_i]).astype(np.int64)
    j = np.concatenate([empty, *out_j]).astype(np.int64)
    d = np.concatenate([empty, *out_d]).astype(np.int64)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((hi, lo))
    return lo[order], hi[order], d[order]


def near_pairs(hashes: npt.ArrayLike, max_distance: int) -> Pairs:
    """Every pair of hashes within ``max_distance`` bits, by multi-index hashing.

    Args:
        hashes: 1-d array of 64-bit hashes (``uint64``; non-negative ``int64`` works too).
        max_distance: Largest Hamming distance of a reported pair (0-64).

    Returns:
        ``(i, j, distance)`` int64 arrays, ``i < j`` item positions, sorted by ``(i, j)``.

    Raises:
        HealthInputError: ``hashes`` is not 1-d integers or ``max_distance`` out of range.

    Example:
        >>> i, j, d = near_pairs(np.array([5, 4, 5], dtype=np.uint64), max_distance=0)
        >>> i.tolist(), j.tolist(), d.tolist()
        ([0], [2], [0])
    """
    array = _as_hashes(hashes)
    _check_distance(max_distance)
    if array.size < 2:
        return _ordered([], [], [])
    unique, inverse = np.unique(array, return_inverse=True)
    u, v, dist = _unique_pairs(unique, int(max_distance))
    return _expand(inverse.astype(np.int64).ravel(), u, v, dist)


def brute_force_pairs(hashes: npt.ArrayLike, max_distance: int, block: int = 2048) -> Pairs:
    """The same pairs as :func:`near_pairs` by comparing every hash with every other.

    Quadratic: a reference for tests and benchmarks, not for large collections.

    Example:
        >>> i, j, d = brute_force_pairs(np.array([0b1111, 0b0111], dtype=np.uint64), 1)
        >>> i.tolist(), j.tolist(), d.tolist()
        ([0], [1], [1])
    """
    array = _as_hashes(hashes)
    _check_distance(max_distance)
    out_i, out_j, out_d = [], [], []
    for start in range(0, array.size, block):
        rows = array[start : start + block]
        dist = popcount((rows[:, None] ^ array[None, :]).ravel()).reshape(rows.size, -1)
        ii, jj = np.nonzero(dist <= max_distance)
        ii = ii + start
        keep = ii < jj
        out_i.append(ii[keep].astype(np.int64))
        out_j.append(jj[keep].astype(np.int64))
        out_d.append(dist[ii[keep] - start, jj[keep]].astype(np.int64))
    return _ordered(out_i, out_j, out_d)
