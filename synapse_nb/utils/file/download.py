"""Downloading files by URL: cached, concurrent, written atomically.

* **Cache.** A file downloaded without a custom ``name`` is stored as
  ``md5(url without query string and fragment) + extension``, so the same object behind
  differently signed (presigned) URLs is fetched once. ``use_cached=False`` or a custom
  ``name`` forces a fresh download.
* **Atomic writes.** Bytes go to a temporary file in the target directory, which is moved
  over the final name with :func:`os.replace` only when the body is complete. A failed or
  interrupted download never leaves a truncated file under the cached name, and two
  concurrent downloads of one URL cannot interleave.
* **Concurrency.** The ``files_url_to_path*`` helpers download all distinct URLs at once in
  a thread pool (:data:`MAX_CONCURRENT_DOWNLOADS` workers). The ``a*`` variants run the same
  code through :func:`asyncio.to_thread`: the project's HTTP stack is ``requests`` (the
  seed's ``aiohttp`` would be a second client with its own retry and proxy behaviour), the
  work is I/O bound, and it keeps working inside Jupyter's already running event loop.
* **Retries.** Connection errors and 429/5xx answers are retried by urllib3's ``Retry``
  with exponential backoff (:data:`DOWNLOAD_RETRY`).
* **No secrets in errors.** Error messages show URLs without their query string, where
  presigned URLs carry their signatures.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .io import get_temp_path

__all__ = [
    "DOWNLOAD_RETRY",
    "DOWNLOAD_TIMEOUT",
    "MAX_CONCURRENT_DOWNLOADS",
    "adownload_file",
    "afiles_url_to_path",
    "afiles_url_to_path_from_objs",
    "download_file",
    "files_url_to_path",
    "files_url_to_path_from_objs",
]

T = TypeVar("T")

#: Worker threads used by the ``files_url_to_path*`` helpers.
MAX_CONCURRENT_DOWNLOADS = 8
#: (connect, read) timeout in seconds for one download request.
DOWNLOAD_TIMEOUT = (5.0, 60.0)
#: Retry policy for downloads: 3 retries of connection errors and 429/5xx, backoff 0.2 s x 2^n.
DOWNLOAD_RETRY = Retry(
    total=3,
    backoff_factor=0.2,
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=frozenset({"GET"}),
    raise_on_status=False,
    respect_retry_after_header=True,
)
_STREAM_CHUNK = 1024 * 1024
_local = threading.local()


def _session() -> requests.Session:
    # One session per thread: requests.Session is not documented as thread-safe.
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=DOWNLOAD_RETRY, pool_maxsize=MAX_CONCURRENT_DOWNLOADS)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def _clean_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _redact(url: str) -> str:
    """The URL without credentials, query string or fragment, safe for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _check_url(url: object) -> str:
    if not isinstance(url, str):
        raise TypeError(f"url must be a string, got {type(url).__name__}")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError(f"url must be an absolute http(s) URL, got {_redact(url)!r}")
    return url


def download_file(
    url: str,
    path_download: str | PathLike[str],
    name: str | None = None,
    coerce: Callable[[Path], T] | None = None,
    use_cached: bool = True,
) -> Path | T:
    """Download ``url`` into the directory ``path_download``.

    Args:
        url: An absolute http(s) URL. Query string and fragment are ignored for the cache
            name but sent with the request.
        path_download: Directory to save into (created if missing).
        name: File name without extension; the URL's extension is appended. Giving a name
            disables the cache, as in the seed.
        coerce: Applied to the resulting ``Path`` before returning (e.g. ``str``).
        use_cached: Reuse an existing file of the cached name instead of downloading.

    Returns:
        The path of the downloaded file, or ``coerce(path)``.

    Raises:
        ValueError: If ``url`` is not an http(s) URL or ``name`` contains a path separator.
        requests.HTTPError: If the server answers with an error status (after retries).
        requests.ConnectionError: If the server cannot be reached (after retries).

    Example:
        >>> path = download_file("https://example.com/img.jpg?sig=abc", "/tmp/dl")  # doctest: +SKIP
        >>> path.suffix  # doctest: +SKIP
        '.jpg'
    """
    _check_url(url)
    cleaned = _clean_url(url)
    suffix = PurePosixPath(urlsplit(cleaned).path).suffix
    if name is not None:
        bad = not isinstance(name, str) or name in ("", ".", "..")
        if bad or "/" in name or "\\" in name:
            raise ValueError(f"name must be a plain file name without separators, got {name!r}")
        use_cached = False
        file_name = name + suffix
    else:
        file_name = hashlib.md5(cleaned.encode("utf-8")).hexdigest() + suffix

    directory = Path(path_download)
    path = directory / file_name
    if not (use_cached and path.is_file()):
        directory.mkdir(parents=True, exist_ok=True)
        _fetch_atomically(url, path)
    return coerce(path) if coerce is not None else path


