"""Every import is the inverse of the matching exporter: export with the converters, read
back with the importers, get the same annotations (and scores) — with what a format cannot
carry listed in the export audit.

The hypothesis cases draw whole datasets: several images, each with scored boxes, polygons
and (for COCO) Person-17 skeletons; images with no annotations included.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _import_helpers import canon, canon_labels
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse_nb.annotations import PERSON_17
from synapse_nb.converters import (
    dm_v2_to_v1,
    encode_mask,
    to_coco,
    to_voc,
    to_yolo,
    write_coco,
    write_voc,
    write_yolo,
)
from synapse_nb.importers import read_predictions

CLASSES = ["car", "person", "bus"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------- strategies


@st.composite
def image_items(draw: Any, *, polygons: bool = True, poses: bool = False, ints: bool = False):
    """Items ``{id, file_name, width, height, data}`` of one image each, unique names."""
    count = draw(st.integers(1, 4))
    items = []
    for n in range(count):
        width, height = draw(st.integers(20, 300)), draw(st.integers(20, 300))
        media: dict[str, list[dict[str, Any]]] = {}
        for k in range(draw(st.integers(0, 4))):
            x, y = draw(st.integers(0, width - 2)), draw(st.integers(0, height - 2))
            w, h = draw(st.integers(1, width - x)), draw(st.integers(1, height - y))
            box = [x, y, w, h] if ints else [x + 0.25, y + 0.5, max(w - 0.75, 0.25), h - 0.5 or 0.5]
            media.setdefault("bounding_box", []).append(_ann(f"b{k}", draw, box))
        for k in range(draw(st.integers(0, 2)) if polygons else 0):
            x, y = draw(st.integers(0, width - 8)), draw(st.integers(0, height - 8))
            points = [[x, y], [x + draw(st.integers(3, 7)), y], [x, y + draw(st.integers(3, 7))]]
            media.setdefault("polygon", []).append(_ann(f"p{k}", draw, points))
        for k in range(draw(st.integers(0, 1)) if poses else 0):
            media.setdefault("keypoint", []).extend(_skeleton(draw, f"g{k}", width, height))
        items.append(
            {"id": n + 1, "file_name": f"img_{n}.jpg", "width": width, "height": height,
             "data": {"images": [media]}}
        )  # fmt: skip
    return items


def _ann(ann_id: str, draw: Any, data: Any) -> dict[str, Any]:
    score = draw(st.integers(1, 999)) / 1000
    label = draw(st.sampled_from(CLASSES))
    attrs = [{"name": "score", "value": score}]
    return {"id": ann_id, "classification": label, "attrs": attrs, "data": data}


def _skeleton(draw: Any, group: str, width: int, height: int) -> list[dict[str, Any]]:
    joints = draw(st.lists(st.sampled_from(PERSON_17), min_size=1, max_size=5, unique=True))
    return [
        {"id": f"{group}_{j}", "classification": joint, "attrs": [], "group_id": group,
         "data": [draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))],
         "visibility": draw(st.sampled_from([1, 2]))}
        for j, joint in enumerate(joints)
    ]  # fmt: skip


def originals(items: list[dict[str, Any]], *, scores: bool = True) -> dict[str, list]:
    out = {}
    for item in items:
        doc = item["data"]
        if not scores:
            doc = {"images": [{t: [{**a, "attrs": []} for a in anns]
                              for t, anns in doc["images"][0].items()}]}  # fmt: skip
        out[item["file_name"]] = canon(doc)
    return out


# ---------------------------------------------------------------------------- COCO


@SETTINGS
@given(image_items(poses=True))
def test_coco_instances_round_trip(items: list[dict[str, Any]]) -> None:
    coco, audit = to_coco(items, classes=CLASSES)
    assert len(audit) == 0
    with tempfile.TemporaryDirectory() as folder:
        write_coco(coco, folder)
        labels = read_predictions(folder)
    assert labels.format == "coco"
    assert canon_labels(labels) == originals(items)


@SETTINGS
@given(image_items(polygons=True))
def test_coco_results_round_trip_with_scores(items: list[dict[str, Any]]) -> None:
    coco, _ = to_coco(items, classes=CLASSES)
    instances = coco["instances"]
    results = [
        {k: v for k, v in a.items() if k not in ("attributes", "id", "area", "iscrowd")}
        | {"score": a["attributes"]["score"]}
        for a in instances["annotations"]
    ]
    gt_only = {**instances, "annotations": []}
    labels = read_predictions(results, instances=gt_only)
    assert labels.format == "coco_results"
    assert canon_labels(labels) == originals(items)


def test_coco_masks_round_trip(tmp_path: Path) -> None:
    mask = np.zeros((30, 40), dtype=bool)
    mask[3:9, 10:30] = True
    mask[20:25, 2:6] = True
    seg = {"id": "m", "classification": "car", "attrs": [], **encode_mask(mask)}
    item = {"id": 1, "file_name": "m.png", "width": 40, "height": 30,
            "data": {"images": [{"segmentation": [seg]}]}}  # fmt: skip
    coco, _ = to_coco([item], classes=CLASSES)
    write_coco(coco, tmp_path)
    labels = read_predictions(tmp_path / "instances.json")
    [back] = labels["m.png"].document().annotations()
    assert back.tool == "segmentation" and back.area(40) == mask.sum()
    assert canon(labels["m.png"].data) == canon(item["data"])


# ---------------------------------------------------------------------------- VOC


@SETTINGS
@given(image_items(polygons=False, ints=True))
def test_voc_round_trip(items: list[dict[str, Any]]) -> None:
    voc, audit = to_voc(items, classes=CLASSES)
    # what VOC cannot carry: the score attribute of every box (audited as lossy)
    lossy = {(r.annotation_id, str(r.reason_code)) for r in audit}
    boxes = [a["id"] for i in items for a in i["data"]["images"][0].get("bounding_box", [])]
    assert all((b, "CUSTOM_ATTRIBUTES_DROPPED") in lossy for b in boxes)
    with tempfile.TemporaryDirectory() as folder:
        write_voc(voc, folder, audit)
        labels = read_predictions(folder)
    assert labels.format == "voc"
    assert canon_labels(labels) == originals(items, scores=False)


# ---------------------------------------------------------------------------- YOLO


def _close(a: dict[str, list], b: dict[str, list]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert len(a[key]) == len(b[key]), key
        right = list(b[key])
        for x in a[key]:  # pair by closeness: sorting on rounded coordinates can mis-pair
            same = [k for k, y in enumerate(right) if x[:2] == y[:2] and x[3:] == y[3:]
                    and np.allclose(np.asarray(x[2], float), np.asarray(y[2], float), atol=1e-3)]
            assert same, (key, x, right)
            right.pop(same[0])


@SETTINGS
@given(image_items(polygons=True), st.booleans())
def test_yolo_round_trip_with_a_confidence_column(items: list[dict[str, Any]], conf: bool) -> None:
    """A model's YOLO output is the export plus a trailing confidence per row."""
    result, audit = to_yolo(items, classes=CLASSES, tasks=("detect", "segment"))
    assert {str(r.reason_code) for r in audit} <= {"CUSTOM_ATTRIBUTES_DROPPED"}
    sizes = {i["file_name"]: (i["width"], i["height"]) for i in items}
    expected: dict[str, list] = {i["file_name"]: [] for i in items}
    got: dict[str, list] = {i["file_name"]: [] for i in items}
    for task, tool in (("detect", "bounding_box"), ("segment", "polygon")):
        labels_in = {}
        for item in items:
            stem = Path(item["file_name"]).stem
            anns = item["data"]["images"][0].get(tool, [])
            rows = result[task]["labels"][stem].splitlines()
            if conf:  # rows follow the document's order
                rows = [f"{r} {a['attrs'][0]['value']}" for r, a in zip(rows, anns, strict=True)]
            labels_in[stem] = "".join(f"{r}\n" for r in rows)
            doc = {"images": [{tool: anns if conf else [{**a, "attrs": []} for a in anns]}]}
            expected[item["file_name"]] += canon(doc, 6)
        labels = read_predictions(labels_in, format="yolo", task=task, names=CLASSES, sizes=sizes)
        for key, image in labels.images.items():
            got[f"{key}.jpg"] += canon(image.data, 6)
    _close(got, expected)


