"""Dataset split and details (the PaddleX ``/dataset/split`` and ``/dataset/details`` ideas).

:func:`split` gives every row a ``split`` of ``train``/``val``/``test``:

- reproducible: the result depends only on the ids, the strata and ``seed`` (not on the
  row order of the frame);
- stratified where possible: each row's stratum is its *rarest* class in the frame (so rare
  classes are spread over the splits first), or the value of any column you name; strata too
  small to share out (fewer rows than it takes to reach every split) are pooled together and
  split as one, so nothing is dropped and small classes still land in several splits;
- within a stratum, rows are shuffled with the given random seed and cut at the fractions.

:func:`details` describes a (split) frame as frames: the labels, the items of each label,
and the class distribution per split.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"classes": [["car"]] * 6 + [["dog"]] * 4},
    ...                   index=pd.Index(range(1, 11), name="id"))
    >>> out = split(df, val=0.2, test=0.2, seed=0)
    >>> out["split"].value_counts().sort_index().tolist()
    [6, 2, 2]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.build import STRING

__all__ = ["SPLITS", "DatasetDetails", "details", "split"]

SPLITS = ("train", "val", "test")
_NO_CLASS = "(none)"


def _check_fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise InvalidInputError(name, value, "must be a number in [0, 1)", method="split")
    return float(value)


def _strata(frame: pd.DataFrame, stratify: str | None) -> list[Any]:
    if stratify is None:
        return [None] * len(frame)
    if stratify == "class":
        if "classes" not in frame.columns:
            raise InvalidInputError(
                "stratify", stratify, "needs a 'classes' column (task/event frames)", method="split"
            )
        lists = [c if isinstance(c, list | tuple) else [] for c in frame["classes"].tolist()]
        frequency = Counter(label for labels in lists for label in set(labels))
        return [
            min(labels, key=lambda label: (frequency[label], label)) if labels else _NO_CLASS
            for labels in lists
        ]
    if stratify not in frame.columns:
        raise InvalidInputError(
            "stratify",
            stratify,
            f"must be 'class', None or a column of the frame ({list(frame.columns)[:8]}...)",
            method="split",
        )
    return [None if pd.isna(v) else v for v in frame[stratify].astype(object).tolist()]


def _id_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (0, int(value))
    return (1, str(value))


def _cut(n: int, fractions: tuple[float, float, float]) -> list[int]:
    """Split labels for n shuffled rows: cumulative cut points, rounded."""
    edges = np.round(np.cumsum(fractions) * n).astype(int)
    out = np.zeros(n, dtype=np.int8)
    out[edges[0] : edges[1]] = 1
    out[edges[1] :] = 2
    return out.tolist()


def split(
    frame: pd.DataFrame,
    val: float = 0.2,
    test: float = 0.1,
    stratify: str | None = "class",
    seed: int = 0,
    column: str = "split",
) -> pd.DataFrame:
    """Return a copy of ``frame`` with a reproducible ``train``/``val``/``test`` column.

    Args:
        frame: Rows to split (indexed by id).
        val: Fraction of rows for validation.
        test: Fraction of rows for test.
        stratify: ``'class'`` (each row's rarest class), a column name, or None.
        seed: Random seed (a non-negative int); the same seed and ids give the same split.
        column: Name of the added column (a non-empty str).

    Returns:
        A copy with ``column`` as a category (``train``, ``val``, ``test``).

    Example:
        >>> df = pd.DataFrame({"x": range(10)}, index=pd.Index(range(10), name="id"))
        >>> split(df, val=0.3, test=0, stratify=None)["split"].value_counts()["val"]
        np.int64(3)
    """
    val, test = _check_fraction("val", val), _check_fraction("test", test)
    if val + test >= 1:
        raise InvalidInputError(
            "val", val, f"val + test must be < 1 (got {val + test:g})", method="split"
        )
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidInputError("seed", seed, "must be a non-negative int", method="split")
    seed = int(seed)
    if not isinstance(column, str) or not column.strip():
        raise InvalidInputError("column", column, "must be a non-empty column name (a str)",
                                method="split")
    if frame.index.has_duplicates:
        raise InvalidInputError(
            "index",
            frame.index[frame.index.duplicated()][:5].tolist(),
            "must be unique",
            method="split",
        )
    fractions = (1 - val - test, val, test)
    # Rows sorted by id first: the split must not depend on the frame's row order.
    ids = frame.index.tolist()
    order = sorted(range(len(ids)), key=lambda i: _id_key(ids[i]))
    strata = _strata(frame, stratify)
    groups: dict[Any, list[int]] = {}
    for position in order:
        groups.setdefault(strata[position], []).append(position)
    wanted = max(1, sum(f > 0 for f in fractions))
    smallest = min((f for f in fractions if f > 0), default=1.0)
    minimum = max(wanted, int(np.ceil(1 / smallest))) if stratify is not None else 1
    pooled: list[int] = []
    buckets: list[list[int]] = []
    for key in sorted(groups, key=lambda k: (k is None, str(k))):
        members = groups[key]
        if len(members) >= minimum:
            buckets.append(members)
        else:
            pooled.extend(members)
    if pooled:
        buckets.append(sorted(pooled, key=lambda i: _id_key(ids[i])))
    rng = np.random.default_rng(seed)
    labels = np.zeros(len(frame), dtype=np.int8)
    for members in buckets:
        shuffled = rng.permutation(np.asarray(members))
        labels[shuffled] = _cut(len(shuffled), fractions)
    out = frame.copy()
    out[column] = pd.Categorical.from_codes(labels, categories=list(SPLITS))
    return out


@dataclass
class DatasetDetails:
    """What :func:`details` returns; every part is a DataFrame.

    Attributes:
        labels: One row per class: ``label_id`` (0-based, by name), ``n_items``, share.
        items: Long frame ``class_name, id[, split]``: the items of each class.
        distribution: Items per class (rows) and split (columns), with a ``total``.
        splits: Items per split (``n_items``, ``share``).
    """

    labels: pd.DataFrame
    items: pd.DataFrame
    distribution: pd.DataFrame
    splits: pd.DataFrame

    def items_of(self, class_name: str) -> list[Any]:
        """Ids of the items that contain ``class_name``.

        Example:
            >>> df = pd.DataFrame({"classes": [["car"], ["dog"], ["car", "bus"], ["car"]]},
            ...                   index=pd.Index([1, 4, 9, 12], name="id"))
            >>> details(df).items_of("car")[:3]
            [1, 9, 12]

        """
        rows = self.items[self.items["class_name"] == class_name]
        return rows["id"].tolist()

    def __repr__(self) -> str:
        return (
            f"DatasetDetails({len(self.labels)} labels, {int(self.splits['n_items'].sum())} "
            f"items, splits={self.splits['n_items'].to_dict()})\n{self.distribution}"
        )


def details(frame: pd.DataFrame, column: str = "split") -> DatasetDetails:
    """Labels, per-class item lists and the per-split class distribution, as frames.

    Args:
        frame: A frame with a ``classes`` list column (and optionally a split column).
        column: The split column (when absent every row counts as ``all``).

    Example:
        >>> df = pd.DataFrame({"classes": [["car"], ["car", "dog"], []]},
        ...                   index=pd.Index([1, 2, 3], name="id"))
        >>> d = details(df)
        >>> d.labels["n_items"].to_dict(), d.items_of("dog")
        ({'car': 2, 'dog': 1}, [2])
    """
    if "classes" not in frame.columns:
        raise InvalidInputError(
            "frame", list(frame.columns)[:8], "needs a 'classes' column", method="details"
        )
    has_split = column in frame.columns
    ids = frame.index.tolist()
    splits = frame[column].astype(object).tolist() if has_split else ["all"] * len(frame)
    rows = [
        (label, pk, part)
        for pk, labels, part in zip(ids, frame["classes"].tolist(), splits, strict=True)
        if isinstance(labels, list | tuple)
        for label in sorted(set(labels))
    ]
    items = pd.DataFrame(
        {
            "class_name": pd.array([r[0] for r in rows], dtype=STRING),
            "id": pd.array([r[1] for r in rows], dtype=frame.index.dtype),
        }
    )
    if has_split:
        items["split"] = pd.Categorical([r[2] for r in rows], categories=list(SPLITS))
    names = sorted({r[0] for r in rows})
    index = pd.Index(names, dtype=STRING, name="class_name")
    counts = items.groupby("class_name", observed=True).size().reindex(index).fillna(0)
    labels = pd.DataFrame(
        {
            "label_id": pd.array(range(len(names)), dtype="Int64"),
            "n_items": counts.astype("Int64").to_numpy(),
        },
        index=index,
    )
    labels["share"] = (labels["n_items"] / max(len(frame), 1)).astype("Float64")
    part_names = list(SPLITS) if has_split else ["all"]
    if rows:
        table = pd.crosstab(
            items["class_name"], items["split"] if has_split else pd.Series(["all"] * len(items))
        )
    else:
        table = pd.DataFrame(index=index)
    distribution = pd.DataFrame(index=index)
    for part in part_names:
        values = table[part] if part in table.columns else 0
        distribution[part] = pd.Series(values, index=index).reindex(index).fillna(0).astype("Int64")
    distribution["total"] = distribution[part_names].sum(axis=1).astype("Int64")
    split_counts = pd.Series(Counter(splits))
    split_frame = pd.DataFrame(
        {"n_items": [int(split_counts.get(p, 0)) for p in part_names]},
        index=pd.Index(part_names, name=column),
    )
    split_frame["n_items"] = split_frame["n_items"].astype("Int64")
    split_frame["share"] = (split_frame["n_items"] / max(len(frame), 1)).astype("Float64")
    return DatasetDetails(labels, items, distribution, split_frame)
