"""The documentation site builds with warnings as errors, and says things in its own words.

``mkdocs build --strict`` fails on a broken link, a page missing from the navigation, or a
docstring the API reference cannot render; running it here puts it in the README's test
command. The built site goes to a temporary folder, never into the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

#: mentions of material outside the repository, which a reader of the docs cannot follow
OUTSIDE = re.compile(r"synapse-api\.md|SDK-2[56]|§|\bseed (docs?|text)\b", re.I)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return out


def test_every_page_is_built(site):
    pages = ("index", "quickstart", "notebooks", "architecture", "protocol", "annotation-format")
    for page in pages:
        target = site / ("index.html" if page == "index" else f"{page}/index.html")
        assert target.is_file(), page


def test_the_api_reference_is_generated_from_the_docstrings(site):
    clients = (site / "api" / "clients" / "index.html").read_text()
    assert "list_tasks" in clients and "create_chunked_upload" in clients
    # "Example:" sections are rendered as examples (code), not as an admonition of prose
    assert 'doc-section-title">Examples:' in clients and "&gt;&gt;&gt;" in clients
    assert "admonition example" not in clients
    server = (site / "api" / "server" / "index.html").read_text()
    assert "set_faults" in server


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_pages_refer_to_nothing_outside_the_repository(page):
    found = OUTSIDE.findall((DOCS / page).read_text())
    assert not found, f"docs/{page} mentions {found}"


def test_the_site_is_not_written_into_the_repository(site):
    assert not (REPO / "site").exists() or (REPO / "site").resolve() != site.resolve()
    assert "site/" in (REPO / ".gitignore").read_text().splitlines()


#: what a reader of the code cannot follow: outside documents, their section numbers and the
#: nicknames of SDK releases (a random-number ``seed`` is of course fine)
OUTSIDE_IN_CODE = re.compile(
    r"SDK-2[0-9]|synapse-api\.md|§|shared/(dm-format|seeds)|\bcontract\b"
    r"|\bseed(?:'s| docs?| text| method| SDK| shape| form| check-off| signature)\b"
    r"|\bSeed (?:form|name)\b| \(seed\)[ .,]|\s\(seed: |\bseed (?:defaults?|behaviou?r)\b",
    re.IGNORECASE,
)


def test_code_and_docstrings_refer_to_nothing_outside_the_repository():
    found: dict[str, list[str]] = {}
    for folder in ("synapse_nb", "tests", "benchmarks", "notebooks"):
        paths = [*(REPO / folder).rglob("*.py"), *(REPO / folder).rglob("*.ipynb")]
        for path in sorted(paths):
            if path.name == Path(__file__).name or ".ipynb_checkpoints" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if OUTSIDE_IN_CODE.search(line):
                    name = path.relative_to(REPO).as_posix()
                    found.setdefault(name, []).append(f"{number}: {line.strip()}")
    assert not found, "say what is meant instead (see docs/): " + repr(found)
