"""The demo's model predictions (issue 12, "Demo data that makes it worth showing").

The demo backend is started once; its ground truth ("Street GT" v1) and the predictions datasets
of three models are read over HTTP and evaluated with :mod:`synapse_nb.evaluation`. The tests
check that the predictions are deterministic, that they carry the errors real detectors make
(confusions between similar classes, poorly localised boxes, duplicates, misses of small
objects), that the models differ, and that the numbers on this data equal pycocotools' for
boxes, polygons (segm) and keypoints (OKS).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import requests
from demo_backends import backend_fixture
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from synapse_nb.annotations.geometry import box_iou, polygon_area
from synapse_nb.evaluation import EvaluationResult, coco_from_per_image, evaluate
from synapse_nb.server import ServerHandle, start
from synapse_nb.server.demo.media import KEYPOINT_NAMES, generate_item
from synapse_nb.server.demo.predictions import (
    CONFUSIONS,
    MODEL_PROFILES,
    ErrorProfile,
    model_predictions,
    profile_for,
)
from synapse_nb.server.demo.seed import PREDICTED_MODELS, prediction_seed

MODELS = [f"{name} {version}" for name, version in PREDICTED_MODELS]
# COCO person sigmas of the nine demo joints (nose, shoulders, wrists, hips, ankles)
SIGMAS = {"nose": 0.026, "shoulder": 0.079, "wrist": 0.062, "hip": 0.107, "ankle": 0.089}
KP_SIGMAS = [SIGMAS[name.split("_")[-1]] for name in KEYPOINT_NAMES]
# (true class, predicted class) pairs of similar-looking classes that models mix up
PLANNED_PAIRS = [("car", "bus"), ("bus", "car"), ("person", "bicycle"), ("bicycle", "person"),
                 ("person", "dog"), ("dog", "person"), ("traffic_light", "stop_sign"),
                 ("stop_sign", "traffic_light")]


@dataclass
class Event:
    unit: int
    file_name: str
    size: tuple[int, int]  # (height, width)
    item: dict  # images[0] of the DM document


demo = backend_fixture()


def read_datasets(server: ServerHandle) -> dict[str, list[Event]]:
    """``{"ground truth" | "<model> <version>": events}`` of a demo backend, read over HTTP."""
    with requests.Session() as session:
        session.headers["Synapse-Access-Token"] = f"Token {server.token}"

        def get(path: str, **params: Any) -> list[dict]:
            response = session.get(server.url + path, params={"page_size": 1000, **params},
                                   timeout=30)
            assert response.status_code == 200, response.text
            assert response.json()["next"] is None
            return response.json()["results"]

        names = {d["id"]: d["name"] for d in get("ground_truth_datasets/")}
        versions = {(names[v["ground_truth_dataset"]], v["version"]): v["id"]
                    for v in get("ground_truth_dataset_versions/")}
        wanted = {"ground truth": ("Street GT", "v1"),
                  **{m: (f"{m} predictions", "v1") for m in MODELS}}
        return {key: [Event(e["data_unit"], e["meta"]["file_name"],
                            (e["meta"]["height"], e["meta"]["width"]), e["data"]["images"][0])
                      for e in get("sdk/ground_truth_events/",
                                   ground_truth_dataset_versions=versions[name])]
                for key, name in wanted.items()}


@pytest.fixture(scope="module")
def datasets(demo) -> dict[str, list[Event]]:
    return read_datasets(demo)


def _score(ann: dict) -> float:
    return next(a["value"] for a in ann["attrs"] if a["name"] == "score")


def _per_image(events: list[Event], convert: Any) -> dict[int, list[dict]]:
    return {e.unit: [row for row in convert(e) if row is not None] for e in events}


def _boxes(event: Event) -> list[dict]:
    rows = []
    for box in event.item.get("bounding_box", []):
        row = {"label": box["classification"], "bbox": box["data"]}
        if any(a["name"] == "score" for a in box["attrs"]):
            row["score"] = _score(box)
        else:  # an extra field of the ground truth (both evaluators ignore it)
            row["occluded"] = any(a["name"] == "occluded" and a["value"] for a in box["attrs"])
        rows.append(row)
    return rows


def _polygons(event: Event) -> list[dict]:
    rows = []
    for poly in event.item.get("polygon", []):
        flat = [float(v) for point in poly["data"] for v in point]
        xs, ys = flat[0::2], flat[1::2]
        row = {"label": poly["classification"],
               "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]}
        if any(a["name"] == "score" for a in poly["attrs"]):
            rle = mask_utils.merge(mask_utils.frPyObjects([flat], *event.size))
            row |= {"segmentation": rle, "score": _score(poly)}
            del row["bbox"]  # a result is judged by its mask
        else:
            row |= {"segmentation": [flat], "area": polygon_area(poly["data"])}
        rows.append(row)
    return rows


def _person_box(event: Event, points: list[tuple[float, float]]) -> list[float]:
    """The person box holding most of ``points`` (ground truth skeletons name no box)."""
    persons = [b["data"] for b in event.item["bounding_box"] if b["classification"] == "person"]

    def inside(box: list[float]) -> int:
        x, y, w, h = box
        return sum(x - 1 <= px <= x + w + 1 and y - 1 <= py <= y + h + 1 for px, py in points)

    return max(persons, key=inside)


def _skeletons(event: Event) -> list[dict]:
    joints = {k["id"]: k for k in event.item.get("keypoint", [])}
    rows = []
    for group in event.item.get("group", []):
        members = {joints[m]["classification"]: joints[m] for m in group["data"]}
        flat = [v for name in KEYPOINT_NAMES
                for v in (*members[name]["data"], members[name]["visibility"])]
        row: dict[str, Any] = {"label": group["classification"], "keypoints": flat}
        if any(a["name"] == "score" for a in group["attrs"]):
            row["score"] = _score(group)
        else:
            seen = [(flat[3 * i], flat[3 * i + 1]) for i in range(len(KEYPOINT_NAMES))
                    if flat[3 * i + 2] > 0]
            box = _person_box(event, seen) if seen else [flat[0], flat[1], 1.0, 1.0]
            row |= {"bbox": box, "area": box[2] * box[3], "num_keypoints": len(seen)}
        rows.append(row)
    return rows


CONVERTERS = {"bbox": _boxes, "segm": _polygons, "keypoints": _skeletons}


def coco_sets(datasets: dict[str, list[Event]], model: str,
              iou_type: str) -> tuple[dict, list[dict]]:
    convert = CONVERTERS[iou_type]
    truth = datasets["ground truth"]
    sizes = {e.unit: e.size for e in truth}
    return coco_from_per_image(_per_image(truth, convert), _per_image(datasets[model], convert),
                               image_sizes=sizes)


def _sigmas(dataset: dict, iou_type: str) -> dict[int, list[float]] | None:
    if iou_type != "keypoints":
        return None
    return {c["id"]: KP_SIGMAS for c in dataset["categories"]}


@pytest.fixture(scope="module")
def results(datasets) -> dict[tuple[str, str], tuple[dict, list[dict], EvaluationResult]]:
    out = {}
    for model in MODELS:
        for iou_type in CONVERTERS:
            dataset, preds = coco_sets(datasets, model, iou_type)
            out[(model, iou_type)] = (dataset, preds, evaluate(
                dataset, preds, iou_type, sigmas=_sigmas(dataset, iou_type)))
    return out


def pycocotools_eval(dataset: dict, preds: list[dict], iou_type: str) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = copy.deepcopy(dataset)
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(copy.deepcopy(preds)), iou_type)
        if iou_type == "keypoints":
            ev.params.kpt_oks_sigmas = np.array(KP_SIGMAS)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


# ---------------------------------------------------------------------------- determinism


def test_the_seeded_predictions_are_the_function_of_the_seed(datasets) -> None:
    """Each model's stored document equals a fresh computation from the image's ground truth,
    and another seed gives other predictions."""
    for k, model in enumerate(MODELS):
        profile = profile_for(PREDICTED_MODELS[k][0])
        for position, event in enumerate(datasets[model][:6]):
            item, _ = generate_item(int(event.file_name[6:10]))
            again = model_predictions(item.annotations, prediction_seed(0, k, position), profile)
            assert again["images"][0] == event.item
            other = model_predictions(item.annotations, prediction_seed(1, k, position), profile)
            assert other != again


def test_a_second_demo_workspace_holds_identical_predictions(datasets, tmp_path) -> None:
    srv = start(demo=True, data_dir=tmp_path / "second")
    try:
        again = read_datasets(srv)
    finally:
        srv.stop()
    assert len(datasets["ground truth"]) == 180
    for key, events in datasets.items():
        assert [(e.unit, e.item) for e in again[key]] == [(e.unit, e.item) for e in events], key


# ---------------------------------------------------------------------------- error profile


def test_profiles_exist_for_every_predicted_model_and_bad_input_is_named() -> None:
    assert {name for name, _ in PREDICTED_MODELS} <= set(MODEL_PROFILES)
    assert {(t, p) for t, (_, targets) in CONFUSIONS.items() for p in targets} == set(
        PLANNED_PAIRS)
    assert all(isinstance(p, ErrorProfile) for p in MODEL_PROFILES.values())
    with pytest.raises(ValueError, match="model name = 'resnet' has no error profile"):
        profile_for("resnet")
    item, _ = generate_item(0)
    with pytest.raises(TypeError, match="profile must be an ErrorProfile, got 'fast'"):
        model_predictions(item.annotations, 0, "fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        model_predictions(item.annotations, -1, MODEL_PROFILES["yolo-v8n"])
    with pytest.raises(ValueError, match=r"doc\['images'\]"):
        model_predictions({"images": []}, 0, MODEL_PROFILES["yolo-v8n"])
    broken = copy.deepcopy(item.annotations)
    broken["images"][0]["polygon"] = [{"id": "p", "classification": "car", "data": [[1, "x"]]}]
    message = "['polygon'][0]['data'] must be [[x, y], ...], got [[1, 'x']]"
    with pytest.raises(ValueError, match=re.escape(message)):
        model_predictions(broken, 0, MODEL_PROFILES["yolo-v8n"])
    good = MODEL_PROFILES["yolo-v8n"]
    message = "ErrorProfile.miss (small) must be in [0, 1], got 1.5"
    with pytest.raises(ValueError, match=re.escape(message)):
        dataclasses.replace(good, miss=(1.5, 0.1, 0.1))
    message = "ErrorProfile.background must be finite and >= 0, got -1"
    with pytest.raises(ValueError, match=re.escape(message)):
        dataclasses.replace(good, background=-1)


def test_predictions_stay_in_the_documents_extent() -> None:
    empty = {"images": [{"bounding_box": [], "polygon": []}]}
    assert model_predictions(empty, 0, MODEL_PROFILES["rtmdet-s"])["images"][0] == {
        "bounding_box": []}  # no geometry: no extent to place a box in
    lone = {"images": [{"bounding_box": [{"id": "b", "classification": "car", "attrs": [],
                                          "data": [0, 0, 400, 300]}]}]}
    boxes = [model_predictions(lone, s, MODEL_PROFILES["rtmdet-s"])["images"][0]["bounding_box"]
             for s in range(40)]
    for b in (b for bs in boxes for b in bs):
        x, y, w, h = b["data"]
        assert x >= 0 and y >= 0 and x + w <= 400 and y + h <= 300, b
    assert any(len(bs) > 1 for bs in boxes) and any(len(bs) == 1 for bs in boxes)


@pytest.mark.parametrize("model", MODELS)
def test_similar_classes_are_confused(results, model) -> None:
    matrix = results[(model, "bbox")][2].confusion_matrix(iou=0.5)
    for true, predicted in PLANNED_PAIRS:
        assert matrix.loc[true, predicted] > 0, (true, predicted)
    # unplanned pairs stay rare: confusions follow the table, not chance
    classes = [c for c in matrix.index if c != "background"]
    off = matrix.loc[classes, classes].to_numpy() * (1 - np.eye(len(classes), dtype=int))
    planned = sum(matrix.loc[t, p] for t, p in PLANNED_PAIRS)
    assert planned >= 0.6 * off.sum()


def _false_positive_ious(dataset: dict, preds: list[dict], result: EvaluationResult
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per false positive at IoU 0.5: its best IoU with a same-class ground truth, and whether
    that ground truth is matched by another prediction."""
    frame = result.per_annotation(iou=0.5)
    fps = frame[(frame.source == "pred") & (frame.status == "FP")]
    matched = set(frame[(frame.source == "gt") & (frame.status == "TP")].annotation_id)
    gts: dict[tuple[int, int], list[dict]] = {}
    for ann in dataset["annotations"]:
        gts.setdefault((ann["image_id"], ann["category_id"]), []).append(ann)
    best, taken = [], []
    for pid in fps.annotation_id:
        pred = preds[int(pid) - 1]
        same = gts.get((pred["image_id"], pred["category_id"]), [])
        if not same:
            best.append(0.0)
            taken.append(False)
            continue
        ious = box_iou(np.array([pred["bbox"]]), np.array([g["bbox"] for g in same]))[0]
        best.append(float(ious.max()))
        taken.append(same[int(ious.argmax())]["id"] in matched)
    return np.array(best), np.array(taken, bool)


