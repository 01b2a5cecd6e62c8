"""The dataset-health facets of a :class:`~.filter.FilterPanel` (``df.synapse.health()`` frames).

A frame that went through ``df.synapse.health()`` carries ``image_issues`` and
``annotation_issues`` list columns and ``<issue>_score`` columns. The panel then shows a third
row of controls:

- **issue** — a dropdown of the issues present (with their row counts): rows with that issue
  (image or annotation level);
- **score** — a score column and a range slider: rows whose score lies in the range (rows
  without a score never match).

Example:
    >>> frame = pd.DataFrame({"image_issues": [["dark"], []], "annotation_issues": [[], []],
    ...                       "dark_score": [0.1, 0.7]}, index=pd.Index([1, 2], name="id"))
    >>> issue_options(frame)
    [('dark (1)', 'dark')]
    >>> issue_mask(frame, "dark").tolist(), score_mask(frame, ("dark_score", 0, 0.5)).tolist()
    ([True, False], [True, False])
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
from traitlets import Tuple, observe

from synapse_nb.exceptions import InvalidInputError

__all__ = [
    "ISSUE_COLUMNS",
    "ScoreRange",
    "has_issues",
    "issue_dropdown",
    "issue_mask",
    "issue_options",
    "score_columns",
    "score_mask",
    "score_range",
]

#: List columns of issue names that ``df.synapse.health()`` adds to a frame.
ISSUE_COLUMNS = ("image_issues", "annotation_issues")


def _lists(frame: pd.DataFrame, column: str) -> list[Any]:
    if column not in frame.columns:
        return [()] * len(frame)
    return [v if isinstance(v, list | tuple | np.ndarray) else () for v in frame[column]]


def has_issues(frame: pd.DataFrame) -> bool:
    """True when the frame has the issue columns of ``df.synapse.health()``.

    Example:
        >>> has_issues(pd.DataFrame({"image_issues": [[]]}))
        True
    """
    return any(c in frame.columns for c in ISSUE_COLUMNS)


def issue_options(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """``(label with row count, issue)`` for every issue present in the frame, by name.

    Example:
        >>> issue_options(pd.DataFrame({"annotation_issues": [["tiny"], ["tiny", "outside"]]}))
        [('outside (1)', 'outside'), ('tiny (2)', 'tiny')]
    """
    counts: Counter[str] = Counter()
    for row in zip(*[_lists(frame, c) for c in ISSUE_COLUMNS], strict=True):
        counts.update({str(issue) for issues in row for issue in issues})
    return [(f"{issue} ({n:,})", issue) for issue, n in sorted(counts.items())]


def issue_mask(frame: pd.DataFrame, issue: str) -> np.ndarray:
    """Rows with ``issue`` among their image or annotation issues.

    Example:
        >>> issue_mask(pd.DataFrame({"image_issues": [["dark"], []]}), "dark").tolist()
        [True, False]
    """
    mask = np.zeros(len(frame), dtype=bool)
    for column in ISSUE_COLUMNS:
        mask |= np.fromiter((issue in v for v in _lists(frame, column)), dtype=bool,
                            count=len(frame))
    return mask


def score_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric ``*_score`` columns of the frame, in frame order.

    Example:
        >>> score_columns(pd.DataFrame({"dark_score": [0.5], "note_score": ["x"]}))
        ['dark_score']
    """
    return [str(c) for c in frame.columns
            if str(c).endswith("_score") and pd.api.types.is_numeric_dtype(frame[c])]


def score_mask(frame: pd.DataFrame, key: tuple[str, float, float]) -> np.ndarray:
    """Rows whose score column lies within ``[low, high]`` (no score: no match).

    Example:
        >>> f = pd.DataFrame({"blurry_score": pd.array([5.0, None, 90.0], dtype="Float64")})
        >>> score_mask(f, ("blurry_score", 0, 40)).tolist()
        [True, False, False]
    """
    column, low, high = key
    values = frame[column].astype("Float64")
    return ((values >= low) & (values <= high)).to_numpy(dtype=bool, na_value=False)


def score_range(frame: pd.DataFrame, column: str) -> tuple[float, float]:
    """The smallest and largest score of a column (0, 1 when it has none).

    Example:
        >>> score_range(pd.DataFrame({"s": [0.25, 3.0]}), "s")
        (0.25, 3.0)
    """
    values = frame[column].astype("Float64").dropna()
    if values.empty:
        return 0.0, 1.0
    return float(values.min()), float(values.max())


