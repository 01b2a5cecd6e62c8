"""DM v2 -> COCO: the spec example, pycocotools loading, audits, and the round trip back."""

from __future__ import annotations

import numpy as np
import pytest
from _conv_helpers import doc, item, mask_ann, reasons
from pycocotools.coco import COCO

from synapse_nb.converters import PERSON_17, from_coco, to_coco, write_coco

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools + numpy 2


def load(document: dict) -> COCO:
    coco = COCO()
    coco.dataset = document
    coco.createIndex()
    return coco


def test_spec_example(spec_doc):
    coco, audit = to_coco([item(spec_doc)])

    instances, kps = coco["instances"], coco["person_keypoints"]
    assert len(instances["annotations"]) == 2 and len(kps["annotations"]) == 1
    assert coco["stuff"]["annotations"] == []
    pose = kps["annotations"][0]
    assert pose["num_keypoints"] == 3 and pose["bbox"] == [310, 90, 20, 10] and pose["area"] == 200
    assert pose["keypoints"][:9] == [320, 100, 2, 310, 90, 1, 330, 90, 2]
    assert pose["keypoints"][9:] == [0] * 42
    assert kps["categories"][0]["keypoints"] == list(PERSON_17)
    assert kps["categories"][0]["skeleton"][0] == [16, 14]
    box, poly = instances["annotations"]
    assert box["bbox"] == [100, 120, 200, 80] and box["area"] == 16000
    assert box["attributes"] == {"occluded": False}
    assert poly["segmentation"] == [[10, 400, 300, 400, 200, 470]]
    assert poly["bbox"] == [10, 400, 290, 70] and poly["area"] == pytest.approx(10150)
    assert instances["images"][0]["file_name"] == "images/a.jpg"
    assert {a["iscrowd"] for a in instances["annotations"]} == {0}
    # the group entry is audited as skipped, the missing class schema as a warning
    assert reasons(audit) == [("grp0000001", "skipped", "UNSUPPORTED_ANNOTATION_TYPE")]
    assert audit.warnings[0].startswith("CLASS_SCHEMA_UNAVAILABLE")


def test_every_role_loads_and_indexes_in_pycocotools(spec_doc):
    mask = np.zeros((480, 640), bool)
    mask[50:60, 70:90] = True
    spec_doc["images"][0]["segmentation"] = [mask_ann("mask000001", "sky", mask)]
    second = doc(bounding_box=[{"id": "b2", "classification": "bus", "data": [1, 2, 3, 4]}])
    coco, _ = to_coco([item(spec_doc), item(second, 2, file_name="dir/b.png")], classes=["car"])

    instances = load(coco["instances"])
    assert sorted(c["name"] for c in instances.loadCats(instances.getCatIds())) == [
        "bus", "car", "road", "sky",
    ]  # fmt: skip
    assert instances.getCatIds(catNms=["car"]) == [1]  # configured class first
    assert len(instances.getAnnIds(imgIds=[1])) == 3 and len(instances.getAnnIds(imgIds=[2])) == 1
    rle_ann = instances.loadAnns(instances.getAnnIds(catIds=instances.getCatIds(catNms=["sky"])))[0]
    assert np.array_equal(instances.annToMask(rle_ann).astype(bool), mask)
    assert rle_ann["area"] == 200 and rle_ann["bbox"] == [70, 50, 20, 10]
    poly_ann = instances.loadAnns(instances.getAnnIds(catIds=instances.getCatIds(catNms=["road"])))
    assert instances.annToMask(poly_ann[0]).sum() > 0
    assert instances.loadImgs([2])[0]["file_name"] == "images/b.png"

    keypoints = load(coco["person_keypoints"])
    assert keypoints.getCatIds(catNms=["person"]) == [1]
    assert len(keypoints.getAnnIds(imgIds=[1], catIds=[1])) == 1
    assert load(coco["stuff"]).getAnnIds() == []


def test_segmentation_modes():
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:4] = True
    data = doc(segmentation=[mask_ann("m1", "sky", mask, "raw_indices")])
    items = [item(data, width=10, height=10)]

    semantic, _ = to_coco(items, segmentation_mode="semantic")
    assert len(semantic["stuff"]["annotations"]) == 1 and semantic["instances"]["annotations"] == []
    assert load(semantic["stuff"]).annToMask(semantic["stuff"]["annotations"][0]).sum() == 4

    excluded, audit = to_coco(items, segmentation_mode="exclude")
    assert excluded["stuff"]["annotations"] == excluded["instances"]["annotations"] == []
    assert reasons(audit) == [("m1", "skipped", "SEGMENTATION_EXCLUDED")]
    with pytest.raises(ValueError, match="segmentation_mode"):
        to_coco(items, segmentation_mode="panoptic")


