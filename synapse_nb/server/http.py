"""Request plumbing shared by every route: errors, auth, query parsing, pagination, bodies.

The real backend is Django REST Framework; everything here reproduces its wire habits
(``{"detail": ...}`` errors, ``{field: [messages]}`` validation bodies, page-number envelopes with
absolute ``next`` links) so that both SDK generations and our client see the same thing.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import URL

from .db import in_list
from .openapi import operation_extra

#: the largest integer SQLite can store; bigger client values are a 400, not an overflow
MAX_SQL_INT = 2**63 - 1
TRUE_VALUES = {"1", "true", "t", "yes", "y", "on"}
FALSE_VALUES = {"0", "false", "f", "no", "n", "off", ""}


class ApiError(Exception):
    """An error answered as JSON with ``status`` and ``body``.

    Example:
        >>> err = ApiError(400, {"project": ["This field is required."]})
        >>> err.status, err.body, err.headers
        (400, {'project': ['This field is required.']}, {})
    """

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found() -> ApiError:
    return ApiError(404, {"detail": "Not found."})


def shorten(value: Any, limit: int = 80) -> str:
    """``repr`` of a client-sent value, cut to ``limit`` characters for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_error(field: str, message: str) -> ApiError:
    return ApiError(400, {field: [message]})


class FieldErrors:
    """Collects Django-style field errors; ``raise_if_any()`` answers them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(400, self.errors)


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


_TOKEN_IN_PATH = re.compile(r"(/agents/)[^/]+")


def redact_path(path: str) -> str:
    """A request path safe to log: the agent token in ``agents/<token>/connect/`` is masked."""
    return _TOKEN_IN_PATH.sub(r"\1***", path)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --------------------------------------------------------------------------- routing


def route(
    router: APIRouter,
    path: str,
    methods: Sequence[str],
    *,
    operation_prefix: str = "",
    query: Any = None,
    body: Any = None,
    **kwargs: Any,
) -> Callable:
    """Register ``path`` (with its trailing slash) and its slash-less twin, no redirect.

    Redirecting would turn a POST into a GET in ``requests``, so both forms are served
    directly. Only the slash form appears in the OpenAPI schema. A router mounted under a
    prefix whose paths repeat the backend's (the agent API) passes ``operation_prefix`` so
    operation ids stay unique in the schema.

    ``query`` (a :class:`~.filters.FilterSet`) and ``body`` (a request model or a JSON schema)
    are what the handler reads by hand; the schema shows them (:mod:`.openapi`), so each is
    declared once, where the route is.
    """

    if query is not None or body is not None:
        kwargs["openapi_extra"] = operation_extra(query, body)

    def decorator(func: Callable) -> Callable:
        parts = [operation_prefix, *(part.strip("{}") for part in path.split("/"))]
        slug = "_".join(part for part in parts if part)
        twin = path.rstrip("/")
        for method in methods:
            operation = f"{method.lower()}_{slug}"
            router.add_api_route(path, func, methods=[method], operation_id=operation, **kwargs)
            if twin and twin != path:
                router.add_api_route(
                    twin,
                    func,
                    methods=[method],
                    include_in_schema=False,
                    operation_id=operation + "_noslash",
                    **kwargs,
                )
        return func

    return decorator


# --------------------------------------------------------------------------- auth


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (or an agent acting for its tenant)."""

    user_id: int | None
    tenant_id: int
    agent_id: int | None = None

    @property
    def is_agent(self) -> bool:
        return self.agent_id is not None


