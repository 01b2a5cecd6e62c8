"""The built-in storage upload and the export to a storage path, run for real as demo jobs.

A ``file_system`` storage is created over HTTP with its location in the test's temp folder
(the backend's storage root is pytest's temp folder); the jobs read and write there on the
backend's side. Each test checks the product (the data units in the collection, the archive on
disk) and, for a refused path, that nothing was sent or written.
"""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import stat
import time
import zipfile
from pathlib import Path

import pytest
from demo_backends import ApiSession, api_fixture, backend_fixture, running, token_headers
from PIL import Image
from srv_helpers import check_field_error
from test_builtin_plugins import archive_of, run
from test_server_executor import logs, wait

from synapse_nb.server.demo.media import generate_item

SCENES = 32


@pytest.fixture(scope="module")
def tests_disks(tmp_path_factory) -> list:
    return [tmp_path_factory.getbasetemp()]  # the storage roots: the tests' disks


demo = backend_fixture(uses={"storage_roots": "tests_disks"})
api = api_fixture("demo")


@pytest.fixture
def disk(api, tmp_path) -> tuple[int, Path]:
    """A file_system storage whose location is a fresh folder: (storage id, its root)."""
    root = tmp_path / "disk"
    root.mkdir()
    body = {"name": f"disk {tmp_path.name}", "provider": "file_system",
            "configuration": {"location": str(root)}}  # fmt: skip
    response = api.post("storages/", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"], root


def test_a_file_system_storage_outside_the_storage_roots_is_a_400_and_nothing_is_stored(
    demo, api, tmp_path
):
    outside = Path(demo.data_dir)  # not below the roots: the backend's own files
    (tmp_path / "link").symlink_to(outside)  # inside a root by name, outside once followed
    before = api.get("storages/").json()["count"]
    why = {str(outside): "not inside a storage root", str(tmp_path / "link" / "files"):
           "not inside a storage root", f"{tmp_path}/../../..": "not inside a storage root",
           "relative/path": "is not an absolute path", 12: "needs a folder path"}  # fmt: skip
    for location, reason in why.items():
        body = {"name": "escape", "provider": "FILE_SYSTEM",
                "configuration": {"location": location}}  # fmt: skip
        messages = check_field_error(api.post("storages/", json=body), "configuration.location",
                                     location)  # fmt: skip
        assert reason in messages[0], (location, messages)
    assert api.get("storages/").json()["count"] == before  # nothing written
    s3 = {"name": "s3", "provider": "amazon_s3", "configuration": {"location": str(outside)}}
    assert api.post("storages/", json=s3).status_code == 201  # not a folder here: not checked


def test_a_storage_location_that_became_a_link_out_of_the_roots_fails_its_jobs(demo, api, tmp_path):
    """Created while its folder did not exist (allowed), the location is then made a link to a
    folder outside the storage roots: the upload and the export refuse the storage before they
    read or write a byte, naming it; the demo's own file_system storage is inside the roots."""
    outside = Path(demo.data_dir) / f"outside-{tmp_path.name}"  # not below the roots
    scenes(outside / "street", 2)
    body = {"name": f"later a link {tmp_path.name}", "provider": "file_system",
            "configuration": {"location": str(tmp_path / "scans")}}  # fmt: skip
    created = api.post("storages/", json=body)
    assert created.status_code == 201, created.text
    storage = created.json()["id"]
    (tmp_path / "scans").symlink_to(outside)
    collection = new_collection(api)
    demo.state.journal.clear()
    jobs = [run(api, "storage-upload", "upload", storage=storage, path="street",
                collection=collection),
            run(api, "dataset-export", "export", storage=storage, path="exports", **EXPORT)]
    try:
        for job_id in jobs:
            job = finished(api, job_id, "FAILED")
            error = job["result"]["error"]
            assert f"invalid storage={storage}" in error, error
            assert "not inside a storage root" in error and str(outside) in error, error
            assert not job["progress_record"], error  # refused before the first phase
        assert sorted(p.name for p in outside.iterdir()) == ["street"]  # nothing written
        requested = [r["path"] for r in list(demo.requests)]
        assert not any(p.startswith(("/tasks", "/data_files", "/data_units")) for p in requested)
        assert units_of(api, collection) == []
    finally:
        shutil.rmtree(outside)
    local = next(s for s in api.get("storages/", params={"with_configuration": "true"}).json()[
        "results"] if s["name"] == "Local disk")  # fmt: skip
    assert Path(local["configuration"]["location"]).is_dir()
    job = finished(api, run(api, "dataset-export", "export", storage=local["id"], path="demo",
                            **EXPORT))  # the demo's storage passes the same check  # fmt: skip
    written = Path(local["configuration"]["location"]) / job["result"]["archive"]["path"]
    assert written.is_file() and written.is_relative_to(demo.state.config.storage_roots[0])
    written.unlink()


def test_relative_storage_roots_mean_the_backend_s_working_directory_in_its_jobs_too(
    demo, api, tmp_path, monkeypatch
):
    """A job runs in its release's folder: the roots it checks are made absolute for it."""
    monkeypatch.chdir(tmp_path)  # the backend runs in this process: its working directory
    monkeypatch.setattr(demo.state.config, "storage_roots", (Path("disks"),))
    sums = scenes(tmp_path / "disks" / "scans" / "street", 2)
    body = {"name": f"relative root {tmp_path.name}", "provider": "file_system",
            "configuration": {"location": str(tmp_path / "disks" / "scans")}}  # fmt: skip
    created = api.post("storages/", json=body)
    assert created.status_code == 201, created.text
    job = finished(api, run(api, "storage-upload", "upload", storage=created.json()["id"],
                            path="street", collection=new_collection(api)))  # fmt: skip
    assert job["result"]["files"]["uploaded"] == len(sums)


def test_the_default_storage_root_is_the_data_dir_s_storages_folder(tmp_path):
    from synapse_nb.cli import build_parser

    with running(data_dir=tmp_path / "data") as srv, \
            ApiSession(srv.url, token_headers(srv.token)) as session:
        root = srv.data_dir / "storages"
        assert root.is_dir()
        ok = {"name": "in", "provider": "file_system",
              "configuration": {"location": str(root / "scans")}}  # fmt: skip
        assert session.post("storages/", json=ok).status_code == 201, ok
        out = {**ok, "configuration": {"location": str(tmp_path)}}
        check_field_error(session.post("storages/", json=out), "configuration.location",
                          str(tmp_path))  # fmt: skip
    args = build_parser().parse_args(["serve", "--storage-root", "/a", "--storage-root", "/b"])
    assert args.storage_roots == [Path("/a"), Path("/b")]


@functools.cache
def street(index: int) -> Image.Image:
    """A demo street scene (another seed than the demo's), drawn once per session."""
    return Image.open(io.BytesIO(generate_item(index, seed=4242)[1])).convert("RGB")


def scenes(folder: Path, count: int = SCENES) -> dict[str, str]:
    """Small crops of four demo scenes, each with its own bytes: file name -> md5."""
    folder.mkdir(parents=True)
    sums = {}
    for index in range(count):
        crop = street(index % 4).crop((index, index, index + 320, index + 240))
        path = folder / f"scene_{index:03d}.jpg"
        crop.save(path, quality=80)
        sums[path.name] = hashlib.md5(path.read_bytes()).hexdigest()
    return sums


def new_collection(api) -> int:
    """An empty image data collection (one image per data unit)."""
    specs = [{"name": "image_1", "file_type": "image", "is_primary": True}]
    body = {"name": f"upload {time.monotonic_ns()}", "file_specifications": specs}
    response = api.post("data_collections/", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def units_of(api, collection: int) -> list[dict]:
    params = {"data_collection": collection, "page_size": 1000}
    return api.get("data_units/", params=params).json()["results"]


def count_units(demo, collection: int) -> int:
    sql = "SELECT COUNT(*) FROM data_units WHERE data_collection_id = ?"
    return int(demo.state.db.scalar(sql, (collection,)))


def finished(api, job_id: str, status: str = "SUCCEEDED") -> dict:
    job = wait(api, job_id, timeout=90)
    assert job["status"] == status, logs(api, job_id)[-5:]
    return job


def writes_during(demo) -> list[str]:
    """Upload requests (data files, data units) in the backend's journal."""
    return [
        f"{r['method']} {r['path']}"
        for r in list(demo.requests)
        if r["method"] == "POST" and ("data_files" in r["path"] or "data_units" in r["path"])
    ]


# ------------------------------------------------------------------ upload


def test_an_upload_stopped_half_way_resumes_without_duplicates(demo, api, disk):
    storage, root = disk
    sums = scenes(root / "street")
    collection = new_collection(api)
    demo.set_faults(latency_ms=100)  # the units arrive four at a time, every 100 ms
    try:
        first = run(api, "storage-upload", "upload", storage=storage, path="street",
                    collection=collection, batch_size=1)  # fmt: skip
        deadline = time.monotonic() + 60
        while not count_units(demo, collection):  # read in-process: not slowed down
            assert time.monotonic() < deadline, logs(api, first)[-5:]
            time.sleep(0.01)
        api.patch(f"jobs/{first}/", json={"status": "STOPPED"})
        finished(api, first, "STOPPED")
        while first in demo.state.jobs.active_jobs():  # its process is ending
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        demo.set_faults()
    earlier = {u["id"] for u in units_of(api, collection)}
    before = len(earlier)
    assert 0 < before < SCENES

    second = finished(api, run(api, "storage-upload", "upload", storage=storage,
                               path="/street", collection=collection))["result"]  # fmt: skip
    assert second["ok"] and second["error_count"] == 0
    assert second["files"]["uploaded"] == 0  # the stopped run had sent every file: none again
    assert second["data_units"]["found"] == SCENES
    assert second["data_units"]["already_created"] == before
    assert second["data_units"]["created"] == SCENES - before
    units = units_of(api, collection)
    assert len(units) == SCENES  # every scene once: nothing created twice
    assert set(second["data_units"]["ids"]) == {u["id"] for u in units} - earlier
    stored = sorted(f["checksum"] for u in units for f in u["files"].values())
    assert stored == sorted(sums.values())

    (root / "street" / "notes.txt").write_text("not an image")  # one unit that must fail
    third = finished(api, run(api, "storage-upload", "upload", storage=storage, path="street",
                              collection=collection))["result"]  # fmt: skip
    assert third["data_units"] == {"found": SCENES + 1, "created": 0, "already_created": SCENES,
                                   "failed": 1, "ids": []}  # fmt: skip
    assert third["files"]["uploaded"] == 0 and len(units_of(api, collection)) == SCENES
    assert not third["ok"] and [(e["unit"], e["step"]) for e in third["errors"]] == [
        ("notes", "validate_files")]  # fmt: skip


def test_a_refused_folder_fails_the_job_naming_why_and_uploads_nothing(demo, api, disk, tmp_path):
    storage, root = disk
    scenes(tmp_path / "outside", 2)
    scenes(root / "street", 2)
    (root / "linked").symlink_to(tmp_path / "outside")  # a folder that is a link out
    scenes(root / "mixed", 2)
    (root / "mixed" / "deeper").mkdir()  # a link out, two levels down
    (root / "mixed" / "deeper" / "x.jpg").symlink_to(next((tmp_path / "outside").iterdir()))
    collection = new_collection(api)
    demo.state.journal.clear()
    jobs = {  # started together: they run side by side
        path: run(api, "storage-upload", "upload", storage=storage, path=path,
                  collection=collection)
        for path in ("street/../../outside", "linked", "mixed")
    }  # fmt: skip
    s3 = api.post("storages/", json={"name": "S3", "provider": "amazon_s3",
                                     "configuration": {"bucket_name": "b"}}).json()  # fmt: skip
    remote = run(api, "storage-upload", "upload", storage=s3["id"], path="street",
                 collection=collection)  # fmt: skip
    errors = {path: finished(api, job_id, "FAILED")["result"]["error"]
              for path, job_id in jobs.items()}  # fmt: skip
    for path, error in errors.items():
        assert "invalid path=" in error and "leaves the storage" in error, (path, error)
    assert "mixed/deeper/x.jpg" in errors["mixed"]  # the link itself is named
    error = finished(api, remote, "FAILED")["result"]["error"]  # not a folder on this machine
    assert f"invalid storage={s3['id']}" in error and "amazon_s3" in error, error
    assert writes_during(demo) == []
    assert units_of(api, collection) == []
    assert not list(root.glob("*.synapse-upload-*")) and not list(root.glob(".synapse-*"))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"storage": "disk", "path": "a", "collection": 1}, "params.storage"),
        ({"storage": 1, "path": "a"}, "params.collection"),
        ({"storage": 1, "collection": 1}, "params.path"),
    ],
)
def test_bad_upload_params_are_a_400_naming_the_field(api, params, field):
    response = api.post("plugins/storage-upload/run/", json={"action": "upload",
                                                             "params": params})  # fmt: skip
    check_field_error(response, field)


