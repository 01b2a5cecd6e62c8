"""Simulated plugin execution: a job started by ``plugins/{pk}/run/`` runs in a thread.

It moves PENDING -> RUNNING -> SUCCEEDED (or FAILED when ``params["fail"]`` is true), writing
progress, metrics and console logs as a real agent would, so the job monitor has something
live to follow. A PATCH to ``STOPPED`` ends it early.
"""

from __future__ import annotations

import threading
from typing import Any

from .db import dumps, now
from .routes.integration import TERMINAL, add_console_log

STEPS = 10


class JobRunner:
    def __init__(self, state: Any, duration: float) -> None:
        self.state = state
        self.duration = duration
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, job_id: str) -> None:
        thread = threading.Thread(
            target=self._run, args=(job_id,), daemon=True, name=f"synapse-job-{job_id[:8]}"
        )
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)

    def _status(self, job_id: str) -> str | None:
        return self.state.db.scalar("SELECT status FROM jobs WHERE id = ?", (job_id,))

    def _update(self, job_id: str, log: dict | None = None, **fields: Any) -> bool:
        """Apply an update unless the job was stopped meanwhile; False when it is terminal."""
        with self.state.db.write() as con:
            status = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
            if status in TERMINAL:
                return False
            fields["modified"] = now()
            con.execute(
                f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                [*fields.values(), job_id],
            )
            if log:
                add_console_log(con, job_id, log)
        return True

    def _run(self, job_id: str) -> None:
        row = self.state.db.one("SELECT params, action FROM jobs WHERE id = ?", (job_id,))
        params = __import__("json").loads(row["params"] or "{}")
        fail = bool(params.get("fail")) if isinstance(params, dict) else False
        if self._stop.wait(min(0.3, self.duration / STEPS)):
            return
        if not self._update(
            job_id,
            {"message": f"Starting action '{row['action']}'", "step": "start"},
            status="RUNNING",
            started=now(),
        ):
            return
        for step in range(1, STEPS + 1):
            if self._stop.wait(self.duration / STEPS):
                return
            pct = step * 100 // STEPS
            progress = {
                "record": {"step": step, "total": STEPS},
                "current_progress": {"overall": pct, "step": "run"},
            }
            metrics = {"record": {"steps": {str(step): {"loss": round(1.0 / step, 4)}}}}
            level = "warning" if step == STEPS // 2 else "info"
            if not self._update(
                job_id,
                {"message": f"step {step}/{STEPS} ({pct}%)", "level": level, "step": "run"},
                progress_record=dumps(progress),
                metrics_record=dumps(metrics),
            ):
                return
            if fail and step == STEPS // 2:
                self._update(
                    job_id,
                    {
                        "message": "Simulated failure requested by params.fail",
                        "level": "error",
                        "step": "run",
                    },
                    status="FAILED",
                    finished=now(),
                    result=dumps({"error": "simulated failure"}),
                )
                return
        self._update(
            job_id,
            {"message": "Done", "level": "success", "step": "finish"},
            status="SUCCEEDED",
            finished=now(),
            result=dumps({"ok": True}),
        )