def test_malformed_and_unsupported_annotations_are_audited_not_dropped():
    bad_mask = {
        "id": "m1",
        "classification": "sky",
        "attrs": [],
        "data": [5, 1],
        "encoding": "raw_indices",
        "isCompressed": False,
        "compressionFormat": None,
    }
    data = doc(
        bounding_box=[
            {"id": "dup", "classification": "car", "data": [0, 0, 1, 1]},
            {"id": "dup", "classification": "car", "data": [0, 0, 2, 2]},
            {"id": "flat", "classification": "car", "data": [0, 0, 0, 5]},
            {"id": "rot", "classification": "car", "data": [0, 0, 5, 5],
             "attrs": [{"name": "rotation", "value": 0.3}]},
            {"id": "nolabel", "classification": "", "data": [0, 0, 5, 5]},
            {"id": "bad id!", "classification": "car", "data": [0, 0, 5, 5]},
        ],
        polygon=[{"id": "line", "classification": "road", "data": [[0, 0], [1, 1], [2, 2]]}],
        segmentation=[bad_mask],
        polyline=[{"id": "pl", "classification": "lane", "data": [[0, 0], [1, 1]]}],
        keypoint=[
            {"id": "lonely", "classification": "nose", "data": [1, 1], "visibility": 2},
            {"id": "tail", "classification": "tail", "data": [1, 1], "group_id": "g"},
            {"id": "n1", "classification": "nose", "data": [1, 1], "group_id": "h"},
            {"id": "n2", "classification": "nose", "data": [2, 2], "group_id": "h"},
        ],
        classification=[{"id": "c1", "classification": "day", "data": {}}],
    )  # fmt: skip
    coco, audit = to_coco([item(data)])

    assert reasons(audit) == [
        ("bad id!", "failed", "MALFORMED_ANNOTATION"),  # not ^[a-zA-Z0-9_-]+$
        ("c1", "skipped", "UNSUPPORTED_ANNOTATION_TYPE"),
        ("dup", "failed", "MALFORMED_ANNOTATION"),
        ("dup", "failed", "MALFORMED_ANNOTATION"),
        ("flat", "failed", "MALFORMED_ANNOTATION"),
        ("line", "failed", "MALFORMED_ANNOTATION"),
        ("lonely", "skipped", "KEYPOINT_GROUP_INVALID"),
        ("m1", "failed", "INVALID_MASK_ENCODING"),
        ("n1", "failed", "KEYPOINT_GROUP_INVALID"),
        ("n2", "failed", "KEYPOINT_GROUP_INVALID"),
        ("nolabel", "failed", "MALFORMED_ANNOTATION"),
        ("pl", "skipped", "UNSUPPORTED_ANNOTATION_TYPE"),
        ("rot", "lossy", "UNSUPPORTED_ORIENTED_BOUNDING_BOX"),
        ("tail", "skipped", "KEYPOINT_GROUP_INVALID"),
    ]
    written = coco["instances"]["annotations"]
    assert [a["attributes"]["rotation"] for a in written] == [0.3]  # only "rot" was written
    assert coco["person_keypoints"]["annotations"] == []
    assert [r.item_id for r in audit.by_item()[1]] == [1] * len(audit)
    assert audit.summary()["failed"] == 9


def test_missing_joints_are_zeroed_and_audited(spec_doc):
    spec_doc["images"][0]["keypoint"][1]["visibility"] = 0
    coco, audit = to_coco([item(spec_doc)])
    pose = coco["person_keypoints"]["annotations"][0]
    assert pose["keypoints"][3:6] == [0, 0, 0] and pose["num_keypoints"] == 2
    assert pose["bbox"] == [320, 90, 10, 10]
    assert ("kpt0000002", "lossy", "MISSING_KEYPOINT_ZEROED") in reasons(audit)


