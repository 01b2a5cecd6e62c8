"""The local executor runs real plugin code: releases, outputs, failures, stops, tokens.

Each test builds its release archive here (a ``config.yaml`` and a module) and posts it
through ``POST plugin_releases/``; jobs run in real subprocesses of the session server.
"""

from __future__ import annotations

import io
import json
import stat
import time
import zipfile
from pathlib import Path

import pytest
import requests
from demo_backends import ApiSession, token_headers
from srv_helpers import check_field_error, unique

from synapse_nb.server.executors.release import Limits, ReleaseError, extract_archive

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def archive(config: str, files: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        if config is not None:
            zf.writestr("config.yaml", config)
        for name, text in (files or {}).items():
            zf.writestr(name, text)
    return buffer.getvalue()


def config(code: str, entry: str = "main:run", extra: str = "", top: str = "") -> str:
    return (
        f"name: {code}\ncode: {code}\nversion: 1.0.0\n{top}"
        f"actions:\n  run:\n    entrypoint: {entry}\n    method: job\n{extra}"
    )


def release(api, make, source: str, **kwargs) -> str:
    """A plugin whose release runs ``source`` as ``main.py``; returns the plugin code."""
    code = make.plugin()["code"]
    body = archive(config(code, **kwargs), {"main.py": source})
    response = api.post(
        "plugin_releases/",
        data={"plugin": code, "version": "1.0.0"},
        files={"file": ("p.zip", body)},
    )
    assert response.status_code == 201, response.text
    return code


def run(api, code: str, **params) -> str:
    response = api.post(f"plugins/{code}/run/", json={"params": params})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def wait(api, job_id: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := api.get(f"jobs/{job_id}/").json())["status"] not in TERMINAL:
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.03)
    return job


def logs(api, job_id: str) -> list[tuple[str, str]]:
    items = api.get(f"jobs/{job_id}/console_logs/", params={"page_size": 1000}).json()
    return [(e["level"], e["message"]) for e in items["results"]]


def wait_for_log(api, job_id: str, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in m for _, m in logs(api, job_id)):
        assert time.monotonic() < deadline, f"no log line {text!r} in job {job_id}"
        time.sleep(0.03)


# ------------------------------------------------------------------ releases


def post_release(api, code: str, body: bytes):
    return api.post(
        "plugin_releases/",
        data={"plugin": code, "version": unique("v")},
        files={"file": ("p.zip", body)},
    )


@pytest.mark.parametrize(
    ("make_config", "field"),
    [
        (lambda c: None, "file"),
        (lambda c: "name: x\nactions:\n  run:\n    entrypoint: main:run\n", "config.code"),
        (lambda c: config("someone-else"), "config.code"),
        (lambda c: config(c, entry="main"), "config.actions.run.entrypoint"),
        (lambda c: config(c, extra="    method: teleport\n"), "config.actions.run.method"),
        (lambda c: config(c, top="category: toaster\n"), "config.category"),
        (lambda c: config(c, top="requirements: numpy\n"), "config.requirements"),
        (
            lambda c: config(c, extra="    params:\n      n: {type: matrix}\n"),
            "config.actions.run.params.n.type",
        ),
        (lambda c: f"code: {c}\nactions: [unclosed\n", "config"),
        (lambda c: f"code: {c}\nactions: {{}}\n", "config.actions"),
    ],
)
def test_a_bad_config_is_a_400_naming_the_field(api, make, server, make_config, field):
    code = make.plugin()["code"]
    before = set((server.data_dir / "releases").glob("*"))
    response = post_release(api, code, archive(make_config(code), {"main.py": "def run(): 1\n"}))
    check_field_error(response, field)
    assert api.get("plugin_releases/", params={"plugin": code}).json()["count"] == 0
    assert set((server.data_dir / "releases").glob("*")) == before  # nothing kept


