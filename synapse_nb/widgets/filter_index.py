"""Column indexes of a frame-mode :class:`~.filter.FilterPanel`: integer codes, built once.

A facet change on a million rows must not scan strings or Python lists again: each facet
column is turned once into integer codes over its distinct values, and every mask, count
and sort key is then a numpy operation on those codes.

- :class:`Codes` — a column as one code per row (``-1`` = missing);
- :class:`ListCodes` — a list column (tags, classes, issues) as one code per item plus the
  row each item belongs to;
- :class:`TextIndex` — text columns for the substring search (lower-cased once, on the
  first search that needs it).

Example:
    >>> codes = Codes.of(pd.Series(["b", None, "a", "b"], dtype="string[pyarrow]"))
    >>> codes.values, codes.codes.tolist(), codes.counts().tolist()
    (['b', 'a'], [0, -1, 1, 0], [2, 1])
    >>> codes.mask("b").tolist()
    [True, False, False, True]
    >>> tags = ListCodes.of(pd.Series([["x", "y"], [], ["y"]]))
    >>> tags.any_of(["y"]).tolist(), tags.counts().tolist()
    ([True, False, True], [1, 2])
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Codes",
    "ListCodes",
    "TextIndex",
    "arrow_data",
    "bool_mask",
    "is_list",
    "is_text",
    "merge_lists",
]


def arrow_data(series: pd.Series) -> pa.ChunkedArray | None:
    """The pyarrow data behind an Arrow-backed column, else None.

    Example:
        >>> arrow_data(pd.Series(["a"], dtype="string[pyarrow]")).to_pylist()
        ['a']
    """
    array = getattr(series.array, "_pa_array", None)
    return array if isinstance(array, pa.ChunkedArray) else None


def bool_mask(values: Any) -> np.ndarray:
    """A nullable boolean result as a plain numpy mask (missing -> False).

    Example:
        >>> bool_mask(pa.chunked_array([[True, None, False]])).tolist()
        [True, False, False]
    """
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=bool, na_value=False)
    return np.asarray(values, dtype=bool)


def is_text(kind: pa.DataType) -> bool:
    """An Arrow string type (pandas keeps ``string[pyarrow]`` as ``large_string``).

    Example:
        >>> is_text(pa.large_string()), is_text(pa.int64())
        (True, False)
    """
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def is_list(kind: pa.DataType) -> bool:
    """An Arrow list type (``list`` or ``large_list``).

    Example:
        >>> is_list(pa.large_list(pa.string())), is_list(pa.string())
        (True, False)
    """
    return bool(pa.types.is_list(kind) or pa.types.is_large_list(kind))


def _indices(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Dictionary indices as int32 numpy codes, a missing value as -1."""
    return pc.fill_null(array, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


def _encode(values: pa.ChunkedArray) -> tuple[np.ndarray, list[Any]]:
    """Codes (first appearance order) and the distinct values of a flat Arrow column."""
    encoded = pc.dictionary_encode(values).combine_chunks()
    return _indices(encoded.indices), encoded.dictionary.to_pylist()


@dataclass
class Codes:
    """A column as integer codes into its distinct values (``-1`` = missing).

    Attributes:
        codes: One code per row.
        values: The distinct values; a categorical keeps its categories' order, other
            columns the order of first appearance.
    """

    codes: np.ndarray
    values: list[Any]

    @classmethod
    def of(cls, series: pd.Series) -> Codes:
        """Encode a column (categoricals reuse their codes; Arrow strings are hashed by
        Arrow; anything else by :func:`pandas.factorize`)."""
        if isinstance(series.dtype, pd.CategoricalDtype):
            codes = series.cat.codes.to_numpy().astype(np.int32, copy=False)
            return cls(codes, list(series.cat.categories))
        array = arrow_data(series)
        if array is not None and is_text(array.type):
            return cls(*_encode(array))
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return cls(codes.astype(np.int32, copy=False), list(uniques))

    def counts(self) -> np.ndarray:
        """Rows per value (aligned with :attr:`values`)."""
        return np.bincount(self.codes[self.codes >= 0], minlength=len(self.values))

    def missing(self) -> np.ndarray:
        """Rows without a value."""
        return self.codes < 0

    def code(self, value: Any) -> int | None:
        """The code of ``value`` (compared as given, then as text), None when absent."""
        for i, known in enumerate(self.values):
            if known == value or str(known) == str(value):
                return i
        return None

    def mask(self, value: Any) -> np.ndarray:
        """Rows whose value is ``value``."""
        code = self.code(value)
        if code is None:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == code

    def lookup(self, hits: np.ndarray) -> np.ndarray:
        """Rows whose value is one of the values flagged by ``hits`` (one bool per value)."""
        table = np.append(np.asarray(hits, dtype=bool), False)  # code -1 -> the last entry
        return table[self.codes]


def _python_lists(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """Lengths and the concatenated items of a column of Python lists (others: empty)."""
    if not set(map(type, values)) <= {list, tuple, np.ndarray}:  # None, NaN, a bare string
        values = [v if isinstance(v, list | tuple | np.ndarray) else () for v in values]
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    return lengths, list(itertools.chain.from_iterable(values))


@dataclass
class ListCodes:
    """A list column flattened: one code per item and the row it belongs to.

    Attributes:
        parents: The row (position) of each item.
        codes: The code of each item (``-1`` = a missing item).
        values: The distinct items.
        rows: Number of rows.
    """

    parents: np.ndarray
    codes: np.ndarray
    values: list[Any]
    rows: int

    @classmethod
    def of(cls, series: pd.Series) -> ListCodes:
        """Flatten and encode an Arrow list column or an object column of lists."""
        array = arrow_data(series)
        if array is not None and is_list(array.type):
            flat = pc.list_flatten(array)
            parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
            if not is_text(flat.type):
                flat = pc.cast(flat, pa.string())
            codes, values = _encode(flat)
            return cls(parents.astype(np.int64, copy=False), codes, values, len(series))
        lengths, items = _python_lists(series.tolist())
        parents = np.repeat(np.arange(len(series), dtype=np.int64), lengths)
        if not items:
            return cls(parents, np.zeros(0, dtype=np.int32), [], len(series))
        flat = pd.Series(items, dtype=object)
        # a missing item stays missing, whatever the pandas version's ``astype(str)`` makes of
        # None (pandas 3 keeps it missing, pandas 2 writes "None")
        codes, uniques = pd.factorize(flat.astype(str).where(flat.notna()))
        return cls(parents, codes.astype(np.int32, copy=False), list(uniques), len(series))

    def counts(self) -> np.ndarray:
        """Items per value (a row listing a value twice counts twice)."""
        return np.bincount(self.codes[self.codes >= 0], minlength=len(self.values))

    def row_counts(self) -> np.ndarray:
        """Rows that list each value (at least once).

        Example:
            >>> ListCodes.of(pd.Series([["a", "a", "b"], ["a"], [], ["b", "a"]])).row_counts()
            array([3, 2])
        """
        valid = self.codes >= 0
        parents, codes = self.parents[valid], self.codes[valid]
        width = max(1, len(self.values))
        # an item alone in its row counts once; only rows of several items can repeat one
        alone = np.bincount(parents, minlength=self.rows)[parents] == 1
        counts = np.bincount(codes[alone], minlength=len(self.values))
        if not alone.all():
            shared = ~alone
            pairs = np.unique(parents[shared] * width + codes[shared])
            counts += np.bincount(pairs % width, minlength=len(self.values))
        return counts

    def any_of(self, values: Iterable[Any]) -> np.ndarray:
        """Rows that list any of ``values``."""
        wanted = {str(v) for v in values}
        hits = np.array([str(v) in wanted for v in self.values] + [False], dtype=bool)
        mask = np.zeros(self.rows, dtype=bool)
        mask[self.parents[hits[self.codes]]] = True
        return mask


class TextIndex:
    """The text columns of the substring search, each lower-cased at most once.

    Low-cardinality columns (those already encoded as :class:`Codes`) are searched in
    their distinct values only; the others with Arrow's substring kernel over the column.

    Args:
        frame: The frame.
        columns: The text columns searched.
        encoded: Already encoded columns (searched through their values).

    Example:
        >>> frame = pd.DataFrame({"file_name": pd.array(["Cat.jpg", "dog.png"],
        ...                                              dtype="string[pyarrow]")})
        >>> TextIndex(frame, ["file_name"], {}).search("CAT").tolist()
        [True, False]
    """

    def __init__(self, frame: pd.DataFrame, columns: list[str], encoded: dict[str, Codes]) -> None:
        self.frame = frame
        self.columns = columns
        self.encoded = encoded
        self._lower: dict[str, pa.ChunkedArray] = {}

    def _arrow_text(self, column: str, folded: bool) -> pa.ChunkedArray | None:
        array = arrow_data(self.frame[column])
        if array is None or not is_text(array.type):
            return None
        if not folded:
            return array
        lower = self._lower.get(column)
        if lower is None:
            lower = self._lower[column] = pc.utf8_lower(array)
        return lower

    def search(self, term: str) -> np.ndarray:
        """Rows where any searched column contains ``term`` (case-insensitive)."""
        needle = term.lower()
        folded = needle != term.upper()  # no letter with a case: no folding needed
        mask = np.zeros(len(self.frame), dtype=bool)
        for column in self.columns:
            codes = self.encoded.get(column)
            if codes is not None:
                hits = [needle in str(v).lower() for v in codes.values]
                mask |= codes.lookup(np.array(hits, dtype=bool))
                continue
            array = self._arrow_text(column, folded)
            if array is not None:
                mask |= bool_mask(pc.match_substring(array, needle))
            else:
                series = self.frame[column].astype("string")
                mask |= bool_mask(series.str.contains(term, case=False, regex=False))
        return mask

    def forget(self, columns: Iterable[str]) -> None:
        """Drop the lower-cased copies of ``columns`` (after their rows were patched)."""
        for column in columns:
            self._lower.pop(column, None)


def merge_lists(parts: Sequence[ListCodes]) -> ListCodes:
    """One :class:`ListCodes` of several list columns of the same rows (items of all).

    Example:
        >>> a, b = ListCodes.of(pd.Series([["x"], []])), ListCodes.of(pd.Series([["y"], ["x"]]))
        >>> merged = merge_lists([a, b])
        >>> merged.values, merged.row_counts().tolist()
        (['x', 'y'], [2, 1])
    """
    values = list(dict.fromkeys(v for part in parts for v in part.values))
    where = {v: i for i, v in enumerate(values)}
    codes, parents = [], []
    for part in parts:
        remap = np.array([where[v] for v in part.values] + [-1], dtype=np.int32)
        codes.append(remap[part.codes])
        parents.append(part.parents)
    rows = parts[0].rows if parts else 0
    if not parts:
        return ListCodes(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32), [], 0)
    return ListCodes(np.concatenate(parents), np.concatenate(codes), values, rows)
