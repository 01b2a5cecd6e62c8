"""Split the items of a built-in job into shards and run each shard as a Ray task.

A job that runs on Ray (:attr:`RunContext.ray_address <synapse_nb.plugins.runtime.RunContext
.ray_address>` is set) and selects more items than one shard (``shard_size``) hands the
per-item work to Ray tasks: each task gets one shard of item ids and a :class:`JobAccess` (the
job's backend URL and token; the token stays out of reprs and logs) and talks to the backend
itself. :class:`ShardTasks` reports progress as shards finish and cancels the unfinished tasks
when the job is asked to stop. On the local executor none of this runs and Ray is never
imported.

Example:
    >>> split_ids([5, 6, 7, 8, 9], 2)
    [[5, 6], [7, 8], [9]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from synapse_nb.exceptions import InvalidInputError

__all__ = ["DEFAULT_SHARD_SIZE", "JobAccess", "ShardTasks", "list_ids", "shard_size", "split_ids"]

#: items per Ray task when the job's params do not say
DEFAULT_SHARD_SIZE = 5000
#: seconds between two looks at the unfinished tasks (and at a stop request)
WAIT_STEP = 0.2
#: seconds a sharded job has to notice a stop itself before it is interrupted
STOP_WINDOW = 10.0


class JobAccess:
    """The job's backend URL and token, as handed to a Ray task (the token never shown).

    Each shard task receives it as a task argument, pickled with the raw token: the token is
    in Ray's object store (readable from the cluster) while the job runs, and revoked when the
    job ends. What Ray packages for the job itself holds no token (a one-time claim code).

    Example:
        >>> access = JobAccess("http://127.0.0.1:1/", "secret-token")
        >>> "secret-token" in repr(access), access.base_url
        (False, 'http://127.0.0.1:1/')
    """

    __slots__ = ("_token", "base_url")

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self._token = token

    def __repr__(self) -> str:
        return f"JobAccess(base_url={self.base_url!r}, token=***)"

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:  # pickled into the task's arguments
        return (JobAccess, (self.base_url, self._token))

    def client(self) -> Any:
        """A ``BackendClient`` on the job's token."""
        from synapse_nb.clients import BackendClient

        return BackendClient(self.base_url, api_token=self._token)

    def notebook_client(self) -> Any:
        """A notebook ``Client`` on the job's token (no cache, no progress bars); close it."""
        from synapse_nb.frames import Client

        return Client(self.base_url, api_token=self._token, cache=False, progress=False)


def shard_size(params: Mapping[str, Any]) -> int:
    """The run's ``shard_size`` (default :data:`DEFAULT_SHARD_SIZE`), checked.

    Example:
        >>> shard_size({}), shard_size({"shard_size": 100})
        (5000, 100)
    """
    size = params.get("shard_size", DEFAULT_SHARD_SIZE)
    if size is None:
        return DEFAULT_SHARD_SIZE
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInputError("shard_size", size, "must be an int >= 1", method="run")
    return size


def split_ids(ids: Sequence[int], size: int) -> list[list[int]]:
    """``ids`` in consecutive shards of at most ``size`` (their order kept).

    Example:
        >>> split_ids([1, 2, 3], 5)
        [[1, 2, 3]]
    """
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def list_ids(lister: Callable[..., Any], query: Mapping[str, Any]) -> list[int]:
    """The ids a listing selects, in its order (only the ids travel).

    Example:
        >>> ids = list_ids(backend.list_tasks, {"project": 1})
        >>> len(ids) > 0 and all(isinstance(i, int) for i in ids)
        True
    """
    rows, _ = lister({**query, "fields": "id"}, url_conversion=False, list_all=True)
    return [int(row["id"]) for row in rows]


class ShardTasks:
    """Ray tasks over shards, for one job: progress per finished shard, cancelled on stop.

    Args:
        ctx: the job's :class:`~synapse_nb.plugins.runtime.RunContext` (on Ray).
        category: the progress category of these tasks.
    """

    def __init__(self, ctx: Any, category: str) -> None:
        self.ctx = ctx
        self.category = category
        self.ray = ctx.connect_ray()
        # these tasks look for a stop request every WAIT_STEP; the forced interrupt that would
        # otherwise come after the stop window could land inside a call into Ray's core worker
        # (which may crash it before the tasks are cancelled), so it comes later here
        ctx.stop_window = max(ctx.stop_window, STOP_WINDOW)

    def submit(self, function: Callable[..., Any], args: Sequence[Sequence[Any]],
               num_returns: int = 1) -> list[Any]:  # fmt: skip
        """One task per argument tuple; its object ref (a list of refs with ``num_returns``).

        A stop request while tasks are submitted cancels those already started.
        """
        remote = self.ray.remote(function).options(num_returns=num_returns)
        refs: list[Any] = []
        for one in args:
            self._stop_if_requested([r[0] if num_returns > 1 else r for r in refs], len(args))
            refs.append(remote.remote(*one))
        return refs

    def wait(self, refs: Sequence[Any]) -> list[Any]:
        """The tasks' results in the order of ``refs``; progress as each finishes.

        A stop request cancels the unfinished tasks and raises ``JobStopped``.
        """
        pending = list(refs)
        total = len(pending)
        while pending:
            self._stop_if_requested(pending, total)
            done, pending = self.ray.wait(pending, num_returns=len(pending), timeout=WAIT_STEP)
            if done:
                self.ctx.set_progress(total - len(pending), total, self.category)
        return list(self.ray.get(list(refs)))

    def _stop_if_requested(self, unfinished: list[Any], total: int) -> None:
        if not self.ctx.stop_requested:
            return
        for ref in unfinished:
            self.ray.cancel(ref)
        self.ctx.log_message(f"Stop requested: cancelled {len(unfinished)} of {total} Ray tasks",
                             level="warning", step="shards")  # fmt: skip
        self.ctx.check_stop()
