""":class:`TagStore`: the task tags of a server — names, name -> id resolution, tagging.

Example:
    >>> resolve = TagResolver(lambda: [{"id": 3, "name": "blurry", "project": 1}])
    >>> resolve(("blurry", 5))
    (3, 5)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import InvalidInputError

__all__ = ["TagResolver", "TagStore", "resolve_tag_name"]


def resolve_tag_name(records: list[dict[str, Any]], name: str, project: Any = None) -> int:
    """The id of the tag called ``name`` (preferring the tags of ``project``).

    Raises:
        InvalidInputError: No tag, or several tags, have this name.

    Example:
        >>> resolve_tag_name([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], "b")
        2
    """
    matches = [t for t in records if t.get("name") == name]
    if project is not None and not pd.isna(project) and len(matches) > 1:
        scoped = [t for t in matches if t.get("project") in (int(project), None)]
        matches = scoped or matches
    if not matches:
        raise InvalidInputError("tags", name, "no task tag has this name", method="tags")
    if len(matches) > 1:
        ids = sorted(t["id"] for t in matches)
        raise InvalidInputError(
            "tags", name, f"is ambiguous (tags {ids}); give the tag id", method="tags"
        )
    return int(matches[0]["id"])


class TagResolver:
    """Maps tag ids or names (of a row's project) to a sorted tuple of tag ids.

    The tag list is read once, on the first name to resolve.

    Args:
        load: Returns the tag records (``id``, ``name``, ``project``).

    Example:
        >>> TagResolver(lambda: [])((2, 1))   # ids only: nothing is read
        (2, 1)
    """

    def __init__(self, load: Callable[[], list[dict[str, Any]]]) -> None:
        self._load = load
        self._records: list[dict[str, Any]] | None = None

    def __call__(self, values: tuple[Any, ...], project: Any = None) -> tuple[Any, ...]:
        if not any(isinstance(v, str) for v in values):
            return values
        if self._records is None:
            self._records = self._load()
        out = set()
        for value in values:
            out.add(
                resolve_tag_name(self._records, value, project) if isinstance(value, str) else value
            )
        return tuple(sorted(out, key=lambda v: (not isinstance(v, int), str(v))))


class TagStore:
    """The task tags of one server: their records and names, and tagging rows.

    Args:
        raw: The ``BackendClient`` the tags are read and set with.

    Example:
        >>> with BackendClient("http://127.0.0.1:9", api_token="t") as raw:
        ...     type(TagStore(raw).resolver()).__name__
        'TagResolver'
    """

    def __init__(self, raw: BackendClient) -> None:
        self.raw = raw

    def records(self) -> list[dict[str, Any]]:
        """Every task tag record (all pages).

        Example:
            >>> client.tags.records()[0]["name"]
            'needs-review'
        """
        items, _count = self.raw.list_task_tags(params={"page_size": 1000}, list_all=True)
        return list(items)

    def names(self) -> dict[int, str]:
        """Tag id -> tag name (tags without a name are left out: shown as ``tag:<id>``).

        Example:
            >>> client.tags.names()[2]
            'blurry'
        """
        return {
            int(t["id"]): str(t["name"])
            for t in self.records()
            if "id" in t and t.get("name") is not None
        }

    def resolver(self) -> TagResolver:
        """A :class:`TagResolver` that reads the tag list when it first meets a name.

        Example:
            >>> client.tags.resolver()(("blurry", 1), project=1)
            (1, 2)
        """
        return TagResolver(self.records)

    def set(
        self,
        kind: str,
        ids: Iterable[int],
        tags: Iterable[int],
        action: str,
        *,
        replace: bool = False,
    ) -> Any:
        """Add (``action='add'``) or remove tag ids on tasks or assignments, one request.

        Example:
            >>> _ = client.tags.set("task", [1, 2], [3], "add")
            >>> client.rows.current_values("task", [1])[1]["tags"]
            (3,)
            >>> _ = client.tags.set("task", [1, 2], [3], "remove")
        """
        body = {"ids": [int(i) for i in ids], "tags": [int(t) for t in tags], "action": action}
        params = {"replace": True} if replace else None
        if kind == "task":
            return self.raw.set_tags_tasks(body, params=params)
        return self.raw.set_tags_assignments(body, params=params)
