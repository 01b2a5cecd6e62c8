"""The Ray executor runs the same tiny real plugin on a real local Ray head.

A session fixture starts ``ray start --head`` (one CPU, token authentication, every port
free on 127.0.0.1, its files in a temp folder) and ends exactly that head's processes at the
end; a backend started with ``ray=head`` submits its jobs through Ray's Jobs API. If Ray
cannot start, every test here fails with Ray's output (nothing is skipped).
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from srv_helpers import TINY_PLUGIN, plugin_zip, unique

from synapse_nb.server import ServerHandle, start
from synapse_nb.server.db import now
from synapse_nb.server.executors.ray import RayExecutor, parse_log
from synapse_nb.server.executors.ray_entry import MARK
from synapse_nb.server.executors.ray_head import LocalRayHead, _session_members
from synapse_nb.server.http import hash_token

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}

LEVELS_PLUGIN = """
import logging
import sys


def run(params, ctx):
    print("printed line")
    print("to stderr", file=sys.stderr, flush=True)
    logging.getLogger("plugin.custom").warning("logger warning")
    ctx.log_message("all good", level="success")
    return {"ok": True, "storage_roots": [str(root) for root in ctx.storage_roots]}
"""


@pytest.fixture(scope="module")
def ray_server(ray_head: LocalRayHead) -> Iterator[ServerHandle]:
    srv = start(ray=ray_head)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def rapi(ray_server: ServerHandle) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {ray_server.token}"
    yield _Prefixed(session, ray_server.url)
    session.close()


class _Prefixed:
    def __init__(self, session: requests.Session, base: str) -> None:
        self.session, self.base = session, base

    def __getattr__(self, method: str):
        return lambda path, **kw: self.session.request(method, self.base + path, **kw)


def release(api, source: str = TINY_PLUGIN) -> str:
    code = unique("rayplugin")
    assert api.post("plugins/", json={"name": code, "code": code}).status_code == 201
    response = api.post(
        "plugin_releases/",
        data={"plugin": code, "version": "1.0.0"},
        files={"file": ("p.zip", plugin_zip(code, source))},
    )
    assert response.status_code == 201, response.text
    return code


def run(api, code: str, **params) -> str:
    response = api.post(f"plugins/{code}/run/", json={"params": params})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def wait(api, job_id: str, timeout: float = 60.0, until=TERMINAL) -> dict:
    deadline = time.monotonic() + timeout
    while (job := api.get(f"jobs/{job_id}/").json())["status"] not in until:
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.05)
    return job


def logs(api, job_id: str) -> list[tuple[str, str]]:
    items = api.get(f"jobs/{job_id}/console_logs/", params={"page_size": 1000}).json()
    return [(e["level"], e["message"]) for e in items["results"]]


def ray_job_id(server: ServerHandle, job_id: str) -> str:
    return server.state.jobs.describe(job_id)["ray_job_id"] or _meta_ray_id(server, job_id)


def _meta_ray_id(server: ServerHandle, job_id: str) -> str:
    import json

    meta = json.loads(server.state.db.scalar("SELECT meta FROM jobs WHERE id = ?", (job_id,)))
    return meta["executor"]["ray_job_id"]


# ------------------------------------------------------------------ pure parsing


def test_parse_log_keeps_levels_and_leaves_a_partial_line():
    text = (
        "Running entrypoint for job x\n"
        + MARK
        + '{"logs": [{"message": "careful", "level": "warning"}], "metrics": [], '
        '"result": [{"ok": 1}], "errors": [], "progress": {"percent": 50.0}}\n'
        + MARK
        + '{"exit_code": 0, "terminated": false}\n'
        + "half a li"
    )
    got, end, used = parse_log(text)
    assert [(e["level"], e["message"]) for e in got.logs] == [
        ("info", "Running entrypoint for job x"),
        ("warning", "careful"),
    ]
    assert got.result == [{"ok": 1}] and got.progress == {"percent": 50.0}
    assert end == {"exit_code": 0, "terminated": False}
    assert text[used:] == "half a li"
    assert parse_log(text, final=True)[0].logs[-1]["message"] == "half a li"


def test_an_unreachable_ray_address_is_a_clear_error_and_leaves_nothing(tmp_path):
    from synapse_nb.exceptions import SynapseNBError
    from synapse_nb.server.executors.ray_head import RayError, free_port

    address = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RayError, match="cannot reach Ray's Jobs API at ray address") as info:
        start(ray=address, data_dir=tmp_path / "data")
    assert address in str(info.value) and isinstance(info.value, SynapseNBError)
    with pytest.raises(RayError):
        start(ray=address)  # its temporary data dir goes too (the temp guard checks)


def test_serve_with_an_unreachable_ray_address_says_so_without_a_traceback(tmp_path):
    import subprocess
    import sys

    from synapse_nb.server.executors.ray_head import free_port

    address = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "synapse_nb.cli", "serve", "--port", "0", "--ray", address],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert f"synapse-nb: cannot reach Ray's Jobs API at ray address '{address}'" in done.stderr
    assert "Traceback" not in done.stderr


WATCHED = """
import os, subprocess, sys
from synapse_nb.server.executors.ray_head import LocalRayHead