@pytest.mark.parametrize("model", MODELS)
def test_poorly_localised_boxes_and_duplicates(results, model) -> None:
    dataset, preds, result = results[(model, "bbox")]
    best, taken = _false_positive_ious(dataset, preds, result)
    assert ((best >= 0.3) & (best < 0.5)).sum() >= 3  # right class, box a bit off
    assert ((best >= 0.5) & taken).sum() >= 2  # a second box on an object already found
    assert (best < 0.3).sum() >= 5  # and background


def _recall(result: EvaluationResult, low: float, high: float) -> float:
    """The share of ground truths with an area in [low, high) found at IoU 0.5."""
    frame = result.per_annotation(iou=0.5)
    truth = frame[(frame.source == "gt") & (frame.area >= low) & (frame.area < high)]
    return float((truth.status == "TP").mean())


@pytest.mark.parametrize("model", MODELS)
def test_small_and_occluded_objects_are_missed_more(results, model) -> None:
    dataset, _, result = results[(model, "bbox")]
    recall = [_recall(result, lo, hi) for lo, hi in ((0, 32**2), (32**2, 96**2), (96**2, np.inf))]
    assert recall[0] < recall[1] < recall[2], recall
    frame = result.per_annotation(iou=0.5)
    truth = frame[frame.source == "gt"]
    occluded = truth.annotation_id.map({a["id"]: a["occluded"] for a in dataset["annotations"]})
    assert occluded.sum() >= 100
    hidden, seen = ((truth[mask].status == "TP").mean() for mask in (occluded, ~occluded))
    assert hidden < seen - 0.05, (hidden, seen)


