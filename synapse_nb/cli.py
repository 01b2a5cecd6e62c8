"""The ``synapse-nb`` command: run the embedded backend, or the whole demo with JupyterLab.

Examples:
    synapse-nb demo                    # backend with demo data + JupyterLab on a copy of notebooks/
    synapse-nb demo --no-browser       # same, for a headless machine
    synapse-nb demo --refresh-notebooks  # copy the repository's notebooks over the working copies
    synapse-nb serve --demo --port 8000 --latency-ms 20

``demo`` never serves the repository's ``notebooks/`` itself (JupyterLab autosaves what it
serves): it serves a working copy in a user directory (see :func:`default_work_dir`), created
on the first run.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .exceptions import SynapseNBError
from .server import (
    FaultConfig,
    ListenError,
    ServerHandle,
    check_listen,
    default_cache_dir,
    start,
    wipe_data_dir,
)
from .server.config import MAX_LATENCY_MS, StartRefused, check_token

#: what to install when the ``lab`` extra is missing (the README's first command does it)
LAB_INSTALL_HINT = (
    "synapse-nb demo needs JupyterLab, which is not installed in this environment.\n"
    "Install the 'lab' extra first, e.g. from a checkout of the repository:\n"
    '    pip install -c requirements/constraints.txt -e ".[lab]"\n'
    'or from a package index: pip install "synapse-nb[lab]"'
)


# --- argument types: argparse turns their ArgumentTypeError into "argument --x: message" ---


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer value: {text!r}") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def port_type(text: str) -> int:
    """A TCP port: an integer 0-65535 (0 picks a free port)."""
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port between 0 and 65535, got {value}")
    return value


def count_type(text: str) -> int:
    """An integer >= 0 (a count, a seed)."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def rate_type(text: str) -> float:
    """A probability: a finite number between 0 and 1."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value


def latency_type(text: str) -> float:
    """Milliseconds of added latency: a finite number between 0 and ``MAX_LATENCY_MS``."""
    value = _number(text)
    if not 0.0 <= value <= MAX_LATENCY_MS:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and {MAX_LATENCY_MS:g} ms, got {text!r}"
        )
    return value


def token_type(text: str) -> str | None:
    """An API token the client can send (printable ASCII, no whitespace); never echoed."""
    try:
        return check_token(text, "the token")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def data_dir_type(text: str) -> Path:
    """A folder, existing or not (an existing file is refused)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a directory")
    return path


def _add_server_options(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.set_defaults(parser=parser)  # _start_backend reports a refused start through it
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    parser.add_argument("--port", type=port_type, default=default_port, help="0 picks a free port")
    parser.add_argument(
        "--data-dir",
        type=data_dir_type,
        default=None,
        help="SQLite + stored files (default: a persistent demo dir for 'demo', "
        "a temporary dir for 'serve')",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="wipe the data dir before starting (only a data dir of this backend, one holding "
        "synapse.sqlite3, and only once the host and port are free)",
    )
    parser.add_argument(
        "--token",
        type=token_type,
        default=None,
        help="register this admin API token: printable ASCII, no spaces (default: "
        "$SYNAPSE_NB_TOKEN, else mint a new one)",
    )
    parser.add_argument(
        "--tasks",
        type=count_type,
        default=None,
        help="also bulk-seed a project with this many tasks (e.g. 100000)",
    )
    parser.add_argument(
        "--seed", type=count_type, default=0, help="random seed of the demo workspace (>= 0)"
    )
    parser.add_argument("--prefix", default="", help="mount the API under this path prefix")
    parser.add_argument(
        "--latency-ms", type=latency_type, default=0.0, help="added latency per request"
    )
    parser.add_argument("--rate-429", type=rate_type, default=0.0, help="share of 429 replies")
    parser.add_argument("--rate-503", type=rate_type, default=0.0, help="share of 503 replies")
    parser.add_argument(
        "--rate-drop",
        type=rate_type,
        default=0.0,
        help="share of connections dropped without a reply",
    )
    parser.add_argument(
        "--fault-seed", type=_integer, default=0, help="seed of the fault generator"
    )
    parser.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="run plugin jobs on Ray: 'auto' (the cluster on this machine), ray://host:port, "
        "the Jobs API URL, or 'local' to start a local Ray head (needs synapse-nb[ray]); "
        "Ray's token is read from $RAY_AUTH_TOKEN",
    )
    parser.add_argument(
        "--storage-root",
        dest="storage_roots",
        action="append",
        type=Path,
        default=None,
        metavar="DIR",
        help="a folder file_system storages may be located in (repeatable; default: the "
        "storages/ folder of the data dir)",
    )


