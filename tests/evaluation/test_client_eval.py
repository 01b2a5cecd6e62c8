"""Evaluation reachable from the notebook client, against the embedded demo backend.

Every number is checked against ``pycocotools.COCOeval`` run in the test on COCO inputs
written straight from the DM data fetched from the server (``_dm_reference``), never against
numbers written down.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _dm_reference import box_inputs, categories, keypoint_inputs, segm_inputs
from _eval_reference import assert_equal_to_reference, reference
from pycocotools.cocoeval import Params

from synapse_nb.evaluation import Comparison, EvaluationResult
from synapse_nb.exceptions import InvalidInputError, SynapseNBError
from synapse_nb.frames import Client

GT_VERSION = 2  # "Street GT" v2, the reviewed ground truth of the demo
#: COCO's 17 person keypoints in COCO's order (the order of pycocotools' default sigmas)
COCO_JOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
               "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def _docs(client: Client, version: int) -> tuple[pd.DataFrame, dict[int, dict]]:
    events = client.list_ground_truth_events(
        {"ground_truth_dataset_versions": [version]}, list_all=True, include_data=True)
    return events, dict(zip(events.data_unit_id.astype(int), events.data, strict=True))


def _predictions_version(client: Client, name: str) -> int:
    datasets = client.list_ground_truth_datasets()["results"]
    ds = next(d["id"] for d in datasets if d["name"] == name)
    versions = client.list_ground_truth_versions({"ground_truth_dataset": ds})["results"]
    return max(v["id"] for v in versions)


def _classes(client: Client) -> list[str]:
    return list(client.get_project(1)["configuration"]["classes"])


def test_boxes_of_a_model_row_equal_pycocotools(client: Client) -> None:
    models = client.list_models({"project": 1}, list_all=True)
    row = models[(models.name == "yolo-v8n") & (models.version == "2.0.0")].iloc[0]
    ours = client.evaluate(ground_truth=GT_VERSION, predictions=row)

    _, gt = _docs(client, GT_VERSION)
    _, preds = _docs(client, _predictions_version(client, "yolo-v8n 2.0.0 predictions"))
    cats = categories(_classes(client), [*gt.values(), *preds.values()], ("bounding_box",))
    dataset, results = box_inputs(gt, preds, cats)
    assert len(results) > 100 and len(dataset["annotations"]) > 100
    assert_equal_to_reference(ours, reference(dataset, results, "bbox"))
    assert ours.per_class.index.tolist() == list(cats)


def _jittered(ann: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A predictions frame from annotation rows: moved geometry, scores, a few dropped and a
    few relabelled, so the evaluation has misses, confusions and imperfect overlaps."""
    rows = ann[rng.random(len(ann)) > 0.15].copy()
    rows["score"] = rng.uniform(0.05, 1.0, len(rows)).round(3)
    classes = sorted(rows.class_name.dropna().unique())
    relabel = rng.random(len(rows)) < 0.1
    rows.loc[relabel, "class_name"] = rng.choice(classes, int(relabel.sum()))
    moved = []
    for tool, geometry in zip(rows.tool, rows.geometry, strict=True):
        if tool == "polygon":
            shift = rng.normal(0, 4, 2)
            geometry = [[round(x + shift[0], 1), round(y + shift[1], 1)] for x, y in geometry]
        moved.append(geometry)
    rows["geometry"] = moved
    return rows


