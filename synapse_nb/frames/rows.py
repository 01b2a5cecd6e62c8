"""The listing resources of frames, and :class:`RowStore`: rows re-read by id or counted.

Every frame kind is listed by one ``BackendClient`` method (:data:`RESOURCES`).
:class:`RowStore` is the small seam the refresh, the write-back and the widgets use to
read rows back from the server: by id (``id__in``, chunked and concurrent), their writable
values as the server has them now, or only their count or ids.

Example:
    >>> RESOURCES["task"].method, RESOURCES["task"].cacheable
    ('list_tasks', True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from synapse_nb.clients import BackendClient
from synapse_nb.frames.schemas import SCHEMAS
from synapse_nb.frames.writeback import normalize_value

__all__ = ["ID_CHUNK", "RESOURCES", "TAGGED", "Resource", "RowStore", "raw_list"]

#: Ids per ``id__in`` request when re-reading rows (keeps URLs short).
ID_CHUNK = 200


@dataclass(frozen=True)
class Resource:
    """How one frame kind is listed.

    Attributes:
        method: The ``BackendClient`` listing method.
        conversion: The method takes ``url_conversion``.
        cacheable: The resource has ``modified`` filters, so an incremental refresh works.
    """

    method: str
    conversion: bool
    cacheable: bool


#: frame kind -> how it is listed
RESOURCES = {
    "task": Resource("list_tasks", True, True),
    "assignment": Resource("list_assignments", True, True),
    "ground_truth_event": Resource("list_ground_truth_events", True, True),
    "model": Resource("list_models", False, False),
    "job": Resource("list_jobs", False, False),
    "task_tag": Resource("list_task_tags", False, False),
    "data_unit": Resource("list_data_units", True, False),
    "data_collection": Resource("list_data_collection", False, False),
}

#: kinds whose rows carry task tags (their frames get ``tag_names``)
TAGGED = frozenset({"task", "assignment"})

#: frame column -> field of the API record, for the writable columns
_RECORD_FIELDS = {"assignee_id": "assignee"}

#: record fields read back when checking a push against the server
_WRITABLE_FIELDS = {
    "task": "id,status,priority,assignee,tags,metadata,is_discarded",
    "assignment": "id,status_label,status_review,tags",
}


def raw_list(
    raw: BackendClient,
    kind: str,
    query: Mapping[str, Any],
    list_all: bool,
    url_conversion: Any = None,
    page_options: Mapping[str, Any] | None = None,
) -> Any:
    """The raw listing of ``kind``: an envelope, or ``(items, count)`` with ``list_all``.

    URLs are kept as strings unless ``url_conversion`` asks otherwise.

    Example:
        >>> with BackendClient("http://127.0.0.1:9", api_token="t") as raw:
        ...     raw_list(raw, "nothing", {}, False)
        Traceback (most recent call last):
        ...
        KeyError: 'nothing'
    """
    resource = RESOURCES[kind]
    method = getattr(raw, resource.method)
    kwargs: dict[str, Any] = {"params": dict(query), "list_all": list_all, **(page_options or {})}
    if resource.conversion:
        kwargs["url_conversion"] = False if url_conversion is None else url_conversion
    return method(**kwargs)


def _chunks(values: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class RowStore:
    """Rows of one server, read back by id, counted or patched.

    Args:
        raw: The ``BackendClient`` the rows are read with.

    Example:
        >>> with BackendClient("http://127.0.0.1:9", api_token="t") as raw:
        ...     RowStore(raw).records("task", [])
        []
    """

    def __init__(self, raw: BackendClient) -> None:
        self.raw = raw

    def records(
        self, kind: str, ids: Iterable[int], *, fields: str | None = None
    ) -> list[dict[str, Any]]:
        """Records of ``ids`` (any order; missing ids are simply absent), chunked by
        :data:`ID_CHUNK` ids and fetched concurrently.

        Example:
            >>> client.rows.records("task", [2, 1, 2], fields="id,status")
            [{'id': 1, 'status': 'pending'}, {'id': 2, 'status': 'pending'}]
        """
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return []
        extra = {"fields": fields} if fields else {}

        def fetch(chunk: list[int]) -> list[dict[str, Any]]:
            query = {**extra, "id__in": ",".join(map(str, chunk)), "page_size": len(chunk)}
            items, _count = raw_list(self.raw, kind, query, True, None, {"max_workers": 1})
            return list(items)

        chunks = list(_chunks(wanted, ID_CHUNK))
        if len(chunks) == 1:
            return fetch(chunks[0])
        with ThreadPoolExecutor(self.raw.max_workers, thread_name_prefix="synapse-ids") as pool:
            return [r for part in pool.map(fetch, chunks) for r in part]

    def data(self, kind: str, ids: Iterable[int]) -> dict[int, Any]:
        """The DM annotation data of ``ids`` (``fields=id,data``); missing ids are absent.

        Example:
            >>> sorted(client.rows.data("task", [1, 2, 10**9]))
            [1, 2]
        """
        return {int(r["id"]): r.get("data") for r in self.records(kind, ids, fields="id,data")}

    def current_values(self, kind: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Normalized writable values of ``ids`` as the server has them now.

        Example:
            >>> client.rows.current_values("task", [1])[1]["tags"]
            ()
        """
        out = {}
        for record in self.records(kind, ids, fields=_WRITABLE_FIELDS[kind]):
            values = {}
            for column in SCHEMAS[kind].writable:
                raw = record.get(_RECORD_FIELDS.get(column, column))
                if column == "assignee_id" and isinstance(raw, Mapping):
                    raw = raw.get("id")
                values[column] = normalize_value(column, raw)
            out[int(record["id"])] = values
        return out

    def count(self, kind: str, query: Mapping[str, Any]) -> int | None:
        """How many rows match ``query`` (one request of one id).

        Example:
            >>> client.rows.count("task", {"project": 1})
            240
        """
        probe = {k: v for k, v in query.items() if k not in ("page", "page_size")}
        probe.update({"page_size": 1, "fields": "id"})
        page = raw_list(self.raw, kind, probe, False)
        return page.get("count") if isinstance(page, dict) else None

    def ids(self, kind: str, query: Mapping[str, Any]) -> list[int]:
        """The ids of every row that matches ``query``, in the server's order.

        Example:
            >>> client.rows.ids("task", {"project": 1})[:3]
            [1, 3, 5]
        """
        probe = {k: v for k, v in query.items() if k not in ("page", "fields", "expand")}
        probe.update({"page_size": 1000, "fields": "id"})
        items, _count = raw_list(self.raw, kind, probe, True)
        return [int(r["id"]) for r in items]

    def patcher(self, kind: str) -> Callable[[int, dict[str, Any]], Any]:
        """The ``PATCH`` of one row of ``kind`` (``update_task`` or ``update_assignment``).

        Example:
            >>> with BackendClient("http://127.0.0.1:9", api_token="t") as raw:
            ...     RowStore(raw).patcher("task").__name__
            'update_task'
        """
        return self.raw.update_task if kind == "task" else self.raw.update_assignment
