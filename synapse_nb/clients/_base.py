"""BaseClient: construction, the request helpers the mixins share, and ``list_all``.

Example:
    >>> client = BaseClient("http://127.0.0.1:9/")
    >>> client
    BaseClient(base_url='http://127.0.0.1:9')
    >>> client.close()
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from synapse_nb._config import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LIST_ALL_PAGE_SIZE,
    DEFAULT_MAX_PAGES,
    DEFAULT_MAX_WORKERS,
    DEFAULT_PAGE_SIZE,
    ResponseLimits,
    RetryPolicy,
    Timeout,
    default_cache_dir,
)
from synapse_nb._pagination import PageWalker, fetch_with_retries
from synapse_nb._progress import AnyProgress
from synapse_nb._transport import _NOT_SET, Transport
from synapse_nb._uploads import ChunkedUploader, check_upload_file
from synapse_nb.clients._url_conversion import MediaCache, UrlConversion, apply, resolve
from synapse_nb.clients._validate import (
    check_bool,
    check_data,
    check_list_options,
    check_list_params,
    check_pk,
    check_ref,
)
from synapse_nb.exceptions import InvalidInputError

__all__ = ["BaseClient", "ListResult"]

#: What ``list_*(list_all=True)`` returns: an item generator and the server's count.
ListResult = tuple[Iterator[dict[str, Any]], int | None]


def _positive_int(value: Any, name: str, method: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(name, value, "must be an int >= 1", method=method)
    return value


#: Internal keyword options of a list call that go to each page's request (the public ones
#: are ``REQUEST_OPTIONS``: ``timeout`` and ``headers``).
_REQUEST_OPTIONS = frozenset({"decode", "expect"})


class BaseClient:
    """Shared plumbing of the Synapse clients (one transport, one media cache).

    Args:
        base_url: Root URL of the API (a path prefix is kept).
        timeout: ``{'connect': s, 'read': s}``, a number, a pair or a
            :class:`~synapse_nb._config.Timeout`; default connect 5 s / read 30 s.
        headers: Authentication headers sent with every API request.
        retry: :class:`~synapse_nb._config.RetryPolicy`, a dict of its fields, or an int
            (maximum retries); default 5 retries with backoff and jitter.
        max_workers: Concurrent page fetches of ``list_all=True``.
        page_size: Page size requested by ``list_all=True`` when params do not set one
            (default 1000; the SDK uses 100).
        cache_dir: Where ``url_conversion`` stores downloaded files.
        default_params: Query params sent with every API request.
        limits: :class:`~synapse_nb._config.ResponseLimits` or a dict of its fields: the
            largest JSON reply (default 64 MiB) and the overall deadline of one call
            (default 300 s).

    Example:
        >>> with BaseClient("http://127.0.0.1:9", timeout={"read": 60}) as c:
        ...     c.timeout
        Timeout(connect=5.0, read=60.0)
    """

    #: Page size of ``list_all=True`` when params set none (the SDK's is 100).
    page_size = DEFAULT_LIST_ALL_PAGE_SIZE

    def __init__(
        self,
        base_url: str,
        timeout: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry: Any = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        page_size: int | None = None,
        cache_dir: str | Path | None = None,
        default_params: Mapping[str, Any] | None = None,
        limits: Any = None,
    ) -> None:
        method = type(self).__name__
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidInputError("base_url", base_url, "must be an http(s) URL", method=method)
        try:
            self.timeout = Timeout.coerce(timeout)
        except ValueError as exc:
            raise InvalidInputError("timeout", timeout, str(exc), method=method) from None
        try:
            policy = RetryPolicy.coerce(retry)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("retry", retry, str(exc), method=method) from None
        try:
            response_limits = ResponseLimits.coerce(limits)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("limits", limits, str(exc), method=method) from None
        self.max_workers = _positive_int(max_workers, "max_workers", method)
        if page_size is not None:
            self.page_size = _positive_int(page_size, "page_size", method)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.base_url = base_url.rstrip("/")
        self._transport = Transport(
            self.base_url,
            auth_headers=dict(headers or {}),
            timeout=self.timeout,
            retry=policy,
            pool_maxsize=self.max_workers + 4,
            default_params=default_params,
            limits=response_limits,
        )
        self._media = MediaCache(self.cache_dir, self._transport.download)

    # ------------------------------------------------------------------ lifecycle
    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections. The client cannot be used afterwards.

        Example:
            >>> c = BaseClient("http://127.0.0.1:9"); c.close()
        """
        self._transport.close()

    def media_path(self, url: str) -> Path:
        """The local copy of a media URL from this backend, downloaded once into the cache.

        Goes through the client's one transport (its origin checks, retries and limits) and
        its download cache, the same files ``url_conversion`` gives.

        Example:
            >>> task = backend.list_tasks({"project": 1, "page_size": 1})["results"][0]
            >>> backend.media_path(task["files"]["image_1"]["url"]).suffix
            '.jpg'
        """
        return Path(self._media.get(url))

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of this client.

        Example:
            >>> BaseClient("http://127.0.0.1:9", retry=2).retry.total
            2
        """
        return self._transport.retry

    # ------------------------------------------------------------------ requests
    def _get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        url_conversion: UrlConversion | None = None,
        **kwargs: Any,
    ) -> Any:
        result = self._transport.request_json("GET", path, params=params, **kwargs)
        return apply(result, url_conversion, self._media)

    def _post(self, path: str, data: Any = _NOT_SET, **kwargs: Any) -> Any:
        return self._send("POST", path, data, **kwargs)

    def _put(self, path: str, data: Any = _NOT_SET, **kwargs: Any) -> Any:
        return self._send("PUT", path, data, **kwargs)

    def _patch(self, path: str, data: Any = _NOT_SET, **kwargs: Any) -> Any:
        return self._send("PATCH", path, data, **kwargs)

    def _patch_checked(
        self, path: str, method: str, pk: Any, data: Any, allowed: tuple[str, ...]
    ) -> dict[str, Any]:
        """PATCH ``{path}/{pk}/`` with ``data`` once every key is one of ``allowed``."""
        pk = check_pk(pk, method=method)
        check_data(data, method=method)
        if not isinstance(data, Mapping) or not data:
            raise InvalidInputError("data", data, "must be a non-empty dict", method=method)
        for key in data:
            if key not in allowed:
                raise InvalidInputError(
                    f"data[{key!r}]", data[key], f"is not writable; one of {allowed}", method=method
                )
        return self._patch(f"{path}/{pk}/", dict(data))

    def _delete(self, path: str, **kwargs: Any) -> Any:
        return self._transport.request_json("DELETE", path, **kwargs)

    def _send(self, method: str, path: str, data: Any, *, files: Any = None, **kwargs: Any) -> Any:
        if files is not None:
            # Multipart, encoded by requests: dict values as JSON text, scalars via str().
            return self._transport.request_json(method, path, data=data, files=files, **kwargs)
        return self._transport.request_json(method, path, json_body=data, **kwargs)

    def _chunked_upload(
        self,
        file_path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: AnyProgress | None = None,
        upload_id: str | int | None = None,
        resume_timeout: float = 120.0,
        method: str = "create_chunked_upload",
    ) -> dict[str, Any]:
        """Validate and run one resumable chunked upload (``create_chunked_upload``'s body)."""
        path = check_upload_file(file_path, method=method)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise InvalidInputError(
                "chunk_size", chunk_size, "must be a positive int of bytes", method=method
            )
        if progress is not None and not callable(progress):
            raise InvalidInputError(
                "progress", progress, "must be callable(sent, total)", method=method
            )
        if upload_id is not None:
            upload_id = check_ref(upload_id, method=method, field="upload_id", what="upload id")
        if (
            isinstance(resume_timeout, bool)
            or not isinstance(resume_timeout, int | float)
            or (resume_timeout < 0)
        ):
            raise InvalidInputError(
                "resume_timeout", resume_timeout, "must be seconds >= 0", method=method
            )
        uploader = ChunkedUploader(
            self._transport,
            path,
            chunk_size=chunk_size,
            progress=progress,
            upload_id=upload_id,
            resume_timeout=float(resume_timeout),
        )
        return uploader.run()

    def _list(
        self,
        path: str,
        params: Any,
        *,
        method: str,
        list_all: Any,
        url_conversion: Any = False,
        default_fields: list[str] | None = None,
        always_page_size: bool = False,
        max_workers: int | None = None,
        page_failures: list[dict[str, Any]] | None = None,
        page_retries: int = 2,
        page_retry_backoff: float = 1.0,
        progress: Any = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        **kwargs: Any,
    ) -> Any:
        """GET a DRF list: the envelope, or ``(generator, count)`` with ``list_all=True``.

        ``progress`` (list_all only): ``callable(items_so_far, count)`` called as each page
        is handed over (``count`` may be None). ``max_pages`` (list_all only) bounds the
        walk; see :mod:`synapse_nb._pagination` for how every walk ends.
        """
        query = check_list_params(params, method=method)
        check_bool(list_all, method=method, field="list_all")
        check_list_options(kwargs, method, _REQUEST_OPTIONS)
        if "timeout" in kwargs:  # checked above: a Timeout or one of its forms
            kwargs["timeout"] = Timeout.coerce(kwargs["timeout"])
        conversion = (
            resolve(url_conversion, default_fields or ["files"], is_list=True, method=method)
            if default_fields or url_conversion
            else None
        )
        workers = (
            self.max_workers
            if max_workers is None
            else _positive_int(max_workers, "max_workers", method)
        )
        if page_failures is not None and not isinstance(page_failures, list):
            raise InvalidInputError("page_failures", page_failures, "must be a list", method=method)
        if progress is not None and not callable(progress):
            raise InvalidInputError(
                "progress", progress, "must be callable(items_so_far, count) or None", method=method
            )
        if not list_all:
            if always_page_size:
                query.setdefault("page_size", DEFAULT_PAGE_SIZE)
            explicit = conversion if conversion is not None and conversion.explicit else None
            return self._get(path, query, url_conversion=explicit, **kwargs)
        query.setdefault("page_size", self.page_size)
        if isinstance(page_retries, bool) or not isinstance(page_retries, int) or page_retries < 0:
            raise InvalidInputError(
                "page_retries", page_retries, "must be an int >= 0", method=method
            )
        if (
            isinstance(page_retry_backoff, bool)
            or not isinstance(page_retry_backoff, int | float)
            or page_retry_backoff < 0
        ):
            raise InvalidInputError(
                "page_retry_backoff", page_retry_backoff, "must be seconds >= 0", method=method
            )
        first = fetch_with_retries(
            lambda url: self._get(url, query, url_conversion=conversion, **kwargs),
            path,
            retries=page_retries,
            backoff=page_retry_backoff,
            label=1,
        )
        if not isinstance(first, dict) or "results" not in first:
            # A bare list (some agent/legacy endpoints): one page, nothing to walk.
            items = first if isinstance(first, list) else []
            if progress is not None:
                progress(len(items), len(items))
            return iter(items), len(items)
        walker = PageWalker(
            lambda url: self._get(url, url_conversion=conversion, **kwargs),
            first,
            max_workers=workers,
            page_failures=page_failures,
            page_retries=page_retries,
            page_retry_backoff=page_retry_backoff,
            progress=progress,
            max_pages=_positive_int(max_pages, "max_pages", method),
            label=path,
        )
        return iter(walker), first.get("count")
