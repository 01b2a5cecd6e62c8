"""The one download cache: files fetched by URL, kept under a name derived from the URL.

A file is stored as ``md5(url without query string and fragment)`` plus the URL's extension,
so the same object behind differently signed (presigned) URLs is fetched once. ``data:``
URIs are decoded instead of fetched. Files are written to a temporary sibling and moved
over the final name only when complete, so the cache never holds a half-written file.

Every byte is fetched by a :class:`~synapse_nb._transport.Transport` (its ``download``: a
plain GET without credentials, with the transport's retry policy and error mapping). A
client passes its own; standalone helpers such as
:func:`synapse_nb.utils.file.download_file` use :func:`shared_transport`, which has no
token at all.

Example:
    >>> cache = DownloadCache(tmp / "cache", None)
    >>> cache.path_for("http://h/m/a.JPG?sig=1") == cache.path_for("http://h/m/a.JPG?sig=2")
    True
    >>> cache.get("data:text/plain;base64,aGk=").read_text()
    'hi'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from synapse_nb._config import RetryPolicy, Timeout
from synapse_nb._transport import Transport
from synapse_nb.exceptions import InvalidInputError

__all__ = ["DOWNLOAD_RETRY", "DOWNLOAD_TIMEOUT", "DownloadCache", "shared_transport"]

#: Retry policy of standalone downloads: 3 retries of connection errors and 429/5xx.
DOWNLOAD_RETRY = RetryPolicy(
    total=3,
    backoff_factor=0.2,
    backoff_jitter=0.1,
    statuses=frozenset({429, 500, 502, 503, 504}),
)
#: Timeouts of one standalone download request (connect 5 s, read 60 s).
DOWNLOAD_TIMEOUT = Timeout(connect=5.0, read=60.0)
#: Connections the shared transport keeps per host (the helpers' download workers).
SHARED_POOL_SIZE = 8

_shared: Transport | None = None
_shared_lock = threading.Lock()


def shared_transport() -> Transport:
    """The process-wide transport of standalone downloads: no base URL use, no token.

    Example:
        >>> shared_transport() is shared_transport()
        True
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Transport(
                "http://localhost",
                auth_headers={},
                timeout=DOWNLOAD_TIMEOUT,
                retry=DOWNLOAD_RETRY,
                pool_maxsize=SHARED_POOL_SIZE,
            )
        return _shared


class DownloadCache:
    """Downloads file URLs once into a directory.

    Args:
        directory: Cache directory (created on first download).
        fetch: ``fetch(url, dest)`` downloads ``url`` into ``dest``; a transport's
            ``download``. ``None`` allows only ``data:`` URIs.

    Example:
        >>> DownloadCache(tmp / "cache", None).path_for("http://h/m/a.JPG?sig=1").suffix
        '.JPG'
    """

    #: URLs remembered as already on disk, so a list of 100k tasks sharing a few files does
    #: not hash and stat every one of them.
    MEMO_SIZE = 100_000

    def __init__(self, directory: Path, fetch: Callable[[str, Path], Any] | None) -> None:
        self.directory = Path(directory)
        self._fetch = fetch
        self._memo: dict[str, Path] = {}

    def path_for(self, url: str, name: str | None = None) -> Path:
        """Cache path of ``url``: MD5 of the URL without query and fragment, plus extension.

        ``name`` replaces the MD5 (the extension is still the URL's).

        Example:
            >>> c = DownloadCache(Path("/c"), None)
            >>> c.path_for("http://h/a.png?x=1") == c.path_for("http://h/a.png?x=2")
            True
            >>> c.path_for("http://h/a.png", name="cat").name
            'cat.png'
        """
        if url.startswith("data:"):
            mime = url.split(",", 1)[0][5:].split(";", 1)[0]
            suffix = (mimetypes.guess_extension(mime) or "") if mime else ""
            key = hashlib.md5(url.encode()).hexdigest()
        else:
            bare = _bare(url)
            suffix = PurePosixPath(urlsplit(bare).path).suffix
            key = hashlib.md5(bare.encode()).hexdigest()
        return self.directory / f"{name if name is not None else key}{suffix[:16]}"

    def get(self, url: str, *, name: str | None = None, use_cached: bool = True) -> Path:
        """Return the local path of ``url``, downloading it on a cache miss.

        Args:
            url: An absolute http(s) URL or a ``data:`` URI.
            name: File name without extension instead of the MD5; always downloads.
            use_cached: ``False`` downloads even when the file is there.

        Raises:
            ClientError: The download failed (any kind; see :mod:`synapse_nb.exceptions`).
            InvalidInputError: ``url`` is not a string holding an absolute http(s) URL or a
                ``data:`` URI, or ``name`` is not a plain file name; raised before anything
                is fetched or written (a ``ValueError``, as before).

        Example:
            >>> DownloadCache(tmp / "cache", None).get("data:,plain").read_text()
            'plain'
            >>> try:
            ...     DownloadCache(tmp / "cache", None).get("not a url")
            ... except ValueError as error:
            ...     error.field, error.value
            ('url', 'not a url')
        """
        _check_arguments(url, name)
        cached = use_cached and name is None
        key = url if url.startswith("data:") else _bare(url)
        known = self._memo.get(key) if cached else None
        if known is not None:
            return known
        dest = self.path_for(url, name)
        if not (cached and dest.exists()):
            if url.startswith("data:"):
                _write_data_uri(url, dest)
            else:
                if self._fetch is None:
                    raise ValueError("no downloader configured")
                self._fetch(url, dest)
        if cached:
            self._remember(key, dest)
        return dest

    def _remember(self, key: str, dest: Path) -> None:
        if len(self._memo) >= self.MEMO_SIZE:
            self._memo.clear()  # crude but bounded; a miss only costs one stat
        self._memo[key] = dest


def _check_arguments(url: Any, name: Any) -> None:
    """Refuse what :meth:`DownloadCache.get` cannot fetch or name, before any I/O."""
    problem = "must be an absolute http(s) URL or a data: URI"
    if not isinstance(url, str):
        raise InvalidInputError("url", url, problem)
    try:
        web = url.startswith(("http://", "https://")) and bool(urlsplit(url).netloc)
    except ValueError:  # e.g. "http://[::1/a.jpg": an unclosed IPv6 host
        web = False
    if not web and not url.startswith("data:"):
        # the value without its query string and fragment: they may hold signatures
        raise InvalidInputError("url", _bare(url), problem)
    if name is not None and (
        not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0")
    ):
        raise InvalidInputError("name", name, "must be a plain file name without separators")


def _bare(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def _write_data_uri(url: str, dest: Path) -> None:
    header, _, payload = url.partition(",")
    try:
        if header.endswith(";base64"):
            data = base64.b64decode(payload, validate=False)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid data: URI ({exc})") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{threading.get_ident()}.part")
    tmp.write_bytes(data)
    tmp.replace(dest)
