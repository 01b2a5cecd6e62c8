"""Typed page decoding (``frames.columnar``): the frames it gives are the dict path's frames.

The dict path (``_json.loads`` + ``build_frame`` over records) is the oracle: every record
shape below is encoded as a real page body, decoded by the typed decoder, and the frame built
from the typed rows must equal the frame built from the dicts, value for value and dtype for
dtype. Shapes the typed rows do not cover must come back as exactly the dicts
``json.loads`` gives.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse_nb.frames import build, listing
from synapse_nb.frames.build import build_frame
from synapse_nb.frames.columnar import is_row, page_decoder

BOX = {"id": "b", "classification": "car", "attrs": [], "data": [1, 2, 3, 4]}
FILE = {"path": "a.png", "file_name_original": "a.png", "url": "http://h/a.png"}

#: Shapes the typed rows cover (each a task record).
COVERED = [
    {"id": 1, "status": "pending", "tags": [2, 1], "data": {"images": [{"bounding_box": [BOX]}]}},
    {"id": 2, "files": {"i1": FILE, "i2": {**FILE, "is_primary": True, "url": "http://h/b"}}},
    {"id": 3, "files": {"i1": {"path": "p.png", "meta": {"width": 5, "height": 7}}}},
    {"id": 4, "files": {"i1": {"url": None, "file_name_original": ""}}, "meta": {"width": 9}},
    {"id": 5, "files": {"i1": "http://h/bare.png"}, "data": {}, "tags": None},
    {"id": 6, "files": {}, "data": None, "metadata": {"k": [1, {"x": 2.5}]}},
    {"id": 7, "data": {"images": None}, "priority": "urgent", "status": "archived"},
    {"id": 8, "data": {"classification": {"bounding_box": ["car"]}}, "is_discarded": True},
    {
        "id": 9,
        "data": {
            "images": [
                {"keypoint": [{"classification": "nose"}], "polygon": [], "relation": [{}]},
                {"segmentation": None, "prompt": [{"classification": "ask"}]},
                {"bounding_box": [{"classification": ""}, {"classification": 3}, {}]},
            ],
            "videos": [{"polyline": [{"classification": "lane"}]}],
        },
        "files": {"i1": {"url": "http://h/w", "meta": {"width": 2.5, "height": True}}},
    },
    {"id": 10, "assignee": 3, "assignee_name": "Bob", "created": "2026-09-01T09:00:00Z"},
    {"id": 11, "project": None, "data_unit": 2**62, "modified": None},
    {"id": 12, "unknown_field": {"deep": [1, 2]}, "tags": []},
    {"id": 13, "files": {"i1": {"url": "http://h/x", "meta": None}}, "meta": None},
]

#: Shapes the typed rows do not cover: the whole page is decoded as dicts.
NOT_COVERED = [
    {"id": "14"},  # an id as text
    {"id": 15, "assignee": {"id": 3, "name": "Bob"}},  # an expanded reference
    {"id": 16, "data": {"annotations": {"image_1": []}}},  # DM v1
    {"id": 17, "data": {"foo": 1}},  # JSON that is not DM
    {"id": 18, "is_discarded": 1},
    {"id": 19, "tags": [{"id": 1, "name": "x"}]},
    {"id": 20, "files": {"i1": {"url": 5}}},
    {"id": 21, "data": {"images": [{"bounding_box": "many"}]}},
]


def body(records: list[dict]) -> bytes:
    return json.dumps({"count": len(records), "next": None, "results": records}).encode()


def dict_frame(kind: str, records: list[dict]) -> pd.DataFrame:
    return build_frame(kind, json.loads(body(records))["results"], tag_names={1: "one"})


@pytest.mark.parametrize("kind", ["task", "assignment", "ground_truth_event"])
def test_typed_rows_give_the_frame_of_the_dict_path(kind):
    page = page_decoder(kind)(body(COVERED))
    assert all(map(is_row, page["results"])) and page["count"] == len(COVERED)
    typed = build_frame(kind, page["results"], tag_names={1: "one"})
    pd.testing.assert_frame_equal(typed, dict_frame(kind, COVERED), check_exact=True)
    if kind == "task":  # rows without tags get a list of their own (edited in place later)
        assert typed.at[5, "tags"] == [] and typed.at[5, "tags"] is not typed.at[12, "tags"]
        assert typed.at[9, "classes"] == ["ask", "lane"] and typed.at[9, "n_keypoint"] == 1


@pytest.mark.parametrize("record", NOT_COVERED, ids=lambda r: str(r["id"]))
def test_a_page_the_typed_rows_do_not_cover_is_decoded_as_dicts(record):
    content = body([COVERED[0], record])
    assert page_decoder("task")(content) == json.loads(content)


@pytest.mark.parametrize(
    "content",
    [b'{"results": [{"id": 1, "metadata": {"x": NaN}}]}', b'\xef\xbb\xbf{"results": []}'],
)
def test_bodies_msgspec_refuses_are_decoded_as_the_standard_library_does(content):
    assert page_decoder("task")(content) == json.loads(content)


def test_a_stream_of_typed_and_dict_pages_in_small_pages(monkeypatch):
    # pages of 3 in chunks of 1000 and segments of 4: runs of both kinds in every chunk
    monkeypatch.setattr(build, "_SEGMENT", 4)
    decode = page_decoder("task")
    buildable = [r for r in NOT_COVERED if r["id"] != 18]  # 18 fails both paths alike
    records = COVERED + buildable + COVERED[:5]
    pages = [records[i : i + 3] for i in range(0, len(records), 3)]
    rows = [row for page in pages for row in decode(body(page))["results"]]
    assert 0 < sum(map(is_row, rows)) < len(rows)
    frame = build_frame("task", iter(rows), tag_names={1: "one"})
    oracle = build_frame("task", json.loads(body(records))["results"], tag_names={1: "one"})
    pd.testing.assert_frame_equal(frame, oracle, check_exact=True)


def test_typed_rows_cannot_be_kept_with_their_dm_data():
    rows = page_decoder("task")(body(COVERED[:2]))["results"]
    with pytest.raises(ValueError, match="typed rows carry no DM data"):
        build_frame("task", rows, include_data=True)


@pytest.mark.parametrize(
    ("kind", "query"),
    [
        ("task", {"project": 1}),
        ("assignment", {"project": 1}),
        ("ground_truth_event", {"ground_truth_dataset_versions": [1, 2]}),
    ],
)
def test_listings_over_http_equal_the_dict_path(client, monkeypatch, kind, query):
    typed_pages = []
    decode = page_decoder(kind)

    def counting(content):
        page = decode(content)
        typed_pages.append(bool(page["results"]) and is_row(page["results"][0]))
        return page

    monkeypatch.setattr(listing, "page_decoder", lambda k: counting if k == kind else None)
    fast = client.list_frame(kind, {**query, "page_size": 50}, list_all=True)
    monkeypatch.setattr(listing, "page_decoder", lambda k: None)
    slow = client.list_frame(kind, {**query, "page_size": 50}, list_all=True)
    assert any(typed_pages), "no page took the typed path"
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


# ---------------------------------------------------------------------------- property

ANN = st.fixed_dictionaries(
    {}, optional={"classification": st.sampled_from(["car", "nose", "lane", "", None, 3, {"c": 1}])}
)
ITEM = st.dictionaries(
    st.sampled_from(["bounding_box", "polygon", "keypoint", "relation", "prompt"]),
    st.one_of(st.lists(ANN, max_size=3), st.none()),
    max_size=3,
)
DATA = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(
        st.sampled_from(["images", "videos", "classification"]),
        st.one_of(st.lists(ITEM, max_size=2), st.none()),
        max_size=3,
    ),
)
ENTRY = st.one_of(
    st.just("http://h/bare.png"),
    st.fixed_dictionaries(
        {},
        optional={
            "url": st.sampled_from(["http://h/u", None]),
            "path": st.sampled_from(["p.png", None]),
            "file_name_original": st.sampled_from(["o.png", "", None]),
            "is_primary": st.booleans(),
            "meta": st.one_of(st.none(), st.fixed_dictionaries({"width": st.integers(0, 9)})),
        },
    ),
)
RECORD = st.fixed_dictionaries(
    {"id": st.integers(1, 10**6)},
    optional={
        "status": st.sampled_from(["pending", "completed", "other", None]),
        "assignee": st.one_of(st.none(), st.integers(1, 5)),
        "assignee_name": st.sampled_from(["Bob", None]),
        "tags": st.one_of(st.none(), st.lists(st.integers(1, 3), max_size=3)),
        "is_discarded": st.sampled_from([True, False, None]),
        "metadata": st.sampled_from([{}, {"k": [1]}, None]),
        "files": st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b"]), ENTRY)),
        "meta": st.one_of(st.none(), st.fixed_dictionaries({"height": st.integers(0, 9)})),
        "data": DATA,
        "created": st.sampled_from(["2026-09-01T09:00:00+00:00", None]),
    },
)


@settings(max_examples=25, deadline=None)
@given(pages=st.lists(st.lists(RECORD, min_size=1, max_size=4), min_size=1, max_size=4))
def test_any_pages_give_the_frame_of_the_dict_path(pages):
    decode = page_decoder("task")
    rows = [row for page in pages for row in decode(body(page))["results"]]
    assert all(map(is_row, rows))  # every shape drawn here is covered
    records = [record for page in pages for record in json.loads(body(page))["results"]]
    pd.testing.assert_frame_equal(
        build_frame("task", iter(rows), tag_names={1: "one"}, chunk_size=3),
        build_frame("task", records, tag_names={1: "one"}),
        check_exact=True,
    )
