"""Built-in export and evaluate jobs split into Ray tasks on a real local Ray head.

The demo workspace runs with ``ray=`` the session's head; a small ``shard_size`` forces several
shards. Each sharded job's product is compared with the same workflow run here without Ray.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from demo_backends import api_fixture, backend_fixture, client_fixture
from test_builtin_plugins import archive_of, exported_files, run, versions
from test_executor_ray import logs

from synapse_nb.clients import BackendClient
from synapse_nb.plugins.export import export
from synapse_nb.server.executors.ray_head import LocalRayHead

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


ray_demo = backend_fixture(uses={"ray": "ray_head"})
api = api_fixture("ray_demo")
backend = client_fixture("ray_demo", kind=BackendClient)


def finished(api, job_id: str, timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := api.get(f"jobs/{job_id}/").json())["status"] not in TERMINAL:
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.2)
    return job


def report_without_timing(raw: bytes) -> dict:
    report = json.loads(raw)
    for key in ("elapsed_s", "items_per_s", "path"):  # timings, and the folder it was made in
        assert key in report, sorted(report)
        report.pop(key)
    return report


@pytest.mark.parametrize(
    ("target", "fmt", "originals", "query"),
    [("task", "yolo", True, {"project": 1, "status": "completed"})],
)
def test_a_sharded_export_on_ray_publishes_the_unsharded_files(
    api, backend, tmp_path, target, fmt, originals, query
):
    gt_version, _ = versions(api)
    extra = {"ground_truth_version": gt_version} if target == "ground_truth" else {}
    ids = [t["id"] for t in api.get("tasks/", params={**query, "page_size": 4}).json()["results"]]
    split = {str(i): s for i, s in zip(ids, ("train", "val", "test", "val"), strict=False)}
    params = dict(target=target, format=fmt, query=query, save_original_file=originals,
                  shard_size=40, **extra)  # fmt: skip
    if target == "task":
        params["split"] = split
    job_id = run(api, "dataset-export", "export", **params)
    job = finished(api, job_id)
    lines = logs(api, job_id)
    assert job["status"] == "SUCCEEDED", lines[-8:]
    sharded = [m for _, m in lines if m.startswith("Sharded: ")]
    assert len(sharded) == 1 and "Ray tasks of up to 40" in sharded[0], lines
    assert int(sharded[0].split()[1]) > 80  # several shards
    with archive_of(job) as zf:
        zf.extractall(tmp_path / "ray")
    filters = {**query, **({"ground_truth_dataset_versions": [gt_version]} if extra else {})}
    direct = export(backend, target, fmt, tmp_path / "local", params=filters, progress=False,
                    split={int(k): v for k, v in split.items()} if target == "task" else None,
                    save_original_file=originals)  # fmt: skip
    got, want = exported_files(tmp_path / "ray"), exported_files(direct.path)
    assert sorted(got) == sorted(want)
    assert got == want  # byte for byte
    assert report_without_timing(
        (tmp_path / "ray" / "export_report.json").read_bytes()
    ) == report_without_timing((direct.path / "export_report.json").read_bytes())


def test_a_sharded_evaluation_on_ray_gives_the_unsharded_metrics(api, ray_demo):
    from synapse_nb.frames import Client

    gt_version, predictions = versions(api)
    job_id = run(api, "model-evaluate", "evaluate", ground_truth_version=gt_version,
                 predictions=predictions, iou_type="bbox", shard_size=50)  # fmt: skip
    job = finished(api, job_id)
    lines = logs(api, job_id)
    assert job["status"] == "SUCCEEDED", lines[-8:]
    assert any(m.startswith("Sharded: 180 + ") for _, m in lines), lines
    with Client(ray_demo.url, api_token=ray_demo.token, cache=False, progress=False) as client:
        direct = client.evaluate(ground_truth=gt_version, predictions=predictions)
    want = {str(k): round(float(v), 6) for k, v in direct.summary["value"].items()}
    assert job["result"]["summary"] == want
    assert job["result"]["per_class_ap"] == {
        str(k): round(float(v), 6) for k, v in direct.per_class["AP"].items()
    }
    assert job["result"]["images"] == len(direct.run.gt.image_ids) == 180


def finished_shards(ray_head: LocalRayHead) -> int:
    """How many ``fetch_shard`` Ray tasks finished on the head (its state API)."""
    tasks = requests.get(
        f"{ray_head.dashboard_url}/api/v0/tasks",
        params={"limit": 10000},
        headers={"Authorization": f"Bearer {ray_head.token}"},
        timeout=60,
    ).json()["data"]["result"]["result"]
    return sum(t.get("name") == "fetch_shard" and t.get("state") == "FINISHED" for t in tasks)


def test_a_stop_cancels_the_unfinished_shards(api, ray_demo, ray_head):
    before = finished_shards(ray_head)
    job_id = run(api, "dataset-export", "export", target="task", format="dm",
                 query={"project": 1}, save_original_file=False, shard_size=1)  # fmt: skip
    deadline = time.monotonic() + 180
    while '"fetch"' not in json.dumps((job := api.get(f"jobs/{job_id}/").json())
                                      .get("progress_record")):  # a shard has finished
        assert time.monotonic() < deadline, logs(api, job_id)
        assert job["status"] not in TERMINAL, logs(api, job_id)
        time.sleep(0.1)
    shards = int(next(m for _, m in logs(api, job_id) if m.startswith("Sharded: ")).split()[1])
    assert api.patch(f"jobs/{job_id}/", json={"status": "STOPPED"}).status_code == 200
    deadline = time.monotonic() + 60
    while ray_demo.state.jobs.is_active(job_id):  # the follower has read the job's last lines
        assert time.monotonic() < deadline, "the follower did not end after the stop"
        time.sleep(0.1)
    assert api.get(f"jobs/{job_id}/").json()["status"] == "STOPPED"
    cancelled = [m for _, m in logs(api, job_id) if m.startswith("Stop requested: cancelled ")]
    assert len(cancelled) == 1 and int(cancelled[0].split()[3]) > 0, logs(api, job_id)[-5:]
    time.sleep(2)  # Ray's task events arrive in batches
    assert finished_shards(ray_head) - before < shards
