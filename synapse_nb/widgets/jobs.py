"""``JobMonitor``: a plugin job's status, progress and console log, live, with a stop button.

Everything that waits on the server runs in two daemon threads, so the kernel stays free
(cells run, buttons answer) while a job is followed:

* the **status** thread reads the job (``get_job``) every ``poll_interval`` seconds and
  shows its status, ``progress_record.current_progress.overall`` and the ETA while it runs,
  and a line chart of the metrics it logged (``metrics_record``), redrawn as they grow;
* the **log** thread follows the console log: through the client's
  ``tail_job_console_logs`` stream when it has one (server-sent events, replayed from the
  first line on reconnect, so lines already shown are skipped), else by polling
  ``list_job_console_logs``.

Both stop when the job reaches a terminal status (``SUCCEEDED``, ``FAILED``, ``STOPPED``) or
when the widget is closed (a blocked stream read gives up after ``2 * poll_interval`` s
without data, then the thread sees the close). **Stop** sends ``PATCH jobs/{id}/`` with
``status=STOPPED`` through ``update_job``.

Loading: nothing is fetched in ``__init__``; the threads start on first display or on
:meth:`JobMonitor.start`.

Example:
    >>> params = {"epochs": 2, "delay": 0.05, "register": False}
    >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
    >>> monitor = JobMonitor(client, job["id"], poll_interval=0.2)
    >>> monitor.start().wait(60).status
    'SUCCEEDED'
"""

from __future__ import annotations

import html
import numbers
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import ipywidgets as widgets
from traitlets import Bool, Float, Int, Unicode, validate

from synapse_nb.exceptions import ClientError, InvalidInputError, NotFoundError
from synapse_nb.widgets._display import (
    LoadOnDisplay,
    check_callback,
    check_widget_options,
    error_html,
)
from synapse_nb.widgets._metrics_chart import metric_series, metrics_html

__all__ = ["TERMINAL", "JobMonitor"]

#: Statuses after which a job never changes again.
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
_STYLES = {"SUCCEEDED": "success", "FAILED": "danger", "STOPPED": "warning", "RUNNING": "info"}
_LEVEL_COLORS = {
    "error": "#ef5350",
    "danger": "#ef5350",
    "warning": "#ffb300",
    "success": "#66bb6a",
    "debug": "#9e9e9e",
}
#: Seconds between two redraws of the log while lines stream in.
LOG_REDRAW = 0.2
#: Failed stream connections in a row after which the log thread switches to polling.
STREAM_FAILURES = 3


def _job_id(job: Any) -> str:
    if isinstance(job, Mapping):
        job = job.get("id", job.get("job_id"))
    elif hasattr(job, "name") and not isinstance(job, str | int):
        job = job.name  # a row of a jobs frame: its index is the job id
    if isinstance(job, bool) or not isinstance(job, str | int) or str(job).strip() == "":
        raise InvalidInputError(
            "job", job, "must be a job id, a job dict or a jobs-frame row", method="JobMonitor"
        )
    return str(job).strip()


def _progress(job: Mapping[str, Any]) -> float | None:
    record = job.get("progress_record")
    current = record.get("current_progress") if isinstance(record, Mapping) else None
    overall = current.get("overall") if isinstance(current, Mapping) else None
    if isinstance(overall, int | float) and not isinstance(overall, bool):
        return float(min(max(overall, 0.0), 100.0))
    return None


