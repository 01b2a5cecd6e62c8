"""The whole-folder import against the embedded demo backend over real HTTP.

Each format's folder is written by our exporter from a few annotated demo tasks, imported
into the demo's "Upload sandbox" (its project and data collection), and the new tasks'
annotations are compared with the source tasks', less what the format cannot carry.
Interruptions are real: a server-injected fault, or a progress callback that raises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _import_helpers import canon
from demo_backends import backend_fixture, client_fixture

from synapse_nb._config import RetryPolicy
from synapse_nb.exceptions import InvalidInputError, SynapseNBError
from synapse_nb.frames import Client
from synapse_nb.importers import ImportFormatError
from synapse_nb.importers import folder as folder_module
from synapse_nb.importers.folder import find_layout, import_folder
from synapse_nb.plugins import export
from synapse_nb.server import ServerHandle

SANDBOX_PROJECT, SANDBOX_COLLECTION = 3, 2
#: The tools each format keeps of a demo task (None: everything). COCO has no image-level
#: classifications or keypoint groups, and stores a joint of visibility 0 as "not labelled"
#: without its position (``_expected`` leaves those out).
CARRIED = {
    "dm": None,
    "coco": {"bounding_box", "polygon", "segmentation", "keypoint"},
}


srv = backend_fixture()
client = client_fixture("srv", progress=False, retry=RetryPolicy(total=0))


@pytest.fixture(scope="module")
def source(client: Client) -> pd.DataFrame:
    """Four annotated, completed tasks of the street project, with their data."""
    tasks = client.list_tasks(
        {"project": 1, "status": "completed"}, list_all=True, include_data=True
    )
    return tasks[tasks.n_annotations > 0].head(4)


def _export(client: Client, source: pd.DataFrame, fmt: str, where: Path) -> Path:
    report = export(client.raw, "task", fmt, where, frame=source, progress=False)
    return report.path / "detect" if fmt == "yolo" else report.path


def _counts(client: Client) -> tuple[int, int]:
    """(data units in the sandbox collection, tasks in the sandbox project)."""
    units, _ = client.raw.list_data_units({"data_collection": SANDBOX_COLLECTION}, list_all=True)
    tasks = client.list_tasks({"project": SANDBOX_PROJECT}, list_all=True)
    return len(list(units)), len(tasks)


def _stored(client: Client, report: Any) -> dict[str, list]:
    """The imported tasks' annotations, by image file name."""
    return {
        row.image.rsplit("/", 1)[-1]: canon(client.get_task(int(row.task_id))["data"])
        for row in report.frame.itertuples()
    }


def _expected(source: pd.DataFrame, tools: set[str] | None) -> dict[str, list]:
    def kept(ann: tuple[Any, ...]) -> bool:
        if tools is None:
            return True
        return ann[0] in tools and not (ann[0] == "keypoint" and ann[4] == 0)

    return {row.file_name: [a for a in canon(row.data) if kept(a)] for row in source.itertuples()}


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", ["dm", "coco"])
def test_import_folder_round_trip(client: Client, source: pd.DataFrame, fmt: str, tmp_path):
    """DM carries everything; COCO all but image classifications and keypoint groups."""
    folder = _export(client, source, fmt, tmp_path)
    before = _counts(client)
    report = import_folder(
        client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT, progress=False
    )
    assert report.format == fmt and report.ok
    # the demo's images are on the server already: found by checksum, not sent again
    assert report.counts() == {
        "uploaded": 0, "tasks_created": 4, "annotated": 4, "skipped": 0, "failed": 0
    }  # fmt: skip
    assert report.upload.files["existing"] == 4
    assert _counts(client) == (before[0] + 4, before[1] + 4)
    assert _stored(client, report) == _expected(source, CARRIED[fmt])
    assert set(report.frame.task_id) == set(report.upload.tasks)
    assert report.unmatched.empty


def test_import_folder_voc_keeps_boxes_and_masks(client: Client, source, tmp_path) -> None:
    """VOC carries boxes (no scores) and polygons as segmentation masks."""
    folder = _export(client, source, "voc", tmp_path)
    report = import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    assert report.format == "voc" and report.counts()["annotated"] == 4
    stored = _stored(client, report)
    for name, anns in _expected(source, None).items():
        boxes = [(a[1], a[2]) for a in anns if a[0] == "bounding_box"]
        polygons = sorted(a[1] for a in anns if a[0] == "polygon")
        assert sorted((a[1], a[2]) for a in stored[name] if a[0] == "bounding_box") == sorted(boxes)
        assert sorted(a[1] for a in stored[name] if a[0] == "segmentation") == polygons
        assert {a[0] for a in stored[name]} <= {"bounding_box", "segmentation"}


