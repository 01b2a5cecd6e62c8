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


def test_every_public_exception_derives_from_the_package_root():
    """``except SynapseNBError`` catches everything the client side raises on purpose."""
    import importlib
    import inspect
    import pkgutil

    from synapse_nb.exceptions import SynapseNBError

    strays = []
    for info in pkgutil.walk_packages(synapse_nb.__path__, "synapse_nb."):
        if info.name.startswith("synapse_nb.server"):
            continue  # the embedded backend answers HTTP; it raises nothing at the client
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
                and not issubclass(obj, SynapseNBError)
            ):
                strays.append(f"{module.__name__}.{name}")
    assert strays == []


def test_the_test_command_runs_every_docstring_example():
    """pytest collects the docstring examples of every module of the package."""
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    assert "synapse_nb" in config["tool"]["pytest"]["ini_options"]["testpaths"]
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "synapse_nb/exceptions.py", "synapse_nb/annotations"],
        cwd=root, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert "synapse_nb/exceptions.py::synapse_nb.exceptions.ClientError" in listing
    assert "synapse_nb/annotations/geometry.py::" in listing
