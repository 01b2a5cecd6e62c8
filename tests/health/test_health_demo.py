"""Dataset health on the demo workspace: every planted problem is found and nothing else.

The demo seeding plants known problems (synapse_nb/server/demo/problems.py). These tests run
``df.synapse.health()`` over real HTTP on a demo backend and compare what is flagged with the
manifest of planted problems, at the default thresholds: precision and recall are both 1.
"""

from __future__ import annotations

import pandas as pd
import pytest

from synapse_nb.exceptions import InvalidInputError, SynapseNBError
from synapse_nb.frames import Client
from synapse_nb.health import (
    ANNOTATION_ISSUES,
    IMAGE_ISSUES,
    AnnotationThresholds,
    HealthCache,
    ImageThresholds,
)
from synapse_nb.server.demo import media, problems


def _flagged_images(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return {(name, issue) for name, issues in zip(frame["file_name"], frame["image_issues"],
                                                  strict=True) for issue in issues}


def _expected_leaks(tasks: pd.DataFrame) -> set[str]:
    split_of = dict(zip(tasks["file_name"], tasks["split"].astype(str), strict=True))
    leaks: set[str] = set()
    for pair in problems.manifest()["pairs"]:
        a, b = split_of[pair["source"]], split_of[pair["target"]]
        if a != b and "train" in (a, b):
            leaks |= {pair["source"], pair["target"]}
    return leaks


def test_every_planted_image_problem_is_found_and_nothing_else(report, tasks):
    planted = {(p["file_name"], p["issue"]) for p in problems.manifest()["images"]}
    planted |= {(name, "leak") for name in _expected_leaks(tasks)}
    found = _flagged_images(report.frame)
    assert found - planted == set(), "flagged but not planted (precision < 1)"
    assert planted - found == set(), "planted but not flagged (recall < 1)"


def test_the_default_split_leaks_a_planted_near_duplicate_pair(report, tasks):
    leaks = _expected_leaks(tasks)
    assert leaks, "the notebook needs a real leak to find"
    leaked = set(report.frame.loc[report.frame["is_leak"], "file_name"])
    assert leaked == leaks
    assert report.frame.loc[report.frame["is_leak"], "leak_distance"].notna().all()


def test_every_planted_annotation_problem_is_found_and_nothing_else(report):
    planted = {(p["file_name"], p["annotation_id"], p["issue"])
               for p in problems.manifest()["annotations"]}
    ann = report.annotations
    names = report.frame["file_name"].to_dict()
    found = {(names[pk], aid, issue)
             for pk, aid, issues in zip(ann["task_id"], ann["annotation_id"], ann["issues"],
                                        strict=True) for issue in issues}
    assert found - planted == set(), "flagged but not planted (precision < 1)"
    assert planted - found == set(), "planted but not flagged (recall < 1)"
    per_row = {(n, i) for n, issues in zip(report.frame["file_name"],
                                           report.frame["annotation_issues"], strict=True)
               for i in issues}
    assert per_row == {(p["file_name"], p["issue"]) for p in problems.manifest()["annotations"]}


def test_every_issue_kind_is_planted_once_at_least(report):
    counts = report.summary.set_index(["level", "issue"])["count"]
    for issue in IMAGE_ISSUES:
        if issue != "unreadable":
            assert counts[("image", issue)] >= 1, issue
    for issue in ANNOTATION_ISSUES:
        assert counts[("annotation", issue)] == 1, issue
    assert counts[("image", "unreadable")] == 0


def test_signal_columns_are_typed_and_the_frame_keeps_its_kind(report, tasks):
    frame = report.frame
    assert frame.synapse.kind == "task" and frame.index.equals(tasks.index)
    for column in IMAGE_ISSUES.values():
        assert frame[column].dtype == bool, column
    for column in ("dark_score", "blurry_score", "unusual_size_score"):
        assert frame[column].dtype == "Float64", column
    assert frame["near_cluster"].dtype == "Int64"
    assert frame["n_flagged_annotations"].dtype == "Int64"
    ann = report.annotations
    for column in ANNOTATION_ISSUES.values():
        assert ann[column].dtype == bool, column
    assert len(ann) == len(tasks.synapse.annotations())


def test_duplicate_clusters_name_their_representative_and_rows(report, tasks):
    clusters = report.clusters()
    by_name = dict(zip(tasks["file_name"], tasks.index, strict=True))
    expected = {frozenset((by_name[p["source"]], by_name[p["target"]]))
                for p in problems.manifest()["pairs"]}
    assert {frozenset(rows) for rows in clusters["rows"]} == expected
    unit_of = dict(zip(tasks["file_name"], tasks["data_unit_id"], strict=True))
    representatives = {unit_of[p["source"]] for p in problems.manifest()["pairs"]}
    assert set(clusters["representative"]) == representatives


def test_the_default_near_duplicate_distance_keeps_two_alike_scenes_apart(client, tasks):
    # Two different indoor scenes of the demo hash 6 bits apart; the default (5) must not
    # call them duplicates, a looser threshold does.
    loose = tasks.synapse.health(progress=False,
                                 image_thresholds=ImageThresholds(near_duplicate_distance=6))
    extra = set(loose.frame.loc[loose.frame["is_near_duplicate"], "file_name"])
    planted = {p["target"] for p in problems.manifest()["pairs"] if not p["exact"]}
    assert extra - planted, "the alike scenes should come out at distance 6"


def test_a_second_run_measures_no_image_again(tasks, tmp_path):
    cache = HealthCache(tmp_path / "measures")
    first = tasks.synapse.health(progress=False, cache=cache)
    second = tasks.synapse.health(progress=False, cache=HealthCache(tmp_path / "measures"))
    exact = sum(p["exact"] for p in problems.manifest()["pairs"])  # byte copies: measured once
    assert first.images.recomputed == len(set(tasks["data_unit_id"])) - exact
    assert second.images.recomputed == 0
    pd.testing.assert_frame_equal(first.frame, second.frame)


def test_a_missing_split_column_is_refused_before_any_download(demo, tasks, tmp_path):
    with (Client(demo.url, api_token=demo.token, progress=False,
                 cache_dir=tmp_path / "media") as fresh,
          pytest.raises(InvalidInputError, match="split") as info):
        tasks.synapse.health(split="fold", client=fresh, progress=False)
    assert "fold" in str(info.value) and isinstance(info.value, SynapseNBError)
    assert not any((tmp_path / "media").rglob("*.jpg"))


@pytest.mark.parametrize(("option", "value"), [
    ("tools", "bounding_box"), ("tools", ["bounding_box", "cuboid"]),
    ("attribute_tools", ["boxes"]), ("progress", "yes"), ("cache", {}),
])
def test_bad_options_are_refused_naming_the_option_before_any_download(demo, tasks, tmp_path,
                                                                       option, value):
    with (Client(demo.url, api_token=demo.token, progress=False,
                 cache_dir=tmp_path / "media") as fresh,
          pytest.raises(InvalidInputError, match=option)):
        tasks.synapse.health(client=fresh, **{option: value})
    assert not any((tmp_path / "media").rglob("*.jpg"))


@pytest.mark.parametrize(("option", "value", "field"), [
    ("image_thresholds", "strict", "image_thresholds"),
    ("image_thresholds", {"drak": 0.3}, "image_thresholds"),
    ("image_thresholds", {"dark": 1.5}, "image_thresholds['dark']"),
    ("annotation_thresholds", {"tiny": 2}, "annotation_thresholds['tiny']"),
    ("annotation_thresholds", [("tiny", 0.1)], "annotation_thresholds"),
    ("annotation_thresholds", ImageThresholds(), "annotation_thresholds"),
    ("config", "x", "config"),
    ("config", {"classes": 5}, "config"),
    ("config", {"classes": [{"colour": "red"}]}, "config.classes[0]"),
])
def test_bad_thresholds_and_config_are_refused_naming_the_argument_before_any_download(
        demo, tasks, tmp_path, option, value, field):
    # the fresh client downloads into tmp_path/media: no image there = nothing downloaded
    with (Client(demo.url, api_token=demo.token, progress=False,
                 cache_dir=tmp_path / "media") as fresh,
          pytest.raises(InvalidInputError) as info):
        tasks.synapse.health(client=fresh, progress=False, **{option: value})
    assert info.value.field == field and str(info.value).startswith(f"health: invalid {field}=")
    assert not any((tmp_path / "media").rglob("*.jpg"))


def test_thresholds_can_be_given_as_a_dict_of_their_fields(tasks):
    report = tasks.synapse.health(progress=False,
                                  image_thresholds={"near_duplicate_distance": 6},
                                  annotation_thresholds={"tiny": 0.5})
    assert report.images.thresholds == ImageThresholds(near_duplicate_distance=6)
    assert report.annotation_health.thresholds == AnnotationThresholds(tiny=0.5)
    loose = tasks.synapse.health(progress=False,
                                 image_thresholds=ImageThresholds(near_duplicate_distance=6))
    pd.testing.assert_series_equal(report.frame["is_near_duplicate"],
                                   loose.frame["is_near_duplicate"])


def test_flagged_and_cluster_rows_refuse_a_list_naming_the_argument(report):
    with pytest.raises(InvalidInputError) as info:
        report.flagged(["dark"])
    assert info.value.field == "issue"
    assert all(issue in str(info.value) for issue in [*IMAGE_ISSUES, *ANNOTATION_ISSUES])
    with pytest.raises(InvalidInputError) as info:
        report.cluster_rows([0])
    assert info.value.field == "cluster" and "[0]" in str(info.value)
    assert report.flagged("dark").equals(report.frame[report.frame["is_dark"]])


def test_planting_leaves_the_generated_images_untouched(tmp_path):
    generated = tmp_path / "generated"
    items = media.generate_items(20, generated)
    before = {p.name: p.read_bytes() for p in generated.glob("*.jpg")}
    planted, folder = problems.plant(items, generated, tmp_path / "planted")
    assert {p.name: p.read_bytes() for p in generated.glob("*.jpg")} == before
    dark = planted[12]
    assert (folder / dark.file_name).read_bytes() != before[dark.file_name]
    assert (folder / "scene_0001.jpg").read_bytes() == before["scene_0001.jpg"]


def _broken_urls(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """A copy whose first ``rows`` file URLs name media the backend does not have."""
    broken = frame.copy()
    for pk in broken.index[:rows]:
        url = str(broken.at[pk, "file_url"])
        broken.at[pk, "file_url"] = url.rsplit("/", 1)[0] + "/not-there.jpg"
    return broken


def test_an_image_that_cannot_be_downloaded_is_unreadable_not_clean(tasks, client):
    # a fresh cache: the measures of the good images would otherwise come from the module's run
    few = _broken_urls(tasks.head(6), 2)
    out = few.synapse.health(progress=False, client=client).frame
    assert out["is_unreadable"].tolist() == [True, True, False, False, False, False]
    assert out["image_issues"].iloc[0] == ["unreadable"]
    summary = few.synapse.health(progress=False, client=client).summary
    unreadable = summary[(summary["level"] == "image") & (summary["issue"] == "unreadable")]
    assert unreadable["count"].tolist() == [2]


def test_no_image_downloaded_at_all_still_gives_a_frame(tasks, client):
    few = _broken_urls(tasks.head(3), 3)
    out = few.synapse.health(progress=False, client=client).frame
    assert out["is_unreadable"].tolist() == [True, True, True]


def _person(ident: str, x: float, y: float, w: float, h: float) -> dict:
    return {"id": ident, "classification": "person", "attrs": [], "data": [x, y, w, h]}


def _skeleton(group: str, points: list[tuple[float, float]]) -> list[dict]:
    return [{"id": f"{group}_k{n}", "classification": f"joint_{n}", "attrs": [],
             "data": [x, y], "visibility": 2, "group_id": group}
            for n, (x, y) in enumerate(points)]


def test_a_skeleton_is_judged_against_the_box_its_group_lists_else_the_box_holding_it(tasks):
    # "g1" lists box_b, though most of its joints lie in box_a (two people overlap): it is
    # judged against box_b. No group lists a box for "g2": it goes to the person box holding
    # most of its joints (box_c, not box_d); the group's boxes are not offered to it.
    g1 = _skeleton("g1", [(110, 150), (120, 160), (130, 170), (180, 200)])
    g2 = _skeleton("g2", [(410, 150), (420, 160), (450, 200), (540, 130)])
    doc = {"images": [{
        "bounding_box": [_person("box_a", 100, 100, 100, 200), _person("box_b", 160, 100, 100, 200),
                         _person("box_c", 400, 100, 100, 200), _person("box_d", 520, 100, 60, 60)],
        "keypoint": g1 + g2,
        "group": [{"id": "g1", "classification": "person", "attrs": [],
                   "data": ["box_b", *(k["id"] for k in g1)]},
                  {"id": "g2", "classification": "person", "attrs": [],
                   "data": [k["id"] for k in g2]}]}]}
    one = tasks.head(1).copy()
    assert one["width"].iloc[0] >= 600 and one["height"].iloc[0] >= 320
    one["data"] = [doc]
    ann = one.synapse.health(progress=False).annotations.set_index("annotation_id")
    boxes = ann.loc[["box_a", "box_b", "box_c", "box_d"]]
    scores = [None if pd.isna(v) else int(v) for v in boxes["keypoint_outside_score"]]
    assert scores == [None, 3, 1, None]  # box_a and box_d judge no skeleton
    assert boxes["is_keypoint_outside"].tolist() == [False, True, True, False]
