"""Argument checks shared by the client methods: fail before anything is sent.

Every check raises :class:`~synapse_nb.exceptions.InvalidInputError` naming the method, the
argument and the value.

Example:
    >>> check_pk(7, method="get_task")
    7
    >>> try:
    ...     check_pk("abc", method="get_task")
    ... except InvalidInputError as e:
    ...     print(e)
    get_task: invalid pk='abc': must be a positive integer id (nothing was sent)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from synapse_nb.exceptions import InvalidInputError

__all__ = [
    "LIST_OPTIONS",
    "check_bool",
    "check_data",
    "check_list_options",
    "check_params",
    "check_pk",
    "check_ref",
]

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,199}$")


def check_pk(value: Any, *, method: str, field: str = "pk") -> int:
    """Return ``value`` as a positive integer id (digit strings are accepted).

    Example:
        >>> check_pk("12", method="get_project")
        12
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError(field, value, "must be a positive integer id", method=method)
    return value


def check_ref(value: Any, *, method: str, field: str = "pk", what: str = "id or code") -> int | str:
    """Return a pk or a string reference (UUID, plugin code, ``code@version``).

    The string must be a single URL path segment: letters, digits and ``_.@:-``.

    Example:
        >>> check_ref("my-plugin@1.0.0", method="get_plugin_release")
        'my-plugin@1.0.0'
    """
    if isinstance(value, str) and not value.strip().isdigit():
        if not _REF.match(value):
            raise InvalidInputError(
                field,
                value,
                f"must be a positive integer or an {what} "
                "(letters, digits, '_.@:-', one path segment)",
                method=method,
            )
        return value
    return check_pk(value, method=method, field=field)


def check_params(value: Any, *, method: str, field: str = "params") -> dict[str, Any]:
    """Return query params as a new dict; ``None`` gives ``{}``.

    Example:
        >>> check_params({"project": 3}, method="list_tasks")
        {'project': 3}
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(field, value, "must be a dict of query params", method=method)
    for key in value:
        if not isinstance(key, str) or not key:
            raise InvalidInputError(
                f"{field}[{key!r}]", key, "keys must be non-empty strings", method=method
            )
    return dict(value)


def check_data(value: Any, *, method: str, field: str = "data") -> Any:
    """Check that a free-form body is a dict (or list) that JSON can encode.

    Example:
        >>> check_data({"annotations": []}, method="annotate_task_data")
        {'annotations': []}
    """
    if not isinstance(value, Mapping | list):
        raise InvalidInputError(field, value, "must be a dict", method=method)
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            field, value, f"is not JSON-serializable: {exc}", method=method
        ) from None
    return value


def check_bool(value: Any, *, method: str, field: str) -> bool:
    """Return ``value`` if it is a bool.

    Example:
        >>> check_bool(True, method="list_tasks", field="list_all")
        True
    """
    if not isinstance(value, bool):
        raise InvalidInputError(field, value, "must be True or False", method=method)
    return value


def check_tag_replace(body: Mapping[str, Any], query: Mapping[str, Any], *, method: str) -> None:
    """Refuse ``replace=True`` with ``action='remove'``: the two contradict each other.

    ``?replace=true`` makes the given tags the rows' whole tag set, which is an "add" of
    those tags; removing them while replacing has no meaning.

    Example:
        >>> try:
        ...     check_tag_replace({"action": "remove"}, {"replace": True}, method="m")
        ... except InvalidInputError as exc:
        ...     exc.field
        'action'
    """
    replace = query.get("replace")
    replacing = replace is True or str(replace).strip().lower() in ("true", "1")
    if replacing and body.get("action") == "remove":
        raise InvalidInputError(
            "action",
            "remove",
            "cannot be combined with replace=True (replace sets exactly the given tags; "
            "use action='add')",
            method=method,
        )


#: The options a list call takes besides ``params``, ``url_conversion`` and ``list_all``.
LIST_OPTIONS = (
    "max_workers",
    "page_failures",
    "page_retries",
    "page_retry_backoff",
    "progress",
    "max_pages",
)


def check_list_options(options: Mapping[str, Any], method: str, allowed: Any = ()) -> None:
    """Refuse a keyword a list call does not take, naming it, before anything is sent.

    Args:
        options: The keywords given besides ``params``, ``url_conversion`` and ``list_all``.
        method: The method name, for the error.
        allowed: Further keywords this caller passes on (e.g. to each page's request).

    Example:
        >>> check_list_options({"max_workers": 2}, "list_tasks")
        >>> try:
        ...     check_list_options({"page_size": 10}, "list_tasks")
        ... except InvalidInputError as err:
        ...     print(err.field, "|", err.message.split("; ")[1])
        page_size | filters and query parameters go in params, e.g. params={'page_size': ...} \
(nothing was sent)
    """
    for name, value in options.items():
        if name not in LIST_OPTIONS and name not in allowed:
            raise InvalidInputError(
                name,
                value,
                "is not an option of list calls (they take " + ", ".join(LIST_OPTIONS) + "); "
                f"filters and query parameters go in params, e.g. params={{{name!r}: ...}}",
                method=method,
            )
