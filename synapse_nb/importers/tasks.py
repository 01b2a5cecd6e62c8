"""Pre-annotations: matched labels written onto their tasks with ``annotate_task_data``.

Nothing is written until everything has been checked: the matching (at least one pair),
the readers' audit (no annotation that failed to read, unless ``skip_failed=True``), every
document (:func:`~synapse_nb.importers.validate.document_problems`, with the project's
classes when given), that the labels fit their task's image
(:func:`~synapse_nb.importers.validate.size_problems`, when the frame has the sizes) and,
unless ``overwrite=True``, that no target task holds annotations yet. Writes then go task
by task with a progress bar; a task whose write fails is recorded and the others go on.
The :class:`ImportResult` says what happened to every label.

Example:
    >>> from synapse_nb.importers import read_dm
    >>> task = backend.create_tasks({"project": 2, "data_unit": 6})
    >>> tasks = client.list_tasks({"project": 2}, list_all=True).loc[[task["id"]]]
    >>> doc = {"images": [{"bounding_box": [{"id": "p1", "classification": "car",
    ...        "data": [5, 5, 40, 30], "attrs": [{"name": "score", "value": 0.7}]}]}]}
    >>> labels = read_dm({tasks.file_name.iloc[0]: doc})
    >>> import_to_tasks(client, labels, tasks, progress=False)
    ImportResult(1 written, 0 failed, 0 not matched; 1 annotations)
    >>> stored = client.get_task(task["id"])["data"]["images"][0]["bounding_box"]
    >>> stored[0]["classification"], stored[0]["data"]
    ('car', [5, 5, 40, 30])
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from synapse_nb._progress import AnyProgress, as_progress
from synapse_nb.converters import Audit
from synapse_nb.exceptions import SynapseNBError
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.labels import Labels
from synapse_nb.importers.matching import Matching, match_to_tasks
from synapse_nb.importers.validate import document_problems, size_problems

__all__ = ["AnnotatesTasks", "ImportResult", "import_to_tasks"]

#: How many problems an error message lists before saying "and N more".
_SHOWN = 5


class AnnotatesTasks(Protocol):
    """What :func:`import_to_tasks` needs of a client (``BackendClient`` or ``Client``)."""

    def annotate_task_data(
        self, pk: int, data: Mapping[str, Any], *, schema: str | None = None
    ) -> dict[str, Any]: ...


@dataclass
class ImportResult:
    """What an import did.

    Attributes:
        frame: One row per label: ``label``, ``task_id``, ``status`` (``written``,
            ``failed``, ``skipped`` when its image had unreadable annotations and
            ``skip_failed=True``, ``not_matched``), ``n_annotations`` and ``error``.
        matching: The matching used (its ``report`` lists tasks without labels too).
        audit: The readers' audit of the labels.

    Example:
        >>> ImportResult(_frame([]), None, None).counts()
        {'written': 0, 'failed': 0, 'skipped': 0, 'not_matched': 0}
    """

    frame: pd.DataFrame
    matching: Matching | None
    audit: Audit | None

    def counts(self) -> dict[str, int]:
        """Labels per status.

        Example:
            >>> ImportResult(_frame([("a", 1, "written", 2, None)]), None, None).counts()["written"]
            1
        """
        found = self.frame["status"].value_counts()
        return {s: int(found.get(s, 0)) for s in _STATUSES}

    def __repr__(self) -> str:
        c = self.counts()
        written = self.frame.loc[self.frame["status"] == "written", "n_annotations"].sum()
        return (
            f"ImportResult({c['written']} written, {c['failed']} failed, "
            f"{c['not_matched']} not matched; {int(written)} annotations)"
        )


_STATUSES = ("written", "failed", "skipped", "not_matched")


def import_to_tasks(
    client: AnnotatesTasks,
    labels: Labels,
    tasks: pd.DataFrame,
    *,
    matching: Matching | None = None,
    by: str = "file_name",
    classes: Collection[str] | Mapping[str, Any] | None = None,
    overwrite: bool = False,
    skip_failed: bool = False,
    progress: bool | AnyProgress | None = None,
) -> ImportResult:
    """Write labels onto their tasks as pre-annotations, after checking all of them.

    Args:
        client: A ``BackendClient`` or notebook ``Client``.
        labels: What :func:`~synapse_nb.importers.read_predictions` returned.
        tasks: The task frame to match against (``client.list_tasks(...)``).
        matching: A :func:`~synapse_nb.importers.match_to_tasks` result; made with ``by``
            when None.
        by: What to match on when ``matching`` is None.
        classes: Allowed class names, or a project configuration (its ``classes``).
        overwrite: Replace the annotations of tasks that already have some
            (``n_annotations`` > 0 in ``tasks``); refused by default.
        skip_failed: Leave out images with annotations that failed to read, instead of
            refusing the whole import.
        progress: True/False for a bar, None for a bar over 20 tasks, or a callable
            ``(current, total, category)``.

    Returns:
        An :class:`ImportResult`.

    Raises:
        ImportFormatError: Before any write, listing the problems: nothing matched, labels
            that failed to read, invalid documents, classes not in ``classes``, labels that
            do not fit their task's image, tasks that already have annotations.

    Example:
        >>> from synapse_nb.importers import read_dm
        >>> tasks = client.list_tasks({"project": 1}, list_all=True)
        >>> done = tasks[tasks.n_annotations > 0].head(1)
        >>> doc = {"images": [{"bounding_box": [{"id": "x", "classification": "car",
        ...                                       "data": [0, 0, 1, 1]}]}]}
        >>> import_to_tasks(client, read_dm({done.file_name.iloc[0]: doc}), done)
        Traceback (most recent call last):
        ...
        synapse_nb.importers.errors.ImportFormatError: <tasks>: overwrite = False ... \
