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

import inspect
import numbers
import re
from collections.abc import Mapping
from typing import Any

from synapse_nb._config import Timeout
from synapse_nb._transport import encode_json
from synapse_nb.exceptions import InvalidInputError

__all__ = [
    "LIST_OPTIONS",
    "MAX_ID",
    "REQUEST_OPTIONS",
    "check_bool",
    "check_data",
    "check_keywords",
    "check_list_options",
    "check_list_params",
    "check_page_size",
    "check_params",
    "check_pk",
    "check_ref",
    "keyword_names",
]

#: The largest id: ids are 64-bit integers (the API's and its database's).
MAX_ID = 2**63 - 1
_MAX_ID_DIGITS = len(str(MAX_ID))
#: ``\Z``, not ``$``: ``$`` also matches before a final newline ("code\n" is no reference)
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,199}\Z")


def check_pk(value: Any, *, method: str, field: str = "pk") -> int:
    """Return ``value`` as a positive integer id (strings of ASCII digits are accepted).

    An id is a 64-bit integer: a larger number (or a longer digit string) is refused, and
    shown by its size only when it is too long to print.

    Example:
        >>> check_pk("12", method="get_project")
        12
        >>> try:
        ...     check_pk("1" * 5000, method="get_plugin")
        ... except InvalidInputError as e:
        ...     print(e.field, "|", e.value)
        pk | <a string of 5000 digits>
    """
    if isinstance(value, str) and _is_digits(value.strip()):
        text = value.strip()
        if len(text) > _MAX_ID_DIGITS:
            raise InvalidInputError(
                field,
                value if len(text) <= 80 else f"<a string of {len(text)} digits>",
                f"must be a positive integer id (at most {MAX_ID})",
                method=method,
            )
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError(field, value, "must be a positive integer id", method=method)
    if value > MAX_ID:
        shown = value if value.bit_length() <= 256 else f"<a {value.bit_length()}-bit integer>"
        raise InvalidInputError(
            field, shown, f"must be a positive integer id (at most {MAX_ID})", method=method
        )
    return value


def _is_digits(text: str) -> bool:
    # str.isdigit() is also true of "²" and other digits int() refuses
    return text.isascii() and text.isdigit()


def check_ref(value: Any, *, method: str, field: str = "pk", what: str = "id or code") -> int | str:
    """Return a pk or a string reference (UUID, plugin code, ``code@version``).

    The string must be a single URL path segment: letters, digits and ``_.@:-``.

    Example:
        >>> check_ref("my-plugin@1.0.0", method="get_plugin_release")
        'my-plugin@1.0.0'
    """
    if isinstance(value, str) and not _is_digits(value.strip()):
        if not _REF.fullmatch(value):
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


def check_page_size(value: Any, *, method: str, field: str = "params['page_size']") -> int:
    """Return a page size as an int >= 1 (a numpy integer or a string of digits is taken).

    A bool, a float, ``0`` or a negative number is refused: no server reads it as the page
    size meant (Django REST framework falls back to its default size, the embedded backend
    answers 400).

    Example:
        >>> check_page_size(np.int64(50), method="list_tasks"), check_page_size(" 7", method="m")
        (50, 7)
        >>> try:
        ...     check_page_size(0, method="list_tasks")
        ... except InvalidInputError as err:
        ...     print(err)
        list_tasks: invalid params['page_size']=0: must be an int >= 1 (nothing was sent)
    """
    number = value
    text = value.strip() if isinstance(value, str) else ""
    if _is_digits(text) and len(text) <= _MAX_ID_DIGITS:
        number = int(text)
    size = int(number) if isinstance(number, numbers.Integral) else 0  # numpy ints too
    if isinstance(number, bool) or size < 1:
        raise InvalidInputError(field, value, "must be an int >= 1", method=method)
    if size > MAX_ID:
        bits = size.bit_length()
        shown = value if bits <= 256 else f"<a {bits}-bit integer>"
        problem = f"must be an int >= 1 (at most {MAX_ID})"
        raise InvalidInputError(field, shown, problem, method=method)
    return size


def check_list_params(value: Any, *, method: str, field: str = "params") -> dict[str, Any]:
    """:func:`check_params` of a list call, whose ``page_size`` must be an int >= 1.

    The page size is returned as an int; ``None`` leaves it to the defaults.

    Example:
        >>> check_list_params({"project": 1, "page_size": "20"}, method="list_tasks")
        {'project': 1, 'page_size': 20}
        >>> try:
        ...     check_list_params({"page_size": 2.5}, method="list_tasks")
        ... except InvalidInputError as err:
        ...     print(err.field, "|", err.value)
        params['page_size'] | 2.5
    """
    query = check_params(value, method=method, field=field)
    if query.get("page_size") is not None:
        query["page_size"] = check_page_size(
            query["page_size"], method=method, field=f"{field}['page_size']"
        )
    return query


