"""``connect()``: a ready notebook :class:`~synapse_nb.frames.Client` in one line.

Where :func:`connect` connects (the first that applies wins):

=====================================  ==================================================
``connect(url, api_token)``            the backend you name
``$SYNAPSE_NB_URL``                    the embedded backend that ``synapse-nb demo`` (or
(+ ``$SYNAPSE_API_TOKEN``)             Binder's ``binder/start``) launched before Jupyter
``$SYNAPSE_URL``                       a real Synapse deployment
(+ ``$SYNAPSE_API_TOKEN``)
nothing set                            the embedded backend with the demo workspace,
                                       started once per kernel in a background thread
=====================================  ==================================================

The embedded backend started here lives as long as the kernel (the Python process): a
second ``connect()`` reuses it, and :func:`embedded_backend` returns its handle (to stop
it or inject faults). ``connect(embedded=True)`` always uses it, ignoring the environment;
``connect(embedded=False)`` never starts it. Tokens never appear in reprs, messages or
:func:`connection_source`.

Example:
    >>> from synapse_nb.session import connect
    >>> nb = connect(srv.url, api_token=srv.token)  # in a notebook, just connect()
    >>> nb.list_tasks({"project": 1}).shape
    (100, 27)
    >>> nb.close()
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse_nb.exceptions import ClientError, InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from synapse_nb.frames import Client
    from synapse_nb.server import ServerHandle

__all__ = [
    "EMBEDDED_URL_ENV",
    "SYNAPSE_URL_ENV",
    "TOKEN_ENV",
    "connect",
    "connection_source",
    "embedded_backend",
    "list_projects",
]

#: Set by ``synapse-nb demo`` and ``binder/start``: the embedded backend they launched.
EMBEDDED_URL_ENV = "SYNAPSE_NB_URL"
#: A real Synapse deployment (its token in :data:`TOKEN_ENV`).
SYNAPSE_URL_ENV = "SYNAPSE_URL"
#: The API token of either URL (also ``BackendClient``'s fallback).
TOKEN_ENV = "SYNAPSE_API_TOKEN"

_METHOD = "connect"
_LOCK = threading.Lock()
_EMBEDDED: ServerHandle | None = None
_EMBEDDED_OPTIONS: dict[str, Any] = {}
_SOURCES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _check_url(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip().startswith(("http://", "https://")):
        raise InvalidInputError(field, value, "must be an http(s) URL", method=_METHOD)
    return value.strip()


def _check_token(value: Any, field: str) -> str:
    # the value itself is never put into the error: it may be a real token
    if not isinstance(value, str):
        raise InvalidInputError(field, type(value).__name__, "must be a string", method=_METHOD)
    if not value.strip():
        raise InvalidInputError(field, "", "must not be empty", method=_METHOD)
    return value.strip()


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def embedded_backend() -> ServerHandle | None:
    """The embedded backend this kernel started through :func:`connect`, if it runs.

    Returns:
        Its :class:`~synapse_nb.server.ServerHandle` (``url``, ``set_faults``, ``stop``...),
        or None when ``connect()`` used a URL (or never ran, or the backend was stopped).

    Example:
        >>> nb = connect(embedded=True, server_options={"demo": False})  # an empty workspace
        >>> connection_source(nb)
        'the embedded demo backend, started by this kernel'
        >>> handle = embedded_backend()
        >>> handle.running, nb.base_url.rstrip("/") == handle.url.rstrip("/")
        (True, True)
        >>> handle.set_faults(latency_ms=20).latency_ms  # every request now waits 20 ms
        20
        >>> nb.close()
        >>> handle.stop()
        >>> embedded_backend() is None
        True
    """
    with _LOCK:
        if _EMBEDDED is not None and _EMBEDDED.running:
            return _EMBEDDED
        return None


def _start_embedded(options: Mapping[str, Any]) -> ServerHandle:
    global _EMBEDDED, _EMBEDDED_OPTIONS
    with _LOCK:
        if _EMBEDDED is not None and _EMBEDDED.running:
            if options and dict(options) != _EMBEDDED_OPTIONS:
                raise InvalidInputError(
                    "server_options",
                    dict(options),
                    f"the embedded backend of this kernel already runs with "
                    f"{_EMBEDDED_OPTIONS or 'the defaults'}; stop it first "
                    "(embedded_backend().stop())",
                    method=_METHOD,
                )
            return _EMBEDDED
        from synapse_nb.server import StartRefused, start

        settings = {"demo": True, **options}
        try:
            handle = start(**settings)
        except (TypeError, StartRefused) as exc:  # an option start() does not know, or refuses
            raise InvalidInputError(
                "server_options", dict(options), str(exc), method=_METHOD
            ) from None
        _EMBEDDED, _EMBEDDED_OPTIONS = handle, dict(options)
        return handle


@atexit.register
def _stop_embedded() -> None:
    # the server thread is a daemon: stopping it cleanly closes SQLite and the job runner
    handle = _EMBEDDED
    if handle is not None:
        handle.stop()


def _resolve(
    url: Any, api_token: Any, embedded: bool | None, server_options: Mapping[str, Any]
) -> tuple[str, str | None, str]:
    """``(url, token, source)`` of the backend to connect to."""
    if url is not None:
        if embedded:
            raise InvalidInputError(
                "embedded", embedded, "cannot be True when a url is given", method=_METHOD
            )
        token = None if api_token is None else _check_token(api_token, "api_token")
        return _check_url(url, "url"), token or _env(TOKEN_ENV), "url"
    if api_token is not None:
        raise InvalidInputError("url", None, "is required when api_token is given", method=_METHOD)
    if not embedded:
        for variable, source in ((EMBEDDED_URL_ENV, "synapse-nb"), (SYNAPSE_URL_ENV, "synapse")):
            found = _env(variable)
            if found is None:
                continue
            token = _env(TOKEN_ENV)
            if token is None:
                raise InvalidInputError(
                    TOKEN_ENV, None, f"must be set when {variable} is set", method=_METHOD
                )
            return _check_url(found, variable), token, source
        if embedded is False:
            raise InvalidInputError(
                "embedded",
                False,
                f"no backend given: pass url=, or set {EMBEDDED_URL_ENV} or {SYNAPSE_URL_ENV} "
                f"with {TOKEN_ENV}",
                method=_METHOD,
            )
    handle = _start_embedded(server_options)
    return handle.url, handle.token, "embedded"


def connect(
    url: str | None = None,
    api_token: str | None = None,
    *,
    embedded: bool | None = None,
    server_options: Mapping[str, Any] | None = None,
    check: bool = True,
    **client_options: Any,
) -> Client:
    """A ready :class:`~synapse_nb.frames.Client`: given, environment, or embedded backend.

    Args:
        url: Base URL of a Synapse backend (wins over the environment).
        api_token: Its API token (default ``$SYNAPSE_API_TOKEN``).
        embedded: None (default): the environment if it names a backend, else the embedded
            demo backend; True: always the embedded backend; False: never start it.
        server_options: Options of :func:`synapse_nb.server.start` for the embedded backend,
            e.g. ``{"latency_ms": 20}``; used when this call starts it.
        check: Make one small request (the task tags, one row) so a wrong URL or token
            fails here, with the source named, rather than in a later cell.
        **client_options: Any :class:`~synapse_nb.frames.Client` option (``cache``,
            ``timeout``, ``tenant``, ``retry``...).

    Returns:
        The client. :func:`connection_source` says where it points.

    Raises:
        InvalidInputError: A bad argument or environment variable (named), before any
            request.
        ClientError: ``check`` failed (unreachable backend, refused token).

    Example:
        >>> nb = connect(srv.url, api_token=srv.token)
        >>> connection_source(nb)
        'http://127.0.0.1:... (given to connect())'
        >>> nb.list_task_tags({"project": 1}).name.tolist()[:2]
        ['needs-review', 'blurry']
        >>> nb.close()
        >>> connect("synapse.example.com", api_token="t")  # checked before any request
        Traceback (most recent call last):
        ...
        synapse_nb.exceptions.InvalidInputError: connect: invalid url='synapse.example.com': ...
    """
    if embedded not in (None, True, False):
        raise InvalidInputError("embedded", embedded, "must be None, True or False", method=_METHOD)
    if not isinstance(check, bool):
        raise InvalidInputError("check", check, "must be True or False", method=_METHOD)
    if server_options is None:
        server_options = {}
    elif not isinstance(server_options, Mapping):
        raise InvalidInputError(
            "server_options", server_options, "must be a dict of start() options", method=_METHOD
        )
    if server_options and (url is not None or embedded is False):
        raise InvalidInputError(
            "server_options",
            dict(server_options),
            "apply to the embedded backend only",
            method=_METHOD,
        )
    _check_client_options(client_options)
    base_url, token, source = _resolve(url, api_token, embedded, server_options)
    from synapse_nb.frames import Client

    client = Client(base_url, api_token=token, **client_options)
    _SOURCES[client] = source
    if check:
        try:
            client.raw.list_task_tags(params={"page_size": 1})
        except ClientError as exc:
            exc.add_note(f"connect(): the backend came from {_describe(source, base_url)}")
            client.close()
            raise
    return client


def _describe(source: str, url: str) -> str:
    # local backends are described without their URL: the port changes every run
    return {
        "embedded": "the embedded demo backend, started by this kernel",
        "synapse-nb": f"the embedded backend of `synapse-nb demo` / Binder (${EMBEDDED_URL_ENV})",
        "synapse": f"Synapse at {url} (${SYNAPSE_URL_ENV})",
    }.get(source, f"{url} (given to connect())")


def connection_source(client: Any) -> str:
    """Where a client from :func:`connect` points, in words (no token; no local port).

    Example:
        >>> nb = connect(srv.url, api_token=srv.token)
        >>> connection_source(nb)  # a local port changes every run: shown as given
        'http://127.0.0.1:... (given to connect())'
        >>> nb.close()
    """
    source = _SOURCES.get(client) if client is not None else None
    if source is None:
        raise InvalidInputError(
            "client",
            type(client).__name__,
            "was not returned by connect()",
            method="connection_source",
        )
    return _describe(source, client.base_url)


def list_projects(client: Any, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The projects the token can see as a typed frame, one row each (every page).

    The client's ``list_projects`` returns the raw envelope (it is not a Synapse SDK method, so the
    notebook ``Client`` has no frame version of it); this is the frame.

    Args:
        client: A :class:`~synapse_nb.frames.Client` (or ``BackendClient``).
        params: Extra query parameters (``search``, ``category``, ``page_size``...).

    Returns:
        A frame indexed by project ``id``: ``title``, ``description``, ``category``,
        ``data_collection``, ``n_classes``, ``created``.

    Example:
        >>> list_projects(client)[["title", "n_classes"]].head(3)
                       title  n_classes
        id
        1   Street detection          7
        2    Pedestrian pose          7
        3     Upload sandbox          7

    """
    import pandas as pd

    from synapse_nb.clients._validate import check_params
    from synapse_nb.frames.client import as_client

    query = check_params(params, method="list_projects")
    raw = as_client(client, "list_projects").raw
    query.setdefault("page_size", 100)
    items, _count = raw.list_projects(params=query, list_all=True)
    records = []
    for project in items:
        classes = (project.get("configuration") or {}).get("classes") or []
        records.append(
            {
                "id": project.get("id"),
                "title": project.get("title") or project.get("name"),
                "description": project.get("description"),
                "category": project.get("category"),
                "data_collection": project.get("data_collection"),
                "n_classes": len(classes),
                "created": project.get("created"),
            }
        )
    columns = ["id", "title", "description", "category", "data_collection", "n_classes", "created"]
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame["created"] = pd.to_datetime(frame["created"], utc=True, format="ISO8601")
    frame = frame.astype({"id": "Int64", "data_collection": "Int64", "n_classes": "Int32"})
    frame["title"] = frame["title"].astype("string")
    frame["description"] = frame["description"].astype("string")
    frame["category"] = frame["category"].astype("category")
    return frame.set_index("id").sort_index()


def _check_client_options(options: Mapping[str, Any]) -> None:
    """Refuse a keyword neither the notebook client nor its raw client takes, before any
    backend is started or asked (it would fail later as a ``TypeError`` from inside)."""
    from synapse_nb.clients import BackendClient
    from synapse_nb.clients._validate import keyword_names
    from synapse_nb.frames import Client

    names = keyword_names(Client.__init__, BackendClient.__init__,
                          given=("self", "base_url", "api_token"))  # fmt: skip
    for name, value in options.items():
        if name not in names:
            raise InvalidInputError(
                name,
                value,
                f"is not an option of connect() (client options: {', '.join(names)})",
                method=_METHOD,
            )

