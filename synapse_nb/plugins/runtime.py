"""What plugin code sees while it runs as a job, and the job process's entry point.

The backend's executor starts each job as ``python -m synapse_nb.plugins.runtime <spec>
<job id>`` in the release's folder. This module loads the action's entrypoint
(``module:callable_or_class``) and calls it with validated params and a :class:`RunContext`,
whose methods keep the Synapse SDK's names (``log_message``, ``set_progress``,
``log_metrics``...). Progress, metrics, log records and the result travel to the executor as
JSON lines on a private pipe; plain ``print`` output and stderr are captured too.

An entrypoint may be

* a function ``run(params, ctx)`` (or ``run(ctx)``, or ``run()``), or
* a class, built as ``Cls(params, ctx)`` (or ``Cls()`` with ``params``/``ctx`` set after),
  whose ``run_method`` (``run`` unless the action says otherwise) is then called.

Its return value (JSON-able) becomes the job's ``result``.

Example:
    >>> ctx = RunContext({"job_id": "j1", "action": "run", "params": {"n": 2}})
    >>> ctx.params["n"], ctx.stop_requested
    (2, False)
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from synapse_nb.exceptions import SynapseNBError

__all__ = ["JobStopped", "RunContext", "main"]

#: exit code of a job process that ended because a stop was requested
STOPPED_EXIT = 143
#: exit code of a job process whose action raised
FAILED_EXIT = 1
#: a job id as a folder name (``\Z``, not ``$``: ``$`` also matches before a final newline)
JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}\Z")
_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


class JobStopped(SynapseNBError):
    """Raised inside plugin code when the job was asked to stop (see :meth:`RunContext.check_stop`).

    Example:
        >>> isinstance(JobStopped("stop"), SynapseNBError)
        True
    """


class _Events:
    """JSON lines to the executor (a no-op sink when the process runs outside a job)."""

    def __init__(self, stream: IO[str] | None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, kind: str, **payload: Any) -> None:
        if self._stream is None:
            return
        line = json.dumps({"type": kind, **payload}, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class _EventHandler(logging.Handler):
    """Every log record of the process becomes a console log with its level."""

    def __init__(self, events: _Events) -> None:
        super().__init__(logging.DEBUG)
        self._events = events

    def emit(self, record: logging.LogRecord) -> None:
        level = _LEVELS.get(record.levelno, "info")
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        self._events.send("log", level=level, message=message, step=record.name)


class RunContext:
    """The job as plugin code sees it.

    Attributes:
        job_id: this job's id.
        action: the action being run.
        params: the run parameters, checked against the action's schema (defaults filled).
        scratch_dir: a private folder for temporary files, removed when the job ends (whatever
            its outcome; ``checkpoint_dir`` is kept).
        checkpoint_dir: where to save checkpoints; a later job can resume from them.
        logger: a logger whose records become this job's console logs.
        storage_roots: the backend's storage roots: folders a ``file_system`` storage's
            location must be inside when the job uses it (empty outside a backend job).

    Example:
        >>> ctx = RunContext({"job_id": "j1", "action": "train", "params": {}})
        >>> ctx.set_progress(1, 4)["percent"]
        25.0
    """

    def __init__(self, spec: Mapping[str, Any], events: _Events | None = None) -> None:
        self.job_id: str = str(spec.get("job_id", ""))
        self.action: str = str(spec.get("action", ""))
        self.params: dict[str, Any] = dict(spec.get("params") or {})
        self.scratch_dir = Path(spec.get("scratch_dir") or ".")
        self.checkpoint_dir = Path(spec.get("checkpoint_dir") or self.scratch_dir)
        self.logger = logging.getLogger(f"plugin.{self.action or 'run'}")
        self.storage_roots: tuple[Path, ...] = tuple(
            Path(root) for root in spec.get("storage_roots") or ()
        )
        self._jobs_root = Path(spec["jobs_root"]) if spec.get("jobs_root") else None
        self._base_url: str | None = spec.get("base_url")
        self._token: str | None = spec.get("token")
        self._events = events or _Events(None)
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._acknowledged = False
        #: seconds plugin code has, after a stop request, to notice it before it is interrupted
        self.stop_window = float(spec.get("stop_window", 1.0))
        self._client: Any = None
        #: the Ray cluster running this job (its address and token); None on the local executor
        self._ray: dict[str, Any] | None = spec.get("ray") or None

    def __repr__(self) -> str:  # the token stays out
        return f"<RunContext job={self.job_id} action={self.action!r}>"

    # ------------------------------------------------------------------ reporting
    def log_message(self, message: str, level: str = "info", step: str | None = None) -> None:
        """Write one console log line (``level``: debug, info, success, warning, error...)."""
        self._events.send("log", level=level, message=str(message), step=step)

    def log(self, event: str, data: Mapping[str, Any], level: str = "info") -> None:
        """A structured console log entry (``event`` names it, ``data`` is any JSON)."""
        message = str(data.get("message", event)) if isinstance(data, Mapping) else event
        self._events.send("log", level=level, message=message, event=event, data=dict(data))

    def set_progress(self, current: float, total: float, category: str | None = None) -> dict:
        """Report progress; the ETA is extrapolated from the time since the job started."""
        if total <= 0:
            raise ValueError(f"total must be > 0, got {total!r}")
        percent = round(100.0 * current / total, 2)
        elapsed = time.monotonic() - self._started
        eta = elapsed * (total - current) / current if current > 0 else None
        record = {
            "current": current,
            "total": total,
            "percent": percent,
            "category": category,
            "eta_seconds": None if eta is None else round(eta, 2),
        }
        self._events.send("progress", **record)
        return record

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        *,
        step: int | str | None = None,
        category: str = "epoch",
    ) -> None:
        """Record metric values (e.g. one epoch's ``{"loss": 0.4}``) under ``category``/``step``."""
        values = {str(k): float(v) for k, v in metrics.items()}
        self._events.send("metrics", category=category, step=step, values=values)

    set_metrics = log_metrics

    # ------------------------------------------------------------------ stop
    @property
    def stop_requested(self) -> bool:
        """True once the job was asked to stop.

        Plugin code that reads it within :attr:`stop_window` seconds of the request may finish
        its step, save its work and return; code that does not look is interrupted with
        :class:`JobStopped` when the window closes.
        """
        requested = self._stop.is_set()
        if requested:
            self._acknowledged = True
        return requested

    def check_stop(self) -> None:
        """Raise :class:`JobStopped` when a stop was requested (a cooperative checkpoint)."""
        if self.stop_requested:
            raise JobStopped(f"job {self.job_id} was asked to stop")

    def _request_stop(self, *_: Any) -> None:
        """SIGTERM: note the request, interrupt the code if it has not noticed in time."""
        self._stop.set()
        if self.stop_window > 0:
            signal.setitimer(signal.ITIMER_REAL, self.stop_window)
        else:
            self._interrupt()

    def _interrupt(self, *_: Any) -> None:
        if not self._acknowledged:
            raise JobStopped(f"job {self.job_id} was asked to stop")

    # ------------------------------------------------------------------ backend access
    @property
    def client(self) -> Any:
        """A ``BackendClient`` on the backend, with a token minted for this job.

        The token acts as the user who started the job (that user's rights, in that tenant
        only) and is revoked when the job ends; it is not narrower than the user.
        """
        if self._client is None:
            if not self._base_url or not self._token:
                raise SynapseNBError("this job has no backend access (no user started it)")
            from synapse_nb.clients import BackendClient

            self._client = BackendClient(self._base_url, api_token=self._token)
        return self._client

    def notebook_client(self) -> Any:
        """A new notebook ``Client`` (DataFrames, ``evaluate``...) on this job's token.

        No cache and no progress bars; close it (or use it in a ``with`` block) when done.
        """
        if not self._base_url or not self._token:
            raise SynapseNBError("this job has no backend access (no user started it)")
        from synapse_nb.frames import Client

        return Client(self._base_url, api_token=self._token, cache=False, progress=False)

    def backend_access(self) -> tuple[str, str]:
        """``(base_url, token)`` of this job, for work it hands to other processes.

        The token is the job's credential: never log or show it.
        """
        if not self._base_url or not self._token:
            raise SynapseNBError("this job has no backend access (no user started it)")
        return self._base_url, self._token

    # ------------------------------------------------------------------ Ray
    @property
    def ray_address(self) -> str | None:
        """The address of the Ray cluster running this job; None on the local executor.

        Example:
            >>> RunContext({"job_id": "j1"}).ray_address is None
            True
        """
        return (self._ray or {}).get("address") or None

    def connect_ray(self) -> Any:
        """Connect this process to the Ray cluster running the job; returns the ``ray`` module.

        Tasks started from here run in the job's environment on the cluster. Ray is imported
        only here, so a job on the local executor never loads it.
        """
        if self.ray_address is None:
            raise SynapseNBError(f"job {self.job_id} does not run on Ray")
        import ray

        if not ray.is_initialized():
            token = (self._ray or {}).get("token")
            if token:  # the job process does not inherit it (see the executor's child_env)
                os.environ["RAY_AUTH_TOKEN"] = token
            on_term = signal.getsignal(signal.SIGTERM)
            ray.init(address=self.ray_address, logging_level=logging.WARNING,
                     log_to_driver=False)  # fmt: skip
            signal.signal(signal.SIGTERM, on_term)  # Ray's own handler exits at once: a stop
            # request must stay cooperative (the job cancels its Ray tasks, then ends)
        return ray

    def checkpoint_dir_of(self, job_id: str) -> Path | None:
        """The checkpoint folder of an earlier job of this tenant, None when it has none."""
        if self._jobs_root is None or not JOB_ID_RE.fullmatch(job_id):
            return None
        folder = self._jobs_root / job_id / "checkpoints"
        return folder if folder.is_dir() else None


# ---------------------------------------------------------------- job process


def load_entrypoint(entrypoint: str) -> Any:
    """Import ``module:attr.path`` and return the object it names."""
    module_name, _, attr = entrypoint.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def _positional_count(func: Any) -> int:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return 2
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 2
    return sum(1 for p in params if p.kind in kinds)


def call_entrypoint(target: Any, ctx: RunContext, run_method: str = "run") -> Any:
    """Call a function or build a class and call its ``run_method``; returns the result."""
    args = (ctx.params, ctx)
    if inspect.isclass(target):
        count = _positional_count(target.__init__) - 1  # minus self
        instance: Any = target(*args[: max(0, min(count, 2))])
        if count < 2:
            instance.params, instance.ctx = ctx.params, ctx
        method = getattr(instance, run_method, None)
        if not callable(method):
            raise SynapseNBError(f"{target.__name__} has no method {run_method!r}")
        return method()
    if not callable(target):
        raise SynapseNBError(f"the entrypoint {target!r:.80} is not callable")
    count = _positional_count(target)
    return target(*([] if count == 0 else [ctx] if count == 1 else list(args)))


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return {"repr": repr(value)[:2000]}


def run_job(spec: Mapping[str, Any], events: _Events) -> int:
    """Run one action; returns the process exit code."""
    ctx = RunContext(spec, events)
    signal.signal(signal.SIGTERM, ctx._request_stop)
    signal.signal(signal.SIGALRM, ctx._interrupt)
    root = logging.getLogger()
    root.handlers[:] = [_EventHandler(events)]
    root.setLevel(logging.INFO)
    sys.path.insert(0, str(spec.get("release_dir") or os.getcwd()))
    try:
        target = load_entrypoint(str(spec["entrypoint"]))
        value = call_entrypoint(target, ctx, str(spec.get("run_method") or "run"))
    except JobStopped:
        events.send("log", level="warning", message="Stopped on request", step="stop")
        return STOPPED_EXIT
    except SystemExit as exc:
        events.send(
            "error", message=f"The plugin called sys.exit({exc.code!r}) instead of returning"
        )
        return exc.code if isinstance(exc.code, int) and exc.code else FAILED_EXIT
    except BaseException:
        events.send("error", message=traceback.format_exc().rstrip())
        return FAILED_EXIT
    events.send("result", value=_jsonable(value))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of a job process: ``python -m synapse_nb.plugins.runtime <spec> <job>``."""
    args = sys.argv[1:] if argv is None else argv
    spec_path = Path(args[0])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec_path.unlink(missing_ok=True)  # it holds the job token: read once, then gone
    fd = int(os.environ.get("SYNAPSE_NB_EVENT_FD", "-1"))
    stream = os.fdopen(fd, "w", encoding="utf-8") if fd >= 0 else None
    code = run_job(spec, _Events(stream))
    if stream is not None:
        stream.close()
    return code


if __name__ == "__main__":
    # Run by path (see the executor): plugin code importing ``synapse_nb.plugins.runtime``
    # must get this very module, so that ``JobStopped`` and ``RunContext`` are the same classes.
    sys.modules.setdefault("synapse_nb.plugins.runtime", sys.modules[__name__])
    sys.exit(main())
