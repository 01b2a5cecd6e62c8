"""The package's layers, checked from the import statements of every module.

Arrows point one way: widgets -> frames -> clients -> transport, with annotations,
converters, models and utils below them all. The check reads each module's syntax tree
(``ast``): every ``import``/``from ... import`` — at the top, inside functions or under
``TYPE_CHECKING`` — and every ``importlib.import_module("synapse_nb...")`` with a literal
name. A small test rather than import-linter: no extra dependency in the test command, and
the rules read as the table below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import synapse_nb

ROOT = Path(synapse_nb.__file__).parent

#: part of the package -> the parts it must never import
FORBIDDEN: dict[str, frozenset[str]] = {
    "frames": frozenset({"widgets"}),
    "clients": frozenset({"frames", "widgets"}),
    "_transport": frozenset({"clients", "frames", "widgets"}),
    "_pagination": frozenset({"clients", "frames", "widgets"}),
    "_uploads": frozenset({"clients", "frames", "widgets"}),
    "annotations": frozenset({"clients", "frames", "widgets"}),
    "converters": frozenset({"clients", "frames", "widgets"}),
    "importers": frozenset({"clients", "frames", "widgets"}),
    "models": frozenset({"clients", "frames", "widgets"}),
    "utils": frozenset({"clients", "frames", "widgets"}),
    "exceptions": frozenset({"clients", "frames", "widgets"}),
    "_config": frozenset({"clients", "frames", "widgets"}),
}

#: (importing part, imported name) pairs allowed despite the rules, each with its reason
ALLOWED = {
    # df.synapse.preview() asks the optional widgets package to register its previewer
    # (register_previewer): frames uses no name of widgets, it only triggers the import.
    ("frames", "synapse_nb.widgets"),
}

#: private modules of one part that other parts still import (to be made public by the
#: part that owns them); nothing may be added to this list
PRIVATE_DEBT = {
    ("frames", "synapse_nb.clients._validate"),  # check_params / check_bool
    ("session", "synapse_nb.clients._validate"),
    ("clients", "synapse_nb.models._base"),  # build_body / validate
    ("clients", "synapse_nb._transport._NOT_SET"),
}


def _part(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    return relative.parts[0]


def _imports(tree: ast.AST, path: Path) -> list[str]:
    """The absolute names of the synapse_nb modules a syntax tree imports."""
    package = ".".join(("synapse_nb", *path.relative_to(ROOT).parent.parts))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return [n for n in names if n == "synapse_nb" or n.startswith("synapse_nb.")]


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "server" not in p.relative_to(ROOT).parts)


def _violations() -> tuple[list[str], list[str]]:
    layer, private = [], []
    for path in _modules():
        part = _part(path)
        forbidden = FORBIDDEN.get(part, frozenset())
        for name in _imports(ast.parse(path.read_text(encoding="utf-8")), path):
            pieces = name.split(".")
            target = pieces[1] if len(pieces) > 1 else ""
            where = f"{path.relative_to(ROOT.parent)} imports {name}"
            if target in forbidden and (part, ".".join(pieces[:2])) not in ALLOWED:
                layer.append(where)
            hidden = [p for p in pieces[2:] if p.startswith("_") and not p.startswith("__")]
            owner = target
            if hidden and owner != part and (part, ".".join(pieces[:3])) not in PRIVATE_DEBT:
                private.append(where)
    return layer, private


def test_layers_point_one_way() -> None:
    layer, _private = _violations()
    assert layer == [], "\n".join(layer)


def test_no_part_imports_another_parts_private_modules() -> None:
    _layer, private = _violations()
    assert private == [], "\n".join(private)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from synapse_nb.widgets import preview", "synapse_nb.widgets"),
        ("import synapse_nb.frames.client", "synapse_nb.frames.client"),
        ("importlib.import_module('synapse_nb.widgets')", "synapse_nb.widgets"),
        ("from ..widgets import tags", "synapse_nb.widgets"),
    ],
)
def test_the_check_sees_every_kind_of_import(source: str, expected: str) -> None:
    found = _imports(ast.parse(source), ROOT / "frames" / "client.py")
    assert expected in found
