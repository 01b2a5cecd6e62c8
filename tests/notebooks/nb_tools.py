"""Run the notebooks from a clean state and keep their committed outputs clean.

``python tests/notebooks/nb_tools.py run [01 03 ...]`` executes each notebook top to bottom
in a fresh kernel, with no ``SYNAPSE_*`` variables (so every notebook starts its own
embedded demo backend, as nbval does), then writes it back with outputs. Outputs are
sanitized on the way (local ports, tokens, machine paths) and checked by :func:`problems`;
a notebook slower than :data:`BUDGET_S` is reported.

``python tests/notebooks/nb_tools.py check`` only checks the committed notebooks (what
``test_nb_committed.py`` does in the suite).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
#: Seconds a notebook may take, top to bottom, on the demo workspace (the issue's budget).
BUDGET_S = 60.0
#: Variables that would point a kernel at another backend (or a real Synapse).
BACKEND_ENV = ("SYNAPSE_NB_URL", "SYNAPSE_URL", "SYNAPSE_API_TOKEN", "SYNAPSE_AGENT_TOKEN")
#: Largest committed notebook, bytes (outputs included): keeps the repository light.
MAX_BYTES = 1_500_000

# what must never reach a committed output
_LEAKS = {
    "local port": re.compile(r"(?:127\.0\.0\.1|localhost):\d{2,5}"),
    "token-like hex": re.compile(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])"),
    "token header": re.compile(r"Token\s+[A-Za-z0-9_\-]{16,}"),
    "absolute path": re.compile(
        r"(?<![\w.:/])/(?:tmp|root|home|work|Users|var/folders)/[^\s'\"<>]*"
    ),
}
_WINDOWS_PATH = re.compile(r"[A-Za-z]:\\\\?(?:Users|Temp)\\")


def notebooks() -> list[Path]:
    """The numbered notebooks, in order.

    Example:
        >>> [p.name for p in notebooks()][0]
        '01_quickstart.ipynb'
    """
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _texts(value)


def _outputs_text(nb: Any) -> Iterator[tuple[str, str]]:
    """``(where, text)`` of every output and of the saved widget state."""
    for number, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            for text in _texts(output):
                yield f"cell {number}", text
    state = nb.metadata.get("widgets")
    if state:
        for text in _texts(state):
            yield "widget state", text


def problems(nb: Any, name: str = "notebook") -> list[str]:
    """What is wrong with a notebook's committed outputs (empty when it is clean).

    Checks: every code cell ran once, in order, from a fresh kernel; no error output; no
    local port, token or machine path in any output or in the saved widget state.

    Example:
        >>> problems(nbformat.v4.new_notebook())
        []
    """
    found = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in code]
    if counts != list(range(1, len(code) + 1)):
        found.append(f"{name}: execution counts {counts} are not 1..{len(code)} (not a clean run)")
    for number, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"{name}: cell {number} has an error output ({output.get('ename')})")
            if output.get("name") == "stderr" and "Traceback" in "".join(output.get("text", "")):
                found.append(f"{name}: cell {number} printed a traceback to stderr")
    for where, text in _outputs_text(nb):
        for label, pattern in _LEAKS.items():
            match = pattern.search(text)
            if match:
                found.append(f"{name}: {where}: {label} {match.group(0)[:60]!r}")
        if _WINDOWS_PATH.search(text):
            found.append(f"{name}: {where}: a Windows user path")
    return found


def _replacements() -> list[tuple[re.Pattern[str], str]]:
    home = str(Path.home())
    pairs = [
        (re.compile(re.escape(str(REPO))), "<repo>"),
        (re.compile(re.escape(home) + r"(?=/)"), "~"),
        (re.compile(r"(127\.0\.0\.1|localhost):\d{2,5}"), r"\1:<port>"),
        (re.compile(r"/tmp/[^\s'\"<>]*"), "<tmp>"),
    ]
    return [(p, r) for p, r in pairs if p.pattern]


def sanitize(nb: Any) -> int:
    """Replace ports, the repo path, the home dir and temp paths in outputs; return count.

    A safety net: the notebooks are written not to print such values in the first place.

    Example:
        >>> sanitize(nbformat.v4.new_notebook())
        0
    """
    replacements = _replacements()
    changed = 0

    def fix(node: Any) -> Any:
        nonlocal changed
        if isinstance(node, str):
            new = node
            for pattern, repl in replacements:
                new = pattern.sub(repl, new)
            changed += new != node
            return new
        if isinstance(node, list):
            return [fix(v) for v in node]
        if isinstance(node, dict):
            return type(node)({k: fix(v) for k, v in node.items()})
        return node

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(fix(o)) for o in cell.outputs]
            cell.metadata.pop("execution", None)
    if "widgets" in nb.metadata:
        nb.metadata["widgets"] = fix(nb.metadata["widgets"])
    return changed


def shrink_images(nb: Any, max_side: int = 360, quality: int = 60) -> int:
    """Re-encode the images saved in the widget state as small JPEGs; return bytes saved.

    The saved state lets JupyterLab and nbviewer draw the widgets of an unexecuted notebook;
    full-size PNGs of every preview would make the notebook megabytes large.

    Example:
        >>> shrink_images(nbformat.v4.new_notebook())
        0
    """
    from PIL import Image

    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    saved = 0
    for model in state.get("state", {}).values():
        if model.get("model_name") != "ImageModel":
            continue
        for buffer in model.get("buffers", []):
            if buffer.get("path") != ["value"] or buffer.get("encoding") != "base64":
                continue
            raw = base64.b64decode(buffer["data"])
            try:
                image = Image.open(io.BytesIO(raw))
                image.load()
            except OSError:
                continue  # not an image Pillow reads: keep it as it is
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() < len(raw):
                buffer["data"] = base64.b64encode(out.getvalue()).decode("ascii")
                model["state"]["format"] = "jpeg"
                saved += len(raw) - out.tell()
    return saved


def drop_empty_layout(nb: Any) -> int:
    """Drop the unset (None) traits of saved layout models; return how many.

    Every ipywidgets ``Layout`` saves ~40 traits, nearly all None, which is also their
    default in the browser; they make up most of a saved widget state.

    Example:
        >>> drop_empty_layout(nbformat.v4.new_notebook())
        0
    """
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    dropped = 0
    for model in state.get("state", {}).values():
        if model.get("model_name") != "LayoutModel":
            continue
        values = model.get("state", {})
        for key in [k for k, v in values.items() if v is None and not k.startswith("_")]:
            del values[key]
            dropped += 1
    return dropped


def clean_env() -> dict[str, str]:
    """The environment a notebook kernel gets: no backend variables, widgets on.

    Example:
        >>> "SYNAPSE_NB_URL" in clean_env()
        False
    """
    env = {k: v for k, v in os.environ.items() if k not in BACKEND_ENV}
    env.pop("SYNAPSE_NB_WIDGETS", None)
    return env


def run(path: Path, timeout: float = 120.0) -> tuple[Any, float]:
    """Execute one notebook in a fresh kernel (cwd = its folder); return it and seconds.

    Example:
        >>> nb, seconds = run(NOTEBOOKS / "01_quickstart.ipynb")  # doctest: +SKIP
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    saved, env = dict(os.environ), clean_env()  # computed before the environment is cleared
    os.environ.clear()
    os.environ.update(env)
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            record_timing=False,
            store_widget_state=True,
        )
        started = time.perf_counter()
        client.execute()
        return nb, time.perf_counter() - started
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("run", "check"))
    parser.add_argument("names", nargs="*", help="notebook numbers or names (default: all)")
    args = parser.parse_args(argv)
    paths = notebooks()
    if args.names:
        paths = [p for p in paths if any(p.name.startswith(n) for n in args.names)]
    failed = False
    for path in paths:
        if args.command == "run":
            nb, seconds = run(path)
            fixed = sanitize(nb)
            shrink_images(nb)
            drop_empty_layout(nb)
            nbformat.write(nb, path)
            size = path.stat().st_size
            slow = " SLOW" if seconds > BUDGET_S else ""
            print(
                f"{path.name}: {seconds:.1f} s{slow}, {size:,} bytes, {fixed} output(s) sanitized"
            )
            failed |= bool(slow)
        nb = nbformat.read(path, as_version=4)
        issues = problems(nb, path.name)
        if path.stat().st_size > MAX_BYTES:
            issues.append(f"{path.name}: {path.stat().st_size:,} bytes > {MAX_BYTES:,}")
        for issue in issues:
            print("  " + issue)
        failed |= bool(issues)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
