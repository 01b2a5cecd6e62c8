"""Class order, label normalisation and item validation shared by all converters."""

from __future__ import annotations

import pytest
from _conv_helpers import doc, item

from synapse_nb.converters import (
    Audit,
    ImageItem,
    collect_classes,
    normalize_label,
    resolve_class_order,
    to_yolo,
)


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