def test_dm_v1_items_are_converted_first():
    v1 = {
        "extra": {"image_1": {"width": 64, "height": 48}},
        "annotations": {"image_1": [{"id": "b1", "tool": "bounding_box",
                                     "classification": {"class": "car"}}]},
        "annotationsData": {"image_1": [{"id": "b1", "coordinate": {"x": 1, "y": 2, "width": 3,
                                                                   "height": 4}}]},
        "relations": {"image_1": [{"x": 1}]},
    }  # fmt: skip
    coco, audit = to_coco([item(v1, width=64, height=48)])
    assert coco["instances"]["annotations"][0]["bbox"] == [1, 2, 3, 4]
    assert reasons(audit) == [(None, "lossy", "RELATIONS_MAP_NOT_CONVERTED")]


def test_other_images_and_media_are_audited():
    data = {
        "images": [
            {"bounding_box": [{"id": "b1", "classification": "car", "data": [0, 0, 1, 1]}]},
            {"bounding_box": [{"id": "b2", "classification": "car", "data": [0, 0, 1, 1]}]},
        ],
        "videos": [{"segmentation": [{"id": "v1", "classification": "x", "data": {}}]}],
    }
    _, audit = to_coco([item(data)])
    assert reasons(audit) == [
        ("b2", "skipped", "EXTRA_IMAGE_IGNORED"),
        ("v1", "skipped", "UNSUPPORTED_MEDIA_TYPE"),
    ]


def test_round_trip_back_to_dm(spec_doc, tmp_path):
    mask = np.zeros((480, 640), bool)
    mask[100:200, 300:350] = True
    mask[150:160, 310:320] = False  # a hole: COCO RLE keeps it
    spec_doc["images"][0]["segmentation"] = [mask_ann("mask000001", "sky", mask)]
    spec_doc["images"][0]["bounding_box"][0]["attrs"].append({"name": "rotation", "value": 0.1})
    coco, _ = to_coco([item(spec_doc, item_id="task-9")])
    write_coco(coco, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "images", "instances.json", "person_keypoints.json", "stuff.json",
    ]  # fmt: skip

    items, audit = from_coco(tmp_path)
    assert len(audit) == 0
    (back,) = items
    assert (back["id"], back["file_name"], back["width"], back["height"]) == (
        "task-9", "a.jpg", 640, 480,
    )  # fmt: skip
    image = back["data"]["images"][0]
    original = spec_doc["images"][0]
    assert image["bounding_box"][0]["data"] == original["bounding_box"][0]["data"]
    assert image["bounding_box"][0]["attrs"] == original["bounding_box"][0]["attrs"]
    assert image["polygon"][0]["data"] == original["polygon"][0]["data"]
    assert image["polygon"][0]["classification"] == "road"
    got_mask = image["segmentation"][0]
    assert got_mask["encoding"] == "dm_rle" and got_mask["classification"] == "sky"
    from synapse_nb.converters import decode_mask

    assert np.array_equal(decode_mask(got_mask, 640, 480), mask)
    joints = {k["classification"]: k for k in image["keypoint"]}
    for kp in original["keypoint"]:
        assert joints[kp["classification"]]["data"] == kp["data"]
        assert joints[kp["classification"]]["visibility"] == kp["visibility"]
    assert len({k["group_id"] for k in image["keypoint"]}) == 1
    assert back["data"]["classification"]["keypoint"] == ["left_eye", "nose", "right_eye"]

    again, _ = to_coco(items)  # and forward again: same geometry
    assert (
        again["instances"]["annotations"][0]["bbox"] == coco["instances"]["annotations"][0]["bbox"]
    )
    assert (
        again["person_keypoints"]["annotations"][0]["keypoints"]
        == (coco["person_keypoints"]["annotations"][0]["keypoints"])
    )


def test_from_coco_audits_bad_annotations():
    document = {
        "images": [{"id": 1, "file_name": "x.jpg", "width": 10, "height": 10}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1]},
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]},
            {"id": 4, "image_id": 1, "category_id": 1,
             "segmentation": {"size": [5, 5], "counts": "1"}},
            {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4],
                                                                        [6, 6, 9, 6, 9, 9]]},
        ],
    }  # fmt: skip
    items, audit = from_coco(document)
    failed = sorted(str(r.reason_code) for r in audit if str(r.outcome) == "failed")
    assert failed == ["INVALID_MASK_ENCODING"] + ["MALFORMED_ANNOTATION"] * 3
    lossy = [r for r in audit if str(r.outcome) == "lossy"]
    assert [str(r.reason_code) for r in lossy] == ["MULTIPART_POLYGON_SPLIT"] * 2
    assert len(items[0]["data"]["images"][0]["polygon"]) == 2
