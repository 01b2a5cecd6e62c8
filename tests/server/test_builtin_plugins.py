"""The built-in export and evaluate plugins, run for real as jobs of the demo workspace.

The demo publishes them as ``dataset-export`` and ``model-evaluate``; each test starts a job over
HTTP, waits for it and checks its product against the same workflow run here in the test.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import pytest
import requests
from demo_backends import api_fixture, backend_fixture, client_fixture
from srv_helpers import check_field_error
from test_server_executor import logs, wait

from synapse_nb.clients import BackendClient
from synapse_nb.frames import Client
from synapse_nb.plugins.export import export

GT_VERSION = "v2"  # the demo's reviewed ground truth
PREDICTIONS = "yolo-v8n 2.0.0 predictions"  # the dataset of a model's predictions


demo = backend_fixture()
api = api_fixture("demo")
backend = client_fixture("demo", kind=BackendClient)


def versions(api) -> tuple[int, int]:
    """(the reviewed ground-truth version, the model's predictions version) of the demo."""
    sets = api.get("ground_truth_datasets/", params={"page_size": 100}).json()["results"]
    named = {d["name"]: d["id"] for d in sets}
    rows = api.get("ground_truth_dataset_versions/", params={"page_size": 100}).json()["results"]
    gt = [r["id"] for r in rows if r["version"] == GT_VERSION and not r["is_archived"]]
    preds = [r["id"] for r in rows if r["ground_truth_dataset"] == named[PREDICTIONS]]
    assert len(gt) == 1 and len(preds) == 1, rows
    return gt[0], preds[0]


def run(api, plugin: str, action: str, **params) -> str:
    response = api.post(f"plugins/{plugin}/run/", json={"action": action, "params": params})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def succeeded(api, job_id: str, timeout: float = 90.0) -> dict:
    job = wait(api, job_id, timeout=timeout)
    assert job["status"] == "SUCCEEDED", logs(api, job_id)[-5:]
    return job


# ------------------------------------------------------------------ export


def archive_of(job: dict) -> zipfile.ZipFile:
    response = requests.get(job["result"]["archive"]["url"], timeout=60)  # a presigned URL
    assert response.status_code == 200
    assert len(response.content) == job["result"]["archive"]["size"]
    return zipfile.ZipFile(io.BytesIO(response.content))


def exported_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "export_report.json"  # holds timings
    }


@pytest.mark.parametrize(
    ("target", "fmt", "originals"),
    [
        ("task", "yolo", True),
        ("ground_truth", "coco", False),
        ("task", "voc", False),
        ("assignment", "dm", False),
    ],
)
def test_an_export_job_publishes_the_workflow_s_files(
    api, backend, tmp_path, target, fmt, originals
):
    gt_version, _ = versions(api)
    query = {"ground_truth_version": gt_version} if target == "ground_truth" else {}
    filters = {
        "task": {"project": 1, "status": "completed"},
        "assignment": {"project": 1},
    }.get(target, {})
    job = succeeded(
        api,
        run(api, "dataset-export", "export", target=target, format=fmt, query=filters,
            save_original_file=originals, **query),
    )  # fmt: skip
    direct = export(
        backend, target, fmt, tmp_path, progress=False, save_original_file=originals,
        params=filters or {"ground_truth_dataset_versions": [gt_version]},
    )  # fmt: skip
    expected = exported_files(direct.path)
    with archive_of(job) as zf:
        got = {name: zf.read(name) for name in zf.namelist() if name != "export_report.json"}
        assert "export_report.json" in zf.namelist()
    assert sorted(got) == sorted(expected)
    assert got == expected
    report = job["result"]["report"]
    assert report["exported"] == direct.exported == report["total"] > 0
    assert report["format"] == fmt and report["failed"] == 0
    assert report["original_files"]["success"] == (direct.exported if originals else 0)
    images = {Path(n).name for n in got if n.endswith(".jpg")}  # YOLO: once per task folder
    assert len(images) == (direct.exported if originals else 0)
    progress = job["progress_record"]["current_progress"]
    assert progress["overall"] == 100.0
    uploaded = f"as data file {job['result']['archive']['data_file']}"
    assert any(uploaded in m for _, m in logs(api, job["id"]))
    seen = json.dumps(job) + json.dumps(logs(api, job["id"]))
    assert not re.search(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])", seen)  # no token (40 hex)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"target": "task", "format": "png"}, "params.format"),
        ({"target": "projects", "format": "coco"}, "params.target"),
        ({"format": "coco"}, "params.target"),
        ({"target": "task", "format": "dm", "query": "project=1"}, "params.query"),
    ],
)
def test_bad_export_params_are_a_400_naming_the_field_and_start_nothing(api, params, field):
    before = api.get("jobs/", params={"plugin": "dataset-export"}).json()["count"]
    response = api.post("plugins/dataset-export/run/", json={"action": "export", "params": params})
    check_field_error(response, field)
    assert api.get("jobs/", params={"plugin": "dataset-export"}).json()["count"] == before


