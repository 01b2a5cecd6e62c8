"""The progress callback the built-in plugins hand to the package's workflows."""

from __future__ import annotations

from typing import Any

from synapse_nb.plugins._progress import ProgressCallback

__all__ = ["job_progress"]


def job_progress(ctx: Any) -> ProgressCallback:
    """A workflow progress callback that reports to the job and stops it when asked.

    Each call is a stop checkpoint (``ctx.check_stop()``), then goes to ``ctx.set_progress``
    unless there is nothing to count yet (``total`` 0, which a job's progress refuses).

    Args:
        ctx: The job's :class:`~synapse_nb.plugins.runtime.RunContext`.

    Example:
        >>> class Job:  # stands in for the job's RunContext
        ...     def check_stop(self): pass
        ...     def set_progress(self, current, total, category): print(current, total, category)
        >>> progress = job_progress(Job())
        >>> progress(0, 0, "fetch"); progress(3, 4, "fetch")
        3 4 fetch
    """

    def report(current: int, total: int, category: str) -> None:
        ctx.check_stop()
        if total > 0:
            ctx.set_progress(current, total, category)

    return report