def _start_backend(args: argparse.Namespace, demo: bool) -> ServerHandle:
    parser: argparse.ArgumentParser = args.parser
    if args.token is None and os.environ.get("SYNAPSE_NB_TOKEN", "").strip():
        try:
            args.token = check_token(os.environ["SYNAPSE_NB_TOKEN"], "$SYNAPSE_NB_TOKEN")
        except ValueError as exc:
            parser.error(str(exc))
    try:
        faults = FaultConfig(
            latency_ms=args.latency_ms,
            rate_429=args.rate_429,
            rate_503=args.rate_503,
            rate_drop=args.rate_drop,
            seed=args.fault_seed,
        )
    except ValueError as exc:  # e.g. --rate-429 0.6 --rate-503 0.6: more than 1 in all
        parser.error(str(exc).replace("rate_", "--rate-").replace("latency_ms", "--latency-ms"))
    if args.fresh and args.data_dir and args.data_dir.exists():
        _wipe_data_dir(parser, args.data_dir, args.host, args.port)
    print(
        "Starting the embedded Synapse backend"
        + (" with the demo workspace (the first start renders its images)..." if demo else "...")
    )
    sys.stdout.flush()
    started = time.perf_counter()
    try:
        srv = _start(args, demo, faults)
    except SynapseNBError as exc:  # e.g. the Ray cluster is unreachable, a Ray head failed
        raise SystemExit(f"synapse-nb: {exc}") from None
    except (StartRefused, ListenError) as exc:  # a refused setting, an unknown host, a port
        parser.error(str(exc))  # (any other error of a start is a fault: its traceback shows)
    print(f"Synapse backend (embedded) ready in {time.perf_counter() - started:.1f} s")
    print(f"  URL:   {srv.url}")
    print(f"  token: {srv.token}")
    print(f"  data:  {srv.data_dir}")
    if srv.agent_token:
        print(f"  agent token: {srv.agent_token}")
    sys.stdout.flush()
    return srv


def _wipe_data_dir(parser: argparse.ArgumentParser, data_dir: Path, host: str, port: int) -> None:
    """``--fresh``: delete the data dir once the backend could listen where asked, and only
    a folder of what a backend keeps there that no backend has open (see
    :func:`~synapse_nb.server.wipe_data_dir`). A refusal is a usage error that leaves the
    folder as it was."""
    try:
        check_listen(host, port)
    except ListenError as exc:
        parser.error(f"{exc}; the data dir was not wiped")
    try:
        wipe_data_dir(data_dir)
    except StartRefused as exc:
        parser.error(str(exc))


def _start(args: argparse.Namespace, demo: bool, faults: FaultConfig) -> ServerHandle:
    return start(
        demo=demo,
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        token=args.token,
        tasks=args.tasks,
        seed=args.seed,
        prefix=args.prefix,
        faults=faults,
        ray=True if args.ray == "local" else args.ray,
        storage_roots=args.storage_roots,
    )


