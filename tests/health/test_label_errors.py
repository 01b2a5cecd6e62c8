"""Label-error candidates on the demo workspace, against the evaluation's own per-annotation view.

The demo's reviewed ground truth (version 2 of "Street GT") differs from the first pass in
known ways: per image one box is relabelled to a look-alike class, one box is added on nothing
and one is removed. The demo models predict from what the images show (the first pass). So
the relabels are the planted class confusions, computed here from the two versions.
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from synapse_nb.evaluation import Comparison
from synapse_nb.exceptions import InvalidInputError, SynapseNBError
from synapse_nb.frames import Client
from synapse_nb.health import (
    LABEL_ERROR_KINDS,
    HealthInputError,
    LabelErrorThresholds,
    image_scores,
    label_errors,
)
from synapse_nb.health.label_errors import annotation_scores
from synapse_nb.server.demo import media
from synapse_nb.widgets import AnnotationPreview, FilterPanel
from synapse_nb.widgets._render import FLAG_COLOR

GT_VERSION, FIRST_PASS = 2, 1
PREDICTED = [3, 5, 6]  # the demo models whose predictions are kept as datasets


@pytest.fixture(scope="module")
def comparison(client: Client) -> Comparison:
    models = client.list_models({"project": 1}, list_all=True).loc[PREDICTED]
    return models.synapse.evaluate(ground_truth=GT_VERSION)


@pytest.fixture(scope="module")
def candidates(comparison: Comparison) -> pd.DataFrame:
    return label_errors(comparison)


def _boxes(client: Client, version: int) -> dict[tuple[int, str], str]:
    events = client.list_ground_truth_events({"ground_truth_dataset_versions": [version]},
                                             list_all=True, include_data=True)
    return {(int(unit), box["id"]): box["classification"]
            for unit, doc in zip(events["data_unit_id"], events["data"], strict=True)
            for box in doc["images"][0].get("bounding_box", [])}


@pytest.fixture(scope="module")
def planted(client: Client) -> dict[str, Any]:
    first, second = _boxes(client, FIRST_PASS), _boxes(client, GT_VERSION)
    return {"relabelled": {k: (first[k], second[k]) for k in second
                           if k in first and first[k] != second[k]},
            "added": {k for k in second if k not in first}}


def _rows(frame: pd.DataFrame, ids: pd.Series, source: str) -> pd.DataFrame:
    keyed = frame[frame["source"] == source].set_index("annotation_id")
    return keyed.loc[ids.astype("int64").to_numpy()]


def test_every_prediction_candidate_is_a_false_positive_of_its_model(comparison, candidates):
    t = LabelErrorThresholds()
    for model, result in comparison.results.items():
        per_ann = result.per_annotation(iou=t.iou)
        mine = candidates[candidates["model"] == model]
        confused = mine[mine["kind"] == "class_confusion"]
        pred = _rows(per_ann, confused["pred_id"], "pred")
        truth = _rows(per_ann, confused["gt_id"], "gt")
        assert len(confused) > 0
        assert (pred["status"] == "FP").all()
        assert (pred["score"].to_numpy() >= t.min_score).all()
        assert pred["category"].tolist() == confused["pred_class"].tolist()
        assert truth["category"].tolist() == confused["gt_class"].tolist()
        assert (truth["category"].to_numpy() != pred["category"].to_numpy()).all()
        assert (confused["iou"] >= t.iou).all()
        np.testing.assert_allclose(confused["score"], pred["score"].to_numpy() * confused["iou"])
        missing = mine[mine["kind"] == "missing_label"]
        pred = _rows(per_ann, missing["pred_id"], "pred")
        assert len(missing) > 0
        assert (pred["status"] == "FP").all() and (pred["matched_category"] == "background").all()
        np.testing.assert_allclose(missing["score"], pred["score"].to_numpy())


def test_unfound_ground_truth_is_missed_by_every_model(comparison, candidates):
    unfound = candidates[candidates["kind"] == "unfound"]
    assert len(unfound) > 0
    for result in comparison.results.values():
        truth = _rows(result.per_annotation(iou=0.5), unfound["gt_id"], "gt")
        assert (truth["status"] == "FN").all()
        assert (truth["matched_category"] == "background").all()
    np.testing.assert_allclose(unfound["score"], 1.0 - unfound["iou"])
    assert (unfound["iou"] < 0.5).all()


def test_candidates_are_ranked_and_carry_their_links(candidates):
    assert candidates["score"].is_monotonic_decreasing
    assert set(candidates["kind"]) == set(LABEL_ERROR_KINDS)
    assert candidates["score"].between(0, 1).all()
    on_truth = candidates["kind"] != "missing_label"
    assert candidates.loc[on_truth, "gt_annotation_id"].notna().all()
    assert candidates.loc[~on_truth, "pred_annotation_id"].notna().all()
    assert (candidates["data_unit_id"] == candidates["image_id"]).all()


def test_the_planted_relabels_are_the_top_ranked_annotations(candidates, planted):
    ranked = annotation_scores(candidates)
    confused = ranked[ranked["label_error_kinds"] == "class_confusion"]
    keys = list(zip(confused["data_unit_id"].astype(int), confused["gt_annotation_id"],
                    strict=True))
    top = keys[:20]
    assert all(k in planted["relabelled"] for k in top)
    for key in top:
        was, now = planted["relabelled"][key]
        assert now in media._CONFUSABLE.get(was, tuple(media.CLASSES))
    found = {k for k in keys if k in planted["relabelled"]}
    assert len(found) >= 0.8 * len(planted["relabelled"])


def test_boxes_added_on_nothing_are_unfound(candidates, planted):
    unfound = candidates[candidates["kind"] == "unfound"]
    keys = set(zip(unfound["data_unit_id"].astype(int), unfound["gt_annotation_id"],
                   strict=True))
    assert len(keys & planted["added"]) >= 0.9 * len(planted["added"])
    assert len(keys & planted["added"]) >= 0.8 * len(keys)


def test_one_model_agreeing_weighs_less_than_all_models(comparison, candidates):
    ranked = annotation_scores(candidates)
    n = len(comparison.results)
    for row in ranked[ranked["label_error_kinds"] == "class_confusion"].head(50).itertuples():
        rows = candidates[(candidates["gt_id"] == row.gt_id)
                          & (candidates["kind"] == "class_confusion")]
        best = rows.groupby("model")["score"].max()
        assert row.label_error_score == pytest.approx(best.sum() / n)
        assert row.n_models == len(best)


def test_image_scores_are_the_maximum_of_their_candidates(candidates):
    per_image = image_scores(candidates).set_index("image_id")
    ranked = annotation_scores(candidates)
    missing = candidates[candidates["kind"] == "missing_label"]
    scores = pd.concat([ranked.set_index("image_id")["label_error_score"],
                        missing.set_index("image_id")["score"]])
    expected = scores.groupby(level=0).max()
    pd.testing.assert_series_equal(per_image["label_error_score"].sort_index(),
                                   expected.sort_index(), check_names=False,
                                   check_index_type=False)
    assert per_image["n_label_errors"].sum() == len(ranked) + len(missing)


def _keys(frame: pd.DataFrame, kind: str) -> set[tuple[str, Any, Any]]:
    rows = frame[frame["kind"] == kind]
    return set(zip(rows["model"], rows["gt_id"].astype(object), rows["pred_id"].astype(object),
                   strict=True))


def test_thresholds_change_the_candidates_monotonically(comparison):
    by_score = [label_errors(comparison, min_score=s) for s in (0.3, 0.5, 0.7, 0.9)]
    for kind in ("class_confusion", "missing_label"):
        sets = [_keys(f, kind) for f in by_score]
        assert all(b <= a for a, b in itertools.pairwise(sets))
        assert len(sets[0]) > len(sets[-1])
    assert len({len(_keys(f, "unfound")) for f in by_score}) == 1
    by_iou = [label_errors(comparison, iou=t) for t in (0.5, 0.7, 0.9)]
    unfound = [_keys(f, "unfound") for f in by_iou]
    assert all(a <= b for a, b in itertools.pairwise(unfound))
    assert len(unfound[0]) < len(unfound[-1])
    by_bg = [_keys(label_errors(comparison, background_iou=b), "missing_label")
             for b in (0.05, 0.1, 0.3)]
    assert all(a <= b for a, b in itertools.pairwise(by_bg))


@pytest.mark.parametrize(("options", "field", "shown"), [
    ({"min_score": 1.5}, "min_score", "1.5"),
    ({"iou": 0}, "iou", "0"),
    ({"background_iou": 0.7}, "background_iou", "0.7"),
    ({"iou": "0.5"}, "iou", "'0.5'"),
    ({"min_scor": 0.5}, "min_scor", "0.5"),
    ({"thresholds": {"iou": 0.5}}, "thresholds", "{'iou': 0.5}"),
])
def test_bad_thresholds_name_the_field_and_value(comparison, options, field, shown):
    with pytest.raises(HealthInputError) as err:
        label_errors(comparison, **options)
    assert err.value.field == field and f"{field}={shown}" in str(err.value)
    assert isinstance(err.value, SynapseNBError)


def test_bad_results_name_the_field_and_value(client, comparison):
    with pytest.raises(HealthInputError, match="results='oops'"):
        label_errors("oops")
    with pytest.raises(HealthInputError, match="results=") as err:
        label_errors([])
    assert err.value.field == "results"
    with pytest.raises(HealthInputError, match="'x': 'int'"):
        label_errors({"x": 3})
    other = client.evaluate(FIRST_PASS, {"model": 3})
    mixed = {**comparison.results, "first pass": other}
    with pytest.raises(HealthInputError, match="other ground truth") as err:
        label_errors(mixed)
    assert err.value.field == "results['first pass']"


@pytest.fixture(scope="module")
def events(client: Client) -> pd.DataFrame:
    return client.list_ground_truth_events({"ground_truth_dataset_versions": [GT_VERSION]},
                                           list_all=True).head(40)


@pytest.fixture(scope="module")
def report(client: Client, events: pd.DataFrame) -> Any:
    models = client.list_models({"project": 1}, list_all=True).loc[PREDICTED]
    return events.synapse.health(predictions=models, progress=False)


def test_health_joins_the_candidates_onto_annotations_and_rows(report, events):
    found = report.label_errors
    assert found is not None and found.attrs["models"] == [
        "yolo-v8n 2.0.0", "detr-r50 1.2.0", "rtmdet-s 0.9.0"]
    ann = report.annotations
    ranked = annotation_scores(found)
    keyed = ann.set_index([ann["event_id"].astype("int64"), ann["annotation_id"].astype(str)])
    joined = keyed["label_error_score"].dropna()
    expected = ranked.set_index([ranked["item_id"].astype("int64"),
                                 ranked["gt_annotation_id"].astype(str)])["label_error_score"]
    on_rows = expected[expected.index.isin(joined.index)]
    assert len(on_rows) == len(expected) > 0
    np.testing.assert_allclose(joined.loc[on_rows.index].to_numpy(float), on_rows.to_numpy())
    assert ann["label_error_score"].dtype == "Float64"
    assert ann["is_unfound"].dtype == bool and ann["is_unfound"].sum() == (
        ranked["label_error_kinds"] == "unfound").sum()


def test_health_flags_the_candidates_for_the_preview_and_the_summary(report):
    frame, ann = report.frame, report.annotations
    for kind in ("class_confusion", "unfound"):
        flagged = ann[ann["is_" + kind]]
        for owner, aid in zip(flagged["event_id"], flagged["annotation_id"], strict=True):
            assert kind in frame.at[owner, "flagged_annotations"][str(aid)]
    per_image = image_scores(report.label_errors).set_index("image_id")
    scores = frame.set_index("data_unit_id")["label_error_score"].dropna()
    np.testing.assert_allclose(scores.to_numpy(float),
                               per_image["label_error_score"].loc[scores.index].to_numpy())
    rows = report.summary[report.summary["level"] == "label_error"].set_index("issue")
    assert rows.index.tolist() == list(LABEL_ERROR_KINDS)
    for kind in LABEL_ERROR_KINDS:
        assert rows.at[kind, "count"] == len(report.flagged(kind)) > 0
    assert frame["n_missing_labels"].sum() == (report.label_errors["kind"]
                                               == "missing_label").sum()


def test_health_takes_one_result_or_a_list_of_sources(client, events):
    result = events.synapse.evaluate({"model": 3})
    alone = label_errors(result)
    from synapse_nb.frames.health_label_errors import evaluations_of

    assert evaluations_of(events, client, result) is result
    listed = evaluations_of(events, client, [{"model": 3}, {"model": 5}])
    assert list(listed) == ["predictions 0", "predictions 1"]
    pd.testing.assert_frame_equal(label_errors(listed["predictions 0"]), alone)


def test_health_refuses_bad_predictions_before_any_download(demo, events, tmp_path):
    with Client(demo.url, api_token=demo.token, progress=False,
                cache_dir=tmp_path / "media") as fresh:
        for bad, field in ((True, "predictions"), ("x", "label_error_thresholds")):
            options = ({"predictions": bad} if field == "predictions"
                       else {"predictions": {"model": 3}, "label_error_thresholds": bad})
            with pytest.raises(InvalidInputError) as err:
                events.synapse.health(client=fresh, progress=False, **options)
            assert err.value.field == field and repr(bad) in str(err.value)
    assert not any((tmp_path / "media").rglob("*.jpg"))


def test_the_filter_panel_offers_each_kind_with_its_row_count(report):
    panel = FilterPanel(report.frame)
    offered = {value: label for label, value in panel.issue_filter.options}
    for kind in LABEL_ERROR_KINDS:
        assert offered[kind] == f"{kind} ({len(report.flagged(kind))})"
        rows = panel.filter(issue=kind)
        assert rows.index.sort_values().tolist() == report.flagged(kind).index.sort_values(
        ).tolist()
    panel.reset()


def _flag_pixels(preview: AnnotationPreview) -> int:
    image = np.asarray(Image.open(io.BytesIO(bytes(preview._image.value))).convert("RGB"))
    return int((image == np.array(FLAG_COLOR, dtype=np.uint8)).all(axis=2).sum())


def test_the_preview_marks_a_class_confusion_in_the_flag_colour(report, tmp_path):
    frame = report.frame
    only = frame[frame["annotation_issues"].map(lambda issues: issues == ["class_confusion"])]
    assert len(only) > 0
    row = only.head(1)
    unflagged = row.copy()  # the same image and boxes, without the flags
    unflagged["flagged_annotations"] = pd.Series([{}], index=row.index, dtype=object)
    # exact colours: PNG (the default sends these JPEG photos as JPEG)
    marked = AnnotationPreview(row, cache_dir=tmp_path, image_format="png").load()
    plain = AnnotationPreview(unflagged, cache_dir=tmp_path, image_format="png").load()
    try:
        assert _flag_pixels(marked) > 50
        assert _flag_pixels(plain) == 0
    finally:
        marked.close()
        plain.close()


def _coco(boxes: list[tuple[int, int, list[float]]]) -> dict[str, Any]:
    return {"images": [{"id": 1}, {"id": 2}, {"id": 3}],
            "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}],
            "annotations": [{"id": k + 1, "image_id": image, "category_id": cat, "bbox": box}
                            for k, (image, cat, box) in enumerate(boxes)]}


def test_boxes_on_different_images_never_meet():
    from synapse_nb.evaluation import evaluate

    truth = _coco([(1, 1, [0, 0, 40, 40]), (3, 1, [0, 0, 40, 40])])
    preds = [{"image_id": 2, "category_id": 2, "bbox": [0, 0, 40, 40], "score": 0.9},
             {"image_id": 3, "category_id": 2, "bbox": [0, 0, 40, 40], "score": 0.8}]
    found = label_errors(evaluate(truth, preds))
    assert sorted(zip(found["kind"], found["image_id"].astype(int), strict=True)) == [
        ("class_confusion", 3), ("missing_label", 2), ("unfound", 1)]
    assert label_errors(evaluate(truth, [])).groupby("kind").size().to_dict() == {"unfound": 2}


def test_a_perfect_prediction_leaves_no_candidate_and_empty_rankings():
    from synapse_nb.evaluation import evaluate

    truth = _coco([(1, 1, [0, 0, 40, 40])])
    found = label_errors(evaluate(truth, [{"image_id": 1, "category_id": 1,
                                           "bbox": [0, 0, 40, 40], "score": 0.9}]))
    assert found.empty and list(found.columns)[:3] == ["kind", "score", "model"]
    assert annotation_scores(found).empty and image_scores(found).empty
    with pytest.raises(HealthInputError, match="candidates="):
        image_scores(found[["kind", "score"]])
