"""The examples in the frames docstrings run (those that need a server are skipped)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "synapse_nb.frames",
    "synapse_nb.frames.accessor",
    "synapse_nb.frames.annotations",
    "synapse_nb.frames.build",
    "synapse_nb.frames.cache",
    "synapse_nb.frames.client",
    "synapse_nb.frames.dm",
    "synapse_nb.frames.models",
    "synapse_nb.frames.schemas",
    "synapse_nb.frames.split",
    "synapse_nb.frames.writeback",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"no examples found in {name}"
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
