"""The tasks of an evaluation computed from server data: what an ``EvaluationPanel`` built
from ``client.evaluate(...)`` shows and tags, found without a hand-made image -> task map.

``client.evaluate`` numbers its images by data unit id (``result.links`` says so: every
annotation's ``data_unit_id``), so the task of an image is the task of that data unit. A data
unit can be in tasks of several projects; ``project`` picks one. Without it, the project
whose tasks cover every evaluated data unit is used when there is exactly one such project;
otherwise the data units with several tasks are an error naming them rather than a guess.

Example:
    >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
    >>> tasks, images = tasks_of_result(client, res)
    >>> bool((tasks.loc[list(images.values()), "data_unit_id"].to_numpy()
    ...       == list(images.keys())).all())
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.evaluation import EvaluationResult
from synapse_nb.exceptions import InvalidInputError

__all__ = ["tasks_of_result"]

#: Data unit ids per task listing request (keeps the query string short).
CHUNK = 500


def _check(result: Any, project: Any, method: str) -> None:
    if not isinstance(result, EvaluationResult):
        raise InvalidInputError("result", type(result).__name__, "must be an EvaluationResult",
                                method=method)
    if result.links is None:
        raise InvalidInputError(
            "result", "links=None", "was not evaluated from Synapse data (client.evaluate): "
            "pass tasks= and images=", method=method)  # fmt: skip
    if project is not None and (isinstance(project, bool) or not isinstance(project, int)):
        raise InvalidInputError("project", project, "must be a project id", method=method)


def _list(client: Any, units: np.ndarray, project: int | None) -> pd.DataFrame:
    frames = []
    for start in range(0, len(units), CHUNK):
        params: dict[str, Any] = {"data_unit": ",".join(str(u) for u in units[start:start + CHUNK])}
        if project is not None:
            params["project"] = project
        frames.append(client.list_tasks(params, list_all=True))
    tasks = frames[0] if len(frames) == 1 else pd.concat(frames)
    if len(frames) > 1:
        tasks.attrs = frames[0].attrs  # the client link (tagging) survives the concat
    return tasks.sort_index()


def tasks_of_result(
    client: Any, result: EvaluationResult, *, project: int | None = None,
    method: str = "tasks_of_result",
) -> tuple[pd.DataFrame, dict[int, int]]:
    """The task frame of an evaluation's images and the image (data unit) -> task map.

    Args:
        client: The :class:`~synapse_nb.frames.Client` that evaluated.
        result: An :class:`~synapse_nb.evaluation.EvaluationResult` from ``client.evaluate``.
        project: Only tasks of this project (needed when a data unit has several tasks).

    Returns:
        ``(tasks, images)``: the tasks (index = task id, ``file_url``, ``data_unit_id``) and
        ``{data unit id: task id}``.

    Raises:
        InvalidInputError: A result without links, a data unit with no task, or one with
            several tasks and no ``project``.

    Example:
        >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
        >>> tasks, images = tasks_of_result(client, res, project=1)
        >>> len(images) == len(set(res.per_image()["data_unit_id"]))
        True
    """
    _check(result, project, method)
    units = np.unique(np.asarray(result.run.gt.image_ids, np.int64))
    tasks = _list(client, units, project) if len(units) else client.list_tasks({"id__in": "0"})
    by_unit = tasks.groupby("data_unit_id").groups if len(tasks) else {}
    missing = [int(u) for u in units if u not in by_unit]
    if missing:
        where = f" in project {project}" if project is not None else ""
        raise InvalidInputError("result", missing[:10], f"are data units with no task{where}",
                                method=method)
    several = {int(u): sorted(int(t) for t in by_unit[u]) for u in units if len(by_unit[u]) > 1}
    if several:
        covering = _covering_projects(tasks, units)
        if project is None and len(covering) == 1:
            return tasks_of_result(client, result, project=covering[0], method=method)
        first = dict(list(several.items())[:5])
        raise InvalidInputError("project", project, f"must name one project (each of "
                                f"{covering} has a task of every data unit): data units in "
                                f"several tasks (data unit: tasks) {first}", method=method)
    images = {int(u): int(by_unit[u][0]) for u in units}
    return tasks, images


def _covering_projects(tasks: pd.DataFrame, units: np.ndarray) -> list[int]:
    """Projects with a task of every one of ``units``."""
    if "project" not in tasks.columns:
        return []
    per_project = tasks.groupby("project")["data_unit_id"].nunique()
    return [int(p) for p, n in per_project.items() if n == len(units)]
