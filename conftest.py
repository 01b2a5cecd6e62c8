"""Docstring examples run as tests: every module of ``synapse_nb/`` is collected as doctests.

(Only the package: ``--doctest-modules`` would also import the test modules a second time.)

Examples that need a backend use the names this file puts in their namespace, all backed by
one embedded demo backend started for the doctests (over real HTTP on 127.0.0.1):

``srv``      the :class:`~synapse_nb.server.ServerHandle` (demo workspace)
``client``   a notebook :class:`~synapse_nb.frames.Client` connected to it
``backend``  a :class:`~synapse_nb.clients.BackendClient` connected to it
``tmp``      a fresh temporary directory (a :class:`pathlib.Path`) for the example's files
``np``, ``pd``  numpy and pandas

Each example runs with ``tmp`` as its working directory, so relative paths land there.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.doctest import DoctestItem, DoctestModule

_PACKAGE = Path(__file__).parent / "synapse_nb"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if (
        file_path.suffix == ".py"
        and file_path.name != "__main__.py"
        and _PACKAGE in file_path.parents
        and not parent.config.option.doctestmodules  # no second copy under --doctest-modules
    ):
        return DoctestModule.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def _doctest_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from synapse_nb.server import start

    # file_system storages of the examples live in their ``tmp``, below pytest's temp root
    srv = start(demo=True, storage_roots=[tmp_path_factory.getbasetemp()])
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def _doctest_clients(_doctest_backend: Any) -> Iterator[tuple[Any, Any]]:
    from synapse_nb.clients import BackendClient
    from synapse_nb.frames import Client

    srv = _doctest_backend
    client = Client(srv.url, api_token=srv.token, progress=False)
    backend = BackendClient(srv.url, api_token=srv.token)
    try:
        yield client, backend
    finally:
        for c in (client, backend):
            close = getattr(c, "close", None)
            if close is not None:
                close()


@pytest.fixture(autouse=True)
def _doctest_namespace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not isinstance(request.node, DoctestItem):
        return
    import numpy as np
    import pandas as pd

    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(np=np, pd=pd, tmp=tmp_path)
    if _needs_backend(request.node):
        srv = request.getfixturevalue("_doctest_backend")
        client, backend = request.getfixturevalue("_doctest_clients")
        namespace.update(srv=srv, client=client, backend=backend)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # examples' mkdtemp() folders
    # an example's demo-media cache stays inside the test's temporary directory
    monkeypatch.setenv("SYNAPSE_NB_CACHE", os.environ.get("SYNAPSE_NB_CACHE", str(tmp_path)))


def _needs_backend(item: DoctestItem) -> bool:
    test = item.dtest
    if test is None:
        return False
    names = ("srv", "client", "backend")
    return any(
        any(f"{n}." in ex.source or f"{n})" in ex.source or f"{n}," in ex.source for n in names)
        for ex in test.examples
    )
