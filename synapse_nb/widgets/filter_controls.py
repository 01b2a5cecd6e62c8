"""The filter controls of a :class:`~.filter.FilterPanel`: one widget per facet.

:class:`FilterControls` builds the dropdowns, the tag input, the date pickers and the
search box, offers the options a row source reports, reads the controls as a
:class:`~.filter_sources.Criteria` and checks values given from Python before they are set.

Example:
    >>> controls = FilterControls(dict.fromkeys(FACETS, True), lambda change: None)
    >>> controls.set_options({"status": [("done (2)", "done")]})
    >>> controls.check({"status": "done"})
    {'status': 'done'}
    >>> controls.widget("status").value = "done"
    >>> controls.read().active()
    {'status': 'done'}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.widgets import filter_health
from synapse_nb.widgets.filter_sources import Criteria

__all__ = ["ANY", "FACETS", "FilterControls"]

#: value of the "any" option of the dropdowns (a Dropdown cannot select the value None)
ANY = "\x00any"
#: the facets a row source reports capabilities for
FACETS = ("status", "assignee", "tags", "class_name", "created", "search", "issue", "score")
_DROPDOWNS = ("status", "assignee", "class_name", "issue")


def _chosen(value: Any) -> Any:
    """A dropdown's value as a criterion (None for "any")."""
    return None if value == ANY else value


def _wide() -> widgets.Layout:
    # as wide as the longest option (never cut), at least 200 px
    return widgets.Layout(width="auto", min_width="200px")


