"""``UploadProgress``: per-file and total upload progress, cancel, retry, text fallback.

Two ways to use it:

* as the client's ``progress=`` callback, for an upload you run yourself::

      bar = UploadProgress()
      display(bar)
      client.create_chunked_upload("video.mp4", progress=bar)

  (``bar.callback(path)`` gives a callback bound to one file when you upload several.)

* driving the uploads, which makes **cancel** and **retry** work from the browser::

      bar = UploadProgress(["a.zip", "b.zip"])
      bar.upload(client)          # returns at once; runs in a background thread
      bar.wait()                  # optional: block until done
      bar.results                 # path -> the server's completion reply

  A button click only reaches Python while the kernel is idle, so a cancel click cannot
  stop an upload that runs in the cell itself (the kernel is busy until it returns); that
  is why :meth:`UploadProgress.upload` runs in a thread when a widget frontend is attached.

**Cancel** stops between chunks, never in the middle of one: the progress callback raises
:class:`UploadCancelled` when the server has confirmed the last chunk sent, so the partial
upload on the server is consistent and :meth:`UploadProgress.retry` resumes it from the
server's offset (``upload_id``). **Failures** (e.g. the server unreachable for longer than
``resume_timeout``) are shown on the file's row with a Retry button; other files go on.

**Throttling**: the numbers are updated on every callback, the widgets at most once per
``throttle`` seconds (default 0.1 s, so at most 10 redraws a second) plus once when a file
starts, ends or fails.

**No widget frontend** (plain Python, a terminal IPython, a script): the same object prints a
``tqdm`` text bar (to stderr) and one line per finished file instead. Detection, by
:func:`widget_frontend`: ``$SYNAPSE_NB_WIDGETS`` (``1``/``0``) wins; otherwise widgets are used
when the code runs in a Jupyter kernel (an ``ipykernel`` shell, as in JupyterLab, Notebook,
VS Code and Colab). ``display="text"``/``"widget"`` overrides both.

Example:
    >>> import io
    >>> bar = UploadProgress(display="text", text_file=io.StringIO())
    >>> bar(0, 100); bar(100, 100)
    >>> bar.sent_bytes, bar.total_bytes, bar.status
    (100, 100, 'done')
"""

from __future__ import annotations

import html
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import ipywidgets as widgets
from tqdm.std import tqdm
from traitlets import Bool, CaselessStrEnum, Float, Int, List, Unicode, validate

from synapse_nb._config import DEFAULT_CHUNK_SIZE
from synapse_nb.exceptions import InvalidInputError, UploadCancelled
from synapse_nb.widgets._display import check_callback, check_widget_options, error_html

__all__ = ["UploadCancelled", "UploadProgress", "widget_frontend"]

#: Seconds of history the transfer rate is computed over.
RATE_WINDOW = 3.0
_BAR_STYLES = {"done": "success", "failed": "danger", "cancelled": "warning"}
_RESUME_NOTE = re.compile(r"upload_id=('?)([A-Za-z0-9_.:-]+)\1\)")
_STATUS_COLORS = {
    "waiting": "#757575",
    "uploading": "#1565c0",
    "done": "#2e7d32",
    "cancelled": "#ef6c00",
    "failed": "#c62828",
}


def widget_frontend() -> bool:
    """Whether widgets can render here: ``$SYNAPSE_NB_WIDGETS`` or a Jupyter kernel.

    ``SYNAPSE_NB_WIDGETS=1``/``0`` forces the answer. Otherwise it is True inside an
    ``ipykernel`` shell (JupyterLab, Notebook 7, VS Code, Colab) and False in plain Python,
    terminal IPython and scripts. A kernel cannot tell whether its client renders widgets
    (nbconvert does not); set the variable to ``0`` there.

    Example:
        >>> os.environ["SYNAPSE_NB_WIDGETS"] = "0"; widget_frontend()
        False
        >>> del os.environ["SYNAPSE_NB_WIDGETS"]
    """
    forced = os.environ.get("SYNAPSE_NB_WIDGETS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return False
    shell = shell_module.get_ipython()
    try:
        from ipykernel.zmqshell import ZMQInteractiveShell
    except ImportError:  # pragma: no cover - ipykernel comes with ipywidgets' frontends
        return False
    return isinstance(shell, ZMQInteractiveShell)


def _size(n: float) -> str:
    return tqdm.format_sizeof(n, "B", 1000)


def _resume_id(exc: BaseException) -> str | None:
    """The ``upload_id`` that resumes the upload an exception stopped, if it says one."""
    found = getattr(exc, "upload_id", None)
    if found is not None:
        return str(found)
    for note in getattr(exc, "__notes__", ()):
        match = _RESUME_NOTE.search(note)
        if match:
            return match.group(2)
    return None


@dataclass
class _File:
    key: str
    name: str
    path: Path | None
    total: int = 0
    sent: int = 0
    status: str = "waiting"
    error: str | None = None
    upload_id: str | None = None
    base: int | None = None  # offset of the first report of the current attempt
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))
    bar: widgets.FloatProgress | None = None
    info: widgets.HTML | None = None
    retry: widgets.Button | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sent": self.sent,
            "total": self.total,
            "status": self.status,
            "error": self.error,
            "upload_id": self.upload_id,
        }