def _token_value(header: str | None) -> str | None:
    """``'Token abc'`` -> ``'abc'`` (scheme compared case-insensitively); else None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "token" or not value.strip():
        return None
    return value.strip()


#: what an agent token reaches on the backend API: its jobs (state, progress, console logs),
#: the plugins and releases it runs, storages and serve applications, and the agent listing
AGENT_SCOPE = (
    ("GET", re.compile(r"^/(agents|plugins|plugin_releases|storages)(/[^/]+)?/?\Z")),
    ("POST", re.compile(r"^/agents/[^/]+/connect/?\Z")),
    ("GET", re.compile(r"^/jobs(/[^/]+(/(console_logs|tail_console_logs))?)?/?\Z")),
    ("PATCH", re.compile(r"^/jobs/[^/]+/?\Z")),
    ("POST", re.compile(r"^/logs/?\Z")),
    ("GET", re.compile(r"^/serve_applications(/[^/]+)?/?\Z")),
    ("POST", re.compile(r"^/serve_applications/?\Z")),
)


def _check_agent_scope(request: Request) -> None:
    """A 403 unless an agent may make this request (agents are not users of their tenant)."""
    prefix = request.app.state.synapse.config.prefix
    path = request.url.path[len(prefix) :] if request.url.path.startswith(prefix) else ""
    if not any(request.method == method and pattern.match(path) for method, pattern in AGENT_SCOPE):
        raise ApiError(
            403,
            {
                "detail": "An agent token cannot access this resource: it reaches jobs, logs, "
                "plugins, releases, storages and serve applications only."
            },
        )


def authenticate(request: Request) -> Principal:
    """Resolve the caller from ``Synapse-Access-Token``, ``Authorization`` or ``SYNAPSE-Agent``."""
    state = request.app.state.synapse
    headers = request.headers
    principal: Principal | None = None
    presented = False
    for name in ("synapse-access-token", "authorization"):
        token = _token_value(headers.get(name))
        if token is None:
            presented = presented or bool(headers.get(name))
            continue
        presented = True
        principal = state.user_for_token(token)
        if principal is not None:
            break
    if principal is None:
        agent_token = _token_value(headers.get("synapse-agent"))
        if agent_token is not None:
            presented = True
            principal = state.agent_for_token(agent_token)
    if principal is None:
        detail = "Invalid token." if presented else "Authentication credentials were not provided."
        raise ApiError(401, {"detail": detail}, {"WWW-Authenticate": "Token"})
    if principal.is_agent:
        _check_agent_scope(request)
    tenant = _token_value(headers.get("synapse-tenant"))
    if tenant is not None and state.tenant_code(principal.tenant_id) != tenant:
        raise ApiError(403, {"detail": "You do not have permission to access this tenant."})
    return principal


# --------------------------------------------------------------------------- query parsing


class Query:
    """Typed access to query parameters, DRF-tolerant.

    Repeated keys and comma-separated values both make lists; booleans parse
    case-insensitively; a malformed value is a 400 naming the parameter.
    """

    def __init__(self, request: Request) -> None:
        self.params = request.query_params

    def has(self, name: builtins.str) -> builtins.bool:
        return name in self.params and self.params.get(name, "") != ""

    def str(self, name: builtins.str) -> builtins.str | None:
        value = self.params.get(name)
        return value if value not in (None, "") else None

    def list(self, name: builtins.str) -> builtins.list[builtins.str]:
        out: list[str] = []
        for raw in self.params.getlist(name):
            out.extend(part.strip() for part in raw.split(",") if part.strip())
        return out

    def int(self, name: builtins.str) -> builtins.int | None:
        value = self.str(name)
        return None if value is None else parse_int(name, value)

    def ints(self, name: builtins.str) -> builtins.list[builtins.int]:
        return [parse_int(name, v) for v in self.list(name)]

    def bool(self, name: builtins.str) -> builtins.bool | None:
        value = self.str(name)
        return None if value is None else parse_bool(name, value)

    def datetime(self, name: builtins.str) -> builtins.str | None:
        value = self.str(name)
        return None if value is None else parse_datetime(name, value)


def parse_int(name: str, value: Any) -> int:
    """An int (or integer text) that SQLite can store; anything else is a 400 on ``name``.

    Example:
        >>> parse_int("page", " 3 ")
        3
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise field_error(name, f"A valid integer is required, got {shorten(value)}.")
    try:
        number = int(value.strip()) if isinstance(value, str) else value
    except ValueError:  # also Python's 4300-digit limit on int("999...")
        raise field_error(name, f"A valid integer is required, got {shorten(value)}.") from None
    if not -MAX_SQL_INT - 1 <= number <= MAX_SQL_INT:
        raise field_error(
            name, f"Ensure this value fits in a signed 64-bit integer, got {shorten(value)}."
        )
    return number


def parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    raise field_error(name, f"Must be a valid boolean, got {value!r}.")


def parse_datetime(name: str, value: str) -> str:
    """ISO date or datetime -> normalised UTC ISO text (naive values are taken as UTC).

    Example:
        >>> parse_datetime("created", "2026-01-02T03:00:00+02:00")
        '2026-01-02T01:00:00.000000+00:00'
    """
    text = value.strip().replace(" ", "+") if "T" in value else value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise field_error(name, f"Enter a valid date/time, got {value!r}.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).isoformat(timespec="microseconds")
    except OverflowError:  # e.g. year 1 at +05:00 is before the first representable instant
        raise field_error(
            name, f"Enter a valid date/time, got {value!r}: it is out of range in UTC."
        ) from None


# --------------------------------------------------------------------------- filters


class Where:
    """Builds a SQL WHERE clause from filters, always parameterised."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def add_in(self, column: str, values: Sequence[Any]) -> None:
        if not values:
            return
        wanted = in_list(values)
        self.add(f"{column} IN ({wanted.sql})", *wanted.params)

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


LOOKUPS = {"": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def range_filters(q: Query, where: Where, name: str, column: str, kind: str = "int") -> None:
    """``name``, ``name__in``, ``name__gt/gte/lt/lte`` for ints or datetimes."""
    for suffix, op in LOOKUPS.items():
        key = f"{name}__{suffix}" if suffix else name
        if not q.has(key):
            continue
        if kind == "int":
            if suffix == "":
                where.add_in(column, q.ints(key))
                continue
            value: Any = q.int(key)
        else:
            value = q.datetime(key)
        where.add(f"{column} {op} ?", value)
    if kind == "int" and q.has(f"{name}__in"):
        where.add_in(column, q.ints(f"{name}__in"))


def ordering(q: Query, allowed: dict[str, str], default: str = "id") -> str:
    """``ordering=-created,id`` -> SQL ORDER BY (unknown fields ignored, id always last)."""
    parts: list[str] = []
    for field in q.list("ordering") or [default]:
        desc = field.startswith("-")
        column = allowed.get(field.lstrip("-"))
        if column:
            parts.append(f"{column} {'DESC' if desc else 'ASC'}")
    if not any(p.startswith(allowed.get("id", "id") + " ") for p in parts):
        parts.append(f"{allowed.get('id', 'id')} ASC")
    return " ORDER BY " + ", ".join(parts)


# --------------------------------------------------------------------------- pagination


def _page_url(request: Request, page: int | None) -> str | None:
    if page is None:
        return None
    link = request.app.state.synapse.link(request, request.url.path)
    return str(URL(link).replace(query=request.url.include_query_params(page=page).query))


class RawJSON:
    """JSON text stored in a column, embedded in a page response as it is.

    Listing pages carry every task's annotation document; decoding it only to encode it again
    was 40% of a page's cost. Only :func:`paginate` responses render these (see
    :func:`render_json`); elsewhere serializers decode as usual.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _fragment(value: Any) -> Any:
    if isinstance(value, RawJSON):
        return orjson.Fragment(value.text)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


#: where orjson's text can differ from ``json.dumps``: floats in [1e-5, 1e-4) written without
#: an exponent (``0.00001`` vs ``1e-05``) and one-digit negative exponents (``1e-7`` vs
#: ``1e-07``). Each pattern starts with a literal, so a scan runs at memory speed; a match,
#: even inside a string, only sends the body through the standard library.
_ORJSON_DIFFERS = (re.compile(rb"0\.0000[1-9]"), re.compile(rb"e-\d(?:[,\]}]|$)"))


def _may_differ(text: bytes) -> bool:
    return any(pattern.search(text) is not None for pattern in _ORJSON_DIFFERS)