def unsafe_zip(name: str, *, link: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("config.yaml", "code: x\nactions:\n  run:\n    entrypoint: main:run\n")
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        if link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd" if link else "print('escaped')\n")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "link"),
    [
        ("../escaped.py", False),
        ("/tmp/escaped-abs.py", False),
        ("sub/../../up.py", False),
        ("innocent.py", True),
    ],
)
def test_an_archive_cannot_write_outside_its_release(api, make, server, name, link):
    code = make.plugin()["code"]
    response = post_release(api, code, unsafe_zip(name, link=link))
    messages = check_field_error(response, "file")
    assert "escapes the release" in messages[0] or "link" in messages[0]
    root = server.data_dir
    assert not (root / "release_code" / "escaped.py").exists()
    assert not (root / "escaped.py").exists() and not Path("/tmp/escaped-abs.py").exists()
    assert not any(p.name.startswith("staging-") for p in (root / "release_code").glob("*"))


def test_not_a_zip_is_a_400(api, make):
    code = make.plugin()["code"]
    check_field_error(post_release(api, code, b"PK\x03\x04 not really a zip"), "file")


def test_unpacking_stops_at_the_size_limit_whatever_the_headers_say(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.yaml", "code: x\n")
        zf.writestr("zeros.bin", b"\0" * 50_000)
    with pytest.raises(ReleaseError, match="size limit") as refused:
        extract_archive(path, tmp_path / "out", Limits(max_unpacked_bytes=10_000))
    assert refused.value.field == "file"
    assert not (tmp_path / "out").exists()
    assert extract_archive(path, tmp_path / "ok") == tmp_path / "ok"


def test_a_release_folder_inside_the_archive_is_found(api, make):
    code = make.plugin()["code"]
    body = archive(
        None, {"pkg/config.yaml": config(code), "pkg/main.py": "def run():\n    return 7\n"}
    )
    response = post_release(api, code, body)
    assert response.status_code == 201, response.text
    assert wait(api, run(api, code))["result"] == 7


# ------------------------------------------------------------------ runs


def test_run_checks_action_and_params_before_creating_a_job(api, make):
    schema = "    params:\n      n: {type: integer, minimum: 1, required: true}\n"
    code = release(api, make, "def run(params, ctx):\n    return params\n", extra=schema)
    before = api.get("jobs/", params={"plugin": code}).json()["count"]
    check_field_error(api.post(f"plugins/{code}/run/", json={"action": "nope"}), "action")
    check_field_error(api.post(f"plugins/{code}/run/", json={"params": {}}), "params.n")
    check_field_error(api.post(f"plugins/{code}/run/", json={"params": {"n": "3"}}), "params.n")
    check_field_error(api.post(f"plugins/{code}/run/", json={"params": {"n": 0}}), "params.n")
    assert api.get("jobs/", params={"plugin": code}).json()["count"] == before
    assert wait(api, run(api, code, n=2, extra="kept"))["result"] == {"n": 2, "extra": "kept"}


OUTPUTS = """
import logging
import sys

log = logging.getLogger("my.plugin")


class Action:
    def __init__(self, params, ctx):
        self.params, self.ctx = params, ctx

    def run(self):
        print("to stdout")
        print("to stderr", file=sys.stderr)
        log.debug("not shown at the default level")
        log.info("logger info")
        log.warning("logger warning")
        log.error("logger error")
        self.ctx.log_message("context success", level="success")
        return {"class": type(self).__name__}
"""


def test_outputs_become_console_logs_with_levels(api, make):
    code = release(api, make, OUTPUTS, entry="main:Action")
    job = wait(api, run(api, code))
    assert job["status"] == "SUCCEEDED" and job["result"] == {"class": "Action"}
    lines = logs(api, job["id"])
    assert lines[0] == ("info", "Starting action 'run'")
    assert lines[-1] == ("success", "Done")
    body = set(lines[1:-1])
    assert {
        ("info", "to stdout"),
        ("warning", "to stderr"),
        ("info", "logger info"),
        ("warning", "logger warning"),
        ("error", "logger error"),
        ("success", "context success"),
    } == body


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def run():\n    raise SystemExit\n", "The plugin called sys.exit(None)"),
        ("import os\n\ndef run():\n    os._exit(0)\n", "exited (code 0) before its action"),
        ("import os\n\ndef run():\n    os._exit(3)\n", "exited with code 3"),
        (
            "import os, signal\n\ndef run():\n    os.kill(os.getpid(), signal.SIGKILL)\n",
            "killed by SIGKILL",
        ),
        ("import nowhere_to_be_found\n\ndef run():\n    pass\n", "ModuleNotFoundError"),
    ],
)
def test_abnormal_ends_fail_the_job_with_a_clear_message(api, make, source, message):
    job = wait(api, run(api, release(api, make, source)))
    assert job["status"] == "FAILED"
    assert any(message in text for _, text in logs(api, job["id"])), logs(api, job["id"])
    assert job["result"]["error"]