class FilterControls:
    """The filter widgets, their options and their values.

    Args:
        capabilities: Facet -> whether the row source can filter on it (others disabled).
        on_change: Observer of every control's ``value``.
        frame: The frame of a frame-mode panel (the health score ranges are read from it).
    """

    def __init__(
        self, capabilities: Mapping[str, bool], on_change: Callable[[Mapping[str, Any]], None],
        frame: pd.DataFrame | None = None,
    ) -> None:
        style = {"description_width": "initial"}  # the label's own width: never cut
        self.status_filter = widgets.Dropdown(
            description="status", options=[("any", ANY)], layout=_wide(), style=style
        )
        self.assignee_filter = widgets.Dropdown(
            description="assignee", options=[("any", ANY)], layout=_wide(), style=style
        )
        self.class_filter = widgets.Dropdown(
            description="class", options=[("any", ANY)], layout=_wide(), style=style
        )
        self.tags_filter = widgets.TagsInput(
            value=[], allowed_tags=[], allow_duplicates=False, placeholder="tags (any of)",
            layout=widgets.Layout(min_width="200px"), tooltip="rows with any of these tags",
        )  # fmt: skip
        self.created_from = widgets.DatePicker(description="created", layout=_wide(), style=style)
        self.created_to = widgets.DatePicker(
            description="to",
            layout=widgets.Layout(width="170px"),
            style={"description_width": "20px"},
        )
        self.search_box = widgets.Text(
            placeholder="search file, assignee, id…", continuous_update=False,
            layout=widgets.Layout(width="230px"),
        )  # fmt: skip
        self.reset_button = widgets.Button(
            description="Reset", icon="times", layout=widgets.Layout(width="80px")
        )
        # dataset-health facets: shown only for frames from df.synapse.health()
        self.health = bool(capabilities.get("issue") or capabilities.get("score"))
        self.issue_filter = filter_health.issue_dropdown(on_change, ANY)
        self.issue_filter.disabled = not capabilities.get("issue", False)
        self.score_filter = filter_health.ScoreRange(
            frame if frame is not None and capabilities.get("score") else pd.DataFrame(), ANY)
        self.score_filter.observe(on_change, "value")
        for name in ("status", "assignee", "class_name", "created_from", "created_to", "search"):
            facet = "created" if name.startswith("created") else name
            control = self.widget(name)
            control.disabled = not capabilities[facet]
            control.observe(on_change, "value")
        self.tags_filter.observe(on_change, "value")
        if not capabilities["class_name"]:
            self.class_filter.tooltip = "class filtering needs the annotations: frame mode only"
        for widget, css in (
            (self.status_filter, "snb-status-filter"),
            (self.assignee_filter, "snb-assignee-filter"),
            (self.class_filter, "snb-class-filter"),
            (self.tags_filter, "snb-tags-filter"),
            (self.search_box, "snb-search"),
        ):
            widget.add_class(css)

    def rows(self) -> list[widgets.Widget]:
        """The rows of controls (a third one for health frames), each wrapping."""
        label = widgets.Label("tags", layout=widgets.Layout(margin="0 4px 0 12px"))
        health = [widgets.HBox([self.issue_filter, self.score_filter],
                               layout=widgets.Layout(flex_flow="row wrap",
                                                     align_items="center"))]
        return [
            widgets.HBox([self.status_filter, self.assignee_filter, self.class_filter, label,
                          self.tags_filter],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            widgets.HBox([self.created_from, self.created_to, self.search_box, self.reset_button],
                         layout=widgets.Layout(flex_flow="row wrap")),
            *(health if self.health else []),
        ]  # fmt: skip

    def widget(self, name: str) -> widgets.Widget:
        """The control of a :class:`~.filter_sources.Criteria` field."""
        return {
            "status": self.status_filter,
            "assignee": self.assignee_filter,
            "tags": self.tags_filter,
            "class_name": self.class_filter,
            "created_from": self.created_from,
            "created_to": self.created_to,
            "search": self.search_box,
            "issue": self.issue_filter,
            "score": self.score_filter,
        }[name]

    def read(self) -> Criteria:
        """The controls' values as criteria."""
        return Criteria(
            status=_chosen(self.status_filter.value),
            assignee=_chosen(self.assignee_filter.value),
            tags=tuple(self.tags_filter.value),
            class_name=_chosen(self.class_filter.value),
            created_from=self.created_from.value,
            created_to=self.created_to.value,
            search=self.search_box.value or "",
            issue=_chosen(self.issue_filter.value),
            score=tuple(self.score_filter.value),
        )

    def set_options(self, options: Mapping[str, list[tuple[str, Any]]]) -> None:
        """Offer ``options`` (facet -> (label, value) pairs); values no longer offered reset."""
        for facet in _DROPDOWNS:
            control = self.widget(facet)
            current = control.value
            choices = [("any", ANY), *options.get(facet, [])]
            control.options = choices
            control.value = current if current in [v for _l, v in choices] else ANY
        tags = [str(v) for _label, v in options.get("tags", [])]
        self.tags_filter.allowed_tags = tags
        self.tags_filter.value = [t for t in self.tags_filter.value if t in tags]

    def clear(self) -> None:
        """Every control back to "no filter"."""
        for name in _DROPDOWNS:
            self.widget(name).value = ANY
        self.created_from.value = None
        self.created_to.value = None
        self.tags_filter.value = []
        self.search_box.value = ""
        self.score_filter.value = ()

    def check(self, criteria: Mapping[str, Any]) -> dict[str, Any]:
        """``criteria`` as control values; raises on a value the controls do not offer."""
        out = {name: self._check_one(name, value) for name, value in criteria.items()}
        start = out.get("created_from", self.created_from.value)
        end = out.get("created_to", self.created_to.value)
        if start is not None and end is not None and start > end:
            raise InvalidInputError(
                "created_to", end, f"is before created_from={start}", method="filter"
            )
        return out

    def _check_one(self, name: str, value: Any) -> Any:
        control = self.widget(name)
        if name in _DROPDOWNS:
            offered = [v for _label, v in control.options]
            value = ANY if value is None else value
            if value not in offered:
                labels = [v for v in offered if v != ANY]
                raise InvalidInputError(
                    name, value, f"is not offered; one of {labels}", method="filter"
                )
        elif name == "tags":
            value = [] if value is None else [value] if isinstance(value, str) else list(value)
            unknown = [t for t in value if t not in control.allowed_tags]
            if unknown:
                raise InvalidInputError(
                    "tags", unknown, f"not offered; one of {list(control.allowed_tags)}",
                    method="filter",
                )  # fmt: skip
        elif name.startswith("created"):
            value = _date(name, value)
        elif name == "score":
            value = self.score_filter.check(value)
        elif name == "search":
            value = "" if value is None else value
            if not isinstance(value, str):
                raise InvalidInputError("search", value, "must be text", method="filter")
        return value


def _date(name: str, value: Any) -> dt.date | None:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(
                name, value, "must be a date (YYYY-MM-DD)", method="filter"
            ) from None
    if isinstance(value, dt.datetime):
        value = value.date()
    if value is not None and not isinstance(value, dt.date):
        raise InvalidInputError(name, value, "must be a date", method="filter")
    return value
