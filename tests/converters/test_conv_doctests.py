"""The docstring examples of the converters and file utilities run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "synapse_nb.converters",
    "synapse_nb.converters._audit",
    "synapse_nb.converters._common",
    "synapse_nb.converters.masks",
    "synapse_nb.converters.dm",
    "synapse_nb.converters.coco",
    "synapse_nb.converters.voc",
    "synapse_nb.converters.yolo",
    "synapse_nb.utils.file.checksum",
    "synapse_nb.utils.file.io",
    "synapse_nb.utils.file.video.transcode",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