@pytest.mark.parametrize(
    ("task", "tool"), [("detect", "bounding_box"), ("segment", "polygon"), ("pose", "keypoint")]
)
def test_import_folder_yolo_task_folders(client, source, tmp_path, task: str, tool: str) -> None:
    """A YOLO task folder carries one tool: class and geometry, to 6 decimals of the image
    size (joints of visibility 0 are "not labelled", as in COCO)."""
    folder = _export(client, source, "yolo", tmp_path).parent / task
    report = import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    expected = _expected(source, {tool})
    statuses = dict(zip(report.frame.image, report.frame.status, strict=True))
    assert report.format == "yolo" and statuses == {
        name: "written" if anns else "empty" for name, anns in expected.items()
    }
    assert report.counts()["annotated"] + report.counts()["skipped"] == 4
    stored = _stored(client, report)
    for name, anns in expected.items():
        got, want = _by_class_and_place(stored[name]), _by_class_and_place(anns)
        assert [a[:2] for a in got] == [a[:2] for a in want] and len(want) == len(got)
        for g, w in zip(got, want, strict=True):
            assert np.allclose(np.asarray(g[2], float), np.asarray(w[2], float), atol=0.01)
            assert g[4] == w[4]  # keypoint visibility


def _by_class_and_place(anns: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(anns, key=lambda a: (a[1], np.round(np.asarray(a[2], float), 1).tolist()))


# ---------------------------------------------------------------------------- resuming


def test_a_fault_on_task_creation_resumes_without_duplicates(
    srv: ServerHandle, client: Client, source: pd.DataFrame, tmp_path: Path
) -> None:
    folder = _export(client, source, "dm", tmp_path)
    before = _counts(client)
    srv.set_faults(rate_503=1.0, paths=("tasks/",))
    try:
        with pytest.raises(SynapseNBError) as failed:
            import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    finally:
        srv.set_faults()
    assert "again to resume" in "".join(getattr(failed.value, "__notes__", []))
    units_after_fault, tasks_after_fault = _counts(client)
    assert (units_after_fault, tasks_after_fault) == (before[0] + 4, before[1])

    report = import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    assert report.counts()["tasks_created"] == 4 and report.counts()["annotated"] == 4
    assert report.upload.already_created == 4 and not report.upload.created
    assert _counts(client) == (before[0] + 4, before[1] + 4)
    assert _stored(client, report) == _expected(source, None)


def test_an_interrupted_annotation_stage_resumes(
    client: Client, source: pd.DataFrame, tmp_path: Path
) -> None:
    folder = _export(client, source, "coco", tmp_path)
    before = _counts(client)
    seen: list[tuple[int, str]] = []

    def stop_after_two(current: int, total: int, category: str) -> None:
        seen.append((current, category))
        if category == "import" and current == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stopped:
        import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT,
                      progress=stop_after_two)  # fmt: skip
    assert (2, "import") in seen
    assert "again to resume" in "".join(getattr(stopped.value, "__notes__", []))
    report = import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    assert report.counts() == {
        "uploaded": 0, "tasks_created": 0, "annotated": 2, "skipped": 2, "failed": 0
    }  # fmt: skip
    assert report.frame.status.value_counts()["already_annotated"] == 2
    assert _counts(client) == (before[0] + 4, before[1] + 4)
    assert _stored(client, report) == _expected(source, CARRIED["coco"])
    again = import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    assert again.counts()["skipped"] == 4 and _counts(client) == (before[0] + 4, before[1] + 4)


# ---------------------------------------------------------------------------- refusals


