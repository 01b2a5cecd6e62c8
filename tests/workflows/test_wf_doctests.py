"""The docstring examples of the export and upload workflows run and hold."""

from __future__ import annotations

import doctest
import importlib
import pathlib
import pkgutil
import tempfile

import pytest

import synapse_nb.plugins

MODULES = sorted(
    ["synapse_nb.plugins"]
    + [m.name for m in pkgutil.walk_packages(synapse_nb.plugins.__path__, "synapse_nb.plugins.")]
)


def test_every_workflow_module_is_checked() -> None:
    assert {"synapse_nb.plugins.export.base", "synapse_nb.plugins.upload.steps"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(
    name: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the examples' mkdtemp() folders
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
