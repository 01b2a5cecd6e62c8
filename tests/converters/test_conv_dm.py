"""DM v1 <-> v2 conversion, including losses, malformed rows and the meta round trip."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from _conv_helpers import reasons

from synapse_nb.converters import DMFormatError, dm_v1_to_v2, dm_v2_to_v1, encode_mask


def v1_document() -> dict:
    mask = np.zeros((4, 6), bool)
    mask[1:3, 2:5] = True
    rle = encode_mask(mask, "dm_rle")
    return {
        "assignmentId": 42,
        "extra": {"image_1": {"width": 6, "height": 4}, "image_2": {"width": 6, "height": 4}},
        "annotations": {
            "image_1": [
                {"id": "box1", "tool": "bounding_box", "isLocked": True, "isVisible": True,
                 "isValid": True, "isDrawCompleted": True, "label": ["x"],
                 "classification": {"class": "car", "color": "red", "_internal": 1}},
                {"id": "poly1", "tool": "polygon", "classification": {"class": "road"}},
                {"id": "kp1", "tool": "keypoint",
                 "classification": {"class": "nose", "visibility": "occluded"}},
                {"id": "kp2", "tool": "keypoint", "classification": {"class": "left_eye"}},
                {"id": "mask1", "tool": "segmentation", "classification": {"class": "sky"}},
                {"id": "rel1", "tool": "relation", "classification": {"class": "near"}},
                {"id": "cls1", "tool": "classification",
                 "classification": {"class": "day", "weather": "sunny"}},
            ],
            "image_2": [
                {"id": "box2", "tool": "bounding_box", "classification": {"class": "bus"}},
            ],
        },
        "annotationsData": {
            "image_1": [
                {"id": "box1", "coordinate": {"x": 1, "y": 1, "width": 2, "height": 2,
                                              "rotation": 0.5}},
                {"id": "poly1", "coordinate": [{"x": 0, "y": 0, "id": "p1"},
                                               {"x": 5, "y": 0, "id": "p2"},
                                               {"x": 5, "y": 3, "id": "p3"}]},
                {"id": "kp1", "coordinate": {"x": 2, "y": 2}},
                {"id": "kp2", "coordinate": {"x": 3, "y": 1}},
                {"id": "mask1", "pixel_indices": rle["data"], "isCompressed": True,
                 "compressionFormat": "rle"},
                {"id": "rel1", "annotationId": "box1", "targetAnnotationId": "poly1"},
                {"id": "cls1"},
            ],
            "image_2": [{"id": "box2", "coordinate": {"x": 0, "y": 0, "width": 1, "height": 1}}],
        },
        "relations": {"image_1": [{"from": "box1", "to": "poly1"}]},
        "annotationGroups": {"image_1": [{"id": "g1", "annotationIds": ["kp1", "kp2", "box1"]}]},
    }  # fmt: skip


def test_v1_to_v2_shapes_every_tool():
    out, audit = dm_v1_to_v2(v1_document(), item_id=42)
    v2 = out["annotation_data"]
    image = v2["images"][0]

    box = image["bounding_box"][0]
    assert box["data"] == [1, 1, 2, 2] and box["classification"] == "car"
    assert {"name": "rotation", "value": 0.5} in box["attrs"]
    assert {"name": "color", "value": "red"} in box["attrs"]
    assert image["polygon"][0]["data"] == [[0, 0], [5, 0], [5, 3]]
    kp1, kp2 = image["keypoint"]
    assert (kp1["visibility"], kp1["group_id"], kp1["attrs"]) == (1, "g1", [])
    assert (kp2["visibility"], kp2["group_id"]) == (2, "g1")  # missing visibility = visible
    mask = image["segmentation"][0]
    assert (mask["encoding"], mask["isCompressed"], mask["compressionFormat"]) == (
        "dm_rle",
        True,
        "rle",
    )
    assert image["relation"][0]["data"] == ["box1", "poly1"]
    assert image["classification"][0]["data"] == {}
    assert image["classification"][0]["attrs"] == [{"name": "weather", "value": "sunny"}]
    assert v2["images"][1]["bounding_box"][0]["classification"] == "bus"
    assert v2["classification"]["bounding_box"] == ["bus", "car"]
    assert v2["classification"]["keypoint"] == ["left_eye", "nose"]
    assert out["annotation_meta"]["assignmentId"] == 42

    # box1 is a group member but v2 keeps membership only on keypoints; relations map too.
    assert reasons(audit) == [
        (None, "lossy", "RELATIONS_MAP_NOT_CONVERTED"),
        ("box1", "lossy", "GROUP_MEMBERSHIP_DROPPED"),
    ]
    assert {r.item_id for r in audit} == {42}


def test_media_are_in_natural_order_and_typed_by_prefix():
    doc = {
        "annotations": {
            key: [
                {"id": f"a{key[-2:]}", "tool": "classification", "classification": {"class": key}}
            ]
            for key in ("image_10", "image_2", "video_1", "pcd_1")
        },
        "annotationsData": {},
    }
    v2 = dm_v1_to_v2(doc)[0]["annotation_data"]
    assert [m["classification"][0]["classification"] for m in v2["images"]] == [
        "image_2",
        "image_10",
    ]
    assert set(v2) == {"classification", "images", "videos", "pcds"}


@pytest.mark.parametrize(
    ("mutate", "annotation_id", "reason"),
    [
        (lambda d: d["annotations"]["image_1"].append(
            {"id": "g9", "tool": "annotationGroup", "classification": {}}), "g9",
         "UNSUPPORTED_ANNOTATION_TYPE"),
        (lambda d: d["annotationsData"]["image_1"].pop(0), "box1", "MALFORMED_ANNOTATION"),
        (lambda d: d["annotationsData"]["image_1"][1].update(coordinate="nope"), "poly1",
         "MALFORMED_ANNOTATION"),
        (lambda d: d["annotationsData"]["image_1"][4].update(compressionFormat=None), "mask1",
         "INVALID_MASK_ENCODING"),
        (lambda d: d["extra"].pop("image_1"), "mask1", "INVALID_MASK_ENCODING"),
        (lambda d: d["annotationsData"]["image_1"][4].update(pixel_indices=[[20, 9]]), "mask1",
         "INVALID_MASK_ENCODING"),
        (lambda d: d["annotations"]["image_1"][2]["classification"].update(visibility="maybe"),
         "kp1", "MALFORMED_ANNOTATION"),
    ],
)  # fmt: skip
def test_malformed_rows_fail_alone(mutate, annotation_id, reason):
    doc = v1_document()
    mutate(doc)
    out, audit = dm_v1_to_v2(doc)
    failed = [r for r in audit if str(r.outcome) == "failed"]
    assert [(r.annotation_id, str(r.reason_code)) for r in failed] == [(annotation_id, reason)]
    kept = {a["id"] for anns in out["annotation_data"]["images"][0].values() for a in anns}
    assert annotation_id not in kept and "poly1" in kept | {annotation_id}


@pytest.mark.parametrize(
    ("groups", "detail"),
    [
        ([{"id": "g1", "annotationIds": ["kp1", "ghost"]}], "does not exist"),
        ([{"id": "g1", "annotationIds": ["kp1"]}, {"id": "g2", "annotationIds": ["kp1"]}],
         "already in group"),
    ],
)  # fmt: skip
def test_invalid_groups_are_audited(groups, detail):
    doc = v1_document()
    doc["annotationGroups"]["image_1"] = groups
    _, audit = dm_v1_to_v2(doc)
    bad = [r for r in audit if str(r.reason_code) == "KEYPOINT_GROUP_INVALID"]
    assert len(bad) == 1 and detail in bad[0].detail


def test_pydantic_group_shape_is_accepted():
    doc = v1_document()
    doc["annotationGroups"]["image_1"] = [
        {"id": "g7", "annotationList": [{"annotationId": "kp1", "children": ["kp2"]}]}
    ]
    image = dm_v1_to_v2(doc)[0]["annotation_data"]["images"][0]
    assert [k["group_id"] for k in image["keypoint"]] == ["g7", "g7"]


def test_round_trip_with_meta_restores_v1_exactly():
    original = v1_document()
    out, _ = dm_v1_to_v2(copy.deepcopy(original))
    back, audit = dm_v2_to_v1(out["annotation_data"], out["annotation_meta"])

    assert len(audit) == 0
    assert back["extra"] == original["extra"]
    assert back["relations"] == original["relations"]
    assert back["annotationGroups"] == original["annotationGroups"]
    assert back["assignmentId"] == 42
    rows = {r["id"]: r for r in back["annotations"]["image_1"]}
    assert rows["box1"]["isLocked"] is True and rows["box1"]["label"] == ["x"]
    assert rows["box1"]["classification"] == {"class": "car", "color": "red", "_internal": 1}
    assert rows["kp1"]["classification"] == {"class": "nose", "visibility": "occluded"}
    data = {r["id"]: r for r in back["annotationsData"]["image_1"]}
    for row in original["annotationsData"]["image_1"]:
        assert data[row["id"]] == row


def test_round_trip_without_meta_keeps_keypoint_groups():
    out, _ = dm_v1_to_v2(v1_document())
    v2 = out["annotation_data"]
    back, audit = dm_v2_to_v1(v2, extra={"image_1": {"width": 6, "height": 4}})

    assert back["annotationGroups"]["image_1"] == [{"id": "g1", "annotationIds": ["kp1", "kp2"]}]
    box = next(r for r in back["annotationsData"]["image_1"] if r["id"] == "box1")
    assert box["coordinate"]["rotation"] == 0.5
    poly = next(r for r in back["annotationsData"]["image_1"] if r["id"] == "poly1")
    assert [(p["x"], p["y"]) for p in poly["coordinate"]] == [(0, 0), (5, 0), (5, 3)]
    assert all(len(p["id"]) == 10 for p in poly["coordinate"])
    again, _ = dm_v1_to_v2(back)
    image, first = again["annotation_data"]["images"][0], v2["images"][0]
    assert image["keypoint"] == first["keypoint"]
    assert image["segmentation"] == first["segmentation"]
    assert len(audit) == 0


def test_v2_group_entries_become_v1_groups_and_their_class_is_audited(spec_doc):
    back, audit = dm_v2_to_v1(spec_doc)
    assert back["annotationGroups"]["image_1"] == [
        {"id": "grp0000001", "annotationIds": ["kpt0000001", "kpt0000002", "kpt0000003"]}
    ]
    assert reasons(audit) == [("grp0000001", "lossy", "GROUP_CLASS_DROPPED")]
    kinds = {r["tool"] for r in back["annotations"]["image_1"]}
    assert kinds == {"bounding_box", "polygon", "keypoint"}


def test_whole_document_type_errors():
    with pytest.raises(DMFormatError, match="annotations"):
        dm_v1_to_v2({"annotations": [], "annotationsData": {}})
    with pytest.raises(DMFormatError, match="images"):
        dm_v2_to_v1({"images": {}})
    _, audit = dm_v2_to_v1({"holograms": [{"bounding_box": [{"id": "x1"}]}]})
    assert reasons(audit) == [("x1", "failed", "UNSUPPORTED_MEDIA_TYPE")]