def test_polygons_and_masks_from_a_predictions_frame_equal_pycocotools(client: Client) -> None:
    events, gt = _docs(client, GT_VERSION)
    ann = events.synapse.annotations()
    ann = ann[ann.tool.isin(["polygon", "segmentation"])]
    preds = _jittered(ann, np.random.default_rng(8))
    units = events.set_index(events.index)["data_unit_id"]
    preds.insert(0, "data_unit_id", preds.event_id.map(units).astype(int))
    ours = client.evaluate(ground_truth=events, predictions=preds, iou_type="segm")

    original = {(u, a["id"]): a for u, d in gt.items()
                for a in d["images"][0].get("segmentation", [])}
    docs = {u: {"images": [{}]} for u in gt}
    for row in preds.itertuples():
        encoding = {k: v for k, v in original.get((row.data_unit_id, row.annotation_id), {}
                                                  ).items() if k not in ("data", "attrs")}
        docs[row.data_unit_id]["images"][0].setdefault(row.tool, []).append(
            {**encoding, "classification": row.class_name, "data": row.geometry,
             "attrs": [{"name": "score", "value": row.score}]})
    sizes = {int(u): (int(w), int(h)) for u, w, h in zip(
        events.data_unit_id, events.width, events.height, strict=True)}
    cats = categories(_classes(client), gt.values(), ("polygon", "segmentation"))
    dataset, results = segm_inputs(gt, {u: d for u, d in docs.items()}, sizes, cats)
    assert sum(a["segmentation"] is not None for a in dataset["annotations"]) > 100
    ev = reference(dataset, results, "segm")
    assert_equal_to_reference(ours, ev)
    assert 0.1 < ours.summary.loc["AP", "value"] < 0.95  # a real test, not all-or-nothing