def _wait_forever(srv: ServerHandle, child: subprocess.Popen | None = None) -> int:
    stop = threading.Event()

    def handler(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    code = 0
    try:
        while not stop.wait(0.5):
            if child is not None and child.poll() is not None:
                code = child.returncode or 0
                break
            if not srv.running:
                code = 1
                break
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        srv.stop()
    return code


def _notebooks_dir(explicit: Path | None) -> Path:
    """The folder the working copy is made from: ``--notebooks``, else the repository's."""
    if explicit:
        return explicit
    for candidate in (
        Path.cwd() / "notebooks",
        Path(__file__).resolve().parent.parent / "notebooks",
    ):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def default_work_dir() -> Path:
    """Where ``synapse-nb demo`` keeps its working copy of the notebooks.

    ``$SYNAPSE_NB_HOME/notebooks`` when that variable is set, else
    ``$XDG_DATA_HOME/synapse_nb/notebooks`` (``~/.local/share/synapse_nb/notebooks``).

    Example:
        >>> default_work_dir().name
        'notebooks'
    """
    if os.environ.get("SYNAPSE_NB_HOME"):
        return Path(os.environ["SYNAPSE_NB_HOME"]) / "notebooks"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "synapse_nb" / "notebooks"


def prepare_work_dir(source: Path, work_dir: Path, refresh: bool = False) -> list[str]:
    """Copy the notebooks of ``source`` into ``work_dir``; return the names copied.

    A notebook missing from ``work_dir`` is copied; an existing one is kept as the user left it,
    unless ``refresh`` is set: then it is replaced, and a copy that differs from the source is
    first saved as ``<name>.bak``. Other files in ``work_dir`` are never touched.

    Raises:
        ValueError: ``work_dir`` is ``source`` itself or inside it (JupyterLab would then
            autosave into the source folder).

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = (root / "src").mkdir(), (root / "src" / "a.ipynb").write_text("{}")
        >>> prepare_work_dir(root / "src", root / "work")
        ['a.ipynb']
        >>> prepare_work_dir(root / "src", root / "work")
        []
        >>> shutil.rmtree(root)
    """
    source, work_dir = source.resolve(), work_dir.resolve()
    if work_dir == source or source in work_dir.parents:
        raise ValueError(
            f"work_dir {str(work_dir)!r} must lie outside the notebooks it copies "
            f"({str(source)!r}): JupyterLab would autosave into them"
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for notebook in sorted(source.glob("*.ipynb")):
        target = work_dir / notebook.name
        if target.exists():
            if not refresh:
                continue
            if not filecmp.cmp(notebook, target, shallow=False):
                shutil.copy2(target, target.with_name(target.name + ".bak"))
        shutil.copy2(notebook, target)
        copied.append(notebook.name)
    return copied


def cmd_serve(args: argparse.Namespace) -> int:
    srv = _start_backend(args, demo=args.demo)
    print("Press Ctrl-C to stop.")
    sys.stdout.flush()
    return _wait_forever(srv)


def lab_command(args: argparse.Namespace, notebooks: Path) -> list[str]:
    """The JupyterLab command line: no secret on it (the token goes in ``$JUPYTER_TOKEN``)."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--notebook-dir={notebooks}",
        f"--ServerApp.ip={args.lab_ip}",
        f"--ServerApp.port={args.lab_port}",
        "--ServerApp.port_retries=50",
    ]
    if args.no_browser:
        command.append("--no-browser")
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command


def cmd_demo(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("jupyterlab") is None:
        print(LAB_INSTALL_HINT, file=sys.stderr)
        return 2
    source = _notebooks_dir(args.notebooks)
    work_dir = args.work_dir or default_work_dir()
    try:
        copied = prepare_work_dir(source, work_dir, refresh=args.refresh_notebooks)
    except ValueError as exc:
        print(f"synapse-nb demo: {exc}", file=sys.stderr)
        return 2
    if args.data_dir is None:
        args.data_dir = default_cache_dir() / "demo-workspace"
    srv = _start_backend(args, demo=True)
    lab_token = secrets.token_hex(16)
    # the token reaches JupyterLab through its environment: the command line is public (ps)
    env = dict(
        os.environ, SYNAPSE_NB_URL=srv.url, SYNAPSE_API_TOKEN=srv.token, JUPYTER_TOKEN=lab_token
    )
    env.pop("JUPYTER_TOKEN_FILE", None)
    print(f"JupyterLab on {work_dir} (the notebooks connect to the backend above)")
    print(
        f"  a working copy of {source}: "
        + (f"copied {len(copied)} notebook(s); " if copied else "")
        + "your edits stay there; --refresh-notebooks copies the originals again"
    )
    print(f"  open:  http://{args.lab_ip}:{args.lab_port}/lab?token={lab_token}")
    print("  (if that port was taken, JupyterLab prints the URL it chose below)")
    sys.stdout.flush()
    child = subprocess.Popen(lab_command(args, work_dir), env=env)
    return _wait_forever(srv, child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synapse-nb", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the embedded Synapse backend")
    _add_server_options(serve, default_port=8000)
    serve.add_argument("--demo", action="store_true", help="seed the demo workspace")
    serve.set_defaults(func=cmd_serve)
    demo = sub.add_parser("demo", help="backend with demo data + JupyterLab on the notebooks")
    _add_server_options(demo, default_port=0)
    demo.add_argument(
        "--no-browser",
        action="store_true",
        help="start everything but open no browser (headless machines)",
    )
    demo.add_argument(
        "--notebooks",
        type=Path,
        default=None,
        help="folder whose notebooks are copied (default: the repository's notebooks/)",
    )
    demo.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="where the working copy lives and JupyterLab serves from "
        "(default: $SYNAPSE_NB_HOME/notebooks or ~/.local/share/synapse_nb/notebooks)",
    )
    demo.add_argument(
        "--refresh-notebooks",
        action="store_true",
        help="copy the notebooks again over the working copies (changed ones saved as .bak)",
    )
    demo.add_argument("--lab-ip", default="127.0.0.1")
    demo.add_argument("--lab-port", type=port_type, default=8888)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
