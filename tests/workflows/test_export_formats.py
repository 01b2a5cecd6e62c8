"""export(): tasks, assignments and ground-truth events to DM/COCO/VOC/YOLO, end to end.

Each format's per-item output is checked against the converter run on the whole item list
at once (same class order), so streaming item by item loses or changes nothing.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from pycocotools.coco import COCO
from wf_helpers import md5, project_id

from synapse_nb import converters
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.plugins import export
from synapse_nb.plugins.export import originals
from synapse_nb.plugins.export.items import build_export_item
from synapse_nb.server import start
from synapse_nb.server.demo import problems


@pytest.fixture(scope="module")
def street(client: Any) -> dict[str, Any]:
    """The "Street detection" project, its completed tasks and the run-wide class order.

    The demo plants one box of a class the project does not configure (for the dataset-health
    checks); exporters put such classes after the configured ones.
    """
    pid = project_id(client, "Street detection")
    params = {"project": pid, "status": "completed"}
    tasks, _ = client.list_tasks(params, url_conversion=False, list_all=True)
    tasks = list(tasks)
    classes = [*client.get_project(pid)["configuration"]["classes"], problems.UNKNOWN_CLASS]
    items = [build_export_item(t) for t in tasks]
    for item in items:
        item["file_name"] = item["files"]["file_name_original"]
    return {"id": pid, "params": params, "tasks": tasks, "classes": classes, "items": items}


def _progress_log() -> tuple[list[tuple[str, int, int]], Any]:
    seen: list[tuple[str, int, int]] = []
    return seen, lambda current, total, category: seen.append((category, current, total))


def test_dm_export_of_tasks_writes_data_and_originals(
    client: Any, street: dict[str, Any], tmp_path: Path, media_cache: Path
) -> None:
    seen, progress = _progress_log()
    report = export(
        client, "task", "dm", tmp_path, params=street["params"], progress=progress,
        cache_dir=media_cache,
    )  # fmt: skip

    tasks = street["tasks"]
    assert report.ok and report.exported == report.total == len(tasks) > 100
    assert report.path == tmp_path / "task-dm"
    for task in tasks[:40]:
        name = task["files"]["image_1"]["file_name_original"]
        stem = Path(name).stem
        assert json.loads((report.path / "labels" / f"{stem}.json").read_text()) == task["data"]
        original = report.path / "origin_files" / name
        assert md5(original) == task["files"]["image_1"]["checksum"]
    assert len(list((report.path / "origin_files").iterdir())) == len(tasks)
    assert report.original_files == {"success": len(tasks), "failed": 0}
    saved = json.loads((report.path / "export_report.json").read_text())
    assert saved["exported"] == len(tasks) and saved["failed_items"] == []
    categories = {c for c, _, _ in seen}
    assert {"fetch", "dataset_conversion"} <= categories
    last = {c: (cur, tot) for c, cur, tot in seen}
    assert last["dataset_conversion"] == (len(tasks), len(tasks))


def test_coco_export_loads_in_pycocotools_and_matches_a_whole_run(
    client: Any, street: dict[str, Any], tmp_path: Path, media_cache: Path
) -> None:
    report = export(
        client, "task", "coco", tmp_path, params=street["params"], progress=False,
        cache_dir=media_cache,
    )  # fmt: skip
    whole, whole_audit = converters.to_coco(street["items"], classes=street["classes"])

    assert report.exported == len(street["items"])
    for role in converters.COCO_ROLES:
        written = json.loads((report.path / f"{role}.json").read_text())
        assert written["categories"] == whole[role]["categories"]
        assert len(written["images"]) == len(street["items"])
        assert [a["bbox"] for a in written["annotations"]] == [
            a["bbox"] for a in whole[role]["annotations"]
        ]
        image_ids = {i["id"] for i in written["images"]}
        assert {a["image_id"] for a in written["annotations"]} <= image_ids
        assert [a["id"] for a in written["annotations"]] == list(
            range(1, len(written["annotations"]) + 1)
        )
    coco = COCO(str(report.path / "instances.json"))
    assert len(coco.getImgIds()) == len(street["items"])
    names = [c["name"] for c in coco.loadCats(coco.getCatIds())]
    assert names[: len(street["classes"])] == street["classes"]
    assert len(coco.getAnnIds()) == len(whole["instances"]["annotations"]) > 0
    keypoints = COCO(str(report.path / "person_keypoints.json"))
    assert len(keypoints.getAnnIds()) == len(whole["person_keypoints"]["annotations"])
    for image in coco.loadImgs(coco.getImgIds()[:20]):
        assert (report.path / image["file_name"]).is_file()
    assert report.audit.counts() == whole_audit.counts()
    assert not report.audit.warnings  # the project configures its classes


def test_yolo_export_matches_a_whole_run_and_writes_dataset_yaml(
    client: Any, street: dict[str, Any], tmp_path: Path, media_cache: Path
) -> None:
    report = export(
        client, "task", "yolo", tmp_path, params=street["params"], progress=False,
        cache_dir=media_cache,
    )  # fmt: skip
    whole, whole_audit = converters.to_yolo(street["items"], classes=street["classes"])

    for task in converters.YOLO_TASKS:
        task_dir = report.path / task
        spec = yaml.safe_load((task_dir / "dataset.yaml").read_text())
        names = ["person"] if task == "pose" else street["classes"]
        assert spec["names"] == names and spec["nc"] == len(names)
        assert spec["train"] == "images" and spec["val"] == "images"
        assert (task_dir / "classes.txt").read_text().splitlines() == names
        for stem, text in whole[task]["labels"].items():
            assert (task_dir / "labels" / f"{stem}.txt").read_text() == text
        assert len(list((task_dir / "images").iterdir())) == len(street["items"])
    assert "kpt_shape" in yaml.safe_load((report.path / "pose" / "dataset.yaml").read_text())
    items, _ = converters.read_yolo(report.path / "detect")
    boxes = sum(len(i["data"]["images"][0].get("bounding_box", [])) for i in items)
    assert boxes == sum(t.count("\n") for t in whole["detect"]["labels"].values())
    assert report.audit.counts() == whole_audit.counts()
    outcomes = json.loads((report.path / "export_outcomes.json").read_text())
    assert outcomes["summary"]["skipped"] == report.audit.summary()["skipped"]


def test_voc_export_matches_a_whole_run(
    client: Any, street: dict[str, Any], tmp_path: Path, media_cache: Path
) -> None:
    report = export(
        client, "task", "voc", tmp_path, params=street["params"], progress=False,
        cache_dir=media_cache,
    )  # fmt: skip
    whole, _ = converters.to_voc(street["items"], classes=street["classes"])

    for stem, xml in whole["annotations"].items():
        assert (report.path / "Annotations" / f"{stem}.xml").read_text() == xml
    assert sorted(p.stem for p in (report.path / "SegmentationClass").iterdir()) == sorted(
        whole["segmentation_class"]
    )
    for split, stems in whole["image_sets"]["Main"].items():
        written = (report.path / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
        assert written == stems
    labelmap = (report.path / "labelmap.txt").read_text().splitlines()
    assert labelmap[1].startswith("background:") and labelmap[2].startswith("car:")
    assert len(list((report.path / "JPEGImages").iterdir())) == len(street["items"])
    voc_items, _ = converters.read_voc(report.path)
    assert len(voc_items) == len(street["items"])


def test_ground_truth_version_and_assignment_targets(
    client: Any, tmp_path: Path, media_cache: Path, street: dict[str, Any]
) -> None:
    versions = client._get("ground_truth_dataset_versions/")["results"]
    v2 = next(v["id"] for v in versions if v["version"] == "v2" and v["ground_truth_dataset"] == 1)
    gt = export(
        client, "ground_truth", "coco", tmp_path, params={"ground_truth_dataset_versions": [v2]},
        progress=False, save_original_file=False,
    )  # fmt: skip
    events, count = client.list_ground_truth_events(
        {"ground_truth_dataset_versions": [v2]}, url_conversion=False, list_all=True
    )
    assert gt.exported == count == len(list(events)) > 0
    assert gt.path.name == "ground_truth-coco"
    assert any("CLASS_SCHEMA_UNAVAILABLE" in w for w in gt.audit.warnings)
    assert not (gt.path / "images").exists() or not any((gt.path / "images").iterdir())

    named = export(
        client, "ground_truth_events", "yolo", tmp_path,
        params={"ground_truth_dataset_version": v2}, progress=False, save_original_file=False,
        classes=street["classes"], tasks=["detect"],
    )  # fmt: skip
    assert not named.audit.warnings and [p.name for p in named.path.iterdir() if p.is_dir()] == [
        "detect"
    ]

    assignments = export(
        client, "assignments", "dm", tmp_path, params={"project": street["id"]}, progress=False,
        cache_dir=media_cache,
    )  # fmt: skip
    _, total = client.list_assignments({"project": street["id"]}, list_all=True)
    assert assignments.exported == total > 0


def test_frame_export_keeps_frame_order_and_uses_its_split_column(
    client: Any, street: dict[str, Any], tmp_path: Path, media_cache: Path
) -> None:
    chosen = [t["id"] for t in street["tasks"][:12]][::-1]
    frame = pd.DataFrame(
        {"split": ["train"] * 8 + ["val"] * 3 + ["test"]}, index=pd.Index(chosen, name="id")
    )
    frame.loc[999_999] = "train"  # no such task: reported, not dropped silently
    seen, progress = _progress_log()
    report = export(
        client, "task", "yolo", tmp_path, frame=frame, split="split", progress=progress,
        cache_dir=media_cache, tasks=["detect", "segment"],
    )  # fmt: skip

    assert report.exported == 12 and report.total == 13
    assert report.failed == [
        {"id": 999_999, "stage": "fetch", "error": "not found (or not visible with this token)"}
    ]
    assert report.splits == {"train": 8, "val": 3, "test": 1}
    by_id = {t["id"]: t for t in street["tasks"]}
    for object_id, split in frame["split"].items():
        if object_id == 999_999:
            continue
        name = by_id[object_id]["files"]["image_1"]["file_name_original"]
        assert (report.path / "detect" / "images" / split / name).is_file()
        assert (report.path / "segment" / "labels" / split / f"{Path(name).stem}.txt").is_file()
    spec = yaml.safe_load((report.path / "detect" / "dataset.yaml").read_text())
    assert (spec["train"], spec["val"], spec["test"]) == (
        "images/train",
        "images/val",
        "images/test",
    )
    assert ("fetch", 13, 13) in seen

    # target=None takes the kind recorded on a synapse_nb frame
    frame.attrs["synapse"] = {"kind": "task"}
    coco_report = export(
        client, None, "coco", tmp_path, frame=frame.drop(999_999), split="split",
        progress=False, save_original_file=False,
    )  # fmt: skip
    for split, n in {"train": 8, "val": 3, "test": 1}.items():
        document = json.loads((coco_report.path / split / "instances.json").read_text())
        assert len(document["images"]) == n


def test_sizes_come_from_image_headers_and_each_url_downloads_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scale project's files carry no width/height: the header (64x48) supplies them."""
    calls: list[str] = []
    real = originals.download_file

    def spy(url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(url)
        return real(url, *args, **kwargs)

    monkeypatch.setattr(originals, "download_file", spy)
    from synapse_nb.clients import BackendClient

    with start(tasks=20) as srv, BackendClient(srv.url, api_token=srv.token) as c:
        pid = project_id(c, "Scale project (20 tasks)")
        report = export(
            c, "task", "yolo", tmp_path, params={"project": pid}, progress=False,
            cache_dir=tmp_path / "cache", tasks=["detect"],
        )  # fmt: skip
        tasks, _ = c.list_tasks({"project": pid}, url_conversion=False, list_all=True)
        tasks = list(tasks)
    assert report.exported == 20 and report.ok
    assert len(calls) == 1  # 20 tasks share one data file
    items = [{**build_export_item(t), "width": 64, "height": 48} for t in tasks]
    for item in items:
        item["file_name"] = f"tile__{item['id']}.png"  # the exporter's collision names
    whole, _ = converters.to_yolo(
        items, classes=["car", "person", "bicycle", "dog", "traffic_light"]
    )
    labels = report.path / "detect" / "labels"
    assert {p.stem for p in labels.iterdir()} >= {f"tile__{t['id']}" for t in tasks[1:]}
    for item in items[1:]:
        stem = f"tile__{item['id']}"
        assert (labels / f"{stem}.txt").read_text() == whole["detect"]["labels"][stem]
    assert len(report.filename_collisions) == 19


def test_originals_download_concurrently(
    client: Any, street: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight = {"now": 0, "max": 0}
    lock = threading.Lock()
    real = originals.download_file

    def slow(url: str, *args: Any, **kwargs: Any) -> Any:
        with lock:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
        time.sleep(0.05)
        try:
            return real(url, *args, **kwargs)
        finally:
            with lock:
                in_flight["now"] -= 1

    monkeypatch.setattr(originals, "download_file", slow)
    frame = pd.DataFrame(index=pd.Index([t["id"] for t in street["tasks"][:24]], name="id"))
    report = export(
        client, "task", "dm", tmp_path, frame=frame, progress=False, workers=6,
        cache_dir=tmp_path / "cache",
    )  # fmt: skip
    assert report.exported == 24 and report.original_files["success"] == 24
    assert 2 <= in_flight["max"] <= 6


def test_custom_exporter_class(client: Any, street: dict[str, Any], tmp_path: Path) -> None:
    from synapse_nb.plugins.export import BaseExporter

    class CountsExporter(BaseExporter):
        """One CSV row per item with its number of boxes."""

        rows: list[str]

        def convert_data(self, data: dict[str, Any]) -> dict[str, Any]:
            boxes = len((data["data"].get("images") or [{}])[0].get("bounding_box", []))
            return {**data, "boxes": boxes}

        def process_file_saving(self, final_data: dict[str, Any], *args: Any) -> bool:
            self.__dict__.setdefault("rows", []).append(f"{final_data['id']},{final_data['boxes']}")
            return True

        def additional_file_saving(self, unique_export_path: Path) -> None:
            (unique_export_path / "counts.csv").write_text("\n".join(self.rows) + "\n")

    report = export(
        client, "task", CountsExporter, tmp_path, params=street["params"], progress=False,
        save_original_file=False,
    )  # fmt: skip
    rows = (report.path / "counts.csv").read_text().split()
    assert report.format == "CountsExporter" and len(rows) == len(street["tasks"])
    first = street["tasks"][0]
    assert rows[0] == f"{first['id']},{len(first['data']['images'][0]['bounding_box'])}"


P = {"project": 1}
GT = "ground_truth"


@pytest.mark.parametrize(
    ("target", "fmt", "kwargs", "field"),
    [
        ("task", "yolo", {"params": {"status": "completed"}}, "params['project']"),
        (GT, "coco", {"params": {}}, "params['ground_truth_dataset_version']"),
        ("task", "xml", {"params": P}, "fmt"),
        ("tsk", "dm", {"params": P}, "target"),
        ("task", "dm", {"params": P, "split": "split"}, "split"),
        ("task", "dm", {"params": P, "split": {1: "holdout"}}, "split[1]"),
        ("task", "dm", {"frame": pd.DataFrame(index=["a"])}, "frame.index"),
        ("task", "dm", {"frame": pd.DataFrame(index=[1, 1])}, "frame.index"),
        ("task", "coco", {"params": P, "segmentation_mode": "x"}, "segmentation_mode"),
        ("task", "yolo", {"params": P, "tasks": ["obb"]}, "tasks"),
        ("task", "dm", {"params": P, "workers": 0}, "workers"),
        ("task", "dm", {"params": P, "name": "a/b"}, "name"),
        ("task", "dm", {"params": P, "name": "."}, "name"),
        ("task", "dm", {"params": P, "name": ".."}, "name"),
        ("task", "dm", {"params": P, "path": "a-file.txt"}, "path"),
        ("task", "coco", {"params": P, "classes": "car"}, "classes"),
        ("task", "coco", {"params": P, "classes": 5}, "classes"),
        ("task", "coco", {"params": P, "classes": [1, 2]}, "classes[0]"),
        ("task", "coco", {"params": P, "classes": ["car", None]}, "classes[1]"),
        ("task", "dm", {"params": P, "cache_dir": 5}, "cache_dir"),
        ("task", "dm", {"params": P, "cache_dir": "a-file.txt"}, "cache_dir"),
        ("task", "dm", {"params": P, "cache_dir": "a-file.txt/below"}, "cache_dir"),
        ("task", "yolo", {"params": P, "tasks": 5}, "tasks"),
        ("task", "dm", {"params": P, "split": {"one": "train"}}, "split"),
    ],
)
def test_bad_input_is_named_before_anything_is_sent_or_written(
    client: Any, demo: Any, tmp_path: Path, target: str, fmt: str, kwargs: dict, field: str
) -> None:
    out = tmp_path / "never"
    if "path" in kwargs:
        out = tmp_path / kwargs.pop("path")
        out.write_text("already here")
    if isinstance(kwargs.get("cache_dir"), str):  # a cache "directory" that is a file
        (tmp_path / "a-file.txt").write_text("already here")
        kwargs["cache_dir"] = tmp_path / kwargs["cache_dir"]
    before = sorted(tmp_path.rglob("*"))
    demo.requests.clear()
    with pytest.raises(InvalidInputError) as caught:
        export(client, target, fmt, out, progress=False, **kwargs)
    assert caught.value.field == field
    assert field.split("[")[0] in str(caught.value)
    assert not out.exists() or out.read_text() == "already here"
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere
    assert list(demo.requests) == []


@pytest.mark.parametrize("name", [".", ".."])
def test_an_export_never_writes_beside_or_above_its_folder(
    client: Any, demo: Any, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    demo.requests.clear()
    with pytest.raises(InvalidInputError, match="name"):
        export(client, "task", "coco", folder, params=P, name=name, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["exports"]  # no "exports(1)" beside it
    assert list(folder.iterdir()) == []  # no "..(1)" in it
    assert list(demo.requests) == []


def test_one_yolo_task_name_exports_that_task(
    client: Any, street: dict[str, Any], tmp_path: Path
) -> None:
    report = export(
        client, "task", "yolo", tmp_path, params=street["params"], tasks="detect",
        save_original_file=False, progress=False,
    )  # fmt: skip
    assert report.exported == len(street["tasks"])
    assert (report.path / "detect" / "dataset.yaml").is_file()
    assert not (report.path / "segment").exists() and not (report.path / "pose").exists()


def test_split_keys_as_whole_floats_or_padded_text_and_tasks_as_any_collection(
    client: Any, street: dict[str, Any], tmp_path: Path
) -> None:
    # int() took these before the options were checked up front; they still mean the ids
    ids = [t["id"] for t in street["tasks"][:3]]
    split = {float(ids[0]): "train", f" {ids[1]} ": "val", ids[2]: "test"}
    kinds = {"detect": 1}.keys()  # a view, as to_yolo takes it
    report = export(
        client, "task", "yolo", tmp_path,
        params={**street["params"], "id__in": ",".join(map(str, ids))},
        split=split, tasks=kinds, save_original_file=False, progress=False,
    )  # fmt: skip
    assert report.exported == 3 and report.splits == {"train": 1, "val": 1, "test": 1}
    assert (report.path / "detect" / "dataset.yaml").is_file()
    with pytest.raises(InvalidInputError, match=r"invalid split=12\.5"):
        export(client, "task", "yolo", tmp_path, params=street["params"],
               split={12.5: "train"}, progress=False)  # fmt: skip
