"""BackendClient: the Synapse SDK's client of the Synapse backend, composed from domain mixins.

Example:
    >>> client = BackendClient("http://127.0.0.1:9", api_token="secret-token")
    >>> client
    BackendClient(base_url='http://127.0.0.1:9', api_token=***, agent_token=None, tenant=None)
    >>> client.close()
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from synapse_nb._config import DEFAULT_MAX_WORKERS
from synapse_nb.clients._base import BaseClient
from synapse_nb.clients.annotation import AnnotationClientMixin
from synapse_nb.clients.core import CoreClientMixin
from synapse_nb.clients.data_collection import DataCollectionClientMixin
from synapse_nb.clients.hitl import HITLClientMixin
from synapse_nb.clients.integration import IntegrationClientMixin
from synapse_nb.clients.ml import MLClientMixin
from synapse_nb.exceptions import InvalidInputError

__all__ = ["BackendClient"]

#: A token goes into a header value: printable ASCII only, no space (``\Z``, not ``$``:
#: ``$`` also matches before a final newline).
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+\Z")


def _token(value: Any, field: str, *, env: bool = False) -> str | None:
    """Return a token (or tenant code) fit for a header, ``None`` when not given.

    Surrounding whitespace is stripped, as :func:`synapse_nb.session.connect` does: a token
    read from a file (``open("token.txt").read()``) keeps its final newline. A value from an
    environment variable (``env=True``) holding only whitespace counts as unset. The error
    for a malformed token never shows it, only its length.

    Example:
        >>> _token("secret-token\\n", "api_token")
        'secret-token'
        >>> try:
        ...     _token("secret\\ttoken", "api_token")
        ... except InvalidInputError as err:
        ...     print(err)
        BackendClient: invalid api_token='<12 characters>': must be a token of printable \
ASCII characters without spaces, tabs, line breaks or other control characters (surrounding \
whitespace is stripped) (nothing was sent)
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInputError(
            field, type(value).__name__, "must be a token string", method="BackendClient"
        )
    token = value.strip()
    if not token:
        if env:  # as connect() reads the environment: blank is unset
            return None
        # Never echo a token, even a malformed one: only its length.
        raise InvalidInputError(
            field,
            f"<{len(value)} characters>",
            "is only whitespace (an empty token file?); give a token or None",
            method="BackendClient",
        )
    if not _HEADER_SAFE.fullmatch(token):
        raise InvalidInputError(
            field,
            f"<{len(value)} characters>",
            "must be a token of printable ASCII characters without spaces, tabs, line breaks "
            "or other control characters (surrounding whitespace is stripped)",
            method="BackendClient",
        )
    return token


class BackendClient(
    AnnotationClientMixin,
    CoreClientMixin,
    DataCollectionClientMixin,
    HITLClientMixin,
    IntegrationClientMixin,
    MLClientMixin,
    BaseClient,
):
    """Client of the Synapse backend API.

    Args:
        base_url: Base URL of the backend API, e.g. ``https://api.synapse.sh``.
        api_token: API token, sent as ``Synapse-Access-Token: Token <api_token>``; falls
            back to ``$SYNAPSE_API_TOKEN``. Surrounding whitespace (a token file's final
            newline) is stripped from every token, as ``connect()`` does; a token with
            whitespace or control characters inside is refused, without being shown.
        agent_token: Agent token, sent as ``SYNAPSE-Agent: Token <agent_token>``; falls back
            to ``$SYNAPSE_AGENT_TOKEN``.
        timeout: ``{'connect': 5, 'read': 30}`` by default; a number or a pair also work.
        access_token: the Synapse SDK's name of ``api_token``.
        tenant: Tenant code, sent as ``Synapse-Tenant: Token <tenant>``.
        authorization_token: Legacy token, sent as ``Authorization: Token <token>``.
        retry: :class:`~synapse_nb._config.RetryPolicy`, a dict of its fields or an int.
        max_workers: Concurrent page fetches of ``list_all=True`` (default 8).
        page_size: Page size of ``list_all=True`` (default 1000; a server that caps it
            lower is detected from the first page).
        cache_dir: Download cache of ``url_conversion``.
        url_host: Added as ``?url_host=`` to every request (current Synapse SDK).
        limits: Largest JSON reply and overall deadline of one call
            (:class:`~synapse_nb._config.ResponseLimits` or a dict of its fields).

    Example:
        >>> import os
        >>> os.environ["SYNAPSE_API_TOKEN"] = "from-env-token"
        >>> with BackendClient("http://127.0.0.1:9") as c:
        ...     c.has_api_token
        True
        >>> del os.environ["SYNAPSE_API_TOKEN"]
    """

    def __init__(
        self,
        base_url: str,
        api_token: str | None = None,
        agent_token: str | None = None,
        timeout: Any = None,
        *,
        access_token: str | None = None,
        tenant: str | None = None,
        authorization_token: str | None = None,
        retry: Any = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        page_size: int | None = None,
        cache_dir: str | Path | None = None,
        url_host: str | None = None,
        limits: Any = None,
    ) -> None:
        api_token = _token(api_token, "api_token")
        access_token = _token(access_token, "access_token")
        if api_token and access_token and api_token != access_token:
            raise InvalidInputError(
                "access_token",
                "<hidden>",
                "differs from api_token; give only one",
                method="BackendClient",
            )
        api_token = (
            api_token
            or access_token
            or _token(os.environ.get("SYNAPSE_API_TOKEN"), "SYNAPSE_API_TOKEN", env=True)
        )
        agent_token = _token(agent_token, "agent_token") or _token(
            os.environ.get("SYNAPSE_AGENT_TOKEN"), "SYNAPSE_AGENT_TOKEN", env=True
        )
        tenant = _token(tenant, "tenant")
        authorization_token = _token(authorization_token, "authorization_token")
        headers: dict[str, str] = {}
        if api_token:
            headers["Synapse-Access-Token"] = f"Token {api_token}"
        if authorization_token:
            headers["Authorization"] = f"Token {authorization_token}"
        if tenant:
            headers["Synapse-Tenant"] = f"Token {tenant}"
        if agent_token:
            headers["SYNAPSE-Agent"] = f"Token {agent_token}"
        self.has_api_token = api_token is not None
        self.has_agent_token = agent_token is not None
        self._has_tenant = tenant is not None
        super().__init__(
            base_url,
            timeout,
            headers=headers,
            retry=retry,
            max_workers=max_workers,
            page_size=page_size,
            cache_dir=cache_dir,
            default_params={"url_host": url_host} if url_host else None,
            limits=limits,
        )

    def __repr__(self) -> str:
        def shown(flag: bool) -> str:
            return "***" if flag else "None"

        return (
            f"BackendClient(base_url={self.base_url!r}, api_token={shown(self.has_api_token)}, "
            f"agent_token={shown(self.has_agent_token)}, tenant={shown(self._has_tenant)})"
        )