head = LocalRayHead()  # owns a new folder under /tmp
daemon = subprocess.Popen(
    ["sleep", "60"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
)  # stands in for the processes of a Ray head
head._sid = daemon.pid
head._watch()
print(daemon.pid, head.temp_dir, flush=True)
os._exit(0)  # dies without stop(), as a killed notebook kernel does
"""


def test_a_head_whose_owner_dies_is_ended_by_its_watchdog():
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [sys.executable, "-c", WATCHED], capture_output=True, text=True, timeout=60, check=True
    )
    pid, folder = done.stdout.split()
    deadline = time.monotonic() + 20
    while _session_members(int(pid)) or Path(folder).exists():
        assert time.monotonic() < deadline, "the watchdog left the head's session or folder"
        time.sleep(0.1)


# ------------------------------------------------------------------ on the head


def test_a_job_succeeds_on_ray_with_logs_progress_metrics(rapi, ray_server, ray_head):
    job_id = run(rapi, release(rapi), steps=3, seconds=0.01)
    job = wait(rapi, job_id)
    assert job["status"] == "SUCCEEDED", logs(rapi, job_id)
    assert job["result"] == {"ok": True}
    lines = logs(rapi, job_id)
    assert ("info", "step 3/3") in lines
    assert any("Submitted to Ray as synapse-" in m for _, m in lines)
    assert job["progress_record"]["current_progress"]["overall"] == 100.0
    assert job["metrics_record"]["record"]["steps"]["3"] == {"loss": 0.3333}
    # Ray itself ran it: its Jobs API knows the job and says it succeeded
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(
        ray_head.dashboard_url, headers={"Authorization": f"Bearer {ray_head.token}"}
    )
    ray_id = ray_job_id(ray_server, job_id)
    assert str(client.get_job_status(ray_id).value) == "SUCCEEDED"
    assert client.get_job_info(ray_id).metadata["synapse_job"] == job_id
    # the job's token was revoked when it ended; the package with it left our disk
    tokens = "SELECT count(*) FROM job_tokens WHERE job_id = ?"
    assert ray_server.state.db.scalar(tokens, (job_id,)) == 0
    assert not list(ray_server.data_dir.glob(f"jobs/*/{job_id}/ray_package"))


def test_levels_of_print_stderr_logger_and_log_message_are_kept(rapi, ray_server):
    job_id = run(rapi, release(rapi, LEVELS_PLUGIN))
    job = wait(rapi, job_id)
    assert job["status"] == "SUCCEEDED", logs(rapi, job_id)
    roots = [str(root) for root in ray_server.state.config.allowed_storage_roots]
    assert job["result"]["storage_roots"] == roots  # through the launcher, as local jobs get them
    lines = logs(rapi, job_id)
    for expected in [
        ("info", "printed line"),
        ("warning", "to stderr"),
        ("warning", "logger warning"),
        ("success", "all good"),
    ]:
        assert expected in lines, lines


def test_a_raising_plugin_fails_with_its_traceback(rapi):
    job_id = run(rapi, release(rapi), steps=4, seconds=0.01, fail=True)
    job = wait(rapi, job_id)
    assert job["status"] == "FAILED"
    raised = "The action raised: RuntimeError: failure requested by params.fail"
    assert job["result"]["error"] == raised
    errors = [m for level, m in logs(rapi, job_id) if level == "error"]
    assert any(m.startswith("Traceback") and "tiny.py" in m for m in errors), errors


def test_logs_arrive_while_running_and_stop_maps_to_rays_stop(rapi, ray_server, ray_head):
    job_id = run(rapi, release(rapi), steps=600, seconds=0.1)
    deadline = time.monotonic() + 60
    while not any(m == "step 2/600" for _, m in logs(rapi, job_id)):
        assert time.monotonic() < deadline, logs(rapi, job_id)
        time.sleep(0.05)
    assert rapi.get(f"jobs/{job_id}/").json()["status"] == "RUNNING"  # lines came while running
    ray_id = ray_job_id(ray_server, job_id)
    asked = time.monotonic()
    assert rapi.patch(f"jobs/{job_id}/", json={"status": "STOPPED"}).status_code == 200
    deadline = time.monotonic() + 30
    while ray_server.state.jobs.is_active(job_id):
        assert time.monotonic() < deadline, "the follower did not end after the stop"
        time.sleep(0.05)
    took = time.monotonic() - asked
    assert rapi.get(f"jobs/{job_id}/").json()["status"] == "STOPPED"
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(
        ray_head.dashboard_url, headers={"Authorization": f"Bearer {ray_head.token}"}
    )
    assert str(client.get_job_status(ray_id).value) == "STOPPED"
    steps = [m for _, m in logs(rapi, job_id) if m.startswith("step ")]
    assert len(steps) < 600 and took < 20, (len(steps), took)


TOKEN_PLUGIN = """
import hashlib
import time


def run(params, ctx):
    base_url, token = ctx.backend_access()
    projects = ctx.client.list_projects()["count"]  # the job reaches the backend with it
    ctx.log_message("token in hand")
    time.sleep(params["seconds"])
    return {"token_sha256": hashlib.sha256(token.encode()).hexdigest(), "projects": projects}
"""


def _hex_windows(data: bytes, size: int = 40) -> set[bytes]:
    """Every run of ``size`` hex digits in ``data`` (a token could hide in a longer run)."""
    import re

    return {run[i : i + size] for run in re.findall(rb"[0-9a-fA-F]{%d,}" % size, data)
            for i in range(len(run) - size + 1)}  # fmt: skip


def test_what_ray_receives_holds_a_one_time_claim_and_never_the_job_token(
    rapi, ray_server, monkeypatch
):
    import hashlib
    import json
    from pathlib import Path

    executor, sent = ray_server.state.jobs, []
    submit = executor.client.submit_job

    def keep_what_ray_gets(**kwargs):  # the real submission; its bytes are read first
        folder = Path(kwargs["runtime_env"]["working_dir"])
        files = {p.relative_to(folder).as_posix(): p.read_bytes()
                 for p in folder.rglob("*") if p.is_file()}  # fmt: skip
        sent.append((json.dumps(kwargs, default=str).encode(), files))
        return submit(**kwargs)

    monkeypatch.setattr(executor.client, "submit_job", keep_what_ray_gets)
    code = release(rapi, TOKEN_PLUGIN)
    job_id = run(rapi, code, seconds=3.0)
    deadline = time.monotonic() + 60
    while ("info", "token in hand") not in logs(rapi, job_id):
        assert time.monotonic() < deadline, logs(rapi, job_id)
        time.sleep(0.05)
    (request, files), = sent
    spec = json.loads(files["_synapse_job.json"])
    assert spec["token"] is None and len(spec["claim"]) > 20
    url = f"{ray_server.url}internal/jobs/{job_id}/claim/"
    replay = requests.post(url, json={"claim": spec["claim"]}, timeout=30)  # while it runs
    assert replay.status_code == 403
    assert replay.json()["detail"].startswith("This claim code is not this job's claim code, or "
                                              "was already used"), replay.text  # fmt: skip
    job = wait(rapi, job_id)
    assert job["status"] == "SUCCEEDED", logs(rapi, job_id)
    assert job["result"]["projects"] == rapi.get("projects/").json()["count"]  # it was heard
    token_hash = job["result"]["token_sha256"]
    blobs = [request, *files.values()]
    assert not [w for blob in blobs for w in _hex_windows(blob)
                if hashlib.sha256(w).hexdigest() == token_hash]  # fmt: skip
    assert requests.post(url, json={"claim": spec["claim"]}, timeout=30).status_code == 403
    scratch = list(ray_server.data_dir.glob(f"jobs/*/{job_id}/scratch"))
    assert not [p for folder in scratch for p in folder.rglob("*") if p.is_file()]  # spec gone


def test_a_job_run_in_place_claims_its_token_too(rapi, ray_server, monkeypatch):
    monkeypatch.setattr(ray_server.state.jobs, "ship_release", False)  # the release's folder
    job_id = run(rapi, release(rapi, TOKEN_PLUGIN), seconds=0.01)
    job = wait(rapi, job_id)
    assert job["status"] == "SUCCEEDED", logs(rapi, job_id)
    assert job["result"]["projects"] == rapi.get("projects/").json()["count"]
    assert not list(ray_server.data_dir.glob(f"jobs/*/{job_id}/*.json"))  # no spec left


def test_a_claim_is_void_once_expired_or_once_its_job_ended_and_never_a_5xx(rapi, ray_server):
    from synapse_nb.server.executors import claims

    job_id = run(rapi, release(rapi), steps=1, seconds=0.01)
    assert wait(rapi, job_id)["status"] == "SUCCEEDED", logs(rapi, job_id)
    url = f"{ray_server.url}internal/jobs/{job_id}/claim/"
    db = ray_server.state.db
    post = functools.partial(requests.post, url, timeout=30)
    answers = {
        "ended": post(json={"claim": claims.issue(db, job_id)}),
        "expired": post(json={"claim": claims.issue(db, job_id, ttl=-1)}),
        "wrong": post(json={"claim": "guessed"}),
        "other job": requests.post(url.replace(job_id, "no-such-job"), json={"claim": "x"},
                                   timeout=30),
    }
    for case, reason in {"ended": "is void: the job has ended (SUCCEEDED)",
                         "expired": "has expired", "wrong": "is not this job's claim code",
                         "other job": "is not this job's claim code"}.items():  # fmt: skip
        response = answers[case]
        assert response.status_code == 403, (case, response.text)
        assert reason in response.json()["detail"], (case, response.text)
    for body in ({}, {"claim": ["a list"]}, {"claim": "x" * 500}):
        response = post(json=body)
        assert response.status_code == 400 and "claim" in response.json(), response.text
    paths = requests.get(f"{ray_server.url}openapi.json", timeout=30).json()["paths"]
    assert not [p for p in paths if "internal" in p]  # not part of the API


CHATTY = """
import time


def run(params, ctx):
    for i in range(params["lines"]):
        print(f"line {i}")
        if i % 1000 == 999:
            time.sleep(params["pause"])  # the log grows while the follower reads it
    return {"ok": True}
"""


def all_messages(api, job_id: str) -> list[str]:
    """Every console log message of a job, page after page."""
    out, page = [], 1
    while True:
        params = {"page_size": 1000, "page": page}
        body = api.get(f"jobs/{job_id}/console_logs/", params=params).json()
        out += [e["message"] for e in body["results"]]
        if not body.get("next"):
            return out
        page += 1


def ray_client(head_or_url, token: str):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(head_or_url, headers={"Authorization": f"Bearer {token}"})


def test_a_chatty_job_arrives_whole_in_order_once_and_its_log_is_read_once(
    rapi, ray_server, ray_head
):
    executor = ray_server.state.jobs
    fetched_before = executor.log_chars_fetched
    job_id = run(rapi, release(rapi, CHATTY), lines=20000, pause=0.1)
    job = wait(rapi, job_id, timeout=120)
    assert job["status"] == "SUCCEEDED", logs(rapi, job_id)
    lines = [m for m in all_messages(rapi, job_id) if m.startswith("line ")]
    assert lines == [f"line {i}" for i in range(20000)]
    # each character of Ray's log came over once (plus at most one full read at the end),
    # where reading the whole log at every poll fetches it many times over
    size = len(ray_client(ray_head.dashboard_url, ray_head.token).get_job_logs(
        ray_job_id(ray_server, job_id)))
    assert size > 20000 * len("line 0")
    deadline = time.monotonic() + 10
    while executor.is_active(job_id):  # the follower records what it fetched as it leaves
        assert time.monotonic() < deadline
        time.sleep(0.05)
    fetched = executor.log_chars_fetched - fetched_before
    assert size <= fetched <= 2 * size, (fetched, size)
    stream = f"ray-log-{_meta_ray_id(ray_server, job_id)}"
    assert not [t for t in threading.enumerate() if t.name == stream]  # ended with the job


class _Cutter:
    """A TCP forwarder to Ray's dashboard whose open connections a test can cut at will."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self.listener.accept()
            except OSError:
                return
            far = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.open += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            cut, self.open = self.open, []
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_a_dropped_log_stream_resumes_without_duplicates_or_losses(ray_head):
    import types

    port = int(ray_head.dashboard_url.rsplit(":", 1)[1])
    cutter = _Cutter(port)
    srv = start(ray=types.SimpleNamespace(dashboard_url=cutter.url, token=ray_head.token))
    api = _Prefixed(requests.Session(), srv.url)
    api.session.headers["Authorization"] = f"Token {srv.token}"
    try:
        job_id = run(api, release(api, CHATTY), lines=3000, pause=1.0)
        for seen in (500, 1500):  # cut every connection (the log stream too) twice mid-job
            deadline = time.monotonic() + 60
            while api.get(f"jobs/{job_id}/console_logs/").json()["count"] < seen:
                assert time.monotonic() < deadline, logs(api, job_id)
                time.sleep(0.05)
            cutter.cut()
        job = wait(api, job_id, timeout=120)
        assert job["status"] == "SUCCEEDED", logs(api, job_id)
        lines = [m for m in all_messages(api, job_id) if m.startswith("line ")]
        assert lines == [f"line {i}" for i in range(3000)]
        assert srv.state.jobs.stream_drops >= 2
    finally:
        api.session.close()
        srv.stop()
        cutter.close()


def test_a_restarted_backend_reattaches_to_a_running_ray_job(ray_head, tmp_path):
    data = tmp_path / "data"
    first = start(ray=ray_head, data_dir=data)
    api = _Prefixed(requests.Session(), first.url)
    api.session.headers["Authorization"] = f"Token {first.token}"
    job_id = run(api, release(api), steps=30, seconds=0.1)
    wait(api, job_id, until={"RUNNING"})
    first.state.jobs.close(stop_jobs=False)  # the backend goes away, the job keeps running
    assert api.get(f"jobs/{job_id}/").json()["status"] == "RUNNING"
    again = RayExecutor(first.state, ray_head.dashboard_url, token=ray_head.token)
    first.state.jobs = again  # what a backend started on the same data dir does
    try:
        job = wait(api, job_id)
        assert job["status"] == "SUCCEEDED", logs(api, job_id)
        steps = [m for _, m in logs(api, job_id) if m.startswith("step ")]
        assert steps == [f"step {i}/30" for i in range(1, 31)]  # each line once, none lost
        assert any("re-attached to Ray job synapse-" in m for _, m in logs(api, job_id))
    finally:
        api.session.close()
        first.stop()


def test_a_restart_fails_a_job_ray_does_not_know(rapi, ray_server, ray_head):
    import json

    ended = "SELECT id FROM jobs WHERE status IN ('SUCCEEDED', 'FAILED', 'STOPPED') LIMIT 1"
    job_id = ray_server.state.db.scalar(ended)  # an earlier test's job saves a Ray run
    if job_id is None:
        job_id = run(rapi, release(rapi), steps=1, seconds=0.01)
        wait(rapi, job_id)
    meta = {"executor": {"kind": "ray", "ray_job_id": "synapse-never-submitted"}}
    with ray_server.state.db.write() as con:  # as if the backend had died while it ran
        con.execute(
            "UPDATE jobs SET status = 'RUNNING', meta = ? WHERE id = ?", (json.dumps(meta), job_id)
        )
    RayExecutor(ray_server.state, ray_head.dashboard_url, token=ray_head.token).close()
    job = rapi.get(f"jobs/{job_id}/").json()
    assert job["status"] == "FAILED"
    assert "Ray no longer knows its Ray job synapse-never-submitted" in job["result"]["error"]


def test_the_agent_reports_the_ray_cluster(ray_server, ray_head):
    from synapse_nb.server.executors.ray_cluster import RayCluster

    cluster = ray_server.state.jobs.cluster
    assert isinstance(cluster, RayCluster) and ray_head.token not in repr(cluster)
    nodes = cluster.nodes()
    assert len(nodes) == 1 and nodes[0]["alive"] and nodes[0]["is_head_node"]
    assert nodes[0]["resources"]["CPU"] == 1.0  # the head was started with --num-cpus=1
    status = cluster.gpu_status()
    assert status["cpu_count"] == 1 and status["nodes"] == 1 and status["source"] == "ray"
    assert cluster.serve_applications() == []  # Serve does not run on this head


def test_the_agent_api_answers_from_the_cluster(ray_server):
    token = secrets.token_hex(20)
    with ray_server.state.db.write() as con:
        tenant = con.execute("SELECT tenant_id FROM users WHERE username = 'admin'").fetchone()[0]
        con.execute(
            "INSERT INTO agents (tenant_id, name, url, token_hash, token, created) "
            "VALUES (?, 'ray agent', 'http://127.0.0.1:1/', ?, ?, ?)",
            (tenant, hash_token(token), token, now()),
        )
    headers = {"Authorization": token}
    nodes = requests.get(ray_server.agent_url + "nodes/", headers=headers, timeout=30).json()
    assert nodes["count"] == 1 and nodes["results"][0]["source"] == "ray"
    node_id = nodes["results"][0]["node_id"]
    one = requests.get(ray_server.agent_url + f"nodes/{node_id}/", headers=headers, timeout=30)
    assert one.status_code == 200 and one.json()["resources"]["CPU"] == 1.0
    gpu = requests.get(ray_server.agent_url + "gpu_status/", headers=headers, timeout=30).json()
    assert gpu["cpu_count"] == 1 and gpu["total"] == 0 and gpu["source"] == "ray"
    serve = requests.get(ray_server.agent_url + "serve_applications/", headers=headers, timeout=30)
    assert serve.status_code == 200 and serve.json()["count"] == 0
    jobs = requests.get(ray_server.agent_url + "jobs/", headers=headers, timeout=30).json()
    ray_jobs = [
        j
        for j in jobs["results"]
        if j["driver_info"]["executor"] == "ray" and j["status"] == "SUCCEEDED"
    ]
    assert ray_jobs and all(
        j["driver_info"]["node"] == ray_server.state.jobs.node for j in ray_jobs
    )
