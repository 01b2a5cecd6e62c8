"""The committed notebooks: clean outputs from one fresh run, no leaks, links that resolve.

nbval (configured in ``pyproject.toml``) re-runs them; these tests check what is committed and
the tools that keep it clean (``nb_tools.py``).
"""

from __future__ import annotations

import base64
import io
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
from nb_tools import (
    MAX_BYTES,
    NOTEBOOKS,
    REPO,
    drop_empty_layout,
    notebooks,
    problems,
    run,
    sanitize,
    shrink_images,
)
from nbval.plugin import get_sanitize_patterns
from PIL import Image

EXPECTED = [
    "01_quickstart.ipynb",
    "02_review_and_tag.ipynb",
    "03_annotation_preview.ipynb",
    "04_upload.ipynb",
    "05_ground_truth_and_models.ipynb",
    "06_plugins_and_jobs.ipynb",
    "07_explorer.ipynb",
]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def test_the_numbered_notebooks_are_all_there():
    assert [p.name for p in notebooks()] == EXPECTED


@pytest.fixture(params=EXPECTED)
def notebook(request: pytest.FixtureRequest) -> tuple[str, nbformat.NotebookNode]:
    return request.param, nbformat.read(NOTEBOOKS / request.param, as_version=4)


def test_outputs_are_from_one_clean_run_without_leaks(notebook):
    name, nb = notebook
    assert problems(nb, name) == []
    assert (NOTEBOOKS / name).stat().st_size <= MAX_BYTES


def test_outputs_that_matter_are_compared_by_nbval(notebook):
    name, nb = notebook
    checked = [c for c in nb.cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    assert len(checked) >= 3, f"{name}: too few cells have their outputs compared"
    empty = [c.source.splitlines()[1] for c in checked if not c.outputs]
    assert empty == [], f"{name}: compared cells without a committed output"


def test_every_notebook_connects_through_the_session_and_explains_itself(notebook):
    name, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "connect(" in code[0].source and "synapse_nb.session import" in code[0].source
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {name[:2]} · ")
    prose = [c for c in nb.cells if c.cell_type == "markdown"]
    assert len(prose) >= len(code) // 3, f"{name}: too little prose between the code cells"
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_links_between_notebooks_resolve(notebook):
    name, nb = notebook
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    targets = re.findall(r"\]\(([^)#\s]+\.ipynb)\)", text)
    assert targets, f"{name}: links to no other notebook"
    missing = [t for t in targets if not (NOTEBOOKS / t).is_file()]
    assert missing == []


def test_saved_widget_state_holds_no_full_size_images(notebook):
    name, nb = notebook
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for model in state.values():
        if model.get("model_name") == "ImageModel":
            for buffer in model.get("buffers", []):
                raw = base64.b64decode(buffer["data"])
                if not raw:
                    continue  # an image widget with nothing drawn yet
                image = Image.open(io.BytesIO(raw))
                assert max(image.size) <= 360, f"{name}: a {image.size} image in widget state"


# ---------------------------------------------------------------------------- nbval setup


def test_pytest_runs_the_notebooks_through_nbval_with_the_sanitize_file():
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "notebooks" in options["ini_options"]["testpaths"]
    addopts = options["ini_options"]["addopts"].split()
    assert "--nbval-lax" in addopts and "--nbval-current-env" in addopts
    sanitize_file = next(a.split("=", 1)[1] for a in addopts if a.startswith("--nbval-sanitize"))
    assert (REPO / sanitize_file) == NOTEBOOKS / "nbval_sanitize.cfg"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Client(base_url='http://127.0.0.1:41873/')", "Client(base_url='<local-url>')"),
        ("job 3f4d5760-20de-4de4-b5b4-689664327fe8", "job <uuid>"),
        ("at 2026-09-03T11:02:00.123+00:00", "at <timestamp>"),
        ("token " + "ab" * 20, "token <token>"),
        ("saved to /tmp/synapse-nb-04-x1/a.jpg", "saved to <tmp-path>"),
        ("in 2.4 s at 1.5 MB/s", "in <elapsed> at <rate>"),
        ('{"model_id": "' + "0f" * 16 + '"}', '{"model_id": "<model-id>"}'),
        ("240 tasks · 130 completed", "240 tasks · 130 completed"),
    ],
)
def test_sanitize_file_replaces_what_varies_and_keeps_counts(text, expected):
    patterns = get_sanitize_patterns((NOTEBOOKS / "nbval_sanitize.cfg").read_text())
    for regex, replacement in patterns:
        text = re.sub(regex, replacement, text)
    assert text == expected


