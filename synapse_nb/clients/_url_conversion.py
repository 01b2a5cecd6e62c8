"""``url_conversion``: turning file URLs in responses into local files (or anything else).

One documented behaviour, accepting both shapes the sources show:

* ``None`` (the default) applies the method's default config: the file fields (``files``
  for list methods, ``file`` for ``get_model``) are **downloaded** into a local cache and
  replaced by :class:`pathlib.Path` objects. As in the SDK, a default is applied to single
  objects (``get_model``) and to the items of ``list_all=True``, not to the one page that
  ``list_all=False`` returns.
* ``False`` turns conversion off.
* The SDK config dict ``{'files_fields': [...], 'is_list': bool, 'coerce': callable}``:
  given keys override the method's default; ``coerce`` is applied to each downloaded
  ``Path``. ``files_fields`` are dotted paths (``data.files``).
* The seed's ``{field: callable}`` form, e.g. ``{'files': lambda url: cdn + url}``: each URL
  under ``field`` is replaced by ``callable(url)``; nothing is downloaded.

An explicit config (either dict form) is applied to every result the method returns,
including a single ``list_all=False`` page.

Within a field, a string value is a URL; a dict is walked entry by entry (a string entry is
a URL, a dict entry's ``url`` is converted: downloads replace ``url`` by ``path``, callables
rewrite ``url`` in place); a list is walked item by item. ``data:`` URIs are decoded instead
of fetched. Downloads are a plain unauthenticated GET, cached by the MD5 of the URL without
its query string, keeping the file extension, so a presigned URL whose signature changes
still hits the cache.

Example:
    >>> conv = resolve({"files": str.upper}, ["files"], is_list=True, method="list_tasks")
    >>> apply({"results": [{"files": {"image": "http://h/a.jpg"}}]}, conv, None)
    {'results': [{'files': {'image': 'HTTP://H/A.JPG'}}]}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from synapse_nb.exceptions import InvalidInputError

__all__ = ["CONFIG_KEYS", "MediaCache", "UrlConversion", "apply", "resolve"]

CONFIG_KEYS = frozenset({"files_fields", "is_list", "coerce"})


@dataclass(frozen=True)
class UrlConversion:
    """A resolved conversion.

    Attributes:
        fields: Dotted paths of the fields to convert.
        is_list: Apply to ``obj['results']`` items rather than to the object itself.
        coerce: Applied to each downloaded ``Path`` (download mode only).
        callables: Seed form: field -> callable(url); when set, nothing is downloaded.
        explicit: The caller gave this config (so it also applies to single pages).
    """

    fields: tuple[str, ...]
    is_list: bool
    coerce: Callable[[Path], Any] | None = None
    callables: Mapping[str, Callable[[str], Any]] = field(default_factory=dict)
    explicit: bool = False


def resolve(
    url_conversion: Any, default_fields: list[str], *, is_list: bool, method: str
) -> UrlConversion | None:
    """Turn a ``url_conversion`` argument into a :class:`UrlConversion` (or ``None``: off).

    Example:
        >>> resolve(None, ["file"], is_list=False, method="get_model").fields
        ('file',)
        >>> resolve(False, ["files"], is_list=True, method="list_tasks") is None
        True
    """
    if url_conversion is None:
        return UrlConversion(tuple(default_fields), is_list)
    if url_conversion is False:
        return None
    if not isinstance(url_conversion, Mapping):
        raise InvalidInputError(
            "url_conversion",
            url_conversion,
            "must be None, False, a {'files_fields', 'is_list', 'coerce'} dict "
            "or a {field: callable} dict",
            method=method,
        )
    keys = set(url_conversion)
    if keys and keys <= CONFIG_KEYS:
        return _resolve_config(url_conversion, default_fields, is_list, method)
    if not keys:
        raise InvalidInputError(
            "url_conversion", {}, "is empty; pass False to turn it off", method=method
        )
    for key, value in url_conversion.items():
        if key in CONFIG_KEYS:
            raise InvalidInputError(
                f"url_conversion[{key!r}]",
                value,
                "cannot mix config keys with {field: callable} entries",
                method=method,
            )
        if not isinstance(key, str) or not key:
            raise InvalidInputError(
                "url_conversion", key, "field names must be strings", method=method
            )
        if not callable(value):
            raise InvalidInputError(
                f"url_conversion[{key!r}]", value, "must be callable", method=method
            )
    return UrlConversion(
        tuple(url_conversion), is_list, callables=dict(url_conversion), explicit=True
    )


def _resolve_config(
    config: Mapping[str, Any], default_fields: list[str], is_list: bool, method: str
) -> UrlConversion:
    fields = config.get("files_fields", default_fields)
    if (
        isinstance(fields, str)
        or not isinstance(fields, list | tuple)
        or not all(isinstance(f, str) and f for f in fields)
    ):
        raise InvalidInputError(
            "url_conversion['files_fields']", fields, "must be a list of field names", method=method
        )
    flag = config.get("is_list", is_list)
    if not isinstance(flag, bool):
        raise InvalidInputError(
            "url_conversion['is_list']", flag, "must be True or False", method=method
        )
    coerce = config.get("coerce")
    if coerce is not None and not callable(coerce):
        raise InvalidInputError(
            "url_conversion['coerce']", coerce, "must be callable or None", method=method
        )
    return UrlConversion(tuple(fields), flag, coerce=coerce, explicit=True)


class MediaCache:
    """Downloads file URLs once into a cache directory.

    Args:
        directory: Cache directory (created on first use).
        fetch: ``fetch(url, dest)`` downloads ``url`` into ``dest`` (the transport's
            unauthenticated download).

    Example:
        >>> MediaCache(Path("/tmp/c"), None).path_for("http://h/m/a.JPG?sig=1").suffix
        '.JPG'
    """

    #: URLs remembered as already on disk, so a list of 100k tasks sharing a few files does
    #: not hash and stat every one of them.
    MEMO_SIZE = 100_000

    def __init__(self, directory: Path, fetch: Callable[[str, Path], Any] | None) -> None:
        self.directory = directory
        self._fetch = fetch
        self._memo: dict[str, Path] = {}

    def path_for(self, url: str) -> Path:
        """Cache path of ``url``: MD5 of the URL without its query, plus its extension.

        Example:
            >>> c = MediaCache(Path("/c"), None)
            >>> c.path_for("http://h/a.png?x=1") == c.path_for("http://h/a.png?x=2")
            True
        """
        if url.startswith("data:"):
            header = url.split(",", 1)[0]
            mime = header[5:].split(";", 1)[0]
            suffix = mimetypes.guess_extension(mime) or "" if mime else ""
            key = hashlib.md5(url.encode()).hexdigest()
        else:
            bare = url.split("?", 1)[0].split("#", 1)[0]
            suffix = PurePosixPath(urlsplit(bare).path).suffix
            key = hashlib.md5(bare.encode()).hexdigest()
        return self.directory / f"{key}{suffix[:16]}"

    def get(self, url: str) -> Path:
        """Return the local path of ``url``, downloading it on a cache miss.

        Example:
            >>> MediaCache(Path("/tmp/c"), None).get("data:text/plain;base64,aGk=").read_text()
            'hi'
        """
        bare = url if url.startswith("data:") else url.split("?", 1)[0]
        known = self._memo.get(bare)
        if known is not None:
            return known
        dest = self.path_for(url)
        if dest.exists():
            self._remember(bare, dest)
            return dest
        if url.startswith("data:"):
            _write_data_uri(url, dest)
        elif url.startswith(("http://", "https://")):
            if self._fetch is None:
                raise ValueError("no downloader configured")
            self._fetch(url, dest)
        else:
            raise ValueError(f"cannot download {url[:80]!r}: not an absolute http(s) URL")
        self._remember(bare, dest)
        return dest

    def _remember(self, key: str, dest: Path) -> None:
        if len(self._memo) >= self.MEMO_SIZE:
            self._memo.clear()  # crude but bounded; a miss only costs one stat
        self._memo[key] = dest


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
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.write_bytes(data)
    tmp.replace(dest)


def apply(obj: Any, conversion: UrlConversion | None, cache: MediaCache | None) -> Any:
    """Convert the file fields of ``obj`` in place and return it.

    Example:
        >>> apply({"file": "x"}, None, None)
        {'file': 'x'}
    """
    if conversion is None or not isinstance(obj, dict):
        return obj
    items = obj.get("results") if conversion.is_list else [obj]
    if not isinstance(items, list):
        return obj
    rewrite = bool(conversion.callables)
    converters = [(dotted, _converter(conversion, dotted, cache)) for dotted in conversion.fields]
    for item in items:
        if not isinstance(item, dict):
            continue
        for dotted, convert in converters:
            parent, key = _locate(item, dotted)
            if parent is None or parent.get(key) is None:
                continue
            parent[key] = _convert_value(parent[key], convert, rewrite=rewrite)
    return obj


def _locate(item: dict[str, Any], dotted: str) -> tuple[dict[str, Any] | None, str]:
    if "." not in dotted:
        return item, dotted
    *path, key = dotted.split(".")
    node: Any = item
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), key


def _converter(
    conversion: UrlConversion, dotted: str, cache: MediaCache | None
) -> Callable[[str], Any]:
    if conversion.callables:
        return conversion.callables[dotted]
    if cache is None:
        raise ValueError("url_conversion needs a media cache to download files")
    if conversion.coerce is None:
        return cache.get
    coerce = conversion.coerce
    return lambda url: coerce(cache.get(url))


def _convert_value(value: Any, convert: Callable[[str], Any], *, rewrite: bool) -> Any:
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, list):
        return [_convert_value(v, convert, rewrite=rewrite) for v in value]
    if isinstance(value, dict):
        if isinstance(value.get("url"), str):
            return _convert_entry(value, convert, rewrite)
        out: dict[str, Any] = {}
        for name, entry in value.items():
            if isinstance(entry, str):
                out[name] = convert(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("url"), str):
                out[name] = _convert_entry(entry, convert, rewrite)
            else:
                out[name] = entry
        return out
    return value


def _convert_entry(entry: dict[str, Any], convert: Callable[[str], Any], rewrite: bool) -> Any:
    entry = dict(entry)
    if rewrite:
        entry["url"] = convert(entry["url"])
    else:
        entry["path"] = convert(entry.pop("url"))
    return entry
