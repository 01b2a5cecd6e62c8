"""The built-in numpy trainer as a real release: train, stop, resume, register, predict;
and a backend restart that finds a job its predecessor left running."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests
from test_server_executor import SLEEPER, archive, config, logs, wait, wait_for_log

from synapse_nb.server import start
from synapse_nb.server.demo.releases import BUILTIN, release_archive


def publish_trainer(api, make) -> str:
    code = make.plugin(category="neural_net")["code"]
    body = release_archive(BUILTIN / "trainer", code, "1.0.0")
    response = api.post(
        "plugin_releases/",
        data={"plugin": code, "version": "1.0.0"},
        files={"file": ("trainer.zip", body)},
    )
    assert response.status_code == 201, response.text
    assert set(response.json()["config"]["actions"]) == {"train", "predict"}
    return code


def start_job(api, code: str, action: str, **params) -> str:
    response = api.post(f"plugins/{code}/run/", json={"action": action, "params": params})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def epochs_logged(api, job_id: str) -> list[int]:
    record = api.get(f"jobs/{job_id}/").json()["metrics_record"].get("record", {})
    return sorted(int(k) for k in record.get("epoch", {}))


def test_train_stop_resume_register_predict(api, make):
    code = publish_trainer(api, make)
    first = start_job(api, code, "train", epochs=8, delay=0.4, model_name="lifecycle-model")
    deadline = time.monotonic() + 30
    while len(epochs_logged(api, first)) < 2:
        assert time.monotonic() < deadline, logs(api, first)
        time.sleep(0.05)
    api.patch(f"jobs/{first}/", json={"status": "STOPPED"})
    wait_for_log(api, first, "Stopped on request")  # the executor's last line: process ended
    stopped = wait(api, first)
    assert stopped["status"] == "STOPPED"
    last = stopped["result"]["stopped_at_epoch"]
    assert 2 <= last < 8 and epochs_logged(api, first) == list(range(1, last + 1))
    assert any("Stop requested: stopped after epoch" in m for _, m in logs(api, first))
    progress = stopped["progress_record"]["current_progress"]
    assert progress["overall"] == round(100 * last / 8, 2) and progress["eta_seconds"] > 0

    second = start_job(
        api, code, "train", epochs=8, resume_from=first, model_name="lifecycle-model"
    )
    done = wait(api, second, timeout=60)
    assert done["status"] == "SUCCEEDED", logs(api, second)
    messages = [m for _, m in logs(api, second)]
    assert messages[1] == f"Resuming from epoch {last} of job {first}"
    assert messages[2].startswith(f"epoch {last + 1}/8 loss=") and "ETA" in messages[2]
    assert epochs_logged(api, second) == list(range(1, 9))  # the whole run's curve
    losses = [done["metrics_record"]["record"]["epoch"][str(e)]["loss"] for e in range(1, 9)]
    assert losses[-1] < losses[0]

    model = api.get(f"models/{done['result']['model']}/").json()
    assert model["name"] == "lifecycle-model" and model["version"] == "epoch-8"
    assert model["metrics"]["val_accuracy"] == done["result"]["metrics"]["val_accuracy"]
    listed = api.get("models/", params={"page_size": 1000}).json()["results"]
    assert model["id"] in [m["id"] for m in listed]

    predicted = wait(api, start_job(api, code, "predict", from_job=second, samples=300))
    assert predicted["status"] == "SUCCEEDED"
    assert predicted["result"]["epoch"] == 8 and sum(predicted["result"]["counts"].values()) == 300
    assert predicted["result"]["accuracy"] > 0.5


def test_resume_from_a_job_without_checkpoints_fails_clearly(api, make):
    code = publish_trainer(api, make)
    job = wait(api, start_job(api, code, "train", resume_from="no-such-job"))
    assert job["status"] == "FAILED"
    assert "has no saved checkpoint to resume from" in job["result"]["error"]


SERVER = """
import sys, time
from synapse_nb.server import start
srv = start(data_dir=sys.argv[1], token=sys.argv[2])
print(srv.url, flush=True)
time.sleep(600)
"""


def test_a_restarted_backend_fails_the_jobs_left_running(tmp_path):
    token = "r" * 40
    backend = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path), token], stdout=subprocess.PIPE, text=True
    )
    try:
        url = backend.stdout.readline().strip()
        api = requests.Session()
        api.headers["Synapse-Access-Token"] = f"Token {token}"
        assert api.post(url + "plugins/", json={"name": "s", "code": "sleeper"}).status_code == 201
        body = archive(config("sleeper"), {"main.py": SLEEPER})
        created = api.post(
            url + "plugin_releases/",
            data={"plugin": "sleeper", "version": "1"},
            files={"file": ("p.zip", body)},
        )
        assert created.status_code == 201, created.text
        job_id = api.post(url + "plugins/sleeper/run/", json={}).json()["id"]
        wait_for_log(_Relative(api, url), job_id, "sleeping")
        pid = api.get(url + f"jobs/{job_id}/").json()["meta"]["executor"]["pid"]
    finally:
        backend.kill()  # a crash: no clean shutdown, the job process is left behind
        backend.wait()
    assert Path(f"/proc/{pid}").exists()
    srv = start(data_dir=tmp_path, token=token)
    try:
        job = srv.state.db.one("SELECT status, result FROM jobs WHERE id = ?", (job_id,))
        assert job["status"] == "FAILED"
        assert "The backend restarted while this job was RUNNING" in job["result"]
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists():
            assert time.monotonic() < deadline, "the orphaned job process was not killed"
            time.sleep(0.05)
        assert srv.state.db.scalar("SELECT COUNT(*) FROM job_tokens") == 0
    finally:
        srv.stop()


class _Relative:
    """``get`` on paths relative to ``url`` (what the helpers of the other module expect)."""

    def __init__(self, session: requests.Session, url: str) -> None:
        self.session, self.url = session, url

    def get(self, path: str, **kwargs):
        return self.session.get(self.url + path, timeout=10, **kwargs)


def test_stopping_the_backend_fails_its_running_jobs_and_ends_their_processes(tmp_path):
    srv = start(data_dir=tmp_path)
    api = _Relative(requests.Session(), srv.url)
    api.session.headers["Synapse-Access-Token"] = f"Token {srv.token}"
    api.session.post(srv.url + "plugins/", json={"name": "s", "code": "sleeper"})
    api.session.post(
        srv.url + "plugin_releases/",
        data={"plugin": "sleeper", "version": "1"},
        files={"file": ("p.zip", archive(config("sleeper"), {"main.py": SLEEPER}))},
    ).raise_for_status()
    running = api.session.post(srv.url + "plugins/sleeper/run/", json={}).json()["id"]
    wait_for_log(api, running, "sleeping")
    pid = api.get(f"jobs/{running}/").json()["meta"]["executor"]["pid"]
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 10
    assert not Path(f"/proc/{pid}").exists()
    again = start(data_dir=tmp_path)
    try:
        job = again.state.db.one("SELECT status, result FROM jobs WHERE id = ?", (running,))
        assert job["status"] == "FAILED"
        assert "The backend shut down while this job ran" in job["result"]
    finally:
        again.stop()
