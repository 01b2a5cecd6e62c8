"""nbval runs of the notebooks: each notebook's kernel starts its own embedded demo backend.

The notebooks call ``synapse_nb.session.connect()``, which would follow ``$SYNAPSE_NB_URL``
or ``$SYNAPSE_URL`` to another backend (a ``synapse-nb demo`` one, or a real Synapse, where
the notebooks' writes do not belong and whose data would not match the committed outputs).
While a notebook's kernel starts, those variables are taken out of the environment, so
``connect()`` starts the deterministic demo workspace inside the kernel.

The sanitize file named in ``pyproject.toml`` is resolved against the repository root, so
``pytest`` also works when started from another directory.
"""

from __future__ import annotations

import os
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # nbval starts the notebook's kernel in the setup of its first cell: the kernel copies
    # the environment then, so the variables only need to be absent during setup
    if not _is_notebook_cell(item):
        yield
        return
    saved = {name: os.environ.pop(name) for name in BACKEND_ENV if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