def test_a_stop_request_ends_an_export_job_stopped(demo, api):
    demo.set_faults(latency_ms=1500, paths=("tasks/",))  # a slow listing: the job is mid-fetch
    try:
        job_id = run(api, "dataset-export", "export", target="task", format="dm",
                     query={"project": 1})  # fmt: skip
        deadline = time.monotonic() + 20
        while api.get(f"jobs/{job_id}/").json()["status"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        api.patch(f"jobs/{job_id}/", json={"status": "STOPPED"})
        job = wait(api, job_id, timeout=20)
    finally:
        demo.set_faults()
    assert job["status"] == "STOPPED", logs(api, job_id)[-5:]
    assert "archive" not in (job.get("result") or {})
    assert any("Stopped on request" in m for _, m in logs(api, job_id))


def test_an_export_stopped_while_it_downloads_leaves_nothing_in_its_scratch(demo, api):
    job_id = run(api, "dataset-export", "export", target="task", format="yolo",
                 query={"project": 1}, save_original_file=True)  # fmt: skip
    deadline = time.monotonic() + 60
    scratch = None
    while scratch is None or not any(p.is_file() for p in scratch.rglob("*")):
        assert time.monotonic() < deadline, "the export never wrote into its scratch folder"
        found = [p for p in demo.data_dir.rglob("scratch") if p.parent.name == str(job_id)]
        scratch = found[0] if found else None
        time.sleep(0.02)
    api.patch(f"jobs/{job_id}/", json={"status": "STOPPED"})
    job = wait(api, job_id, timeout=30)
    assert job["status"] == "STOPPED", logs(api, job_id)[-5:]
    while job_id in demo.state.jobs.active_jobs():  # the process group is ending
        assert time.monotonic() < deadline + 30
        time.sleep(0.05)
    assert [p.name for p in scratch.rglob("*")] == []  # no export, originals or zip left


# ------------------------------------------------------------------ evaluate


@pytest.mark.parametrize("iou_type", ["bbox", "segm", "keypoints"])
def test_an_evaluate_job_s_metrics_equal_the_evaluation_run_here(demo, api, iou_type):
    gt_version, pred_version = versions(api)
    job = succeeded(
        api, run(api, "model-evaluate", "evaluate", ground_truth_version=gt_version,
                 predictions=pred_version, iou_type=iou_type)
    )  # fmt: skip
    # the notebook path (checked against pycocotools in tests/evaluation) on the same versions
    with Client(demo.url, api_token=demo.token, progress=False) as client:
        expected = client.evaluate(ground_truth=gt_version, predictions=pred_version,
                                   iou_type=iou_type)
    summary = {k: round(float(v), 6) for k, v in expected.summary["value"].items()}
    per_class = {k: round(float(v), 6) for k, v in expected.per_class["AP"].items()}
    result = job["result"]
    assert result["summary"] == summary and result["per_class_ap"] == per_class
    assert result["images"] == len(expected.run.gt.image_ids) and 0 < summary["AP"] < 1
    assert job["metrics_record"]["record"]["evaluation"][iou_type] == summary  # logged metrics
    assert "model" not in result


def test_evaluate_with_a_model_merges_the_metrics_into_the_model(api):
    gt_version, pred_version = versions(api)
    model = api.get("models/", params={"page_size": 1}).json()["results"][0]
    job = succeeded(
        api, run(api, "model-evaluate", "evaluate", ground_truth_version=gt_version,
                 predictions=pred_version, model=model["id"])
    )  # fmt: skip
    written = job["result"]["model"]
    assert written["id"] == model["id"]
    metrics = api.get(f"models/{model['id']}/").json()["metrics"]
    # the models' own naming, as push_metrics writes it: mAP is the COCO AP .50:.95, ...
    summary = job["result"]["summary"]
    assert {k: written["metrics"][k] for k in ("mAP", "mAP50", "mAP75", "recall")} == {
        "mAP": round(summary["AP"], 4), "mAP50": round(summary["AP50"], 4),
        "mAP75": round(summary["AP75"], 4), "recall": round(summary["AR100"], 4)}
    assert written["metrics"]["per_class_AP"] == {
        k: round(v, 4) for k, v in job["result"]["per_class_ap"].items() if v >= 0}
    assert metrics == {**(model["metrics"] or {}), **written["metrics"]}
    assert "AP" not in metrics  # no second naming of the same numbers


def test_evaluate_with_an_unknown_model_fails_before_reading_anything(api):
    gt_version, pred_version = versions(api)
    job_id = run(api, "model-evaluate", "evaluate", ground_truth_version=gt_version,
                 predictions=pred_version, model=999999)  # fmt: skip
    job = wait(api, job_id, timeout=60)
    assert job["status"] == "FAILED" and "999999" in job["result"]["error"]
    assert not job["progress_record"]  # failed before the first phase


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"predictions": 3}, "params.ground_truth_version"),
        ({"ground_truth_version": 2, "predictions": 3, "iou_type": "mask"}, "params.iou_type"),
        ({"ground_truth_version": 2, "predictions": 0}, "params.predictions"),
    ],
)
def test_bad_evaluate_params_are_a_400_naming_the_field(api, params, field):
    response = api.post(
        "plugins/model-evaluate/run/", json={"action": "evaluate", "params": params}
    )
    check_field_error(response, field)