def test_yolo_pose_round_trip(tmp_path: Path) -> None:
    joints = [
        {"id": f"k{n}", "classification": name, "attrs": [], "group_id": "g",
         "data": [10 + n, 20 + n], "visibility": 2}
        for n, name in enumerate(PERSON_17[:5])
    ]  # fmt: skip
    item = {"id": 1, "file_name": "p.jpg", "width": 64, "height": 64,
            "data": {"images": [{"keypoint": joints}]}}  # fmt: skip
    result, audit = to_yolo([item], classes=["person"], tasks=("pose",))
    write_yolo(result, tmp_path, audit)
    labels = read_predictions(tmp_path / "pose", sizes={"p.jpg": (64, 64)})
    _close({"p": canon(labels["p"].data, 6)}, {"p": canon(item["data"], 6)})


# ---------------------------------------------------------------------------- DM


@SETTINGS
@given(image_items(poses=True), st.booleans())
def test_dm_round_trip_v2_and_v1(items: list[dict[str, Any]], as_v1: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for item in items:
            doc = dm_v2_to_v1(item["data"])[0] if as_v1 else item["data"]
            path = Path(folder) / f"{Path(item['file_name']).stem}.json"
            path.write_text(json.dumps(doc))
        labels = read_predictions(folder)
    assert labels.format == "dm"
    want = {Path(k).stem: v for k, v in originals(items).items()}
    assert canon_labels(labels) == want


# ---------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("exporter", "reason"),
    [
        (lambda items: to_coco(items, classes=CLASSES), "UNSUPPORTED_ANNOTATION_TYPE"),
        (lambda items: to_yolo(items, classes=CLASSES), "UNSUPPORTED_ANNOTATION_TYPE"),
    ],
)
def test_what_a_format_cannot_carry_is_in_the_export_audit_not_in_the_import(
    exporter: Any, reason: str
) -> None:
    line = {"id": "l1", "classification": "lane", "attrs": [], "data": [[0, 0], [5, 5]]}
    item = {"id": 1, "file_name": "a.jpg", "width": 10, "height": 10,
            "data": {"images": [{"polyline": [line]}]}}  # fmt: skip
    _, audit = exporter([item])
    assert [(r.annotation_id, str(r.reason_code)) for r in audit] == [("l1", reason)]