@pytest.mark.parametrize("model", MODELS)
def test_scores_separate_hits_from_false_positives_only_partly(results, model) -> None:
    frame = results[(model, "bbox")][2].per_annotation(iou=0.5)
    scored = frame[frame.source == "pred"]
    tp = scored[scored.status == "TP"].score.to_numpy()
    fp = scored[scored.status == "FP"].score.to_numpy()
    # the chance that a hit outscores a false positive (ROC AUC): well above 1/2, below 1
    auc = (tp[:, None] > fp[None, :]).mean() + 0.5 * (tp[:, None] == fp[None, :]).mean()
    assert 0.7 < auc < 0.95, auc
    assert (fp > np.median(tp)).sum() >= 3 and (tp < np.median(fp)).sum() >= 3


def test_models_differ_where_their_profiles_say(results) -> None:
    yolo, detr, rtmdet = ({k: results[(m, "bbox")][2].summary.loc[k, "value"]
                           for k in ("AP", "APl")} for m in MODELS)
    aps = sorted(s["AP"] for s in (yolo, detr, rtmdet))
    assert aps[1] - aps[0] > 0.02 and aps[2] - aps[1] > 0.02
    small = [_recall(results[(m, "bbox")][2], 0, 32**2) for m in MODELS]
    assert small[2] > max(small[:2]) + 0.1  # rtmdet finds the most small objects
    assert detr["APl"] > max(yolo["APl"], rtmdet["APl"]) + 0.05  # best on large ones

    def confusions(model: str) -> int:
        matrix = results[(model, "bbox")][2].confusion_matrix(iou=0.5)
        classes = [c for c in matrix.index if c != "background"]
        block = matrix.loc[classes, classes].to_numpy()
        return int(block.sum() - np.trace(block))

    assert confusions(MODELS[2]) > max(confusions(MODELS[0]), confusions(MODELS[1]))