def render_json(content: Any) -> bytes:
    """Compact JSON bytes with :class:`RawJSON` values spliced in verbatim.

    The text is exactly ``json.dumps(content, ensure_ascii=False, separators=(",", ":"))``;
    orjson writes it where its output is known to be the same (the common case, several times
    faster), the standard library otherwise.

    Example:
        >>> render_json({"data": RawJSON('{"a":[1,2]}'), "name": "é"}).decode()
        '{"data":{"a":[1,2]},"name":"é"}'
    """
    try:
        text = orjson.dumps(content, default=_fragment)
    except TypeError:  # non-str keys, ints beyond 64 bits: the stdlib decides
        pass
    else:
        if not _may_differ(text):
            return text
    return _render_stdlib(content)


def _render_stdlib(content: Any) -> bytes:
    """``json.dumps`` that splices :class:`RawJSON` values in verbatim."""
    raws: list[str] = []
    nonce = secrets.token_hex(4)

    def default(value: Any) -> str:
        if isinstance(value, RawJSON):
            raws.append(value.text)
            return f"\x00raw-{nonce}-{len(raws) - 1}\x00"
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    text = json.dumps(
        content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=default
    )
    if raws:
        pattern = re.compile(rf'"\\u0000raw-{nonce}-(\d+)\\u0000"')
        text = pattern.sub(lambda m: raws[int(m.group(1))], text)
    return text.encode("utf-8")


class PageResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return render_json(content)


#: Seconds a list page waits for the page being read before it is read alongside (see
#: :func:`paginate`). Long enough for 16 requests of pages of 1,000 in flight (two notebooks
#: listing with 8 each) to take turns: with 0.1 s a 1M-task listing by 16 workers cost the
#: backend 13.3-14.1 s of CPU, with 0.5 s 11.6-11.9 s.
PAGE_TURN_WAIT = 0.5