def _fetch_atomically(url: str, path: Path) -> None:
    try:
        response = _session().get(url, stream=True, timeout=DOWNLOAD_TIMEOUT, allow_redirects=True)
    except requests.RequestException as exc:
        raise type(exc)(f"download of {_redact(url)} failed: {type(exc).__name__}") from None
    with response:
        if response.status_code >= 400:
            raise requests.HTTPError(
                f"download of {_redact(url)} failed: HTTP {response.status_code} {response.reason}",
                response=response,
            )
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in response.iter_content(chunk_size=_STREAM_CHUNK):
                    out.write(chunk)
            os.replace(tmp_name, path)
        except requests.RequestException as exc:
            raise type(exc)(f"download of {_redact(url)} failed: {type(exc).__name__}") from None
        finally:
            Path(tmp_name).unlink(missing_ok=True)


async def adownload_file(
    url: str,
    path_download: str | PathLike[str],
    name: str | None = None,
    coerce: Callable[[Path], T] | None = None,
    use_cached: bool = True,
) -> Path | T:
    """Async :func:`download_file`; run many with :func:`asyncio.gather`.

    The blocking download runs in the event loop's default thread pool, so concurrent
    awaits download in parallel without blocking the loop.

    Args:
        url: An absolute http(s) URL.
        path_download: Directory to save into.
        name: File name without extension; disables the cache.
        coerce: Applied to the resulting ``Path``.
        use_cached: Reuse an existing cached file.

    Returns:
        The path of the downloaded file, or ``coerce(path)``.

    Example:
        >>> paths = await asyncio.gather(
        ...     *(adownload_file(u, "/tmp/dl") for u in urls)
        ... )  # doctest: +SKIP
    """
    return await asyncio.to_thread(download_file, url, path_download, name, coerce, use_cached)


# A "slot" is (container, key): the place where a URL sits and its local path goes.
_Slot = tuple[MutableMapping[Any, Any], Any, str]


def _slots_of(files: MutableMapping[Any, Any], file_field: Any = None) -> list[_Slot]:
    """Where the downloadable URLs of one files mapping are, without touching it."""
    if not isinstance(files, MutableMapping):
        raise TypeError(f"files must be a mutable mapping, got {type(files).__name__}")
    keys = [file_field] if file_field is not None else list(files)
    slots: list[_Slot] = []
    for key in keys:
        if key not in files:
            raise KeyError(f"files has no field {key!r}")
        value = files[key]
        if isinstance(value, str):
            _check_url(value)
            slots.append((files, key, "value"))
        elif isinstance(value, MutableMapping) and "url" in value:
            _check_url(value["url"])
            slots.append((value, "url", "path"))
        elif isinstance(value, PathLike) or (isinstance(value, MutableMapping) and "path" in value):
            continue  # already local, e.g. a second call on the same object
        else:
            raise TypeError(
                f"files[{key!r}] must be a URL string or a mapping with a 'url' key, "
                f"got {type(value).__name__}"
            )
    return slots


def _download_slots(slots: list[_Slot], coerce: Callable[[Path], Any] | None) -> None:
    urls = list(dict.fromkeys(_url_of(slot) for slot in slots))  # distinct, in order
    if not urls:
        return
    path_download = get_temp_path("media")
    path_download.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []
    workers = min(MAX_CONCURRENT_DOWNLOADS, len(urls))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synapse-nb-dl") as pool:
        futures = {u: pool.submit(download_file, u, path_download, coerce=coerce) for u in urls}
        for url, future in futures.items():
            try:
                results[url] = future.result()
            except Exception as exc:  # collected so every download finishes or fails first
                errors.append(exc)
    if errors:
        # Nothing is replaced unless everything arrived: the caller's object stays consistent.
        first = errors[0]
        if len(errors) > 1:
            first.add_note(f"{len(errors) - 1} more of {len(urls)} downloads also failed")
        raise first
    planned = [(slot, _url_of(slot)) for slot in slots]  # read all before changing any
    for (container, key, mode), url in planned:
        if mode == "value":
            container[key] = results[url]
        else:
            container.pop("url", None)
            container["path"] = results[url]


def _url_of(slot: _Slot) -> str:
    container, key, _ = slot
    return container[key]


