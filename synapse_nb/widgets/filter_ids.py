"""The id filter of a :class:`~.filter.FilterPanel`: a set of row ids shown as a removable chip.

An id filter comes from elsewhere (a confusion-matrix cell, a list of worst images), not
from a control the user fills in, so it is drawn as one chip — ``12 tasks from confusion
cell car→truck  ✕`` — whose ✕ removes it. Frame mode keeps the rows whose id is in the set;
live mode sends the ids as the task listing's ``id__in`` filter, so the server still pages,
sorts and counts.

Example:
    >>> chip = IdChip(on_remove=lambda: None)
    >>> chip.set(check_ids([3, 1, 3]), "from confusion cell car→truck")
    >>> chip.ids, chip.text
    ((1, 3), '2 tasks from confusion cell car→truck')
    >>> chip.layout.display
    'flex'
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as widgets
import numpy as np

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.widgets._display import plural

__all__ = ["IdChip", "check_ids"]


def check_ids(ids: Any, method: str = "filter_ids") -> tuple[int, ...]:
    """``ids`` as a sorted tuple of distinct ints; raises on anything that is not one.

    Raises:
        InvalidInputError: Not a list of integer ids, or an empty one.

    Example:
        >>> check_ids([5, np.int64(2), 5])
        (2, 5)
    """
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise InvalidInputError("ids", ids, "must be a list of row ids", method=method)
    values = list(ids)
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | np.integer)]
    if bad:
        raise InvalidInputError("ids", bad[:10], "are not integer ids", method=method)
    if not values:
        raise InvalidInputError("ids", [], "must name at least one id (clear_ids() removes "
                                "the filter)", method=method)
    return tuple(sorted({int(v) for v in values}))


class IdChip(widgets.HBox):
    """A chip naming the id filter (``N tasks <label>``) with a ✕ button that removes it.

    Args:
        on_remove: Called when the ✕ is clicked.
        noun: What a row is, for the count (``task``).

    Example:
        >>> removed = []
        >>> chip = IdChip(on_remove=lambda: removed.append(True))
        >>> chip.set((4, 5), "picked by hand")
        >>> chip.remove_button.click(); removed
        [True]
    """

    def __init__(self, on_remove: Callable[[], Any], noun: str = "task") -> None:
        self.ids: tuple[int, ...] = ()
        self.label = ""
        self.noun = noun
        self.text_html = widgets.HTML()
        self.remove_button = widgets.Button(
            description="✕", tooltip="remove this filter",
            layout=widgets.Layout(width="32px", height="24px", padding="0"),
        )  # fmt: skip
        self.remove_button.add_class("snb-id-chip-remove")
        self.remove_button.on_click(lambda _b: on_remove())
        super().__init__(
            [self.text_html, self.remove_button],
            layout=widgets.Layout(display="none", align_items="center", width="fit-content",
                                  border="1px solid #90caf9", padding="0 0 0 8px",
                                  margin="2px 0"),
        )  # fmt: skip
        self.add_class("snb-id-chip")

    @property
    def text(self) -> str:
        """What the chip says (without the ✕); '' when no filter is set."""
        if not self.ids:
            return ""
        return f"{plural(len(self.ids), self.noun)} {self.label}".strip()

    def set(self, ids: tuple[int, ...], label: str = "") -> None:
        """Show the chip for ``ids`` (already checked by :func:`check_ids`)."""
        self.ids, self.label = ids, label
        self.text_html.value = f"<span style='font-size:90%'>{html.escape(self.text)}</span>"
        self.layout.display = "flex"

    def clear(self) -> None:
        """Hide the chip and forget the ids."""
        self.ids, self.label = (), ""
        self.text_html.value = ""
        self.layout.display = "none"
