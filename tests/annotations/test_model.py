"""The annotation model, its geometry and its evaluation arrays, against direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse_nb.annotations import (
    MEDIA_KEYS,
    MEDIA_TYPES,
    box_arrays,
    geometry,
    keypoint_arrays,
    mask_arrays,
    polygon_arrays,
    read_document,
)
from synapse_nb.converters import dm as converters_dm
from synapse_nb.converters import dm_v2_to_v1, encode_mask
from synapse_nb.frames import dm as frames_dm


def test_one_media_map_read_both_ways() -> None:
    assert frames_dm.MEDIA_KEYS is MEDIA_KEYS
    assert converters_dm.MEDIA_TYPES is MEDIA_TYPES
    assert {v: k for k, v in MEDIA_TYPES.items()} == MEDIA_KEYS


def test_v1_and_v2_read_into_the_same_objects() -> None:
    v2 = {
        "images": [
            {
                "bounding_box": [
                    {
                        "id": "b",
                        "classification": "car",
                        "data": [1, 2, 3, 4],
                        "attrs": [
                            {"name": "rotation", "value": 0.25},
                            {"name": "color", "value": "red"},
                        ],
                    }
                ],
                "polygon": [
                    {
                        "id": "p",
                        "classification": "road",
                        "attrs": [],
                        "data": [[0, 0], [4, 0], [4, 3]],
                    }
                ],
                "keypoint": [
                    {
                        "id": "k",
                        "classification": "nose",
                        "attrs": [],
                        "data": [5, 6],
                        "visibility": 1,
                        "group_id": "g",
                    }
                ],
                "segmentation": [
                    {
                        "id": "m",
                        "classification": "sky",
                        "attrs": [],
                        **encode_mask(np.eye(4, dtype=bool), "dm_rle"),
                    }
                ],
            }
        ]
    }
    v1, _ = dm_v2_to_v1(v2, extra={"image_1": {"width": 4, "height": 4}})
    a = {x.id: x for x in read_document(v2).annotations()}
    b = {x.id: x for x in read_document(v1).annotations()}
    assert a.keys() == b.keys() == {"b", "p", "k", "m"}
    for key in a:
        x, y = a[key], b[key]
        assert (x.tool, x.label, x.data, x.visibility, x.group_id) == (
            y.tool,
            y.label,
            y.data,
            y.visibility,
            y.group_id,
        )
        assert x.bbox_area(4) == y.bbox_area(4)
    assert a["b"].attrs == b["b"].attrs == {"color": "red", "rotation": 0.25}
    assert a["b"].rotation() == 0.25
    assert a["m"].bbox_area(4) == ((0.0, 0.0, 4.0, 4.0), 4.0)
    assert read_document(v1).version == "v1" and read_document(v2).version == "v2"


# coordinates on a 1/1000 px grid: sub-ulp widths would let rounding push IoU past 1
grid = st.integers(-50_000, 50_000).map(lambda v: v / 1000)
side = st.integers(0, 30_000).map(lambda v: v / 1000)
boxes = st.lists(st.tuples(grid, grid, side, side), max_size=5)


@settings(max_examples=200)
@given(boxes, boxes)
def test_box_iou_is_intersection_over_union(a: list, b: list) -> None:
    matrix = geometry.box_iou(np.array(a).reshape(-1, 4), np.array(b).reshape(-1, 4))
    assert matrix.shape == (len(a), len(b))
    for i, (ax, ay, aw, ah) in enumerate(a):
        for j, (bx, by, bw, bh) in enumerate(b):
            iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
            ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
            union = aw * ah + bw * bh - iw * ih
            expected = iw * ih / union if union > 0 else 0.0
            assert math.isclose(matrix[i, j], expected, rel_tol=1e-9, abs_tol=1e-12)
            assert 0.0 <= matrix[i, j] <= 1.0 + 1e-12


@settings(max_examples=100)
@given(
    st.lists(st.lists(st.booleans(), min_size=12, max_size=12), min_size=1, max_size=4),
    st.lists(st.lists(st.booleans(), min_size=12, max_size=12), min_size=1, max_size=4),
)
def test_mask_iou_counts_pixels(a: list, b: list) -> None:
    ma, mb = np.array(a).reshape(-1, 3, 4), np.array(b).reshape(-1, 3, 4)
    matrix = geometry.mask_iou(ma, mb)
    for i in range(len(ma)):
        for j in range(len(mb)):
            union = (ma[i] | mb[j]).sum()
            expected = (ma[i] & mb[j]).sum() / union if union else 0.0
            assert math.isclose(matrix[i, j], expected)


def test_polygon_iou_of_squares_is_their_mask_iou() -> None:
    left = [(0, 0), (9, 0), (9, 9), (0, 9)]
    right = [(5, 0), (14, 0), (14, 9), (5, 9)]
    iou = geometry.polygon_iou([left], [right, left], 20, 12)
    # edge pixels count: 10x10 squares overlapping on 5 columns -> 50 / 150
    assert iou.round(4).tolist() == [[round(50 / 150, 4), 1.0]]
    assert geometry.polygon_iou([], [left], 20, 12).shape == (0, 1)


def test_oks_follows_the_coco_formula() -> None:
    rng = np.random.default_rng(0)
    gt = np.concatenate([rng.uniform(0, 100, (3, 17, 2)), rng.integers(0, 3, (3, 17, 1))], axis=2)
    dt = rng.uniform(0, 100, (4, 17, 2))
    areas = np.array([900.0, 2500.0, 400.0])
    got = geometry.oks(gt, dt, areas)
    sig = geometry.COCO_PERSON_SIGMAS
    for g in range(3):
        for d in range(4):
            v = gt[g, :, 2] > 0
            e = ((gt[g, :, 0] - dt[d, :, 0]) ** 2 + (gt[g, :, 1] - dt[d, :, 1]) ** 2) / (
                (2 * sig) ** 2 * (areas[g] + np.spacing(1)) * 2
            )
            expected = np.exp(-e)[v].mean() if v.any() else 0.0
            assert math.isclose(got[g, d], expected, rel_tol=1e-9)
    assert geometry.oks(gt[:1], gt[:1, :, :2], [900.0])[0, 0] == pytest.approx(1.0)


def test_point_in_polygon_of_a_concave_shape() -> None:
    u_shape = [(0, 0), (6, 0), (6, 6), (4, 6), (4, 2), (2, 2), (2, 6), (0, 6)]
    xs, ys = np.array([1, 3, 5, 3, 7]), np.array([4, 4, 4, 1, 1])
    assert geometry.point_in_polygon(xs, ys, u_shape).tolist() == [True, False, True, True, False]


def test_evaluation_arrays_of_one_document() -> None:
    mask = np.zeros((6, 8), dtype=bool)
    mask[1:3, 2:5] = True
    doc = {
        "images": [
            {
                "bounding_box": [
                    {"id": "b1", "classification": "car", "data": [0, 0, 4, 2]},
                    {
                        "id": "b2",
                        "classification": "person",
                        "data": [1, 1, 2, 3],
                        "attrs": [{"name": "score", "value": 0.7}],
                    },
                    {"id": "bad", "classification": "car", "data": [0, 0, -1, 2]},
                ],
                "polygon": [
                    {"id": "p", "classification": "road", "data": [[0, 0], [4, 0], [4, 3]]}
                ],
                "segmentation": [{"id": "m", "classification": "sky", **encode_mask(mask)}],
                "keypoint": [
                    {"id": "k1", "classification": "nose", "data": [2, 2]},
                    {
                        "id": "k2",
                        "classification": "left_eye",
                        "data": [3, 1],
                        "visibility": "occluded",
                    },
                    {"id": "k3", "classification": "nose", "data": [9, 9]},
                ],
                "group": [{"id": "g1", "classification": "person", "data": ["k1", "k2", "b2"]}],
            }
        ]
    }
    b = box_arrays(doc)
    assert b.ids.tolist() == ["b1", "b2"] and b.classes.tolist() == ["car", "person"]
    assert b.boxes.tolist() == [[0, 0, 4, 2], [1, 1, 2, 3]] and b.areas.tolist() == [8, 6]
    assert np.isnan(b.scores[0]) and b.scores[1] == 0.7
    p = polygon_arrays(doc)
    assert p.areas.tolist() == [6.0] and p.polygons[0].tolist() == [[0, 0], [4, 0], [4, 3]]
    m = mask_arrays(doc, 8, 6)
    assert np.array_equal(m.masks[0], mask) and m.boxes.tolist() == [[2, 1, 3, 2]]
    assert m.areas.tolist() == [6.0]
    k = keypoint_arrays(doc)
    assert k.ids.tolist() == ["g1"] and k.classes.tolist() == ["person"]
    assert k.keypoints.shape == (1, 17, 3)
    assert k.keypoints[0, 0].tolist() == [2, 2, 2] and k.keypoints[0, 1].tolist() == [3, 1, 1]
    assert k.boxes.tolist() == [[1, 1, 2, 3]]  # the group's explicit box member
    assert len(box_arrays({})) == 0 and mask_arrays({}, 8, 6).masks.shape == (0, 6, 8)


def test_iou_of_a_box_with_itself_is_at_most_one_even_when_rounding_says_more() -> None:
    box = [0.0, 1.0, 1.0, 1e-10]  # (y + h) - y rounds above h: the raw ratio is 1.00000017
    assert geometry.iou_xywh(box, box) == 1.0
    assert geometry.box_iou(np.array([box]), np.array([box]))[0, 0] == 1.0