class ScoreRange(widgets.HBox):
    """A score column dropdown and a range slider; ``value`` is ``(column, low, high)`` or ``()``.

    Example:
        >>> frame = pd.DataFrame({"dark_score": [0.1, 0.7]})
        >>> control = ScoreRange(frame)
        >>> control.value = ("dark_score", 0.0, 0.5)
        >>> control.column.value, control.slider.value
        ('dark_score', (0.0, 0.5))
    """

    value = Tuple(help="(score column, low, high), or () for no score filter")

    def __init__(self, frame: pd.DataFrame, any_value: str = "\x00any") -> None:
        self._frame = frame
        self._ranges: dict[str, tuple[float, float]] = {}  # a scan of 1M scores costs
        self._any = any_value
        self._syncing = False
        self.column = widgets.Dropdown(
            description="score", options=[("any", any_value), *[(c, c) for c in
                                                                  score_columns(frame)]],
            layout=widgets.Layout(width="auto", min_width="200px"),
            style={"description_width": "initial"})
        self.slider = widgets.FloatRangeSlider(
            value=(0.0, 1.0), min=0.0, max=1.0, step=0.01, disabled=True, readout_format=".3g",
            continuous_update=False, layout=widgets.Layout(width="320px"))
        self.column.add_class("snb-score-filter")
        self.slider.add_class("snb-score-range")
        self.column.observe(self._on_column, "value")
        self.slider.observe(self._on_slider, "value")
        super().__init__([self.column, self.slider],
                         layout=widgets.Layout(align_items="center", flex_flow="row wrap"))

    def _on_column(self, change: Mapping[str, Any]) -> None:
        if self._syncing:
            return
        column = change["new"]
        self.value = () if column == self._any else (column, *self._range(column))

    def _on_slider(self, change: Mapping[str, Any]) -> None:
        if self._syncing or self.column.value == self._any:
            return
        low, high = change["new"]
        self.value = (self.column.value, float(low), float(high))

    @observe("value")
    def _show(self, change: Mapping[str, Any]) -> None:
        value = change["new"]
        self._syncing = True
        try:
            if not value:
                self.column.value = self._any
                self.slider.disabled = True
                return
            column, low, high = value
            self.column.value = column
            lowest, highest = self._range(column)
            lowest, highest = min(lowest, low), max(highest, high)
            self.slider.max = max(highest, self.slider.min)
            self.slider.min = lowest
            self.slider.max = highest
            span = highest - lowest
            self.slider.step = span / 200 if span > 0 else 0.01
            self.slider.value = (low, high)
            self.slider.disabled = False
        finally:
            self._syncing = False

    def _range(self, column: str) -> tuple[float, float]:
        """The column's score range, read from the frame once."""
        if column not in self._ranges:
            self._ranges[column] = score_range(self._frame, column)
        return self._ranges[column]

    def check(self, value: Any) -> tuple[Any, ...]:
        """``value`` as a valid ``(column, low, high)`` or ``()``; raises otherwise."""
        if value is None or value == () or value == []:
            return ()
        offered = score_columns(self._frame)
        if not isinstance(value, list | tuple) or len(value) != 3 or value[0] not in offered:
            raise InvalidInputError("score", value, f"must be (column, low, high) with a column "
                                    f"among {offered}", method="filter")
        column, low, high = value
        numbers = [v for v in (low, high) if isinstance(v, int | float)
                   and not isinstance(v, bool) and math.isfinite(v)]
        if len(numbers) != 2 or low > high:
            raise InvalidInputError("score", value, "low and high must be numbers, low <= high",
                                    method="filter")
        return (column, float(low), float(high))


def issue_dropdown(on_change: Callable[[Mapping[str, Any]], None], any_value: str
                   ) -> widgets.Dropdown:
    """The issue facet's dropdown (its options are set by the panel).

    Example:
        >>> issue_dropdown(lambda change: None, "any").description
        'issue'
    """
    dropdown = widgets.Dropdown(description="issue", options=[("any", any_value)],
                                layout=widgets.Layout(width="auto", min_width="200px"),
                                style={"description_width": "initial"})
    dropdown.add_class("snb-issue-filter")
    dropdown.observe(on_change, "value")
    return dropdown
