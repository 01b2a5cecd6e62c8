"""DM v2 -> Pascal VOC: XML boxes, segmentation PNGs, splits, audits, and round trips."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from _conv_helpers import doc, item, mask_ann, reasons
from PIL import Image

from synapse_nb.converters import decode_mask, from_voc, read_voc, to_voc, voc_palette, write_voc


def test_spec_example_box_xml_and_polygon_png(spec_doc):
    voc, audit = to_voc([item(spec_doc)], classes=["car", "road"])

    root = ET.fromstring(voc["annotations"]["a"])
    assert root.findtext("filename") == "a.jpg"
    assert [root.findtext(f"size/{t}") for t in ("width", "height", "depth")] == ["640", "480", "3"]
    assert root.findtext("segmented") == "1"
    (obj,) = root.findall("object")
    assert obj.findtext("name") == "car"
    assert [obj.findtext(f"bndbox/{t}") for t in ("xmin", "ymin", "xmax", "ymax")] == [
        "100", "120", "300", "200",
    ]  # fmt: skip
    class_png = voc["segmentation_class"]["a"]
    object_png = voc["segmentation_object"]["a"]
    assert class_png.shape == (480, 640) and set(np.unique(class_png)) == {0, 2}  # road = 2
    assert set(np.unique(object_png)) == {0, 1}
    assert class_png[440, 150] == 2 and class_png[100, 100] == 0
    assert voc["labelmap"] == ["background", "car", "road"]
    assert reasons(audit) == [
        ("bbox000001", "lossy", "CUSTOM_ATTRIBUTES_DROPPED"),
        ("grp0000001", "skipped", "UNSUPPORTED_ANNOTATION_TYPE"),
        ("kpt0000001", "skipped", "UNSUPPORTED_ANNOTATION_TYPE"),
        ("kpt0000002", "skipped", "UNSUPPORTED_ANNOTATION_TYPE"),
        ("kpt0000003", "skipped", "UNSUPPORTED_ANNOTATION_TYPE"),
        ("poly000001", "lossy", "POLYGON_RASTERIZED"),
    ]
    assert audit.warnings == []


def test_box_rules():
    boxes = [
        {"id": "ok", "classification": "car", "data": [10, 10, 20, 20]},
        {"id": "round", "classification": "car", "data": [10.4, 10.6, 20.2, 19.8]},
        {"id": "out", "classification": "car", "data": [630, 10, 20, 20]},
        {"id": "neg", "classification": "car", "data": [-3, 10, 20, 20]},
        {"id": "thin", "classification": "car", "data": [5.0, 5.0, 0.2, 4.0]},
        {"id": "rot", "classification": "car", "data": [10, 10, 5, 5],
         "attrs": [{"name": "rotation", "value": 0.2}]},
        {"id": "rot0", "classification": "car", "data": [10, 10, 5, 5],
         "attrs": [{"name": "rotation", "value": 0}, {"name": "_internal", "value": 1}]},
    ]  # fmt: skip
    voc, audit = to_voc([item(doc(bounding_box=boxes))])
    objects = ET.fromstring(voc["annotations"]["a"]).findall("object")
    coords = [
        [int(o.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")] for o in objects
    ]
    assert coords == [[10, 10, 30, 30], [10, 11, 31, 30], [10, 10, 15, 15]]
    assert reasons(audit) == [
        ("neg", "failed", "OUT_OF_BOUNDS"),
        ("out", "failed", "OUT_OF_BOUNDS"),
        ("rot", "skipped", "UNSUPPORTED_ORIENTED_BOUNDING_BOX"),
        ("round", "lossy", "COORDINATES_ROUNDED"),
        ("thin", "failed", "MALFORMED_ANNOTATION"),
    ]
    assert voc["segmentation_class"] == {} and voc["image_sets"]["Segmentation"] == {}
    assert ET.fromstring(voc["annotations"]["a"]).findtext("segmented") == "0"


def test_masks_semantic_first_instances_over_them_in_id_order():
    sky = np.zeros((10, 10), bool)
    sky[:5] = True
    car = np.zeros((10, 10), bool)
    car[3:7, 3:7] = True
    person = np.zeros((10, 10), bool)
    person[0:2, 8:10] = True
    data = doc(segmentation=[mask_ann("z-car", "car", car), mask_ann("a-person", "person", person)])
    semantic_data = doc(segmentation=[mask_ann("s1", "sky", sky)])
    classes = ["car", "person", "sky"]

    voc, _ = to_voc([item(data, width=10, height=10)], classes=classes)
    objects = voc["segmentation_object"]["a"]
    assert objects[0, 9] == 1 and objects[5, 5] == 2  # annotation-id order: a-person, z-car

    semantic, _ = to_voc([item(semantic_data, width=10, height=10)], classes=classes,
                         segmentation_mode="semantic")  # fmt: skip
    assert "a" in semantic["segmentation_class"] and "a" not in semantic["segmentation_object"]
    assert semantic["segmentation_class"]["a"][0, 0] == 3

    strip = {"id": "p1", "classification": "person", "data": [[0, 0], [9, 0], [9, 1], [0, 1]]}
    both = doc(segmentation=[mask_ann("m1", "car", car)], polygon=[strip])
    mixed, audit = to_voc([item(both, width=10, height=10)], classes=classes)
    assert (
        mixed["segmentation_class"]["a"][5, 5] == 1 and mixed["segmentation_class"]["a"][0, 5] == 2
    )
    assert reasons(audit) == [("p1", "lossy", "POLYGON_RASTERIZED")]

    _, excluded = to_voc([item(data, width=10, height=10)], segmentation_mode="exclude")
    assert {str(r.reason_code) for r in excluded} == {"SEGMENTATION_EXCLUDED"}


def test_more_than_254_instances_drop_the_object_png():
    anns = []
    for n in range(255):
        m = np.zeros((16, 16), bool)
        m.flat[n] = True
        anns.append(mask_ann(f"m{n:03d}", "dot", m))
    voc, audit = to_voc([item(doc(segmentation=anns), width=16, height=16)])
    assert "a" in voc["segmentation_class"] and "a" not in voc["segmentation_object"]
    assert {str(r.reason_code) for r in audit} == {"OBJECT_MASK_DROPPED"} and len(audit) == 255


def test_class_ids_above_254_fail_in_pngs():
    names = [f"c{n:03d}" for n in range(255)]
    poly = {"id": "p", "classification": "c254", "data": [[0, 0], [4, 0], [4, 4]]}
    _, audit = to_voc([item(doc(polygon=[poly]), width=8, height=8)], classes=names)
    assert reasons(audit) == [("p", "failed", "CLASS_ID_OUT_OF_RANGE")]


def test_splits_hash_rule_and_explicit_assignments():
    items = [item(doc(), n, file_name=f"{n}.jpg") for n in range(40)]
    voc, _ = to_voc(items, splits={0: "val", 1: "test"})
    main = voc["image_sets"]["Main"]
    for n in range(2, 40):
        expected = (
            "train" if int(hashlib.sha256(str(n).encode()).hexdigest(), 16) % 100 < 80 else "val"
        )
        assert str(n) in main[expected]
    assert "0" in main["val"] and main["test"] == ["1"]
    with pytest.raises(ValueError, match="splits"):
        to_voc(items, splits={0: "holdout"})


def test_write_and_read_back(tmp_path):
    car = np.zeros((30, 40), bool)
    car[5:15, 5:20] = True
    road = np.zeros((30, 40), bool)
    road[20:30, :] = True
    data = doc(
        bounding_box=[{"id": "b1", "classification": "car", "data": [5, 5, 15, 10]}],
        segmentation=[mask_ann("m1", "car", car)],
        polygon=[
            {"id": "p1", "classification": "road", "data": [[0, 20], [39, 20], [39, 29], [0, 29]]}
        ],
    )
    voc, audit = to_voc([item(data, item_id="t1", width=40, height=30)], splits={"t1": "val"})
    write_voc(voc, tmp_path, audit)

    for sub in ("JPEGImages", "Annotations", "SegmentationClass", "SegmentationObject"):
        assert (tmp_path / sub).is_dir()
    assert (tmp_path / "ImageSets/Main/val.txt").read_text() == "a\n"
    assert (tmp_path / "ImageSets/Main/trainval.txt").read_text() == "a\n"
    assert (tmp_path / "ImageSets/Segmentation/val.txt").read_text() == "a\n"
    png = Image.open(tmp_path / "SegmentationClass/a.png")
    assert png.mode == "P" and png.getpalette()[:9] == voc_palette()[:9]
    labelmap = (tmp_path / "labelmap.txt").read_text().splitlines()
    assert labelmap[1:] == ["background:0,0,0::", "car:128,0,0::", "road:0,128,0::"]
    report = json.loads((tmp_path / "export_report.json").read_text())
    assert report["summary"]["lossy"] == 1 and report["items"] == 1

    items, read_audit = read_voc(tmp_path)
    assert len(read_audit) == 0
    (back,) = items
    assert (back["id"], back["file_name"], back["width"], back["height"]) == ("a", "a.jpg", 40, 30)
    image = back["data"]["images"][0]
    assert image["bounding_box"][0]["data"] == [5, 5, 15, 10]
    masks = {m["classification"]: decode_mask(m, 40, 30) for m in image["segmentation"]}
    assert np.array_equal(masks["car"], car) and np.array_equal(masks["road"], road)

    again, again_audit = to_voc(items)  # forward again: same XML and PNGs
    assert again["annotations"]["a"] == voc["annotations"]["a"]
    assert np.array_equal(again["segmentation_class"]["a"], voc["segmentation_class"]["a"])
    assert len(again_audit) == 0


def test_from_voc_flags_and_malformed_objects():
    xml = """<annotation><filename>x.jpg</filename><size><width>50</width><height>40</height>
      <depth>3</depth></size>
      <object><name>dog</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>
        <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>11</xmax><ymax>22</ymax></bndbox></object>
      <object><name>cat</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>5</xmax><ymax>9</ymax>
        </bndbox></object>
      <object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>
    </annotation>"""
    items, audit = from_voc({"x": xml, "broken": "<annotation>"})
    (box,) = items[0]["data"]["images"][0]["bounding_box"]
    assert box["data"] == [1, 2, 10, 20] and box["classification"] == "dog"
    assert box["attrs"] == [{"name": "truncated", "value": True}, {"name": "pose", "value": "Left"}]
    assert [str(r.reason_code) for r in audit] == ["MALFORMED_ANNOTATION"] * 3
    assert [r.item_id for r in audit] == ["x", "x", "broken"]


def _element_tree_xml(name, width, height, objects, segmented):
    """The annotation XML as ElementTree built it before the text builder (the oracle)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "JPEGImages"
    ET.SubElement(root, "filename").text = name
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "1" if segmented else "0"
    for label, box in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = label
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True):
            ET.SubElement(bndbox, tag).text = str(value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


@pytest.mark.parametrize("name", ["a.jpg", "R&D <1>.png", "caf\u00e9 \t\x01\u2028.jpg", "x>y&amp"])
def test_xml_text_is_what_element_tree_wrote(name):
    labels = ["car", "<&>", "caf\u00e9 \"q\" 'a'", " sp ", "\x7f"]
    boxes = [{"id": f"b{n}", "classification": label, "attrs": [], "data": [n, n, 5, 5]}
             for n, label in enumerate(labels)]  # fmt: skip
    for segmented, tools in ((False, {"bounding_box": boxes}), (True, {"polygon": [
        {"id": "p", "classification": "car", "attrs": [], "data": [[0, 0], [9, 0], [9, 9]]}
    ]})):  # fmt: skip
        one = {"id": 1, "width": 64, "height": 48, "file_name": name, "data": doc(**tools)}
        voc, _ = to_voc([one])
        objects = [
            (b["classification"].strip(), (b["data"][0], b["data"][1], b["data"][0] + 5,
                                           b["data"][1] + 5))
            for b in tools.get("bounding_box", [])
        ]  # fmt: skip
        expected = _element_tree_xml(name, 64, 48, objects, segmented)
        assert voc["annotations"][Path(name).stem] == expected
