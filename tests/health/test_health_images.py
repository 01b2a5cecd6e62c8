"""Image health on generated images with known, planted problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from health_scenes import blurred, brightened, darkened, jpeg, low_contrast, png, scene
from PIL import Image

from synapse_nb.exceptions import SynapseNBError
from synapse_nb.health import (
    IMAGE_ISSUES,
    AnnotationThresholds,
    HealthCache,
    HealthInputError,
    ImageThresholds,
    check_images,
)


def _planted() -> tuple[dict[str, bytes], dict[str, str], set[tuple[str, str]]]:
    """Images, their splits and the (data unit, issue) pairs planted among them."""
    images = {f"clean-{k}": jpeg(scene(k)) for k in range(12)}
    splits = {f"clean-{k}": "train" if k < 8 else ("val" if k < 10 else "test") for k in range(12)}
    planted = {
        "exact-copy": (images["clean-0"], {"exact_duplicate"}),
        "resized": (jpeg(scene(1).resize((160, 120)), quality=60), {"near_duplicate"}),
        "blurred-copy": (jpeg(blurred(scene(2))), {"blurry", "near_duplicate"}),
        "black": (png(Image.new("RGB", (320, 240))), {"dark", "low_contrast", "low_information"}),
        "low-contrast": (jpeg(low_contrast(scene(101))), {"low_contrast"}),
        "dark": (jpeg(darkened(scene(102))), {"dark"}),
        "bright": (jpeg(brightened(scene(103))), {"overexposed"}),
        "wide": (jpeg(scene(104, size=(960, 240))), {"odd_aspect"}),
        "small": (jpeg(scene(105, size=(64, 48))), {"unusual_size"}),
        "leak-train": (jpeg(scene(106)), {"leak"}),
        "leak-val": (jpeg(scene(106).resize((240, 180)), quality=70), {"leak", "near_duplicate"}),
    }
    truth = set()
    for key, (data, issues) in planted.items():
        images[key] = data
        splits[key] = "val" if key == "leak-val" else "train"
        truth |= {(key, issue) for issue in issues}
    return images, splits, truth


def _found(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return {(key, issue) for issue, col in IMAGE_ISSUES.items() for key in frame.index[frame[col]]}


@pytest.fixture(scope="module")
def planted_report():
    images, splits, truth = _planted()
    return check_images(images, splits=splits, progress=False, workers=2), truth


def test_every_planted_problem_is_found_and_nothing_else(planted_report):
    report, truth = planted_report
    found = _found(report.images)
    hits = found & truth
    precision, recall = len(hits) / len(found), len(hits) / len(truth)
    assert (precision, recall) == (1.0, 1.0), (sorted(found - truth), sorted(truth - found))
    clean = [k for k in report.images.index if k.startswith("clean-") and k != "clean-0"]
    assert not report.images.loc[clean, list(IMAGE_ISSUES.values())].to_numpy().any()


def test_duplicate_clusters_have_the_original_as_representative(planted_report):
    report, _ = planted_report
    clusters = report.clusters().set_index("representative")
    assert sorted(clusters.index) == ["clean-0", "clean-1", "clean-2", "leak-train"]
    assert clusters.loc["clean-0", "members"] == ["clean-0", "exact-copy"]
    assert clusters.loc["clean-1", "members"] == ["clean-1", "resized"]
    pairs = report.pairs.set_index(["data_unit_a", "data_unit_b"])
    assert bool(pairs.loc[("clean-0", "exact-copy"), "exact"])
    assert not bool(pairs.loc[("clean-1", "resized"), "exact"])
    assert pairs["leak"].sum() == 1
    leak = pairs.loc[("leak-train", "leak-val"), ["split_a", "split_b"]]
    assert leak.tolist() == ["train", "val"]


def test_frame_dtypes_are_typed(planted_report):
    report, _ = planted_report
    frame = report.images
    for col in IMAGE_ISSUES.values():
        assert frame[col].dtype == bool, col
    for col in ("dark_score", "blurry_score", "odd_aspect_score", "unusual_size_score"):
        assert frame[col].dtype == "Float64", col
    assert frame["width"].dtype == "Int64" and frame["split"].dtype == "string"
    assert frame.loc["exact-copy", "near_distance"] == 0
    assert pd.isna(frame.loc["clean-5", "near_distance"])
    assert pd.isna(frame.loc["black", "blurry_score"])  # flat: no edges to judge


def test_summary_counts_each_issue(planted_report):
    report, truth = planted_report
    summary = report.summary().set_index("issue")
    assert list(summary.index) == list(IMAGE_ISSUES)
    for issue in IMAGE_ISSUES:
        assert summary.loc[issue, "count"] == sum(1 for _, i in truth if i == issue), issue
    assert summary.loc["leak", "share"] == pytest.approx(2 / len(report.images))


def test_thresholds_are_overridable_without_remeasuring():
    images, splits, _ = _planted()
    cache = HealthCache()
    first = check_images(images, splits=splits, cache=cache, progress=False)
    strict = check_images(images, cache=cache, progress=False,
                          thresholds=ImageThresholds(dark=0.6, near_duplicate_distance=0))
    assert first.recomputed == len(set(images.values())) and strict.recomputed == 0
    assert strict.images["is_dark"].sum() > first.images["is_dark"].sum()
    assert len(strict.pairs) > 0 and (strict.pairs["distance"] == 0).all()
    assert strict.images["is_exact_duplicate"].sum() == 1
    assert not strict.images["is_leak"].any()  # no splits given


def test_cache_recomputes_only_changed_images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    paths = {}
    for k in range(100):
        paths[k] = folder / f"{k}.jpg"
        paths[k].write_bytes(jpeg(scene(k, size=(96, 72))))
    first = check_images(paths, cache=HealthCache(tmp_path / "cache"), progress=False)
    assert first.recomputed == 100
    for k in (3, 50):  # 2% of the files change on disk
        paths[k].write_bytes(jpeg(scene(1000 + k, size=(96, 72))))
    cache = HealthCache(tmp_path / "cache")  # a new session: entries come from the directory
    again = check_images(paths, cache=cache, progress=False)
    assert again.recomputed == 2 and cache.computed == 2 and cache.hits == 98
    changed = again.images["content_hash"] != first.images["content_hash"]
    assert sorted(again.images.index[changed]) == [3, 50]
    unchanged = again.images.drop(index=[3, 50])
    pd.testing.assert_frame_equal(unchanged, first.images.drop(index=[3, 50]))


def test_a_different_thumbnail_size_does_not_reuse_scores():
    images = {k: scene(k, size=(96, 72)) for k in range(3)}
    cache = HealthCache()
    check_images(images, cache=cache, progress=False)
    assert check_images(images, cache=cache, thumbnail_size=64, progress=False).recomputed == 3


def test_sources_can_be_paths_bytes_and_pil_images(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png(scene(1)))
    report = check_images([("p", str(path)), ("b", png(scene(1))), ("i", scene(1))],
                          progress=False)
    assert report.images.loc["b", "is_exact_duplicate"]  # same bytes as the file
    assert not report.images.loc["i", "is_exact_duplicate"]  # pixels hash differently...
    assert report.images.loc["i", "is_near_duplicate"]  # ...but look the same


def test_an_unreadable_image_is_flagged_not_fatal(tmp_path):
    report = check_images({"ok": jpeg(scene(1)), "junk": b"not an image",
                           "gone": str(tmp_path / "missing.jpg")}, progress=False)
    frame = report.images
    assert frame["is_unreadable"].tolist() == [False, True, True]
    assert frame.loc["junk", list(IMAGE_ISSUES.values())].sum() == 1
    assert pd.isna(frame.loc["junk", "dark_score"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"images": [("a", b"x"), ("a", b"y")]}, "data_unit_id"),
        ({"images": [("a", 3)]}, "image of data unit 'a'"),
        ({"images": ["abc"]}, "images[0]"),
        ({"images": {}, "thumbnail_size": 8}, "thumbnail_size"),
        ({"images": {}, "splits": ["train"]}, "splits"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(HealthInputError) as info:
        check_images(progress=False, **kwargs)
    assert info.value.field == field
    assert isinstance(info.value, SynapseNBError) and field in str(info.value)


@pytest.mark.parametrize(("name", "value"), [("dark", 1.5), ("odd_aspect", 0.5),
                                             ("near_duplicate_distance", 40), ("blurry", "x")])
def test_thresholds_are_validated(name, value):
    with pytest.raises(HealthInputError, match=name):
        ImageThresholds(**{name: value})


def test_numpy_numbers_are_taken_as_the_python_number_they_hold():
    t = ImageThresholds(dark=np.float32(0.25), blurry=np.int64(30),
                        near_duplicate_distance=np.int64(3))
    assert (t.dark, t.blurry, t.near_duplicate_distance) == (float(np.float32(0.25)), 30.0, 3)
    assert type(t.dark) is float and type(t.blurry) is float
    assert type(t.near_duplicate_distance) is int
    assert type(AnnotationThresholds(tiny=np.float64(1e-3)).tiny) is float
    # still refused: bools, NaN, out-of-range values and a float distance
    for name, value in [("dark", np.float32("nan")), ("dark", float("nan")),
                        ("dark", np.float32(1.5)), ("dark", np.bool_(True)),
                        ("near_duplicate_distance", np.int64(40)),
                        ("near_duplicate_distance", np.bool_(True)),
                        ("near_duplicate_distance", True),
                        ("near_duplicate_distance", np.float64(3.0))]:
        with pytest.raises(HealthInputError, match=name) as info:
            ImageThresholds(**{name: value})
        assert info.value.field == name


def test_an_empty_collection_gives_empty_frames():
    report = check_images({}, progress=False)
    assert report.images.empty and report.pairs.empty
    assert report.summary()["count"].sum() == 0


def test_a_damaged_cache_file_is_ignored_with_a_warning(tmp_path):
    images = {k: png(scene(k, size=(64, 48))) for k in range(3)}
    check_images(images, cache=HealthCache(tmp_path), progress=False)
    (tmp_path / "image_measures.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.warns(UserWarning, match="unreadable health cache"):
        cache = HealthCache(tmp_path)
    assert len(cache) == 0
    assert check_images(images, cache=cache, progress=False).recomputed == 3
    assert len(HealthCache(tmp_path)) == 3  # rewritten by the run


def test_progress_bar_is_shown_unless_disabled(capsys):
    images = {k: scene(k, size=(64, 48)) for k in range(3)}
    check_images(images, progress=True)
    assert "image health" in capsys.readouterr().err
    check_images(images, progress=False)
    assert capsys.readouterr().err == ""
