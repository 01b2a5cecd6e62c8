"""Walking DRF page-number lists: the generator behind ``list_all=True``.

After the first page, when the envelope has a ``count`` and its ``next`` link carries a
visible ``page`` param, the remaining page URLs are known up front: each is the first
``next`` link with ``page=N`` set, so every filter the caller sent is kept. They are fetched
by a bounded thread pool, at most ``lookahead`` pages ahead of the page being yielded, and
yielded strictly in server order, each page exactly once (transport retries repeat a
request, never a page). Memory is bounded by the look-ahead window, not by the list size.

Without ``count`` (cursor mode) or without a ``page`` param, the walk follows ``next``
links one by one, fetching the next page while the current one is being consumed.

Every walk ends. A ``next`` link back to a page already visited is a cycle; a page without
results that still has a ``next`` link, more pages than the announced ``count`` needs (with
a slack of 10%, at least 2 pages, for a list that grows while walked), or more than
``max_pages`` pages (:data:`~synapse_nb._config.DEFAULT_MAX_PAGES`, the bound of lists without
a ``count``) all stop the walk with a :class:`~synapse_nb.exceptions.PaginationError`.

A page that still fails after the transport's retries and ``page_retries`` more attempts
raises, unless the caller passed a ``page_failures`` list: then the failure is appended as
``{'page', 'url', 'error'}`` and the walk goes on.

Example:
    >>> page_url("http://h/api/sdk/tasks/?page=2&page_size=100&project=3", 7)
    'http://h/api/sdk/tasks/?page=7&page_size=100&project=3'
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from synapse_nb._config import DEFAULT_MAX_PAGES, DEFAULT_MAX_WORKERS
from synapse_nb.exceptions import (
    ClientConnectionError,
    ClientError,
    ClientTimeoutError,
    InvalidInputError,
    NotFoundError,
    PaginationError,
)

__all__ = ["PageWalker", "fetch_with_retries", "page_url"]

logger = logging.getLogger("synapse_nb.pagination")

#: Fetches one page URL and returns the envelope (already url-converted).
FetchPage = Callable[[str], dict[str, Any]]

_PAGE_RETRY_CAP = 30.0


def page_url(next_url: str, page: int) -> str:
    """Return ``next_url`` with its ``page`` query param set to ``page``.

    Example:
        >>> page_url("http://h/x/?a=1&page=2", 5)
        'http://h/x/?a=1&page=5'
    """
    parts = urlsplit(next_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    position = next((i for i, (k, _) in enumerate(pairs) if k == "page"), len(query))
    query.insert(position, ("page", str(page)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _count_in(text: str) -> int | None:
    """``text`` as a page number or size: ASCII digits of at most 18 (else None).

    A server's link is not trusted: ``str.isdigit`` is also true of "²", which ``int``
    refuses, and ``int`` refuses text of more than 4,300 digits.

    Example:
        >>> _count_in("12"), _count_in("²"), _count_in("9" * 5000), _count_in("-1")
        (12, None, None, None)
    """
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _page_number(url: str | None) -> int | None:
    if not url:
        return None
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "page":
            number = _count_in(value)
            if number is not None:
                return number
    return None


def _page_size(next_url: str, first_results: int) -> int | None:
    # Page 1 is full whenever there is a next page, so its length is the page size the
    # server really used: a server that caps page_size below the one asked for (DRF's
    # max_page_size) would otherwise make us skip pages.
    if first_results:
        return first_results
    for key, value in parse_qsl(urlsplit(next_url).query):
        size = _count_in(value) if key == "page_size" else None
        if size:
            return size
    return None


class PageWalker:
    """Iterates every item of a paginated list, fetching pages concurrently.

    Args:
        fetch: Callable that GETs one absolute page URL and returns its envelope.
        first_page: The envelope of page 1, already fetched (it gives ``count``).
        max_workers: Concurrent page fetches (1 = sequential).
        lookahead: Pages fetched ahead of the one being yielded; defaults to
            ``min(2 * max_workers, max_workers + 4)``: a few done pages may queue while the
            page being yielded is slow. Bounds memory.
        page_failures: When a list is given, failed pages are recorded in it instead of
            raising.
        page_retries: Extra attempts of a page after the transport gave up.
        page_retry_backoff: Base seconds of the wait between page attempts (doubles each
            time, capped at 30 s).
        progress: Called as ``progress(items_so_far, count)`` each time a page is handed
            over (``count`` is the server's, or None); what progress bars hook into.
        max_pages: Most pages fetched, page 1 included.
        label: What is listed, for error messages (e.g. ``tasks/``).

    Raises:
        PaginationError: The first page announces more pages than ``max_pages`` (at once),
            or the walk does not end as announced (while iterating).

    Example:
        >>> pages = {"u?page=2": {"results": [3], "next": None}}
        >>> first = {"count": 3, "next": "u?page=2", "results": [1, 2]}
        >>> list(PageWalker(pages.__getitem__, first, max_workers=2))
        [1, 2, 3]
    """

    def __init__(
        self,
        fetch: FetchPage,
        first_page: dict[str, Any],
        *,
        max_workers: int = DEFAULT_MAX_WORKERS,
        lookahead: int | None = None,
        page_failures: list[dict[str, Any]] | None = None,
        page_retries: int = 2,
        page_retry_backoff: float = 1.0,
        progress: Callable[[int, int | None], Any] | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        label: str = "",
    ) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise InvalidInputError("max_workers", max_workers, "must be an int >= 1")
        if page_failures is not None and not isinstance(page_failures, list):
            raise InvalidInputError("page_failures", page_failures, "must be a list or None")
        if isinstance(page_retries, bool) or not isinstance(page_retries, int) or page_retries < 0:
            raise InvalidInputError("page_retries", page_retries, "must be an int >= 0")
        self._fetch = fetch
        self._first = first_page
        self._workers = max_workers
        default = min(2 * max_workers, max_workers + 4)
        self._lookahead = max(1, lookahead if lookahead is not None else default)
        self._failures = page_failures
        self._retries = page_retries
        self._backoff = page_retry_backoff
        self._progress = progress
        self._handed = 0
        if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
            raise InvalidInputError("max_pages", max_pages, "must be an int >= 1")
        self._max_pages = max_pages
        self._label = label
        self._pages = 1
        self._visited: set[str] = set()
        self._budget = self._page_budget()

    def _page_budget(self) -> int:
        # Pages the walk may fetch in all: the announced count's pages plus slack, never
        # more than max_pages; without a count, max_pages.
        count = self._first.get("count")
        next_url = self._first.get("next")
        if not next_url or not isinstance(count, int) or isinstance(count, bool):
            return self._max_pages
        size = _page_size(next_url, len(self._first.get("results") or [])) or 1
        expected = max(1, math.ceil(count / size))
        if expected > self._max_pages:
            raise PaginationError(
                f"the server announces {count} items in {expected} pages, above "
                f"max_pages={self._max_pages}; pass max_pages= to walk further",
                path=self._label,
            )
        return min(self._max_pages, expected + max(2, expected // 10))

    def _stop(self, problem: str) -> PaginationError:
        return PaginationError(problem, path=self._label)

    def _admit(self, url: str) -> None:
        """Account for one more page fetch, refusing cycles and walks past the budget."""
        key = _normalised(url)
        if key in self._visited:
            raise self._stop(f"the next link {_shown(url)} points back to a page already visited")
        self._visited.add(key)
        self._pages += 1
        if self._pages > self._budget:
            count = self._first.get("count")
            if self._budget < self._max_pages and isinstance(count, int):
                raise self._stop(
                    f"more than {self._budget} pages, though the server announced {count} items"
                )
            raise self._stop(
                f"more than max_pages={self._max_pages} pages; pass max_pages= to walk further"
            )

    def _hand_over(self, envelope: dict[str, Any]) -> list[Any]:
        results = envelope.get("results") or []
        if not results and envelope.get("next") and envelope is not self._first:
            raise self._stop("an empty page has a next link (the list would never end)")
        if self._progress is not None:
            self._handed += len(results)
            count = self._first.get("count")
            self._progress(self._handed, count if isinstance(count, int) else None)
        return results

    def __iter__(self) -> Iterator[Any]:
        yield from self._hand_over(self._first)
        next_url = self._first.get("next")
        if not next_url:
            return
        count = self._first.get("count")
        start = _page_number(next_url)
        size = _page_size(next_url, len(self._first.get("results") or []))
        if isinstance(count, int) and start is not None and size:
            last = max(start - 1, math.ceil(count / size))
            yield from self._concurrent(next_url, start, last)
        else:
            yield from self._sequential(next_url, start)

    # ------------------------------------------------------------------ strategies
    def _concurrent(self, next_url: str, start: int, last: int) -> Iterator[Any]:
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="synapse-page")
        pending: deque[tuple[int, str, Future[dict[str, Any] | None]]] = deque()
        upcoming = iter(range(start, last + 1))

        def fill() -> None:
            while len(pending) < self._lookahead:
                number = next(upcoming, None)
                if number is None:
                    return
                url = page_url(next_url, number)
                self._admit(url)
                pending.append((number, url, pool.submit(self._get_page, url, number)))

        tail: str | None = None
        try:
            fill()
            while pending:
                number, _url, future = pending.popleft()
                envelope = future.result()
                fill()
                if envelope is _END:
                    tail = None
                    break
                if envelope is None:  # recorded in page_failures
                    continue
                yield from self._hand_over(envelope)
                if number == last:
                    tail = envelope.get("next")
        finally:
            for _, _, future in pending:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
        if tail:
            # The list grew while we walked it: finish by following next links.
            yield from self._sequential(tail, _page_number(tail))

    def _sequential(self, next_url: str, number: int | None) -> Iterator[Any]:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synapse-page")
        try:
            url: str | None = next_url
            self._admit(next_url)
            future = pool.submit(self._get_page, next_url, number)
            while url:
                envelope = future.result()
                if envelope is _END:
                    return
                if envelope is None:  # failed and recorded: skip to the following page
                    number = (number or 0) + 1 if number is not None else None
                    if number is None:
                        return  # a cursor cannot be advanced past a failed page
                    url = page_url(url, number)
                    self._admit(url)
                    future = pool.submit(self._get_page, url, number)
                    continue
                url = envelope.get("next")
                if url:
                    number = _page_number(url)
                    self._admit(url)
                    future = pool.submit(self._get_page, url, number)
                yield from self._hand_over(envelope)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ one page
    def _get_page(self, url: str, number: int | None) -> Any:
        try:
            return fetch_with_retries(
                self._fetch, url, retries=self._retries, backoff=self._backoff, label=number
            )
        except NotFoundError:
            # DRF answers 404 past the last page: the list shrank while we walked it.
            logger.debug("page %s is past the end; stopping", number)
            return _END
        except ClientError as exc:
            if self._failures is None:
                raise
            logger.debug("page %s failed for good; recorded in page_failures", number)
            self._failures.append({"page": number, "url": url, "error": exc})
            return None


def fetch_with_retries(
    fetch: Callable[[str], Any], url: str, *, retries: int, backoff: float, label: Any = None
) -> Any:
    """Call ``fetch(url)``, retrying transient failures ``retries`` more times.

    Transient means a server error, 408, 429 or a connection failure (no status); the wait
    is ``min(backoff * 2**attempt, 30)`` seconds. Other client errors raise at once.

    Example:
        >>> fetch_with_retries(lambda u: {"results": [u]}, "p1", retries=0, backoff=0)
        {'results': ['p1']}
    """
    attempt = 0
    while True:
        try:
            return fetch(url)
        except ClientError as exc:
            code = exc.status_code
            lost = isinstance(exc, ClientConnectionError | ClientTimeoutError)
            transient = lost or (code is not None and (code >= 500 or code in (408, 429)))
            if not transient or attempt >= retries:
                raise
            wait = min(backoff * 2**attempt, _PAGE_RETRY_CAP)
            attempt += 1
            logger.debug("page %s failed (%s); attempt %d in %.1fs", label, exc, attempt, wait)
            time.sleep(wait)


def _normalised(url: str) -> str:
    # The same page, however its query params are ordered.
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


class _EndMarker(dict):  # a distinct object that still type-checks as an envelope
    pass


_END: Any = _EndMarker()
