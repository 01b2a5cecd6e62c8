"""The examples in the frames docstrings run, against a private embedded backend.

Examples get ``client``, a :class:`~synapse_nb.frames.Client` of a demo workspace of their
own (the tagging examples write to it). Examples that still say ``+SKIP`` are skipped.
"""

from __future__ import annotations

import doctest
import importlib
from collections.abc import Iterator

import pytest

from synapse_nb.frames import Client
from synapse_nb.server import start

MODULES = [
    "synapse_nb.frames",
    "synapse_nb.frames.accessor",
    "synapse_nb.frames.annotations",
    "synapse_nb.frames.build",
    "synapse_nb.frames.cache",
    "synapse_nb.frames.client",
    "synapse_nb.frames.dm",
    "synapse_nb.frames.listing",
    "synapse_nb.frames.models",
    "synapse_nb.frames.progress",
    "synapse_nb.frames.refresh",
    "synapse_nb.frames.rows",
    "synapse_nb.frames.schemas",
    "synapse_nb.frames.split",
    "synapse_nb.frames.tagging",
    "synapse_nb.frames.writeback",
]


@pytest.fixture(scope="module")
def doc_client() -> Iterator[Client]:
    srv = start(demo=True, job_duration=0.5)
    try:
        with Client(srv.url, api_token=srv.token) as client:
            yield client
    finally:
        srv.stop()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, doc_client: Client) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        extraglobs={"client": doc_client},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0, f"no examples found in {name}"
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
