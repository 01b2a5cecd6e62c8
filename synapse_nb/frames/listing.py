""":class:`Lister`: one listing request (one page, or every page) -> a typed frame.

The lister reads through the raw ``BackendClient``, fetches the tag names of tagged kinds
while the pages stream in, shows progress on long listings and stamps each frame's
``attrs['synapse']`` (kind, query, count, whether it is complete, the client's key).

Example:
    >>> from synapse_nb.clients import BackendClient
    >>> with BackendClient("http://127.0.0.1:9", api_token="t") as raw:
    ...     Lister(raw, key="k").meta("task", {"project": 1}, 3, False, True)["count"]
    3
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from synapse_nb.clients import BackendClient
from synapse_nb.frames.build import build_frame
from synapse_nb.frames.columnar import page_decoder
from synapse_nb.frames.progress import progress_options
from synapse_nb.frames.rows import RESOURCES, TAGGED, raw_list
from synapse_nb.frames.tagging import TagStore

__all__ = ["FRAME_PAGE_SIZE", "Lister", "jsonable", "now_iso"]

#: Rows per page of ``list_all=True`` frame listings when the caller sets no ``page_size``.
FRAME_PAGE_SIZE = 1000


def jsonable(query: Mapping[str, Any]) -> dict[str, Any]:
    """The query as plain JSON values (attrs are deep-copied and may be written to files).

    Example:
        >>> jsonable({"tags": (1, 2)})
        {'tags': [1, 2]}
    """
    loaded: dict[str, Any] = json.loads(json.dumps(dict(query), default=str))
    return loaded


def now_iso() -> str:
    """The current UTC time as ISO-8601 text (the ``fetched_at`` of frames).

    Example:
        >>> now_iso().endswith("+00:00")
        True
    """
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Lister:
    """Listings of one server as typed frames.

    Args:
        raw: The ``BackendClient`` that sends the requests.
        key: The owning client's key, stamped into every frame's metadata.
        frame_page_size: Page size of ``list_all`` listings that set none.
        progress: The default ``progress=`` option (see :mod:`synapse_nb.frames.progress`).

    Example:
        >>> with BackendClient("http://127.0.0.1:9", api_token="t") as raw:
        ...     Lister(raw, key="k").frame_page_size
        1000
    """

    def __init__(
        self,
        raw: BackendClient,
        *,
        key: str,
        frame_page_size: int = FRAME_PAGE_SIZE,
        progress: bool | None = None,
    ) -> None:
        self.raw = raw
        self.key = key
        self.tags = TagStore(raw)
        self.frame_page_size = frame_page_size
        self.progress = progress

    def meta(
        self, kind: str, query: Mapping[str, Any], count: Any, include_data: bool, complete: bool
    ) -> dict[str, Any]:
        """The ``attrs['synapse']`` of a frame of ``kind`` listed with ``query``."""
        return {
            "kind": kind,
            "method": RESOURCES[kind].method,
            "query": jsonable(query),
            "count": count if isinstance(count, int) else None,
            "complete": complete,
            "include_data": include_data,
            "client": self.key,
            "base_url": self.raw.base_url,
            "fetched_at": now_iso(),
        }

    def all_rows(
        self,
        kind: str,
        query: Mapping[str, Any],
        include_data: bool,
        page_options: Mapping[str, Any],
        url_conversion: Any = None,
    ) -> pd.DataFrame:
        """Every row of a listing, straight from the server; pages fetched concurrently.

        The pages of the long listings (tasks, assignments, ground-truth events) are decoded
        into typed rows (:mod:`synapse_nb.frames.columnar`) unless the DM data is kept or
        URLs are converted.

        Example:
            >>> lister = Lister(client.raw, key="doc")
            >>> len(lister.all_rows("task", {"project": 1}, False, {}))
            240
        """
        query = dict(query)
        query.setdefault("page_size", self.frame_page_size)
        method = RESOURCES[kind].method
        with (
            ThreadPoolExecutor(1, thread_name_prefix="synapse-tags") as pool,
            progress_options(method, page_options, self.progress) as options,
        ):
            # the tag names are fetched while the pages stream in
            names = pool.submit(self.tags.names).result if kind in TAGGED else None
            decode = None if include_data or url_conversion is not None else page_decoder(kind)
            if decode is not None:  # pages decoded straight into typed rows
                options = {**options, "decode": decode}
            items, count = raw_list(self.raw, kind, query, True, url_conversion, options)
            meta = self.meta(kind, query, count, include_data, complete=True)
            return build_frame(kind, items, tag_names=names, include_data=include_data, meta=meta)

    def one_page(
        self,
        kind: str,
        query: Mapping[str, Any],
        include_data: bool,
        page_options: Mapping[str, Any],
        url_conversion: Any = None,
    ) -> pd.DataFrame:
        """One page of a listing; the frame's metadata says "N of count".

        Example:
            >>> lister = Lister(client.raw, key="doc")
            >>> page = lister.one_page("task", {"project": 1, "page_size": 5}, False, {})
            >>> len(page), page.attrs["synapse"]["count"]
            (5, 240)
        """
        tag_names = self.tags.names() if kind in TAGGED else None
        options = {k: v for k, v in page_options.items() if k != "progress"}
        page = raw_list(self.raw, kind, query, False, url_conversion, options)
        results = page.get("results", []) if isinstance(page, dict) else list(page or [])
        count = page.get("count") if isinstance(page, dict) else len(results)
        meta = self.meta(kind, query, count, include_data, complete=False)
        frame = build_frame(
            kind, results, tag_names=tag_names, include_data=include_data, meta=meta
        )
        frame.attrs["synapse"]["complete"] = count is None or len(frame) >= count
        return frame

    def by_id(self, kind: str, records: list[dict[str, Any]], include_data: bool) -> pd.DataFrame:
        """A frame of ``records`` read back by id (no listing metadata).

        Example:
            >>> lister = Lister(client.raw, key="doc")
            >>> lister.by_id("task", client.rows.records("task", [1, 2]), False).index.tolist()
            [1, 2]
        """
        tag_names = self.tags.names() if kind in TAGGED else None
        return build_frame(kind, records, tag_names=tag_names, include_data=include_data)
