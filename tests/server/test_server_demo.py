"""The demo workspace as a client sees it over HTTP (issue 2, "The demo workspace").

Image generation itself is tested in ``test_demo_media.py``; here the seeded workspace is
checked through the API: what exists, that it is deterministic and that its files download.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from pathlib import Path

import pytest
import requests
from demo_backends import backend_fixture
from PIL import Image

from synapse_nb.server import ServerHandle, start


def session_for(server: ServerHandle, token: str | None = None) -> requests.Session:
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {token or server.token}"
    return session


demo = backend_fixture()


@pytest.fixture(scope="module")
def get(demo):
    session = session_for(demo)

    def get(path: str, **params) -> dict:
        response = session.get(demo.url + path, params=params, timeout=30)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    yield get
    session.close()


def everything(get, path: str, **params) -> list[dict]:
    body = get(path, page_size=1000, **params)
    assert body["next"] is None
    return body["results"]


def test_projects_collections_and_tasks(get):
    projects = everything(get, "projects/")
    assert len(projects) >= 2
    collection = get(
        f"data_collections/{projects[0]['data_collection']}/", expand="file_specifications"
    )
    specs = collection["file_specifications"]
    assert specs and any(s["is_primary"] for s in specs)
    tasks = everything(get, "sdk/tasks/")
    assert len(tasks) >= 200
    assert {t["status"] for t in tasks} == {"pending", "in_progress", "completed"}
    assert len({t["project"] for t in tasks}) >= 2
    assert sum(bool(t["tags"]) for t in tasks) >= 10
    annotated = [t for t in tasks if t["data"]]
    assert len(annotated) >= 200
    kinds = Counter(k for t in annotated for image in t["data"].get("images", []) for k in image)
    for kind in ("bounding_box", "polygon"):
        assert kinds[kind] > 0, kinds


def test_assignments_for_several_users_with_review_states(get):
    assignments = everything(get, "sdk/assignments/")
    assert len({a["user"] for a in assignments}) >= 3
    assert len({a["status_review"] for a in assignments}) >= 4
    assert all(a["files"] for a in assignments)


def test_ground_truth_two_versions_with_events(get):
    datasets = everything(get, "ground_truth_datasets/")
    assert datasets
    versions = everything(
        get, "ground_truth_dataset_versions/", ground_truth_dataset=datasets[0]["id"]
    )
    assert len(versions) == 2
    assert all(v["event_count"] > 0 for v in versions)
    ids = [v["id"] for v in versions]
    events = get("sdk/ground_truth_events/", ground_truth_dataset_versions=ids, page_size=5)
    assert events["count"] == sum(v["event_count"] for v in versions)
    assert all(e["files"] and e["data"] for e in events["results"])


def test_models_plugins_jobs_storages_agent(get, demo):
    models = everything(get, "models/")
    assert len(models) >= 5
    assert len({m["version"] for m in models}) >= 3
    assert all({"mAP", "precision", "recall"} <= set(m["metrics"]) for m in models)
    assert all(m["file"] for m in models)
    assert everything(get, "plugin_releases/")
    jobs = everything(get, "jobs/")
    assert {"PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED"} <= {j["status"] for j in jobs}
    finished = next(j for j in jobs if j["status"] == "SUCCEEDED")
    assert get(f"jobs/{finished['id']}/console_logs/")["count"] > 0
    storages = everything(get, "storages/", with_configuration="true")
    assert len({s["provider"] for s in storages}) >= 3
    disk = next(s for s in storages if s["provider"] == "file_system")  # in the default root
    assert disk["configuration"]["location"] == str(demo.data_dir / "storages" / "local-disk")
    assert Path(disk["configuration"]["location"]).is_dir()
    assert everything(get, "agents/")
    health = requests.get(
        demo.agent_url + "health/", headers={"Authorization": demo.agent_token}, timeout=10
    )
    assert health.status_code == 200


def test_outsider_sees_nothing(demo):
    with session_for(demo, demo.issue_token("outsider")) as outsider:
        for path in ("projects/", "sdk/tasks/", "models/", "jobs/"):
            assert outsider.get(demo.url + path).json()["count"] == 0


def test_demo_images_download_without_auth_and_are_not_blank(get):
    tasks = get("sdk/tasks/", page_size=25)["results"]
    for task in tasks:
        image = task["files"]["image_1"]
        response = requests.get(image["url"], timeout=10)
        assert response.status_code == 200
        assert hashlib.md5(response.content).hexdigest() == image["checksum"]
        with Image.open(io.BytesIO(response.content)) as picture:
            extrema = picture.convert("L").getextrema()
        assert extrema[1] - extrema[0] > 30, task["id"]


def fingerprint(server: ServerHandle) -> dict:
    with session_for(server) as session:

        def rows(path: str, *keys: str) -> list[tuple]:
            body = session.get(server.url + path, params={"page_size": 1000}).json()
            return [tuple(repr(item[k]) for k in keys) for item in body["results"]]

        return {
            "tasks": rows("sdk/tasks/", "id", "project", "status", "assignee", "tags", "data"),
            "assignments": rows("sdk/assignments/", "id", "task", "user", "status_review"),
            "models": rows("models/", "id", "name", "version", "metrics"),
            "jobs": rows("jobs/", "action", "status", "params"),
            "files": [
                unit["files"]["image_1"]["checksum"]
                for unit in session.get(server.url + "data_units/").json()["results"]
            ],
        }


def test_the_demo_is_deterministic(demo):
    with start(demo=True) as again:
        assert fingerprint(again) == fingerprint(demo)
