"""The multi-index hashing index finds exactly the pairs a brute-force popcount finds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse_nb.health import HealthInputError, brute_force_pairs, near_pairs
from synapse_nb.health._graph import components
from synapse_nb.health.index import _choose_band_count


@st.composite
def hash_sets(draw):
    """Random 64-bit hashes with planted near copies and exact repeats."""
    seed = draw(st.integers(0, 2**32 - 1))
    size = draw(st.integers(0, 300))
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, size, dtype=np.uint64)
    if size > 4:
        copies = rng.integers(0, size, size // 3)
        flips = rng.integers(0, 64, (copies.size, 12)).astype(np.uint64)
        keep = rng.random((copies.size, 12)) < draw(st.floats(0.0, 0.8))
        noise = np.bitwise_or.reduce(np.where(keep, np.uint64(1) << flips, np.uint64(0)), axis=1)
        targets = rng.integers(0, size, copies.size)
        hashes[targets] = hashes[copies] ^ noise
    return hashes


@settings(max_examples=150, deadline=None)
@given(hashes=hash_sets(), k=st.integers(0, 16))
def test_index_finds_exactly_the_brute_force_pairs(hashes, k):
    got, want = near_pairs(hashes, k), brute_force_pairs(hashes, k)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_many_copies_of_one_hash_give_every_pair():
    hashes = np.array([7] * 50 + [6] * 3, dtype=np.uint64)
    i, j, d = near_pairs(hashes, 1)
    assert len(i) == 53 * 52 // 2
    assert d[(i < 50) & (j < 50)].max() == 0 and d[(i < 50) & (j >= 50)].min() == 1


@pytest.mark.parametrize(("k", "bands"), [(0, 1), (3, 4), (6, 4), (10, 4)])
def test_band_count_for_100k_hashes(k, bands):
    assert _choose_band_count(100_000, k) == bands


def test_signed_int_hashes_are_accepted_and_floats_rejected():
    i, _, _ = near_pairs(np.array([3, 3], dtype=np.int64), 0)
    assert i.tolist() == [0]
    with pytest.raises(HealthInputError, match="hashes"):
        near_pairs(np.array([0.5, 1.5]), 1)
    with pytest.raises(HealthInputError, match="max_distance"):
        near_pairs(np.array([1, 2], dtype=np.uint64), 65)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), edges=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59))))
def test_components_match_a_plain_union_find(n, edges):
    edges = [(a % n, b % n) for a, b in edges]
    parent = list(range(n))

    def root(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    left = np.array([a for a, _ in edges], dtype=np.int64)
    right = np.array([b for _, b in edges], dtype=np.int64)
    assert components(n, left, right).tolist() == [root(x) for x in range(n)]