def _line(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    """(time, level, message) of a console-log entry from the stream or the listing."""
    message = entry.get("message")
    if message is None:
        message = entry.get("log", "")
    stamp = str(entry.get("datetime") or "")
    clock = stamp[11:19] if len(stamp) >= 19 else stamp
    return clock, str(entry.get("level") or "info").lower(), str(message)


class JobMonitor(LoadOnDisplay, widgets.VBox):
    """Follow a job: status, progress bar, console log and a stop button.

    Args:
        client: A :class:`~synapse_nb.clients.BackendClient` (or ``frames.Client``).
        job: The job id, the job dict (``run_plugin``'s reply) or a row of a jobs frame.
        poll_interval: Seconds between status reads (and log reads when polling).
        max_lines: Console lines kept on screen (older ones scroll away).
        follow: ``"auto"`` (the tail stream if the client has one), ``"tail"`` or ``"poll"``.

    Raises:
        InvalidInputError: A bad argument (nothing is sent).

    Example:
        >>> params = {"epochs": 2, "delay": 0.05, "register": False}
        >>> job_id = client.run_plugin("numpy-trainer", {"action": "train", "params": params})["id"]
        >>> monitor = JobMonitor(client, job_id, poll_interval=0.5)
        >>> monitor.start().wait(60).status
        'SUCCEEDED'
    """

    job_id = Unicode(read_only=True, help="Id of the followed job").tag(sync=True)
    status = Unicode("", read_only=True, help="Job status as last read").tag(sync=True)
    progress = Float(0.0, read_only=True, help="Overall progress in percent").tag(sync=True)
    log_lines = Int(0, read_only=True, help="Console-log lines received so far").tag(sync=True)
    log_source = Unicode("", read_only=True, help="'tail' (stream) or 'poll'").tag(sync=True)
    following = Bool(False, read_only=True, help="The background threads are running").tag(
        sync=True
    )
    poll_interval = Float(0.5, help="Seconds between status reads").tag(sync=True)
    max_lines = Int(500, help="Console lines kept on screen").tag(sync=True)

    def __init__(
        self,
        client: Any,
        job: Any,
        *,
        poll_interval: float = 0.5,
        max_lines: int = 500,
        follow: str = "auto",
        **kwargs: Any,
    ) -> None:
        check_widget_options(type(self), kwargs)
        for method in ("get_job", "update_job", "list_job_console_logs"):
            if not callable(getattr(client, method, None)):
                raise InvalidInputError(
                    "client", type(client).__name__, f"has no {method}()", method="JobMonitor"
                )
        if follow not in ("auto", "tail", "poll"):
            raise InvalidInputError(
                "follow", follow, "must be 'auto', 'tail' or 'poll'", method="JobMonitor"
            )
        if follow == "tail" and not callable(getattr(client, "tail_job_console_logs", None)):
            raise InvalidInputError(
                "follow", follow, "the client has no tail_job_console_logs()", method="JobMonitor"
            )
        job_id = _job_id(job)
        self._client = client
        self._follow = follow
        self._closed = threading.Event()
        self._done = threading.Event()  # the job reached a terminal status
        self._threads: list[threading.Thread] = []
        self._running = 0  # threads not yet ended (guarded by _lines_lock)
        self._lines: deque[tuple[str, str, str]] = deque(maxlen=max(int(max_lines), 1))
        self._lines_lock = threading.Lock()
        self._last_log_draw = 0.0
        self._status_callbacks = widgets.CallbackDispatcher()
        self._stop_callbacks = widgets.CallbackDispatcher()
        self._title = widgets.HTML()
        self._bar = widgets.FloatProgress(
            min=0.0, max=100.0, description="0%", layout=widgets.Layout(width="60%")
        )
        self._bar.add_class("snb-job-progress")
        self._stop = widgets.Button(description="Stop", icon="stop", button_style="danger")
        self._stop.add_class("snb-job-stop")
        self._stop.on_click(lambda _b: self._stop_from_ui())
        self._log = widgets.HTML()
        self._log.add_class("snb-job-log")
        self._message = widgets.HTML()
        self._chart = widgets.HTML()  # the logged metrics, drawn once the job has some
        self._metrics: dict[str, Any] = {}
        super().__init__(
            [
                self._title,
                widgets.HBox([self._bar, self._stop]),
                self._chart,
                self._log,
                self._message,
            ],
            **kwargs,
        )
        self.set_trait("job_id", job_id)
        self.poll_interval = poll_interval
        self.max_lines = max_lines
        self._draw_title({})
        self._draw_log()

    @validate("poll_interval")
    def _valid_interval(self, proposal: Any) -> float:
        value = proposal["value"]
        if not 0.05 <= value <= 60:
            raise InvalidInputError(
                "poll_interval", value, "must be seconds between 0.05 and 60", method="JobMonitor"
            )
        return value

    @validate("max_lines")
    def _valid_max_lines(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 1 <= value <= 100_000:
            raise InvalidInputError(
                "max_lines", value, "must be between 1 and 100000", method="JobMonitor"
            )
        return value

    # ------------------------------------------------------------------ public API
    @property
    def lines(self) -> list[str]:
        """The console lines on screen, oldest first (``HH:MM:SS level message``).

        Example:
            >>> params = {"epochs": 2, "delay": 0.05, "register": False}
            >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
            >>> monitor = JobMonitor(client, job["id"], poll_interval=0.2).start().wait(60)
            >>> monitor.lines[-1]
            '...:... success Done'
        """
        with self._lines_lock:
            return [f"{t} {level} {message}".strip() for t, level, message in self._lines]

    def load(self) -> JobMonitor:
        """Start following the job (also done on first display). Returns the widget.

        Example:
            >>> params = {"epochs": 2, "delay": 0.05, "register": False}
            >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
            >>> JobMonitor(client, job["id"], poll_interval=0.2).load().wait(60).status
            'SUCCEEDED'
        """
        return self.start()

    def start(self) -> JobMonitor:
        """Start the status and log threads unless they run already; returns at once.

        Example:
            >>> params = {"epochs": 2, "delay": 0.05, "register": False}
            >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
            >>> monitor = JobMonitor(client, job["id"], poll_interval=0.2)
            >>> monitor.start() is monitor
            True
            >>> monitor.wait(60).status
            'SUCCEEDED'
        """
        if self._closed.is_set():
            raise InvalidInputError("monitor", "closed", "is closed; make a new one")
        if not self._threads:
            self._loaded = True
            use_tail = self._follow == "tail" or (
                self._follow == "auto"
                and callable(getattr(self._client, "tail_job_console_logs", None))
            )
            self.set_trait("log_source", "tail" if use_tail else "poll")
            for name, target in (("status", self._watch_status), ("log", self._watch_log)):
                thread = threading.Thread(
                    target=target, name=f"synapse-job-{name}-{self.job_id[:8]}", daemon=True
                )
                self._threads.append(thread)
            self._running = len(self._threads)
            self.set_trait("following", True)
            for thread in self._threads:
                thread.start()
        return self

    def wait(self, timeout: float | None = None) -> JobMonitor:
        """Block until the threads end (job terminal or widget closed), or ``timeout`` s.

        Example:
            >>> params = {"epochs": 2, "delay": 0.05, "register": False}
            >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
            >>> monitor = JobMonitor(client, job["id"], poll_interval=0.2)
            >>> monitor.start().wait(30).status
            'SUCCEEDED'
        """
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, numbers.Real)
            or not 0 <= timeout < float("inf")
        ):
            raise InvalidInputError(
                "timeout", timeout, "must be seconds >= 0, or None to wait for the end",
                method="JobMonitor.wait",
            )  # fmt: skip
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
        return self

    def stop(self) -> dict[str, Any]:
        """Ask the server to stop the job (``update_job(id, {'status': 'STOPPED'})``).

        Returns:
            The updated job.

        Example:
            >>> params = {"epochs": 50, "delay": 0.5, "register": False}
            >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
            >>> monitor = JobMonitor(client, job["id"], poll_interval=0.2).start()
            >>> monitor.stop()["status"]
            'STOPPED'
            >>> monitor.wait(30).status
            'STOPPED'
        """
        self._stop.disabled = True
        job = self._client.update_job(self.job_id, {"status": "STOPPED"})
        self._stop_callbacks(self)
        if isinstance(job, Mapping):
            self._apply(job)
        return job

    def on_stop(self, callback: Callable[[JobMonitor], Any], remove: bool = False) -> None:
        """Register ``callback(monitor)`` to run after :meth:`stop` (or the Stop button).

        Example:
            >>> params = {"epochs": 50, "delay": 0.5, "register": False}
            >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
            >>> monitor = JobMonitor(client, job["id"], poll_interval=0.2).start()
            >>> monitor.on_stop(lambda m: print("stopped", m.job_id == job["id"]))
            >>> monitor.stop()["status"]
            stopped True
            'STOPPED'
            >>> monitor.close()
        """
        checked = check_callback(callback, "JobMonitor.on_stop")
        self._stop_callbacks.register_callback(checked, remove=remove)

    def on_status(self, callback: Callable[[JobMonitor], Any], remove: bool = False) -> None:
        """Register ``callback(monitor)`` to run whenever the job's status changes.

        Example:
            >>> params = {"epochs": 2, "delay": 0.05, "register": False}
            >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
            >>> monitor = JobMonitor(client, job["id"], poll_interval=0.2)
            >>> seen = []
            >>> monitor.on_status(lambda m: seen.append(m.status))
            >>> monitor.start().wait(60).status
            'SUCCEEDED'
            >>> seen[-1]
            'SUCCEEDED'
        """
        checked = check_callback(callback, "JobMonitor.on_status")
        self._status_callbacks.register_callback(checked, remove=remove)

    def close(self) -> None:
        """Stop following (the threads end within about ``2 * poll_interval`` s) and close.

        The job itself goes on; use :meth:`stop` to stop it.

        Example:
            >>> params = {"epochs": 50, "delay": 0.5, "register": False}
            >>> job = client.run_plugin("numpy-trainer", {"action": "train", "params": params})
            >>> monitor = JobMonitor(client, job["id"], poll_interval=0.2).start()
            >>> monitor.close()
            >>> monitor.comm is None
            True
            >>> client.update_job(job["id"], {"status": "STOPPED"})["status"]
            'STOPPED'
        """
        closed = getattr(self, "_closed", None)  # absent when __init__ refused its input
        if closed is not None:
            closed.set()
        super().close()

    # ------------------------------------------------------------------ UI
    def _stop_from_ui(self) -> None:
        try:
            self.stop()
        except ClientError as exc:  # shown in the widget: a click handler must not raise
            self._stop.disabled = self.status in TERMINAL
            self._message.value = error_html(f"stop failed: {exc}")

    def _show_load_error(self, exc: Exception) -> None:
        self._message.value = error_html(f"could not follow the job: {exc}")

    @property
    def metrics(self) -> dict[str, list[tuple[float, float]]]:
        """The metrics the job logged, ``{name: [(step, value), ...]}`` (first category)."""
        return dict(self._metrics)

    def _draw_metrics(self, job: Mapping[str, Any]) -> None:
        found = metric_series(job)
        series = found[1] if found else {}
        if series != self._metrics:
            self._metrics = series
            self._chart.value = metrics_html(job)

    def _draw_title(self, job: Mapping[str, Any]) -> None:
        status = self.status or "…"
        release = job.get("plugin_release")
        plugin = ""
        if isinstance(release, Mapping):
            plugin = f" · {release.get('plugin', '')} {release.get('version', '')}".rstrip()
        action = f" · {job['action']}" if job.get("action") else ""
        step = ""
        record = job.get("progress_record")
        current = record.get("current_progress") if isinstance(record, Mapping) else None
        if isinstance(current, Mapping) and current.get("step"):
            step = f" · step {current['step']}"
        eta = current.get("eta_seconds") if isinstance(current, Mapping) else None
        if status == "RUNNING" and isinstance(eta, int | float) and not isinstance(eta, bool):
            step += f" · ETA {eta:.0f} s"
        self._title.value = (
            f"<b>job {html.escape(self.job_id[:8])}</b>{html.escape(plugin + action)} · "
            f"<b class='snb-job-status'>{html.escape(status)}</b>{html.escape(step)}"
        )

    def _apply(self, job: Mapping[str, Any]) -> None:
        status = str(job.get("status") or "")
        progress = _progress(job)
        changed = status != self.status
        self.set_trait("status", status)
        if progress is not None:
            self.set_trait("progress", progress)
        self._bar.value = self.progress
        self._bar.description = f"{self.progress:.0f}%"
        self._bar.bar_style = _STYLES.get(status, "")
        self._stop.disabled = status in TERMINAL
        self._draw_title(job)
        self._draw_metrics(job)
        if status in TERMINAL:
            self._done.set()
        if changed:
            self._status_callbacks(self)

    def _draw_log(self, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._last_log_draw < LOG_REDRAW:
            return
        self._last_log_draw = now
        with self._lines_lock:
            lines = list(self._lines)
        rows = (
            "".join(
                f"<div style='margin:0;line-height:1.35'><span style='color:#9e9e9e'>"
                f"{html.escape(t)}</span> "
                f"<span style='color:{_LEVEL_COLORS.get(level, '#e0e0e0')}'>"
                f"{html.escape(message)}</span></div>"
                for t, level, message in lines
            )
            or "<div style='color:#9e9e9e'>no console output yet</div>"
        )
        # column-reverse keeps the scroll position at the newest line as lines arrive
        self._log.value = (
            "<div style='display:flex;flex-direction:column-reverse;max-height:14em;"
            "overflow:auto;background:#212121;color:#e0e0e0;font-family:monospace;"
            f"font-size:12px;padding:4px'><div>{rows}</div></div>"
        )

    # ------------------------------------------------------------------ threads
    def _stopping(self) -> bool:
        return self._closed.is_set()

    def _watch_status(self) -> None:
        failures = 0
        try:
            while not self._stopping():
                try:
                    job = self._client.get_job(self.job_id)
                except NotFoundError as exc:
                    self._message.value = error_html(f"job {self.job_id}: {exc}")
                    self._done.set()
                    return
                except ClientError as exc:  # keep trying, more slowly: the server may return
                    failures += 1
                    self._message.value = error_html(f"reading the job failed: {exc}")
                else:
                    if failures:
                        self._message.value = ""
                    failures = 0
                    if isinstance(job, Mapping):
                        self._apply(job)
                        if self.status in TERMINAL:
                            return
                self._closed.wait(self.poll_interval * min(2**failures, 8))
        finally:
            self._thread_ended()

    def _watch_log(self) -> None:
        try:
            seen = self._follow_stream() if self.log_source == "tail" else 0
            if seen is not None and not self._stopping():
                self.set_trait("log_source", "poll")
                self._poll_log(seen)
        finally:
            self._draw_log()
            self._thread_ended()

    def _add(self, entry: Mapping[str, Any]) -> None:
        with self._lines_lock:
            self._lines.append(_line(entry))
        self.set_trait("log_lines", self.log_lines + 1)
        self._draw_log(force=False)

    def _follow_stream(self) -> int | None:
        """Follow the SSE tail; None when done, else the lines seen before falling back to
        polling (the stream could not be opened ``STREAM_FAILURES`` times in a row)."""
        seen = 0
        failures = 0
        while not self._stopping():
            try:
                events: Iterator[dict[str, Any]] = self._client.tail_job_console_logs(
                    self.job_id, timeout=max(2 * self.poll_interval, 1.0)
                )
            except ClientError:
                failures += 1
                if failures >= STREAM_FAILURES:
                    return seen
                self._closed.wait(min(self.poll_interval, 1.0))
                continue
            failures = 0
            received = 0
            try:
                for event in events:
                    if self._stopping():
                        return None
                    if event.get("type", "log") != "log":
                        continue
                    received += 1
                    if received > seen:  # a reconnected stream replays the log from the start
                        seen = received
                        self._add(event)
                # the server ends the stream when the job ends, or after its own timeout:
                # the status thread tells which
                if self._done.wait(2 * self.poll_interval + 0.5):
                    return None
                continue
            except ClientError:
                # a quiet stream times out and a restarted server drops it: reconnect,
                # unless the job is over (then read what the stream did not deliver)
                if self._done.is_set():
                    self._catch_up(seen)
                    return None
        return None

    def _catch_up(self, seen: int) -> None:
        try:
            entries = self._listing()
        except ClientError as exc:
            self._message.value = error_html(f"reading the console log failed: {exc}")
            return
        for entry in entries[seen:]:
            self._add(entry)

    def _listing(self) -> list[Mapping[str, Any]]:
        reply = self._client.list_job_console_logs(self.job_id, list_all=True)
        items = reply[0] if isinstance(reply, tuple) else reply
        if isinstance(items, Mapping):
            items = items.get("results", [])
        return [e for e in items if isinstance(e, Mapping)]

    def _poll_log(self, seen: int) -> None:
        while not self._stopping():
            terminal = self._done.is_set()
            try:
                entries = self._listing()
            except ClientError as exc:
                self._message.value = error_html(f"reading the console log failed: {exc}")
                entries = []
            for entry in entries[seen:]:
                self._add(entry)
            seen = max(seen, len(entries))
            self._draw_log()
            if terminal:
                return  # read once more after the end, so the last lines are in
            self._closed.wait(self.poll_interval)

    def _thread_ended(self) -> None:
        with self._lines_lock:
            self._running -= 1
            last = self._running == 0
        if last:
            self.set_trait("following", False)