class UploadProgress(widgets.VBox):
    """Progress of one or more uploads: per file and in total, with cancel and retry.

    Args:
        files: Paths to upload with :meth:`upload` (their rows show at once).
        chunk_size: Bytes per chunk of the uploads; cancellation waits for a chunk end.
        throttle: Minimum seconds between two redraws (0.1 = at most 10 a second).
        display: ``"auto"`` (see :func:`widget_frontend`), ``"widget"`` or ``"text"``.
        text_file: Where the text fallback writes (default ``sys.stderr``).

    Raises:
        InvalidInputError: A path is missing, not a file or empty; a bad option.

    Example:
        >>> import io
        >>> bar = UploadProgress(display="text", text_file=io.StringIO())
        >>> cb = bar.callback("model.pt")
        >>> cb(0, 2_000_000); cb(2_000_000, 2_000_000)
        >>> bar.files[0]["status"]
        'done'
    """

    sent_bytes = Int(0, read_only=True, help="Bytes sent, all files").tag(sync=True)
    total_bytes = Int(0, read_only=True, help="Bytes to send, all files").tag(sync=True)
    rate = Float(0.0, read_only=True, help="Current rate in bytes per second").tag(sync=True)
    eta = Float(-1.0, read_only=True, help="Seconds left at the current rate (-1: unknown)").tag(
        sync=True
    )
    status = CaselessStrEnum(
        ("idle", "uploading", "cancelling", "cancelled", "done", "failed"),
        "idle",
        read_only=True,
        help="Overall state",
    ).tag(sync=True)
    files: List[Any] = List(
        read_only=True, help="Per-file name, sent, total, status, error, upload_id"
    ).tag(sync=True)
    cancel_requested = Bool(
        False, help="Set (e.g. by the Cancel button) to stop between chunks"
    ).tag(sync=True)
    throttle = Float(0.1, help="Minimum seconds between redraws").tag(sync=True)
    frontend = Unicode(read_only=True, help="'widget' or 'text' (the fallback)").tag(sync=True)

    def __init__(
        self,
        files: Iterable[str | os.PathLike[str]] | None = None,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        throttle: float = 0.1,
        display: str = "auto",
        text_file: TextIO | None = None,
        **kwargs: Any,
    ) -> None:
        check_widget_options(type(self), kwargs)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise _invalid("chunk_size", chunk_size, "must be a positive int of bytes")
        if display not in ("auto", "widget", "text"):
            raise _invalid("display", display, "must be 'auto', 'widget' or 'text'")
        paths = self._check_paths(files)
        self._chunk_size = chunk_size
        self._entries: dict[str, _File] = {}
        self._current: _File | None = None
        self._lock = threading.RLock()
        self._last_draw = 0.0
        self._thread: threading.Thread | None = None
        self._driving = False  # upload()/retry() run the uploads (else: a bare callback)
        self._queue: deque[str] = deque()  # files waiting for the running upload thread
        self._cancel_callbacks = widgets.CallbackDispatcher()
        self._done_callbacks = widgets.CallbackDispatcher()
        self._text_out = text_file
        self._tqdm: tqdm | None = None
        #: redraws so far (what the throttle limits)
        self.draws = 0
        #: path -> the completion reply (or what ``then`` returned) of finished uploads
        self.results: dict[str, Any] = {}
        self._header = widgets.HTML()
        self._total = widgets.FloatProgress(min=0.0, max=1.0, bar_style="info")
        self._total.add_class("snb-upload-total")
        self._total.layout.width = "100%"
        self._rows = widgets.VBox()
        self._cancel = widgets.Button(description="Cancel", icon="stop", button_style="warning")
        self._cancel.add_class("snb-upload-cancel")
        self._cancel.on_click(lambda _b: self.cancel())
        self._message = widgets.HTML()
        super().__init__(
            [self._header, self._total, self._rows, widgets.HBox([self._cancel]), self._message],
            **kwargs,
        )
        self.throttle = throttle
        use_widgets = widget_frontend() if display == "auto" else display == "widget"
        self.set_trait("frontend", "widget" if use_widgets else "text")
        for path in paths:
            self._entry(str(path), path)
        self._draw(force=True)

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_paths(files: Any) -> list[Path]:
        if files is None:
            return []
        if isinstance(files, str | os.PathLike):
            files = [files]
        if not isinstance(files, Iterable):
            raise _invalid("files", files, "must be a list of file paths")
        paths = []
        for position, item in enumerate(files):
            field_name = f"files[{position}]"
            if not isinstance(item, str | os.PathLike):
                raise _invalid(field_name, item, "must be a str or pathlib.Path")
            path = Path(item).expanduser()
            if not path.is_file():
                raise _invalid(field_name, str(item), "no such file")
            if path.stat().st_size == 0:
                raise _invalid(field_name, str(item), "file is empty")
            paths.append(path)
        return paths

    @validate("throttle")
    def _valid_throttle(self, proposal: Any) -> float:
        value = proposal["value"]
        if not 0.0 <= value <= 60.0:
            raise _invalid("throttle", value, "must be seconds between 0 and 60")
        return value

    # ------------------------------------------------------------------ callbacks
    def __call__(self, sent_bytes: int, total_bytes: int) -> None:
        """Report progress of the current file (the client's ``progress=`` protocol).

        Raises:
            UploadCancelled: Cancel was requested and the last chunk is confirmed.

        Example:
            >>> import io
            >>> path = tmp / "call.bin"
            >>> _ = path.write_bytes(b"UploadProgress.__call__ example " * 100)
            >>> bar = UploadProgress(display="text", text_file=io.StringIO())
            >>> reply = backend.create_chunked_upload(path, progress=bar)
            >>> bar.status, bar.sent_bytes == path.stat().st_size
            ('done', True)
        """
        with self._lock:
            entry = self._current
            if entry is None or entry.status in ("done", "cancelled", "failed"):
                entry = self._entry(f"upload {len(self._entries) + 1}", None)
                self._current = entry
        self._report(entry, sent_bytes, total_bytes)

    def callback(self, name: str | os.PathLike[str]) -> Callable[[int, int], None]:
        """A ``progress(sent, total)`` callback bound to one file (added if new).

        Example:
            >>> import io
            >>> p = tmp / "callback.bin"
            >>> _ = p.write_bytes(b"UploadProgress.callback example " * 100)
            >>> bar = UploadProgress(display="text", text_file=io.StringIO())
            >>> reply = backend.create_data_file(p, True, progress=bar.callback(p))
            >>> [(f["name"], f["status"]) for f in bar.files]
            [('callback.bin', 'done')]
        """
        if not isinstance(name, str | os.PathLike) or not str(name):
            raise _invalid("name", name, "must be a file path or a non-empty name")
        key = str(name)
        with self._lock:
            entry = self._entries.get(key) or self._entry(key, None)

        def report(sent_bytes: int, total_bytes: int) -> None:
            self._report(entry, sent_bytes, total_bytes)

        return report

    def _report(self, entry: _File, sent: int, total: int) -> None:
        now = time.monotonic()
        with self._lock:
            started = entry.status != "uploading"
            if started:
                entry.status, entry.error, entry.base = "uploading", None, sent
                entry.samples.clear()
                self.set_trait("status", "cancelling" if self.cancel_requested else "uploading")
            entry.total = int(total)
            entry.sent = max(int(sent), entry.sent if not started else 0)
            entry.samples.append((now, entry.sent))
            finished = entry.sent >= entry.total > 0
            if finished:
                entry.status = "done"
                if not self._driving and all(e.status == "done" for e in self._entries.values()):
                    self.set_trait("status", "done")
            cancel = self.cancel_requested and not finished and self._at_chunk_end(entry, sent)
            if cancel and not self._driving:
                entry.status = "cancelled"  # upload() records this itself, with the upload id
                self.set_trait("status", "cancelled")
        self._draw(force=started or finished or cancel)
        if cancel:
            raise UploadCancelled(entry.name)

    def _at_chunk_end(self, entry: _File, sent: int) -> bool:
        # the uploader reports a chunk's last byte only once the server confirmed it, and
        # in-chunk reports stop short of it: a report on a chunk boundary of this attempt
        # means nothing is in flight
        base = entry.base or 0
        return (sent - base) % self._chunk_size == 0

    # ------------------------------------------------------------------ control
    def cancel(self) -> None:
        """Stop the uploads after their current chunk (what the Cancel button does).

        Example:
            >>> import io
            >>> bar = UploadProgress(display="text", text_file=io.StringIO())
            >>> bar.cancel()
            >>> bar.cancel_requested
            True
        """
        self.cancel_requested = True
        with self._lock:
            if self.status == "uploading":
                self.set_trait("status", "cancelling")
        self._cancel_callbacks(self)
        self._draw(force=True)

    def on_cancel(self, callback: Callable[[UploadProgress], Any], remove: bool = False) -> None:
        """Register ``callback(widget)`` to run when cancel is requested.

        Example:
            >>> import io
            >>> bar = UploadProgress(display="text", text_file=io.StringIO())
            >>> bar.on_cancel(lambda w: print("stopping"))
            >>> bar.cancel()
            stopping
        """
        checked = check_callback(callback, "UploadProgress.on_cancel")
        self._cancel_callbacks.register_callback(checked, remove=remove)

    def on_complete(self, callback: Callable[[UploadProgress], Any], remove: bool = False) -> None:
        """Register ``callback(widget)`` to run when :meth:`upload` or :meth:`retry` ends.

        Example:
            >>> import io
            >>> path = tmp / "complete.bin"
            >>> _ = path.write_bytes(b"UploadProgress.on_complete example " * 100)
            >>> bar = UploadProgress([path], display="text", text_file=io.StringIO())
            >>> bar.on_complete(lambda w: print(w.status, list(w.results) == [str(path)]))
            >>> bar.upload(backend).wait().status
            done True
            'done'
        """
        checked = check_callback(callback, "UploadProgress.on_complete")
        self._done_callbacks.register_callback(checked, remove=remove)

    def upload(
        self,
        client: Any,
        files: Iterable[str | os.PathLike[str]] | None = None,
        *,
        background: bool | None = None,
        then: Callable[[dict[str, Any], Path], Any] | None = None,
        resume_timeout: float = 120.0,
    ) -> UploadProgress:
        """Upload the waiting files with ``client.create_chunked_upload``, one after another.

        Args:
            client: A :class:`~synapse_nb.clients.BackendClient` (or ``frames.Client``).
            files: More paths to add first.
            background: Run in a thread (default: yes with a widget frontend, so Cancel
                and Retry clicks reach Python; no in text mode, where Ctrl-C stops it).
            then: ``then(reply, path)`` after each completed file, e.g. to create a data
                file from ``reply["id"]``; its result goes into :attr:`results`.
            resume_timeout: Passed to ``create_chunked_upload``.

        Returns:
            The widget (``.wait()`` blocks until the uploads end).

        Example:
            >>> import io
            >>> _ = (tmp / "a.zip").write_bytes(b"UploadProgress.upload example " * 100)
            >>> bar = UploadProgress(["a.zip"], display="text", text_file=io.StringIO())
            >>> results = bar.upload(backend).wait().results
            >>> list(results), "id" in results["a.zip"]
            (['a.zip'], True)
        """
        if not callable(getattr(client, "create_chunked_upload", None)):
            raise _invalid("client", type(client).__name__, "must have create_chunked_upload")
        if then is not None and not callable(then):
            raise _invalid("then", then, "must be callable(reply, path)")
        for path in self._check_paths(files):
            with self._lock:
                if str(path) not in self._entries:
                    self._entry(str(path), path)
        keys = [e.key for e in self._entries.values() if e.path is not None and e.status != "done"]
        return self._start(client, keys, background, then, resume_timeout)

    def retry(
        self,
        name: str | os.PathLike[str] | None = None,
        *,
        client: Any = None,
        background: bool | None = None,
    ) -> UploadProgress:
        """Upload failed or cancelled files again, resuming from the server's offset.

        Args:
            name: One file (default: every failed or cancelled file).
            client: Client to use (default: the one of the last :meth:`upload`).
            background: As for :meth:`upload`.

        Example:
            >>> import io
            >>> _ = (tmp / "b.zip").write_bytes(b"UploadProgress.retry example " * 100)
            >>> bar = UploadProgress(["b.zip"], display="text", text_file=io.StringIO())
            >>> bar.upload(backend).wait().status
            'done'
            >>> bar.retry("b.zip").wait().files[0]["status"]
            'done'
        """
        client = client or getattr(self, "_client", None)
        if client is None:
            raise _invalid("client", None, "no upload() ran yet; pass client=")
        if name is not None:
            entry = self._entries.get(str(name))
            if entry is None or entry.path is None:
                raise _invalid("name", str(name), "is not a file of this upload")
            keys = [entry.key]
        else:
            keys = [
                e.key
                for e in self._entries.values()
                if e.status in ("failed", "cancelled") and e.path is not None
            ]
        return self._start(client, keys, background, self._then, self._resume_timeout)

    def wait(self, timeout: float | None = None) -> UploadProgress:
        """Block until a background upload ends (or ``timeout`` seconds pass).

        Example:
            >>> import io
            >>> _ = (tmp / "c.zip").write_bytes(b"UploadProgress.wait example " * 100)
            >>> bar = UploadProgress(["c.zip"], display="text", text_file=io.StringIO())
            >>> bar.upload(backend, background=True).wait(60).status
            'done'
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self

    # ------------------------------------------------------------------ running
    def _start(
        self,
        client: Any,
        keys: list[str],
        background: bool | None,
        then: Any,
        resume_timeout: float,
    ) -> UploadProgress:
        with self._lock:
            for key in keys:
                entry = self._entries[key]
                if entry.status != "uploading":
                    entry.status, entry.error = "waiting", None
            if self._driving:
                # a Retry click while files upload: queued behind them, same client
                self._queue.extend(k for k in keys if k not in self._queue)
                queued = True
            else:
                self._client, self._then, self._resume_timeout = client, then, resume_timeout
                self.cancel_requested = False
                self._queue.extend(keys)
                self._driving = True
                queued = False
        self._draw(force=True)
        if queued:
            return self
        if background is None:
            background = self.frontend == "widget"
        if background:
            self._thread = threading.Thread(target=self._run, name="synapse-upload", daemon=True)
            self._thread.start()
        else:
            self._run()
        return self

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._driving = False  # under the lock: _start sees it consistently
                        break
                    entry = self._entries[self._queue.popleft()]
                if self.cancel_requested:
                    self._finish(entry, "cancelled", None)
                    continue
                self._run_one(entry)
        finally:
            with self._lock:
                self._driving = False
                self._queue.clear()
                statuses = {e.status for e in self._entries.values()}
                overall = (
                    "failed"
                    if "failed" in statuses
                    else "cancelled"
                    if "cancelled" in statuses
                    else "done"
                )
                self.set_trait("status", overall)
            self._draw(force=True)
            self._done_callbacks(self)

    def _run_one(self, entry: _File) -> None:
        assert entry.path is not None
        with self._lock:
            self._current = entry
            entry.status = "waiting"
        try:
            reply = self._client.create_chunked_upload(
                entry.path,
                chunk_size=self._chunk_size,
                progress=self.callback(entry.key),
                upload_id=entry.upload_id,
                resume_timeout=self._resume_timeout,
            )
            result = self._then(reply, entry.path) if self._then is not None else reply
        except UploadCancelled as exc:
            self._finish(entry, "cancelled", None, _resume_id(exc))
        except Exception as exc:  # shown on the file's row; the other files go on
            self._finish(entry, "failed", str(exc), _resume_id(exc))
        else:
            self.results[entry.key] = result
            self._finish(entry, "done", None, None)

    def _finish(self, entry: _File, status: str, error: str | None, upload_id: Any = None) -> None:
        with self._lock:
            entry.status, entry.error = status, error
            if status == "done":
                entry.upload_id = None
                entry.sent = entry.total
            elif upload_id is not None:
                entry.upload_id = str(upload_id)
        self._draw(force=True)
        if self.frontend == "text":
            note = f" ({error})" if error else ""
            resume = f"; resume with retry() (upload {entry.upload_id})" if entry.upload_id else ""
            self._print(f"{entry.name}: {status}{note}{resume if status != 'done' else ''}")

    # ------------------------------------------------------------------ drawing
    def _entry(self, key: str, path: Path | None) -> _File:
        entry = _File(key, Path(key).name or key, path)
        if path is not None:
            entry.total = path.stat().st_size
        entry.bar = widgets.FloatProgress(min=0.0, max=1.0, layout=widgets.Layout(width="40%"))
        entry.info = widgets.HTML()
        entry.retry = widgets.Button(description="Retry", icon="redo")
        entry.retry.layout.display = "none"
        entry.retry.on_click(lambda _b, key=key: self.retry(key))
        label = widgets.HTML(f"<code>{html.escape(entry.name)}</code>")
        label.layout.width = "22%"
        row = widgets.HBox([label, entry.bar, entry.info, entry.retry])
        row.add_class("snb-upload-file")
        self._entries[key] = entry
        self._rows.children = (*self._rows.children, row)
        return entry

    def _rate(self) -> float:
        now = time.monotonic()
        total = 0.0
        for entry in self._entries.values():
            if entry.status != "uploading" or len(entry.samples) < 2:
                continue
            recent = [s for s in entry.samples if now - s[0] <= RATE_WINDOW] or [entry.samples[-1]]
            first, last = recent[0], entry.samples[-1]
            if last[0] > first[0]:
                total += (last[1] - first[1]) / (last[0] - first[0])
        return total

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_draw < self.throttle:
                return
            self._last_draw = now
            self.draws += 1
            entries = list(self._entries.values())
            sent = sum(e.sent for e in entries)
            total = sum(e.total for e in entries)
            rate = self._rate()
            eta = (total - sent) / rate if rate > 0 else -1.0
            self.set_trait("sent_bytes", sent)
            self.set_trait("total_bytes", total)
            self.set_trait("rate", rate)
            self.set_trait("eta", eta)
            self.set_trait("files", [e.summary() for e in entries])
        if self.frontend == "text":
            self._draw_text(sent, total)
        else:
            self._draw_widgets(entries, sent, total, rate, eta)

    def _draw_widgets(
        self, entries: Sequence[_File], sent: int, total: int, rate: float, eta: float
    ) -> None:
        fraction = sent / total if total else 0.0
        self._total.value = fraction
        self._total.bar_style = {"done": "success", "failed": "danger"}.get(self.status, "info")
        speed = f" · {_size(rate)}/s" if rate > 0 else ""
        left = f" · {tqdm.format_interval(eta)} left" if eta >= 0 and sent < total else ""
        self._header.value = (
            f"<b>{html.escape(self.status)}</b> · {_size(sent)} / {_size(total)} "
            f"({fraction:.0%}){speed}{left}"
        )
        for entry in entries:
            assert entry.bar is not None and entry.info is not None and entry.retry is not None
            entry.bar.value = entry.sent / entry.total if entry.total else 0.0
            entry.bar.bar_style = {
                "done": "success",
                "failed": "danger",
                "cancelled": "warning",
            }.get(entry.status, "")
            color = _STATUS_COLORS[entry.status]
            detail = f"{_size(entry.sent)} / {_size(entry.total)}"
            error = f" · {html.escape(entry.error)}" if entry.error else ""
            entry.info.value = (
                f"<span style='color:{color}'>{entry.status}</span> · {detail}{error}"
            )
            can_retry = entry.status in ("failed", "cancelled") and entry.path is not None
            entry.retry.layout.display = None if can_retry else "none"
        running = self.status in ("uploading", "cancelling")
        self._cancel.disabled = not running or self.cancel_requested
        # only a running upload can be cancelled: the button goes away when it ends
        self._cancel.layout.display = None if running else "none"
        failed = [e for e in entries if e.status == "failed"]
        self._message.value = (
            error_html(f"{len(failed)} file(s) failed; Retry resumes them") if failed else ""
        )

    def _draw_text(self, sent: int, total: int) -> None:
        if self._tqdm is None:
            if not total:
                return  # nothing to show yet; tqdm would draw an empty bar of unknown size
            self._tqdm = tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                desc="upload",
                file=self._text_out or sys.stderr,
                mininterval=0,
                leave=True,
            )
        bar = self._tqdm
        if bar.total != total:
            bar.total = total
        bar.n = sent
        bar.refresh()

    def _print(self, line: str) -> None:
        if self._tqdm is not None:
            self._tqdm.write(line, file=self._text_out or sys.stderr)
        else:
            print(line, file=self._text_out or sys.stderr)

    def close(self) -> None:
        """Close the widget (a running upload goes on; ``cancel()`` first to stop it).

        Example:
            >>> import io
            >>> bar = UploadProgress(display="text", text_file=io.StringIO())
            >>> bar.close()
            >>> bar.comm is None
            True
        """
        bar = getattr(self, "_tqdm", None)  # absent when __init__ refused its input
        if bar is not None:
            bar.close()
        super().close()


def _invalid(field_name: str, value: Any, problem: str) -> InvalidInputError:
    return InvalidInputError(field_name, value, problem, method="UploadProgress")