def paginate(
    request: Request,
    count_sql: str,
    select_sql: str,
    params: Sequence[Any],
    serialize: Callable[[list[Any]], list[dict]],
    keyset_sql: str | None = None,
) -> Any:
    """Run a page-number paginated query; returns the DRF envelope (a :class:`PageResponse`).

    ``select_sql`` must end with its ORDER BY; LIMIT/OFFSET are appended here. A page past the
    last one is a 404, as in DRF (newer Synapse SDKs rely on it to stop).

    ``keyset_sql`` (listings ordered by id only) is ``select_sql`` with an extra ``id > ?``
    condition. Every page served records where its rows start and end (see
    :class:`~.marks.PageMarks`, valid until the next write); a page then starts from the
    nearest boundary at or below it, in whatever order pages are asked for, and skips only
    the rows in between, through the id index. A page right after a served one skips nothing,
    so page N costs what page 1 does. Nothing known below a page: the general ``OFFSET`` path,
    or, for a page nearer the end, the same read backwards from the last row (``total`` comes
    from the count of this write generation). Every path returns the same rows.
    """
    state = request.app.state.synapse
    q = Query(request)
    # DRF: page 0 is "less than 1" (404), not a synonym of page 1
    page = q.int("page")
    page = 1 if page is None else page
    # page_size=0 is "not greater than 0" (400) like -1, not a synonym of the default
    size = q.int("page_size")
    size = state.config.default_page_size if size is None else size
    if page < 1:
        raise ApiError(404, {"detail": "Invalid page."})
    if size < 1:
        raise field_error("page_size", f"Ensure this value is greater than 0, got {size}.")
    size = min(size, state.config.max_page_size)
    db = state.db
    # read before the count: a write under way or committed while this page is read (the
    # generation moved) must neither place nor mark the page from a count of other data
    generation = db.settled()
    total = db.count(count_sql, params)
    # One page is read, serialized and rendered at a time: SQLite hands the GIL back at every
    # row it steps, so pages read together passed it to each other at every row, and the
    # thread switches cost as much CPU as the pages (4 clients listing pages of 1,000 tasks:
    # 18.9 ms of server CPU per page, 9.5-11.5 ms with pages in turn, 10.8 ms for 1 client).
    # A page waits for its turn at most PAGE_TURN_WAIT seconds, then goes ahead: SQLite's
    # own work (sorting or scanning a filtered listing) runs without the GIL, and a slow page
    # must delay the pages arriving meanwhile by that much at most, not for as long as it takes.
    in_turn = db.page_lock.acquire(timeout=PAGE_TURN_WAIT)
    try:
        if db.generation != generation:  # a write landed while this page waited: recount
            generation = db.settled()
            total = db.count(count_sql, params)
        last_page = max(1, -(-total // size))
        if page > last_page:
            raise ApiError(404, {"detail": "Invalid page."})
        rank = (page - 1) * size
        if keyset_sql is None or generation is None:
            rows = _page_rows(db, select_sql, [*params], size, rank)
        else:
            listing = (select_sql, tuple(params))
            rows = _keyset_rows(db, listing, keyset_sql, (size, rank, total), generation)
        request.state.raw_json = True  # serializers may hand over stored JSON text undecoded
        results = shape_fields(request, serialize(rows))
        return PageResponse(
            {
                "count": total,
                "next": _page_url(request, page + 1 if page < last_page else None),
                "previous": _page_url(request, page - 1 if page > 1 else None),
                "results": results,
            }
        )
    finally:
        if in_turn:
            db.page_lock.release()


def paginate_where(
    request: Request,
    source: str,
    where: Where,
    serialize: Callable[[list[Any]], list[dict]],
    order: str = " ORDER BY id",
) -> Any:
    """:func:`paginate` over ``source`` (``"tasks"`` or ``"tasks t"``) filtered by ``where``."""
    alias = source.split()[1] + "." if len(source.split()) > 1 else ""
    keyset_sql = None
    if order.strip() in (f"ORDER BY {alias}id", f"ORDER BY {alias}id ASC"):
        filters = where.sql()[len(" WHERE ") :]  # kept whole: "id > ?" binds to all of it
        after = f"({filters}) AND {alias}id > ?" if filters else f"{alias}id > ?"
        keyset_sql = f"SELECT {alias}* FROM {source} WHERE {after}{order}"
    return paginate(
        request,
        f"SELECT COUNT(*) FROM {source}{where.sql()}",
        f"SELECT {alias}* FROM {source}{where.sql()}{order}",
        where.params,
        serialize,
        keyset_sql,
    )


def _keyset_rows(
    db: Any, listing: tuple, keyset_sql: str, window: tuple[int, int, int], generation: int
) -> list:
    """``size`` rows from ``rank`` on (of ``total``), from the nearest known boundary or the end.

    A page nearer the listing's end than to any boundary below it is read backwards from the
    last row, so the skip is never longer than half the listing. The page is marked after.
    """
    select_sql, params = listing
    size, rank, total = window
    known, after = db.page_marks.nearest(listing, generation, rank)
    limit = min(size, total - rank)
    behind = total - rank - limit  # rows after this page
    backwards = _ORDER_BY_ID.sub(r" ORDER BY \1id DESC", select_sql)
    if known != rank and behind < rank - known and backwards != select_sql:
        # ``total`` is this generation's count; a write since then is caught below (not marked)
        rows = _page_rows(db, backwards, [*params], limit, behind)[::-1]
    elif after is None:
        rows = _page_rows(db, select_sql, [*params], size, rank)
    elif known == rank:
        rows = db.all(f"{keyset_sql} LIMIT ?", [*params, after, size])
    else:
        rows = _page_rows(db, keyset_sql, [*params, after], size, rank - known)
    if rows and generation == db.generation:
        first, last = rows[0]["id"], rows[-1]["id"]
        db.page_marks.add(listing, generation, ((rank, first - 1), (rank + len(rows), last)))
    return rows


_ORDER_BY_ID = re.compile(r" ORDER BY (\w+\.)?id(?: ASC)?$")
_SELECT_ALL = re.compile(
    r"^SELECT (\w+\.)?\* FROM (\w+)( \w+)?(?=$| WHERE| JOIN| ORDER)(.*)$", re.S
)


def _page_rows(db: Any, select_sql: str, params: list, limit: int, offset: int) -> list:
    """One page of rows; deep pages skip through the id index only, then fetch 100 rows.

    ``LIMIT/OFFSET`` on ``SELECT *`` walks every skipped row in full; selecting the ids first
    keeps page 900 of 1,000 as cheap as page 1.
    """
    match = _SELECT_ALL.match(select_sql)
    if match is None or offset == 0:
        return db.all(f"{select_sql} LIMIT ? OFFSET ?", [*params, limit, offset])
    alias, table, name, rest = (
        match.group(1) or "",
        match.group(2),
        match.group(3) or "",
        match.group(4),
    )
    ids = [
        r[0]
        for r in db.all(
            f"SELECT {alias}id FROM {table}{name}{rest} LIMIT ? OFFSET ?", [*params, limit, offset]
        )
    ]
    if not ids:
        return []
    page = in_list(ids)
    rows = db.all(f"SELECT * FROM {table} WHERE id IN ({page.sql})", page.params)
    position = {pk: i for i, pk in enumerate(ids)}
    return sorted(rows, key=lambda r: position[r["id"]])


def shape_fields(request: Request, items: list[dict]) -> list[dict]:
    """drf-flex-fields ``fields`` / ``omit`` on a list of top-level dicts."""
    q = Query(request)
    fields = set(q.list("fields"))
    omit = set(q.list("omit"))
    if not fields and not omit:
        return items
    out = []
    for item in items:
        if fields:
            item = {k: v for k, v in item.items() if k in fields}
        if omit:
            item = {k: v for k, v in item.items() if k not in omit}
        out.append(item)
    return out


def shape_one(request: Request, item: dict) -> dict:
    return shape_fields(request, [item])[0]


def expands(request: Request) -> set[str]:
    return set(Query(request).list("expand"))


# --------------------------------------------------------------------------- bodies


def utf8_encodable(value: Any) -> bool:
    """Whether ``value``'s JSON text is valid UTF-8 (a lone surrogate from a ``\\ud800``
    escape is not, and SQLite refuses to store it)."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {shorten(text, 40)} is out of range")
    return value


def strict_json(text: str) -> Any:
    """JSON text as request bodies are read: no ``NaN``/``Infinity``, no number out of range.

    Example:
        >>> strict_json('{"a": [1, 2.5]}')
        {'a': [1, 2.5]}
        >>> strict_json('{"lr": NaN}')
        Traceback (most recent call last):
        ...
        ValueError: NaN is not valid JSON
    """
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)


#: the deepest nesting of objects/lists a JSON value may have (responses nest a few levels more)
MAX_JSON_DEPTH = 100


def check_depth(value: Any, name: str = "detail", limit: int = MAX_JSON_DEPTH) -> None:
    """A 400 on ``name`` when ``value`` nests objects/lists more than ``limit`` levels deep.

    Deeper values parse, but encoding them back (every read of the object) can exhaust the
    interpreter's recursion: they are refused before anything is stored.

    Example:
        >>> check_depth({"a": [{"b": 1}]}, limit=3)
        >>> try:
        ...     check_depth([[[[1]]]], "data", limit=3)
        ... except ApiError as exc:
        ...     print(exc.body)
        {'data': ['JSON nested too deeply: more than 3 levels.']}
    """
    level: list[Any] = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise field_error(name, f"JSON nested too deeply: more than {limit} levels.")
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, or a 413 as soon as it is known to exceed ``limit`` bytes."""
    too_large = ApiError(
        413,
        {
            "detail": f"Request body is too large: the limit for JSON bodies is {limit} bytes "
            "(the server's max_json_body setting)."
        },
    )
    declared = request.headers.get("content-length", "")
    # the HTTP layer already refuses a malformed length; still, int() is only given ASCII
    # digits ("²" passes isdigit), and a length of more digits than the limit is judged
    # without it (int() refuses more than 4300 digits)
    length = declared.lstrip("0") if declared.isascii() and declared.isdigit() else ""
    if len(length) > len(str(limit)) or (length and int(length) > limit):
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    request._body = raw  # later reads of request.body() see the same bytes
    return raw


async def json_body(request: Request) -> Any:
    """The request's JSON payload; an empty body is ``{}`` (the SDK sends none sometimes).

    Only what can be stored and sent back is accepted: a body within the configured size
    (413 beyond), no NaN/Infinity (responses are strict JSON), no lone surrogates (SQLite
    wants UTF-8), and no nesting deeper than :data:`MAX_JSON_DEPTH`; each of those is a
    4xx, never a 500.
    """
    raw = await read_limited(request, request.app.state.synapse.config.max_json_body)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
        if b"\\u" in raw:  # only escapes can smuggle in a lone surrogate
            json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, RecursionError) as exc:  # JSONDecodeError/UnicodeError are ValueErrors
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ApiError(400, {"detail": f"JSON parse error - {message[:200]}"}) from None
    check_depth(data)
    return data


def require_dict(body: Any, what: str = "body") -> dict:
    if not isinstance(body, dict):
        raise ApiError(
            400,
            {
                "non_field_errors": [
                    f"Invalid data. Expected a dictionary, but got {type(body).__name__}."
                ]
            },
        )
    return body


class Body:
    """Typed field access on a dict body with Django-style error collection.

    Example:
        >>> b = Body({"name": "x"})
        >>> b.str("name", required=True)
        'x'
    """

    def __init__(self, data: dict, errors: FieldErrors | None = None) -> None:
        self.data = data
        self.errors = errors or FieldErrors()

    def _missing(self, name: builtins.str, required: builtins.bool) -> builtins.bool:
        if name not in self.data or self.data[name] is None:
            if required:
                self.errors.add(name, "This field is required.")
            return True
        return False

    def str(
        self,
        name: builtins.str,
        *,
        required: builtins.bool = False,
        default: Any = None,
        choices: Iterable[builtins.str] | None = None,
        max_length: builtins.int = 1000,
    ) -> Any:
        if self._missing(name, required):
            return default
        value = self.data[name]
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.errors.add(name, f"Not a valid string: {value!r}.")
            return default
        value = str(value)
        if required and not value.strip():
            self.errors.add(name, "This field may not be blank.")
        if len(value) > max_length:
            self.errors.add(name, f"Ensure this field has no more than {max_length} characters.")
        if choices is not None and value not in set(choices):
            self.errors.add(name, f'"{value}" is not a valid choice.')
        return value

    def int(
        self, name: builtins.str, *, required: builtins.bool = False, default: Any = None
    ) -> Any:
        if self._missing(name, required):
            return default
        try:
            return parse_int(name, self.data[name])
        except ApiError as exc:
            self.errors.add(name, exc.body[name][0])
            return default

    def bool(self, name: builtins.str, *, default: Any = None) -> Any:
        if self._missing(name, False):
            return default
        try:
            return parse_bool(name, self.data[name])
        except ApiError:
            self.errors.add(name, f"Must be a valid boolean, got {self.data[name]!r}.")
            return default

    def dict(
        self, name: builtins.str, *, required: builtins.bool = False, default: Any = None
    ) -> Any:
        if self._missing(name, required):
            return default
        value = self.data[name]
        if isinstance(value, str):  # multipart sends dicts as JSON strings
            try:
                parsed = strict_json(value)
            except (ValueError, RecursionError):
                # not JSON text, or a number int() refuses (more than 4300 digits): the
                # string itself is judged below, as a value that is not a dictionary
                pass
            else:
                check_depth(parsed, name)
                if "\\u" in value and not utf8_encodable(parsed):
                    self.errors.add(
                        name, "JSON text with a lone surrogate (\\ud800-\\udfff) cannot be stored."
                    )
                    return default
                value = parsed
        if not isinstance(value, dict):
            self.errors.add(
                name, f"Expected a dictionary, got {type(value).__name__}: {shorten(value)}."
            )
            return default
        return value

    def list(
        self, name: builtins.str, *, required: builtins.bool = False, default: Any = None
    ) -> Any:
        if self._missing(name, required):
            return default
        value = self.data[name]
        if not isinstance(value, list):
            self.errors.add(
                name,
                f'Expected a list of items but got type "{type(value).__name__}": '
                f"{shorten(value)}.",
            )
            return default
        return value

    def int_list(
        self, name: builtins.str, *, required: builtins.bool = False
    ) -> builtins.list[builtins.int] | None:
        values = self.list(name, required=required)
        if values is None:
            return None
        try:
            return [parse_int(name, value) for value in values]
        except ApiError as exc:
            self.errors.add(name, exc.body[name][0])
            return None

    def check(self) -> None:
        self.errors.raise_if_any()
