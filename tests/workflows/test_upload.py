"""upload(): folders into data collections, metadata, dedupe, crash-and-resume, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from wf_helpers import (
    body,
    make_images,
    md5,
    posts,
    project_id,
    requests_to,
    units_in,
    with_verify_checksums,
)

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import ClientConnectionError, InvalidInputError
from synapse_nb.plugins import upload
from synapse_nb.plugins.upload import (
    ExcelParsingError,
    ExcelSecurityConfig,
    ExcelSecurityError,
    StrategyFactory,
)
from synapse_nb.plugins.upload.strategies import BatchDataUnitStrategy, CSVMetadataStrategy
from synapse_nb.server import start


def _log() -> tuple[list[tuple[str, int, int]], Any]:
    seen: list[tuple[str, int, int]] = []
    return seen, lambda current, total, category: seen.append((category, current, total))


def _manifest(folder: Path, collection: int) -> dict[str, Any]:
    path = folder.parent / f"{folder.name}.synapse-upload-{collection}.json"
    return json.loads(path.read_text())


def test_folder_of_images_becomes_one_unit_per_image(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    images = make_images(folder, 12)
    demo.requests.clear()
    seen, progress = _log()
    report = upload(client, folder, incoming_collection, batch_size=5, progress=progress)

    assert report.ok and len(report.created) == report.data_units == 12, report
    assert report.files == {"total": 12, "uploaded": 12, "existing": 0, "failed": 0}
    assert len(posts(demo, "data_files/")) == 12
    batches = [body(e) for e in posts(demo, "data_units/")]
    # batches are sent concurrently (a few in flight), so their order on the wire varies
    assert sorted(len(b) for b in batches) == [2, 5, 5]
    assert sorted(item["files"]["image_1"]["path"] for b in batches for item in b) == sorted(
        image.name for image in images
    )  # each image in exactly one batch
    units = {u["id"]: u for u in units_in(client, incoming_collection)}
    by_path = {units[i]["files"]["image_1"]["path"]: units[i] for i in report.created}
    for image in images:
        unit = by_path[image.name]
        assert unit["files"]["image_1"]["checksum"] == md5(image)
        assert unit["meta"]["origin_file_stem"] == image.stem
    last = {c: (cur, tot) for c, cur, tot in seen}
    assert last["upload_data_files"] == (12, 12) and last["generate_data_units"] == (12, 12)
    assert "analyze_collection" in last
    manifest = _manifest(folder, incoming_collection)
    assert manifest["completed"] is True
    assert {k: v["data_unit"] for k, v in manifest["units"].items()} == {
        Path(p).stem: u["id"] for p, u in by_path.items()
    }


def test_spec_folders_group_files_by_stem_and_invalid_units_are_reported(
    client: BackendClient, street_collection: int, tmp_path: Path
) -> None:
    folder = tmp_path / "scenes"
    make_images(folder / "image_1", 3, suffix=".jpg")  # img_0000..img_0002
    make_images(folder / "image_1" / "night", 1, start=7)  # recursive: night/img_0007
    (folder / "meta_json").mkdir()
    (folder / "meta_json" / "img_0000.json").write_text('{"lux": 3}')
    (folder / "meta_json" / "night").mkdir()
    (folder / "meta_json" / "night" / "img_0007.json").write_text('{"lux": 0}')
    (folder / "meta_json" / "img_0009.json").write_text("{}")  # no image: required spec missing
    (folder / "image_1" / "notes.txt").write_text("not an image")
    (folder / "image_1" / "empty.png").write_bytes(b"")
    (folder / "README.md").write_text("beside the spec folders")

    report = upload(client, folder, street_collection, progress=False)

    assert len(report.created) == 4 and report.data_units == 7 and not report.ok
    problems = {e["unit"]: e["error"] for e in report.errors}
    assert problems.keys() == {"img_0009", "notes", "empty"}
    assert "missing required file specification 'image_1'" in problems["img_0009"]
    assert "'.txt'" in problems["notes"] and "['.jpeg', '.jpg', '.png']" in problems["notes"]
    assert "empty" in problems["empty"]
    assert any("README.md" in w for w in report.warnings)
    units = {u["id"]: u for u in units_in(client, street_collection)}
    created = {units[i]["files"]["image_1"]["path"]: units[i] for i in report.created}
    assert set(created) == {
        "image_1/img_0000.jpg", "image_1/img_0001.jpg", "image_1/img_0002.jpg",
        "image_1/night/img_0007.png",
    }  # fmt: skip
    assert (
        created["image_1/img_0000.jpg"]["files"]["meta_json"]["path"] == "meta_json/img_0000.json"
    )
    assert "meta_json" in created["image_1/night/img_0007.png"]["files"]
    assert "meta_json" not in created["image_1/img_0001.jpg"]["files"]

    flat = tmp_path / "flat"
    make_images(flat, 2)
    make_images(flat / "sub", 2, start=5)
    flat_report = upload(client, flat, street_collection, recursive=False, progress=False)
    assert flat_report.data_units == 2 and flat_report.ok


def test_excel_metadata_is_matched_by_file_name(
    client: BackendClient, incoming_collection: int, tmp_path: Path
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    folder = tmp_path / "shots"
    make_images(folder, 4)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["File_Name", "weather", "cars", "score", "taken", ""])
    sheet.append(["img_0000.png", "rain", 3, 0.5, dt.date(2024, 5, 1), None])
    sheet.append(["img_0002", "fog", 0, None, None, None])  # matched by stem
    sheet.append(["elsewhere.png", "sun", 1, 1.0, None, None])
    book.save(tmp_path / "shots.xlsx")

    report = upload(client, folder, incoming_collection, metadata=tmp_path / "shots.xlsx",
                    progress=False)  # fmt: skip

    assert report.ok and len(report.created) == 4
    assert report.warnings == ["1 metadata row(s) match no file: ['elsewhere.png']"]
    metas = {}
    for unit_id in report.created:
        unit = client.get_data_unit(unit_id)
        metas[unit["meta"]["origin_file_stem"]] = unit["meta"]
    assert metas["img_0000"] == {
        "weather": "rain", "cars": 3, "score": 0.5, "taken": "2024-05-01T00:00:00",
        "origin_file_stem": "img_0000", "origin_file_extension": ".png",
    }  # fmt: skip
    assert metas["img_0002"]["weather"] == "fog" and metas["img_0002"]["cars"] == 0
    assert "weather" not in metas["img_0001"]


def test_csv_metadata_and_unusable_sheets(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    folder = tmp_path / "csvshots"
    make_images(folder, 2)
    sheet = tmp_path / "meta.csv"
    with open(sheet, "w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows([["filename", "site"], ["img_0001.png", "Seoul"]])
    report = upload(client, folder, incoming_collection, metadata=sheet, progress=False)
    metas = [client.get_data_unit(i)["meta"] for i in report.created]
    sites = {m["origin_file_stem"]: m.get("site") for m in metas}
    assert sites == {"img_0000": None, "img_0001": "Seoul"}

    demo.requests.clear()
    no_column = tmp_path / "bad.csv"
    no_column.write_text("name,site\nimg_0001.png,Seoul\n")
    with pytest.raises(ExcelParsingError, match=r"bad\.csv.*no 'filename' or 'file_name'"):
        upload(client, folder, incoming_collection, metadata=no_column, progress=False,
               manifest=False)  # fmt: skip
    twice = tmp_path / "twice.csv"
    twice.write_text("filename,a\nimg_0001.png,1\nimg_0001.png,2\n")
    with pytest.raises(ExcelParsingError, match="listed twice"):
        upload(client, folder, incoming_collection, metadata=twice, progress=False,
               manifest=False)  # fmt: skip
    assert list(demo.requests) == []  # the sheet is read before anything is sent

    class TinyLimits(StrategyFactory):
        def create_metadata_strategy(self, *, metadata: Path | None = None, **params: Any):
            return CSVMetadataStrategy(metadata, ExcelSecurityConfig(max_rows=1))

    with pytest.raises(ExcelSecurityError, match=r"long\.csv.* has more than 1 rows"):
        long = tmp_path / "long.csv"
        long.write_text("filename\na\nb\nc\n")
        upload(client, folder, incoming_collection, metadata=long, progress=False,
               manifest=False, strategy_factory=TinyLimits())  # fmt: skip


def test_missing_openpyxl_is_a_clear_error(
    client: BackendClient, incoming_collection: int, tmp_path: Path, monkeypatch: Any
) -> None:
    folder = tmp_path / "x"
    make_images(folder, 1)
    (tmp_path / "m.xlsx").write_bytes(b"PK")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(ImportError, match=r"needs openpyxl: pip install openpyxl.*\.csv"):
        upload(client, folder, incoming_collection, metadata=tmp_path / "m.xlsx", progress=False)


def test_large_files_go_chunked_and_identical_files_upload_once(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    make_images(folder, 2, start=300)  # contents no other test uploads
    (folder / "copy_of_0.png").write_bytes((folder / "img_0300.png").read_bytes())
    big = folder / "big.png"
    big.write_bytes(bytes(range(256)) * 80)  # 20 KiB, above the threshold below
    demo.requests.clear()
    report = upload(client, folder, incoming_collection, chunk_threshold=4096, progress=False)

    assert report.ok and len(report.created) == 4
    assert report.files["uploaded"] == 4 and report.files["total"] == 4
    assert len(posts(demo, "data_files/")) == 3  # the copy shares its twin's upload
    assert len(requests_to(demo, "PUT", "chunked_upload")) == 1
    chunked = [body(e) for e in posts(demo, "data_files/") if e["body"].startswith(b"{")]
    assert len(chunked) == 1 and "chunked_upload" in chunked[0]
    units = {u["id"]: u for u in units_in(client, incoming_collection)}
    sums = {units[i]["files"]["image_1"]["path"]: units[i]["files"]["image_1"]["checksum"]
            for i in report.created}  # fmt: skip
    assert sums["big.png"] == md5(big)
    assert sums["copy_of_0.png"] == sums["img_0300.png"] == md5(folder / "img_0300.png")


def test_rerun_of_a_finished_upload_sends_nothing(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    folder = tmp_path / "done"
    make_images(folder, 6)
    first = upload(client, folder, incoming_collection, progress=False)
    demo.requests.clear()
    again = upload(client, folder, incoming_collection, progress=False)

    assert again.ok and again.created == [] and again.already_created == 6
    assert posts(demo, "data_files/") == [] and posts(demo, "data_units/") == []
    assert again.elapsed < first.elapsed


def test_crash_in_the_progress_callback_resumes_from_the_manifest(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    folder = tmp_path / "crash"
    make_images(folder, 30, start=100)
    before = len(units_in(client, incoming_collection))

    def crash(current: int, total: int, category: str) -> None:
        if category == "upload_data_files" and current >= 10:
            raise KeyboardInterrupt("simulated crash")

    with pytest.raises(KeyboardInterrupt) as caught:
        upload(client, folder, incoming_collection, workers=4, progress=crash)
    note = " ".join(getattr(caught.value, "__notes__", []))
    assert "upload_files" in note and "synapse-upload" in note and "again to resume" in note
    manifest = _manifest(folder, incoming_collection)
    recorded = sum(1 for f in manifest["files"].values() if f.get("uploaded"))
    assert 10 <= recorded < 30 and manifest["units"] == {}
    assert len(units_in(client, incoming_collection)) == before

    demo.requests.clear()
    report = upload(client, folder, incoming_collection, workers=4, progress=False)
    assert report.ok and len(report.created) == 30
    sent = posts(demo, "data_files/")
    # what the manifest recorded is not sent again; uploads in flight at the crash that the
    # manifest missed are recognised by verify_checksums (or sent again, harmlessly)
    assert report.files["existing"] >= recorded
    assert len(sent) == report.files["uploaded"] == 30 - report.files["existing"]
    assert len(units_in(client, incoming_collection)) == before + 30


def test_crash_while_generating_units_creates_the_rest_once(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    folder = tmp_path / "units"
    make_images(folder, 20, start=200)
    before = len(units_in(client, incoming_collection))

    def crash(current: int, total: int, category: str) -> None:
        if category == "generate_data_units" and current >= 10:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        upload(client, folder, incoming_collection, batch_size=5, progress=crash)
    states = [u["state"] for u in _manifest(folder, incoming_collection)["units"].values()]
    assert states.count("created") == 10
    # batches still in flight at the crash may have been created without being recorded
    on_server = len(units_in(client, incoming_collection)) - before
    assert 10 <= on_server <= 10 + states.count("creating")

    demo.requests.clear()
    report = upload(client, folder, incoming_collection, batch_size=5, progress=False)
    assert report.ok and report.already_created == on_server
    assert len(report.created) == 20 - on_server
    assert posts(demo, "data_files/") == []
    assert sum(len(body(e)) for e in posts(demo, "data_units/")) == 20 - on_server
    assert len(units_in(client, incoming_collection)) == before + 20
    manifest = _manifest(folder, incoming_collection)
    ids = [u["data_unit"] for u in manifest["units"].values()]
    assert len(ids) == len(set(ids)) == 20 and set(report.created) <= set(ids)


def test_a_batch_in_flight_at_a_crash_is_found_not_created_again(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    """Simulates a crash between a create request and its record in the manifest."""
    folder = tmp_path / "inflight"
    make_images(folder, 5)
    first = upload(client, folder, incoming_collection, progress=False)
    path = folder.parent / f"inflight.synapse-upload-{incoming_collection}.json"
    state = json.loads(path.read_text())
    lost = {}
    for key in ("img_0001", "img_0003"):
        lost[key] = state["units"][key].pop("data_unit")
        state["units"][key]["state"] = "creating"
    path.write_text(json.dumps(state))

    demo.requests.clear()
    report = upload(client, folder, incoming_collection, progress=False)
    assert posts(demo, "data_units/") == [] and report.created == []
    assert report.already_created == 5 and report.ok
    assert requests_to(demo, "GET", "data_units")  # the collection's units were consulted
    restored = json.loads(path.read_text())["units"]
    assert {k: restored[k]["data_unit"] for k in lost} == lost
    assert set(first.created) >= set(lost.values())


def test_without_a_manifest_files_on_the_server_are_not_sent_again(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    folder = tmp_path / "nomanifest"
    make_images(folder, 4, start=500)
    upload(client, folder, incoming_collection, manifest=False, progress=False)
    assert not list(tmp_path.glob("*.json"))
    demo.requests.clear()
    again = upload(client, folder, incoming_collection, manifest=False, progress=False)
    assert posts(demo, "data_files/") == []
    assert again.files["existing"] == 4 and again.files["uploaded"] == 0
    # without a manifest nothing says the units exist: they are created again (documented)
    assert len(again.created) == 4


def test_verify_checksums_finds_files_a_lost_manifest_forgot(
    demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    """A crash, then the manifest is lost: the server still says which files it has."""
    folder = tmp_path / "forgotten"
    make_images(folder, 16, start=1600)

    def crash(current: int, total: int, category: str) -> None:
        if category == "upload_data_files" and current >= 6:
            raise RuntimeError("simulated crash")

    with BackendClient(demo.url, api_token=demo.token) as plain:
        client = with_verify_checksums(plain)
        demo.requests.clear()
        with pytest.raises(RuntimeError):
            upload(client, folder, incoming_collection, workers=4, progress=crash)
        on_server = len(posts(demo, "data_files/"))  # every request started also finished
        assert 6 <= on_server < 16
        (tmp_path / f"forgotten.synapse-upload-{incoming_collection}.json").unlink()

        demo.requests.clear()
        report = upload(client, folder, incoming_collection, workers=4, progress=False)
    asked = [body(e) for e in posts(demo, "data_files/verify_checksums/")]
    assert sorted(c for a in asked for c in a["checksums"]) == sorted(
        md5(p) for p in folder.iterdir()
    )
    assert report.ok and len(report.created) == 16
    assert report.files["existing"] == on_server
    assert len(posts(demo, "data_files/")) == report.files["uploaded"] == 16 - on_server


def test_tasks_are_created_once_per_unit(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    sandbox = project_id(client, "Upload sandbox")
    folder = tmp_path / "tasks"
    make_images(folder, 7, start=700)
    report = upload(client, folder, incoming_collection, project_id=sandbox, batch_size=3,
                    progress=False)  # fmt: skip
    assert len(report.tasks) == 7
    tasks, _ = client.list_tasks({"project": sandbox}, url_conversion=False, list_all=True)
    by_id = {t["id"]: t for t in tasks}
    assert sorted(by_id[t]["data_unit"] for t in report.tasks) == sorted(report.created)
    demo.requests.clear()
    again = upload(client, folder, incoming_collection, project_id=sandbox, progress=False)
    assert again.tasks == [] and posts(demo, "tasks/") == []


def test_a_unit_the_server_rejects_does_not_fail_its_batch(
    client: BackendClient, incoming_collection: int, tmp_path: Path
) -> None:
    class OneBadUnit(BatchDataUnitStrategy):
        def create_data_unit_batch(self, client: Any, batch: list[dict[str, Any]]) -> list:
            for binding in batch:
                if binding["key"] == "img_0903":
                    binding["files"]["image_1"]["checksum"] = "0" * 32
            return super().create_data_unit_batch(client, batch)

    class Factory(StrategyFactory):
        def create_data_unit_strategy(self, *, batch_size: int = 100, **params: Any):
            return OneBadUnit(batch_size)

    folder = tmp_path / "reject"
    make_images(folder, 6, start=900)
    report = upload(client, folder, incoming_collection, strategy_factory=Factory(),
                    progress=False)  # fmt: skip
    assert len(report.created) == 5 and not report.ok
    assert [e["unit"] for e in report.errors] == ["img_0903"]
    assert "unknown checksum" in report.errors[0]["error"]
    manifest = _manifest(folder, incoming_collection)
    assert manifest["units"]["img_0903"]["state"] == "pending" and not manifest["completed"]


def test_server_lost_mid_upload_then_restarted_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "outage"
    make_images(folder, 24)
    quick = {"total": 1, "backoff_factor": 0.01, "backoff_jitter": 0.0, "backoff_max": 0.05}
    srv = start(demo=True, data_dir=tmp_path / "server")  # kept across the restart
    try:
        with BackendClient(srv.url, api_token=srv.token, retry=quick) as c:
            collection = next(
                x["id"] for x in c.list_data_collection()["results"]
                if x["name"] == "Incoming uploads"
            )  # fmt: skip

            def pull_the_plug(current: int, total: int, category: str) -> None:
                if category == "upload_data_files" and current >= 8 and srv.running:
                    srv.stop()

            with pytest.raises(ClientConnectionError) as caught:
                upload(c, folder, collection, workers=2, progress=pull_the_plug)
            assert "again to resume" in " ".join(caught.value.__notes__)
        recorded = sum(
            1 for f in _manifest(folder, collection)["files"].values() if f.get("uploaded")
        )
        assert 8 <= recorded < 24
        srv = start(data_dir=srv.data_dir, port=srv.port, token=srv.token)
        with BackendClient(srv.url, api_token=srv.token) as c:
            report = upload(c, folder, collection, workers=2, progress=False)
            assert report.ok and len(report.created) == 24
            assert report.files["existing"] >= recorded
            assert report.files["uploaded"] == 24 - report.files["existing"]
            assert len(units_in(c, collection)) == 24
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source_dir": "missing-folder"}, "source_dir"),
        ({"collection_id": "2"}, "collection_id"),
        ({"project_id": 0}, "project_id"),
        ({"metadata": "meta.txt"}, "metadata"),
        ({"metadata": "absent.csv"}, "metadata"),
        ({"recursive": "yes"}, "recursive"),
        ({"chunk_threshold": 0}, "chunk_threshold"),
        ({"workers": 0}, "workers"),
        ({"batch_size": 5000}, "batch_size"),
        ({"manifest": 3}, "manifest"),
        ({"progress": "bar"}, "progress"),
    ],
)
def test_bad_input_is_named_before_anything_is_sent(
    client: BackendClient, demo: Any, tmp_path: Path, kwargs: dict[str, Any], field: str
) -> None:
    folder = tmp_path / "ok"
    make_images(folder, 1)
    (tmp_path / "meta.txt").write_text("filename\n")
    args = {"source_dir": folder, "collection_id": 1, **kwargs}
    for key in ("source_dir", "metadata"):
        if isinstance(args.get(key), str):
            args[key] = tmp_path / args[key]
    demo.requests.clear()
    with pytest.raises(InvalidInputError) as caught:
        upload(client, args.pop("source_dir"), args.pop("collection_id"), **args)
    assert caught.value.field == field
    assert list(demo.requests) == []
    assert not list(tmp_path.glob("*.synapse-upload-*.json"))


def test_a_manifest_of_another_collection_is_refused(
    client: BackendClient, demo: Any, incoming_collection: int, street_collection: int,
    tmp_path: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "shared"
    make_images(folder, 1)
    shared = tmp_path / "one-manifest.json"
    upload(client, folder, incoming_collection, manifest=shared, progress=False)
    demo.requests.clear()
    with pytest.raises(
        InvalidInputError, match=f"belongs to data collection {incoming_collection}"
    ):
        upload(client, folder, street_collection, manifest=shared, progress=False)
    assert list(demo.requests) == []


@pytest.mark.parametrize("project", ["missing", "of another collection"])
def test_a_bad_project_is_refused_before_any_file_or_unit_is_sent(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path, project: str
) -> None:
    """A project that does not exist, or whose data collection is another one, is named
    before anything is uploaded: no data file, no data unit, no task, no manifest."""
    if project == "missing":
        pid, problem = 9999, "no such project"
    else:  # "Street detection" uses "Street scenes", not "Incoming uploads"
        pid = project_id(client, "Street detection")
        street = client.get_project(pid)["data_collection"]
        assert street != incoming_collection
        problem = f"uses data collection {street}, not {incoming_collection}"
    folder = tmp_path / "elsewhere"
    make_images(folder, 3, start=950)
    before = len(units_in(client, incoming_collection))
    tasks_before = len(list(client.list_tasks({}, url_conversion=False, list_all=True)[0]))
    demo.requests.clear()
    for manifest in (None, False):
        with pytest.raises(InvalidInputError, match=problem) as caught:
            upload(client, folder, incoming_collection, project_id=pid, manifest=manifest,
                   progress=False)  # fmt: skip
        assert caught.value.field == "project_id" and caught.value.value == pid
        assert "resume" not in " ".join(getattr(caught.value, "__notes__", []))
    assert [e["method"] for e in demo.requests if e["method"] != "GET"] == []
    assert requests_to(demo, "GET", f"projects/{pid}") != []
    assert len(units_in(client, incoming_collection)) == before
    assert len(list(client.list_tasks({}, url_conversion=False, list_all=True)[0])) == tasks_before
    assert not list(tmp_path.glob("*.synapse-upload-*.json"))  # nothing half-written


def test_a_collection_that_does_not_exist_points_at_no_manifest(
    client: BackendClient, tmp_path: Path
) -> None:
    # the run stops before it records anything: its note must not name a manifest that
    # was never written as the way to resume
    from synapse_nb.exceptions import NotFoundError

    folder = tmp_path / "nowhere"
    make_images(folder, 1)
    with pytest.raises(NotFoundError) as caught:
        upload(client, folder, 99_999, progress=False)
    note = " ".join(getattr(caught.value, "__notes__", []))
    assert "nothing was recorded" in note and "to resume" not in note
    assert not list(tmp_path.glob("*.synapse-upload-*.json"))


@pytest.mark.parametrize("factory", ["x", object()])
def test_a_strategy_factory_without_its_methods_is_refused(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path, factory: Any
) -> None:
    folder = tmp_path / "custom"
    make_images(folder, 1)
    demo.requests.clear()
    with pytest.raises(InvalidInputError, match="create_validation_strategy") as caught:
        upload(client, folder, incoming_collection, strategy_factory=factory, progress=False)
    assert caught.value.field == "strategy_factory"
    assert list(demo.requests) == []
    assert not list(tmp_path.glob("*.synapse-upload-*.json"))


def test_default_workers_follow_the_client_up_to_four(
    client: BackendClient, demo: Any, incoming_collection: int, tmp_path: Path
) -> None:
    """Each large file in flight holds two chunk buffers: uploads default to the client's
    ``max_workers`` but at most 4 (``workers=`` asks for more)."""
    from synapse_nb.plugins.upload import prepare_upload

    folder = tmp_path / "few"
    make_images(folder, 1)
    assert client.max_workers == 8  # the listing default
    context, _ = prepare_upload(client, folder, incoming_collection, progress=False)
    assert context.params.workers == 4
    context, _ = prepare_upload(client, folder, incoming_collection, workers=8, progress=False)
    assert context.params.workers == 8
    with BackendClient(demo.url, api_token=demo.token, max_workers=2) as narrow:
        context, _ = prepare_upload(narrow, folder, incoming_collection, progress=False)
    assert context.params.workers == 2
