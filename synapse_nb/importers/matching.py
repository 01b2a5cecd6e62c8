"""Matching labelled images to tasks, by file name or by id, with a report of the misses.

File names are compared tolerantly, in this order:

1. Only the last path component counts (``/`` and ``\\`` both separate directories), so
   ``images/train/a.jpg`` matches ``a.jpg``.
2. Names are compared after Unicode NFC normalisation and case folding: ``A.JPG`` matches
   ``a.jpg``.
3. A label whose name matches no task exactly is matched on the stem (the name without its
   extension): ``a.txt``, ``a.png`` and ``a`` match the task ``a.jpg``.

A label whose name (or stem, at step 3) fits two or more tasks is **ambiguous** and not
matched; so are labels that land on the same task, except that an exact match (steps 1-2)
wins over stem matches. ``by="id"`` matches the id a source carries for an image (our COCO
export stores the task id) against the task id; ``by="data_unit_id"`` against the task's
data unit.

Example:
    >>> import pandas as pd
    >>> from synapse_nb.importers.labels import LabelledImage, Labels
    >>> tasks = pd.DataFrame({"file_name": ["a.jpg", "b.jpg", "c.jpg"]},
    ...                      index=pd.Index([11, 12, 13], name="id"))
    >>> labels = Labels("yolo", {k: LabelledImage(k, {"images": [{}]})
    ...                          for k in ["A.JPG", "dir/b.png", "z.jpg"]})
    >>> m = match_to_tasks(labels, tasks)
    >>> m.pairs
    {'A.JPG': 11, 'dir/b.png': 12}
    >>> m.report[["side", "label", "task_id", "problem"]].values.tolist()
    [['label', 'z.jpg', <NA>, 'no_task'], ['task', <NA>, 13, 'no_labels']]
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.labels import Labels

__all__ = ["MATCH_BY", "Matching", "match_to_tasks", "normalize_name"]

#: What :func:`match_to_tasks` can match on.
MATCH_BY = ("file_name", "id", "data_unit_id")
_PROBLEMS = ("no_task", "no_labels", "ambiguous")


def normalize_name(name: Any) -> str:
    """A file name as matching compares it: last path component, NFC, case-folded.

    Example:
        >>> normalize_name("Images\\\\Train/Cafe\\u0301.JPG")
        'café.jpg'
    """
    leaf = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    return unicodedata.normalize("NFC", leaf).casefold()


def _stem(name: str) -> str:
    return PurePosixPath(name).stem if "." in name.lstrip(".") else name


@dataclass
class Matching:
    """Which label goes to which task, and what did not match.

    Attributes:
        pairs: ``{label key: task id}`` for every label matched to exactly one task.
        report: One row per problem: ``side`` (``label`` or ``task``), ``label`` (the
            label key), ``task_id``, ``problem`` (``no_task``: a label no task matches;
            ``no_labels``: a task no label matches; ``ambiguous``: a label that fits
            several tasks, or shares its task with another label) and ``candidates`` (the
            task ids it could be).
        by: What was matched on.

    Example:
        >>> Matching({"a.jpg": 1}, _report([]), "id")
        Matching(by=id: 1 matched, 0 labels without a task, 0 tasks without labels, 0 ambiguous)
    """

    pairs: dict[str, int]
    report: pd.DataFrame
    by: str

    def counts(self) -> dict[str, int]:
        """``matched`` and the number of report rows per problem.

        Example:
            >>> Matching({}, _report([]), "id").counts()
            {'matched': 0, 'no_task': 0, 'no_labels': 0, 'ambiguous': 0}
        """
        found = self.report["problem"].value_counts()
        return {"matched": len(self.pairs), **{p: int(found.get(p, 0)) for p in _PROBLEMS}}

    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"Matching(by={self.by}: {c['matched']} matched, {c['no_task']} labels without a "
            f"task, {c['no_labels']} tasks without labels, {c['ambiguous']} ambiguous)"
        )


def match_to_tasks(labels: Labels, tasks: Any, *, by: str = "file_name") -> Matching:
    """Match labelled images to tasks.

    Args:
        labels: What :func:`~synapse_nb.importers.read_predictions` returned.
        tasks: A task frame (``client.list_tasks(...)``: index ``id``, ``file_name``,
            ``data_unit_id``) or a ``{task id: file name}`` mapping.
        by: ``"file_name"`` (the rules of this module), ``"id"`` or ``"data_unit_id"``.

    Returns:
        A :class:`Matching`.

    Raises:
        ImportFormatError: If ``by`` is unknown or ``tasks`` lacks the column it needs.

    Example:
        >>> tasks = client.list_tasks({"project": 1}, list_all=True)
        >>> from synapse_nb.importers.labels import LabelledImage, Labels
        >>> labels = Labels("dm", {"scene_0003.png": LabelledImage("scene_0003.png", {})})
        >>> m = match_to_tasks(labels, tasks)
        >>> tasks.loc[m.pairs["scene_0003.png"], "file_name"]
        'scene_0003.jpg'
    """
    if by not in MATCH_BY:
        raise ImportFormatError("<tasks>", "by", by, f"is not one of {list(MATCH_BY)}")
    if not isinstance(labels, Labels):
        raise ImportFormatError(
            "<labels>", "labels", labels, "is not Labels (what read_predictions() returns)"
        )
    frame = _task_frame(tasks, by)
    if by == "file_name":
        claims = _claims_by_name(labels, frame)
    else:
        claims = _claims_by_id(labels, frame, by)
    return _settle(claims, frame, by)


def _task_frame(tasks: Any, by: str) -> pd.DataFrame:
    if isinstance(tasks, Mapping):
        return pd.DataFrame(
            {"file_name": list(tasks.values())}, index=pd.Index(list(tasks), name="id")
        )
    if not isinstance(tasks, pd.DataFrame):
        raise ImportFormatError("<tasks>", "tasks", type(tasks).__name__, "is not a task frame")
    needed = (
        "file_name" if by == "file_name" else ("data_unit_id" if by == "data_unit_id" else None)
    )
    if needed and needed not in tasks.columns:
        raise ImportFormatError("<tasks>", needed, why="is not a column of the task frame")
    return tasks


#: label key -> (candidate task ids, matched exactly)
Claims = dict[str, tuple[list[int], bool]]


def _claims_by_name(labels: Labels, tasks: pd.DataFrame) -> Claims:
    by_leaf: dict[str, list[int]] = {}
    by_stem: dict[str, list[int]] = {}
    for task_id, name in tasks["file_name"].items():
        if name is None or pd.isna(name):
            continue
        leaf = normalize_name(name)
        by_leaf.setdefault(leaf, []).append(int(task_id))
        by_stem.setdefault(_stem(leaf), []).append(int(task_id))
    claims: Claims = {}
    for key in labels.images:
        leaf = normalize_name(key)
        if leaf in by_leaf:
            claims[key] = (by_leaf[leaf], True)
        else:
            claims[key] = (by_stem.get(_stem(leaf), []), False)
    return claims


def _claims_by_id(labels: Labels, tasks: pd.DataFrame, by: str) -> Claims:
    column = tasks.index.to_series() if by == "id" else tasks["data_unit_id"]
    owners: dict[int, list[int]] = {}
    for task_id, value in column.items():
        if not pd.isna(value):
            owners.setdefault(int(value), []).append(int(task_id))
    claims: Claims = {}
    for key, image in labels.images.items():
        stated = image.item_id if image.item_id is not None else key
        try:
            wanted = int(stated)
        except (TypeError, ValueError):
            claims[key] = ([], True)
            continue
        claims[key] = (owners.get(wanted, []), True)
    return claims


def _settle(claims: Claims, tasks: pd.DataFrame, by: str) -> Matching:
    rows: list[dict[str, Any]] = []
    single: dict[int, list[tuple[str, bool]]] = {}
    for key, (candidates, exact) in claims.items():
        if not candidates:
            rows.append(_row("label", key, None, "no_task", "no task matches", []))
        elif len(candidates) > 1:
            rows.append(_row("label", key, None, "ambiguous", "several tasks match", candidates))
        else:
            single.setdefault(candidates[0], []).append((key, exact))
    pairs: dict[str, int] = {}
    for task_id, keys in single.items():
        exact_keys = [k for k, e in keys if e]
        if len(exact_keys) == 1:
            winner: str | None = exact_keys[0]
        else:
            winner = keys[0][0] if len(keys) == 1 else None
        for key, _ in keys:
            if key == winner:
                pairs[key] = task_id
            else:
                others = ", ".join(sorted(k for k, _ in keys if k != key))
                rows.append(
                    _row(
                        "label", key, task_id, "ambiguous", f"task shared with {others}", [task_id]
                    )
                )
    claimed = set(single) | {t for r in rows for t in r["candidates"]}
    for task_id in tasks.index:
        if int(task_id) not in claimed:
            rows.append(_row("task", None, int(task_id), "no_labels", "no label matches", []))
    return Matching(pairs, _report(rows), by)


def _row(
    side: str,
    label: str | None,
    task_id: int | None,
    problem: str,
    detail: str,
    candidates: list[int],
) -> dict[str, Any]:
    return {
        "side": side,
        "label": label,
        "task_id": task_id,
        "problem": problem,
        "detail": detail,
        "candidates": candidates,
    }


def _report(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "side": pd.Categorical([r["side"] for r in rows], categories=["label", "task"]),
            "label": pd.array([r["label"] for r in rows], dtype="string"),
            "task_id": pd.array([r["task_id"] for r in rows], dtype="Int64"),
            "problem": pd.Categorical([r["problem"] for r in rows], categories=list(_PROBLEMS)),
            "detail": pd.array([r["detail"] for r in rows], dtype="string"),
            "candidates": pd.Series([r["candidates"] for r in rows], dtype=object),
        }
    )