already have annotations; pass overwrite=True to replace them
    """
    matching = matching if matching is not None else match_to_tasks(labels, tasks, by=by)
    allowed = _allowed_classes(classes)
    skipped = _check(labels, tasks, matching, allowed, overwrite=overwrite, skip_failed=skip_failed)
    rows: list[tuple[Any, ...]] = [
        (k, None, "not_matched", labels[k].n_annotations(), None)
        for k in labels.images
        if k not in matching.pairs
    ]
    rows += [
        (k, matching.pairs[k], "skipped", labels[k].n_annotations(), "unreadable annotations")
        for k in skipped
    ]
    todo = [(k, t) for k, t in matching.pairs.items() if k not in skipped]
    report = _reporter(progress, len(todo))
    for done, (key, task_id) in enumerate(todo, start=1):
        image = labels[key]
        try:
            client.annotate_task_data(task_id, image.data)
            rows.append((key, task_id, "written", image.n_annotations(), None))
        except SynapseNBError as exc:
            rows.append((key, task_id, "failed", image.n_annotations(), str(exc)))
        report(done, len(todo))
    report(-1, len(todo))
    return ImportResult(_frame(rows), matching, labels.audit)


def _allowed_classes(classes: Any) -> set[str] | None:
    if classes is None:
        return None
    if isinstance(classes, Mapping):
        classes = classes.get("classes")
        if classes is None:
            raise ImportFormatError("<classes>", "classes", why="is not in the configuration")
    return {str(c.get("name", c.get("code")) if isinstance(c, Mapping) else c) for c in classes}


def _check(
    labels: Labels,
    tasks: pd.DataFrame,
    matching: Matching,
    allowed: set[str] | None,
    *,
    overwrite: bool,
    skip_failed: bool,
) -> set[str]:
    """Raise on anything that keeps the import from being written; the keys to skip."""
    if not matching.pairs:
        raise ImportFormatError(labels.source, "labels", why=f"match no task ({matching!r})")
    failed = {str(r.item_id) for r in labels.audit if str(r.outcome) == "failed"}
    failed &= set(matching.pairs)
    if failed and not skip_failed:
        details = [f"{r.item_id}: {r.detail}" for r in labels.audit if str(r.item_id) in failed]
        _raise(
            labels.source,
            "audit",
            "annotations failed to read (skip_failed=True leaves those images out)",
            details,
        )
    problems = [
        p
        for key in matching.pairs
        if key not in failed
        for p in document_problems(key, labels[key].data, allowed)
    ]
    problems += _size_problems(labels, tasks, matching, failed)
    if problems:
        _raise(labels.source, "annotations", "cannot be written", problems)
    if not overwrite:
        _check_empty(tasks, list(matching.pairs.values()))
    return failed


def _size_problems(
    labels: Labels, tasks: pd.DataFrame, matching: Matching, failed: set[str]
) -> list[str]:
    """Labels that do not fit their task's image (when the frame has the sizes)."""
    if not {"width", "height"} <= set(tasks.columns):
        return []
    out = []
    for key, task_id in matching.pairs.items():
        if key in failed or task_id not in tasks.index:
            continue
        width, height = tasks.at[task_id, "width"], tasks.at[task_id, "height"]
        if pd.isna(width) or pd.isna(height):
            continue
        image = labels[key]
        size = (int(width), int(height))
        out += size_problems(key, image.data, size, (image.width, image.height))
    return out


def _check_empty(tasks: pd.DataFrame, targets: list[int]) -> None:
    """Raise unless every target task is known to have no annotations yet."""
    if "n_annotations" not in tasks.columns:
        raise ImportFormatError(
            "<tasks>",
            "n_annotations",
            why="is not a column, so existing annotations cannot be ruled out; "
            "pass overwrite=True to write anyway",
        )
    counts = tasks["n_annotations"].fillna(0)
    busy = [t for t in targets if t in counts.index and counts.loc[t] > 0]
    if busy:
        _raise(
            "<tasks>",
            "overwrite = False",
            "already have annotations; pass overwrite=True to replace them",
            [f"task {t}" for t in busy],
        )


def _raise(source: str, field: str, why: str, problems: list[str]) -> None:
    shown = "; ".join(problems[:_SHOWN])
    more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
    raise ImportFormatError(source, field, why=f"{shown}{more} {why}")


def _reporter(progress: Any, total: int) -> Callable[[int, int], None]:
    """``report(done, total)``; ``report(-1, total)`` closes a bar."""
    if callable(progress) and not isinstance(progress, bool):
        callback = as_progress(progress)
        return lambda done, n: callback(done, n, "import") if callback and done >= 0 else None
    if progress is False or (progress is None and total <= 20):
        return lambda done, n: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="import_to_tasks", unit=" tasks", leave=False)

    def report(done: int, n: int) -> None:
        if done < 0:
            bar.close()
        else:
            bar.update(done - bar.n)

    return report


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": pd.array([r[0] for r in rows], dtype="string"),
            "task_id": pd.array([r[1] for r in rows], dtype="Int64"),
            "status": pd.Categorical([r[2] for r in rows], categories=list(_STATUSES)),
            "n_annotations": pd.array([r[3] for r in rows], dtype="Int64"),
            "error": pd.array([r[4] for r in rows], dtype="string"),
        }
    )
