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
* The Synapse SDK's ``{field: callable}`` form, e.g. ``{'files': lambda url: cdn + url}``: each URL
  under ``field`` is replaced by ``callable(url)``; nothing is downloaded.

An explicit config (either dict form) is applied to every result the method returns,
including a single ``list_all=False`` page.

Within a field, a string value is a URL; a dict is walked entry by entry (a string entry is
a URL, a dict entry's ``url`` is converted: downloads replace ``url`` by ``path``, callables
rewrite ``url`` in place); a list is walked item by item. ``data:`` URIs are decoded instead
of fetched. Downloads are a plain unauthenticated GET by the client's transport, kept in
the package's one download cache (:class:`~synapse_nb._downloads.DownloadCache`: the MD5 of
the URL without its query string, keeping the file extension), so a presigned URL whose
signature changes still hits the cache.

Example:
    >>> conv = resolve({"files": str.upper}, ["files"], is_list=True, method="list_tasks")
    >>> apply({"results": [{"files": {"image": "http://h/a.jpg"}}]}, conv, None)
    {'results': [{'files': {'image': 'HTTP://H/A.JPG'}}]}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synapse_nb._downloads import DownloadCache
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
        callables: The Synapse SDK's form: field -> callable(url); when set, nothing is downloaded.
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


#: The client's download cache is the package's one download cache.
MediaCache = DownloadCache


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
