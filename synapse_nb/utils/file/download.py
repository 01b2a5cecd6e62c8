"""Downloading files by URL: cached, concurrent, written atomically, one HTTP seam.

* **One seam.** Every download goes through a :class:`~synapse_nb._transport.Transport` --
  the process-wide one without a token (:func:`~synapse_nb._downloads.shared_transport`) --
  so its retry policy (connection errors and 429/5xx, exponential backoff) and its error
  mapping apply: a failed download raises a :class:`~synapse_nb.exceptions.ClientError`
  subclass (``NotFoundError``, ``ClientConnectionError``, ...), and ``except ClientError``
  is enough around any call here.
* **Cache.** A file downloaded without a custom ``name`` is stored as
  ``md5(url without query string and fragment) + extension`` by the package's one download
  cache (:class:`~synapse_nb._downloads.DownloadCache`, the same one ``url_conversion``
  uses), so the same object behind differently signed (presigned) URLs is fetched once.
  ``use_cached=False`` or a custom ``name`` forces a fresh download.
* **Atomic writes.** Bytes go to a temporary file in the target directory, moved over the
  final name only when the body is complete: a failed or interrupted download never leaves
  a truncated file under the cached name.
* **Concurrency.** The ``files_url_to_path*`` helpers download all distinct URLs at once in
  a thread pool (:data:`MAX_CONCURRENT_DOWNLOADS` workers). The ``a*`` variants run the same
  code through :func:`asyncio.to_thread`, so they work inside Jupyter's running event loop.
* **No secrets in errors.** Error messages show URLs without their query string, where
  presigned URLs carry their signatures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit, urlunsplit

from synapse_nb._downloads import (
    DOWNLOAD_RETRY,
    DOWNLOAD_TIMEOUT,
    SHARED_POOL_SIZE,
    DownloadCache,
    shared_transport,
)

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
MAX_CONCURRENT_DOWNLOADS = SHARED_POOL_SIZE


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
            disables the cache, as in the Synapse SDK.
        coerce: Applied to the resulting ``Path`` before returning (e.g. ``str``).
        use_cached: Reuse an existing file of the cached name instead of downloading.

    Returns:
        The path of the downloaded file, or ``coerce(path)``.

    Raises:
        ValueError: If ``url`` is not an http(s) URL or ``name`` contains a path separator.
        ClientError: If the download fails (after retries): ``NotFoundError`` and the
            other status errors, ``ClientConnectionError``, ``ClientTimeoutError``.

    Example:
        >>> import tempfile
        >>> from synapse_nb.exceptions import ClientConnectionError
        >>> try:
        ...     download_file("http://127.0.0.1:9/img.jpg?sig=abc", tempfile.mkdtemp())
        ... except ClientConnectionError as exc:
        ...     exc.path
        'http://127.0.0.1:9/img.jpg'
    """
    _check_url(url)
    if name is not None:
        bad = not isinstance(name, str) or name in ("", ".", "..")
        if bad or "/" in name or "\\" in name:
            raise ValueError(f"name must be a plain file name without separators, got {name!r}")
    cache = DownloadCache(Path(path_download), shared_transport().download)
    path = cache.get(url, name=name, use_cached=use_cached)
    return coerce(path) if coerce is not None else path


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
        >>> urls = [backend.get_task(1)["files"]["image_1"]["url"]] * 2
        >>> async def fetch_all():
        ...     return await asyncio.gather(*(adownload_file(u, "dl") for u in urls))
        >>> paths = asyncio.run(fetch_all())
        >>> paths[0] == paths[1], paths[0].suffix, paths[0].stat().st_size > 0
        (True, '.jpg', True)
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


def _download_slots(
    slots: list[_Slot], coerce: Callable[[Path], Any] | None, directory: Path | None = None
) -> None:
    # One download per cached object: URLs that differ only in their signature share a file.
    urls: dict[str, str] = {}
    for slot in slots:
        url = _url_of(slot)
        urls.setdefault(_same_object(url), url)
    if not urls:
        return
    path_download = directory if directory is not None else get_temp_path("media")
    path_download.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []
    workers = min(MAX_CONCURRENT_DOWNLOADS, len(urls))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synapse-nb-dl") as pool:
        futures = {
            key: pool.submit(download_file, url, path_download, coerce=coerce)
            for key, url in urls.items()
        }
        for key, future in futures.items():
            try:
                results[key] = future.result()
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
            container[key] = results[_same_object(url)]
        else:
            container.pop("url", None)
            container["path"] = results[_same_object(url)]


