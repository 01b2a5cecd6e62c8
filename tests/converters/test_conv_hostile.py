"""Small hostile DM documents: every malformed annotation becomes an audit entry, never an
exception, and the rest of the document is still converted; image sizes are bounded."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from synapse_nb.converters import (
    MAX_IMAGE_PIXELS,
    DMFormatError,
    dm_v1_to_v2,
    dm_v2_to_v1,
    to_coco,
    to_voc,
    to_yolo,
)
from synapse_nb.converters._audit import Outcome

BAD_VALUES = [None, [], {}, [1, 2], {"a": 1}, "x", -1, 1e308, float("nan"), True, [[1]]]

V2 = {
    "images": [
        {
            "bounding_box": [
                {"id": "b1", "classification": "car", "attrs": [], "data": [10, 20, 30, 40]},
                {"id": "b2", "classification": "bus", "attrs": [], "data": [1, 2, 3, 4]},
            ],
            "polygon": [
                {"id": "p1", "classification": "person", "attrs": [],
                 "data": [[1, 2], [30, 4], [20, 30]]},
            ],
            "keypoint": [
                {"id": "k1", "classification": "nose", "attrs": [], "data": [5, 6],
                 "group_id": "g"},
            ],
        }
    ]
}  # fmt: skip
V1 = {
    "extra": {"image_1": {"width": 64, "height": 48}},
    "annotations": {
        "image_1": [
            {"id": "b1", "tool": "bounding_box", "classification": {"class": "car"}},
            {"id": "b2", "tool": "bounding_box", "classification": {"class": "bus"}},
        ]
    },
    "annotationsData": {
        "image_1": [
            {"id": "b1", "coordinate": {"x": 1, "y": 2, "width": 3, "height": 4}},
            {"id": "b2", "coordinate": {"x": 5, "y": 6, "width": 7, "height": 8}},
        ]
    },
}


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list
    ) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


def _broken(base: dict, path: tuple, value: Any) -> dict:
    doc = copy.deepcopy(base)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


# every position below the media level of the document (the top-level shape has its own
# clear DMFormatError), with every kind of wrong value
V2_CASES = [
    (p, v) for p in _paths(V2) if len(p) >= 3 for v in BAD_VALUES
]  # fmt: skip
V1_CASES = [(p, v) for p in _paths(V1) if len(p) >= 2 for v in BAD_VALUES]


@pytest.mark.parametrize("convert", [to_coco, to_voc, to_yolo], ids=["coco", "voc", "yolo"])
def test_format_converters_audit_malformed_annotations_instead_of_raising(convert) -> None:
    for path, value in V2_CASES:
        item = {"id": 7, "width": 64, "height": 48, "file_name": "a.jpg",
                "data": _broken(V2, path, value)}  # fmt: skip
        _, audit = convert([item])  # must not raise
        for record in audit:
            assert record.item_id == 7


def test_an_id_that_is_a_list_or_a_mapping_fails_that_annotation_only() -> None:
    for bad_id in ([], {"a": 1}, ["b1"]):
        doc = _broken(V2, ("images", 0, "bounding_box", 0, "id"), bad_id)
        coco, audit = to_coco([{"id": 1, "width": 64, "height": 48, "data": doc}])
        failed = [r for r in audit if r.outcome == Outcome.FAILED]
        assert len(failed) == 1 and "id must match" in failed[0].detail
        boxes = [a["bbox"] for a in coco["instances"]["annotations"]]
        assert [1.0, 2.0, 3.0, 4.0] in boxes  # b2 (and the polygon) are still converted
        assert [10.0, 20.0, 30.0, 40.0] not in boxes and len(boxes) == 2


def test_attrs_that_are_not_a_list_fail_that_annotation_with_a_reason() -> None:
    doc = _broken(V2, ("images", 0, "bounding_box", 0, "attrs"), 5)
    _, audit = to_yolo([{"id": 1, "width": 64, "height": 48, "data": doc}])
    assert any("attrs must be a list" in r.detail for r in audit if r.annotation_id == "b1")


def test_images_that_is_not_a_list_is_an_audited_item_not_an_exception() -> None:
    items = [
        {"id": 1, "width": 64, "height": 48, "data": {"images": True}},
        {"id": 2, "width": 64, "height": 48, "data": V2},
    ]
    coco, audit = to_coco(items)
    assert [r.item_id for r in audit if r.outcome == Outcome.FAILED] == [1]
    assert {a["image_id"] for a in coco["instances"]["annotations"]} == {2}


def test_dm_v2_to_v1_audits_malformed_annotations() -> None:
    for path, value in V2_CASES:
        try:
            dm_v2_to_v1(_broken(V2, path, value))
        except DMFormatError:
            assert len(path) <= 2, path  # only the document's own shape may be refused


def test_dm_v1_to_v2_audits_malformed_rows() -> None:
    for path, value in V1_CASES:
        try:
            dm_v1_to_v2(_broken(V1, path, value))
        except DMFormatError:
            assert len(path) == 1, path  # a top-level field of the wrong type


def test_a_malformed_row_fails_alone() -> None:
    doc = _broken(V1, ("annotations", "image_1", 0, "tool"), ["bounding_box"])
    out, audit = dm_v1_to_v2(doc)
    assert [r.annotation_id for r in audit if r.outcome == Outcome.FAILED] == ["b1"]
    assert [a["id"] for a in out["annotation_data"]["images"][0]["bounding_box"]] == ["b2"]


@pytest.mark.parametrize("convert", [to_coco, to_voc, to_yolo], ids=["coco", "voc", "yolo"])
def test_image_sizes_from_the_input_are_bounded(convert) -> None:
    side = int(MAX_IMAGE_PIXELS**0.5) + 1
    item = {"id": 1, "width": side, "height": side, "data": V2}
    with pytest.raises(ValueError, match="over the limit of 89,478,485 pixels"):
        convert([item])


def test_item_leaf_and_stem_are_what_the_path_classes_give():
    import random
    from pathlib import PurePosixPath, PureWindowsPath

    from synapse_nb.converters import ImageItem

    alphabet = ["a", "b", ".", " ", "/", "\\", ":", "\u00e9", "C", "\x00", "..", "~", "*"]
    rng = random.Random(16)
    for _ in range(20_000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        item = ImageItem(id=5, data={}, file_name=name)
        leaf = PureWindowsPath(PurePosixPath(name or "5").name).name
        assert (item.leaf, item.stem) == (leaf, PurePosixPath(leaf).stem or "5"), name
