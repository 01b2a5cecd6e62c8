"""One job process: start it in its own process group, pump its output, stop it, map its end.

The process runs ``synapse_nb/plugins/runtime.py`` (by path, so the plugins package's heavy
``__init__`` is not imported by every job) in the release's folder with the backend's Python.
It reports on three pipes: stdout (info lines), stderr (warning lines) and a private event
pipe of JSON lines (log records with levels, progress, metrics, the traceback, the result).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

#: the job process's program (a file path: see the module docstring)
RUNTIME = Path(__file__).resolve().parents[2] / "plugins" / "runtime.py"
#: exit code the runtime uses for "stopped on request" / "the action raised"
STOPPED_EXIT = 143
FAILED_EXIT = 1
#: environment variables never passed to plugin code (the backend's own credentials)
SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
MAX_LINE = 64 * 1024


@dataclass
class Outcome:
    """How a job process ended, as the job's status, closing log line and result."""

    status: str
    message: str
    level: str
    result: Any = None


@dataclass
class Collected:
    """What a pump round read: console logs, the latest progress, metric events."""

    logs: list[dict] = field(default_factory=list)
    progress: dict | None = None
    metrics: list[dict] = field(default_factory=list)
    result: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.logs or self.progress or self.metrics)


def child_env(release_dir: Path, event_fd: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not SECRET_ENV.search(k)}
    paths = [str(release_dir), str(RUNTIME.parents[2])]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env.update(
        PYTHONPATH=os.pathsep.join(paths),
        PYTHONUNBUFFERED="1",
        SYNAPSE_NB_EVENT_FD=str(event_fd),
    )
    return env


class JobProcess:
    """A started job process and the readers of its pipes.

    :meth:`launch` starts one; :meth:`pump` reads its pipes; :meth:`terminate` and
    :meth:`enforce_grace` stop it; :meth:`reap` waits for it.

    Example:
        >>> RUNTIME.name, RUNTIME.is_file()
        ('runtime.py', True)
    """

    def __init__(self, popen: subprocess.Popen, events: IO[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._selector = selectors.DefaultSelector()
        self._buffers: dict[int, bytes] = {}
        assert popen.stdout is not None and popen.stderr is not None
        self._streams: list[IO[bytes]] = [popen.stdout, popen.stderr, events]
        for stream, kind in zip(self._streams, ("stdout", "stderr", "event"), strict=True):
            os.set_blocking(stream.fileno(), False)
            self._selector.register(stream, selectors.EVENT_READ, kind)
            self._buffers[stream.fileno()] = b""
        self.term_sent_at: float | None = None
        self.killed = False

    @classmethod
    def launch(cls, spec_path: Path, job_id: str, release_dir: Path) -> JobProcess:
        read_fd, write_fd = os.pipe()
        try:
            popen = subprocess.Popen(
                [sys.executable, "-P", str(RUNTIME), str(spec_path), job_id],
                cwd=release_dir,
                env=child_env(release_dir, write_fd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
                start_new_session=True,  # its own process group: a stop reaches its children
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return cls(popen, os.fdopen(read_fd, "rb"))

    # ------------------------------------------------------------------ output
    @property
    def open_streams(self) -> int:
        return len(self._selector.get_map())

    def pump(self, timeout: float) -> Collected:
        """Read whatever the pipes hold within ``timeout`` seconds."""
        out = Collected()
        if not self._selector.get_map():
            time.sleep(timeout)
            return out
        for key, _ in self._selector.select(timeout):
            stream: Any = key.fileobj
            fd = stream.fileno()
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            data = self._buffers[fd] + chunk
            if not chunk:  # EOF: the last partial line too
                self._selector.unregister(stream)
                stream.close()
                lines, rest = data.split(b"\n"), b""
            else:
                *lines, rest = data.split(b"\n")
                if len(rest) > MAX_LINE:
                    lines, rest = [*lines, rest], b""
            self._buffers[fd] = rest
            for line in lines:
                if line.strip():
                    self._take(key.data, line.decode("utf-8", "replace").rstrip("\r"), out)
        return out

    @staticmethod
    def _take(kind: str, text: str, out: Collected) -> None:
        if kind == "stdout":
            out.logs.append({"message": text, "level": "info", "step": "stdout"})
            return
        if kind == "stderr":
            out.logs.append({"message": text, "level": "warning", "step": "stderr"})
            return
        try:
            event = json.loads(text)
        except ValueError:
            out.logs.append({"message": text, "level": "info", "step": "event"})
            return
        kind = event.pop("type", "log")
        if kind == "progress":
            out.progress = event
        elif kind == "metrics":
            out.metrics.append(event)
        elif kind == "result":
            out.result.append(event.get("value"))
        elif kind == "error":
            out.errors.append(str(event.get("message", "")))
            out.logs.append(
                {"message": event.get("message", ""), "level": "error", "step": "error"}
            )
        else:
            out.logs.append(event)

    # ------------------------------------------------------------------ stopping
    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM to the whole group (once); :meth:`enforce_grace` follows up with SIGKILL."""
        if self.term_sent_at is None:
            self.term_sent_at = time.monotonic()
            self.signal_group(signal.SIGTERM)

    def enforce_grace(self, grace: float) -> None:
        started = self.term_sent_at
        if started is not None and not self.killed and time.monotonic() - started >= grace:
            self.killed = True
            self.signal_group(signal.SIGKILL)

    def end_group(self) -> None:
        """Kill what is left of the group once the job process itself has exited (once)."""
        if not self.killed:
            self.killed = True
            self.signal_group(signal.SIGKILL)

    def reap(self) -> int:
        """Wait for the process, kill what is left of its group, close the pipes."""
        code = self.popen.wait()
        self.signal_group(signal.SIGKILL)  # stray grandchildren would hold the pipes open
        return code

    def close(self) -> None:
        self._selector.close()
        for stream in self._streams:
            with contextlib.suppress(OSError):
                stream.close()


def outcome(code: int, collected: Collected, *, stopped: bool, timed_out: float | None) -> Outcome:
    """Map an exit to a job status, closing message and result.

    Example:
        >>> outcome(0, Collected(result=[{"ok": True}]), stopped=False, timed_out=None).status
        'SUCCEEDED'
        >>> outcome(-9, Collected(), stopped=False, timed_out=None).message
        'The plugin process was killed by SIGKILL'
    """
    if stopped:
        returned = collected.result[-1] if code == 0 and collected.result else None
        return Outcome("STOPPED", "Stopped on request", "warning", returned)
    if timed_out is not None:
        message = f"Timed out after {timed_out:g} s: stopped with SIGTERM, then SIGKILL"
        return Outcome("FAILED", message, "error", {"error": message})
    if code == 0 and collected.result:
        return Outcome("SUCCEEDED", "Done", "success", collected.result[-1])
    if code == 0:
        message = "The plugin process exited (code 0) before its action returned"
    elif code == FAILED_EXIT and collected.errors:
        last = collected.errors[-1].strip().splitlines()[-1:] or ["error"]
        message = f"The action raised: {last[0]}"
    elif code < 0:
        message = f"The plugin process was killed by {signal.Signals(-code).name}"
    elif code == STOPPED_EXIT:
        message = "The plugin process was terminated (SIGTERM) from outside the backend"
    else:
        message = f"The plugin process exited with code {code}"
    return Outcome("FAILED", message, "error", {"error": message, "exit_code": code})
