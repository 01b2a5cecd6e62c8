"""``nb_tools.run`` gives the kernel this process's environment minus the backend variables."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from nb_tools import run  # noqa: E402


def test_the_kernel_inherits_the_environment_but_not_the_backend(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNB_PROBE", "kept")
    monkeypatch.setenv("SYNAPSE_NB_URL", "http://example.invalid")
    probe = "import os; print(os.environ.get('SNB_PROBE'), os.environ.get('SYNAPSE_NB_URL'))"
    path = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)]), path)
    nb, _ = run(path, timeout=60)
    assert nb.cells[0].outputs[0]["text"].strip() == "kept None"
