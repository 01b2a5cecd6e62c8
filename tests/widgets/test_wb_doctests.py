"""The docstring examples of the filter, tag, tree and explorer widgets run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest
from wb_helpers import recording_comm

MODULES = [
    "synapse_nb.widgets",
    "synapse_nb.widgets._display",
    "synapse_nb.widgets.filter",
    "synapse_nb.widgets.filter_controls",
    "synapse_nb.widgets.filter_sources",
    "synapse_nb.widgets.filter_table",
    "synapse_nb.widgets.tags",
    "synapse_nb.widgets.tree",
    "synapse_nb.widgets.explorer",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    with recording_comm():
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert name == "synapse_nb.widgets" or result.attempted > 0