def test_a_missing_requirement_fails_the_job_naming_it(api, make):
    top = "requirements:\n  - numpy\n  - surely-not-installed-pkg>=1\n  - pip<1\n"
    job = wait(api, run(api, release(api, make, "def run():\n    return 1\n", top=top)))
    assert job["status"] == "FAILED" and job["started"] is None  # no process was started
    [(level, message)] = logs(api, job["id"])
    assert level == "error"
    assert message.startswith("Missing requirement(s) in the backend's Python: "), message
    assert "'surely-not-installed-pkg>=1' (not installed)" in message
    assert "'pip<1' (version" in message and "numpy" not in message.replace("numpy>", "")


def test_a_job_over_its_timeout_fails(api, make):
    extra = "    timeout: 1\n"
    started = time.monotonic()
    job = wait(api, run(api, release(api, make, SLEEPER, extra=extra)))
    assert job["status"] == "FAILED"
    assert job["result"]["error"].startswith("Timed out after 1 s")
    assert time.monotonic() - started < 8


SLEEPER = "import time\n\ndef run():\n    print('sleeping', flush=True)\n    time.sleep(60)\n"

STUBBORN = """
import signal
import subprocess
import time


def run(params, ctx):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(["sleep", "60"])
    print(f"child {child.pid}", flush=True)
    time.sleep(60)
"""


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return state == "Z"  # a zombie has ended; only its parent's wait is missing


def test_stop_ends_a_sleeping_plugin_within_the_grace_period(api, make, server):
    code = release(api, make, SLEEPER)
    job_id = run(api, code)
    wait_for_log(api, job_id, "sleeping")
    started = time.monotonic()
    api.patch(f"jobs/{job_id}/", json={"status": "STOPPED"})
    while job_id in server.state.jobs.active_jobs():
        assert time.monotonic() - started < 5
        time.sleep(0.02)
    assert time.monotonic() - started < 2  # SIGTERM interrupts plugin code at once
    assert wait(api, job_id)["status"] == "STOPPED"
    assert logs(api, job_id)[-1] == ("warning", "Stopped on request")


def test_stop_kills_the_whole_group_after_the_grace_period(api, make, server):
    job_id = run(api, release(api, make, STUBBORN))
    wait_for_log(api, job_id, "child ")
    child = int(next(m for _, m in logs(api, job_id) if m.startswith("child ")).split()[1])
    pid = api.get(f"jobs/{job_id}/").json()["meta"]["executor"]["pid"]
    started = time.monotonic()
    api.patch(f"jobs/{job_id}/", json={"status": "STOPPED"})
    while job_id in server.state.jobs.active_jobs():
        assert time.monotonic() - started < server.state.jobs.grace + 5
        time.sleep(0.05)
    assert time.monotonic() - started >= server.state.jobs.grace  # SIGTERM was ignored
    assert process_gone(pid) and process_gone(child)
    assert wait(api, job_id)["status"] == "STOPPED"


