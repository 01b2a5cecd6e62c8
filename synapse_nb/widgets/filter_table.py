"""The table of a :class:`~.filter.FilterPanel`: a header and a pool of rows.

Only the visible page is rendered: one row = a checkbox and a one-row HTML table with fixed
column widths, so the columns line up and a page update is one message per row. The pool
of rows is reused across pages and page sizes (hidden rows get the shared layout with
``display: none``).

Example:
    >>> format_cell(["a", "b"], "classes", {})
    'a, b'
    >>> table = RowTable(lambda change: None)
    >>> frame = pd.DataFrame({"status": ["done"]}, index=pd.Index([7], name="id"))
    >>> table.render(frame, ["status"], 5, set(), {}, "id", True)
    >>> table.ids, len(table.rows_box.children)
    ([7], 5)
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from synapse_nb.widgets._display import muted
from synapse_nb.widgets.tags import tag_chip

__all__ = ["CHECK_WIDTH", "ROW_HEIGHT", "RowTable", "format_cell"]

CHECK_WIDTH = 30
ROW_HEIGHT = "26px"
_SELECTED_ROW = '<tr class="snb-sel">'

_WIDTHS = {
    "id": 64,
    "status": 92,
    "status_label": 92,
    "status_review": 92,
    "version": 64,
    "assignee_name": 100,
    "tag_names": 170,
    "classes": 170,
    "file_name": 140,
    "n_annotations": 70,
    "created": 124,
    "modified": 124,
}
_HEADERS = {
    "assignee_name": "assignee",
    "tag_names": "tags",
    "n_annotations": "annot.",
    "file_name": "file",
    "status_label": "label",
    "status_review": "review",
}

_STYLE = """<style>
.snb-fp-table {table-layout: fixed; border-collapse: collapse; font-size: 12px;}
.snb-fp-table td, .snb-fp-table th {overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; padding: 0 6px; height: 24px; text-align: left;
  border-bottom: 1px solid #e0e0e0;}
.snb-fp-table th {font-weight: 600; border-bottom: 2px solid #bdbdbd;}
.snb-fp-table tr.snb-sel td {background: #e3f2fd;}
</style>"""


def format_cell(value: Any, column: str, colors: Mapping[str, str]) -> str:
    """One table cell as HTML (tag names as coloured chips, missing values as a dash).

    Example:
        >>> format_cell(None, "status", {})
        '<span style="color:#9e9e9e">—</span>'
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        if column == "tag_names":
            return "".join(tag_chip(v, colors.get(str(v))) for v in value) or ""
        return html.escape(", ".join(str(v) for v in value))
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return muted("—")
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else value.strftime("%Y-%m-%d %H:%M")
    with contextlib.suppress(TypeError, ValueError):
        if pd.isna(value):
            return muted("—")
    return html.escape(str(value))


def _colgroup(widths: list[int]) -> str:
    return "<colgroup>" + "".join(f'<col style="width:{w}px">' for w in widths) + "</colgroup>"


def header_html(columns: Iterable[str], widths: list[int], sort_by: str, ascending: bool) -> str:
    """The header table: ``id`` and ``columns``, with an arrow on the sorted one.

    Example:
        >>> "status ▼" in header_html(["status"], [64, 92], "status", False)
        True
    """
    heads = []
    for name in ["id", *columns]:
        label = html.escape(_HEADERS.get(name, name))
        if name == sort_by:
            label += " ▲" if ascending else " ▼"
        heads.append(f"<th>{label}</th>")
    return (
        f'<table class="snb-fp-table" style="width:{sum(widths)}px">{_colgroup(widths)}'
        f"<tr>{''.join(heads)}</tr></table>"
    )


def row_html(pk: Any, cells: list[str], widths: list[int], chosen: bool) -> str:
    """One row as a one-row table (``data-id`` = the row id; ``snb-sel`` when selected).

    Example:
        >>> 'data-id="3"' in row_html(3, ["a"], [64, 92], False)
        True
    """
    css = ' class="snb-sel"' if chosen else ""
    tds = "".join(f"<td>{c}</td>" for c in [html.escape(str(pk)), *cells])
    return (
        f'<table class="snb-fp-table" style="width:{sum(widths)}px" '
        f'data-id="{html.escape(str(pk))}">{_colgroup(widths)}<tr{css}>{tds}</tr></table>'
    )


def column_widths(columns: Iterable[str]) -> list[int]:
    """Pixel widths of ``id`` and ``columns``.

    Example:
        >>> column_widths(["status", "n_annotations", "other"])
        [64, 92, 70, 120]
    """
    return [_WIDTHS["id"], *[_WIDTHS.get(c, 70 if c.startswith("n_") else 120) for c in columns]]


class RowTable:
    """A header and a pool of rows (checkbox + HTML), reused across pages.

    The checkboxes and cells share one layout and one style model each, and the rows two
    layouts (shown, hidden): a row costs three widget models instead of eight, which is
    most of the time of a larger page size.

    Args:
        on_check: Observer of every row checkbox's ``value``.
    """

    def __init__(self, on_check: Callable[[Mapping[str, Any]], None]) -> None:
        self.header = widgets.HTML(layout=widgets.Layout(margin="0"))
        self.rows_box = widgets.VBox(layout=widgets.Layout(margin="0"))
        self.checks: list[widgets.Checkbox] = []
        self.cells: list[widgets.HTML] = []
        self.boxes: list[widgets.HBox] = []
        self.ids: list[Any] = []
        self._on_check = on_check
        self._shared: dict[str, Any] = {}

    def ensure(self, page_size: int) -> None:
        """At least ``page_size`` rows in the pool, and exactly that many shown."""
        if not self._shared:
            self._shared = {
                "check_layout": widgets.Layout(
                    width=f"{CHECK_WIDTH}px", height=ROW_HEIGHT, margin="0"
                ),
                "check_style": CheckboxStyle(),
                "cell_layout": widgets.Layout(margin="0", height=ROW_HEIGHT),
                "cell_style": HTMLStyle(),
                # the rows share two layouts: shown and hidden (one model, not one per row)
                "row_shown": widgets.Layout(margin="0", height=ROW_HEIGHT),
                "row_hidden": widgets.Layout(margin="0", height=ROW_HEIGHT, display="none"),
            }
        shared = self._shared
        while len(self.boxes) < page_size:
            check = widgets.Checkbox(
                value=False, indent=False, layout=shared["check_layout"],
                style=shared["check_style"],
            )  # fmt: skip
            check.observe(self._on_check, "value")
            check.add_class("snb-row-check")
            cells = widgets.HTML(layout=shared["cell_layout"], style=shared["cell_style"])
            self.checks.append(check)
            self.cells.append(cells)
            self.boxes.append(widgets.HBox([check, cells], layout=shared["row_shown"]))
        self.rows_box.children = tuple(self.boxes[:page_size])

    def render(
        self,
        rows: pd.DataFrame,
        columns: list[str],
        page_size: int,
        selected: set[Any],
        colors: Mapping[str, str],
        sort_by: str,
        ascending: bool,
    ) -> None:
        """Show ``rows`` (one page): the header, one pooled row each, the rest hidden."""
        if len(self.boxes) < page_size or len(self.rows_box.children) != page_size:
            self.ensure(page_size)
        widths = column_widths(columns)
        self.header.value = _STYLE + header_html(columns, widths, sort_by, ascending)
        records = rows[[c for c in columns if c in rows.columns]]
        ids = rows.index.tolist()
        names = list(records.columns)
        values = [records[c].tolist() for c in names]
        self.ids = ids
        for i in range(page_size):
            box, check, cells = self.boxes[i], self.checks[i], self.cells[i]
            if i >= len(ids):
                self._show(box, False)
                check.value = False
                continue
            pk = ids[i]
            self._show(box, True)
            check.value = pk in selected
            row = [format_cell(column[i], name, colors) for name, column in
                   zip(names, values, strict=True)]  # fmt: skip
            cells.value = row_html(pk, row, widths, pk in selected)

    def _show(self, box: widgets.HBox, shown: bool) -> None:
        layout = self._shared["row_shown" if shown else "row_hidden"]
        if box.layout is not layout:  # one message, only when it changes
            box.layout = layout

    def mark(self, chosen: set[Any]) -> None:
        """Tick and highlight exactly the shown rows in ``chosen`` (no re-render)."""
        for i, pk in enumerate(self.ids):
            if self.checks[i].value != (pk in chosen):
                self.checks[i].value = pk in chosen
            value = self.cells[i].value
            marked = _SELECTED_ROW in value
            if marked != (pk in chosen):
                self.cells[i].value = value.replace(
                    _SELECTED_ROW if marked else "<tr>", "<tr>" if marked else _SELECTED_ROW, 1
                )

    def page_label(self, page: int, page_size: int, count: int) -> tuple[str, int]:
        """The "page p of n · rows a–b" text and the number of pages.

        Example:
            >>> RowTable(lambda change: None).page_label(1, 20, 45)
            ('page 1 of 3 · rows 0–0', 3)
        """
        shown = len(self.ids)
        pages = max(1, math.ceil(count / page_size))
        first = (page - 1) * page_size + 1 if shown else 0
        last = first + shown - 1 if shown else 0
        return f"page {page} of {pages} · rows {first:,}–{last:,}", pages
