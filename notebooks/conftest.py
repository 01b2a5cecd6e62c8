"""nbval runs of the notebooks: each notebook's kernel starts its own embedded demo backend.

The notebooks call ``synapse_nb.session.connect()``, which would follow ``$SYNAPSE_NB_URL``
or ``$SYNAPSE_URL`` to another backend (a ``synapse-nb demo`` one, or a real Synapse, where
the notebooks' writes do not belong and whose data would not match the committed outputs).
While a notebook's kernel starts, those variables are taken out of the environment, so
``connect()`` starts the deterministic demo workspace inside the kernel.

nbval ends each notebook by killing its kernel (``shutdown_kernel(now=True)``), so nothing the
kernel would clean up at exit is cleaned (the embedded backend's temporary data dir, for one).
Each notebook's kernel therefore gets a temp dir of its own (``$TMPDIR``, inherited when the
kernel starts), and that dir is removed once the notebook's last cell is done and its kernel
is gone.

The sanitize file named in ``pyproject.toml`` is resolved against the repository root, so
``pytest`` also works when started from another directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Variables that would point a notebook kernel at another backend.
BACKEND_ENV = ("SYNAPSE_NB_URL", "SYNAPSE_URL", "SYNAPSE_API_TOKEN", "SYNAPSE_AGENT_TOKEN")


def pytest_configure(config: pytest.Config) -> None:
    option = getattr(config.option, "nbval_sanitize_with", None)
    if option and not Path(option).is_file():
        candidate = config.rootpath / option
        if candidate.is_file():
            config.option.nbval_sanitize_with = str(candidate)


def _is_notebook_cell(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


#: the temp dir of each notebook whose kernel is running, by notebook path
_KERNEL_TMP: dict[Path, Path] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # nbval starts the notebook's kernel in the setup of its first cell: the kernel copies
    # the environment then, so the variables only need to be set/absent during setup
    if not _is_notebook_cell(item):
        yield
        return
    saved = {name: os.environ.pop(name) for name in (*BACKEND_ENV, "TMPDIR") if name in os.environ}
    if item.path not in _KERNEL_TMP:
        _KERNEL_TMP[item.path] = Path(tempfile.mkdtemp(prefix=f"nb-{item.path.stem}-"))
    os.environ["TMPDIR"] = str(_KERNEL_TMP[item.path])
    try:
        yield
    finally:
        os.environ.pop("TMPDIR", None)
        os.environ.update(saved)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield  # after the last cell's teardown nbval has killed the kernel
    last_cell = nextitem is None or nextitem.path != item.path
    if _is_notebook_cell(item) and last_cell and item.path in _KERNEL_TMP:
        shutil.rmtree(_KERNEL_TMP.pop(item.path), ignore_errors=True)