def test_evaluating_an_unknown_version_fails_with_a_message_naming_it(api):
    gt_version, _ = versions(api)
    job = wait(api, run(api, "model-evaluate", "evaluate", ground_truth_version=gt_version,
                        predictions=999999), timeout=60)  # fmt: skip
    assert job["status"] == "FAILED"
    assert "999999" in job["result"]["error"]


def test_an_export_job_splits_items_as_asked(api):
    tasks = api.get("tasks/", params={"project": 1, "status": "completed", "page_size": 3})
    first, second, third = (t["id"] for t in tasks.json()["results"])
    split = {str(first): "train", str(second): "val", str(third): "val"}
    query = {"project": 1, "status": "completed"}
    job = succeeded(
        api, run(api, "dataset-export", "export", target="task", format="dm", query=query,
                 split=split, save_original_file=False)
    )  # fmt: skip
    report = job["result"]["report"]
    assert report["splits"]["train"] == 1 and report["splits"]["val"] == 2
    with archive_of(job) as zf:
        folders = {part for name in zf.namelist() for part in name.split("/")[:-1]}
    assert {"train", "val"} <= folders, sorted(folders)
    bad = run(api, "dataset-export", "export", target="task", format="dm", query=query,
              split={str(first): "holdout"})  # fmt: skip
    failed = wait(api, bad, timeout=60)
    assert failed["status"] == "FAILED" and "holdout" in failed["result"]["error"]