# ------------------------------------------------------------------ the job's own token

TOKEN_USER = """
def run(params, ctx):
    client = ctx.client
    own = client.get_job(ctx.job_id)["status"]
    projects = client.list_projects()["count"]
    try:
        client.get_project(params["foreign"])
        foreign = "visible"
    except Exception as exc:
        foreign = type(exc).__name__
    return {"own": own, "projects": projects, "foreign": foreign, "token": ctx._token}
"""


def test_the_job_token_sees_only_its_tenant_and_dies_with_the_job(api, make, server):
    # a tenant of its own: the session's "outsider" tenant must stay empty for the listing tests
    rival = unique("rival")
    server.state.ensure_user(rival, f"{rival}-co")
    with ApiSession(server.url, token_headers(server.issue_token(rival))) as other:
        foreign = other.post("projects/", json={"title": unique("theirs")})
    assert foreign.status_code == 201, foreign.text
    job = wait(api, run(api, release(api, make, TOKEN_USER), foreign=foreign.json()["id"]))
    assert job["status"] == "SUCCEEDED", logs(api, job["id"])
    result = job["result"]
    assert result["own"] == "RUNNING"
    assert result["projects"] == api.get("projects/").json()["count"]
    assert result["foreign"] == "NotFoundError"
    token = result["token"]
    assert token and token != server.token
    revoked = requests.get(
        f"{server.url}projects/", headers={"Synapse-Access-Token": f"Token {token}"}, timeout=10
    )
    assert revoked.status_code == 401
    assert server.state.db.scalar("SELECT COUNT(*) FROM job_tokens") == 0


# ------------------------------------------------------------------ many at once


def test_twenty_concurrent_jobs_all_finish_with_their_logs(api, make, server):
    code = make.plugin()["code"]
    make.release({"code": code})
    jobs = [
        api.post(f"plugins/{code}/run/", json={"params": {"steps": 5, "seconds": 0.01}}).json()[
            "id"
        ]
        for _ in range(20)
    ]
    deadline = time.monotonic() + 120
    while True:
        page = api.get("jobs/", params={"plugin": code, "page_size": 100}).json()["results"]
        statuses = [j["status"] for j in page]  # one snapshot of all twenty
        assert statuses.count("RUNNING") <= server.state.jobs.max_workers  # a bounded pool
        if all(s in TERMINAL for s in statuses):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert statuses == ["SUCCEEDED"] * 20
    expected = ["Starting action 'run'", *[f"step {i}/5" for i in range(1, 6)], "Done"]
    for job_id in jobs:
        assert [m for _, m in logs(api, job_id)] == expected, job_id


def test_a_tail_opened_after_a_stop_still_gets_the_last_lines(api, make):
    """The status turns STOPPED at once, but the process writes until it ends: a tail waits."""
    job_id = run(api, release(api, make, STUBBORN))
    wait_for_log(api, job_id, "child ")
    api.patch(f"jobs/{job_id}/", json={"status": "STOPPED"})
    with api.get(f"jobs/{job_id}/tail_console_logs/", stream=True, timeout=20) as response:
        events = [line for line in response.iter_lines(decode_unicode=True) if line]
    assert '"type": "complete", "status": "STOPPED"' in events[-1]
    assert "Stopped on request" in events[-2]


LEAVES_A_CHILD = """
import subprocess


def run():
    subprocess.Popen(["sleep", "60"])  # inherits stdout/stderr: it would hold the pipes open
    return "returned"
"""


def test_a_job_ends_when_its_process_does_even_if_it_left_children(api, make):
    started = time.monotonic()
    job = wait(api, run(api, release(api, make, LEAVES_A_CHILD)))
    assert job["status"] == "SUCCEEDED" and job["result"] == "returned"
    assert time.monotonic() - started < 10


# ------------------------------------------------------------------ review findings