# ---------------------------------------------------------------------------- nb_tools


def _notebook_with_output(text: str, count: int | None = 1) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print()", execution_count=count)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    nb.cells.append(cell)
    return nb


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("http://127.0.0.1:54321/", "local port"),
        ("api token " + "c" * 40, "token-like hex"),
        ("Synapse-Access-Token: Token abcdefghijklmnop1234", "token header"),
        (f"wrote {Path.home()}/x.csv", "absolute path"),
        ("see /tmp/synapse-nb-3k/file.jpg", "absolute path"),
        ("see /work/main/notebooks", "absolute path"),
    ],
)
def test_problems_finds_leaks(text, found):
    assert any(found in p for p in problems(_notebook_with_output(text)))


def test_problems_finds_unclean_runs_and_errors():
    assert problems(_notebook_with_output("fine")) == []
    assert "not a clean run" in problems(_notebook_with_output("fine", count=4))[0]
    nb = _notebook_with_output("fine")
    nb.cells[0].outputs.append(nbformat.v4.new_output("error", ename="KeyError", evalue="x"))
    assert any("error output (KeyError)" in p for p in problems(nb))


def test_sanitize_rewrites_ports_and_paths():
    nb = _notebook_with_output(f"http://127.0.0.1:41873/ {REPO}/notebooks /tmp/abc/d.png\n")
    assert sanitize(nb) == 1
    assert nb.cells[0].outputs[0].text == "http://127.0.0.1:<port>/ <repo>/notebooks <tmp>\n"
    assert problems(nb) == []


def _state(nb: nbformat.NotebookNode, models: dict) -> dict:
    """Put ``models`` into the saved widget state; returns them as the notebook holds them."""
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": models, "version_major": 2}}
    return nb.metadata["widgets"][WIDGET_STATE]["state"]


def test_shrink_images_makes_saved_images_small_jpegs():
    picture = io.BytesIO()
    Image.radial_gradient("L").resize((960, 720)).convert("RGB").save(picture, "PNG")
    nb = nbformat.v4.new_notebook()
    data = base64.b64encode(picture.getvalue()).decode()
    model = {
        "model_name": "ImageModel",
        "state": {"format": "png"},
        "buffers": [{"path": ["value"], "encoding": "base64", "data": data}],
    }
    model = _state(nb, {"m1": model})["m1"]
    assert shrink_images(nb) > 0
    out = Image.open(io.BytesIO(base64.b64decode(model["buffers"][0]["data"])))
    assert out.format == "JPEG" and max(out.size) == 360 and model["state"]["format"] == "jpeg"


def test_drop_empty_layout_keeps_set_and_private_traits():
    nb = nbformat.v4.new_notebook()
    layout = {"model_name": "LayoutModel", "state": {"width": "90px", "height": None, "_m": None}}
    other = {"model_name": "ButtonModel", "state": {"tooltip": None}}
    saved = _state(nb, {"l": layout, "b": other})
    layout, other = saved["l"], saved["b"]
    assert drop_empty_layout(nb) == 1
    assert layout["state"] == {"width": "90px", "_m": None} and other["state"] == {"tooltip": None}


def test_run_gives_the_kernel_the_environment_without_backend_variables(tmp_path, monkeypatch):
    """The kernel keeps ``PYTHONPATH`` (a worktree's code) and loses only the backend variables."""
    monkeypatch.setenv("NB_TOOLS_MARKER", "kept")
    monkeypatch.setenv("SYNAPSE_NB_URL", "http://example.invalid/")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import os; print(os.environ.get('NB_TOOLS_MARKER'), os.environ.get('SYNAPSE_NB_URL'))")]
    path = tmp_path / "env.ipynb"
    nbformat.write(nb, path)
    executed, _ = run(path)
    assert executed.cells[0].outputs[0]["text"] == "kept None\n"
