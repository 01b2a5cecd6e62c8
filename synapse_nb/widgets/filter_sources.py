"""Filter state -> rows: the two row sources of a :class:`~.filter.FilterPanel`.

- :class:`FrameSource` filters an in-memory frame with numpy masks over column codes built
  once (:mod:`~.filter_index`; each facet's mask and each sort order is computed once and
  cached, and a narrow filter sorts only its matches);
- :class:`LiveSource` turns the filters into the server's query params and fetches one page.

Both answer :meth:`~RowSource.query` with a :class:`Result` (the visible page, the match
count, the panel's value). They know nothing of widgets.

Example:
    >>> frame = pd.DataFrame({"status": ["a", "b", "a"]}, index=pd.Index([1, 2, 3], name="id"))
    >>> result = FrameSource(frame).query(Criteria(status="a"), "id", True, 1, 10)
    >>> result.count, result.rows.index.tolist()
    (2, [1, 3])
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synapse_nb.exceptions import NotFoundError
from synapse_nb.frames.client import Client
from synapse_nb.widgets import filter_health
from synapse_nb.widgets.filter_index import (
    Codes,
    ListCodes,
    TextIndex,
    arrow_data,
    bool_mask,
    is_list,
    is_text,
    merge_lists,
)

__all__ = [
    "LIVE_KINDS",
    "UNASSIGNED",
    "Criteria",
    "FrameSource",
    "LiveSource",
    "Result",
    "RowSource",
    "clamp_page",
    "patched",
    "resolved",
]

#: value of the assignee filter that matches rows without an assignee
UNASSIGNED = "(unassigned)"
_MASK_CACHE = 64
#: sort only the matches when they are at most 1/_SUBSET_SORT of the rows (no cached order)
_SUBSET_SORT = 8
#: keys sampled for the cut of :meth:`FrameSource.first_positions`
_CUT_SAMPLE = 4096
#: Most ids in one ``id__in`` value: a longer query string is refused by HTTP servers, so a
#: longer id filter is asked in chunks and paged here (see :meth:`LiveSource.query`).
ID_CHUNK = 500


@dataclass(frozen=True)
class _LiveSpec:
    status: str  # query param of the status filter
    assignee: str  # query param of the assignee filter
    search: bool  # the server searches this resource
    unassigned: bool  # the server understands assignee=null
    ordering: tuple[str, ...]  # columns the server sorts by


LIVE_KINDS: dict[str, _LiveSpec] = {
    "task": _LiveSpec("status", "assignee", True, True,
                      ("id", "created", "modified", "status", "priority")),
    "assignment": _LiveSpec("status_label", "users", False, False,
                            ("id", "created", "modified")),
}  # fmt: skip

_STATUS_COLUMNS = ("status", "status_label", "version")


@dataclass(frozen=True)
class Criteria:
    """The filter state of a :class:`~.filter.FilterPanel` (empty fields do not filter).

    Attributes:
        status: One status (``status`` of tasks, ``status_label`` of assignments, ``version``
            of ground-truth events).
        assignee: An assignee name (frame mode) or user id (live mode), or
            :data:`UNASSIGNED`.
        tags: Tag names; a row matches when it has any of them.
        class_name: A class label present in the row's annotations (frame mode only).
        created_from: First day (UTC) of the ``created`` range, inclusive.
        created_to: Last day (UTC) of the ``created`` range, inclusive.
        search: Case-insensitive text in the file name, assignee or other text columns (or
            an id); the server's ``search`` in live mode.
        issue: A dataset-health issue of the row's image or annotations (frames from
            ``df.synapse.health()`` only).
        score: ``(score column, low, high)``: rows whose health score lies in the range.
        ids: Row ids (sorted, distinct): only these rows (set by ``filter_ids``; the task
            listing's ``id__in`` in live mode).

    Example:
        >>> Criteria(status="completed").active()
        {'status': 'completed'}
    """

    status: str | None = None
    assignee: Any = None
    tags: tuple[str, ...] = ()
    class_name: str | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    search: str = ""
    issue: str | None = None
    score: tuple[Any, ...] = ()
    ids: tuple[int, ...] = ()

    def active(self) -> dict[str, Any]:
        """The fields that filter, as a dict.

        Example:
            >>> Criteria(tags=("blurry",), search="").active()
            {'tags': ('blurry',)}
        """
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class Result:
    """One answer of a row source: the visible page and what the panel shows."""

    rows: pd.DataFrame  # the visible page
    count: int  # rows that match
    value: pd.DataFrame | None  # what .value becomes (frame mode: None = take it when asked)
    page: int  # the page shown (clamped)
    #: frame mode: positions of the matches, in order (or what computes them, when the page
    #: was found without ordering every row; see :func:`resolved`)
    positions: np.ndarray | Callable[[], np.ndarray] | None = None
    mask: np.ndarray | None = None  # frame mode: the matching rows (None = every row)


def _utc(day: dt.date, end: bool) -> pd.Timestamp:
    stamp = pd.Timestamp(day.isoformat(), tz="UTC")
    return stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1) if end else stamp


def _ticks(stamp: pd.Timestamp, unit: str) -> int:
    """``stamp`` as an integer count of ``unit`` since the epoch (a column's ``asi8``)."""
    return int(stamp.as_unit(unit).asm8.view("i8"))


@overload
def resolved(positions: None) -> None: ...
@overload
def resolved(positions: np.ndarray | Callable[[], np.ndarray]) -> np.ndarray: ...
def resolved(positions: np.ndarray | Callable[[], np.ndarray] | None) -> np.ndarray | None:
    """:attr:`Result.positions` as an array (computed now when it was left for later).

    Example:
        >>> resolved(lambda: np.arange(3)).tolist(), resolved(None)
        ([0, 1, 2], None)
    """
    return positions() if callable(positions) else positions


def clamp_page(page: int, count: int, page_size: int) -> int:
    """``page`` moved into the pages that ``count`` rows fill.

    Example:
        >>> clamp_page(9, 45, 20), clamp_page(0, 45, 20)
        (3, 1)
    """
    pages = max(1, math.ceil(count / page_size))
    return min(max(1, page), pages)


def _patched_slowly(series: pd.Series, positions: np.ndarray, values: list[Any]) -> pd.Series:
    """``series`` with ``values`` at ``positions``, rebuilt from Python objects (any dtype:
    a value the dtype cannot hold becomes what ``pd.Series(..., dtype=)`` makes of it)."""
    items = series.tolist()
    for position, value in zip(positions.tolist(), values, strict=True):
        items[position] = value
    if series.dtype == np.dtype(object):
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return pd.Series(array, index=series.index, dtype=object)
    return pd.Series(items, index=series.index, dtype=series.dtype)


#: an Arrow column patched by slices keeps at most this many chunks (then one take merges them)
_MAX_CHUNKS = 64


def _spliced(array: pa.ChunkedArray, positions: np.ndarray, values: list[Any]) -> pa.ChunkedArray:
    """``array`` with ``values`` at ``positions``: a few rows are spliced in between zero-copy
    slices of the old chunks; many rows (or repeated positions) are taken in one pass."""
    new = pa.array(values, type=array.type, from_pandas=True)
    order = np.argsort(positions, kind="stable")
    spots = positions[order]
    distinct = bool(len(spots) < 2 or np.all(np.diff(spots) > 0))
    if distinct and array.num_chunks + 2 * len(spots) + 1 <= _MAX_CHUNKS:
        pieces: list[pa.Array] = []
        start = 0
        for j, spot in zip(order.tolist(), spots.tolist(), strict=True):
            pieces += array.slice(start, spot - start).chunks
            pieces.append(new.slice(j, 1))
            start = spot + 1
        pieces += array.slice(start).chunks
        return pa.chunked_array([p for p in pieces if len(p)], type=array.type)
    merged = pa.chunked_array([*array.chunks, new], type=array.type)
    take = np.arange(len(array))
    take[positions] = len(array) + np.arange(len(values))
    return merged.take(pa.array(take))


def patched(series: pd.Series, positions: np.ndarray, values: list[Any]) -> pd.Series:
    """A copy of ``series`` with ``values`` at ``positions`` (same dtype), without turning a
    million rows into Python objects: object columns copy pointers, Arrow columns take
    from the old chunks plus the new values, other arrays are set in a copy.

    Example:
        >>> s = pd.Series(pd.array(["a", "b", "c"], dtype="string[pyarrow]"))
        >>> patched(s, np.array([2, 0]), ["z", None]).tolist()
        [<NA>, 'b', 'z']
    """
    try:
        if series.dtype == np.dtype(object):
            out = series.to_numpy(copy=True)
            items = np.empty(len(values), dtype=object)
            items[:] = values
            out[positions] = items
            return pd.Series(out, index=series.index, dtype=object)
        array = arrow_data(series)
        if array is not None:
            merged = _spliced(array, positions, values)
            out = pd.Series(type(series.array)(merged), index=series.index)
        else:
            copy = series.array.copy()
            copy[positions] = values
            out = pd.Series(copy, index=series.index)
        if out.dtype != series.dtype:
            raise TypeError(f"{out.dtype} is not {series.dtype}")
        return out
    except (TypeError, ValueError, pa.ArrowException):  # values the dtype cannot hold as is
        return _patched_slowly(series, positions, values)


class RowSource(Protocol):
    """What the panel asks of a row source, in either mode."""

    @property
    def live(self) -> bool: ...
    @property
    def kind(self) -> str | None: ...

    def capabilities(self) -> dict[str, bool]: ...
    def options(self) -> dict[str, list[tuple[str, Any]]]: ...
    def sortable(self) -> list[str]: ...
    def query(
        self, criteria: Criteria, sort_by: str, ascending: bool, page: int, page_size: int
    ) -> Result: ...


def _cut_picks(n: int) -> np.ndarray:
    """The rows whose keys place the cut of :meth:`FrameSource.first_positions` (the same
    ones every time: the sample decides only how fast, never what is found)."""
    return np.random.default_rng(0).integers(0, n, size=min(n, _CUT_SAMPLE))


class FrameSource:
    """Criteria -> rows of an in-memory frame, through column codes built once.

    Each facet column is encoded once (:mod:`~.filter_index`); a facet's mask is computed
    from the codes on first use and cached; masks are combined with ``&``; the rows of the
    page are the only rows taken from the frame (the matching frame, ``.value``, is taken
    only when asked for).
    """

    live = False

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.kind = frame.attrs.get("synapse", {}).get("kind") if frame.attrs else None
        self.status_column = next((c for c in _STATUS_COLUMNS if c in frame.columns), None)
        self._ids = frame.index.to_numpy()
        #: ids ascending and distinct: the frame's own order is the id order
        self._by_id = bool(frame.index.is_monotonic_increasing and frame.index.is_unique)
        self._masks: dict[tuple[str, Any], np.ndarray] = {}
        self._orders: dict[tuple[str, bool], np.ndarray] = {}
        self._codes: dict[str, Codes] = {}
        self._lists: dict[str, ListCodes] = {}
        self._scores: dict[str, np.ndarray] = {}
        self._sortable_columns: list[str] | None = None
        search = [c for c in ("file_name", "assignee_name", "name", "description", "action",
                              "plugin") if c in frame.columns]  # fmt: skip
        self._text = TextIndex(frame, search, self._codes)
        if "assignee_name" in frame.columns:  # few names: searched through its codes
            self._column_codes("assignee_name")

    # --- column indexes
    def _column_codes(self, column: str) -> Codes:
        codes = self._codes.get(column)
        if codes is None:
            codes = self._codes[column] = Codes.of(self.frame[column])
        return codes

    def _list_codes(self, column: str) -> ListCodes:
        codes = self._lists.get(column)
        if codes is None:
            codes = self._lists[column] = ListCodes.of(self.frame[column])
        return codes

    def _issue_codes(self) -> ListCodes:
        codes = self._lists.get("\x00issues")
        if codes is None:
            parts = [self._list_codes(c) for c in filter_health.ISSUE_COLUMNS
                     if c in self.frame.columns]  # fmt: skip
            codes = self._lists["\x00issues"] = merge_lists(parts)
        return codes

    def _score(self, column: str) -> np.ndarray:
        values = self._scores.get(column)
        if values is None:
            values = self._scores[column] = self.frame[column].to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        return values

    # --- facets
    def capabilities(self) -> dict[str, bool]:
        columns = self.frame.columns
        return {
            "status": self.status_column is not None,
            "assignee": "assignee_name" in columns,
            "tags": "tag_names" in columns,
            "class_name": "classes" in columns,
            "created": "created" in columns,
            "search": True,
            "issue": filter_health.has_issues(self.frame),
            "score": bool(filter_health.score_columns(self.frame)),
        }

    def options(self) -> dict[str, list[tuple[str, Any]]]:
        out: dict[str, list[tuple[str, Any]]] = {}
        if self.status_column:
            codes = self._column_codes(self.status_column)
            counted = zip(codes.values, codes.counts().tolist(), strict=True)
            out["status"] = [(f"{k} ({n:,})", str(k)) for k, n in counted if n]
        if "assignee_name" in self.frame.columns:
            codes = self._column_codes("assignee_name")
            named = sorted(
                (k, n) for k, n in zip(codes.values, codes.counts().tolist(), strict=True) if n
            )
            out["assignee"] = [(f"{k} ({n:,})", str(k)) for k, n in named]
            missing = int(codes.missing().sum())
            if missing:
                out["assignee"].append((f"{UNASSIGNED} ({missing:,})", UNASSIGNED))
        for facet, column in (("tags", "tag_names"), ("class_name", "classes")):
            if column in self.frame.columns:
                items = self._list_codes(column)
                pairs = sorted(
                    (k, n) for k, n in zip(items.values, items.counts().tolist(), strict=True)
                    if k and n
                )
                out[facet] = [(f"{k} ({n:,})", k) for k, n in pairs]
        if filter_health.has_issues(self.frame):
            issues = self._issue_codes()
            pairs = sorted(
                (str(k), n)
                for k, n in zip(issues.values, issues.row_counts().tolist(), strict=True) if n
            )
            out["issue"] = [(f"{k} ({n:,})", k) for k, n in pairs]
        return out

    def _created(self, key: tuple[dt.date | None, dt.date | None]) -> np.ndarray:
        start, end = key
        created = self.frame["created"]
        if isinstance(created.dtype, pd.DatetimeTZDtype):  # as integers: no Timestamp per row
            unit = created.dtype.unit
            stamps = created.array.asi8
            mask = ~created.isna().to_numpy()
            if start is not None:
                mask &= stamps >= _ticks(_utc(start, end=False), unit)
            if end is not None:
                mask &= stamps <= _ticks(_utc(end, end=True), unit)
            return mask
        mask = np.ones(len(self.frame), dtype=bool)
        if start is not None:
            mask &= bool_mask(created >= _utc(start, end=False))
        if end is not None:
            mask &= bool_mask(created <= _utc(end, end=True))
        return mask

    def _facet_mask(self, facet: str, key: Any) -> np.ndarray:
        cached = self._masks.get((facet, key))
        if cached is not None:
            return cached
        if facet == "status":
            mask = self._column_codes(str(self.status_column)).mask(key)
        elif facet == "assignee":
            codes = self._column_codes("assignee_name")
            mask = codes.missing() if key == UNASSIGNED else codes.mask(key)
        elif facet == "tags":
            mask = self._list_codes("tag_names").any_of(key)
        elif facet == "class_name":
            mask = self._list_codes("classes").any_of([key])
        elif facet == "created":
            mask = self._created(key)
        elif facet == "search":
            mask = self._search(key)
        elif facet == "issue":
            mask = self._issue_codes().any_of([key])
        elif facet == "score":
            column, low, high = key
            values = self._score(column)
            mask = (values >= low) & (values <= high)  # NaN (no score) never matches
        elif facet == "ids":
            mask = np.isin(self._ids, np.asarray(key, dtype=np.int64))
        else:  # pragma: no cover - facets are fixed
            raise KeyError(facet)
        if len(self._masks) >= _MASK_CACHE:
            self._masks.clear()
        self._masks[(facet, key)] = mask
        return mask

    def _search(self, term: str) -> np.ndarray:
        mask = self._text.search(term)
        if term.strip().lstrip("#").isdigit():
            with contextlib.suppress(TypeError, ValueError):
                mask |= self._ids == int(term.strip().lstrip("#"))
        return mask

    def mask(self, criteria: Criteria) -> np.ndarray | None:
        parts = []
        if criteria.status is not None:
            parts.append(self._facet_mask("status", criteria.status))
        if criteria.assignee is not None:
            parts.append(self._facet_mask("assignee", criteria.assignee))
        if criteria.tags:
            parts.append(self._facet_mask("tags", tuple(sorted(criteria.tags))))
        if criteria.class_name is not None:
            parts.append(self._facet_mask("class_name", criteria.class_name))
        if criteria.created_from is not None or criteria.created_to is not None:
            parts.append(self._facet_mask("created", (criteria.created_from, criteria.created_to)))
        if criteria.search.strip():
            parts.append(self._facet_mask("search", criteria.search.strip()))
        if criteria.issue is not None:
            parts.append(self._facet_mask("issue", criteria.issue))
        if criteria.score:
            parts.append(self._facet_mask("score", tuple(criteria.score)))
        if criteria.ids:
            parts.append(self._facet_mask("ids", criteria.ids))
        if not parts:
            return None
        mask = parts[0].copy()
        for part in parts[1:]:
            mask &= part
        return mask

    # --- order
    def sortable(self) -> list[str]:
        if self._sortable_columns is None:  # asked on every sort change: listed once
            self._sortable_columns = [
                "id", *[str(c) for c in self.frame.columns if self._sortable(c)]
            ]
        return list(self._sortable_columns)

    def _sortable(self, column: Any) -> bool:
        series = self.frame[column]
        if series.dtype == np.dtype(object):
            return False
        array = arrow_data(series)
        return array is None or not is_list(array.type) or is_text(array.type.value_type)

    def _sort_keys(self, column: str, positions: np.ndarray | None) -> pd.Series:
        """The sort keys of ``column`` (of the rows at ``positions``, or all)."""
        if column == "id":
            ids = self._ids if positions is None else self._ids[positions]
            return pd.Series(ids)
        series = self.frame[column]
        if positions is not None:
            series = series.take(positions)
        series = series.reset_index(drop=True)
        array = arrow_data(series)
        if array is not None and is_list(array.type):
            series = pd.Series(pc.binary_join(array, ", "), dtype="string[pyarrow]")
        return series

    def _argsort(self, column: str, ascending: bool, positions: np.ndarray | None) -> np.ndarray:
        """Positions (into ``positions``, or the frame) in the order of ``column``: stable,
        missing values last."""
        if column == "id" and self._by_id:
            count = len(self._ids) if positions is None else len(positions)
            order = np.arange(count)
            return order if ascending else order[::-1]
        keys = self._sort_keys(column, positions)
        ordered = keys.sort_values(ascending=ascending, kind="stable", na_position="last")
        return ordered.index.to_numpy()

    def order(self, column: str, ascending: bool) -> np.ndarray:
        """Positions of every row in the order of ``column`` (computed once, cached)."""
        cached = self._orders.get((column, ascending))
        if cached is None:
            cached = self._orders[(column, ascending)] = self._argsort(column, ascending, None)
        return cached

    def sorted_positions(
        self, mask: np.ndarray | None, column: str, ascending: bool
    ) -> np.ndarray:
        """Positions of the matching rows, in the order of ``column``.

        Few matches and no cached order: only the matches are sorted (a cold sort of a
        narrow filter on a million rows costs its matches, not the frame)."""
        identity = column == "id" and ascending and self._by_id
        if mask is None:
            return np.arange(len(self._ids)) if identity else self.order(column, ascending)
        positions = np.flatnonzero(mask)
        if identity:
            return positions
        cached = self._orders.get((column, ascending))
        if cached is None and len(positions) * _SUBSET_SORT <= len(self._ids):
            return positions[self._argsort(column, ascending, positions)]
        order = self.order(column, ascending)
        return order[mask[order]]

    def first_positions(self, column: str, ascending: bool, k: int) -> np.ndarray | None:
        """The first ``k`` positions of :meth:`order`, without ordering every row; or None.

        A sample of the keys gives a cut that a few times ``k`` keys are at or before. The
        rows at or before the cut are found in one Arrow comparison and sorted as
        :meth:`order` sorts; at least ``k`` of them means the first ``k`` of every row are
        among them (each key after the cut has all of them before it), ties and missing
        values included. For text keys (the slow ones to sort: a million file names take
        0.1-0.5 s), no cached order, and pages near the start; None otherwise, and when
        the cut holds too few rows or too many.
        """
        n = len(self._ids)
        if column == "id" or (column, ascending) in self._orders:
            return None
        if k < 1 or k * _SUBSET_SORT * 4 > n:
            return None
        array = arrow_data(self._sort_keys(column, None))
        if array is None or not is_text(array.type):
            return None
        picks = _cut_picks(n)
        sample = pc.drop_null(array.take(pa.array(picks)))
        rank = math.ceil(2 * k * len(picks) / n) + 2  # about 2k + 2n/len(picks) rows at or before
        if len(sample) < rank:
            return None
        sample = sample.take(pc.sort_indices(sample))
        cut = sample[rank - 1] if ascending else sample[len(sample) - rank]
        at_or_before = pc.less_equal if ascending else pc.greater_equal
        candidates = np.flatnonzero(bool_mask(at_or_before(array, cut)))
        if len(candidates) < k or len(candidates) * _SUBSET_SORT > n:
            return None
        return candidates[self._argsort(column, ascending, candidates)][:k]

    def query(
        self, criteria: Criteria, sort_by: str, ascending: bool, page: int, page_size: int
    ) -> Result:
        mask = self.mask(criteria)
        if mask is None:  # every row: a page near the start needs only the first keys
            page = clamp_page(page, len(self._ids), page_size)
            start = (page - 1) * page_size
            first = self.first_positions(sort_by, ascending, start + page_size)
            if first is not None:
                rows = self.frame.take(first[start:])
                return Result(
                    rows,
                    len(self._ids),
                    None,
                    page,
                    positions=lambda: self.order(sort_by, ascending),
                    mask=None,
                )
        positions = self.sorted_positions(mask, sort_by, ascending)
        count = len(positions)
        page = clamp_page(page, count, page_size)
        start = (page - 1) * page_size
        rows = self.frame.take(positions[start : start + page_size])
        whole = mask is None and sort_by == "id" and ascending and self._by_id
        value = self.frame if whole else None  # taken only when asked for (see .value)
        return Result(rows, count, value, page, positions=positions, mask=mask)

    def take(self, positions: np.ndarray) -> pd.DataFrame:
        """The frame's rows at ``positions`` (the panel's value)."""
        return self.frame.take(positions)

    def ids(self, positions: np.ndarray) -> np.ndarray:
        """The ids of the rows at ``positions``."""
        return self._ids[positions]

    def locate(self, ids: Iterable[Any]) -> np.ndarray:
        """Positions of ``ids`` in the frame (-1 for an id it does not have; the first row
        of an id the frame repeats)."""
        index = self.frame.index
        if index.is_unique:
            return np.asarray(index.get_indexer(list(ids)), dtype=np.int64)
        first = pd.Series(np.arange(len(index)), index=index)
        first = first[~index.duplicated()]
        return first.reindex(list(ids)).fillna(-1).to_numpy(dtype=np.int64)

    def patch(self, rows: pd.DataFrame) -> tuple[pd.Index, list[str]]:
        """Copy the columns ``rows`` shares with the frame into it, by id; returns the ids
        found and the columns patched (their codes, masks and orders are forgotten)."""
        located = self.locate(rows.index)
        present = rows.index[located >= 0]
        positions = located[located >= 0]
        shared = [str(c) for c in rows.columns if c in self.frame.columns]
        if len(present) == 0 or not shared:
            return present, []
        for column in shared:
            values = rows[column].to_numpy(dtype=object)[located >= 0].tolist()
            self.frame[column] = patched(self.frame[column], positions, values)
        self.invalidate(shared)
        return present, shared

    def matching(self, ids: Iterable[Any], mask: np.ndarray | None) -> np.ndarray:
        """Whether each id is a row of the frame that ``mask`` keeps (None: every row)."""
        wanted = list(ids)
        if not self.frame.index.is_unique:  # a repeated id matches when any of its rows does
            kept = self._ids if mask is None else self._ids[mask]
            return np.asarray(pd.Index(wanted, dtype=object).isin(kept), dtype=bool)
        positions = self.locate(wanted)
        found = positions >= 0
        if mask is not None:
            found[found] = mask[positions[found]]
        return found

    def invalidate(self, columns: Iterable[str]) -> None:
        """Forget codes, masks and orders that depend on ``columns`` (after rows were patched)."""
        columns = set(columns)
        facets = set()
        if "tag_names" in columns:
            facets.add("tags")
        if "classes" in columns:
            facets.add("class_name")
        if "assignee_name" in columns:
            facets.update(("assignee", "search"))
        if "created" in columns:
            facets.add("created")
        if columns & set(self._text.columns):
            facets.add("search")
        if columns & set(filter_health.ISSUE_COLUMNS):
            facets.add("issue")
            self._lists.pop("\x00issues", None)
        if columns & set(self._scores):
            facets.add("score")
        if self.status_column in columns:
            facets.add("status")
        self._masks = {k: v for k, v in self._masks.items() if k[0] not in facets}
        self._orders = {k: v for k, v in self._orders.items() if k[0] not in columns}
        for column in columns:
            self._codes.pop(column, None)
            self._lists.pop(column, None)
            self._scores.pop(column, None)
        self._text.forget(columns)
        if "assignee_name" in columns and "assignee_name" in self.frame.columns:
            self._column_codes("assignee_name")


class LiveSource:
    """Criteria -> one page of a live listing, filtered and sorted by the server."""

    live = True

    def __init__(self, client: Client, kind: str, params: Mapping[str, Any]) -> None:
        self.client = client
        self.kind = kind
        self.spec = LIVE_KINDS[kind]
        self.params = dict(params)
        self.status_column = "status" if kind == "task" else "status_label"
        self.tag_ids: dict[str, list[int]] = {}
        self.assignees: list[tuple[str, Any]] = []
        self.scanned = 0

    def capabilities(self) -> dict[str, bool]:
        return {
            "status": True,
            "assignee": True,
            "tags": True,
            "class_name": False,
            "created": True,
            "search": self.spec.search,
            "issue": False,
            "score": False,
        }

    def load_options(self, tags: pd.DataFrame) -> None:
        project = self.params.get("project")
        self.tag_ids = {}
        for pk, name, tag_project in zip(
            tags.index.tolist(), tags["name"].tolist(), tags["project"].tolist(), strict=True
        ):
            if project is None or pd.isna(tag_project) or tag_project == project:
                self.tag_ids.setdefault(str(name), []).append(int(pk))
        self.assignees = self._scan_assignees()

    def _scan_assignees(self, pages: int = 2) -> list[tuple[str, Any]]:
        """Assignees seen in the first ``pages`` pages of 1000 rows (the API has no user list)."""
        raw = getattr(self.client.raw, "list_tasks" if self.kind == "task" else "list_assignments")
        seen: dict[int, str] = {}
        unassigned = False
        self.scanned = 0
        for page in range(1, pages + 1):
            query = {**self.params, "fields": "assignee,assignee_name", "page_size": 1000}
            query["page"] = page
            try:
                envelope = raw(query)
            except NotFoundError:
                break
            for item in envelope.get("results", []):
                self.scanned += 1
                pk = item.get("assignee")
                pk = pk.get("id") if isinstance(pk, dict) else pk
                if pk is None:
                    unassigned = True
                else:
                    seen[int(pk)] = str(item.get("assignee_name") or f"user {pk}")
            if not envelope.get("next"):
                break
        options: list[tuple[str, Any]] = sorted(
            ((name, pk) for pk, name in seen.items()), key=lambda p: p[0]
        )
        if unassigned and self.spec.unassigned:
            options.append((UNASSIGNED, UNASSIGNED))
        return options

    def options(self) -> dict[str, list[tuple[str, Any]]]:
        statuses = {
            "task": ("pending", "in_progress", "completed"),
            "assignment": ("stand_by", "in_progress", "completed", "skipped"),
        }[self.kind]
        return {
            "status": [(s, s) for s in statuses],
            "assignee": list(self.assignees),
            "tags": [(name, name) for name in sorted(self.tag_ids)],
        }

    def sortable(self) -> list[str]:
        return list(self.spec.ordering)

    def to_params(self, criteria: Criteria) -> dict[str, Any]:
        """The query params of ``criteria`` (plus the panel's base params)."""
        query = dict(self.params)
        if criteria.status is not None:
            query[self.spec.status] = criteria.status
        if criteria.assignee is not None:
            query[self.spec.assignee] = (
                "null" if criteria.assignee == UNASSIGNED else criteria.assignee
            )
        if criteria.tags:
            ids = sorted({pk for name in criteria.tags for pk in self.tag_ids.get(name, [])})
            query["tags"] = ids or [0]  # an unknown name matches nothing, as in frame mode
        if criteria.created_from is not None:
            query["created__gte"] = _utc(criteria.created_from, end=False).isoformat()
        if criteria.created_to is not None:
            query["created__lte"] = _utc(criteria.created_to, end=True).isoformat()
        if criteria.search.strip() and self.spec.search:
            query["search"] = criteria.search.strip()
        if criteria.ids:  # one comma-separated value: the shortest query string
            query["id__in"] = ",".join(str(pk) for pk in criteria.ids)
        return query

    def _list(self, query: Mapping[str, Any]) -> pd.DataFrame:
        method = "list_tasks" if self.kind == "task" else "list_assignments"
        return getattr(self.client, method)(dict(query))

    def query(
        self, criteria: Criteria, sort_by: str, ascending: bool, page: int, page_size: int
    ) -> Result:
        if len(criteria.ids) > ID_CHUNK:
            return self._query_many_ids(criteria, sort_by, ascending, page, page_size)
        query = self.to_params(criteria)
        query["ordering"] = sort_by if ascending else f"-{sort_by}"
        query["page_size"] = page_size
        query["page"] = max(1, page)
        try:
            rows = self._list(query)
        except NotFoundError:
            if page <= 1:
                raise
            query["page"] = 1  # the matches shrank below this page: start over
            rows = self._list(query)
        count = rows.attrs.get("synapse", {}).get("count")
        count = len(rows) if count is None else int(count)
        return Result(rows, count, rows, int(query["page"]))

    def _chunks(self, criteria: Criteria) -> list[dict[str, Any]]:
        """The query of ``criteria`` once per chunk of ``ID_CHUNK`` ids."""
        base = self.to_params(dataclasses.replace(criteria, ids=()))
        ids = criteria.ids
        return [{**base, "id__in": ",".join(str(pk) for pk in ids[i:i + ID_CHUNK])}
                for i in range(0, len(ids), ID_CHUNK)]

    def _matching(self, criteria: Criteria, sort_by: str, ascending: bool) -> list[int]:
        """Ids of every row matching a long id filter, in the server's order (the sort
        column, NULL first ascending, then id), asked one light request per chunk."""
        raw = getattr(self.client.raw, "list_tasks" if self.kind == "task" else "list_assignments")
        fields = "id" if sort_by == "id" else f"id,{sort_by}"
        pairs: list[tuple[Any, int]] = []
        for query in self._chunks(criteria):
            envelope = raw({**query, "fields": fields, "page_size": ID_CHUNK, "page": 1})
            pairs += [(item.get(sort_by), int(item["id"])) for item in envelope["results"]]
        pairs.sort(key=lambda p: p[1])
        if sort_by != "id":
            pairs.sort(key=lambda p: (p[0] is not None, "" if p[0] is None else p[0]),
                       reverse=not ascending)  # stable: ids stay ascending within a value
        elif not ascending:
            pairs.reverse()
        return [pk for _value, pk in pairs]

    def _query_many_ids(
        self, criteria: Criteria, sort_by: str, ascending: bool, page: int, page_size: int
    ) -> Result:
        ids = self._matching(criteria, sort_by, ascending)
        page = clamp_page(page, len(ids), page_size)
        shown = ids[(page - 1) * page_size : page * page_size]
        query = self.to_params(dataclasses.replace(criteria, ids=()))
        query.update({"id__in": ",".join(str(pk) for pk in shown) or "0",
                      "page_size": page_size, "page": 1})
        rows = self._list(query)
        rows = rows.loc[[pk for pk in shown if pk in rows.index]]
        return Result(rows, len(ids), rows, page)

    def fetch_all(self, criteria: Criteria, sort_by: str, ascending: bool) -> pd.DataFrame:
        if len(criteria.ids) > ID_CHUNK:
            order = self._matching(criteria, sort_by, ascending)
            method = "list_tasks" if self.kind == "task" else "list_assignments"
            parts = [getattr(self.client, method)(q, list_all=True) for q in self._chunks(criteria)]
            frame = pd.concat(parts) if len(parts) > 1 else parts[0]
            frame.attrs = copy.deepcopy(parts[0].attrs)
            return frame.loc[[pk for pk in order if pk in frame.index]]
        query = self.to_params(criteria)
        query["ordering"] = sort_by if ascending else f"-{sort_by}"
        method = "list_tasks" if self.kind == "task" else "list_assignments"
        return getattr(self.client, method)(query, list_all=True)