def _break_dm(folder: Path) -> None:
    """One unknown class and one negative box, in two different label files."""
    first, second = sorted((folder / "labels").glob("*.json"))[:2]
    for path, change in ((first, "class"), (second, "box")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        box = doc["images"][0]["bounding_box"][0]
        if change == "class":
            box["classification"] = "zeppelin"
        else:
            box["data"][2] = -5
        path.write_text(json.dumps(doc), encoding="utf-8")


def test_bad_labels_refuse_the_import_with_nothing_uploaded(
    srv: ServerHandle, client: Client, source: pd.DataFrame, tmp_path: Path
) -> None:
    folder = _export(client, source, "dm", tmp_path)
    _break_dm(folder)
    before = _counts(client)
    srv.requests.clear()
    with pytest.raises(ImportFormatError) as refused:
        import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    message = str(refused.value)
    assert "zeppelin" in message and "-5" in message and "nothing was uploaded" in message
    assert _counts(client) == before
    sent = [e for e in list(srv.requests) if e["method"] != "GET"]
    assert sent == []
    assert not list(folder.glob("*.synapse-upload-*.json"))  # no manifest: nothing started


def test_labels_that_do_not_fit_their_image_are_refused(client, source, tmp_path) -> None:
    folder = _export(client, source, "coco", tmp_path)
    instances = folder / "instances.json"
    coco = json.loads(instances.read_text(encoding="utf-8"))
    coco["annotations"][0]["bbox"][0] = 10_000
    instances.write_text(json.dumps(coco), encoding="utf-8")
    before = _counts(client)
    with pytest.raises(ImportFormatError, match="nothing was uploaded"):
        import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    assert _counts(client) == before


def test_a_project_of_another_collection_is_refused(client, source, tmp_path) -> None:
    folder = _export(client, source, "dm", tmp_path)
    with pytest.raises(InvalidInputError, match="collection") as refused:
        import_folder(client, folder, collection=SANDBOX_COLLECTION, project=1)
    assert refused.value.field == "collection"


def test_unknown_layouts_and_formats_are_named(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="format could not be told"):
        find_layout(tmp_path)
    with pytest.raises(ImportFormatError, match="'xml' is not one of"):
        find_layout(tmp_path, "xml")
    (tmp_path / "Annotations").mkdir()
    with pytest.raises(ImportFormatError, match=r"JPEGImages/ is missing"):
        find_layout(tmp_path)
    (tmp_path / "detect").mkdir()
    (tmp_path / "Annotations").rmdir()
    (tmp_path / "detect" / "dataset.yaml").write_text("names: [car]\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match=r"task folders \['detect'\]"):
        find_layout(tmp_path)


def _coco_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    """A COCO-layout folder: one real image in ``images/`` and the given top-level files."""
    from PIL import Image

    folder = tmp_path / "coco_ds"
    (folder / "images").mkdir(parents=True)
    Image.new("RGB", (32, 24), (10, 200, 10)).save(folder / "images" / "a.jpg")
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


_COCO = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 24}],
    "categories": [{"id": 1, "name": "car"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 8, 8]}],
}
_NOT_JSON = '{"images": [\n  {"id": 1, "file_name": "a.jpg"}\n    "categories": []}'
_NO_IMAGES = json.dumps({k: v for k, v in _COCO.items() if k != "images"})


@pytest.mark.parametrize(
    ("files", "named", "problem"),
    [
        ({"instances.json": _NOT_JSON}, "instances.json",
         "line 3 column 5 is not JSON: Expecting ',' delimiter"),
        ({"instances.json": _NO_IMAGES}, "instances.json", "images is missing or not a list"),
        # a broken second file is not left out without a word
        ({"instances.json": json.dumps(_COCO), "person_keypoints.json": _NOT_JSON},
         "person_keypoints.json", "line 3 column 5 is not JSON"),
        ({"instances.json": _NO_IMAGES, "stuff.json": '{"categories": "x", "images": []}'},
         "instances.json", "stuff.json: categories is missing or not a list"),
    ],
    ids=["not-json", "no-images", "one-of-two-broken", "two-broken"],
)  # fmt: skip
def test_a_malformed_coco_file_is_named_with_its_problem_before_anything_is_sent(
    srv: ServerHandle, client: Client, tmp_path: Path, files, named, problem
) -> None:
    # it was "format could not be told from the layout" (or, beside a good file, left out)
    folder = _coco_folder(tmp_path, {**files, "export_report.json": '{"total": 1}'})
    for fmt in (None, "coco"):
        srv.requests.clear()
        with pytest.raises(ImportFormatError) as refused:
            import_folder(
                client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT, format=fmt
            )
        message = str(refused.value)
        assert str(folder / named) in message and problem in message, message
        assert "could not be told" not in message and "export_report" not in message
        # told from the layout: nothing sent; format="coco": only the project was read
        sent = [f"{e['method']} {e['path']}" for e in list(srv.requests)]
        assert sent == ([] if fmt is None else [f"GET /projects/{SANDBOX_PROJECT}/"])
    assert not list(folder.glob("*.synapse-upload-*.json"))


