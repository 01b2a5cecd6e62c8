"""The README's commands install the pinned versions, and the pins cover ``pyproject.toml``.

``.ci/run`` runs the README's second command verbatim, so these checks are what keeps CI and a
newcomer's machine on the same versions. When a dependency is added to ``pyproject.toml``
without regenerating ``requirements/constraints.txt`` (the command is in the README), the
second test fails and names it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "requirements" / "constraints.txt"


def readme_commands() -> list[str]:
    """Non-empty lines of the README's first fenced block (what ``.ci/run`` reads)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"^```bash\n(.*?)^```", text, re.S | re.M)
    assert block, "README.md has no ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def pinned() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_both_readme_commands_install_from_the_constraints_file():
    install_demo, install_test = readme_commands()[:2]
    for command, extra, then in (
        (install_demo, "lab", "synapse-nb demo"),
        (install_test, "test", "mypy && python -m pytest"),
    ):
        assert command == (
            f'pip install -c requirements/constraints.txt -e ".[{extra}]" && {then}'
        ), command
    ci = (REPO / ".ci" / "run").read_text()
    assert "sed -n 2p" in ci  # CI runs the second command as written


def test_constraints_pin_every_dependency_of_pyproject_within_its_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    pins = pinned()
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(project["name"]):
            continue  # the package's own extras
        if name not in pins:
            problems.append(f"{requirement.name} is not pinned")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement.name}=={pins[name]} is outside {requirement.specifier}")
    assert not problems, (
        "requirements/constraints.txt is stale; regenerate it (README, Dependencies): "
        + "; ".join(problems)
    )
