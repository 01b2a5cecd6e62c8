"""DM v1/v2 parsing: per-item summaries and the annotations view (unit tests, no server)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from synapse_nb.frames.annotations import annotations_from_data, class_counts
from synapse_nb.frames.dm import iter_annotations, summarize

#: The minimal valid v2 document of docs/annotation-format.md (640x480).
V2_DOC = {
    "classification": {
        "bounding_box": ["car"],
        "polygon": ["road"],
        "keypoint": ["left_eye", "nose", "right_eye"],
        "group": ["person"],
    },
    "images": [
        {
            "bounding_box": [
                {
                    "id": "bbox000001",
                    "classification": "car",
                    "attrs": [{"name": "occluded", "value": False}],
                    "data": [100, 120, 200, 80],
                }
            ],
            "polygon": [
                {
                    "id": "poly000001",
                    "classification": "road",
                    "attrs": [],
                    "data": [[10, 400], [300, 400], [200, 470]],
                }
            ],
            "polyline": [],
            "keypoint": [
                {
                    "id": "kpt0000001",
                    "classification": "nose",
                    "attrs": [],
                    "data": [320, 100],
                    "visibility": 2,
                    "group_id": "grp0000001",
                },
                {
                    "id": "kpt0000002",
                    "classification": "left_eye",
                    "attrs": [],
                    "data": [310, 90],
                    "visibility": 1,
                    "group_id": "grp0000001",
                },
            ],
            "relation": [],
            "group": [
                {
                    "id": "grp0000001",
                    "classification": "person",
                    "attrs": [],
                    "data": ["kpt0000001", "kpt0000002"],
                }
            ],
        }
    ],
}

V1_DOC = {
    "assignmentId": 3,
    "extra": {"image_1": {"width": 10, "height": 8}},
    "annotations": {
        "image_1": [
            {
                "id": "b1",
                "tool": "bounding_box",
                "classification": {"class": "car", "color": "red"},
            },
            {"id": "p1", "tool": "polygon", "classification": {"class": "road"}},
            {
                "id": "k1",
                "tool": "keypoint",
                "classification": {"class": "nose", "visibility": "occluded"},
            },
            {"id": "m1", "tool": "segmentation", "classification": {"class": "sky"}},
            {"id": "c1", "tool": "classification", "classification": {"class": "day"}},
        ]
    },
    "annotationsData": {
        "image_1": [
            {"id": "b1", "coordinate": {"x": 1, "y": 2, "width": 3, "height": 4, "rotation": 0.5}},
            {
                "id": "p1",
                "coordinate": [
                    {"x": 0, "y": 0, "id": "a"},
                    {"x": 4, "y": 0, "id": "b"},
                    {"x": 4, "y": 4, "id": "c"},
                ],
            },
            {"id": "k1", "coordinate": {"x": 5, "y": 6}},
            # rows 1 and 2 (y), x 3..5: runs [13,3] and [23,3] on a 10-px-wide image
            {
                "id": "m1",
                "pixel_indices": [[13, 3], [23, 3]],
                "isCompressed": True,
                "compressionFormat": "rle",
            },
            {"id": "c1"},
        ]
    },
    "annotationGroups": {"image_1": [{"id": "g1", "annotationIds": ["k1"]}]},
}


def test_summary_of_v2() -> None:
    version, counts, classes = summarize(V2_DOC)
    assert version == "v2"
    assert counts == {"bounding_box": 1, "polygon": 1, "keypoint": 2, "group": 1}
    assert classes == ["car", "person", "road"]  # joint names are not classes


def test_summary_of_v1_and_of_odd_data() -> None:
    version, counts, classes = summarize(V1_DOC)
    assert version == "v1"
    assert counts == {
        "bounding_box": 1,
        "polygon": 1,
        "keypoint": 1,
        "segmentation": 1,
        "classification": 1,
    }
    assert classes == ["car", "day", "road", "sky"]
    assert summarize({}) == (None, {}, [])
    assert summarize(None) == (None, {}, [])
    assert summarize({"annotations": [1, 2], "metadata": {}})[0] == "other"
    assert summarize({"images": "not-a-list"})[0] == "other"


def test_v2_rows_have_boxes_and_areas() -> None:
    rows = {r["annotation_id"]: r for r in iter_annotations(V2_DOC)}
    box = rows["bbox000001"]
    assert (box["x"], box["y"], box["w"], box["h"], box["area"]) == (100, 120, 200, 80, 16000)
    assert box["attributes"] == {"occluded": False}
    poly = rows["poly000001"]
    assert (poly["x"], poly["y"], poly["w"], poly["h"]) == (10, 400, 290, 70)
    assert poly["area"] == pytest.approx(
        0.5 * abs(10 * 400 - 300 * 400 + 300 * 470 - 200 * 400 + 200 * 400 - 10 * 470)
    )
    nose = rows["kpt0000001"]
    assert (nose["x"], nose["y"], nose["visibility"], nose["group_id"]) == (
        320,
        100,
        2,
        "grp0000001",
    )
    assert nose["w"] is None and nose["area"] is None
    assert rows["grp0000001"]["geometry"] == ["kpt0000001", "kpt0000002"]


def test_v1_rows_convert_geometry_to_the_v2_shape() -> None:
    rows = {r["annotation_id"]: r for r in iter_annotations(V1_DOC)}
    assert rows["b1"]["geometry"] == [1, 2, 3, 4]
    assert rows["b1"]["attributes"] == {"color": "red", "rotation": 0.5}
    assert rows["b1"]["area"] == 12
    assert rows["p1"]["geometry"] == [[0, 0], [4, 0], [4, 4]]
    assert rows["p1"]["area"] == 8
    assert rows["k1"]["visibility"] == 1 and rows["k1"]["group_id"] == "g1"
    assert rows["k1"]["attributes"] == {}
    mask = rows["m1"]
    assert mask["area"] == 6
    assert (mask["x"], mask["y"], mask["w"], mask["h"]) == (3, 1, 3, 2)
    assert rows["c1"]["tool"] == "classification" and rows["c1"]["class_name"] == "day"


@pytest.mark.parametrize(
    ("encoding", "data"),
    [("raw_indices", [13, 14, 15, 23, 24, 25]), ("dm_rle", [[13, 3], [23, 3]])],
)
def test_v2_mask_box_needs_the_image_width(encoding: str, data: list) -> None:
    doc = {
        "images": [
            {
                "segmentation": [
                    {
                        "id": "m",
                        "classification": "sky",
                        "attrs": [],
                        "data": data,
                        "encoding": encoding,
                    }
                ]
            }
        ]
    }
    with_width = next(iter_annotations(doc, width=10))
    assert (with_width["x"], with_width["y"], with_width["w"], with_width["h"]) == (3, 1, 3, 2)
    assert with_width["area"] == 6
    without = next(iter_annotations(doc))
    assert without["x"] is None and without["area"] == 6


def test_a_run_across_a_row_edge_spans_the_full_width() -> None:
    doc = {
        "images": [
            {
                "segmentation": [
                    {
                        "id": "m",
                        "classification": "sky",
                        "attrs": [],
                        "data": [[8, 4]],
                        "encoding": "dm_rle",
                    }
                ]
            }
        ]
    }
    row = next(iter_annotations(doc, width=10))
    assert (row["x"], row["y"], row["w"], row["h"], row["area"]) == (0, 0, 10, 2, 4)


def test_annotations_frame_dtypes_and_class_counts() -> None:
    ann = annotations_from_data([7, 8], [V2_DOC, V1_DOC], owner="task_id", widths=[640, None])
    assert list(ann.columns[:5]) == ["task_id", "media", "media_index", "annotation_id", "tool"]
    assert ann["task_id"].dtype == pd.Int64Dtype()
    assert isinstance(ann["tool"].dtype, pd.CategoricalDtype)
    assert isinstance(ann["class_name"].dtype, pd.StringDtype)
    assert ann["area"].dtype == pd.Float64Dtype()
    assert len(ann) == 5 + 5
    counts = class_counts(ann, "task_id")
    assert "nose" not in counts.index  # joints are not classes
    assert counts.loc["car", "n_items"] == 2 and counts.loc["car", "n_annotations"] == 2
    assert counts.loc["car", "n_bounding_box"] == 2
    assert counts["n_annotations"].is_monotonic_decreasing
    empty = annotations_from_data([], [], owner="event_id")
    assert len(empty) == 0 and empty["event_id"].dtype == pd.Int64Dtype()
    assert not math.isnan(float(ann.loc[ann.annotation_id == "bbox000001", "area"].iloc[0]))