def _same_object(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def _url_of(slot: _Slot) -> str:
    container, key, _ = slot
    return container[key]


@overload
def files_url_to_path(
    files: Sequence[str], path_download: str | PathLike[str] | None = None, /
) -> list[Path]: ...


@overload
def files_url_to_path(
    files: MutableMapping[str, Any],
    coerce: Callable[[Path], Any] | None = None,
    file_field: str | None = None,
) -> None: ...


def files_url_to_path(files: Any, coerce: Any = None, file_field: Any = None) -> Any:
    """Download URLs: a list of them into a directory, or every URL of a files mapping.

    Two forms, as in the Synapse SDK:

    * ``files_url_to_path(url_list, destination_directory)`` downloads every URL of the list
      into the directory (default ``get_temp_path("media")``) and returns their paths, in
      the order of the list.
    * ``files_url_to_path(files, coerce=None, file_field=None)`` replaces, in place, every
      URL of a files mapping with its local path: string values are replaced by the path;
      mapping values ``{"url": ...}`` lose ``url`` and gain ``path``. Values that are
      already local (a path, or a mapping with ``path``) are left alone.

    All distinct URLs download concurrently with the cache of :func:`download_file`. If any
    download fails, nothing is changed and the first error is raised.

    Args:
        files: A list of URLs, or a mapping of field name to URL or ``{"url": ...}``.
        coerce: Mapping form: applied to each downloaded ``Path`` (e.g. ``str``). List
            form: the destination directory.
        file_field: Mapping form only: convert only this key.

    Returns:
        List form: the downloaded paths. Mapping form: ``None`` (changed in place).

    Raises:
        TypeError: If a value is neither a URL string nor a mapping with ``url``.
        ValueError: If a URL is not an http(s) URL.
        ClientError: If a download fails.

    Example:
        >>> import tempfile
        >>> files_url_to_path([], tempfile.mkdtemp())
        []
        >>> files = {"image_1": {"path": "/data/a.jpg"}}
        >>> files_url_to_path(files); files
        {'image_1': {'path': '/data/a.jpg'}}
    """
    if isinstance(files, list | tuple):
        if file_field is not None:
            raise TypeError("file_field applies to a files mapping, not to a list of URLs")
        if coerce is not None and not isinstance(coerce, str | PathLike):
            raise TypeError(
                f"the second argument of the list form is a directory, got {type(coerce).__name__}"
            )
        return _download_urls([_check_url(u) for u in files], coerce)
    _download_slots(_slots_of(files, file_field), coerce)
    return None


def _download_urls(urls: list[str], directory: str | PathLike[str] | None) -> list[Path]:
    holder = {str(i): url for i, url in enumerate(urls)}
    slots: list[_Slot] = [(holder, key, "value") for key in holder]
    _download_slots(slots, None, Path(directory) if directory is not None else None)
    return [Path(holder[str(i)]) for i in range(len(urls))]


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
                continue  # objects legitimately lack some file fields (as in the Synapse SDK)
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
        is_async: Kept for the Synapse SDK's signature. Downloads are always concurrent; this
            does not start an event loop, so it is safe inside Jupyter.

    Example:
        >>> url = backend.get_task(1)["files"]["image_1"]["url"]
        >>> tasks = [{"id": 1, "data_unit": {"files": {"image_1": {"url": url}}}}]
        >>> files_url_to_path_from_objs(tasks, ["data_unit.files"], is_list=True)
        >>> image = tasks[0]["data_unit"]["files"]["image_1"]
        >>> sorted(image), image["path"].suffix
        (['path'], '.jpg')
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
        >>> files = {"image_1": backend.get_task(1)["files"]["image_1"]["url"]}
        >>> asyncio.run(afiles_url_to_path(files))
        >>> files["image_1"].suffix, files["image_1"].is_file()
        ('.jpg', True)
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
        >>> tasks = [backend.get_task(1)]
        >>> asyncio.run(afiles_url_to_path_from_objs(tasks, ["files"], is_list=True))
        >>> tasks[0]["files"]["image_1"]["path"].is_file()
        True
    """
    await asyncio.to_thread(files_url_to_path_from_objs, objs, files_fields, coerce, is_list)
