"""The embedded backend stands on its own: nothing under synapse_nb/server imports client code.

The server must describe and validate its own wire schema; importing the client's models,
clients, frames, widgets, transport or session would tie the backend to the code it is there
to test. ``synapse_nb.annotations`` (the shared annotation model) and the package's lower
layers are allowed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import synapse_nb

SERVER = Path(synapse_nb.__file__).parent / "server"
CLIENT_SIDE = ("clients", "models", "frames", "widgets", "_transport", "session")


def imported_modules(path: Path, root: Path = SERVER.parent) -> list[tuple[int, str]]:
    """Every module ``path`` (under the package ``root``) imports, relative ones resolved."""
    package = ["synapse_nb", *path.relative_to(root).with_suffix("").parts[:-1]]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            # "from synapse_nb import models" names a module too
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def client_side(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "synapse_nb" and len(parts) > 1 and parts[1] in CLIENT_SIDE


def test_the_server_imports_nothing_from_the_client_side() -> None:
    offenders = [
        f"{path.relative_to(SERVER.parent)}:{line} imports {module}"
        for path in sorted(SERVER.rglob("*.py"))
        for line, module in imported_modules(path)
        if client_side(module)
    ]
    assert offenders == []


def test_the_scan_sees_absolute_relative_and_nested_imports(tmp_path: Path) -> None:
    # the scanner itself: each form of a client import is caught, the allowed ones are not
    sample = tmp_path / "server" / "routes" / "probe.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "import synapse_nb.clients.base\n"
        "from ...models.annotation import TaskCreate\n"
        "from synapse_nb import widgets\n"
        "from synapse_nb.annotations import geometry\n"
        "from ..http import Query\n"
        "def f():\n"
        "    from synapse_nb._transport import Transport\n",
        encoding="utf-8",
    )
    modules = [m for _, m in imported_modules(sample, root=tmp_path)]
    flagged = sorted({m for m in modules if client_side(m)})
    assert flagged == [
        "synapse_nb._transport",
        "synapse_nb._transport.Transport",
        "synapse_nb.clients.base",
        "synapse_nb.models.annotation",
        "synapse_nb.models.annotation.TaskCreate",
        "synapse_nb.widgets",
    ]
    assert "synapse_nb.server.http" in modules
    assert not client_side("synapse_nb.annotations.geometry")


def test_loading_every_server_module_loads_no_client_code() -> None:
    # the scan above reads import statements; this checks what Python really loads, so a
    # package __init__ that pulls in the transport (through the file utilities, say) is seen
    probe = (
        "import importlib, pkgutil, sys, synapse_nb.server as s\n"
        "for m in pkgutil.walk_packages(s.__path__, 'synapse_nb.server.'):\n"
        "    if not m.name.endswith('__main__'):  # that one starts a backend\n"
        "        importlib.import_module(m.name)\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('synapse_nb.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = done.stdout.split()
    assert "synapse_nb.server.executors.release" in loaded  # the walk reached the executors
    assert [m for m in loaded if client_side(m) or m == "synapse_nb._downloads"] == []
