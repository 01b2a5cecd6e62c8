"""FilterPanel: filter, sort, page and select rows, on a frame or live against the server.

Two modes, one widget:

- **frame mode** — ``FilterPanel(frame)``: the filters are numpy masks over a frame you
  already have. Each facet column is encoded once as integer codes when the panel is
  created (the option counts are ``np.bincount`` of them); each facet's mask and each sort
  order is computed once and cached, and a change combines the masks with ``&`` and takes
  only the visible page's rows from the frame — a filter change on a million rows costs a
  few milliseconds plus one page of HTML. ``.value`` (the matching frame, a copy of those
  rows) is taken when read, not on every change;
- **live mode** — ``FilterPanel(client=client, params={"project": 1})``: every change is one
  request for one page; the filters become the server's query params (``status``,
  ``assignee``, ``tags``, ``created__gte``/``created__lte``, ``search``, ``project``) and the
  sort becomes ``ordering``. The class filter needs the annotations, so it works in frame
  mode only (the server has no class filter).

The table renders only the visible page: one row = a checkbox and a one-row HTML table with
fixed column widths, so the columns line up and a page update is one message per row.

Observable traits: ``value`` (frame mode: the filtered, sorted frame; live mode: the page
on screen — ``fetch_all()`` lists every match), ``selected`` (ids, kept across pages and
pruned to the matches), ``count``, ``page``, ``page_size``, ``sort_by``, ``ascending``.

Loading: a frame-mode panel renders in ``__init__`` (no request); tag colours, and in live
mode the first page and the facet options, are fetched on first display or by ``load()``.

Example:
    >>> from synapse_nb.widgets import FilterPanel
    >>> tasks = client.list_tasks({"project": 1}, list_all=True)
    >>> panel = FilterPanel(tasks)
    >>> rows = panel.filter(status="completed")
    >>> panel.count == len(rows) == int((tasks["status"] == "completed").sum())
    True
    >>> live = FilterPanel(client=client, params={"project": 1})
    >>> live.load().count == client.raw.list_tasks({"project": 1})["count"]
    True
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import fields
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
from traitlets import All, Bool, Instance, Int, Tuple, Unicode, observe, validate

from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.frames.client import Client, as_client
from synapse_nb.frames.schemas import SCHEMAS
from synapse_nb.frames.writeback import normalize_value, snapshot_id
from synapse_nb.widgets._display import (
    LoadOnDisplay,
    check_callback,
    check_widget_options,
    error_html,
    muted,
    note_html,
    plural,
)
from synapse_nb.widgets.filter_controls import FilterControls
from synapse_nb.widgets.filter_ids import IdChip, check_ids
from synapse_nb.widgets.filter_sources import (
    LIVE_KINDS,
    UNASSIGNED,
    Criteria,
    FrameSource,
    LiveSource,
    Result,
    RowSource,
    resolved,
)
from synapse_nb.widgets.filter_table import CHECK_WIDTH, ROW_HEIGHT, RowTable
from synapse_nb.widgets.tags import tag_colors

__all__ = ["UNASSIGNED", "Criteria", "FilterPanel"]

PAGE_SIZES = (10, 20, 50, 100)

#: columns shown per kind (the id is always first)
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "task": ("status", "assignee_name", "tag_names", "classes", "n_annotations", "file_name",
             "created"),
    "assignment": ("status_label", "status_review", "assignee_name", "tag_names", "classes",
                   "n_annotations", "file_name", "created"),
    "ground_truth_event": ("version", "classes", "n_annotations", "file_name", "created"),
}  # fmt: skip


class _PendingFrame(Instance):
    """A frame trait that can be *pending*: taken from the row source when first read.

    A filter change on a million rows must not copy the matching rows into a new frame
    that nobody reads; the panel leaves a pending take instead (``_pending_value``), and
    reading ``.value`` performs it. When something observes ``value`` (or ``on_filter``),
    the panel sets the frame at once, so observers see every change as before.
    """

    def get(self, obj: Any, cls: Any = None) -> Any:
        pending = getattr(obj, "_pending_value", None)
        if pending is not None:
            obj._pending_value = None
            obj._trait_values[self.name] = pending()
        return super().get(obj, cls)

    def set(self, obj: Any, value: Any) -> None:
        """Set and notify, telling frames apart by identity: traitlets' own ``old == new``
        would compare every cell of a million-row frame (and then give up).

        A refused value raises before the pending take is dropped: ``.value`` still gives
        the rows of the last filter change."""
        new = self._validate(obj, value)
        obj._pending_value = None
        old = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new
        if old is not new:
            obj._notify_trait(self.name, old, new)


class FilterPanel(LoadOnDisplay, widgets.VBox):
    """Facet filters, a paged sortable table with row selection, and the match count.

    Args:
        frame: A frame to filter in memory (frame mode). Give this or ``client``.
        client: A :class:`~synapse_nb.frames.Client` to filter live on the server.
        kind: Live mode: ``task`` (default) or ``assignment``.
        params: Live mode: base query params, e.g. ``{"project": 1}``.
        columns: Columns shown (besides ``id``); a per-kind default otherwise.
        page_size: Rows per page (10, 20, 50 or 100).

    Example:
        >>> tasks = client.list_tasks({"project": 1}, list_all=True)
        >>> panel = FilterPanel(tasks, columns=["status", "file_name"])
        >>> panel.on_select(lambda ids: print("selected", ids))
        >>> panel.select([3, 5])
        selected (3, 5)
        (3, 5)
    """

    value = _PendingFrame(
        pd.DataFrame,
        allow_none=True,
        help="Frame mode: the filtered, sorted frame. Live mode: the page on screen.",
    )
    selected = Tuple(help="Ids of the selected rows (kept across pages, pruned to matches).")
    count = Int(0, help="Number of rows that match the filters.")
    page = Int(1, help="The page shown (1-based).")
    page_size = Int(20, help="Rows per page.")
    sort_by = Unicode("id", help="Column the table is sorted by ('id' or a column name).")
    ascending = Bool(True, help="Sort direction.")
    error = Unicode("", help="The last error while loading rows ('' when none).")

    def __init__(
        self,
        frame: pd.DataFrame | None = None,
        *,
        client: Any = None,
        kind: str = "task",
        params: Mapping[str, Any] | None = None,
        columns: Iterable[str] | None = None,
        page_size: int = 20,
        **kwargs: Any,
    ) -> None:
        check_widget_options(type(self), kwargs)
        if (frame is None) == (client is None):
            raise InvalidInputError(
                "frame", None if frame is None else "<frame>",
                "give either a frame (frame mode) or client= (live mode)", method="FilterPanel",
            )  # fmt: skip
        if page_size not in PAGE_SIZES:
            raise InvalidInputError(
                "page_size", page_size, f"must be one of {PAGE_SIZES}", method="FilterPanel"
            )
        if client is not None:
            client = as_client(client, "FilterPanel")  # the one wrap, at the entry
        self._client = client
        self._ready = False
        self._criteria = Criteria()
        self._holding = 0
        self._rendering = False
        self._select_callbacks = widgets.CallbackDispatcher()
        self._filter_callbacks = widgets.CallbackDispatcher()
        self._colors: dict[str, str] = {}
        self._seen: pd.DataFrame | None = None  # live mode: rows of pages seen (selection)
        self._pending_value: Callable[[], pd.DataFrame] | None = None
        #: frame mode: the matches, in order (or what computes them: see ``resolved``)
        self._positions: np.ndarray | Callable[[], np.ndarray] | None = None
        self._mask: np.ndarray | None = None  # frame mode: the matching rows (None = all)
        self._source: RowSource
        if frame is not None:
            if not isinstance(frame, pd.DataFrame):
                raise InvalidInputError(
                    "frame",
                    type(frame).__name__,
                    "must be a pandas DataFrame",
                    method="FilterPanel",
                )
            self._source = FrameSource(frame)
            kind = self._source.kind or kind
        else:
            if kind not in LIVE_KINDS:
                raise InvalidInputError(
                    "kind",
                    kind,
                    f"live mode lists one of {sorted(LIVE_KINDS)}",
                    method="FilterPanel",
                )
            if params is not None and not isinstance(params, Mapping):
                raise InvalidInputError("params", params, "must be a dict", method="FilterPanel")
            self._source = LiveSource(client, kind, params or {})
        self.kind = kind
        self._columns = self._pick_columns(columns)
        self._build_controls()
        super().__init__(self._layout(), **kwargs)
        self.page_size = page_size
        self.size_dropdown.value = page_size
        self._refresh_options()
        self.table.ensure(self.page_size)
        self._add_dom_classes()
        self._ready = True
        self._load_when_viewed()
        if not self._source.live:
            self._update()
        else:
            self.status_line.value = note_html("Rows load when the panel is displayed (or load()).")

    def __repr__(self) -> str:
        mode = "live" if self._source.live else "frame"
        active = ", ".join(
            f"ids=<{len(v):,} ids>" if k == "ids" else f"{k}={v!r}"
            for k, v in self._criteria.active().items()
        )
        return (
            f"<FilterPanel {mode} {self.kind}: {self.count:,} match"
            f"{' (' + active + ')' if active else ''}, {len(self.selected):,} selected>"
        )

    # ------------------------------------------------------------------ construction
    def _pick_columns(self, columns: Iterable[str] | None) -> list[str]:
        frame = self._frame_source.frame if self._frame_source is not None else None
        available = None if frame is None else set(frame.columns)
        if columns is None:
            wanted = list(DEFAULT_COLUMNS.get(self.kind, ()))
            if frame is not None:
                wanted = [c for c in wanted if c in set(frame.columns)] or [
                    str(c) for c in list(frame.columns)[:6]
                ]
            return wanted
        if isinstance(columns, str):
            raise InvalidInputError(
                "columns", columns, "must be a list of column names", method="FilterPanel"
            )
        wanted = [str(c) for c in columns]
        missing = [c for c in wanted if available is not None and c not in available]
        if missing:
            raise InvalidInputError(
                "columns", missing, "are not columns of the frame", method="FilterPanel"
            )
        return [c for c in wanted if c != "id"]

    def _build_controls(self) -> None:
        self.controls = FilterControls(self._source.capabilities(), self._on_control,
                                       getattr(self._source, "frame", None))
        controls = self.controls  # the same widgets, by the panel's attribute names
        self.status_filter = controls.status_filter
        self.assignee_filter = controls.assignee_filter
        self.class_filter = controls.class_filter
        self.tags_filter = controls.tags_filter
        self.created_from = controls.created_from
        self.created_to = controls.created_to
        self.search_box = controls.search_box
        self.issue_filter = controls.issue_filter
        self.score_filter = controls.score_filter
        self.reset_button = controls.reset_button
        self.reset_button.on_click(lambda _b: self.reset())
        self.id_chip = IdChip(self._clear_ids_from_ui, noun=self.kind.replace("_", " "))
        self.count_label = widgets.HTML()
        self.sort_dropdown = widgets.Dropdown(
            description="sort", options=self._source.sortable(), value="id",
            layout=widgets.Layout(width="190px"), style={"description_width": "35px"},
        )  # fmt: skip
        self.direction = widgets.ToggleButton(
            value=False, icon="arrow-up", tooltip="ascending / descending",
            layout=widgets.Layout(width="36px"),
        )  # fmt: skip
        self.size_dropdown = widgets.Dropdown(
            description="rows", options=list(PAGE_SIZES), value=20,
            layout=widgets.Layout(width="120px"), style={"description_width": "35px"},
        )  # fmt: skip
        self.sort_dropdown.observe(lambda ch: setattr(self, "sort_by", ch["new"]), "value")
        self.direction.observe(lambda ch: setattr(self, "ascending", not ch["new"]), "value")
        self.size_dropdown.observe(lambda ch: setattr(self, "page_size", ch["new"]), "value")
        self.page_check = widgets.Checkbox(
            value=False, indent=False, tooltip="select the rows of this page",
            layout=widgets.Layout(width=f"{CHECK_WIDTH}px", height=ROW_HEIGHT),
        )  # fmt: skip
        self.page_check.observe(self._on_page_check, "value")
        self.table = RowTable(self._on_row_check)
        self.header = self.table.header
        self.rows_box = self.table.rows_box
        self.prev_button = widgets.Button(icon="chevron-left", layout=widgets.Layout(width="36px"))
        self.next_button = widgets.Button(icon="chevron-right", layout=widgets.Layout(width="36px"))
        self.prev_button.on_click(lambda _b: self.go(self.page - 1))
        self.next_button.on_click(lambda _b: self.go(self.page + 1))
        self.page_label = widgets.HTML()
        self.select_all_button = widgets.Button(description="Select all matches")
        self.clear_button = widgets.Button(description="Clear selection")
        self.select_all_button.on_click(lambda _b: self._select_all_matches())
        self.clear_button.on_click(lambda _b: self.select([]))
        self.selection_label = widgets.HTML()
        self.status_line = widgets.HTML()
        # the table's row pool, by the names the tests and benchmarks read
        self._row_checks = self.table.checks
        self._row_cells = self.table.cells
        self._row_boxes = self.table.boxes

    def _add_dom_classes(self) -> None:
        """Stable CSS hooks for styling and for the browser tests."""
        self.add_class("snb-filter-panel")
        for widget, name in (
            (self.count_label, "snb-count"),
            (self.page_check, "snb-page-check"),
            (self.rows_box, "snb-rows"),
            (self.page_label, "snb-page-label"),
            (self.next_button, "snb-next"),
            (self.prev_button, "snb-prev"),
            (self.selection_label, "snb-selection"),
        ):
            widget.add_class(name)

    def _layout(self) -> list[widgets.Widget]:
        return [
            *self.controls.rows(),
            self.id_chip,
            widgets.HBox([self.count_label, self.sort_dropdown, self.direction,
                          self.size_dropdown], layout=widgets.Layout(align_items="center")),
            widgets.HBox([self.page_check, self.header], layout=widgets.Layout(margin="0")),
            self.rows_box,
            widgets.HBox([self.prev_button, self.page_label, self.next_button,
                          self.select_all_button, self.clear_button, self.selection_label],
                         layout=widgets.Layout(align_items="center")),
            self.status_line,
        ]  # fmt: skip

    # ------------------------------------------------------------------ loading
    @property
    def live(self) -> bool:
        """True when the panel filters on the server (live mode).

        Example:
            >>> FilterPanel(pd.DataFrame({"a": [1]}, index=pd.Index([1], name="id"))).live
            False
        """
        return self._source.live

    @property
    def frame(self) -> pd.DataFrame | None:
        """Frame mode: the whole frame being filtered (None in live mode).

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> FilterPanel(tasks).frame is tasks
            True
        """
        return self._frame_source.frame if self._frame_source is not None else None

    @property
    def _frame_source(self) -> FrameSource | None:
        return self._source if isinstance(self._source, FrameSource) else None

    @property
    def _live_source(self) -> LiveSource | None:
        return self._source if isinstance(self._source, LiveSource) else None

    @property
    def _row_ids(self) -> list[Any]:
        """Ids of the rows on screen."""
        return self.table.ids

    @property
    def criteria(self) -> Criteria:
        """The current filters.

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> rows = panel.filter(status="completed")
            >>> panel.criteria.active()
            {'status': 'completed'}
        """
        return self._criteria

    def _tag_client(self) -> Client | None:
        if self._client is not None or self.frame is None:
            return self._client
        frame = self.frame
        meta = frame.attrs.get("synapse", {})
        if self.kind not in ("task", "assignment") or not meta.get("client"):
            return None
        try:
            return frame.synapse.client()
        except (AttributeError, InvalidInputError):
            return None  # a frame from another session: no tag colours

    def load(self) -> FilterPanel:
        """Fetch tag colours and, in live mode, the facet options and the first page.

        Called on first display; call it again to reload the options.

        Example:
            >>> panel = FilterPanel(client=client, params={"project": 1})
            >>> panel.load().count == client.raw.list_tasks({"project": 1})["count"]
            True
        """
        client = self._tag_client()
        if client is not None:
            tags = client.list_task_tags(list_all=True)
            self._colors = dict(tag_colors(tags))
            if self._live_source is not None:
                self._live_source.load_options(tags)
        self._loaded = True
        self._refresh_options()
        self._update()
        return self

    def _show_load_error(self, exc: Exception) -> None:
        self.error = str(exc)
        self.status_line.value = error_html(str(exc))

    def _refresh_options(self) -> None:
        self._hold_push()
        try:
            self.controls.set_options(self._source.options())
        finally:
            self._release()
        self._criteria = self._read()

    def _read(self) -> Criteria:
        """The controls' criteria plus the id filter (which has no control)."""
        return dataclasses.replace(self.controls.read(), ids=self.id_chip.ids)

    # ------------------------------------------------------------------ filters
    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        """Change several controls with one update at the end."""
        self._hold_push()
        try:
            yield
        finally:
            self._release()
            self._criteria_from_controls()

    def _hold_push(self) -> None:
        self._holding += 1

    def _release(self) -> None:
        self._holding -= 1

    def _on_control(self, _change: Mapping[str, Any]) -> None:
        if not self._holding:
            self._criteria_from_controls()

    def _criteria_from_controls(self) -> None:
        criteria = self._read()
        if criteria != self._criteria:
            self._criteria = criteria
            with self._hold_view():
                self.page = 1
            self._update()

    def filter(self, **criteria: Any) -> pd.DataFrame:
        """Set filters (the others keep their values) and update the table once.

        Args:
            **criteria: Fields of :class:`Criteria`: ``status``, ``assignee``, ``tags``,
                ``class_name``, ``created_from``, ``created_to``, ``search``, ``ids`` (as
                :meth:`filter_ids`), and on frames from ``df.synapse.health()`` ``issue``
                and ``score`` (``(column, low, high)``). ``None`` (or ``()``/``''``)
                clears a filter.

        Returns:
            The new ``.value``.

        Raises:
            InvalidInputError: An unknown field, or a value the panel does not offer.

        Example:
            >>> import datetime
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> rows = panel.filter(status="completed", created_from=datetime.date(2026, 9, 1))
            >>> sorted(set(rows["status"]))
            ['completed']
            >>> bool((rows["created"].dt.date >= datetime.date(2026, 9, 1)).all())
            True
        """
        known = {f.name for f in fields(Criteria)}
        for name in criteria:
            if name not in known:
                raise InvalidInputError(
                    name,
                    criteria[name],
                    f"is not a filter; one of {sorted(known)}",
                    method="filter",
                )
        ids = criteria.pop("ids", ...)
        drop_ids = ids is None or (isinstance(ids, tuple | list) and not ids)
        checked_ids = None if ids is ... or drop_ids else check_ids(ids, "filter")
        caps = self._source.capabilities()
        for name, value in criteria.items():
            facet = "created" if name.startswith("created") else name
            if value not in (None, (), [], "") and not caps[facet]:
                raise InvalidInputError(
                    name, value, "this panel cannot filter on it (live mode has no class "
                    "filter; assignments have no search)", method="filter",
                )  # fmt: skip
        values = self.controls.check(criteria)
        with self._hold():
            for name, value in values.items():
                self.controls.widget(name).value = value
            if checked_ids is not None:
                self.id_chip.set(checked_ids, self.id_chip.label)
            elif drop_ids:
                self.id_chip.clear()
        return self.value

    def filter_ids(self, ids: Iterable[int], label: str = "") -> pd.DataFrame:
        """Show only the rows with these ids, named by a removable chip (the other filters
        stay and narrow them further).

        Frame mode keeps the frame's rows with these ids; live mode asks the server for
        them (the task listing's ``id__in``), so paging, sorting and the count stay
        server-side.

        Args:
            ids: Row ids (task ids for a task panel).
            label: What the ids are, after the count on the chip (e.g. ``from confusion
                cell car→truck``).

        Returns:
            The new ``.value``.

        Raises:
            InvalidInputError: ``ids`` is not a non-empty list of integer ids, or ``label``
                is not text.

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> panel.filter_ids([5, 3], "picked by hand").index.tolist()
            [3, 5]
            >>> panel.id_chip.text
            '2 tasks picked by hand'
        """
        checked = check_ids(ids)
        if not isinstance(label, str):
            raise InvalidInputError("label", label, "must be text", method="filter_ids")
        with self._hold():
            self.id_chip.set(checked, label)
        return self.value

    def clear_ids(self) -> pd.DataFrame:
        """Remove the id filter (what the chip's ✕ does); returns the new ``.value``.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> panel = FilterPanel(tasks)
            >>> _ = panel.filter_ids([1])
            >>> len(panel.clear_ids()) == len(tasks), panel.id_chip.text
            (True, '')
        """
        with self._hold():
            self.id_chip.clear()
        return self.value

    def _clear_ids_from_ui(self) -> None:
        try:
            self.clear_ids()
        except ClientError as exc:  # shown in the widget: a click handler must not raise
            self.status_line.value = error_html(str(exc))

    def reset(self) -> None:
        """Clear every filter.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> panel = FilterPanel(tasks)
            >>> rows = panel.filter(status="completed")
            >>> panel.reset()
            >>> panel.count == len(tasks)
            True
        """
        with self._hold():
            self.controls.clear()
            self.id_chip.clear()

    def on_filter(self, callback: Callable[[pd.DataFrame], Any], remove: bool = False) -> None:
        """Call ``callback(value)`` whenever the filters, sort or page change the rows.

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> panel.on_filter(lambda df: print(set(df["status"])))
            >>> rows = panel.filter(status="pending")
            {'pending'}
        """
        checked = check_callback(callback, "FilterPanel.on_filter")
        self._filter_callbacks.register_callback(checked, remove=remove)

    # ------------------------------------------------------------------ paging/sorting
    @validate("page_size")
    def _check_page_size(self, proposal: Mapping[str, Any]) -> int:
        if proposal["value"] not in PAGE_SIZES:
            raise InvalidInputError(
                "page_size", proposal["value"], f"must be one of {PAGE_SIZES}", method="FilterPanel"
            )
        return proposal["value"]

    @validate("sort_by")
    def _check_sort(self, proposal: Mapping[str, Any]) -> str:
        allowed = self._source.sortable()
        if proposal["value"] not in allowed:
            raise InvalidInputError(
                "sort_by", proposal["value"], f"must be one of {allowed}", method="FilterPanel"
            )
        return proposal["value"]

    @observe("page", "page_size", "sort_by", "ascending")
    def _observe_view(self, change: Mapping[str, Any]) -> None:
        if not self._ready:
            return
        name, new = change["name"], change["new"]
        if name == "page_size":
            self.size_dropdown.value = new
            self.table.ensure(new)
        elif name == "sort_by":
            self.sort_dropdown.value = new
        elif name == "ascending":
            self.direction.value = not new
            self.direction.icon = "arrow-up" if new else "arrow-down"
        if not self._rendering:
            self._update()

    def go(self, page: int) -> None:
        """Show page ``page`` (clamped to the pages there are).

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True), page_size=10)
            >>> panel.go(2); panel.page
            2
        """
        if isinstance(page, bool) or not isinstance(page, int):
            raise InvalidInputError("page", page, "must be an int", method="go")
        pages = max(1, math.ceil(self.count / self.page_size))
        self.page = min(max(1, page), pages)

    def sort(self, column: str, ascending: bool = True) -> None:
        """Sort the table by ``column`` (server-side in live mode).

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> panel.sort("created", ascending=False)
            >>> panel.value["created"].is_monotonic_decreasing
            True
        """
        if not isinstance(ascending, bool | np.bool_):  # "no" would be truthy: ascending
            raise InvalidInputError(
                "ascending", ascending, "must be True or False", method="FilterPanel.sort"
            )
        with self._hold_view():
            self.sort_by = column
            self.ascending = bool(ascending)
        self._update()

    @contextlib.contextmanager
    def _hold_view(self) -> Iterator[None]:
        """Set view traits without each one re-querying (nests)."""
        previous, self._rendering = self._rendering, True
        try:
            yield
        finally:
            self._rendering = previous

    # ------------------------------------------------------------------ update + render
    def _update(self) -> None:
        if self._source.live and not self._loaded:
            return
        try:
            result = self._source.query(
                self._criteria, self.sort_by, self.ascending, self.page, self.page_size
            )
        except ClientError as exc:
            self.error = str(exc)
            self.status_line.value = error_html(str(exc))
            return
        self.error = ""
        self.status_line.value = ""
        self._positions, self._mask = result.positions, result.mask
        if self._source.live:
            self._remember(result.rows)
        with self._hold_view():
            self.count = result.count
            self.page = result.page
            self._set_value(result)
            dropped = self._prune_selection()
        if dropped:  # said, not silent: the rows left the selection with the filter change
            self.status_line.value = note_html(
                f"Deselected {plural(dropped, 'row')} that no longer "
                f"{'matches' if dropped == 1 else 'match'} the filters."
            )
        self._render(result.rows)
        if self._filter_callbacks.callbacks:
            self._filter_callbacks(self.value)

    def _set_value(self, result: Result) -> None:
        """``.value`` = the matching frame: set now when observed, else taken when read."""
        source, positions = self._frame_source, result.positions
        if result.value is not None or source is None or positions is None:
            self.value = result.value
            return
        if self._value_observed():
            self.value = source.take(resolved(positions))
            return
        self._pending_value = lambda: source.take(resolved(positions))

    def _value_observed(self) -> bool:
        notifiers = self._trait_notifiers
        return bool(notifiers.get("value", {}).get("change") or notifiers.get("value", {}).get(All)
                    or notifiers.get(All) or self._filter_callbacks.callbacks)

    def _remember(self, rows: pd.DataFrame) -> None:
        """Live mode: keep the rows of the pages shown, so selections span pages."""
        if self._seen is None or self._seen.empty:
            self._seen = rows.copy()
            return
        kept = self._seen[~self._seen.index.isin(rows.index)]
        seen = pd.concat([kept, rows]) if not kept.empty else rows.copy()
        # concat drops attrs that differ between pages; the kind and client must stay
        seen.attrs = copy.deepcopy(rows.attrs)
        self._seen = seen

    def _prune_selection(self) -> int:
        """Keep only the selected rows that match; returns how many were dropped."""
        if not self.selected or self._frame_source is None:
            return 0  # live mode keeps the rows fetched so far
        matching = self._matching(self.selected)
        kept = tuple(pk for pk, ok in zip(self.selected, matching, strict=True) if ok)
        dropped = len(self.selected) - len(kept)
        if kept != self.selected:
            self.selected = kept
        return dropped

    def _matching(self, ids: Iterable[Any]) -> list[bool]:
        """Frame mode: whether each id is a row that matches the filters."""
        source = self._frame_source
        return [] if source is None else source.matching(ids, self._mask).tolist()

    def _render(self, rows: pd.DataFrame) -> None:
        with self._hold_view():
            selected = set(self.selected)
            self.table.render(
                rows, self._columns, self.page_size, selected, self._colors,
                self.sort_by, self.ascending,
            )  # fmt: skip
            ids = self.table.ids
            self.page_check.value = bool(ids) and all(pk in selected for pk in ids)
        self._render_labels()

    def _render_labels(self) -> None:
        noun = self.kind.replace("_", " ")
        verb = "matches" if self.count == 1 else "match"
        if self.frame is None:
            nouns = noun if self.count == 1 else f"{noun}s"
            text = f"<b>{self.count:,}</b> {nouns} {verb} (server-side)"
        else:
            text = f"<b>{self.count:,}</b> of {plural(len(self.frame), noun)} {verb}"
        self.count_label.value = text
        self.page_label.value, pages = self.table.page_label(self.page, self.page_size, self.count)
        self.prev_button.disabled = self.page <= 1
        self.next_button.disabled = self.page >= pages
        n = len(self.selected)
        self.selection_label.value = f"{n:,} selected" if n else muted("none selected")

    # ------------------------------------------------------------------ selection
    def _on_row_check(self, change: Mapping[str, Any]) -> None:
        if self._rendering:
            return
        index = self._row_checks.index(change["owner"])
        if index >= len(self._row_ids):
            return
        pk = self._row_ids[index]
        chosen = list(self.selected)
        if change["new"] and pk not in chosen:
            chosen.append(pk)
        elif not change["new"] and pk in chosen:
            chosen.remove(pk)
        self.selected = tuple(chosen)

    def _on_page_check(self, change: Mapping[str, Any]) -> None:
        if self._rendering:
            return
        chosen = list(self.selected)
        if change["new"]:
            chosen += [pk for pk in self._row_ids if pk not in chosen]
        else:
            page = set(self._row_ids)
            chosen = [pk for pk in chosen if pk not in page]
        self.selected = tuple(chosen)

    def _select_all_matches(self) -> None:
        if self._source.live:
            self.select(self._row_ids, add=True)
            self.status_line.value = note_html(
                "Live mode selects the rows fetched so far (this page); fetch_all() lists all."
            )
            return
        source = self._frame_source
        if source is None or self._positions is None:
            self.select([])
            return
        # all match (no check); an id on several rows is selected once
        self.selected = tuple(dict.fromkeys(source.ids(resolved(self._positions)).tolist()))

    def select(self, ids: Iterable[Any], add: bool = False) -> tuple[Any, ...]:
        """Select rows by id (as checkbox clicks would); ``add=True`` keeps the selection.

        Args:
            ids: Row ids. In frame mode they must be rows that match the filters; in live
                mode rows of pages that were shown.
            add: Add to the current selection instead of replacing it.

        Returns:
            The new ``.selected``.

        Raises:
            InvalidInputError: An id that is not a (matching / shown) row.

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> panel.select([1, 3])
            (1, 3)
        """
        if isinstance(ids, str) or not isinstance(ids, Iterable):
            raise InvalidInputError("ids", ids, "must be a list of row ids", method="select")
        wanted = [int(i) if isinstance(i, np.integer) else i for i in ids]
        unknown = self._unknown(wanted)
        if unknown:
            where = "rows fetched so far" if self._source.live else "rows matching the filters"
            raise InvalidInputError("ids", unknown[:10], f"are not {where}", method="select")
        chosen = list(self.selected) if add else []
        chosen += [pk for pk in wanted if pk not in chosen]
        self.selected = tuple(dict.fromkeys(chosen))
        return self.selected

    def _unknown(self, ids: list[Any]) -> list[Any]:
        """The ids that are not rows one can select (matching / fetched so far)."""
        if self._source.live:
            known = set() if self._seen is None else set(self._seen.index.tolist())
            return [pk for pk in ids if pk not in known]
        if not ids:
            return []
        try:
            matching = self._matching(ids)
        except TypeError:  # ids the index cannot even look up
            return ids
        return [pk for pk, ok in zip(ids, matching, strict=True) if not ok]

    @observe("selected")
    def _observe_selected(self, change: Mapping[str, Any]) -> None:
        if not self._ready:
            return
        chosen = set(change["new"])
        with self._hold_view():
            self.table.mark(chosen)
            self.page_check.value = bool(self._row_ids) and all(
                pk in chosen for pk in self._row_ids
            )
        self._render_labels()
        self._select_callbacks(tuple(change["new"]))

    def on_select(self, callback: Callable[[tuple[Any, ...]], Any], remove: bool = False) -> None:
        """Call ``callback(ids)`` whenever the selection changes.

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> panel.on_select(lambda ids: print(len(ids), "selected"))
            >>> ids = panel.select([1, 3])
            2 selected
        """
        checked = check_callback(callback, "FilterPanel.on_select")
        self._select_callbacks.register_callback(checked, remove=remove)

    @property
    def selected_frame(self) -> pd.DataFrame:
        """The selected rows as a frame (a copy, in selection order).

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> ids = panel.select([5, 3])
            >>> panel.selected_frame.index.tolist()
            [5, 3]
        """
        base = self._seen if self.frame is None else self.frame
        if base is None:
            base = self.value if self.value is not None else pd.DataFrame()
            return base.iloc[0:0].copy()
        if not self.selected:
            return base.iloc[0:0].copy()
        index = pd.Index(list(self.selected))
        index = index[index.isin(base.index)]
        return base.loc[index].copy()

    # ------------------------------------------------------------------ data changes
    def fetch_all(self) -> pd.DataFrame:
        """Every row that matches (live mode: ``list_all=True`` with the filters as params).

        Example:
            >>> panel = FilterPanel(client=client, params={"project": 1}, page_size=10).load()
            >>> len(panel.value)
            10
            >>> everything = panel.fetch_all()
            >>> len(everything) == panel.count
            True
        """
        if self._live_source is None:
            return self.value
        return self._live_source.fetch_all(self._criteria, self.sort_by, self.ascending)

    def reload(self) -> None:
        """Live mode: fetch the current page again. Frame mode: redraw.

        Example:
            >>> panel = FilterPanel(client=client, params={"project": 1}).load()
            >>> panel.reload()
            >>> panel.error
            ''
        """
        self._update()

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Live mode: new base query params (e.g. another project); reloads the options.

        Example:
            >>> panel = FilterPanel(client=client, params={"project": 1}).load()
            >>> panel.set_params({"project": 2})
            >>> panel.value["project"].unique().tolist()
            [2]
        """
        if self._live_source is None:
            raise InvalidInputError(
                "params", params, "only live panels have params", method="set_params"
            )
        if not isinstance(params, Mapping):
            raise InvalidInputError("params", params, "must be a dict", method="set_params")
        self._live_source.params = dict(params)
        self._seen = None
        self.selected = ()
        with self._hold_view():
            self.page = 1
        if self._loaded:
            self.load()

    @property
    def params(self) -> dict[str, Any]:
        """Live mode: the base query params plus the filters, as sent (no paging).

        Example:
            >>> panel = FilterPanel(client=client, params={"project": 1}).load()
            >>> rows = panel.filter(status="completed")
            >>> panel.params
            {'project': 1, 'status': 'completed'}
        """
        if self._live_source is None:
            return {}
        return self._live_source.to_params(self._criteria)

    def set_frame(self, frame: pd.DataFrame) -> None:
        """Frame mode: filter another frame (the filters stay as far as they still apply).

        Example:
            >>> panel = FilterPanel(client.list_tasks({"project": 1}, list_all=True))
            >>> panel.set_frame(client.list_tasks({"project": 2}, list_all=True))
            >>> panel.value["project"].unique().tolist()
            [2]
        """
        if self._source.live:
            raise InvalidInputError(
                "frame", "<frame>", "live panels list from the server", method="set_frame"
            )
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(
                "frame", type(frame).__name__, "must be a DataFrame", method="set_frame"
            )
        self._source = FrameSource(frame)
        self._refresh_options()
        self._update()

    def update_rows(self, rows: pd.DataFrame, synced: bool = True) -> None:
        """Patch rows changed elsewhere (e.g. by the TagEditor) into the panel and redraw.

        Frame mode copies the columns ``rows`` shares with the frame into it (by id); live
        mode keeps the rows and re-fetches the current page.

        Args:
            rows: The changed rows (indexed by id).
            synced: The rows hold what the server has now (as after a tag change): the
                frame's snapshot is updated too, so ``diff()``/``push()`` do not mistake
                them for unpushed edits.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> panel = FilterPanel(tasks)
            >>> changed = tasks.loc[[1]].assign(priority="high")
            >>> panel.update_rows(changed, synced=False)
            >>> panel.value.loc[1, "priority"]
            'high'
        """
        source = self._frame_source
        if source is None:
            self._remember(rows)
            self._update()
            return
        present, shared = source.patch(rows)
        if len(present) == 0:
            return
        if synced:
            self._sync_snapshot(rows.loc[present, shared])
        self._refresh_options()
        self._update()

    def _sync_snapshot(self, rows: pd.DataFrame) -> None:
        """Record ``rows``' writable values as the server's in the frame's snapshot."""
        client = self._tag_client()
        sid = snapshot_id(self.frame) if self.frame is not None else None
        if client is None or sid is None or self.kind not in SCHEMAS:
            return
        writable = [c for c in SCHEMAS[self.kind].writable if c in rows.columns]
        values = {
            (pk, column): normalize_value(column, value)
            for column in writable
            for pk, value in zip(rows.index.tolist(), rows[column].tolist(), strict=True)
        }
        if values:
            client.snapshots.update(sid, values)
