"""A local Ray head for demos and tests: started in its own session, stopped by that session.

``ray start --head`` leaves daemons behind (GCS, raylet, dashboard, workers). This starts it
in a new session with every port it listens on chosen free on 127.0.0.1, Ray's token
authentication switched on with a freshly generated token (the Jobs API refuses callers
without it), and its files under one folder; :meth:`LocalRayHead.stop` ends exactly the
processes of that session (never the other Ray clusters of the machine, as a bare
``ray stop`` would).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ...exceptions import SynapseNBError

__all__ = ["LocalRayHead", "RayError", "free_port"]

#: the options of ``ray start`` that each take a port of their own
PORT_OPTIONS = (
    "port",
    "dashboard-port",
    "ray-client-server-port",
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
    "metrics-export-port",
    "runtime-env-agent-port",
    "node-manager-port",
    "object-manager-port",
)


#: the longest temp dir Ray's socket paths (``<dir>/session_<stamp>_<pid>/sockets/...``) allow
MAX_TEMP_DIR = 40


class RayError(SynapseNBError):
    """Ray is not installed, or a local Ray head could not be started (with Ray's output).

    Example:
        >>> isinstance(RayError("no ray"), SynapseNBError)
        True
    """


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: a watchdog of the head: when the process that started it is gone (a notebook kernel killed
#: by nbval, a crashed test run), it ends the head's session and removes an owned folder
_WATCHDOG = """
import os, shutil, signal, sys, time
owner, sid, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def members():
    found = []
    for entry in os.listdir("/proc"):
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[-1].split()
        except (OSError, ValueError):
            continue
        if len(fields) > 3 and fields[3] == str(sid) and fields[0] != "Z":
            found.append(int(entry))
    return found
while os.path.exists(f"/proc/{owner}") and members():
    time.sleep(1)
if not members():
    sys.exit(0)  # stopped by its owner
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pid in members():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    deadline = time.monotonic() + 3  # the grace period, cut short once the session is empty
    while members() and time.monotonic() < deadline:
        time.sleep(0.1)
if folder:
    shutil.rmtree(folder, ignore_errors=True)
"""


def _session_members(sid: int) -> list[int]:
    """The processes of session ``sid`` (read from ``/proc``)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[3] == str(sid) and fields[0] != "Z":
            found.append(int(entry))
    return found


class LocalRayHead:
    """A Ray head on this machine, owned by this process.

    Args:
        temp_dir: Ray's folder for its sockets, logs and session files. Ray puts Unix
            sockets about 70 characters below it and those paths may not exceed 107 bytes, so
            it must be short; by default a new folder under ``/tmp``, removed by :meth:`stop`.
        num_cpus: the CPUs the head offers to jobs.

    Attributes:
        address: the GCS address (``127.0.0.1:<port>``) for ``ray.init``.
        dashboard_url: the Jobs API (``http://127.0.0.1:<port>``).
        token: the cluster's token (never in ``repr``).

    Example:
        >>> head = LocalRayHead(num_cpus=1)
        >>> head.running, head.token in repr(head), head.temp_dir.is_dir()
        (False, False, True)
        >>> head.stop(); head.temp_dir.exists()
        False
    """

    def __init__(self, temp_dir: str | os.PathLike | None = None, *, num_cpus: int = 1) -> None:
        self._owns_dir = temp_dir is None
        self.temp_dir = Path(temp_dir or tempfile.mkdtemp(prefix="snb-ray-", dir="/tmp"))
        if len(str(self.temp_dir)) > MAX_TEMP_DIR:
            raise RayError(
                f"temp_dir {str(self.temp_dir)!r} is too long for Ray's Unix sockets "
                f"(at most {MAX_TEMP_DIR} characters)"
            )
        self.num_cpus = num_cpus
        self.token = secrets.token_hex(32)
        self.ports = {name: free_port() for name in PORT_OPTIONS}
        self.address = f"127.0.0.1:{self.ports['port']}"
        self.dashboard_url = f"http://127.0.0.1:{self.ports['dashboard-port']}"
        self._sid: int | None = None
        self._watchdog: subprocess.Popen | None = None
        #: seconds ``ray start --head`` took (None before :meth:`start`)
        self.started_in: float | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalRayHead {self.address} dashboard={self.dashboard_url} {state}>"

    def __enter__(self) -> LocalRayHead:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._sid is not None and bool(_session_members(self._sid))

    def env(self) -> dict[str, str]:
        """The environment of the head's processes: token authentication on, and their
        temporary files (multiprocessing's, Ray's) in the head's folder, removed with it."""
        return dict(
            os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token, TMPDIR=str(self.temp_dir)
        )

    def command(self) -> list[str]:
        exe = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
        ports = [f"--{name}={port}" for name, port in self.ports.items()]
        return [
            exe,
            "start",
            "--head",
            *ports,
            f"--num-cpus={self.num_cpus}",
            "--node-ip-address=127.0.0.1",
            "--dashboard-host=127.0.0.1",
            "--include-dashboard=true",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
        ]

    def start(self, timeout: float = 120.0, attempts: int = 3) -> LocalRayHead:
        """Run ``ray start --head`` in a new session; raises :class:`RayError` on failure.

        Ray gives its raylet a fixed 30 s to register; on a busy machine that can pass, so a
        start that failed that way is tried again (``attempts`` in all) on fresh ports.
        Linux only: the head's processes are found (and stopped) through ``/proc``; elsewhere
        start a head yourself and pass its address.
        """
        if not Path("/proc/self/stat").exists():
            raise RayError("a local Ray head is started on Linux only (its processes are found "
                           "through /proc); start one with 'ray start --head' and pass its "
                           "address as ray=")
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        for attempt in range(1, attempts + 1):
            output = self._start_once(timeout)
            if output is None:
                self.started_in = time.perf_counter() - began
                self._watch()
                return self
            self._end_session(5.0)
            if attempt == attempts or "timed out during startup" not in output:
                tail = "\n".join(output.strip().splitlines()[-15:])
                raise RayError(f"'ray start --head' failed ({attempt} attempt(s)):\n{tail}")
            self.ports = {name: free_port() for name in PORT_OPTIONS}
            self.address = f"127.0.0.1:{self.ports['port']}"
            self.dashboard_url = f"http://127.0.0.1:{self.ports['dashboard-port']}"
        raise RayError("attempts must be >= 1")

    def _watch(self) -> None:
        """Start the watchdog that ends this head if this process dies without stop()."""
        folder = str(self.temp_dir) if self._owns_dir else ""
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self._sid), folder],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives this process: that is its purpose
        )

    def _start_once(self, timeout: float) -> str | None:
        """One ``ray start``: None when the head is up, else Ray's output."""
        try:
            proc = subprocess.Popen(
                self.command(),
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the daemons stay in this session: stop() ends it
            )
        except OSError as exc:
            raise RayError(
                f"cannot run 'ray start' ({exc}): pip install 'synapse-nb[ray]'"
            ) from exc
        self._sid = proc.pid
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            return f"'ray start --head' did not finish within {timeout:g} s"
        if proc.returncode != 0:
            return f"exit code {proc.returncode}\n" + output.decode("utf-8", "replace")
        return None

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM every process of the head's session, SIGKILL what is left after ``grace``.

        A temp dir this head made itself is removed too.
        """
        if self._owns_dir:
            self._owns_dir = False
            try:
                self._end_session(grace)
            finally:
                shutil.rmtree(self.temp_dir, ignore_errors=True)
                self._reap_watchdog()
            return
        self._end_session(grace)
        self._reap_watchdog()

    def _reap_watchdog(self) -> None:
        if self._watchdog is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watchdog.wait(timeout=5)  # it ends within a second of the session
            self._watchdog = None

    def _end_session(self, grace: float) -> None:
        if self._sid is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in _session_members(self._sid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while _session_members(self._sid) and time.monotonic() < deadline:
                time.sleep(0.1)
        self._sid = None
