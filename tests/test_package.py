"""The top-level package: a curated, lazily resolved public API and a light import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import synapse_nb


def test_every_public_name_resolves():
    names = [n for n in synapse_nb.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in names:
        assert getattr(synapse_nb, name) is not None, name
    assert set(dir(synapse_nb)) == set(synapse_nb.__all__)


def test_unknown_attribute_is_a_clear_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        synapse_nb.nope  # noqa: B018


def test_import_stays_light():
    """``import synapse_nb`` loads neither pandas, FastAPI nor ipywidgets."""
    code = (
        "import sys, synapse_nb; heavy = {'pandas', 'fastapi', 'ipywidgets', 'uvicorn'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "synapse_nb.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "serve" in out.stdout and "demo" in out.stdout
