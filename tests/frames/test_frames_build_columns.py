"""Column building of ``build_frame``: the fast paths give what per-record code gives.

Each column is built the cheap way when its values allow it (``dict.get`` mapped over a chunk,
one count matrix for the DM counts, category codes, pyarrow arrays) and the general way
otherwise; these tests hold both to the values computed record by record.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest

from synapse_nb.frames import build
from synapse_nb.frames.build import build_frame, count_matrix
from synapse_nb.frames.dm import summarize
from synapse_nb.frames.schemas import IMAGE_TOOLS, Column

V2 = {"images": [{"bounding_box": [{"classification": "car"}] * 2, "prompt": [{}, {}, {}]}]}
V1 = {
    "annotations": {
        "image_1": [
            {"tool": "polygon", "classification": {"class": "road"}},
            {"tool": "boundingBox", "classification": {"class": "car"}},
        ]
    }
}
OTHER = {"foo": 1}
DOCS = [V2, V1, OTHER, {}, None, V2]


def records(n: int) -> list[dict]:
    return [
        {"id": i + 1, "status": "pending", "data": DOCS[i % len(DOCS)], "tags": []}
        for i in range(n)
    ]


def expected_counts(data: object) -> dict[str, int | None]:
    version, counts, _ = summarize(data)
    if version == "other":
        return {"n_annotations": None, **{f"n_{t}": None for t in IMAGE_TOOLS}}
    return {
        "n_annotations": sum(counts.values()),
        **{f"n_{t}": counts.get(t, 0) for t in IMAGE_TOOLS},
    }


def test_count_matrix_rows_are_the_tools_and_other_documents_are_na():
    summaries = [summarize(d) for d in DOCS]
    versions = tuple(s[0] for s in summaries)
    counts = tuple(s[1] for s in summaries)
    matrix = count_matrix(versions, counts, ("total", "bounding_box", "polygon", "keypoint"))
    assert matrix.dtype.name == "int32"
    assert matrix.tolist() == [
        [5, 2, -1, 0, 0, 5],  # the total counts the prompt tool too
        [2, 1, -1, 0, 0, 2],
        [0, 1, -1, 0, 0, 0],
        [0, 0, -1, 0, 0, 0],
    ]


@pytest.mark.parametrize("chunk_size", [1, 4, 1000])
def test_dm_count_columns_equal_the_per_record_summary_across_segments(monkeypatch, chunk_size):
    monkeypatch.setattr(build, "_SEGMENT", 5)  # several typed segments, a partial last one
    recs = records(23)
    frame = build_frame("task", iter(recs), chunk_size=chunk_size)
    for record in recs:
        row = frame.loc[record["id"]]
        for column, value in expected_counts(record["data"]).items():
            cell = row[column]
            assert pd.isna(cell) if value is None else cell == value, (record["id"], column)
    assert {str(frame[c].dtype) for c in frame if c.startswith("n_")} == {"Int32"}


def test_an_empty_listing_still_has_typed_count_columns():
    frame = build_frame("task", [])
    assert str(frame["n_annotations"].dtype) == "Int32" and len(frame["n_polygon"]) == 0


def test_a_status_outside_the_fixed_categories_is_appended_not_dropped():
    frame = build_frame(
        "task",
        [{"id": 1, "status": "archived"}, {"id": 2, "status": "pending"}, {"id": 3}],
    )
    assert list(frame["status"].cat.categories) == [
        "pending",
        "in_progress",
        "completed",
        "archived",
    ]
    assert frame["status"].tolist()[:2] == ["archived", "pending"]
    assert pd.isna(frame.loc[3, "status"])


def test_known_statuses_keep_exactly_the_fixed_categories():
    frame = build_frame("task", [{"id": 1, "status": "completed"}, {"id": 2, "priority": "low"}])
    assert list(frame["status"].cat.categories) == ["pending", "in_progress", "completed"]
    assert list(frame["priority"].cat.categories) == ["low", "normal", "high"]
    assert frame.loc[1, "status"] == "completed" and frame.loc[2, "priority"] == "low"


def test_text_columns_take_non_text_values_as_their_text():
    frame = build_frame("task", [{"id": 1, "assignee_name": 42}, {"id": 2, "assignee_name": "Ann"}])
    assert frame["assignee_name"].tolist() == ["42", "Ann"]
    assert frame["assignee_name"].dtype == build.STRING


def test_records_that_are_mappings_but_not_dicts_give_the_same_frame():
    recs = records(12)
    recs[0]["files"] = {"image_1": {"url": "http://h/a.png", "meta": {"width": 4, "height": 3}}}
    plain = build_frame("task", recs, tag_names={})
    proxied = build_frame("task", [MappingProxyType(r) for r in recs], tag_names={})
    pd.testing.assert_frame_equal(plain, proxied)
    assert plain.loc[1, "file_url"] == "http://h/a.png" and plain.loc[1, "width"] == 4


def test_tag_names_look_each_id_up_and_name_unknown_or_blank_ones_by_id():
    recs = [
        {"id": 1, "tags": [1, 2, 3]},
        {"id": 2, "tags": []},
        {"id": 3, "tags": [{"id": 3, "name": "ignored"}, "x"]},  # an unreadable ref is None
        {"id": 4},
    ]
    frame = build_frame("task", recs, tag_names=lambda: {1: "blurry", 2: ""})
    assert frame["tag_names"].tolist() == [
        ["blurry", "tag:2", "tag:3"],
        [],
        ["tag:3", "tag:None"],
        [],
    ]
    assert frame["tag_names"].dtype == build.LIST_OF_STRINGS
    assert frame["tags"].tolist() == [[1, 2, 3], [], [3, None], []]


def test_a_tag_name_that_is_not_text_becomes_its_text():
    column = build.tag_name_lists([[1], [], [1]], {1: 5})
    assert column.tolist() == [["5"], [], ["5"]]
    assert column.dtype == build.LIST_OF_STRINGS


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([1, None, 2**40], "Int64"),  # plain ints: read by pyarrow
        ([None, None], "Int32"),
        ([True, None, False], "boolean"),
        ([1.0, None], "Int64"),  # anything else: pandas converts it
        ([True, 2], "Int64"),
        ([np.True_, None], "boolean"),
    ],
)
def test_nullable_columns_are_what_pandas_makes_of_the_same_values(values, dtype):
    column = Column("x", dtype, "a nullable column")
    ours = build.convert_column(values, column)
    pd.testing.assert_extension_array_equal(ours, pd.array(values, dtype=dtype))
    ours[0] = None  # writable, like pandas' own arrays
    assert pd.isna(ours[0])


@pytest.mark.parametrize(("values", "dtype"), [([2**40], "Int32"), ([2**70], "Int64")])
def test_an_int_out_of_range_raises_what_pandas_raises(values, dtype):
    with pytest.raises((TypeError, ValueError, OverflowError)) as ours:
        build.convert_column(values, Column("x", dtype, "a nullable column"))
    with pytest.raises(type(ours.value), match=str(ours.value)[:20]):
        pd.array(values, dtype=dtype)