# ------------------------------------------------------------------ export to a storage

EXPORT = {"target": "task", "format": "coco", "query": {"project": 1, "status": "completed"},
          "save_original_file": False}  # fmt: skip


def contents(zf: zipfile.ZipFile) -> dict[str, bytes]:
    return {n: zf.read(n) for n in zf.namelist() if n != "export_report.json"}  # holds timings


def test_an_export_to_a_storage_path_writes_the_data_file_export_s_archive(api, disk):
    storage, root = disk
    folder = root / "exports" / "coco"
    folder.mkdir(parents=True)
    (folder / "task-coco.zip").write_bytes(b"an older, broken archive")
    published = finished(api, run(api, "dataset-export", "export", **EXPORT))
    job = finished(api, run(api, "dataset-export", "export", storage=storage,
                            path="/exports/coco", **EXPORT))  # fmt: skip
    written = folder / "task-coco.zip"
    assert job["result"]["archive"] == {"storage": storage, "path": "exports/coco/task-coco.zip",
                                        "file_name": "task-coco.zip",
                                        "size": written.stat().st_size}  # fmt: skip
    assert [p.name for p in folder.iterdir()] == ["task-coco.zip"]  # replaced, no temp file left
    plain = folder.parent / "plain.txt"  # a file made the ordinary way: the umask's mode
    plain.write_text("x")
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    with zipfile.ZipFile(written) as zf, archive_of(published) as expected:
        assert zf.testzip() is None and "export_report.json" in zf.namelist()
        got, want = contents(zf), contents(expected)
    assert got == want and any(name.endswith(".json") for name in got)
    assert job["result"]["report"]["exported"] == published["result"]["report"]["exported"] > 0
    assert any("to storage" in m for _, m in logs(api, job["id"]))


