"""Typed segments written into preallocated columns (``frames.segments``) and what it saves.

The oracle of the buffer is the plain concatenation of the same segments; the memory test
measures, with ``tracemalloc`` (numpy reports its buffers to it), the peak of a streamed
build against the size of the frame's fixed-width columns: concatenating the segments at the
end held those columns twice.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from synapse_nb.frames import build
from synapse_nb.frames.segments import ColumnBuffer

SEGMENTS = {
    "Int64": [pd.array([1, None, 3], dtype="Int64"), pd.array([4], dtype="Int64")],
    "Int32": [pd.array([None], dtype="Int32"), pd.array([7, 8, None], dtype="Int32")],
    "boolean": [pd.array([True, None], dtype="boolean"), pd.array([False], dtype="boolean")],
    "Float64": [pd.array([0.5, None], dtype="Float64"), pd.array([2.0], dtype="Float64")],
    "datetime": [
        pd.to_datetime(["2026-09-01T09:00:00Z", None], utc=True).as_unit("ns").array,
        pd.to_datetime(["2026-09-02T10:00:00+02:00"], utc=True).as_unit("ns").array,
    ],
    "object": [
        np.fromiter([[1], {}], dtype=object, count=2),
        np.fromiter([None], dtype=object, count=1),
    ],
}


def concatenated(parts):
    return pd.concat([pd.Series(p, copy=True) for p in parts], ignore_index=True)


@pytest.mark.parametrize("capacity", [0, 2, 4, 100])  # grows, fits exactly, reserved too much
@pytest.mark.parametrize("dtype", sorted(SEGMENTS))
def test_a_buffer_gives_the_concatenation_of_its_segments(dtype, capacity):
    parts = SEGMENTS[dtype]
    buffer = ColumnBuffer(capacity)
    for part in parts:
        buffer.put(part)
    result = buffer.result()
    assert type(result) is type(parts[0]) and len(result) == sum(map(len, parts))
    pd.testing.assert_series_equal(pd.Series(result), concatenated(parts))
    assert buffer.empty


def test_the_result_is_writable_and_shares_nothing_with_the_segments():
    part = pd.array([1, 2], dtype="Int64")
    buffer = ColumnBuffer(2)
    buffer.put(part)
    result = buffer.result()
    result[0] = 9
    assert part[0] == 1 and result.tolist() == [9, 2]


def test_a_segment_of_another_type_keeps_every_row_through_the_combine():
    first, second = pd.array([1, None], dtype="Int64"), pd.array([2], dtype="Int32")
    seen = []

    def combine(parts):
        seen.append([type(p).__name__ + str(p.dtype) for p in parts])
        return concatenated(parts).array

    buffer = ColumnBuffer(10, combine)
    buffer.put(first)
    buffer.put(second)
    assert buffer.result().tolist() == [1, pd.NA, 2]
    assert seen == [["IntegerArrayInt64", "IntegerArrayInt32"]]


def test_segments_the_buffer_does_not_hold_are_combined():
    parts = [pd.Categorical(["a"], categories=["a", "b"]), pd.Categorical(["b"], ["a", "b"])]
    buffer = ColumnBuffer(5, pd.api.types.union_categoricals)
    for part in parts:
        buffer.put(part)
    assert buffer.result().tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="no segment"):
        ColumnBuffer().result()


def test_an_announced_count_far_above_the_rows_reserves_no_memory_that_stays():
    buffer = ColumnBuffer(1 << 40)  # a hostile count: clamped, and np.empty touches nothing
    buffer.put(pd.array([5], dtype="Int64"))
    result = buffer.result()
    assert result.tolist() == [5] and result._data.nbytes == 8


def test_an_announced_count_reserves_no_object_array_ahead():
    tracemalloc.start()
    try:
        buffer = ColumnBuffer(1 << 40)
        buffer.put(np.fromiter([{}], dtype=object, count=1))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert buffer.result().tolist() == [{}] and peak < 100_000, peak


def test_a_streamed_build_holds_its_fixed_width_columns_once(monkeypatch):
    monkeypatch.setattr(build, "_SEGMENT", 2000)
    rows = 60_000

    def records():
        for i in range(rows):
            yield {"id": i + 1, "project": i % 7, "created": None}

    build.build_frame("task_tag", records(), meta={"count": rows})  # imports, caches
    tracemalloc.start()
    try:
        frame = build.build_frame("task_tag", records(), meta={"count": rows})
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    fixed = frame.index.array.nbytes + sum(frame[c].array.nbytes for c in ("project", "created"))
    assert len(frame) == rows and frame.index.tolist()[-1] == rows
    # segments concatenated at the end: about 1.8x; written into place: about 1.5x
    assert peak < 1.6 * fixed, (peak, fixed)


def test_the_buffers_are_used_on_this_pandas_and_fall_back_where_its_internals_moved(
    monkeypatch,
):
    from synapse_nb.frames import segments

    assert segments._buffers_work()  # the pinned pandas keeps the layout the buffers read
    def moved(cls, *args, **kwargs):
        raise AttributeError("_simple_new")

    monkeypatch.setattr(pd.arrays.DatetimeArray, "_simple_new", classmethod(moved))
    assert not segments._buffers_work()  # a pandas that moved it: segments kept apart
    parts = SEGMENTS["datetime"]
    buffer = ColumnBuffer(capacity=8, combine=lambda got: pd.array(concatenated(got)))
    for part in parts:
        buffer.put(part)
    pd.testing.assert_series_equal(pd.Series(buffer.result()), concatenated(parts))
    monkeypatch.undo()
    assert segments._buffers_work()
