"""A job's row as its executor changes it: status moves, console logs, progress and metrics.

Every write is one transaction that first re-reads the status, so a stop requested by a user
(``PATCH jobs/{id}/ status=STOPPED``) is never overwritten by the run finishing later; the
logs of a stopped job are still kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .db import Database, dumps, loads, now

__all__ = ["TERMINAL", "JobStore"]

#: the statuses a job ends in
TERMINAL = ("STOPPED", "SUCCEEDED", "FAILED")
LOG_LEVELS = ("debug", "info", "success", "warning", "danger", "error", "critical")


def add_console_log(con: Any, job_id: str, entry: dict) -> None:
    level = str(entry.get("level") or "info").lower()
    con.execute(
        "INSERT INTO job_console_logs (job_id, event, level, step, data, message, datetime) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            job_id,
            str(entry.get("event") or "log"),
            level if level in LOG_LEVELS else "info",
            entry.get("step"),
            dumps(entry.get("data") or {}),
            str(entry.get("message") or entry.get("log") or ""),
            entry.get("datetime") or now(),
        ),
    )



def progress_record(event: dict) -> dict:
    """The ``progress_record`` of a runtime progress event (``current_progress.overall`` in %).

    Example:
        >>> progress_record({"current": 1, "total": 4, "percent": 25.0})["current_progress"]
        {'overall': 25.0, 'step': None, 'eta_seconds': None}
    """
    record = {k: event.get(k) for k in ("current", "total", "percent", "category", "eta_seconds")}
    return {
        "record": record,
        "current_progress": {
            "overall": event.get("percent"),
            "step": event.get("category"),
            "eta_seconds": event.get("eta_seconds"),
        },
    }


class JobStore:
    """Writes of one backend's executors to the jobs table.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> store = JobStore(Database(Path(tempfile.mkdtemp()) / "jobs.sqlite3"))
        >>> store.status("no-such-job") is None, store.start("no-such-job", "Starting")
        (True, False)
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def status(self, job_id: str) -> str | None:
        return self.db.scalar("SELECT status FROM jobs WHERE id = ?", (job_id,))

    def row(self, job_id: str) -> Any:
        return self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def start(self, job_id: str, message: str) -> bool:
        """PENDING -> RUNNING with a first log line; False when the job is no longer pending."""
        with self.db.write() as con:
            status = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if status is None or status[0] != "PENDING":
                return False
            stamp = now()
            con.execute(
                "UPDATE jobs SET status = 'RUNNING', started = ?, modified = ? WHERE id = ?",
                (stamp, stamp, job_id),
            )
            add_console_log(con, job_id, {"message": message, "step": "start"})
        return True

    def record(
        self,
        job_id: str,
        logs: Iterable[dict] = (),
        progress: dict | None = None,
        metrics: Iterable[dict] = (),
    ) -> None:
        """Append console logs and apply the latest progress and new metric values."""
        metrics = list(metrics)
        with self.db.write() as con:
            for entry in logs:
                add_console_log(con, job_id, entry)
            changes: dict[str, Any] = {}
            if progress is not None:
                changes["progress_record"] = dumps(progress_record(progress))
            if metrics:
                row = con.execute(
                    "SELECT metrics_record FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
                current = loads(row[0], {}) if row else {}
                record = current.setdefault("record", {})
                for event in metrics:
                    category = str(event.get("category") or "metrics")
                    step = str(event.get("step") if event.get("step") is not None else "last")
                    record.setdefault(category, {}).setdefault(step, {}).update(event["values"])
                changes["metrics_record"] = dumps(current)
            if changes:
                changes["modified"] = now()
                con.execute(
                    f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
                    [*changes.values(), job_id],
                )

    def finish(
        self, job_id: str, status: str, logs: Iterable[dict] = (), result: Any = None
    ) -> str:
        """Set the terminal status (unless one was set meanwhile) and return the final one."""
        with self.db.write() as con:
            for entry in logs:
                add_console_log(con, job_id, entry)
            row = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return status
            if row[0] in TERMINAL:  # stopped meanwhile: keep that, but keep what it returned
                if result is not None:
                    con.execute(
                        "UPDATE jobs SET result = ? WHERE id = ? AND result = 'null'",
                        (dumps(result), job_id),
                    )
                return str(row[0])
            stamp = now()
            con.execute(
                "UPDATE jobs SET status = ?, result = ?, finished = ?, modified = ? WHERE id = ?",
                (status, dumps(result), stamp, stamp, job_id),
            )
        return status

    def unfinished(self) -> list[Any]:
        """Jobs left PENDING or RUNNING (after a restart nothing runs them any more)."""
        return self.db.all(
            "SELECT id, status, meta FROM jobs WHERE status IN ('PENDING', 'RUNNING')"
        )
