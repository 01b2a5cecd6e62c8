"""The embedded Synapse backend: a real HTTP server (FastAPI + uvicorn) over SQLite.

It speaks the wire protocol of the real backend (docs/protocol.md), so the client, the
notebooks, the tests and the benchmarks all run against it with no remote deployment.

Example:
    >>> from synapse_nb.server import start
    >>> with start(demo=True) as srv:
    ...     print(srv.url, srv.running)
    http://127.0.0.1:.../ True
    >>> srv.running
    False
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import FaultConfig, ServerConfig, StartRefused, check_token

__all__ = [
    "FaultConfig",
    "ListenError",
    "ServerConfig",
    "ServerHandle",
    "StartRefused",
    "check_listen",
    "default_cache_dir",
    "start",
    "wipe_data_dir",
]

log = logging.getLogger("synapse_nb.server")


def default_cache_dir() -> Path:
    """Where generated demo media are cached between runs (``SYNAPSE_NB_CACHE`` overrides)."""
    if os.environ.get("SYNAPSE_NB_CACHE"):
        return Path(os.environ["SYNAPSE_NB_CACHE"])
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "synapse_nb"


class ServerHandle:
    """A running embedded backend. Stop it with :meth:`stop` (or use it as a context manager).

    Attributes:
        url: base URL of the API, with a trailing slash.
        token: an API token of the admin user (never printed by ``repr``).
        agent_token: the demo agent's token when this process seeded it, else None.
    """

    def __init__(
        self,
        server: Any,
        thread: threading.Thread,
        app: Any,
        host: str,
        port: int,
        token: str,
        tmp: tempfile.TemporaryDirectory | None,
    ) -> None:
        self._server = server
        self._thread = thread
        self._app = app
        self._tmp = tmp
        self.host = host
        self.port = port
        self.token = token
        self.agent_token: str | None = None
        #: the local Ray head this backend started (``start(ray=True)``), else None
        self.ray_head: Any = None
        self.state = app.state.synapse
        self.data_dir = self.state.config.data_dir
        self.url = f"http://{host}:{port}{self.state.config.prefix}/"
        #: base URL of the agent (Ray) API served by the same process
        self.agent_url = self.url + "agent/"

    def __repr__(self) -> str:
        status = "running" if self.running else "stopped"
        return f"<ServerHandle {self.url} data_dir={str(self.data_dir)!r} {status}>"

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def requests(self) -> Any:
        """Journal of recent requests (dicts with method, path, query, headers, body)."""
        return self.state.journal

    @property
    def fault_counts(self) -> dict[str, int]:
        """How many requests were seen and how many of each fault was injected."""
        return dict(self._app.injector.counts)

    def set_faults(self, **settings: Any) -> FaultConfig:
        """Change injected latency/faults live, e.g. ``set_faults(latency_ms=20, rate_503=0.1)``.

        Unnamed settings are reset to their defaults (off), so each call states the whole
        fault picture. ``set_faults()`` turns everything off.
        """
        config = FaultConfig(**settings)
        self._app.injector.configure(config)
        return config

    def issue_token(self, username: str = "admin") -> str:
        """Mint a fresh API token for ``username``."""
        return self.state.issue_token(username)

    def stop(self) -> None:
        """Stop serving, stop running plugin jobs and close the database (idempotent)."""
        if self._server is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.state.jobs.close()
        self.state.db.close()
        self._server = None
        if self.ray_head is not None:
            self.ray_head.stop()
            self.ray_head = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()


def start(
    *,
    demo: bool = False,
    data_dir: str | os.PathLike | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    tasks: int | None = None,
    seed: int = 0,
    prefix: str = "",
    latency_ms: float = 0.0,
    faults: FaultConfig | None = None,
    job_duration: float | None = None,
    cache_dir: str | os.PathLike | None = None,
    log_level: str = "warning",
    public_url: str = "",
    allowed_hosts: tuple[str, ...] | None = None,
    max_json_body: int | None = None,
    media_url_ttl: float | None = None,
    ray: Any = None,
    storage_roots: Iterable[str | os.PathLike] | None = None,
) -> ServerHandle:
    """Start the embedded backend in a background thread and return once it accepts requests.

    Args:
        demo: seed the demo workspace (projects, 200+ annotated images, models, jobs...).
        data_dir: where the SQLite file and stored files live; a temporary folder (removed on
            ``stop()``) when omitted. An existing data dir is reused as it is.
        host: interface to bind; keep the default loopback address.
        port: 0 picks a free port.
        token: register this API token for the admin user (else a fresh one is minted).
        tasks: also bulk-seed a project with this many tasks (for scale tests, benchmarks).
        seed: random seed of the demo workspace.
        prefix: mount every route under this path prefix (e.g. ``"api"``).
        latency_ms: added latency per request (shortcut for ``faults``).
        faults: full fault configuration (429/503/dropped connections at seeded rates).
        job_duration: deprecated, no effect (plugin jobs run for real and take as long as
            their code does); passing it warns with a ``DeprecationWarning``.
        cache_dir: cache of generated demo media (default ``~/.cache/synapse_nb``).
        log_level: uvicorn's log level.
        public_url: the base of every absolute link in responses (e.g. the URL of a proxy in
            front of the server); by default links use the request's host, which must then be
            one of ``allowed_hosts`` (loopback names unless given).
        allowed_hosts: host names a request may address when no ``public_url`` is set.
        max_json_body: the largest JSON request body accepted, in bytes (default 64 MiB).
        media_url_ttl: seconds a signed media URL stays valid (default: no expiry).
        ray: run plugin jobs on Ray: a cluster address (``"auto"``, ``"ray://host:port"``,
            the Jobs API URL) or ``True`` (or ``"local"``) to start a local Ray head for this
            backend (stopped with it), or a running ``LocalRayHead`` (left running); None: jobs
            run as local subprocesses. Needs ``synapse-nb[ray]``. A start that fails stops
            whatever it had started (server thread, jobs, database, Ray head, temp directory).
        storage_roots: folders a ``file_system`` storage's ``location`` must be inside
            (resolved, links followed); creating one elsewhere is a 400 naming
            ``configuration.location``, and a plugin job refuses to use one whose location
            has since left them (a level became a link). None or an empty list: the
            ``storages`` folder of the data dir (an empty list does not forbid every storage).

    Example:
        >>> srv = start(demo=True)
        >>> srv.url, srv.stop()
        ('http://127.0.0.1:.../', None)
    """
    from .app import create_app

    if job_duration is not None:
        warnings.warn(
            f"start(job_duration={job_duration!r}) has no effect: plugin jobs run for real "
            "and take as long as their code does; drop the argument",
            DeprecationWarning,
            stacklevel=2,
        )
    # bad arguments are refused before anything is created (a temporary dir, a Ray head)
    faults = faults or FaultConfig()
    if latency_ms:
        faults = faults.replace(latency_ms=latency_ms)
    token = check_token(token, "token")
    _check_arguments(port=port, tasks=tasks, seed=seed, demo=demo)
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="synapse-nb-")
        data_dir = tmp.name
    config = ServerConfig(data_dir=Path(data_dir), prefix=prefix, faults=FaultConfig())
    config.public_url = public_url
    if allowed_hosts is not None:
        config.allowed_hosts = tuple(allowed_hosts)
    if max_json_body is not None:
        config.max_json_body = max_json_body
    config.media_url_ttl = media_url_ttl
    if storage_roots is not None:
        config.storage_roots = tuple(Path(root) for root in storage_roots)
    head = _ray_head(config, ray)
    app = server = None
    try:
        app = create_app(config)
        agent_token, api_token = _prepare(app.state.synapse, demo, tasks, seed, cache_dir, token)
        server, thread, actual_port = _serve(app, host, port, log_level)
        app.injector.configure(faults)
    except BaseException:
        # nothing started here may outlive a failed start: the server thread, plugin jobs,
        # the database, a Ray head started for it, the temporary data directory
        if server is not None:
            server.should_exit = True
        if app is not None:
            app.state.synapse.jobs.close()
            app.state.synapse.db.close()
        if head is not None:
            head.stop()
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.cleanup()
        raise
    handle = ServerHandle(server, thread, app, host, actual_port, api_token, tmp)
    handle.agent_token = agent_token
    handle.ray_head = head
    return handle


def _check_arguments(*, port: Any, tasks: Any, seed: Any, demo: Any) -> None:
    """A :class:`StartRefused` naming the first of ``start()``'s numeric arguments out of
    range (the demo's seed must be >= 0; scale tasks and faults take any int)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise StartRefused(
            f"start(): port must be an integer between 0 and 65535, got {port!r}"
        )
    if tasks is not None and (isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 0):
        raise StartRefused(f"start(): tasks must be None or an integer >= 0, got {tasks!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise StartRefused(f"start(): seed must be an integer, got {seed!r}")
    if demo and seed < 0:
        raise StartRefused(f"start(): the demo's seed must be an integer >= 0, got {seed!r}")


class ListenError(OSError):
    """The backend cannot listen on the host and port asked for (named in the message)."""


def _prepare(state: Any, demo: bool, tasks: int | None, seed: int, cache_dir: Any,
             token: str | None) -> tuple[str | None, str]:
    """The admin, the demo workspace and scale tasks; returns the agent and API tokens."""
    from .demo.seed import ensure_admin, seed_demo, seed_scale

    started = time.perf_counter()
    ensure_admin(state)
    agent_token = None
    if demo:
        agent_token = seed_demo(
            state, seed=seed, cache_dir=Path(cache_dir) if cache_dir else default_cache_dir()
        )
    if tasks:
        seed_scale(state, tasks, seed=seed)
    log.info("workspace ready in %.2f s", time.perf_counter() - started)
    return agent_token, state.issue_token("admin", token)


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening, or a :class:`ListenError`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:  # name what was asked for: "Name or service not known" alone is not
        sock.close()
        message = f"cannot listen on host={host!r} port={port}: {exc.strerror or exc}"
        raise (ListenError(exc.errno, message) if exc.errno else ListenError(message)) from exc
    except BaseException:
        sock.close()
        raise
    return sock


def check_listen(host: str, port: int) -> None:
    """Raise :class:`ListenError` when the backend could not listen on ``host``:``port`` now
    (an unknown host, a port in use); ``port`` 0 checks the host only.

    Checked before anything irreversible that precedes a start, such as wiping a data dir.

    Example:
        >>> check_listen("127.0.0.1", 0)
        >>> check_listen("not.a.host.invalid", 0)
        Traceback (most recent call last):
        ...
        synapse_nb.server.ListenError: ... cannot listen on host='not.a.host.invalid' port=0: ...
    """
    _listening_socket(host, port).close()


#: What a backend keeps in its data dir; ``wipe_data_dir`` deletes a folder of these only.
DATA_DIR_ENTRIES = frozenset({
    "synapse.sqlite3", "synapse.sqlite3-wal", "synapse.sqlite3-shm", "synapse.sqlite3-journal",
    "synapse.sqlite3.lock", "secret.key", "files", "uploads", "storages", "jobs",
    "release_code", "releases",
})  # fmt: skip


def wipe_data_dir(data_dir: str | os.PathLike) -> None:
    """Delete a backend's data dir (``--fresh``), refusing with :class:`StartRefused` when
    it holds anything a backend does not keep there (named in the message) or a backend has
    it open (in any process). A missing folder is nothing to do.

    The folder is first renamed to a hidden sibling, so a delete that fails part way leaves
    no half-wiped data dir behind.

    Example:
        >>> Path("notes").mkdir(); _ = Path("notes/thesis.tex").write_text("months of work")
        >>> wipe_data_dir("notes")
        Traceback (most recent call last):
        ...
        synapse_nb.server.config.StartRefused: --fresh: 'notes' holds thesis.tex, which ...
    """
    from .db import is_in_use

    folder = Path(data_dir)
    if folder.is_symlink():  # renaming it would move the link, and rmtree refuses links
        raise StartRefused(
            f"--fresh: {str(folder)!r} is a link; pass the folder it points to "
            f"({str(folder.resolve())!r}); nothing was deleted"
        )
    if not folder.exists():
        return
    foreign = sorted(entry.name for entry in folder.iterdir()
                     if entry.name not in DATA_DIR_ENTRIES)  # fmt: skip
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        shown = ", ".join(foreign[:3]) + more
        raise StartRefused(
            f"--fresh: {str(folder)!r} holds {shown}, which a backend does not keep in its "
            "data dir; nothing was deleted"
        )
    if is_in_use(folder / "synapse.sqlite3"):
        raise StartRefused(
            f"--fresh: a backend is using the data dir {str(folder)!r} (stop it first); "
            "nothing was deleted"
        )
    doomed = folder.with_name(f".{folder.name}.wiping-{os.getpid()}")
    folder.rename(doomed)
    shutil.rmtree(doomed)


def _serve(app: Any, host: str, port: int, log_level: str) -> tuple[Any, threading.Thread, int]:
    """uvicorn on a bound socket in a daemon thread, once it accepts connections."""
    import uvicorn

    sock = _listening_socket(host, port)
    actual_port = sock.getsockname()[1]
    uv_config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="off",
        access_log=False,
        timeout_keep_alive=30,
        proxy_headers=False,  # X-Forwarded-* from any local client would set the links' scheme
        backlog=2048,
    )
    server = uvicorn.Server(uv_config)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        daemon=True,
        name=f"synapse-nb-server-{actual_port}",
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"embedded backend failed to start on {host}:{actual_port}")
        time.sleep(0.01)
    return server, thread, actual_port


def _ray_head(config: ServerConfig, ray: Any) -> Any:
    """Point ``config`` at the Ray cluster asked for; start a local head for ``ray=True``."""
    if ray is None or ray is False:
        return None
    if isinstance(ray, str) and ray.strip().lower() == "local":
        ray = True  # as `synapse-nb serve --ray local`
    if isinstance(ray, str):
        config.ray_address = ray
        return None
    if ray is not True:  # a running LocalRayHead: used, not owned (its owner stops it)
        if not (hasattr(ray, "dashboard_url") and hasattr(ray, "token")):
            raise ValueError(f"start(): ray = {ray!r} must be None, True, 'local', a Ray "
                             "address or a running LocalRayHead")
        config.ray_address, config.ray_token = ray.dashboard_url, ray.token
        return None
    from .executors.ray_head import LocalRayHead

    head = LocalRayHead(num_cpus=os.cpu_count() or 1)
    try:
        head.start()
    except BaseException:
        head.stop()
        raise
    config.ray_address, config.ray_token = head.dashboard_url, head.token
    return head
