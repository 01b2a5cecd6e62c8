"""The readers: every format into Labels keyed by file name, scores kept, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _import_helpers import box_doc, canon
from PIL import Image

from synapse_nb.converters import coco_rle_encode, dm_v2_to_v1
from synapse_nb.exceptions import SynapseNBError
from synapse_nb.importers import (
    ImportFormatError,
    read_coco,
    read_coco_results,
    read_dm,
    read_predictions,
    read_voc_folder,
    read_yolo_labels,
    sniff_format,
)

INSTANCES = {
    "images": [
        {"id": 1, "file_name": "train/a.jpg", "width": 40, "height": 30},
        {"id": 2, "file_name": "b.jpg", "width": 40, "height": 30},
    ],
    "categories": [
        {"id": 1, "name": "car"},
        {"id": 2, "name": "person", "keypoints": ["nose", "left_eye"]},
    ],
    "annotations": [{"id": 9, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
}


def scores(labels, key: str) -> list[tuple[str, float | None]]:
    return sorted(((a.tool, a.score()) for a in labels[key].document().annotations()), key=repr)


# ---------------------------------------------------------------------------- COCO


def test_coco_instances_are_keyed_by_the_leaf_of_the_file_name() -> None:
    labels = read_coco(INSTANCES)
    assert list(labels.images) == ["a.jpg", "b.jpg"]
    assert labels["a.jpg"].width == 40 and labels["a.jpg"].item_id == 1
    assert canon(labels["a.jpg"].data) == [
        ("bounding_box", "car", (1.0, 2.0, 3.0, 4.0), None, None, False)
    ]
    assert labels["b.jpg"].n_annotations() == 0


def test_coco_results_keep_a_score_on_every_kind_of_annotation() -> None:
    mask = np.zeros((30, 40), dtype=bool)
    mask[5:10, 5:15] = True
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 9], "score": 0.4,
         "segmentation": [[0, 0, 9, 0, 9, 9]]},
        {"image_id": 1, "category_id": 1, "score": 0.3, "segmentation": coco_rle_encode(mask)},
        {"image_id": 1, "category_id": 2, "bbox": [0, 0, 9, 9], "score": 0.8,
         "keypoints": [3, 4, 2, 5, 6, 1]},
    ]  # fmt: skip
    labels = read_coco_results(results, INSTANCES)
    assert labels.format == "coco_results"
    assert scores(labels, "a.jpg") == [
        ("bounding_box", 0.9),
        ("keypoint", 0.8),
        ("keypoint", 0.8),
        ("polygon", 0.4),
        ("segmentation", 0.3),
    ]
    joints = {a.label: a for a in labels["a.jpg"].document().annotations() if a.tool == "keypoint"}
    assert joints["nose"].point() == (3.0, 4.0) and joints["left_eye"].visibility == 1
    mask_ann = labels["a.jpg"].document().media[0].by_tool("segmentation")[0]
    assert mask_ann.area() == 50.0
    # an image the model predicted nothing on is listed, with no annotations
    assert labels["b.jpg"].n_annotations() == 0
    assert labels.summary()["scored"] == 5


def test_coco_results_can_be_named_by_maps_instead_of_an_instances_file() -> None:
    results = [{"image_id": 7, "category_id": 3, "bbox": [0, 0, 2, 2], "score": 0.5}]
    labels = read_coco_results(results, categories={3: "bus"}, images={7: "x/y.png"})
    assert list(labels.images) == ["y.png"]
    assert canon(labels["y.png"].data)[0][:2] == ("bounding_box", "bus")
    # with no image map at all, the image id is the key (and the id to match on)
    by_id = read_coco_results(results, categories={3: "bus"})
    assert list(by_id.images) == ["7"] and by_id["7"].item_id == 7


@pytest.mark.parametrize(
    ("entry", "field", "why"),
    [
        ({"image_id": 1, "category_id": 5, "bbox": [0, 0, 1, 1], "score": 0.1},
         "results[1].category_id = 5", "is not a known category"),
        ({"image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1},
         "results[1].image_id = 99", "is not an image of the instances"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
         "results[1].score = None", "is not a finite number"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": float("nan")},
         "results[1].score = nan", "is not a finite number"),
        ("oops", "results[1] = 'str'", "is not an object"),
    ],
)  # fmt: skip
def test_a_bad_results_entry_is_named_by_file_and_field(
    tmp_path: Path, entry: object, field: str, why: str
) -> None:
    path = tmp_path / "preds.json"
    good = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}
    path.write_text(json.dumps([good, entry]))
    with pytest.raises(ImportFormatError) as caught:
        read_coco_results(path, INSTANCES)
    assert str(caught.value) == f"{path}: {field} {why}"
    assert isinstance(caught.value, SynapseNBError) and caught.value.source == str(path)


def test_unreadable_files_are_named_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"image_id": 1,\n  "score": }]')
    with pytest.raises(ImportFormatError, match=r"broken.json: line 2 column 12 is not JSON"):
        read_predictions(path)
    with pytest.raises(ImportFormatError, match=r"missing.json: file does not exist"):
        read_predictions(tmp_path / "missing.json")
    with pytest.raises(ImportFormatError, match=r"results = 'dict' is not a list"):
        read_coco_results({"a": 1}, categories={1: "car"})


def test_malformed_geometry_is_audited_against_the_image_key() -> None:
    results = [{"image_id": 2, "category_id": 1, "bbox": [0, 0, "x", 1], "score": 0.5}]
    labels = read_coco_results(results, INSTANCES)
    [record] = list(labels.audit)
    assert record.item_id == "b.jpg" and str(record.outcome) == "failed"
    assert "bbox" in record.detail


# ---------------------------------------------------------------------------- YOLO


def test_yolo_confidence_column_becomes_the_score_for_each_task() -> None:
    sizes = {"a.jpg": (100, 50)}
    detect = read_yolo_labels(
        {"a": "0 0.5 0.5 0.2 0.2 0.75\n1 0.5 0.5 0.4 0.4\n"}, task="detect",
        names=["car", "bus"], sizes=sizes,
    )  # fmt: skip
    assert scores(detect, "a") == [("bounding_box", 0.75), ("bounding_box", None)]
    segment = read_yolo_labels(
        {"a": "0 0.1 0.1 0.5 0.1 0.5 0.5 0.6\n"}, task="segment", names=["car"], sizes=sizes
    )
    [polygon] = segment["a"].document().annotations()
    assert polygon.score() == 0.6 and polygon.points()[1] == (50.0, 5.0)
    pose_row = "0 0.5 0.5 0.5 0.5 0.1 0.2 2 0.3 0.4 1 0.9\n"
    pose = read_yolo_labels({"a": pose_row}, task="pose", names=["person"], sizes=sizes,
                            kpt_shape=[2, 3])  # fmt: skip
    joints = list(pose["a"].document().annotations())
    assert [(j.score(), j.visibility) for j in joints] == [(0.9, 2), (0.9, 1)]
    assert joints[0].group_id == joints[1].group_id is not None


def test_yolo_without_confidence_reads_as_ground_truth_and_bad_rows_keep_their_line() -> None:
    text = "0 0.5 0.5 0.2 0.2 0.3\n\nnot a row\n0 0.5 0.5 0.2 0.2\n"
    labels = read_yolo_labels({"a": text}, task="detect", names=["car"], sizes={"a": (10, 10)})
    assert scores(labels, "a") == [("bounding_box", 0.3), ("bounding_box", None)]
    [record] = list(labels.audit)
    assert record.item_id == "a" and record.detail.startswith("line 3: not numeric")


def test_yolo_sizes_come_from_a_task_frame_or_the_images(tmp_path: Path) -> None:
    frame = pd.DataFrame({"file_name": ["a.jpg"], "width": [200], "height": [100]})
    labels = read_yolo_labels({"a": "0 0.5 0.5 0.5 0.5"}, names=["car"], sizes=frame)
    assert labels["a"].document().media[0].annotations[0].bbox() == (50.0, 25.0, 100.0, 50.0)
    root = tmp_path / "detect"
    (root / "labels").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "labels" / "b.txt").write_text("0 0.5 0.5 0.5 0.5 0.25\n")
    (root / "classes.txt").write_text("car\n")
    Image.new("RGB", (40, 20)).save(root / "images" / "b.png")
    found = read_predictions(root)
    assert found.format == "yolo" and list(found.images) == ["b.png"]
    assert (found["b.png"].width, found["b.png"].height) == (40, 20)
    assert scores(found, "b.png") == [("bounding_box", 0.25)]


def test_yolo_without_names_or_sizes_says_what_to_pass(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    with pytest.raises(ImportFormatError, match="names are unknown: pass names="):
        read_yolo_labels(tmp_path)
    with pytest.raises(ImportFormatError, match=r"sizes\['a'\] is missing"):
        read_yolo_labels(tmp_path, names=["car"])
    with pytest.raises(ImportFormatError, match="task = 'obb' is not one of"):
        read_yolo_labels(tmp_path, names=["car"], task="obb")


# ---------------------------------------------------------------------------- DM


def test_dm_v1_documents_are_converted_and_keep_their_size() -> None:
    v2 = box_doc([("car", [1, 2, 3, 4])], score=[0.6])
    v1, _ = dm_v2_to_v1(v2, extra={"image_1": {"width": 64, "height": 48}})
    labels = read_dm([{"file_name": "a.jpg", "data": v1}])
    assert labels["a.jpg"].data.get("images")  # stored as v2
    assert (labels["a.jpg"].width, labels["a.jpg"].height) == (64, 48)
    assert canon(labels["a.jpg"].data) == canon(v2)


def test_dm_folders_in_the_export_layout_are_keyed_by_stem(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.json").write_text(json.dumps(box_doc([("car", [0, 0, 1, 1])])))
    (tmp_path / "labels" / "b.json").write_text(json.dumps({}))
    labels = read_predictions(tmp_path)
    assert labels.format == "dm" and list(labels.images) == ["a", "b"]
    assert labels["b"].n_annotations() == 0


def test_dm_errors_name_the_document() -> None:
    with pytest.raises(ImportFormatError, match="single DM document needs name="):
        read_dm(box_doc([]))
    assert list(read_dm(box_doc([]), name="z.jpg").images) == ["z.jpg"]
    with pytest.raises(ImportFormatError, match=r"<object>: a.jpg: document = \['x'\] is not a DM"):
        read_dm({"a.jpg": {"x": 1}})
    with pytest.raises(ImportFormatError, match=r"items\[0\] must be an object with a 'data'"):
        read_dm([{"file_name": "a.jpg"}])


# ---------------------------------------------------------------------------- sniffing


def test_formats_are_sniffed_from_content_and_layout(tmp_path: Path) -> None:
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "instances.json").write_text(json.dumps(INSTANCES))
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "a.xml").write_text("<annotation/>")
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 1, "bbox": [0] * 4}]))
    assert sniff_format(tmp_path / "coco") == "coco"
    assert sniff_format(tmp_path / "voc") == "voc"
    assert sniff_format(results) == "coco_results"
    assert sniff_format({"a": "0 0.5 0.5 0.1 0.1"}) == "yolo"
    assert sniff_format([{"file_name": "a", "data": {}}]) == "dm"
    assert read_predictions(tmp_path / "coco")["a.jpg"].n_annotations() == 1
    with pytest.raises(ImportFormatError, match="could not be told from the content"):
        read_predictions([1, 2])
    with pytest.raises(ImportFormatError, match="format = 'xml' is not one of"):
        read_predictions(results, format="xml")


def test_voc_folder_of_plain_xml_files(tmp_path: Path) -> None:
    xml = (
        "<annotation><filename>pic.png</filename><size><width>50</width><height>40</height>"
        "</size><object><name>dog</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>11</xmax>"
        "<ymax>22</ymax></bndbox></object></annotation>"
    )
    (tmp_path / "whatever.xml").write_text(xml)
    labels = read_voc_folder(tmp_path)
    assert list(labels.images) == ["pic.png"] and labels["pic.png"].width == 50
    assert canon(labels["pic.png"].data)[0][:3] == ("bounding_box", "dog", (1.0, 2.0, 10.0, 20.0))
    with pytest.raises(ImportFormatError, match="Annotations/ is missing and no"):
        read_voc_folder(tmp_path / "..")


def test_mask_sizes_are_checked_before_anything_is_decoded() -> None:
    """A few bytes of RLE counts can claim a mask of gigabytes: the size is checked first."""
    huge = {"size": [100_000, 100_000], "counts": "0"}
    results = [{"image_id": 1, "category_id": 1, "segmentation": huge, "score": 0.5}]
    with pytest.raises(ImportFormatError, match=r"results\[0\].segmentation.size = \[100000, 1"):
        read_coco_results(results, INSTANCES)
    with pytest.raises(ImportFormatError, match="needs the image's width and height"):
        read_coco_results(results, categories={1: "car"}, images={1: "a.jpg"})
    big = {
        **INSTANCES,
        "images": [{"id": 1, "file_name": "a.jpg", "width": 10**5, "height": 10**5}],
    }
    big["annotations"] = [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": huge}]
    with pytest.raises(ImportFormatError, match=r"annotations\[0\].segmentation.size .* is over"):
        read_coco(big)


@pytest.mark.parametrize("size", [(0, 10), ("wide", 10), (10,), 12, (10.5, 3)])
def test_a_bad_yolo_size_is_named(size: object) -> None:
    with pytest.raises(ImportFormatError, match=r"sizes\['a.jpg'\] = .* is not \(width, height\)"):
        read_yolo_labels({"a": "0 0.5 0.5 0.1 0.1"}, names=["car"], sizes={"a.jpg": size})
