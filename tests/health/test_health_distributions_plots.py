"""Class distributions as frames, and the health plots (drawn off-screen, checked by content)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from health_scenes import jpeg, scene

from synapse_nb.health import check_annotations, check_images
from synapse_nb.health.distributions import (
    annotation_geometry,
    class_cooccurrence,
    class_size_distribution,
)
from synapse_nb.health.plots import plot_class_sizes, plot_duplicate_clusters, plot_issue_counts

pytest.importorskip("matplotlib")

ROWS = [
    {"annotation_id": k, "data_unit_id": u, "class_name": c, "x": x, "y": 0, "w": s, "h": s}
    for k, (u, c, x, s) in enumerate([
        (1, "car", 0, 10), (1, "car", 50, 30), (1, "person", 0, 20),
        (2, "car", 80, 20), (2, "dog", 0, 4), (3, "person", 10, 40),
    ])
]
SIZES = {1: (100, 100), 2: (100, 100), 3: (200, 100)}


def test_geometry_columns():
    geo = annotation_geometry(ROWS, SIZES)
    assert geo["cx"].astype(float).tolist() == pytest.approx([0.05, 0.65, 0.1, 0.9, 0.02, 0.15])
    assert geo["relative_size"].astype(float).iloc[5] == pytest.approx(40 / np.sqrt(20000))


def test_class_size_distribution():
    dist = class_size_distribution(ROWS, SIZES)
    assert dist["count"].to_dict() == {"car": 3, "dog": 1, "person": 2}
    assert dist.loc["car", "size_p50"] == 20.0
    assert dist.loc["person", "size_p50"] == 30.0
    assert dist.loc["car", "cx_mean"] == pytest.approx((0.05 + 0.65 + 0.9) / 3)
    assert dist["size_p95"].dtype == "Float64"


def test_class_cooccurrence():
    co = class_cooccurrence(ROWS)
    assert co.loc["car", "car"] == 2 and co.loc["car", "person"] == 1
    assert co.loc["dog", "person"] == 0 and co.loc["person", "person"] == 2
    assert (co.to_numpy() == co.to_numpy().T).all()


def test_issue_count_plot_has_one_bar_per_issue():
    images = check_images({"a": scene(1), "b": scene(1).copy()}, progress=False)
    notes = check_annotations(ROWS, SIZES)
    fig = plot_issue_counts(images.summary(), notes.summary())
    ax = fig.axes[0]
    assert len(ax.patches) == len(images.summary()) + len(notes.summary())
    widths = {t.get_text(): p.get_width() for t, p in
              zip(ax.get_yticklabels(), ax.patches, strict=True)}
    assert widths["image · exact_duplicate"] == 1  # the pixel copy of "a"
    assert widths["image · near_duplicate"] == 0
    assert widths["annotation · outside"] == 0


def test_duplicate_strip_shows_each_cluster_representative_first(tmp_path):
    images = {"orig": jpeg(scene(3)), "copy": jpeg(scene(3).resize((160, 120)), 70),
              "other": jpeg(scene(4))}
    report = check_images(images, splits={"orig": "train", "copy": "test"}, progress=False)
    fig = plot_duplicate_clusters(report, images)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("orig\nrepresentative") and titles[1].startswith("copy\n")
    assert "(leak)" in titles[1] and not any("other" in t for t in titles)
    fig.savefig(tmp_path / "strip.png")
    assert (tmp_path / "strip.png").stat().st_size > 5000


def test_class_size_plot():
    fig = plot_class_sizes(ROWS, SIZES)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["person (n=2)", "dog (n=1)", "car (n=3)"]
    assert fig.axes[0].get_xscale() == "log"


def test_empty_inputs_still_plot():
    report = check_images({}, progress=False)
    assert plot_duplicate_clusters(report, {}).axes
    assert plot_class_sizes(pd.DataFrame(columns=list(ROWS[0])), {}).axes
