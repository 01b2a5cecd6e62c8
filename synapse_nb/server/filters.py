"""Query parameters declared once: each listing's filters build its SQL and its OpenAPI entry.

A listing names its filters in a :class:`FilterSet` (``id`` ranges, ids, words, flags, a
search, or a custom clause); the route handler applies the set to a :class:`~.http.Where` and
the route registration hands the same set to the schema (see :mod:`.openapi`), so what the
documentation lists is exactly what the handler reads.

Example:
    >>> projects = FilterSet(int_range("id", "id"), words("category", "category"))
    >>> sorted(p.name for p in projects.parameters())[:3]
    ['category', 'expand', 'fields']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .db import in_list
from .http import Query, Where, range_filters

INT: dict[str, Any] = {"type": "integer"}
STR: dict[str, Any] = {"type": "string"}
BOOL: dict[str, Any] = {"type": "boolean"}
DATETIME: dict[str, Any] = {"type": "string", "format": "date-time"}
INTS: dict[str, Any] = {
    "type": "string",
    "description": "one id, or several comma-separated / repeated",
}


@dataclass(frozen=True)
class Param:
    """One documented query parameter.

    Example:
        >>> Param("page", INT, "Page number.").openapi()["in"]
        'query'
    """

    name: str
    schema: dict[str, Any]
    description: str

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "schema": self.schema,
            "description": self.description,
        }


Apply = Callable[[Query, Where], None]


def _nothing(q: Query, where: Where) -> None:
    return None


@dataclass(frozen=True)
class Filter:
    """The parameters a filter reads (for the schema) and how it narrows the query."""

    params: tuple[Param, ...]
    apply: Apply = _nothing


PAGING = (
    Param("page", {"type": "integer", "minimum": 1}, "Page number (from 1)."),
    Param("page_size", {"type": "integer", "minimum": 1, "maximum": 1000}, "Items per page."),
)
SHAPING = (
    Param("fields", STR, "Comma-separated fields to keep."),
    Param("omit", STR, "Comma-separated fields to drop."),
    Param("expand", STR, "Comma-separated related objects to expand."),
    Param("ordering", STR, "Comma-separated fields, '-' for descending; id breaks ties."),
)


@dataclass(frozen=True)
class FilterSet:
    """The query a route accepts: its filters, plus paging and shaping for a listing.

    Example:
        >>> from starlette.datastructures import QueryParams
        >>> class Req:  # the one attribute Query reads
        ...     query_params = QueryParams("status=a,b")
        >>> w = FilterSet(words("status", "t.status")).where(Req())
        >>> w.sql(), w.params
        (' WHERE t.status IN (?,?)', ['a', 'b'])
    """

    filters: tuple[Filter, ...] = ()
    listing: bool = True

    def __init__(self, *filters: Filter, listing: bool = True) -> None:
        object.__setattr__(self, "filters", filters)
        object.__setattr__(self, "listing", listing)

    def apply(self, q: Query, where: Where) -> Where:
        for item in self.filters:
            item.apply(q, where)
        return where

    def where(self, request: Any, *clauses: tuple[str, Any]) -> Where:
        """A :class:`Where` with ``clauses`` (e.g. the tenant) and every filter applied."""
        where = Where()
        for clause, *params in clauses:
            where.add(clause, *params)
        return self.apply(Query(request), where)

    def parameters(self) -> list[Param]:
        own = [p for item in self.filters for p in item.params]
        if not self.listing:
            return own
        names = {p.name for p in own}
        return [*(p for p in (*PAGING, *SHAPING) if p.name not in names), *own]


def options(*params: Param) -> FilterSet:
    """Documented parameters of a single-object or action route (no paging)."""
    return FilterSet(Filter(params), listing=False)


# --------------------------------------------------------------------------- filter kinds


def int_range(name: str, column: str) -> Filter:
    """``name`` (one or several), ``name__in`` and ``name__gt/gte/lt/lte`` on an integer."""
    params = [
        Param(name, INTS, f"{name} equals"),
        Param(f"{name}__in", INTS, f"{name} in the list"),
    ]
    params += [Param(f"{name}__{op}", INT, f"{name} {word}") for op, word in _OPS]
    return Filter(tuple(params), lambda q, w: range_filters(q, w, name, column))


def date_range(name: str, column: str) -> Filter:
    """``name`` and ``name__gt/gte/lt/lte`` on a timestamp (ISO 8601, naive = UTC)."""
    params = [Param(name, DATETIME, f"{name} equals")]
    params += [Param(f"{name}__{op}", DATETIME, f"{name} {word}") for op, word in _OPS]
    return Filter(tuple(params), lambda q, w: range_filters(q, w, name, column, "datetime"))


_OPS = (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<="))


def ids(column: str, *names: str) -> Filter:
    """Each of ``names`` (aliases) selects rows whose ``column`` is one of the given ids."""

    def apply(q: Query, where: Where) -> None:
        for name in names:
            if q.has(name):
                where.add_in(column, q.ints(name))

    return Filter(tuple(Param(n, INTS, f"{n} id(s)") for n in names), apply)


def words(
    name: str, column: str, case: Callable[[str], str] | None = None, description: str = ""
) -> Filter:
    """``name`` selects rows whose ``column`` is one of the values (``case`` folds them)."""

    def apply(q: Query, where: Where) -> None:
        if q.has(name):
            values = q.list(name)
            where.add_in(column, [case(v) for v in values] if case else values)

    text = description or f"{name} value(s), comma-separated or repeated"
    return Filter((Param(name, STR, text),), apply)


def flag(name: str, description: str, when_true: str, when_false: str) -> Filter:
    """A boolean parameter choosing between two SQL conditions."""

    def apply(q: Query, where: Where) -> None:
        if q.has(name):
            where.add(when_true if q.bool(name) else when_false)

    return Filter((Param(name, BOOL, description),), apply)


def search(*columns: str) -> Filter:
    """``search`` matches rows where any of ``columns`` contains the text."""

    def apply(q: Query, where: Where) -> None:
        if q.has("search"):
            clause = " OR ".join(f"{c} LIKE ?" for c in columns)
            clause = f"({clause})" if len(columns) > 1 else clause
            where.add(clause, *[f"%{q.str('search')}%"] * len(columns))

    return Filter((Param("search", STR, "Text contained in the object's name or text."),), apply)


def custom(param: Param, apply: Apply) -> Filter:
    """A filter whose clause is written by hand (sub-selects, special values)."""
    return Filter((param,), apply)


def subselect(name: str, column: str, sql: str, description: str, kind: str = "ints") -> Filter:
    """``column IN (sql)`` where ``sql`` has one ``{}`` for the values (see :func:`.db.in_list`)."""

    def apply(q: Query, where: Where) -> None:
        if q.has(name):
            values: Sequence[Any] = q.ints(name) if kind == "ints" else q.list(name)
            wanted = in_list(values)
            where.add(f"{column} IN ({sql.format(wanted.sql)})", *wanted.params)

    return Filter((Param(name, INTS if kind == "ints" else STR, description),), apply)
