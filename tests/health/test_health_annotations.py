"""Annotation health: one planted problem per rule, and clean rows left alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synapse_nb.health import (
    ANNOTATION_ISSUES,
    AnnotationThresholds,
    HealthInputError,
    LabelConfig,
    check_annotations,
)

SIZES = {1: (640, 480), 2: (320, 240)}
CONFIG = {
    "classes": [
        {"name": "car", "attributes": [{"name": "occluded", "required": True}, "color"]},
        "person",
        {"name": "road", "attributes": []},
    ]
}


def row(aid, cls="car", box=(100, 100, 80, 60), unit=1, **extra):
    x, y, w, h = box
    attrs = {"occluded": False} if cls == "car" else {}
    return {"annotation_id": aid, "data_unit_id": unit, "class_name": cls, "x": x, "y": y,
            "w": w, "h": h, "attributes": extra.pop("attributes", attrs), **extra}


def planted_rows():
    """Clean rows plus one row per problem; returns (rows, {annotation_id: issues})."""
    clean = [
        row("c1"),
        row("c2", box=(300, 200, 50, 120)),
        row("c3", cls="person", box=(10, 10, 40, 90),
            keypoints=[[20, 20, 2], [30, 90, 1], [900, 900, 0]]),
        row("c4", cls="road", box=(None,) * 4, polygon=[[0, 300], [640, 300], [640, 480]]),
        row("c5", box=(0, 0, 320, 240), unit=2),
        row("c6", box=(110, 100, 80, 60)),  # overlaps c1 with IoU 0.78 < 0.9: not a duplicate
        row("c7", cls="person", box=(100, 100, 80, 60)),  # same box as c1, other class
    ]
    planted = {
        "outside": (row("p1", box=(600, 400, 80, 60)), {"outside"}),
        "degenerate": (row("p2", box=(50, 50, 0, 30)), {"degenerate"}),
        "collapsed": (row("p3", cls="road", box=(None,) * 4,
                          polygon=[[10, 10], [20, 20], [30, 30]]), {"degenerate"}),
        "tiny": (row("p4", box=(200, 300, 3, 4)), {"tiny"}),
        "aspect": (row("p5", box=(10, 400, 400, 12)), {"extreme_aspect"}),
        "duplicate": (row("p6", box=(101, 100, 80, 60)), {"duplicate"}),
        "class": (row("p7", cls="truck"), {"unknown_class"}),
        "attribute": (row("p8", box=(400, 50, 60, 60),
                          attributes={"occluded": True, "brand": "x"}), {"unknown_attribute"}),
        "required": (row("p9", box=(400, 150, 60, 60), attributes={"color": "red"}),
                     {"missing_attribute"}),
        "empty": (row("p10", box=(400, 250, 60, 60), attributes={"occluded": ""}),
                  {"missing_attribute"}),
        "keypoint": (row("p11", cls="person", box=(510, 10, 40, 90),
                         keypoints=[[520, 20, 2], [200, 20, 2]]), {"keypoint_outside"}),
    }
    rows = clean + [r for r, _ in planted.values()]
    truth = {(r["annotation_id"], issue) for r, issues in planted.values() for issue in issues}
    return rows, truth


def found(frame):
    return {(a, issue) for issue, col in ANNOTATION_ISSUES.items()
            for a in frame.loc[frame[col], "annotation_id"]}


def test_each_rule_finds_its_planted_problem_and_nothing_else():
    rows, truth = planted_rows()
    out = check_annotations(rows, SIZES, config=CONFIG).annotations
    got = found(out)
    assert got == truth, (sorted(got - truth), sorted(truth - got))


def test_scores_and_details():
    rows, _ = planted_rows()
    out = check_annotations(rows, SIZES, config=CONFIG).annotations.set_index("annotation_id")
    assert out.loc["p1", "outside_score"] == pytest.approx(1 - 40 * 60 / (80 * 60))
    assert out.loc["c1", "outside_score"] == 0
    assert out.loc["p3", "degenerate_score"] == 0
    assert out.loc["c4", "degenerate_score"] == pytest.approx(640 * 180 / 2)
    assert out.loc["p4", "tiny_score"] == pytest.approx(12 / (640 * 480))
    assert out.loc["p5", "extreme_aspect_score"] == pytest.approx(400 / 12)
    assert out.loc["p6", "duplicate_of"] == "c1"
    assert out.loc["p6", "duplicate_score"] == pytest.approx(79 * 60 / (2 * 4800 - 79 * 60))
    assert out.loc["p8", "unknown_attributes"] == "brand"
    assert out.loc["p9", "missing_attributes"] == "occluded"
    assert out.loc["p11", "keypoint_outside_score"] == 1
    assert out.loc["c3", "keypoint_outside_score"] == 0  # the unlabelled point is ignored
    assert pd.isna(out.loc["c1", "keypoint_outside_score"])
    assert out["is_outside"].dtype == bool and out["tiny_score"].dtype == "Float64"


def test_the_input_index_is_kept_so_results_join_back():
    rows, _ = planted_rows()
    frame = pd.DataFrame(rows, index=[f"r{k}" for k in range(len(rows))])
    out = check_annotations(frame, SIZES, config=CONFIG).annotations
    assert list(out.index) == list(frame.index)
    joined = frame.join(out.drop(columns=["annotation_id", "data_unit_id", "class_name"]))
    assert joined.loc[joined["annotation_id"] == "p1", "is_outside"].item()


def test_without_configuration_label_rules_flag_nothing():
    rows, _ = planted_rows()
    out = check_annotations(rows, SIZES).annotations
    for col in ("is_unknown_class", "is_unknown_attribute", "is_missing_attribute"):
        assert not out[col].any()


def test_unknown_image_size_gives_no_outside_or_tiny_flag():
    out = check_annotations([row("a", box=(9000, 0, 1, 1), unit=99)], SIZES).annotations
    assert not out.loc[0, "is_outside"] and not out.loc[0, "is_tiny"]
    assert pd.isna(out.loc[0, "tiny_score"])


def test_image_sizes_from_a_frame():
    sizes = pd.DataFrame({"width": [640], "height": [480]}, index=pd.Index([1]))
    out = check_annotations([row("a", box=(600, 0, 80, 10))], sizes).annotations
    assert out.loc[0, "is_outside"]


def test_thresholds_override():
    rows, _ = planted_rows()
    loose = AnnotationThresholds(duplicate_iou=0.7, extreme_aspect=50.0)
    out = check_annotations(rows, SIZES, thresholds=loose).annotations.set_index("annotation_id")
    assert out.loc["c6", "is_duplicate"] and not out.loc["p5", "is_extreme_aspect"]


def test_summary_counts():
    rows, truth = planted_rows()
    summary = check_annotations(rows, SIZES, config=CONFIG).summary().set_index("issue")
    assert list(summary.index) == list(ANNOTATION_ISSUES)
    for issue in ANNOTATION_ISSUES:
        assert summary.loc[issue, "count"] == sum(1 for _, i in truth if i == issue), issue


def test_label_config_from_configuration_with_shared_attributes():
    cfg = LabelConfig.from_configuration(
        {"classes": [{"code": "car"}, "bus"], "attributes": [{"name": "q", "required": True}]})
    assert cfg.required("bus") == ("q",) and cfg.classes["car"] == {"q": True}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: check_annotations([{"annotation_id": 1}], SIZES), "annotations"),
        (lambda: check_annotations([row("a", box=("left", 0, 1, 1))], SIZES), "x"),
        (lambda: check_annotations([row("a", polygon=[[1, 2, 3]] * 2, box=(None,) * 4)], SIZES),
         "points"),
        (lambda: check_annotations([row("a")], [(1, 2)]), "image_sizes"),
        (lambda: check_annotations([row("a")], SIZES, config={"labels": []}), "configuration"),
        (lambda: LabelConfig.from_configuration({"classes": [{"colour": "red"}]}), "classes[0]"),
        (lambda: AnnotationThresholds(duplicate_iou=1.5), "duplicate_iou"),
    ],
)
def test_bad_input_names_the_field(call, field):
    with pytest.raises(HealthInputError) as info:
        call()
    assert info.value.field == field


def _naive_duplicates(rows, threshold):
    def iou(p, q):
        iw = min(p["x"] + p["w"], q["x"] + q["w"]) - max(p["x"], q["x"])
        ih = min(p["y"] + p["h"], q["y"] + q["h"]) - max(p["y"], q["y"])
        inter = max(iw, 0) * max(ih, 0)
        union = p["w"] * p["h"] + q["w"] * q["h"] - inter
        return inter / union if union > 0 else 0.0

    first, best = [], []
    for j, q in enumerate(rows):
        same = [i for i, p in enumerate(rows) if i != j and
                (p["data_unit_id"], p["class_name"]) == (q["data_unit_id"], q["class_name"])]
        overlaps = {i: iou(rows[i], q) for i in same}
        earlier = [i for i in same if i < j and overlaps[i] >= threshold]
        first.append(rows[earlier[0]]["annotation_id"] if earlier else None)
        best.append(max(overlaps.values()) if overlaps else None)
    return first, best


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_duplicates_match_a_pairwise_loop(seed):
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(150):
        if rows and rng.random() < 0.3:  # a jittered copy of an earlier box
            src = rows[int(rng.integers(len(rows)))]
            rows.append({**src, "annotation_id": k, "x": src["x"] + float(rng.integers(0, 4))})
            continue
        rows.append({"annotation_id": k, "data_unit_id": int(rng.integers(0, 6)),
                     "class_name": str(rng.choice(["a", "b"])),
                     "x": float(rng.integers(0, 80)), "y": float(rng.integers(0, 80)),
                     "w": float(rng.integers(0, 40)), "h": float(rng.integers(1, 40))})
    out = check_annotations(rows, {}, thresholds=AnnotationThresholds(duplicate_iou=0.8))
    first, best = _naive_duplicates(rows, 0.8)
    assert sum(f is not None for f in first) >= 5  # the case is not vacuous
    assert out.annotations["duplicate_of"].tolist() == first
    got = [None if pd.isna(v) else float(v) for v in out.annotations["duplicate_score"]]
    assert got == pytest.approx(best)