def _pose_predictions(events: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    ann = events.synapse.annotations()
    ann = ann[ann.tool.isin(["keypoint", "group"])].copy()
    ann.insert(0, "data_unit_id", ann.event_id.map(events["data_unit_id"]).astype(int))
    keypoint = ann.tool == "keypoint"
    noise = rng.normal(0, 3, (int(keypoint.sum()), 2))
    ann.loc[keypoint, "geometry"] = pd.Series(
        [[round(g[0] + dx, 1), round(g[1] + dy, 1)]
         for g, (dx, dy) in zip(ann.loc[keypoint, "geometry"], noise, strict=True)],
        index=ann.index[keypoint], dtype=object)
    score_of = {g: round(float(s), 3) for g, s in zip(
        ann.group_id.dropna().unique(), rng.uniform(0.1, 1, ann.group_id.nunique()),
        strict=True)}
    ann["score"] = ann.group_id.map(score_of).astype(float)
    ann.loc[ann.tool == "group", "score"] = np.nan
    ann.loc[ann.tool == "group", "group_id"] = None
    return ann


def test_keypoints_with_default_sigmas_equal_pycocotools(client: Client) -> None:
    events, gt = _docs(client, GT_VERSION)
    preds = _pose_predictions(events, np.random.default_rng(3))
    ours = client.evaluate(ground_truth=GT_VERSION, predictions=preds, iou_type="keypoints")

    joints = list(client.get_project(1)["configuration"]["keypoints"])
    docs: dict[int, dict] = {u: {"images": [{}]} for u in gt}
    for row in preds.itertuples():
        image = docs[row.data_unit_id]["images"][0]
        if row.tool == "group":
            image.setdefault("group", []).append(
                {"id": row.annotation_id, "classification": row.class_name})
        else:
            image.setdefault("keypoint", []).append(
                {"classification": row.class_name, "data": row.geometry,
                 "visibility": row.visibility, "group_id": row.group_id,
                 "attrs": [{"name": "score", "value": row.score}]})
    cats = categories(_classes(client), gt.values(), ("keypoint",))
    dataset, results = keypoint_inputs(gt, docs, joints, cats)
    coco = dict(zip(COCO_JOINTS, Params(iouType="keypoints").kpt_oks_sigmas, strict=True))
    sigmas = np.array([coco[j] for j in joints])
    ev = reference(dataset, results, "keypoints", sigmas=sigmas)
    assert_equal_to_reference(ours, ev)
    assert ours.summary.loc["AP", "value"] > 0.1


def test_coco_results_file_and_list_give_the_model_rows_numbers(
        client: Client, tmp_path: Path) -> None:
    by_model = client.evaluate(GT_VERSION, {"model": 3})
    _, preds = _docs(client, _predictions_version(client, "yolo-v8n 2.0.0 predictions"))
    names = sorted({a["classification"] for d in preds.values()
                    for a in d["images"][0].get("bounding_box", [])})
    cat_ids = {n: 10 + i for i, n in enumerate(names)}  # the file's own numbering
    coco = {"categories": [{"id": i, "name": n} for n, i in cat_ids.items()],
            "annotations": [{"image_id": u, "category_id": cat_ids[a["classification"]],
                             "bbox": a["data"], "score": a["attrs"][0]["value"]}
                            for u, d in preds.items()
                            for a in d["images"][0].get("bounding_box", [])]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(coco))
    from_file = client.evaluate(GT_VERSION, str(path))
    as_list = client.evaluate(GT_VERSION, [
        {**{k: v for k, v in r.items() if k != "category_id"},
         "category_name": names[r["category_id"] - 10]} for r in coco["annotations"]])
    for res in (from_file, as_list):
        assert np.array_equal(res.stats, by_model.stats)
        assert np.array_equal(res.run.tables.precision, by_model.run.tables.precision)


def test_per_annotation_and_per_image_join_back_by_id(client: Client) -> None:
    events, _ = _docs(client, GT_VERSION)
    pred_version = _predictions_version(client, "yolo-v8n 2.0.0 predictions")
    res = events.synapse.evaluate(pred_version)
    rows = res.per_annotation()

    gt_ann = events.synapse.annotations()
    gt_boxes = gt_ann[gt_ann.tool == "bounding_box"]
    joined = rows[rows.source == "gt"].merge(
        gt_boxes, left_on=["item_id", "dm_annotation_id"],
        right_on=["event_id", "annotation_id"], how="left", validate="one_to_one")
    assert len(joined) == len(gt_boxes)
    assert (joined.class_name == joined.category).all()
    assert (joined.data_unit_id == joined.event_id.map(events.data_unit_id)).all()

    pred_events = client.list_ground_truth_events(
        {"ground_truth_dataset_versions": [pred_version]}, list_all=True)
    pred_ann = pred_events.synapse.annotations()
    pred_boxes = pred_ann[pred_ann.tool == "bounding_box"]
    got = rows[rows.source == "pred"].merge(
        pred_boxes, left_on=["item_id", "dm_annotation_id"],
        right_on=["event_id", "annotation_id"], how="left", validate="one_to_one")
    assert got.annotation_id_y.notna().all()
    assert np.allclose(got.score.to_numpy(float),
                       [a["score"] for a in got.attributes])

    per_image = res.per_image()
    counts = gt_boxes.groupby(gt_boxes.event_id.map(events.data_unit_id)).size()
    assert set(per_image.data_unit_id) == set(events.data_unit_id)
    mine = per_image.set_index("data_unit_id").n_gt
    assert (mine.reindex(counts.index) == counts).all()
    assert mine.drop(counts.index).eq(0).all()

    labelled = res.label_annotations(gt_ann)
    statuses = labelled.loc[labelled.tool == "bounding_box", "eval_status"].value_counts()
    assert statuses.to_dict() == rows[rows.source == "gt"].status.value_counts().to_dict()
    assert labelled.loc[labelled.tool != "bounding_box", "eval_status"].isna().all()
    predicted = res.label_annotations(pred_ann, source="pred")
    boxes = predicted[predicted.tool == "bounding_box"]
    assert boxes.eval_status.value_counts().to_dict() == rows[
        rows.source == "pred"].status.value_counts().to_dict()
    assert np.allclose(boxes.eval_score.astype(float), [a["score"] for a in boxes.attributes])
    assert predicted.loc[predicted.tool != "bounding_box", "eval_status"].isna().all()


def test_worst_images_select_tasks_of_the_same_data_units(client: Client) -> None:
    res = client.evaluate(GT_VERSION, {"model": 3})
    worst = res.per_image().head(5)
    tasks = client.list_tasks({"project": 1}, list_all=True)
    chosen = tasks[tasks.data_unit_id.isin(worst.data_unit_id)]
    assert set(chosen.data_unit_id) == set(worst.data_unit_id)
    assert worst.errors.is_monotonic_decreasing


def test_compare_models_finds_every_predictions_dataset_by_name(client: Client) -> None:
    models = client.list_models({"project": 1}, list_all=True)
    names = {d["name"] for d in client.list_ground_truth_datasets()["results"]}
    expected = {f"{n} {v}" for n, v in zip(models.name, models.version, strict=True)
                if f"{n} {v} predictions" in names}
    cmp = client.compare_models(GT_VERSION)
    assert isinstance(cmp, Comparison) and set(cmp.results) == expected and expected
    for key, pk in cmp.model_ids.items():
        alone = client.evaluate(GT_VERSION, {"model": pk})
        assert np.array_equal(alone.stats, cmp.results[key].stats)

    with_cols = models.synapse.with_metrics(GT_VERSION)
    for key, pk in cmp.model_ids.items():
        assert with_cols.loc[pk, "eval_AP"] == cmp.summary.loc[key, "AP"]
    others = [pk for pk in models.index if pk not in cmp.model_ids.values()]
    assert with_cols.loc[others, "eval_AP"].isna().all()
    from_rows = models.loc[list(cmp.model_ids.values())].synapse.evaluate(ground_truth=GT_VERSION)
    assert from_rows.summary.equals(cmp.summary)


def _writes(srv: Any) -> list[dict]:
    return [r for r in list(srv.requests) if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]


def test_push_metrics_writes_only_when_confirmed(rw: Any, rw_client: Client) -> None:
    res = rw_client.evaluate(GT_VERSION, {"model": 3})
    before = rw_client.get_model(3, url_conversion=False)["metrics"]
    start = len(_writes(rw))

    plan = rw_client.push_metrics(3, res)
    assert not plan.written and len(_writes(rw)) == start
    diff = plan.diff.set_index("metric")
    assert diff.loc["mAP", "old"] == before["mAP"]
    assert diff.loc["mAP", "new"] == round(res.summary.loc["AP", "value"], 4)
    assert rw_client.push_metrics(3, res, dry_run=False, confirm=lambda d: False).written is False
    with pytest.raises(SynapseNBError, match=r"confirm=None"):
        rw_client.push_metrics(3, res, dry_run=False)
    assert len(_writes(rw)) == start
    assert rw_client.get_model(3, url_conversion=False)["metrics"] == before

    seen: list[pd.DataFrame] = []
    done = rw_client.push_metrics(3, res, dry_run=False,
                                  confirm=lambda d: seen.append(d) or True)
    assert done.written and len(seen) == 1 and seen[0].equals(plan.diff)
    patches = [r for r in _writes(rw)[start:] if r["method"] == "PATCH"]
    assert [r["path"] for r in patches] == ["/models/3/"]
    after = rw_client.get_model(3, url_conversion=False)["metrics"]
    assert after["mAP"] == round(res.summary.loc["AP", "value"], 4)
    assert after["latency_ms"] == before["latency_ms"]  # what evaluation does not compute stays
    assert rw_client.push_metrics(3, res).diff.empty  # nothing left to change


@pytest.mark.parametrize(("kwargs", "field", "value"), [
    ({"ground_truth": "v2", "predictions": 3}, "ground_truth", "'v2'"),
    ({"ground_truth": 2, "predictions": 3.5}, "predictions", "3.5"),
    ({"ground_truth": 2, "predictions": 3, "iou_type": "mask"}, "iou_type", "'mask'"),
    ({"ground_truth": 2, "predictions": [{"image_id": 99999, "category_name": "car",
                                          "bbox": [0, 0, 1, 1], "score": 1}]},
     "predictions[0].image_id", "99999"),
    ({"ground_truth": 2, "predictions": [{"image_id": 1, "category_id": 77,
                                          "bbox": [0, 0, 1, 1], "score": 1}]},
     "predictions[0].category_id", "77"),
    ({"ground_truth": 2, "predictions": "no/such/results.json"}, "predictions",
     "'no/such/results.json'"),
    ({"ground_truth": 2, "predictions": {"model": 1}}, "model", "1"),
])
def test_bad_inputs_name_the_field_and_value_and_write_nothing(
        client: Client, demo: Any, kwargs: dict, field: str, value: str) -> None:
    start = len(_writes(demo))
    with pytest.raises(SynapseNBError) as info:
        client.evaluate(**kwargs)
    assert field in str(info.value) and value in str(info.value)
    assert len(_writes(demo)) == start


def test_bad_push_metrics_arguments_are_refused_before_any_request(client: Client,
                                                                   demo: Any) -> None:
    res = client.evaluate(GT_VERSION, {"model": 3})
    start = len(list(demo.requests))
    for kwargs, text in (({"result": "AP=0.5"}, "result='str'"),
                         ({"dry_run": "no"}, "dry_run='no'"),
                         ({"confirm": "yes"}, "confirm='yes'")):
        args = {"result": res, **kwargs}
        with pytest.raises(SynapseNBError, match=text.replace("(", r"\(")):
            client.push_metrics(3, args.pop("result"), **args)
    assert len(list(demo.requests)) == start


def test_predictions_frame_without_geometry_is_refused(client: Client) -> None:
    frame = pd.DataFrame({"data_unit_id": [1], "class_name": ["car"], "score": [0.5]})
    with pytest.raises(SynapseNBError, match="needs x, y, w, h columns or tool and geometry"):
        client.evaluate(GT_VERSION, frame)
    frame = pd.DataFrame({"data_unit_id": [1], "class_name": ["car"], "score": ["high"],
                          "x": [0.0], "y": [0.0], "w": [1.0], "h": [1.0]})
    with pytest.raises(SynapseNBError, match=r"predictions\[0\].score='high'"):
        client.evaluate(GT_VERSION, frame)


def test_long_fetches_report_progress(client: Client) -> None:
    seen: list[tuple[int, int | None]] = []
    client.evaluate(GT_VERSION, 3, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] == 180


def test_annotator_quality_counts_equal_pycocotools_matches(client: Client) -> None:
    work = client.list_assignments({"project": 1}, list_all=True, include_data=True)
    quality = work.synapse.annotator_quality(gt=GT_VERSION)
    _, gt = _docs(client, GT_VERSION)
    done = work[(work.status_label == "completed") & work.data_unit_id.isin(list(gt))]
    assert set(quality.summary.index) == set(done.assignee_name)
    cats = categories(_classes(client), gt.values(), ("bounding_box",))
    for name, group in done.groupby("assignee_name"):
        preds: dict[int, dict] = {}
        for unit, doc in zip(group.data_unit_id.astype(int), group.data, strict=True):
            image = preds.setdefault(unit, {"images": [{"bounding_box": []}]})["images"][0]
            image["bounding_box"] += doc.get("images", [{}])[0].get("bounding_box", [])
        dataset, results = box_inputs({u: gt[u] for u in preds}, preds, cats)
        ev = reference(dataset, results, "bbox")
        tp = misses = extras = 0
        for e in ev.evalImgs:
            if e is None or e["aRng"] != [0, 1e10]:
                continue
            gt_ok = ~np.asarray(e["gtIgnore"], bool)
            tp += int(((e["gtMatches"][0] > 0) & gt_ok).sum())
            misses += int(((e["gtMatches"][0] == 0) & gt_ok).sum())
            extras += int(((e["dtMatches"][0] == 0) & ~e["dtIgnore"][0]).sum())
        row = quality.summary.loc[name]
        assert (row.tp, row.misses, row.extras) == (tp, misses, extras)
        assert row.agreement == pytest.approx(tp / (tp + misses + extras))
        reviews = group.status_review.astype(str).value_counts()
        for outcome, n in reviews.items():
            assert row[f"review_{outcome}"] == n
        assert isinstance(quality.results[name], EvaluationResult)
    per_class = quality.per_class.groupby(level=0)[["tp", "misses", "extras"]].sum()
    assert per_class.equals(quality.summary[["tp", "misses", "extras"]])


def test_a_subset_of_the_ground_truth_leaves_the_other_predictions_out(client: Client) -> None:
    events, gt = _docs(client, GT_VERSION)
    subset = events.head(40)
    res = subset.synapse.evaluate({"model": 3})
    assert res.notes == ["140 predictions on data units outside the ground truth left out"]
    _, preds = _docs(client, _predictions_version(client, "yolo-v8n 2.0.0 predictions"))
    units = set(subset.data_unit_id.astype(int))
    mine = {u: gt[u] for u in units}
    theirs = {u: d for u, d in preds.items() if u in units}
    cats = categories(_classes(client), [*mine.values(), *theirs.values()], ("bounding_box",))
    assert_equal_to_reference(res, reference(*box_inputs(mine, theirs, cats), "bbox"))
    assert set(res.per_image().data_unit_id) == units

    results = [{"image_id": 1, "category_name": "car", "bbox": [0, 0, 9, 9], "score": 0.5},
               {"image_id": 10**6, "category_name": "car", "bbox": [0, 0, 9, 9], "score": 0.9}]
    res = client.evaluate(subset, results)
    assert res.notes == ["1 predictions on data units outside the ground truth left out"]
    assert len(res.per_annotation().query("source == 'pred'")) == 1


@pytest.mark.parametrize(("call", "text"), [
    (lambda c: c.evaluate(2, 3, tools=("keypoint",)), "tools=('keypoint',)"),
    (lambda c: c.evaluate(2, "missing.json"), "predictions='missing.json': no such file"),
    (lambda c: c.compare_models(2, models=["3"]), "models=['3']"),
    (lambda c: c.compare_models(2, iou_type="masks"), "iou_type='masks'"),
    (lambda c: c.list_assignments({"project": 1}).synapse.annotator_quality(gt=2, iou=0.42),
     "iou=0.42"),
])
def test_arguments_are_checked_before_anything_is_fetched(
        client: Client, demo: Any, call: Any, text: str) -> None:
    client.list_assignments({"project": 1})  # warm: the call below may list assignments first
    start = len(list(demo.requests))
    with pytest.raises(InvalidInputError, match=re.escape(text)):
        call(client)
    fetched = [r["path"] for r in list(demo.requests)[start:]]
    assert all("ground_truth" not in p and "models" not in p for p in fetched), fetched


def test_an_importers_predictions_frame_is_evaluated_through_its_tasks(client: Client) -> None:
    from synapse_nb.importers import match_to_tasks, predictions_frame, read_predictions

    by_model = client.evaluate(GT_VERSION, {"model": 3})
    kept = client.list_ground_truth_events({"ground_truth_dataset_versions": [
        _predictions_version(client, "yolo-v8n 2.0.0 predictions")]}, list_all=True)
    ann = kept.synapse.annotations()
    boxes = ann[ann.tool == "bounding_box"]
    names = sorted(boxes.class_name.unique())
    unit_of = kept.data_unit_id.astype(int)
    results = [{"image_id": int(unit_of[r.event_id]), "category_id": names.index(r.class_name) + 1,
                "bbox": [r.x, r.y, r.w, r.h], "score": r.attributes["score"]}
               for r in boxes.itertuples()]
    labels = read_predictions(results, categories={i + 1: n for i, n in enumerate(names)},
                              images=dict(zip(unit_of, kept.file_name, strict=True)))
    tasks = client.list_tasks({"project": 1}, list_all=True)
    frame = predictions_frame(labels, match_to_tasks(labels, tasks), source="yolo-v8n")
    assert "data_unit_id" not in frame.columns and frame.task_id.notna().all()
    for given in (frame, frame.drop(columns="file_name")):  # by file name, then by task
        res = client.evaluate(GT_VERSION, given)
        assert np.array_equal(res.stats, by_model.stats)
        assert np.array_equal(res.run.tables.precision, by_model.run.tables.precision)
