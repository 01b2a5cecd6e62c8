"""The examples in the health docstrings run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import synapse_nb.health

MODULES = ["synapse_nb.health"] + [
    info.name for info in pkgutil.iter_modules(synapse_nb.health.__path__, "synapse_nb.health.")
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name.endswith(".plots"):
        pytest.importorskip("matplotlib")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"no examples found in {name}"
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