_CUT_SHORT = '{"exported": 12, "failed": [\n  {"task": 3, "why": "time'


@pytest.mark.parametrize("name", ["report.json", "notes.json"])
def test_a_truncated_json_that_is_not_coco_beside_a_good_one_is_left_alone(
    client: Client, tmp_path: Path, name: str
) -> None:
    # every unreadable *.json counted as a broken COCO file, refusing the whole folder
    folder = _coco_folder(tmp_path, {"instances.json": json.dumps(_COCO), name: _CUT_SHORT})
    layout = find_layout(folder)
    assert layout.format == "coco"
    report = import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    assert list(report.frame.image) == ["a.jpg"] and report.counts()["annotated"] == 1


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("instances_val.json", _CUT_SHORT),  # named like COCO
        ("val.json", '{"images": [{"id": 1, "file_name": "a.jpg"'),  # written like COCO
    ],
)
def test_a_truncated_coco_file_beside_a_good_one_is_still_refused_naming_it(
    tmp_path: Path, name: str, text: str
) -> None:
    folder = _coco_folder(
        tmp_path, {"instances.json": json.dumps(_COCO), name: text, "report.json": _CUT_SHORT}
    )
    with pytest.raises(ImportFormatError) as refused:
        find_layout(folder)
    message = str(refused.value)
    assert str(folder / name) in message and "is not JSON" in message, message
    assert refused.value.field.startswith("line ") and "report.json" not in message


def test_coco_files_below_annotations_are_pointed_at(tmp_path: Path) -> None:
    folder = _coco_folder(tmp_path, {"annotations/instances.json": json.dumps(_COCO)})
    with pytest.raises(ImportFormatError, match="format could not be told") as refused:
        find_layout(folder)
    assert "read at the top of the folder, not as annotations/instances.json" in str(refused.value)
    (folder / "annotations" / "instances.json").rename(folder / "instances.json")
    assert find_layout(folder).format == "coco"


def test_images_without_labels_still_get_tasks(client, source, tmp_path) -> None:
    folder = _export(client, source, "dm", tmp_path)
    lone = sorted((folder / "labels").glob("*.json"))[0]
    lone.unlink()
    (folder / "labels" / "nowhere.json").write_text(json.dumps({"images": [{}]}), encoding="utf-8")
    report = import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    statuses = dict(zip(report.frame.image, report.frame.status, strict=True))
    assert statuses[f"{lone.stem}.jpg"] == "no_labels"
    assert report.counts()["annotated"] == 3 and report.frame.task_id.notna().all()
    unmatched = report.unmatched.astype(object).where(report.unmatched.notna(), None)
    assert sorted(unmatched.values.tolist(), key=str) == [
        ["label", "nowhere", None, "no_task"],
        ["task", None, f"{lone.stem}.jpg", "no_labels"],
    ]


