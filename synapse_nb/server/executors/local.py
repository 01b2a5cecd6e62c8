"""The local executor (the default): each job is a subprocess of the backend, a bounded pool.

A job waits PENDING until one of ``max_workers`` slots is free (default: the CPU count), then
its requirements are checked, an API token of the job's user is minted for the job's lifetime
(it acts with that user's rights in that tenant; it is revoked when the job ends), and the
release's action runs in its own process group (see :mod:`.process`). Its output becomes
console logs as it comes;
a stop sends SIGTERM to the group and SIGKILL after ``grace`` seconds; ``timeout`` bounds a
run. When the job ends its token is revoked.

A backend that starts finds the jobs an earlier run left PENDING or RUNNING: their processes
(if any survived) are killed and the jobs fail with a message saying why.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..db import dumps, loads, now
from ..http import hash_token
from ..jobs import TERMINAL, JobStore
from . import claims
from .process import Collected, JobProcess, Outcome, outcome
from .release import ReleaseError, config_root, extract_archive
from .requirements import missing_requirements

log = logging.getLogger("synapse_nb.server.executor")

_JOB_TOKENS_SQL = (
    "CREATE TABLE IF NOT EXISTS job_tokens (job_id TEXT PRIMARY KEY, hash TEXT NOT NULL)"
)


@dataclass
class _Running:
    """A job this executor has taken: its process once started, and what was asked of it."""

    job_id: str
    process: JobProcess | None = None
    stop_requested: bool = False


@dataclass
class JobCode:
    """What a job runs: its release row, its action's config, the requirements missing here."""

    release: Any
    action: dict
    missing: list[str]


