"""``df.synapse.export``: a typed frame (with a split column) exported end to end."""

from __future__ import annotations

import pytest
import yaml

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client


@pytest.fixture(scope="module")
def frames_client(demo, tmp_path_factory):
    with Client(
        demo.url, api_token=demo.token, cache_dir=tmp_path_factory.mktemp("frames-cache")
    ) as client:
        yield client


def test_a_split_frame_exports_as_yolo(frames_client, tmp_path):
    tasks = frames_client.list_tasks({"project": 1, "status": "completed"}, list_all=True).head(30)
    tasks = tasks.synapse.split(val=0.2, test=0.1, seed=0)
    report = tasks.synapse.export("yolo", tmp_path, split="split", progress=False)
    assert report.target == "task" and report.format == "yolo"
    assert report.exported == len(tasks) and report.failed == []
    assert report.splits == tasks["split"].value_counts().to_dict()
    detect = report.path / "detect"  # one YOLO dataset per task kind: detect, segment, pose
    dataset = yaml.safe_load((detect / "dataset.yaml").read_text())
    names = dataset["names"].values() if isinstance(dataset["names"], dict) else dataset["names"]
    assert "person" in names
    for split, count in report.splits.items():
        assert len(list((detect / "labels" / split).glob("*.txt"))) == count, split
        assert len(list((detect / "images" / split).glob("*.jpg"))) == count, split


def test_export_refuses_frames_of_other_kinds(frames_client, tmp_path):
    models = frames_client.list_models()
    with pytest.raises(InvalidInputError, match="export"):
        models.synapse.export("coco", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"name": "."}, "name"),
        ({"name": ".."}, "name"),
        ({"cache_dir": "a-file.txt"}, "cache_dir"),
        ({"cache_dir": 5}, "cache_dir"),
        ({"classes": "car"}, "classes"),
        ({"classes": 5}, "classes"),
        ({"classes": [1, 2]}, "classes[0]"),
    ],
)
def test_bad_export_options_fail_before_anything_is_sent_or_written(
    frames_client, demo, tmp_path, options, field
):
    tasks = frames_client.list_tasks({"project": 1, "status": "completed"}, list_all=True).head(4)
    folder = tmp_path / "exp"
    folder.mkdir()
    (tmp_path / "a-file.txt").write_text("a file")
    if isinstance(options.get("cache_dir"), str):
        options = {**options, "cache_dir": tmp_path / options["cache_dir"]}
    demo.requests.clear()
    with pytest.raises(InvalidInputError) as caught:
        tasks.synapse.export("coco", folder, progress=False, **options)
    assert caught.value.field == field and field in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file.txt", "exp"]
    assert list(folder.iterdir()) == []
    assert (tmp_path / "a-file.txt").read_text() == "a file"
    assert list(demo.requests) == []