NAN_METRICS = """
class Action:
    def __init__(self, params, ctx):
        self.ctx = ctx

    def run(self):
        self.ctx.log_metrics({"loss": float("nan"), "acc": float("inf"), "lr": 0.1}, step=1)
        return {"loss": float("nan")}
"""


def test_a_nan_metric_is_stored_as_null_and_every_listing_stays_valid_json(api, make):
    job = wait(api, run(api, release(api, make, NAN_METRICS, entry="main:Action")))
    assert job["status"] == "SUCCEEDED", logs(api, job["id"])
    assert job["result"] == {"loss": None}
    listing = api.get("jobs/", params={"page_size": 100})
    assert listing.status_code == 200
    json.loads(listing.text)  # strict JSON: no NaN token anywhere
    detail = api.get(f"jobs/{job['id']}/")
    assert "NaN" not in detail.text and "Infinity" not in detail.text


def test_an_archive_member_named_dot_is_a_400_and_leaves_nothing(api, make, server):
    code = make.plugin()["code"]
    before = sorted(p.name for p in server.data_dir.rglob("*"))
    body = archive(config(code), {"main.py": "def run():\n    return 1\n", ".": ""})
    response = post_release(api, code, body)
    assert response.status_code == 400, response.text
    assert sorted(p.name for p in server.data_dir.rglob("*")) == before


@pytest.mark.parametrize(
    "schema",
    ["{type: int, minimum: '1'}", "{type: str, choices: 5}", "{type: int, maximum: [1]}"],
)
def test_a_param_schema_of_the_wrong_shape_is_refused_at_upload(api, make, schema):
    code = make.plugin()["code"]
    extra = f"    params:\n      n: {schema}\n"
    response = post_release(api, code, archive(config(code, extra=extra), {"main.py": ""}))
    assert response.status_code == 400, response.text
    assert "config.actions.run.params.n" in response.text


def test_job_duration_is_gone_from_the_config_and_warns_when_passed():
    import dataclasses

    from synapse_nb.server import start
    from synapse_nb.server.config import ServerConfig

    assert "job_duration" not in {f.name for f in dataclasses.fields(ServerConfig)}
    with pytest.warns(DeprecationWarning, match=r"start\(job_duration=0.5\) has no effect"):
        srv = start(job_duration=0.5)
    srv.stop()


def test_a_job_that_ends_while_its_claim_is_exchanged_leaves_no_token(monkeypatch):
    # the job's end (claim voided, token revoked) runs on another thread right after the claim
    # is redeemed, as a stop or timeout could: the token must not outlive the job
    import secrets
    import threading

    from demo_backends import running

    from synapse_nb.server.executors import claims

    with running(demo=True) as srv:
        db, executor = srv.state.db, srv.state.jobs
        job = db.one("SELECT id FROM jobs WHERE user_id IS NOT NULL LIMIT 1")
        with db.write() as con:
            con.execute("UPDATE jobs SET status = 'RUNNING' WHERE id = ?", (job["id"],))
        code = claims.issue(db, job["id"])
        mint, ending = secrets.token_hex, []

        def end_the_job() -> None:
            executor.store.finish(job["id"], "FAILED", [], {"error": "stopped"})
            executor._revoke(job["id"])

        def mint_while_the_job_ends(nbytes=None):
            if not ending:  # the token is being minted: the job ends now
                ending.append(threading.Thread(target=end_the_job))
                ending[0].start()
                ending[0].join(0.3)  # it waits for this exchange, or (before) ran in its gap
            return mint(nbytes)

        monkeypatch.setattr(secrets, "token_hex", mint_while_the_job_ends)
        try:
            token = executor.exchange_claim(job["id"], code)
        except claims.ClaimRefused:
            token = None
        ending[0].join(10)
        assert db.one("SELECT job_id FROM job_tokens WHERE job_id = ?", (job["id"],)) is None
        if token is not None:
            seen = requests.get(f"{srv.url}projects/", headers=token_headers(token), timeout=10)
            assert seen.status_code == 401, seen.text
