"""A griffe extension for the API pages: read ``Example:`` sections as examples.

The package's Google-style docstrings title their doctest sections ``Example:``; griffe only
knows the plural ``Examples:`` and would render the singular one as prose, where a line such
as ``>>> task["data_unit"]["files"]`` reads as a Markdown link. Loaded by ``mkdocs.yml``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class SingularExampleSections(griffe.Extension):
    """Rename ``Example:`` section titles to ``Examples:`` before the docstring is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
