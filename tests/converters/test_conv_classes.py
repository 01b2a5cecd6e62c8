"""Class order, label normalisation and item validation shared by all converters."""

from __future__ import annotations

import pytest
from _conv_helpers import doc, item

from synapse_nb.converters import (
    Audit,
    ImageItem,
    collect_classes,
    from_coco,
    from_voc,
    normalize_label,
    resolve_class_order,
    to_coco,
    to_voc,
    to_yolo,
    write_coco,
)
from synapse_nb.exceptions import InvalidInputError


def test_configured_classes_first_then_observed_lexically():
    audit = Audit()
    assert resolve_class_order(["truck", "car", "bus", "car"], ["car", "van"], audit) == [
        "car",
        "van",
        "bus",
        "truck",
    ]
    assert audit.warnings == []


def test_without_configuration_order_is_lexical_with_warning():
    audit = Audit()
    assert resolve_class_order(["b", "a", " a "], None, audit) == ["a", "b"]
    assert audit.warnings[0].startswith("CLASS_SCHEMA_UNAVAILABLE")


def test_both_configuration_shapes():
    flat = {"bounding_box": ["car", "bus"], "polygon": ["road"], "keypoint": ["nose"]}
    schema = {
        "classification": {
            "bounding_box": {"classification_schema": [{"code": "car"}, {"code": "bus"}]},
            "segmentation": {"classification_schema": [{"code": "sky"}]},
        }
    }
    assert resolve_class_order(["zebra"], flat) == ["car", "bus", "road", "zebra"]
    assert resolve_class_order([], schema) == ["car", "bus", "sky"]
    with pytest.raises(ValueError, match="non-empty"):
        resolve_class_order([], ["car", ""])
    with pytest.raises(TypeError, match="classes"):
        resolve_class_order([], "car")


def test_labels_are_trimmed_and_nfc_normalised():
    decomposed = "cafe\u0301"
    assert normalize_label(f"  {decomposed} ") == "caf\u00e9"
    assert normalize_label("") is None and normalize_label(None) is None
    docs = [
        item(doc(bounding_box=[{"id": "a", "classification": decomposed, "data": [0, 0, 1, 1]}])),
        item(
            doc(bounding_box=[{"id": "a", "classification": "caf\u00e9", "data": [0, 0, 1, 1]}]), 2
        ),
    ]
    assert collect_classes(docs) == ["caf\u00e9"]
    result, _ = to_yolo(docs, tasks=["detect"])
    assert result["detect"]["names"] == ["caf\u00e9"]


@pytest.mark.parametrize(
    ("items", "error", "match"),
    [
        ({"id": 1, "data": {}}, TypeError, "single"),
        ([{"id": 1, "data": {}, "height": 480}], ValueError, r"item 1: width is required"),
        ([{"id": 1, "data": {}, "width": 0, "height": 4}], ValueError, "width must be a positive"),
        ([{"id": 1, "data": {}, "width": 4, "height": 4.5}], ValueError, "height"),
        ([{"id": True, "data": {}, "width": 4, "height": 4}], ValueError, "id"),
        ([{"data": {}}], ValueError, "'id' and 'data'"),
        ([{"id": 1, "data": [], "width": 4, "height": 4}], TypeError, "data must be"),
        ([item({}, 1), item({}, 1)], ValueError, "duplicated"),
    ],
)
def test_bad_items_fail_before_converting(items, error, match):
    with pytest.raises(error, match=match):
        to_yolo(items)


def test_image_item_leaf_and_stem():
    it = ImageItem(id=5, data={}, file_name="dir/sub\\photo.final.JPG")
    assert it.leaf == "photo.final.JPG" and it.stem == "photo.final"
    assert ImageItem(id=5, data={}).stem == "5"


BOX = doc(bounding_box=[{"id": "b", "classification": "car", "attrs": [], "data": [1, 2, 3, 4]}])
IMAGE = {"id": 1, "width": 10, "height": 10, "file_name": "a.jpg"}
BOX_CLASS_1 = "classes['bounding_box'][1]"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: to_coco(None), "items"),
        (lambda: to_voc(5), "items"),
        (lambda: collect_classes(None), "items"),
        (lambda: to_coco([item(BOX)], classes=5), "classes"),
        (lambda: to_yolo([item(BOX)], classes="car"), "classes"),
        (lambda: to_coco([item(BOX)], classes=["car", 1]), "classes[1]"),
        (lambda: to_coco([item(BOX)], classes={"bounding_box": ["car", None]}), BOX_CLASS_1),
        (lambda: to_voc([item(BOX)], splits="train"), "splits"),
        (lambda: to_voc([item(BOX)], splits={1: "training"}), "splits[1]"),
        (lambda: to_yolo([item(BOX)], tasks=5), "tasks"),
        (lambda: to_yolo([item(BOX)], tasks=["detekt"]), "tasks"),
        (lambda: from_coco({"images": "x"}), "coco['images']"),
        (lambda: from_coco({"images": [IMAGE], "annotations": None}), "coco['annotations']"),
        (lambda: from_coco({"images": [IMAGE], "categories": 3}), "coco['categories']"),
        (lambda: from_coco({"images": ["x"]}), "coco['images'][0]"),
        (lambda: from_coco(5), "coco"),
        (lambda: from_voc(["<annotation/>"]), "annotations"),
        (lambda: from_voc({"a": None}), "annotations['a']"),
    ],
)  # fmt: skip
def test_wrong_argument_types_are_named_with_their_value(call, field):
    with pytest.raises(InvalidInputError) as caught:
        call()
    assert caught.value.field == field
    assert f"invalid {field}=" in str(caught.value)
    assert isinstance(caught.value, ValueError)  # what callers caught before keeps working
    if field in ("items", "classes"):  # these were TypeErrors: still caught as one
        assert isinstance(caught.value, TypeError)


def test_a_single_yolo_task_name_is_that_task():
    one, _ = to_yolo([item(BOX)], tasks="detect")
    listed, _ = to_yolo([item(BOX)], tasks=["detect"])
    assert one == listed and "segment" not in one and "pose" not in one


@pytest.mark.parametrize(
    ("coco", "field"),
    [
        (None, "coco"),
        ({"instances": {"images": []}, "captions": {}}, "coco"),
        ({"instances": {"images": []}, "stuff": "x"}, "coco['stuff']"),
    ],
)
def test_write_coco_refuses_bad_documents_before_writing_anything(tmp_path, coco, field):
    out = tmp_path / "coco"
    with pytest.raises(InvalidInputError) as caught:
        write_coco(coco, out)
    assert caught.value.field == field
    assert not out.exists()
