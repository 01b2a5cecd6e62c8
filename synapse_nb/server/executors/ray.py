"""The Ray executor: plugin jobs submitted to a Ray cluster through Ray's Jobs API.

A backend started with a Ray address (``synapse-nb serve --ray auto``, ``start(ray=...)``)
uses this executor instead of the local one; it keeps the same interface (``submit``,
``stop``, ``describe``, ``is_active``, ``active_jobs``, ``close``). Each job is submitted with
a working directory made of the release's files and the job's spec (params, folders, and a
one-time claim code in place of the job's token: see :mod:`.claims`) or, with
``ship_release = False`` and the Jobs API on this machine, run in the release's own folder
with its spec in the job's folder (no working directory for Ray to package, upload and
unpack); Ray runs :mod:`.ray_entry` there, which runs the ordinary job
process and writes what it reports as marked lines into Ray's job log. A follower thread per
job polls Ray for the job's status and reads the log as a stream (:mod:`.ray_logs`: each
character once, a dropped stream caught up with one full read), and turns the log back into
console logs (levels kept), progress, metrics and the result:

=================  ==========================================================
Ray's status       the job's status here
=================  ==========================================================
PENDING            PENDING (Ray is setting up the job's environment)
RUNNING            RUNNING
SUCCEEDED/FAILED   from the job process's exit, as with the local executor
STOPPED            STOPPED when asked here; FAILED when stopped from outside
=================  ==========================================================

A stop is Ray's ``stop_job`` (SIGTERM, then SIGKILL after the grace period). A backend that
starts again re-attaches to the unfinished jobs Ray still knows (it reads their logs from
where it had got to) and fails the others with a message saying why.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..db import dumps, loads, now
from . import claims
from .local import LocalExecutor
from .process import Collected, Outcome, outcome
from .ray_cluster import RayCluster
from .ray_entry import MARK
from .ray_head import RayError
from .ray_logs import LogTail

log = logging.getLogger("synapse_nb.server.executor.ray")

ENTRY = Path(__file__).with_name("ray_entry.py")
SPEC_NAME = "_synapse_job.json"
#: seconds past the grace period a stopped job may take before it is failed (never RUNNING
#: forever because a stop got lost on the cluster)
STOP_PATIENCE = 30.0
#: how often a follower asks Ray for a job's status (log text comes as it is streamed)
POLL = 0.2
#: below this many characters of log a quiet stream is topped up by full reads (a line
#: reaches the backend in ~POLL instead of Ray's 1 s tail pause; the cost stays bounded)
QUICK_LOG = 16 * 1024
#: ... and while Ray still sets the job up (PENDING): its start is seen sooner
PENDING_POLL = 0.05
#: Ray's loggers that announce every working-dir upload at INFO level
QUIET_LOGGERS = ("ray.dashboard.modules.dashboard_sdk", "ray._private.runtime_env.packaging")
#: pauses between the tries of a read from Ray's Jobs API (then the last error fails the job)
ASK_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0)
#: seconds the stream has to bring the end of an ended job's log before a full read (which
#: fetches the whole log again)
REST_WAIT = 5.0
#: Ray's statuses that end a job
RAY_TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
#: hosts of a Jobs API on this machine (its job drivers then run here too)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _line(message: str, level: str, step: str = "executor") -> dict:
    return {"message": message, "level": level, "step": step, "datetime": now()}


@dataclass
class _Follow:
    """One job this executor follows on Ray."""

    job_id: str
    ray_id: str | None = None
    #: characters of Ray's log turned into console logs (a partial last line waits in pending)
    offset: int = 0
    pending: str = ""
    stop_requested: bool = False
    stop_sent: bool = False
    stop_sent_at: float | None = None
    started: bool = False
    #: full reads may top up a quiet log stream (until the log turns out long)
    quick: bool = True
    exit_code: int | None = None
    results: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None


def parse_log(text: str, final: bool = False) -> tuple[Collected, dict | None, int]:
    """Ray's job log -> (what the job reported, the exit record, characters consumed).

    Lines the launcher marked carry the job's logs, progress, metrics and result; any other
    line (Ray's own, or a crash of the launcher) is an info line. Without ``final`` a last
    line with no newline yet is left for the next round.

    Example:
        >>> text = MARK + '{"logs": [{"message": "hi", "level": "warning"}]}\\nRay says\\npart'
        >>> got, end, used = parse_log(text)
        >>> [(e["message"], e["level"]) for e in got.logs], end, used == len(text) - 4
        ([('hi', 'warning'), ('Ray says', 'info')], None, True)
    """
    body = text if final else text[: text.rfind("\n") + 1]
    out, end = Collected(), None
    for raw in body.split("\n"):  # not splitlines(): it also splits at the marker's \x1e
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        if not raw.startswith(MARK):
            out.logs.append({"message": raw, "level": "info", "step": "ray"})
            continue
        try:
            record = json.loads(raw[len(MARK) :])
        except ValueError:
            out.logs.append({"message": raw[len(MARK) :], "level": "info", "step": "ray"})
            continue
        if "exit_code" in record:
            end = record
            continue
        out.logs += record.get("logs") or []
        out.progress = record.get("progress") or out.progress
        out.metrics += record.get("metrics") or []
        out.result += record.get("result") or []
        out.errors += record.get("errors") or []
    return out, end, len(body)


class RayExecutor(LocalExecutor):
    """Runs plugin jobs on a Ray cluster through its Jobs API.

    Args:
        state: the backend's shared state (database, data dir, token store).
        address: the cluster: ``"auto"`` (the one running on this machine), ``ray://host:port``
            or the Jobs API URL (``http://host:8265``).
        token: Ray's authentication token (default: ``$RAY_AUTH_TOKEN``, else Ray's own file).
        timeout: default seconds a job may run (an action's ``timeout`` overrides it).
        grace: seconds between SIGTERM and SIGKILL when a job is stopped.
        python: the Python the cluster runs jobs with (default: this one, right for a head
            on this machine; a remote cluster needs synapse_nb installed, ``"python"``).

    Example:
        >>> RayExecutor.kind, Path(ENTRY).is_file()
        ('ray', True)
    """

    kind = "ray"
    python_label = "the cluster's Python"

    def __init__(
        self,
        state: Any,
        address: str,
        *,
        token: str | None = None,
        timeout: float = 3600.0,
        grace: float = 2.0,
        python: str | None = None,
    ) -> None:
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError as exc:
            raise RayError(
                f"the Ray executor needs ray: pip install 'synapse-nb[ray]' ({exc})"
            ) from exc
        token = token or os.environ.get("RAY_AUTH_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            self.client = JobSubmissionClient(address, headers=headers)
        except Exception as exc:  # unreachable, refused token, not a Ray dashboard
            raise RayError(
                f"cannot reach Ray's Jobs API at ray address {address!r}: "
                f"{type(exc).__name__}: {str(exc)[:300]}"
            ) from exc
        self.address = address
        self.cluster = RayCluster(self.client.get_address(), headers)
        for name in QUIET_LOGGERS:  # an INFO line per submitted job, on the backend's stderr
            logging.getLogger(name).setLevel(logging.WARNING)
        self.python = python or sys.executable
        self._entry = [self.python, "-P", str(ENTRY)]
        if python is not None:
            self._entry = [python, "-m", "synapse_nb.server.executors.ray_entry"]
        #: ship each job's release to Ray as its working_dir (packaged, uploaded, unpacked per
        #: job). False runs a job in the release's own folder, which only a Jobs API on this
        #: machine allows; measured with bench_jobs it did not shorten the time to RUNNING, so
        #: it is not the default
        self.ship_release = True
        #: seconds a job's claim code stays valid (Ray must start the job within them)
        self.claim_ttl = claims.CLAIM_TTL
        self._follows: dict[str, _Follow] = {}
        self._detached = False
        #: characters of job logs fetched from Ray (what following logs costs), and how often
        #: a log stream dropped and was opened again
        self.log_chars_fetched = 0
        self.stream_drops = 0
        super().__init__(state, max_workers=1, timeout=timeout, grace=grace)
        self.node = self.client.get_address()

    # ------------------------------------------------------------------ public
    def submit(self, job_id: str, base_url: str | None) -> None:
        """Submit a PENDING job to Ray (in a follower thread that then follows it)."""
        self._spawn(_Follow(job_id), self._submit_and_follow, base_url)

    def stop(self, job_id: str) -> bool:
        """Ask Ray to stop the job; True when this executor follows it."""
        with self._lock:
            follow = self._follows.get(job_id)
            if follow is None:
                return False
            follow.stop_requested = True
        self._send_stop(follow)
        return True

    def describe(self, job_id: str) -> dict[str, Any]:
        """Where the job runs: the cluster's Jobs API and Ray's id of the job."""
        with self._lock:
            follow = self._follows.get(job_id)
        return {
            "executor": self.kind,
            "node": self.node,
            "pid": None,
            "ray_job_id": follow.ray_id if follow else None,
            "active": follow is not None,
        }

    def is_active(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._follows

    def active_jobs(self) -> list[str]:
        with self._lock:
            return list(self._follows)

    def close(self, stop_jobs: bool = True) -> None:
        """Stop the jobs this backend follows on Ray and wait for their followers.

        With ``stop_jobs=False`` the jobs keep running on the cluster and stay RUNNING here:
        a backend started again on the same data dir re-attaches to them.
        """
        with self._lock:
            self._closed = True
            self._detached = not stop_jobs
            follows = list(self._follows.values())
        for follow in follows:
            if stop_jobs:
                self._send_stop(follow)
        for follow in follows:
            if follow.thread is not None:
                follow.thread.join(timeout=self.grace + 10)
        self._pool.shutdown(wait=False)

    # ------------------------------------------------------------------ restart
    def recover(self) -> None:
        """Re-attach to the unfinished jobs Ray still runs; fail the others clearly."""
        for row in self.store.unfinished():
            meta = loads(row["meta"], {}).get("executor") or {}
            ray_id = meta.get("ray_job_id")
            reason = self._lost_reason(row["status"], meta, ray_id)
            if reason is None:
                follow = _Follow(row["id"], ray_id, int(meta.get("log_offset") or 0))
                follow.started = row["status"] == "RUNNING"
                self._spawn(follow, self._reattach)
                continue
            self.store.finish(row["id"], "FAILED", [_line(reason, "error")], {"error": reason})
            self._revoke(row["id"])

    def _lost_reason(self, status: str, meta: dict, ray_id: str | None) -> str | None:
        if meta.get("kind") != self.kind or not ray_id:
            where = "ran on the local executor" if meta.get("kind") else "was never submitted"
            return (
                f"The backend restarted while this job was {status}; it {where}, so nothing "
                "runs it any more and the job failed (run it again to retry)"
            )
        try:
            self.client.get_job_status(ray_id)
        except Exception as exc:  # Ray lost the job (a new cluster) or is unreachable
            return (
                f"The backend restarted while this job was {status} and Ray no longer knows "
                f"its Ray job {ray_id} ({type(exc).__name__}), so the job failed"
            )
        return None

    # ------------------------------------------------------------------ one job
    def _spawn(self, follow: _Follow, target: Any, *args: Any) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the executor is closed")
            self._follows[follow.job_id] = follow
            follow.thread = threading.Thread(
                target=target, args=(follow, *args), daemon=True, name=f"ray-{follow.job_id}"
            )
        follow.thread.start()

    def _submit_and_follow(self, follow: _Follow, base_url: str | None) -> None:
        self._guard(follow, self._run_follow, base_url)

    def _reattach(self, follow: _Follow) -> None:
        line = _line(f"The backend re-attached to Ray job {follow.ray_id}", "info")
        self.store.record(follow.job_id, [line])
        self._guard(follow, self._follow_ray, self.timeout)

    def _guard(self, follow: _Follow, body: Any, *args: Any) -> None:
        try:
            body(follow, *args)
        except Exception as exc:
            log.exception("job %s: Ray executor error", follow.job_id)
            message = f"The Ray executor failed to run the job: {type(exc).__name__}: {exc}"
            self._fail(follow.job_id, message)
            if follow.ray_id and not follow.stop_sent:
                self._send_stop(follow)
        finally:
            if not self._detached:  # a detached job keeps its token for the next backend
                self._revoke(follow.job_id)
            with self._lock:
                self._follows.pop(follow.job_id, None)

    def _run_follow(self, follow: _Follow, base_url: str | None) -> None:
        job = self.store.row(follow.job_id)
        if job is None or job["status"] != "PENDING" or follow.stop_requested:
            return
        code = self._job_code(job)
        if code.missing:
            self._fail_missing(follow.job_id, code.missing)
            return
        action = code.action
        follow.ray_id = self._submit_to_ray(job, action, self.release_dir(code.release), base_url)
        self._note_ray_job(follow)
        self.store.record(follow.job_id, [_line(f"Submitted to Ray as {follow.ray_id}", "info")])
        if follow.stop_requested or (self._closed and not self._detached):
            self._send_stop(follow)
        self._follow_ray(follow, float(action.get("timeout") or self.timeout))

    def _submit_to_ray(
        self, job: Any, action: dict, release_dir: Path, base_url: str | None
    ) -> str:
        work = self.jobs_root / str(job["tenant_id"]) / job["id"]
        if not self.ship_release and self._on_this_machine():
            return self._submit_in_place(job, action, release_dir, work, base_url)
        package = work / "ray_package"
        shutil.rmtree(package, ignore_errors=True)
        shutil.copytree(release_dir, package, symlinks=False)
        spec_path = self._write_spec(job, action, package, work, base_url)
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        spec["grace"] = self.grace
        spec_path.unlink()
        fd = os.open(package / SPEC_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(spec, fh)
        entrypoint = "exec " + shlex.join([*self._entry, SPEC_NAME, job["id"]])
        try:
            return str(
                self.client.submit_job(
                    entrypoint=entrypoint,
                    runtime_env={"working_dir": str(package)},
                    submission_id=f"synapse-{job['id']}",
                    metadata={"synapse_job": str(job["id"]), "action": str(job["action"])},
                )
            )
        finally:
            shutil.rmtree(package, ignore_errors=True)  # Ray has its own copy now

    def _credential(self, job: Any, base_url: str | None) -> dict[str, Any]:
        """What goes to Ray: a one-time claim code, never the token (anyone with access to the
        cluster can read a job's package); the launcher exchanges it for the token."""
        if not base_url or job["user_id"] is None:
            return {"token": None}
        return {"token": None, "claim": claims.issue(self.state.db, job["id"], self.claim_ttl)}

    def _on_this_machine(self) -> bool:
        return urlsplit(self.client.get_address()).hostname in LOOPBACK

    def _submit_in_place(
        self, job: Any, action: dict, release_dir: Path, work: Path, base_url: str | None
    ) -> str:
        """A driver on this machine runs in the release's folder: no runtime_env for Ray to
        set up before the job starts (its PENDING time), the spec in the job's folder (0600)."""
        spec_path = self._write_spec(job, action, release_dir, work, base_url)
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        spec["grace"] = self.grace
        spec_path.write_text(json.dumps(spec), encoding="utf-8")  # still 0600
        command = shlex.join([*self._entry, str(spec_path), job["id"]])
        return str(
            self.client.submit_job(
                entrypoint=f"cd {shlex.quote(str(release_dir))} && exec {command}",
                submission_id=f"synapse-{job['id']}",
                metadata={"synapse_job": str(job["id"]), "action": str(job["action"])},
            )
        )

    def _follow_ray(self, follow: _Follow, timeout: float) -> None:
        assert follow.ray_id is not None
        tail = LogTail(self.client, follow.ray_id, follow.offset)
        try:
            status, timed_out = self._watch(follow, tail, timeout)
        finally:
            tail.close()
            with self._lock:
                self.log_chars_fetched += tail.fetched
        if status is not None:
            self._finish(follow, status, timed_out)

    def _watch(
        self, follow: _Follow, tail: LogTail, timeout: float
    ) -> tuple[str | None, float | None]:
        """Follow the job until Ray ends it: (Ray's last status, the timeout that hit it).

        The status is None when the follower left first (detached, or the stop got lost).
        """
        assert follow.ray_id is not None
        deadline = time.monotonic() + timeout
        timed_out: float | None = None
        status, next_status = "PENDING", 0.0
        while True:
            if tail.ended or time.monotonic() >= next_status:  # every POLL, however chatty the log
                status = str(self._ask(self.client.get_job_status, follow.ray_id).value)
                next_status = time.monotonic() + (POLL if follow.started else PENDING_POLL)
            if status == "RUNNING" and not follow.started:
                follow.started = self.store.start(follow.job_id, "Running on Ray")
                if not follow.started:  # stopped meanwhile
                    self._send_stop(follow)
            if status in RAY_TERMINAL:
                self._read_rest(follow, tail)
                return status, timed_out
            if tail.error is not None or tail.ended:  # the stream broke before the job ended
                self._catch_up(follow, tail)
            self._take(follow, self._fresh(follow, tail, status))
            if self._detached:
                return None, timed_out  # left running on Ray: the next backend re-attaches
            if timed_out is None and time.monotonic() > deadline:
                timed_out = timeout
                self._send_stop(follow)
            if self._stop_ignored(follow):
                wait = self.grace + STOP_PATIENCE
                self._fail(follow.job_id, f"Ray did not end the job within {wait:.0f} s of the "
                           "stop request; it may still run on the cluster "
                           f"(Ray job {follow.ray_id})")
                return None, timed_out

    def _fresh(self, follow: _Follow, tail: LogTail, status: str) -> str:
        """What the log stream brought within :data:`POLL`; while the log is short, a full read
        when the stream brought nothing (Ray's stream looks for new lines once a second only)."""
        text = tail.read(POLL if follow.started else PENDING_POLL)  # its start is seen sooner
        if not text and status == "RUNNING" and follow.quick and tail.position < QUICK_LOG:
            assert follow.ray_id is not None
            text = tail.catch_up(self._ask(self.client.get_job_logs, follow.ray_id))
            follow.quick = len(text) < QUICK_LOG  # a long log: the stream alone from now on
        return text

    def _stop_ignored(self, follow: _Follow) -> bool:
        """A stop was sent and Ray has not ended the job in the grace period and then some."""
        sent = follow.stop_sent_at
        return sent is not None and time.monotonic() - sent > self.grace + STOP_PATIENCE

    def _catch_up(self, follow: _Follow, tail: LogTail) -> None:
        """After a dropped stream: one full read for what it missed, then a new stream."""
        assert follow.ray_id is not None
        with self._lock:
            self.stream_drops += 1
        self._take(follow, tail.catch_up(self._ask(self.client.get_job_logs, follow.ray_id)))
        tail.resume()

    def _read_rest(self, follow: _Follow, tail: LogTail) -> None:
        """The job has ended: the rest of its log, else one full read.

        A long log's end is awaited from the stream (up to :data:`REST_WAIT`; a full read would
        fetch the whole log again); a short log, or a job asked to stop, is read at once so its
        end is not delayed by the stream's once-a-second look for new lines."""
        assert follow.ray_id is not None
        wait = REST_WAIT if not follow.quick and not follow.stop_requested else 0.0
        deadline = time.monotonic() + wait
        self._take(follow, tail.read(0))
        while follow.exit_code is None and tail.error is None and not tail.ended:
            if time.monotonic() > deadline:
                break
            self._take(follow, tail.read(POLL))  # a loaded head streams the last lines late
        if follow.exit_code is None:  # the launcher's last line has not come through the stream
            self._take(follow, tail.catch_up(self._ask(self.client.get_job_logs, follow.ray_id)))
        self._take(follow, "", final=True)

    def _take(self, follow: _Follow, text: str, final: bool = False) -> None:
        """Record the complete lines of the log that arrived (a partial line waits)."""
        follow.pending += text
        if not follow.pending:
            return
        got, end, used = parse_log(follow.pending, final)
        follow.pending = follow.pending[used:]
        follow.offset += used
        follow.results += got.result
        follow.errors += got.errors
        if end is not None:
            follow.exit_code = int(end["exit_code"])
        if got or used:
            self.store.record(follow.job_id, got.logs, got.progress, got.metrics)
            self._note_ray_job(follow)

    def _finish(self, follow: _Follow, status: str, timed_out: float | None) -> None:
        assert follow.ray_id is not None
        code = follow.exit_code
        if code is None:
            info = self._ask(self.client.get_job_info, follow.ray_id)
            code = info.driver_exit_code
            if code is None and status != "STOPPED":
                message = f"Ray reports the job {status}: {info.message or 'no message'}"
                self._fail(follow.job_id, message)
                return
        collected = Collected(result=follow.results, errors=follow.errors)
        stopped = follow.stop_requested
        end: Outcome = outcome(
            143 if code is None else code, collected, stopped=stopped, timed_out=timed_out
        )
        if self._closed and not stopped and follow.stop_sent and timed_out is None:
            message = "The backend shut down while this job ran, so it was stopped (run it again)"
            end = Outcome("FAILED", message, "error", {"error": message, "exit_code": code})
        elif status == "STOPPED" and not stopped and timed_out is None:
            message = "The job was stopped on the Ray cluster, not from this backend"
            end = Outcome("FAILED", message, "error", {"error": message, "exit_code": code})
        self.store.finish(follow.job_id, end.status, [_line(end.message, end.level)], end.result)

    # ------------------------------------------------------------------ helpers
    def _ask(self, call: Any, *args: Any) -> Any:
        """One read from Ray's Jobs API, tried again for a while: a busy head answers late."""
        for delay in ASK_RETRIES:
            try:
                return call(*args)
            except Exception as exc:
                log.warning(
                    "Ray's Jobs API: %s failed (%s); again in %g s", call.__name__, exc, delay
                )
                time.sleep(delay)
        return call(*args)

    def _fail(self, job_id: str, message: str) -> None:
        self.store.finish(job_id, "FAILED", [_line(message, "error")], {"error": message})

    def _send_stop(self, follow: _Follow) -> None:
        if follow.ray_id is None or follow.stop_sent:
            return
        follow.stop_sent = True
        follow.stop_sent_at = time.monotonic()
        try:
            self.client.stop_job(follow.ray_id)
        except Exception as exc:  # already finished, or the cluster is gone
            log.warning("job %s: Ray's stop_job failed: %s", follow.job_id, exc)

    def _note_ray_job(self, follow: _Follow) -> None:
        with self.state.db.write() as con:
            row = con.execute("SELECT meta FROM jobs WHERE id = ?", (follow.job_id,)).fetchone()
            meta = loads(row[0], {}) if row else {}
            meta["executor"] = {
                "kind": self.kind,
                "node": self.node,
                "ray_job_id": follow.ray_id,
                "log_offset": follow.offset,
            }
            con.execute("UPDATE jobs SET meta = ? WHERE id = ?", (dumps(meta), follow.job_id))
