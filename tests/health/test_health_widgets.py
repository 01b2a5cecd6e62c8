"""The dataset-health facets of FilterPanel, on a demo frame from df.synapse.health()."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.widgets import AnnotationPreview, FilterPanel
from synapse_nb.widgets._render import FLAG_COLOR


def test_the_issue_facet_offers_each_issue_with_its_row_count(report):
    panel = FilterPanel(report.frame)
    offered = {value: label for label, value in panel.issue_filter.options if value != "\x00any"}
    summary = report.summary[report.summary["count"] > 0]
    assert set(offered) == set(summary["issue"])
    for issue in offered:
        assert offered[issue] == f"{issue} ({len(report.flagged(issue))})"


@pytest.mark.parametrize("issue", ["near_duplicate", "leak", "blurry", "keypoint_outside"])
def test_filtering_on_an_issue_keeps_exactly_its_rows(report, issue):
    panel = FilterPanel(report.frame)
    rows = panel.filter(issue=issue)
    assert panel.count == len(rows) > 0
    assert rows.index.sort_values().tolist() == report.flagged(issue).index.sort_values().tolist()


def test_a_score_range_filters_and_combines_with_other_facets(report):
    frame = report.frame
    panel = FilterPanel(frame)
    rows = panel.filter(score=("dark_score", 0.0, 0.5))
    assert rows.index.tolist() == frame.index[(frame["dark_score"] <= 0.5).fillna(False)].tolist()
    both = panel.filter(status="completed")
    assert set(both.index) == set(rows.index[rows["status"] == "completed"])
    panel.reset()
    assert panel.count == len(frame) and panel.score_filter.value == ()


def test_choosing_a_score_column_spans_its_whole_range_then_the_slider_narrows(report):
    frame = report.frame
    panel = FilterPanel(frame)
    panel.score_filter.column.value = "blurry_score"
    assert panel.count == int(frame["blurry_score"].notna().sum())
    panel.score_filter.slider.value = (0.0, 40.0)
    assert panel.value.index.tolist() == report.flagged("blurry").index.tolist()


def test_bad_health_filters_name_the_field_and_the_value(report):
    panel = FilterPanel(report.frame)
    with pytest.raises(InvalidInputError, match="issue") as info:
        panel.filter(issue="sunburn")
    assert "sunburn" in str(info.value)
    with pytest.raises(InvalidInputError, match="score"):
        panel.filter(score=("dark_score", 0.9, 0.1))
    with pytest.raises(InvalidInputError, match="tags_score"):
        panel.filter(score=("tags_score", 0, 1))
    assert panel.count == len(report.frame)


def test_frames_without_health_columns_keep_their_controls(client):
    tasks = client.list_tasks({"project": 1}, list_all=True)
    panel = FilterPanel(tasks)
    assert not panel.controls.health
    assert panel.issue_filter.disabled
    with pytest.raises(InvalidInputError, match="cannot filter"):
        panel.filter(issue="dark")
    live = FilterPanel(client=client, params={"project": 1})
    with pytest.raises(InvalidInputError, match="cannot filter"):
        live.filter(score=("dark_score", 0, 1))


def test_the_panel_value_keeps_the_health_columns(report):
    panel = FilterPanel(report.frame)
    rows = panel.filter(issue="exact_duplicate")
    assert isinstance(rows, pd.DataFrame)
    assert rows["is_exact_duplicate"].all() and rows["cluster_representative"].notna().all()


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def _flag_pixels(preview: AnnotationPreview) -> int:
    image = _pixels(bytes(preview._image.value))
    return int((image == np.array(FLAG_COLOR, dtype=np.uint8)).all(axis=2).sum())


def test_the_preview_draws_flagged_annotations_in_the_flag_colour(report, tmp_path):
    frame = report.frame
    flagged = frame[frame["annotation_issues"].map(lambda issues: "outside" in issues)]
    clean = frame[(frame["annotation_issues"].map(len) == 0) & (frame["n_annotations"] > 0)]
    assert flagged.iloc[0]["flagged_annotations"] == {"bbox_planted": "outside"}
    # exact colours: PNG (the default sends these JPEG photos as JPEG)
    marked = AnnotationPreview(flagged, cache_dir=tmp_path, image_format="png").load()
    plain = AnnotationPreview(clean.head(1), cache_dir=tmp_path, image_format="png").load()
    try:
        assert _flag_pixels(marked) > 50
        assert _flag_pixels(plain) == 0
    finally:
        marked.close()
        plain.close()


def test_a_duplicate_cluster_opens_as_a_gallery_representative_first(report, tmp_path):
    for cluster, representative, size in report.clusters()[
            ["cluster", "representative", "size"]].itertuples(index=False):
        rows = report.cluster_rows(cluster)
        assert len(rows) == size and int(rows["data_unit_id"].iloc[0]) == representative
    gallery = report.preview_cluster(0, cache_dir=tmp_path)
    try:
        assert gallery.mode == "gallery" and gallery.row_count == 2
    finally:
        gallery.close()
    with pytest.raises(InvalidInputError, match="cluster") as info:
        report.cluster_rows(99)
    assert "99" in str(info.value)