@pytest.mark.parametrize("model", MODELS)
def test_polygons_and_skeletons_follow_their_objects_box(datasets, results, model) -> None:
    """A polygon or skeleton is predicted with the class and score of a predicted box (the
    object's), a skeleton for a person with all nine joints; and both evaluate sensibly."""
    for event in datasets[model]:
        boxes = {(b["classification"], _score(b)) for b in event.item["bounding_box"]}
        for poly in event.item.get("polygon", []):
            assert (poly["classification"], _score(poly)) in boxes
        for group in event.item.get("group", []):
            assert ("person", _score(group)) in boxes and group["classification"] == "person"
            assert len(group["data"]) == len(KEYPOINT_NAMES)
    for iou_type in ("segm", "keypoints"):
        dataset, preds, result = results[(model, iou_type)]
        assert len(dataset["annotations"]) >= 30 and len(preds) >= 20, iou_type
        summary = result.summary["value"]
        assert 0.15 < summary["AP"] < 0.9, (iou_type, summary["AP"])
        assert summary["AP50"] > summary["AP75"]  # outlines and joints are placed with noise


# ---------------------------------------------------------------------------- pycocotools


@pytest.mark.parametrize("iou_type", ["bbox", "segm", "keypoints"])
@pytest.mark.parametrize("model", MODELS)
def test_numbers_equal_pycocotools_on_the_demo_data(results, model, iou_type) -> None:
    dataset, preds, ours = results[(model, iou_type)]
    ref = pycocotools_eval(dataset, preds, iou_type)
    tables = ours.run.tables
    assert tables.precision.shape == ref.eval["precision"].shape
    assert np.abs(tables.precision - ref.eval["precision"]).max() <= 1e-9
    assert np.abs(tables.recall - ref.eval["recall"]).max() <= 1e-9
    assert np.abs(ours.stats - np.asarray(ref.stats)).max() <= 1e-9
    assert ours.stats[0] > 0.1  # a real evaluation, not two empty ones