def test_the_notebook_client_imports_a_folder(client: Client, source, tmp_path) -> None:
    folder = _export(client, source.head(2), "voc", tmp_path)
    report = client.import_folder(folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    assert report.format == "voc" and report.counts()["annotated"] == 2
    tasks = client.list_tasks({"project": SANDBOX_PROJECT}, list_all=True)
    assert (tasks.loc[list(report.frame.task_id), "n_annotations"] > 0).all()


def _new_dataset(folder: Path, count: int, seed: int) -> dict[str, dict[str, Any]]:
    """``count`` images never seen by the server (random pixels) and a DM label for each."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    docs = {}
    for n in range(count):
        pixels = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "images" / f"flaky_{n}.png")
        box = {"id": f"b{n}", "classification": "car", "attrs": [], "data": [n, 2, 10, 8]}
        docs[f"flaky_{n}.png"] = {"images": [{"bounding_box": [box]}]}
        (folder / "labels" / f"flaky_{n}.json").write_text(json.dumps(docs[f"flaky_{n}.png"]))
    return docs


@pytest.mark.parametrize("seed", [5, 11, 23])
def test_random_faults_and_repeated_calls_never_duplicate(
    srv: ServerHandle, client: Client, tmp_path: Path, seed: int
) -> None:
    """Every call may fail anywhere (503s and dropped connections); calling again until one
    succeeds leaves exactly one unit, one task and one set of annotations per image."""
    docs = _new_dataset(tmp_path / "flaky", 6, seed)
    before = _counts(client)
    calls, report = 0, None
    srv.set_faults(rate_503=0.15, rate_drop=0.1, seed=seed)
    try:
        while calls < 40 and (report is None or not report.ok):
            calls += 1
            try:
                report = import_folder(client, tmp_path / "flaky", collection=SANDBOX_COLLECTION,
                                       project=SANDBOX_PROJECT)  # fmt: skip
            except SynapseNBError:
                continue
    finally:
        srv.set_faults()
    assert calls > 1  # the faults did interrupt
    final = import_folder(client, tmp_path / "flaky", collection=SANDBOX_COLLECTION,
                          project=SANDBOX_PROJECT)  # fmt: skip
    assert final.ok and final.counts()["tasks_created"] == 0 and final.counts()["skipped"] == 6
    assert _counts(client) == (before[0] + 6, before[1] + 6)
    assert _stored(client, final) == {name: canon(doc) for name, doc in docs.items()}


@pytest.mark.parametrize(
    ("option", "value"),
    [("collection", 0), ("project", "3"), ("collection", True), ("skip_failed", "yes")],
)
def test_bad_arguments_are_named(client, source, tmp_path, option: str, value: Any) -> None:
    folder = _export(client, source.head(1), "dm", tmp_path)
    options = {"collection": SANDBOX_COLLECTION, "project": SANDBOX_PROJECT, option: value}
    with pytest.raises(InvalidInputError) as bad:
        import_folder(client, folder, **options)
    assert bad.value.field == option and repr(value) in str(bad.value)


def _break_yolo_row(folder: Path) -> str:
    path = sorted((folder / "labels").glob("*.txt"))[0]
    path.write_text("0 abc 0.5 0.5 0.5\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return f"{path.stem}.jpg"


def test_unreadable_labels_refuse_unless_skip_failed(client, source, tmp_path) -> None:
    folder = _export(client, source, "yolo", tmp_path)
    broken = _break_yolo_row(folder)
    before = _counts(client)
    with pytest.raises(ImportFormatError, match="not numeric") as refused:
        import_folder(client, folder, collection=SANDBOX_COLLECTION, project=SANDBOX_PROJECT)
    assert "skip_failed=True" in str(refused.value) and _counts(client) == before

    report = import_folder(client, folder, collection=SANDBOX_COLLECTION,
                           project=SANDBOX_PROJECT, skip_failed=True)  # fmt: skip
    statuses = dict(zip(report.frame.image, report.frame.status, strict=True))
    assert statuses[broken] == "skipped" and report.counts()["annotated"] == 3
    assert report.counts()["skipped"] == 1 and _counts(client) == (before[0] + 4, before[1] + 4)
    task = int(report.frame.set_index("image").at[broken, "task_id"])
    assert canon(client.get_task(task)["data"] or {"images": [{}]}) == []


def test_images_in_sub_folders_match_their_labels(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(folder_module, "_ID_CHUNK", 2)  # tasks read back in two requests
    docs = _new_dataset(tmp_path / "nested", 3, seed=41)
    night = tmp_path / "nested" / "images" / "night"
    night.mkdir()
    (tmp_path / "nested" / "images" / "flaky_1.png").rename(night / "flaky_1.png")
    report = import_folder(client, tmp_path / "nested", collection=SANDBOX_COLLECTION,
                           project=SANDBOX_PROJECT)  # fmt: skip
    assert sorted(report.frame.image) == ["flaky_0.png", "flaky_2.png", "night/flaky_1.png"]
    assert report.ok and report.counts()["annotated"] == 3
    assert _stored(client, report) == {name: canon(doc) for name, doc in docs.items()}
    again = import_folder(client, tmp_path / "nested", collection=SANDBOX_COLLECTION,
                          project=SANDBOX_PROJECT)  # fmt: skip
    assert set(again.frame.status) == {"already_annotated"}
