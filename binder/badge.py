"""Point the README's Binder badge at this project's repository.

The repository is named once, in ``pyproject.toml`` (``[project.urls] Repository``); the badge
in ``README.md`` is derived from it.

    python binder/badge.py               # rewrite the badge from pyproject.toml
    python binder/badge.py OWNER/NAME    # set the repository there, then rewrite the badge
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/01_quickstart.ipynb"
URL_LINE = re.compile(r'^Repository = "https://github\.com/[^"]*"$', re.MULTILINE)
BADGE = re.compile(r"^\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\([^)]*\)$", re.M)
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def repository(root: Path = REPO) -> str:
    """``OWNER/NAME`` from ``[project.urls] Repository`` of ``pyproject.toml``."""
    url = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    return url.removeprefix("https://github.com/").strip("/")


def badge(slug: str) -> str:
    """The README line of the Binder badge that opens the quickstart notebook of ``slug``."""
    target = f"https://mybinder.org/v2/gh/{slug}/HEAD?urlpath=lab/tree/{NOTEBOOK}"
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({target})"


def main(argv: list[str], root: Path = REPO) -> int:
    """Set the repository when ``argv`` names one, then rewrite the badge; 0 on success."""
    if argv:
        if not SLUG.match(argv[0]):
            print(f"badge.py: expected OWNER/NAME of a GitHub repository, got {argv[0]!r}")
            return 2
        pyproject = root / "pyproject.toml"
        text = pyproject.read_text()
        line = f'Repository = "https://github.com/{argv[0]}"'
        pyproject.write_text(URL_LINE.sub(line, text, count=1))
    readme = root / "README.md"
    slug = repository(root)
    readme.write_text(BADGE.sub(badge(slug).replace("\\", r"\\"), readme.read_text(), count=1))
    print(f"README.md: the Binder badge opens {slug}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