def test_an_export_path_leaving_the_storage_fails_before_exporting(demo, api, disk, tmp_path):
    storage, root = disk
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "linked").symlink_to(outside)
    cases = {  # params -> the field the error names; started together
        "dotdot": ({"storage": storage, "path": "exports/../../outside"}, "path"),
        "link": ({"storage": storage, "path": "linked/coco"}, "path"),
        "no_storage": ({"path": "exports"}, "storage"),
    }
    demo.state.journal.clear()
    jobs = {how: run(api, "dataset-export", "export", **params, **EXPORT)
            for how, (params, _) in cases.items()}  # fmt: skip
    for how, job_id in jobs.items():
        job, field = finished(api, job_id, "FAILED"), cases[how][1]
        error = job["result"]["error"]
        assert f"invalid {field}=" in error, (how, error)
        assert field == "storage" or "leaves the storage" in error, (how, error)
        assert not job["progress_record"], how  # failed before the export's first phase
    assert list(outside.iterdir()) == [] and sorted(p.name for p in root.iterdir()) == ["linked"]
    requested = [r["path"] for r in list(demo.requests)]
    assert not any(p.startswith(("/tasks", "/data_files")) for p in requested), requested


def test_a_link_swapped_in_at_a_middle_level_after_the_check_creates_nothing_outside(tmp_path):
    from synapse_nb.exceptions import InvalidInputError
    from synapse_nb.plugins.builtin.export.dataset_export import write_archive

    root, outside, export_dir = tmp_path / "disk", tmp_path / "outside", tmp_path / "export"
    (root / "exports").mkdir(parents=True)
    outside.mkdir()
    (export_dir / "labels").mkdir(parents=True)
    (export_dir / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2")
    folder = root / "exports" / "coco" / "train"  # checked: inside the storage, not there yet
    (root / "exports" / "coco").symlink_to(outside)  # ... then a link takes its middle level
    with pytest.raises(InvalidInputError, match=r"invalid path='exports/coco/train'.*link"):
        write_archive(folder, root, "done.zip", export_dir)
    assert list(outside.iterdir()) == []  # no folder, no archive went through the link
    assert sorted(p.name for p in (root / "exports").iterdir()) == ["coco"]


def test_a_link_loop_in_a_storage_is_a_clear_error_naming_the_parameter(tmp_path):
    from synapse_nb.exceptions import InvalidInputError
    from synapse_nb.plugins.storages import check_links, inside

    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "loop").symlink_to(tmp_path / "scenes" / "loop")
    with pytest.raises(InvalidInputError) as caught:
        inside(tmp_path, "scenes/loop/a.jpg", field="path", method="storage-upload")
    assert caught.value.field == "path" and "cannot be followed" in str(caught.value)
    with pytest.raises(InvalidInputError) as caught:
        check_links(tmp_path / "scenes", tmp_path, field="path", method="storage-upload")
    assert caught.value.field == "path" and "scenes/loop" in str(caught.value)