def files_url_to_path(
    files: MutableMapping[str, Any],
    coerce: Callable[[Path], Any] | None = None,
    file_field: str | None = None,
) -> None:
    """Download every URL in a files mapping and replace it with the local path, in place.

    String values are replaced by the path; mapping values ``{"url": ...}`` lose ``url``
    and gain ``path``. Values that are already local (a path, or a mapping with ``path``)
    are left alone. All distinct URLs download concurrently into ``get_temp_path("media")``
    with the cache of :func:`download_file`. If any download fails, the mapping is left
    unchanged and the first error is raised.

    Args:
        files: Mapping of field name to URL or ``{"url": ..., ...}``.
        coerce: Applied to each downloaded ``Path`` (e.g. ``str``).
        file_field: Only convert this key.

    Raises:
        TypeError: If a value is neither a URL string nor a mapping with ``url``.
        ValueError: If a URL is not an http(s) URL.
        requests.HTTPError: If a download fails.

    Example:
        >>> files = {"image_1": {"url": "https://example.com/a.jpg", "size": 10}}
        >>> files_url_to_path(files)  # doctest: +SKIP
        >>> files["image_1"]["path"].suffix  # doctest: +SKIP
        '.jpg'
    """
    _download_slots(_slots_of(files, file_field), coerce)


def _walk(obj: Any, dotted: str) -> tuple[Any, str] | None:
    """The container holding the last component of a dotted path, or None if missing."""
    *parents, last = dotted.split(".")
    for part in parents:
        if not isinstance(obj, MutableMapping) or part not in obj:
            return None
        obj = obj[part]
    if not isinstance(obj, MutableMapping) or last not in obj:
        return None
    return obj, last


def _objs_slots(objs: Any, files_fields: Iterable[str], is_list: bool) -> list[_Slot]:
    if isinstance(files_fields, str):
        raise TypeError(f"files_fields must be a list of field paths, got {files_fields!r}")
    items = objs if is_list else [objs]
    slots: list[_Slot] = []
    for obj in items:
        for field in files_fields:
            found = _walk(obj, field)
            if found is None:
                continue  # objects legitimately lack some file fields (seed behaviour)
            container, key = found
            value = container[key]
            if isinstance(value, str):
                slots.extend(_slots_of(container, key))
            elif isinstance(value, MutableMapping):
                slots.extend(_slots_of(value))
    return slots


def files_url_to_path_from_objs(
    objs: Any,
    files_fields: list[str],
    coerce: Callable[[Path], Any] | None = None,
    is_list: bool = False,
    is_async: bool = False,
) -> None:
    """Download the files referenced by one or many API objects, in place.

    Each entry of ``files_fields`` is a dotted path (``"data.files"``) to either a files
    mapping (converted with :func:`files_url_to_path`) or a single URL string. Missing
    fields are skipped. All URLs of all objects download concurrently in one pool, and a
    URL shared by several objects is fetched once.

    Args:
        objs: One object, or a list of objects with ``is_list=True``.
        files_fields: Dotted paths of the file fields.
        coerce: Applied to each downloaded ``Path``.
        is_list: ``objs`` is a list of objects.
        is_async: Kept for the seed's signature. Downloads are always concurrent; this
            does not start an event loop, so it is safe inside Jupyter.

    Example:
        >>> tasks = [{"id": 1, "data_unit": {"files": {"image_1": {"url": "https://e.x/a.jpg"}}}}]
        >>> files_url_to_path_from_objs(tasks, ["data_unit.files"], is_list=True)  # doctest: +SKIP
    """
    _download_slots(_objs_slots(objs, files_fields, is_list), coerce)


async def afiles_url_to_path(
    files: MutableMapping[str, Any], coerce: Callable[[Path], Any] | None = None
) -> None:
    """Async :func:`files_url_to_path` (downloads run concurrently in worker threads).

    Args:
        files: Mapping of field name to URL or ``{"url": ...}``.
        coerce: Applied to each downloaded ``Path``.

    Example:
        >>> await afiles_url_to_path({"image_1": "https://example.com/a.jpg"})  # doctest: +SKIP
    """
    await asyncio.to_thread(files_url_to_path, files, coerce)


async def afiles_url_to_path_from_objs(
    objs: Any,
    files_fields: list[str],
    coerce: Callable[[Path], Any] | None = None,
    is_list: bool = False,
) -> None:
    """Async :func:`files_url_to_path_from_objs`.

    Args:
        objs: One object, or a list with ``is_list=True``.
        files_fields: Dotted paths of the file fields.
        coerce: Applied to each downloaded ``Path``.
        is_list: ``objs`` is a list of objects.

    Example:
        >>> await afiles_url_to_path_from_objs(tasks, ["files"], is_list=True)  # doctest: +SKIP
    """
    await asyncio.to_thread(files_url_to_path_from_objs, objs, files_fields, coerce, is_list)