class LocalExecutor:
    """Runs plugin jobs as subprocesses of the backend.

    Args:
        state: the backend's shared state (database, data dir, token store).
        max_workers: jobs running at once (default: CPU count); more wait PENDING.
        timeout: default seconds a job may run (an action's ``timeout`` overrides it).
        grace: seconds between SIGTERM and SIGKILL when a job is stopped.

    Example:
        >>> import tempfile
        >>> from synapse_nb.server.config import ServerConfig
        >>> from synapse_nb.server.state import State
        >>> state = State(ServerConfig(data_dir=Path(tempfile.mkdtemp())))
        >>> executor = LocalExecutor(state, max_workers=1)
        >>> executor.describe("no-such-job")["active"], executor.max_workers
        (False, 1)
        >>> executor.close()
    """

    kind = "local"
    #: where the job's Python runs, for the message naming missing requirements
    python_label = "the backend's Python"

    def __init__(
        self,
        state: Any,
        *,
        max_workers: int | None = None,
        timeout: float = 3600.0,
        grace: float = 2.0,
    ) -> None:
        self.state = state
        self.store = JobStore(state.db)
        self.max_workers = max_workers or os.cpu_count() or 1
        self.timeout = timeout
        self.grace = grace
        self.node = socket.gethostname()
        self.jobs_root = state.config.data_dir / "jobs"
        self.releases_root = state.config.data_dir / "release_code"
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="synapse-job")
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._futures: dict[str, Future] = {}
        self._closed = False
        with state.db.write() as con:
            con.execute(_JOB_TOKENS_SQL)
        claims.ensure_table(state.db)
        self.recover()

    # ------------------------------------------------------------------ public
    def submit(self, job_id: str, base_url: str | None) -> None:
        """Queue a PENDING job; it starts when a worker slot is free."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the executor is closed")
            self._running[job_id] = _Running(job_id)
            self._futures[job_id] = self._pool.submit(self._run_guarded, job_id, base_url)

    def stop(self, job_id: str) -> bool:
        """Ask a job to stop (its status is set by the caller); True when it was running here."""
        with self._lock:
            running = self._running.get(job_id)
            if running is None:
                return False
            running.stop_requested = True
            process = running.process
        if process is not None:
            process.terminate()
        return True

    def describe(self, job_id: str) -> dict[str, Any]:
        """What this executor knows of a job: where and as which process it runs."""
        with self._lock:
            running = self._running.get(job_id)
            pid = running.process.pid if running and running.process else None
        return {"executor": self.kind, "node": self.node, "pid": pid, "active": running is not None}

    def is_active(self, job_id: str) -> bool:
        """True while the job is queued or its process runs (its logs may still grow)."""
        with self._lock:
            return job_id in self._running

    def active_jobs(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def close(self) -> None:
        """Stop every job (SIGTERM, grace, SIGKILL); jobs that never started fail."""
        with self._lock:
            self._closed = True
            running = list(self._running.values())
            for future in self._futures.values():
                future.cancel()
        for item in running:  # not stop_requested: the user did not ask, the backend ends
            if item.process is not None:
                item.process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for item in running:
            if item.process is None:
                self.store.finish(
                    item.job_id,
                    "FAILED",
                    [_line("The backend stopped before this job started", "error")],
                    {"error": "backend stopped"},
                )

    # ------------------------------------------------------------------ restart
    def recover(self) -> None:
        """Fail the jobs an earlier backend left unfinished (killing a surviving process)."""
        for row in self.store.unfinished():
            pid = (loads(row["meta"], {}).get("executor") or {}).get("pid")
            if isinstance(pid, int) and _is_job_process(pid, row["id"]):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, 9)
            message = (
                f"The backend restarted while this job was {row['status']}; "
                "its process did not survive, so the job failed (run it again to retry)"
            )
            self.store.finish(row["id"], "FAILED", [_line(message, "error")], {"error": message})
            self._revoke(row["id"])

    # ------------------------------------------------------------------ one job
    def _run_guarded(self, job_id: str, base_url: str | None) -> None:
        try:
            self._run(job_id, base_url)
        except Exception as exc:
            log.exception("job %s: executor error", job_id)
            message = f"The executor failed to run the job: {type(exc).__name__}: {exc}"
            self.store.finish(job_id, "FAILED", [_line(message, "error")], {"error": message})
        finally:
            self._revoke(job_id)
            with self._lock:
                self._running.pop(job_id, None)
                self._futures.pop(job_id, None)

    def _run(self, job_id: str, base_url: str | None) -> None:
        job = self.store.row(job_id)
        if job is None or job["status"] != "PENDING" or self._is_stopping(job_id):
            return
        code = self._job_code(job)
        if code.missing:
            self._fail_missing(job_id, code.missing)
            return
        action = code.action
        release_dir = self.release_dir(code.release)
        work = self.jobs_root / str(job["tenant_id"]) / job_id
        spec_path = self._write_spec(job, action, release_dir, work, base_url)
        with self._lock:
            # launched under the lock, so close() either sees this process (and terminates
            # it) or has already closed (and nothing is launched after it took its snapshot)
            if self._closed:
                spec_path.unlink(missing_ok=True)
                return  # close() fails the job: "stopped before this job started"
            process = JobProcess.launch(spec_path, job_id, release_dir)
            self._running[job_id].process = process
            stop_first = self._running[job_id].stop_requested
        self._note_process(job_id, process.pid)
        started = self.store.start(job_id, f"Starting action '{job['action']}'")
        if stop_first or not started:
            process.terminate()
        timeout = float(action.get("timeout") or self.timeout)
        try:
            self._follow(job_id, process, timeout)
        finally:
            spec_path.unlink(missing_ok=True)  # the process normally removed it already
            # the job's process group has ended: nothing writes there any more (checkpoints
            # stay, a later job resumes from them; scratch is temporary whatever the outcome)
            shutil.rmtree(work / "scratch", ignore_errors=True)

    def _follow(self, job_id: str, process: JobProcess, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        timed_out: float | None = None
        results: list[Any] = []
        errors: list[str] = []
        try:
            while process.open_streams or process.popen.poll() is None:
                collected = process.pump(0.05)
                results += collected.result
                errors += collected.errors
                if collected:
                    self.store.record(job_id, collected.logs, collected.progress, collected.metrics)
                if timed_out is None and time.monotonic() > deadline:
                    timed_out = timeout
                    process.terminate()
                process.enforce_grace(self.grace)
                if process.popen.poll() is not None:
                    process.end_group()  # what it left running would hold the pipes open
            code = process.reap()
        finally:
            process.close()
        collected_all = Collected(result=results, errors=errors)
        end: Outcome = outcome(
            code, collected_all, stopped=self._is_stopping(job_id), timed_out=timed_out
        )
        if self._closed and end.status != "STOPPED" and process.term_sent_at is not None:
            message = "The backend shut down while this job ran, so it was stopped (run it again)"
            end = Outcome("FAILED", message, "error", {"error": message, "exit_code": code})
        self.store.finish(job_id, end.status, [_line(end.message, end.level)], end.result)

    # ------------------------------------------------------------------ helpers
    def _job_code(self, job: Any) -> JobCode:
        """The release a job runs, its action's config and the requirements this Python lacks."""
        release = self.state.db.one(
            "SELECT * FROM plugin_releases WHERE id = ?", (job["plugin_release_id"],)
        )
        config = loads(release["config"], {}) if release else {}
        action = (config.get("actions") or {}).get(job["action"]) or {}
        pinned = loads(release["requirements"], []) if release else []
        missing = missing_requirements([*pinned, *config.get("requirements", [])])
        return JobCode(release, action, missing)

    def _fail_missing(self, job_id: str, missing: list[str]) -> None:
        """Fail a job whose requirements are not installed where it would run, naming them."""
        message = f"Missing requirement(s) in {self.python_label}: " + ", ".join(missing)
        self.store.finish(job_id, "FAILED", [_line(message, "error")], {"error": message})

    def release_dir(self, release: Any) -> Path:
        """The unpacked release (unpacked now if an older backend stored only the archive)."""
        if release is None or not release["rel_path"]:
            raise ReleaseError("file", "this release has no archive to run")
        folder = self.releases_root / str(release["id"])
        if not folder.is_dir():
            extract_archive(self.state.store_path(release["rel_path"]), folder)
        return config_root(folder)

    def _write_spec(
        self, job: Any, action: dict, release_dir: Path, work: Path, base_url: str | None
    ) -> Path:
        for sub in ("scratch", "checkpoints"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        spec = {
            "job_id": job["id"],
            "action": job["action"],
            "entrypoint": action.get("entrypoint"),
            "run_method": action.get("run_method", "run"),
            "params": loads(job["params"], {}),
            "release_dir": str(release_dir),
            "scratch_dir": str(work / "scratch"),
            "checkpoint_dir": str(work / "checkpoints"),
            "jobs_root": str(work.parent),
            "base_url": base_url,
            "stop_window": self.grace / 2,
            "storage_roots": self._storage_roots(),
            **self._credential(job, base_url),
        }
        path = work / "spec.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(spec, fh)
        return path

    def _storage_roots(self) -> list[str]:
        """The storage roots a job checks a ``file_system`` storage against, absolute: the job
        runs in its release's folder, not in the backend's working directory."""
        return [str(root.absolute()) for root in self.state.config.allowed_storage_roots]

    def _credential(self, job: Any, base_url: str | None) -> dict[str, Any]:
        """What the spec carries to reach the backend: here the job's token itself (the spec
        stays on this machine, 0600)."""
        return {"token": self._mint_token(job) if base_url else None}

    def exchange_claim(self, job_id: str, code: str) -> str:
        """The job's token for its one-time claim code (see :mod:`.claims`), minted now.

        Raises:
            ClaimRefused: the code is unknown, used, expired, or the job has ended.
        """
        # one transaction: the job's end (which voids the claim, then revokes the job's token,
        # each in a transaction of its own) lands wholly before it (the claim is gone) or
        # wholly after it (the token minted here is revoked), never in between
        with self.state.db.write() as con:
            reason = claims.redeem_in(con, job_id, code)
            job = None
            if reason is None:
                job = con.execute(
                    "SELECT id, status, user_id FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
                if job is None or job["status"] in TERMINAL:
                    ended = job["status"] if job else "no such job"
                    reason = f"is void: the job has ended ({ended})"
            token = self._mint_in(con, job) if reason is None else None
        if token is None:
            raise claims.ClaimRefused(reason or "is void: the job has no user to act as")
        return token

    def _mint_token(self, job: Any) -> str | None:
        """An API token for the job's user, stored until the job ends."""
        with self.state.db.write() as con:
            return self._mint_in(con, job)

    @staticmethod
    def _mint_in(con: Any, job: Any) -> str | None:
        """:meth:`_mint_token` inside the caller's write transaction."""
        if job["user_id"] is None:
            return None
        token = secrets.token_hex(20)
        digest = hash_token(token)
        con.execute(
            "INSERT INTO tokens (hash, user_id, created) VALUES (?, ?, ?)",
            (digest, job["user_id"], now()),
        )
        con.execute(
            "INSERT OR REPLACE INTO job_tokens (job_id, hash) VALUES (?, ?)", (job["id"], digest)
        )
        return token

    def _revoke(self, job_id: str) -> None:
        claims.void(self.state.db, job_id)  # a claim not yet exchanged dies with the job
        with self.state.db.write() as con:
            row = con.execute("SELECT hash FROM job_tokens WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                return
            con.execute("DELETE FROM tokens WHERE hash = ?", (row[0],))
            con.execute("DELETE FROM job_tokens WHERE job_id = ?", (job_id,))
        self.state.forget_token(row[0])

    def _note_process(self, job_id: str, pid: int) -> None:
        with self.state.db.write() as con:
            row = con.execute("SELECT meta FROM jobs WHERE id = ?", (job_id,)).fetchone()
            meta = loads(row[0], {}) if row else {}
            meta["executor"] = {"kind": self.kind, "node": self.node, "pid": pid}
            con.execute("UPDATE jobs SET meta = ? WHERE id = ?", (dumps(meta), job_id))

    def _is_stopping(self, job_id: str) -> bool:
        with self._lock:
            running = self._running.get(job_id)
            return bool(running and running.stop_requested)

    def remove_release(self, release_id: int) -> None:
        shutil.rmtree(self.releases_root / str(release_id), ignore_errors=True)


def _line(message: str, level: str) -> dict:
    return {"message": message, "level": level, "step": "executor", "datetime": now()}


def _is_job_process(pid: int, job_id: str) -> bool:
    """True when ``pid`` is still the process that ran ``job_id`` (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return job_id.encode() in cmdline.split(b"\0")
