"""DM v2 -> YOLO detect/segment/pose: the spec lines, audits, files, and round trips."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from _conv_helpers import doc, item, mask_ann, reasons
from PIL import Image

from synapse_nb.converters import (
    YOLO_FLIP_IDX,
    from_yolo,
    mask_contours,
    read_yolo,
    to_yolo,
    write_yolo,
)


def test_spec_example_lines(spec_doc):
    result, audit = to_yolo([item(spec_doc)])

    assert result["detect"]["labels"]["a"] == "0 0.312500 0.333333 0.312500 0.166667\n"
    assert result["detect"]["names"] == ["car", "road"]
    assert (
        result["segment"]["labels"]["a"]
        == "1 0.015625 0.833333 0.468750 0.833333 0.312500 0.979167\n"
    )
    pose = result["pose"]["labels"]["a"].split()
    assert " ".join(pose[:8]) == "0 0.500000 0.197917 0.031250 0.020833 0.500000 0.208333 2"
    assert pose[8:14] == ["0.484375", "0.187500", "1", "0.515625", "0.187500", "2"]
    assert pose[14:] == ["0.000000", "0.000000", "0"] * 14
    assert result["pose"]["names"] == ["person"]
    assert reasons(audit) == [
        ("bbox000001", "lossy", "CUSTOM_ATTRIBUTES_DROPPED"),
        ("grp0000001", "skipped", "UNSUPPORTED_ANNOTATION_TYPE"),
    ]


def test_dataset_files_and_empty_labels(spec_doc, tmp_path):
    empty = doc(bounding_box=[])
    result, audit = to_yolo([item(spec_doc), item(empty, 2, file_name="empty.png")])
    written = write_yolo(result, tmp_path, audit)

    assert [p.name for p in written] == ["detect", "segment", "pose"]
    for task in ("detect", "segment", "pose"):
        assert (tmp_path / task / "labels" / "empty.txt").read_text() == ""
        assert (tmp_path / task / "images").is_dir()
    pose_yaml = yaml.safe_load((tmp_path / "pose" / "dataset.yaml").read_text())
    assert pose_yaml["kpt_shape"] == [17, 3] and pose_yaml["flip_idx"] == YOLO_FLIP_IDX
    assert pose_yaml["names"] == ["person"] and pose_yaml["nc"] == 1
    detect_text = (tmp_path / "detect" / "dataset.yaml").read_text()
    assert 'names: ["car", "road"]' in detect_text  # a JSON list, as the SDK writes
    detect_yaml = yaml.safe_load(detect_text)
    assert (detect_yaml["train"], detect_yaml["val"], detect_yaml["nc"]) == ("images", "images", 2)
    assert (tmp_path / "detect" / "classes.txt").read_text() == "car\nroad\n"
    assert "CUSTOM_ATTRIBUTES_DROPPED" in (tmp_path / "export_outcomes.json").read_text()
    assert (tmp_path / "filename_collisions.json").read_text().strip() == "[]"


def test_filename_collisions_get_item_id_suffix():
    same = doc(bounding_box=[{"id": "b", "classification": "car", "data": [0, 0, 5, 5]}])
    result, _ = to_yolo(
        [item(same, 1, file_name="x/img.jpg"), item(same, 2, file_name="y/img.jpg")]
    )
    assert sorted(result["detect"]["labels"]) == ["img__1", "img__2"]
    assert result["filename_collisions"][0]["item_ids"] == [1, 2]
    assert result["items"]["img__2"] == {"item_id": 2, "file_name": "img.jpg"}


def test_mask_rows_holes_and_modes():
    mask = np.zeros((20, 40), bool)
    mask[2:12, 4:14] = True
    mask[5:8, 7:10] = False  # a hole
    mask[15:18, 30:36] = True  # a second part
    data = doc(segmentation=[mask_ann("m1", "blob", mask)])
    items = [item(data, width=40, height=20)]

    result, audit = to_yolo(items, tasks=["segment"])
    rows = result["segment"]["labels"]["a"].splitlines()
    assert len(rows) == 2 and {r.split()[0] for r in rows} == {"0"}
    assert reasons(audit) == [("m1", "lossy", "MASK_HOLE_DROPPED")]
    first = [float(v) for v in rows[0].split()[1:]] + [float(v) for v in rows[1].split()[1:]]
    assert all(0.0 <= v <= 1.0 for v in first)

    _, semantic = to_yolo(items, segmentation_mode="semantic")
    assert reasons(semantic) == [("m1", "skipped", "SEMANTIC_SEGMENTATION_UNSUPPORTED")]
    _, excluded = to_yolo(items, segmentation_mode="exclude")
    assert reasons(excluded) == [("m1", "skipped", "SEGMENTATION_EXCLUDED")]

    speck = np.zeros((20, 40), bool)
    speck[3, 3] = True
    _, tiny = to_yolo(
        [item(doc(segmentation=[mask_ann("s1", "blob", speck)]), width=40, height=20)]
    )
    assert reasons(tiny) == [("s1", "skipped", "MASK_TOO_SMALL")]


def test_mask_contours_follow_opencv_external_simple():
    m = np.zeros((6, 8), bool)
    m[1:4, 2:6] = True
    outer, holes, dropped = mask_contours(m)
    assert outer == [[(2.0, 1.0), (2.0, 3.0), (5.0, 3.0), (5.0, 1.0)]]
    assert (holes, dropped) == (0, 0)


def test_out_of_bounds_rotation_and_task_selection(spec_doc):
    spec_doc["images"][0]["bounding_box"] += [
        {"id": "out", "classification": "car", "data": [600, 0, 50, 10]},
        {"id": "rot", "classification": "car", "data": [0, 0, 10, 10],
         "attrs": [{"name": "rotation", "value": 1.0}]},
    ]  # fmt: skip
    spec_doc["images"][0]["polygon"].append(
        {"id": "pout", "classification": "road", "data": [[0, 0], [700, 0], [0, 10]]}
    )
    result, audit = to_yolo([item(spec_doc)], tasks=["detect"])
    assert set(result) == {"detect", "items", "filename_collisions"}
    assert len(result["detect"]["labels"]["a"].splitlines()) == 2
    assert reasons(audit) == [
        ("bbox000001", "lossy", "CUSTOM_ATTRIBUTES_DROPPED"),
        ("grp0000001", "skipped", "UNSUPPORTED_ANNOTATION_TYPE"),
        ("kpt0000001", "skipped", "TASK_NOT_SELECTED"),
        ("kpt0000002", "skipped", "TASK_NOT_SELECTED"),
        ("kpt0000003", "skipped", "TASK_NOT_SELECTED"),
        ("out", "failed", "OUT_OF_BOUNDS"),
        ("poly000001", "skipped", "TASK_NOT_SELECTED"),
        ("pout", "skipped", "TASK_NOT_SELECTED"),
        ("rot", "lossy", "UNSUPPORTED_ORIENTED_BOUNDING_BOX"),
    ]
    _, seg_audit = to_yolo([item(spec_doc)], tasks=["segment"])
    assert ("pout", "failed", "OUT_OF_BOUNDS") in reasons(seg_audit)
    with pytest.raises(ValueError, match="tasks"):
        to_yolo([item(spec_doc)], tasks=["classify"])


def test_pose_uses_explicit_group_box_and_needs_some_box(spec_doc):
    kps = spec_doc["images"][0]["keypoint"]
    kps[0]["group_bbox"] = [300, 80, 40, 40]
    result, _ = to_yolo([item(spec_doc)], tasks=["pose"])
    assert result["pose"]["labels"]["a"].split()[1:5] == [
        "0.500000",
        "0.208333",
        "0.062500",
        "0.083333",
    ]

    for kp in kps:
        kp.pop("group_bbox", None)
        kp["visibility"] = 0
    _, audit = to_yolo([item(spec_doc)], tasks=["pose"])
    ignored = ("TASK_NOT_SELECTED", "UNSUPPORTED_ANNOTATION_TYPE")
    assert [r for r in reasons(audit) if r[2] not in ignored] == [
        ("grp0000001", "skipped", "POSE_BOX_UNAVAILABLE")
    ]  # the joints were not written, so no "zeroed" records for them

    kps[1]["visibility"], kps[0]["visibility"] = 0, 2
    result, audit = to_yolo([item(spec_doc)], tasks=["pose"])
    assert result["pose"]["labels"]["a"].split()[8:11] == ["0.000000", "0.000000", "0"]
    assert ("kpt0000002", "lossy", "MISSING_KEYPOINT_ZEROED") in reasons(audit)


def _write_images(root, items):
    for it in items:
        for task in ("detect", "segment", "pose"):
            folder = root / task / "images"
            folder.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (it["width"], it["height"])).save(folder / it["file_name"])


def test_round_trip_through_files(spec_doc, tmp_path):
    spec_doc["images"][0]["bounding_box"][0]["attrs"] = []
    spec_doc["images"][0].pop("group")
    spec_doc["images"][0]["bounding_box"].append(
        {"id": "b2", "classification": "bus", "attrs": [], "data": [0.5, 1.25, 10.5, 20.75]}
    )
    items = [item(spec_doc, file_name="a.png")]
    result, audit = to_yolo(items)
    assert len(audit) == 0
    write_yolo(result, tmp_path)
    _write_images(tmp_path, items)  # sizes are read from the images

    original = spec_doc["images"][0]
    detect, detect_audit = read_yolo(tmp_path / "detect")
    boxes = detect[0]["data"]["images"][0]["bounding_box"]
    assert len(detect_audit) == 0 and detect[0]["id"] == "a"
    by_label = {b["classification"]: b["data"] for b in boxes}
    for box in original["bounding_box"]:
        assert by_label[box["classification"]] == pytest.approx(box["data"], abs=1e-3)

    segment, _ = read_yolo(tmp_path / "segment")
    polygon = segment[0]["data"]["images"][0]["polygon"][0]
    assert polygon["classification"] == "road"
    flat = [v for point in original["polygon"][0]["data"] for v in point]
    assert [v for point in polygon["data"] for v in point] == pytest.approx(flat, abs=1e-3)

    pose, _ = read_yolo(tmp_path / "pose", sizes={"a": (640, 480)})
    joints = {k["classification"]: k for k in pose[0]["data"]["images"][0]["keypoint"]}
    assert set(joints) == {"nose", "left_eye", "right_eye"}
    for kp in original["keypoint"]:
        got = joints[kp["classification"]]
        assert got["data"] == pytest.approx(kp["data"], abs=1e-3)
        assert got["visibility"] == kp["visibility"]
        assert got["group_bbox"] == pytest.approx([310, 90, 20, 10], abs=1e-3)
    assert len({k["group_id"] for k in joints.values()}) == 1

    again, again_audit = to_yolo(pose, tasks=["pose"])  # forward again: identical row
    assert again["pose"]["labels"]["a"] == result["pose"]["labels"]["a"]
    assert len(again_audit) == 0


def test_from_yolo_audits_malformed_rows():
    labels = {"a": "0 0.5 0.5 0.1\n3 0.5 0.5 0.1 0.1\nx 1 2 3 4\n0 0.5 0.5 0.2 0.2\n"}
    items, audit = from_yolo(labels, task="detect", names=["car"], sizes={"a": (100, 100)})
    assert len(items[0]["data"]["images"][0]["bounding_box"]) == 1
    details = [r.detail for r in audit]
    assert len(details) == 3
    assert details[0].startswith("line 1") and "class id 3" in details[1]
    _, seg = from_yolo({"a": "0 0.1 0.1 0.2\n"}, task="segment", names=["c"], sizes={"a": (9, 9)})
    assert [str(r.reason_code) for r in seg] == ["MALFORMED_ANNOTATION"]
    _, pose = from_yolo({"a": "0 0.5 0.5 0.1 0.1 0.5 0.5 2\n"}, task="pose", names=["person"],
                        sizes={"a": (9, 9)})  # fmt: skip
    assert "56 tokens" in next(iter(pose)).detail
    with pytest.raises(ValueError, match="sizes"):
        from_yolo({"b": ""}, task="detect", names=[], sizes={})