def check_data(value: Any, *, method: str, field: str = "data") -> Any:
    """Check that a free-form body is a dict that JSON can encode.

    A list is refused (``dict([])`` would turn it into ``{}``), and so is a NaN or an
    infinity anywhere in it, naming where (JSON has no such numbers). Bodies that may be
    lists (bulk creates) are checked by their request models instead.

    Example:
        >>> check_data({"annotations": []}, method="annotate_task_data")
        {'annotations': []}
        >>> try:
        ...     check_data([{"images": []}], method="annotate_task_data")
        ... except InvalidInputError as err:
        ...     print(err)
        annotate_task_data: invalid data=[{'images': []}]: must be a dict, not a list \
(nothing was sent)
        >>> try:
        ...     check_data({"metrics": {"map": float("nan")}}, method="update_model")
        ... except InvalidInputError as err:
        ...     print(err.field)
        data['metrics']['map']
    """
    if not isinstance(value, Mapping):
        raise InvalidInputError(field, value, f"must be a dict, not {_kind(value)}", method=method)
    try:
        encode_json(value, method=method, field=field)  # refuses NaN/inf, naming where
    except InvalidInputError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(
            field, value, f"is not JSON-serializable: {exc}", method=method
        ) from None
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


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

#: Options of a list call that each page's request takes (a ``Timeout`` or its forms, and
#: extra headers).
REQUEST_OPTIONS = ("timeout", "headers")


def check_list_options(options: Mapping[str, Any], method: str, allowed: Any = ()) -> None:
    """Refuse a keyword a list call does not take, naming it, before anything is sent.

    Args:
        options: The keywords given besides ``params``, ``url_conversion`` and ``list_all``.
        method: The method name, for the error.
        allowed: Further keywords this caller passes on (internal ones, not listed in the
            error).

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
        if name not in LIST_OPTIONS and name not in REQUEST_OPTIONS and name not in allowed:
            raise InvalidInputError(
                name,
                value,
                "is not an option of list calls (they take "
                + ", ".join(LIST_OPTIONS + REQUEST_OPTIONS)
                + "); filters and query parameters go in params, "
                f"e.g. params={{{name!r}: ...}}",
                method=method,
            )
    if "timeout" in options:
        try:
            Timeout.coerce(options["timeout"])
        except (TypeError, ValueError) as exc:
            problem = str(exc)
            raise InvalidInputError("timeout", options["timeout"], problem, method=method) from None
    headers = options.get("headers")
    if headers is not None and not (
        isinstance(headers, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise InvalidInputError(
            "headers", headers, "must be a dict of header names to text", method=method
        )


def keyword_names(*functions: Any, given: tuple[str, ...] = ()) -> list[str]:
    """The names ``functions`` take as keywords, in order, each once (``given`` left out).

    Example:
        >>> def inner(frame, *, threshold=1.0, **rest): ...
        >>> def outer(self, url, *, retry=None, threshold=2.0): ...
        >>> keyword_names(inner, outer, given=("self", "frame"))
        ['threshold', 'url', 'retry']
    """
    names: list[str] = []
    for function in functions:
        for p in inspect.signature(function).parameters.values():
            keyword = p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            if keyword and p.name not in given and p.name not in names:
                names.append(p.name)
    return names


def check_keywords(
    function: Any, options: Mapping[str, Any], method: str, given: tuple[str, ...] = ()
) -> None:
    """Refuse a keyword ``function`` does not take, naming it, before it is called.

    For methods that pass ``**options`` on: a misspelled option would otherwise surface as
    a ``TypeError`` naming an inner function the caller never called.

    Args:
        function: The function the options go to.
        options: The keywords given.
        method: The public method name, for the error.
        given: Parameters the method fills in itself (not options of it).

    Example:
        >>> def inner(frame, *, threshold=1.0, progress=None): ...
        >>> check_keywords(inner, {"threshold": 2}, "health", given=("frame",))
        >>> try:
        ...     check_keywords(inner, {"thresholdz": 2}, "health", given=("frame",))
        ... except InvalidInputError as err:
        ...     print(err.message)
        health: invalid thresholdz=2: is not an option of health (options: threshold, \
progress) (nothing was sent)
    """
    if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(function).parameters.values()):
        return
    names = keyword_names(function, given=given)
    for name, value in options.items():
        if name not in names:
            raise InvalidInputError(
                name,
                value,
                f"is not an option of {method} (options: {', '.join(names)})",
                method=method,
            )
