"""Serialisation helpers shared by the route modules."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fastapi import Depends, Request

from ..db import in_list, loads
from ..http import (
    ApiError,
    Principal,
    RawJSON,
    check_depth,
    not_found,
    strict_json,
    utf8_encodable,
)


def state_of(request: Request) -> Any:
    return request.app.state.synapse


def get_row(
    request: Request, table: str, pk: Any, principal: Principal, tenant_column: str = "tenant_id"
) -> Any:
    """Fetch one row of the caller's tenant, 404 otherwise (never leak other tenants)."""
    db = state_of(request).db
    try:
        row = db.one(f"SELECT * FROM {table} WHERE id = ?", (pk,))
    except Exception:
        row = None
    if row is None or row[tenant_column] != principal.tenant_id:
        raise not_found()
    return row


def ref_row(request: Request, table: str, pk: Any, principal: Principal, field: str) -> Any:
    """A row a request body refers to: unknown (or another tenant's) is a 400 on ``field``.

    DRF answers a dangling reference in a body with a field error, not a 404: the URL was
    fine, the payload was not.
    """
    return as_reference(get_row, request, table, pk, principal, field=field)


def as_reference(lookup: Callable[..., Any], *args: Any, field: str) -> Any:
    """Run a 404-raising ``lookup(request, ..., pk, principal)``; a miss is a 400 on ``field``."""
    try:
        return lookup(*args)
    except ApiError as exc:
        if exc.status != 404:
            raise
        pk = args[-2]
        raise ApiError(400, {field: [f'Invalid pk "{pk}" - object does not exist.']}) from None


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\\\]+")


def safe_file_name(name: str, default: str = "file") -> str:
    """A stored file name: its last path part, no control characters, never ``.``/``..``.

    Example:
        >>> safe_file_name("../../etc/passwd"), safe_file_name(".."), safe_file_name("a\\r\\nb.png")
        ('passwd', 'file', 'a_b.png')
    """
    base = re.split(r"[/\\\\]", name)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")[:255]
    return base if base and base not in (".", "..") else default


def int_pk(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise not_found() from None


def links(db: Any, table: str, owner: str, ids: Sequence[int]) -> dict[int, list[int]]:
    """owner id -> sorted tag ids, for a batch of owners (one query)."""
    out: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return out
    owners = in_list(ids)
    for row in db.all(
        f"SELECT {owner}, tag_id FROM {table} WHERE {owner} IN ({owners.sql}) ORDER BY tag_id",
        owners.params,
    ):
        out[row[0]].append(row[1])
    return out


def user_names(db: Any, ids: Iterable[int | None]) -> dict[int, dict]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    users = in_list(wanted)
    return {
        r["id"]: {"id": r["id"], "username": r["username"], "name": r["name"], "email": r["email"]}
        for r in db.all(
            f"SELECT id, username, name, email FROM users WHERE id IN ({users.sql})", users.params
        )
    }


def json_field(request: Request, text: str | None, default: Any) -> Any:
    """A stored JSON column: decoded, or left as text inside a page response (faster)."""
    if text is None:
        return default
    if getattr(request.state, "raw_json", False):
        return RawJSON(text)
    return loads(text, default)


def unit_files(request: Request, files_json: str) -> dict:
    """A data unit's stored files -> ``{spec: {url, checksum, is_primary, ...}}`` with URLs.

    Cached per base URL and stored value: a page of 1,000 tasks often shares a few units.
    """
    return unit_files_reader(request)(files_json)


def unit_files_reader(request: Request) -> Callable[[str], dict]:
    """:func:`unit_files` for the many units of one response: base URL and expiry read once."""
    state = state_of(request)
    base, expiry, cache = state.base_url(request), state.media_expiry(), state.unit_files_cache

    def read(files_json: str) -> dict:
        key = (base, expiry, files_json)
        cached = cache.get(key)
        if cached is None:
            cached = _unit_files(request, files_json)
            if len(cache) > 20_000:
                cache.clear()
            cache[key] = cached
        return cached

    return read


def _unit_files(request: Request, files_json: str) -> dict:
    state = state_of(request)
    out = {}
    for spec, info in loads(files_json, {}).items():
        entry = {k: v for k, v in info.items() if k not in ("data_file", "rel_path")}
        if info.get("data_file") is not None:
            entry["url"] = state.media_url(
                request, "data_file", info["data_file"], info.get("file_name_original") or "file"
            )
        out[spec] = entry
    return out


def data_units_by_id(request: Request, ids: Iterable[int | None]) -> dict[int, dict]:
    db = state_of(request).db
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    units = in_list(wanted)
    rows = db.all(
        f"SELECT id, data_collection_id, meta, files FROM data_units WHERE id IN ({units.sql})",
        units.params,
    )
    files = unit_files_reader(request)
    return {
        r["id"]: {
            "id": r["id"],
            "data_collection": r["data_collection_id"],
            "meta": loads(r["meta"], {}),
            "files": files(r["files"]),
        }
        for r in rows
    }


def parse_json_field(name: str, value: Any) -> Any:
    """Multipart fields carry dicts/lists as JSON strings."""
    text = value if isinstance(value, str) else None
    if text is not None:
        try:
            value = strict_json(text)
        except (ValueError, RecursionError):  # NaN, or a number int() refuses (4300+ digits)
            raise ApiError(400, {name: [f"Value must be valid JSON, got {text[:80]!r}."]}) from None
    check_depth(value, name)
    if text is not None and "\\u" in text and not utf8_encodable(value):
        raise ApiError(
            400, {name: ["JSON text with a lone surrogate (\\ud800-\\udfff) cannot be stored."]}
        )
    return value


def data_only(items: list[dict]) -> list[dict]:
    """The current Synapse SDK's ``.../data/`` listings: ``{id, data}`` per item."""
    return [{"id": item["id"], "data": item["data"]} for item in items]


def files_only(items: list[dict]) -> list[dict]:
    """The current Synapse SDK's ``.../files/`` listings: ``{id, files: [...]}`` (a list)."""
    return [
        {
            "id": item["id"],
            "files": [{"name": spec, **entry} for spec, entry in item["files"].items()],
        }
        for item in items
    ]


def sdk_views(router: Any, path: str, listing: Callable, what: str, query: Any = None) -> None:
    """Register the current Synapse SDK's ``<path>data/`` and ``<path>files/`` views of a listing.

    ``listing(request, principal, shape)`` paginates and passes each page's items through
    ``shape``, so both views share its filters, ordering and pagination.
    """
    from ..http import authenticate, route

    def view(shape: Callable) -> Callable:
        def handler(request: Request, p: Principal = Depends(authenticate)) -> Any:
            return listing(request, p, shape)

        return handler

    summary = f"List {what}: id and {{}} (current Synapse SDK)"
    for name, shape in (("data", data_only), ("files", files_only)):
        route(router, f"{path}{name}/", ["GET"], summary=summary.format(name), query=query)(
            view(shape)
        )
