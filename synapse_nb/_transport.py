"""The only code in synapse_nb that sends HTTP.

One :class:`Transport` owns one ``requests.Session`` whose connection pool is sized for the
client's concurrency, and an ``HTTPAdapter`` whose urllib3 ``Retry`` (:class:`LoggingRetry`)
implements :class:`~synapse_nb._config.RetryPolicy`. Every failure becomes a
:class:`~synapse_nb.exceptions.ClientError` subclass whose message names the method, the path
and the server's message.

Tokens are sent per request (never stored on the session), so file downloads stay
unauthenticated; every token the transport knows is registered with a logging filter that
redacts it from our own and urllib3's log records and from error messages.

Example:
    >>> t = Transport("http://127.0.0.1:9/api/", auth_headers={})
    >>> t.url_for("/tasks/7/")
    'http://127.0.0.1:9/api/tasks/7/'
    >>> t.close()
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError as _ConnectTimeoutError,
)
from urllib3.exceptions import (
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from synapse_nb._config import IDEMPOTENT_METHODS, ResponseLimits, RetryPolicy, Timeout
from synapse_nb._json import loads as json_loads
from synapse_nb._sse import decode_lines
from synapse_nb.exceptions import (
    ClientConnectionError,
    ClientError,
    ClientTimeoutError,
    CrossOriginError,
    DeadlineExceededError,
    InvalidInputError,
    ResponseIncompleteError,
    ResponseTooLargeError,
    UnexpectedResponseError,
    error_class_for_status,
)

__all__ = [
    "LoggingRetry",
    "Transport",
    "encode_json",
    "nonfinite_number",
    "origin_of",
    "redact",
    "refuse_nonfinite",
]

logger = logging.getLogger("synapse_nb.transport")

_NOT_SET: Any = object()
_MIN_SECRET_LEN = 4


# --------------------------------------------------------------------------- redaction
class _SecretRegistry:
    """Reference-counted set of secrets that must never reach a log record or message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= _MIN_SECRET_LEN:
            with self._lock:
                self._counts[secret] = self._counts.get(secret, 0) + 1

    def discard(self, secret: str | None) -> None:
        if not secret:
            return
        with self._lock:
            left = self._counts.get(secret, 0) - 1
            if left > 0:
                self._counts[secret] = left
            else:
                self._counts.pop(secret, None)

    def redact(self, text: str, extra: Iterable[str] = ()) -> str:
        with self._lock:
            secrets = list(self._counts)
        secrets.extend(s for s in extra if s and len(s) >= _MIN_SECRET_LEN)
        # Longest first, so a token that contains another is removed whole.
        for secret in sorted(secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "***")
        return text


_SECRETS = _SecretRegistry()


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Replace every registered secret (and ``extra`` ones) in ``text`` with ``***``.

    Example:
        >>> redact("POST agents/abcdef123456/connect/", extra=["abcdef123456"])
        'POST agents/***/connect/'
    """
    return _SECRETS.redact(text, extra)


class _RedactingFilter(logging.Filter):
    """Scrubs secrets from records of the loggers that may see request URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        cleaned = _SECRETS.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _RedactingFilter()
for _name in ("synapse_nb.transport", "urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_FILTER)


# --------------------------------------------------------------------------- retries
_CALL = threading.local()


@contextlib.contextmanager
def _call_budget(until: float | None) -> Iterator[None]:
    """Make ``until`` (a ``time.monotonic()`` instant) the retry budget of this thread's call.

    urllib3 retries inside the calling thread, so a thread-local is how the per-call
    budget reaches the shared ``Retry`` object of the session's adapter.
    """
    previous = getattr(_CALL, "until", None)
    _CALL.until = until
    try:
        yield
    finally:
        _CALL.until = previous


@contextlib.contextmanager
def _call_deadline(deadline: float | None) -> Iterator[None]:
    """Make ``deadline`` the instant this thread's call must have its reply headers by."""
    previous = getattr(_CALL, "deadline", None)
    _CALL.deadline = deadline
    try:
        yield
    finally:
        _CALL.deadline = previous


def _budget_left() -> float | None:
    until = getattr(_CALL, "until", None)
    return None if until is None else until - time.monotonic()


class LoggingRetry(Retry):
    """urllib3 ``Retry`` that logs each decision and may retry any method on 429.

    Args:
        retry_post_on_429: Retry non-idempotent methods on 429 too: the server refused the
            request before acting on it, so repeating it cannot apply it twice.
        **kwargs: Passed to ``urllib3.util.Retry``.

    Example:
        >>> r = LoggingRetry(total=2, status_forcelist={429}, allowed_methods={"GET"})
        >>> r.is_retry("POST", 429), r.is_retry("POST", 503)
        (True, False)
    """

    def __init__(self, *args: Any, retry_post_on_429: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_post_on_429 = retry_post_on_429

    def new(self, **kw: Any) -> LoggingRetry:
        kw.setdefault("retry_post_on_429", self.retry_post_on_429)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        left = _budget_left()
        if left is not None and left <= 0:
            return False  # the call's retry time is spent: this reply is final
        if (
            status_code == 429
            and self.retry_post_on_429
            and self.status_forcelist
            and 429 in self.status_forcelist
        ):
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> LoggingRetry:
        cause = f"status {response.status}" if response is not None else type(error).__name__
        left = _budget_left()
        if left is not None and left <= 0:
            logger.debug("giving up on %s %s after %s: retry time spent", method, url, cause)
            reason = error or ResponseError(f"retry time spent after {cause}")
            raise MaxRetryError(_pool, url or "", reason)
        try:
            new = super().increment(method, url, response, error, _pool, _stacktrace)
        except Exception:
            logger.debug("giving up on %s %s after %s", method, url, cause)
            raise
        wait = None
        if response is not None and self.respect_retry_after_header:
            try:
                wait = new.get_retry_after(response)
            except Exception:  # an unparsable Retry-After falls back to backoff
                wait = None
        if wait is None:
            wait = new.get_backoff_time()
        logger.debug(
            "retrying %s %s after %s (retry %d, %s left), waiting %.2fs",
            method,
            url,
            cause,
            len(new.history),
            new.total,
            wait,
        )
        return new

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds a ``Retry-After`` value asks for, capped; 0 (use the backoff) if unusable.

        A negative, malformed or absurd value is the server's mistake, not a reason to fail
        or to wait forever: it is treated like a rate limit without a hint.

        Example:
            >>> r = LoggingRetry(total=1, retry_after_max=60)
            >>> r.parse_retry_after("-5"), r.parse_retry_after("x"), r.parse_retry_after("9" * 40)
            (0.0, 0.0, 60)
        """
        try:
            return super().parse_retry_after(retry_after)
        except Exception:  # urllib3 raises InvalidHeader; dates can overflow
            logger.debug("ignoring unusable Retry-After %r; backing off instead", retry_after[:40])
            return 0.0

    def sleep_for_retry(self, response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after:
            time.sleep(_clamp_wait(retry_after))
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            time.sleep(_clamp_wait(backoff))


def _clamp_wait(wait: float) -> float:
    left = _budget_left()
    return wait if left is None else max(0.0, min(wait, left))


# --------------------------------------------------------------------------- transport
#: Bytes per socket write of a streamed body (urllib3's default is 16 KiB): a 50 MiB chunk
#: then takes 50 writes instead of 3200 Python-level loop turns.
SEND_BLOCKSIZE = 1024 * 1024


class _Watchdog:
    """One thread that shuts down the socket of a call still waiting for its reply headers
    at its deadline: a server that drips its status line and headers a byte at a time
    never trips the read timeout, which bounds only the silence between two bytes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, Any]] = {}
        self._next_key = 0
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, connection: Any) -> int:
        with self._cond:
            self._next_key += 1
            self._armed[self._next_key] = (deadline, connection)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="synapse-deadline", daemon=True
                )
                self._thread.start()
            self._cond.notify()
            return self._next_key

    def disarm(self, key: int) -> None:
        with self._cond:
            self._armed.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                expired = [k for k, (when, _) in self._armed.items() if when <= now]
                late = [self._armed.pop(k)[1] for k in expired]
                if not late:
                    soonest = min((when for when, _ in self._armed.values()), default=None)
                    self._cond.wait(None if soonest is None else soonest - now)
                    continue
                # under the lock: a call that got its headers is still inside disarm(), so
                # its connection cannot be back in the pool (and reused by another call)
                for connection in late:
                    with contextlib.suppress(OSError, AttributeError):
                        connection.sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


class _HTTPConnection(HTTPConnection):
    """A urllib3 connection whose wait for the reply headers ends at the call's deadline."""

    def getresponse(self) -> Any:
        deadline = getattr(_CALL, "deadline", None)
        if deadline is None:
            return super().getresponse()
        key = _WATCHDOG.arm(deadline, self)
        try:
            return super().getresponse()
        finally:
            _WATCHDOG.disarm(key)


class _HTTPSConnection(_HTTPConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", SEND_BLOCKSIZE)
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_BODY_READ = 1024 * 1024


def origin_of(url: str) -> tuple[str, str, int | None]:
    """The origin of ``url`` as ``(scheme, host, port)``, the default port filled in.

    Raises:
        ValueError: The port is not a number in 0-65535.

    Example:
        >>> origin_of("HTTP://Example.com/a"), origin_of("https://h:8443/x?y=1")
        (('http', 'example.com', 80), ('https', 'h', 8443))
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def _shown_url(parts: SplitResult) -> str:
    # For messages: no userinfo, no query string (presigned URLs carry signatures there).
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return redact(urlunsplit((parts.scheme, netloc, parts.path, "", "")))


def _mime(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _is_json(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json")


class Transport:
    """Sends requests to one Synapse base URL with pooling, retries and error mapping.

    Args:
        base_url: Root of the API; any path prefix is kept.
        auth_headers: Headers added to every API request (tokens); never logged.
        timeout: Default timeouts of a request.
        retry: Retry policy of every request.
        pool_maxsize: Connections kept per host; at least the number of threads that share
            this transport.
        default_params: Query params added to every API request (e.g. ``url_host``).
        limits: Largest JSON reply and overall deadline of one call.

    A URL taken from a reply (a ``next`` link, an upload ``url``) receives the auth headers
    only when its origin -- scheme, host and port -- is exactly base_url's and it carries no
    userinfo; anything else raises :class:`~synapse_nb.exceptions.CrossOriginError` before a
    byte is sent. Redirects are never followed for API calls: a 3xx reply raises
    :class:`~synapse_nb.exceptions.UnexpectedResponseError`, so the token cannot ride along.

    Example:
        >>> with Transport("http://127.0.0.1:9", auth_headers={"X": "y"}) as t:
        ...     t.url_for("jobs/")
        'http://127.0.0.1:9/jobs/'
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth_headers: Mapping[str, str],
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        pool_maxsize: int = 16,
        default_params: Mapping[str, Any] | None = None,
        user_agent: str = "synapse-nb",
        limits: ResponseLimits | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        if parts.username is not None or parts.password is not None:
            raise ValueError("base_url must not carry userinfo (user:password@); use a token")
        self.base_url = base_url.rstrip("/")
        self.origin = origin_of(self.base_url)
        self.timeout = timeout or Timeout()
        self.retry = retry or RetryPolicy()
        self.limits = limits or ResponseLimits()
        self._auth_headers = dict(auth_headers)
        self._default_params = dict(default_params or {})
        self._secrets = [v.split(" ", 1)[-1] for v in self._auth_headers.values() if v]
        for secret in self._secrets:
            _SECRETS.add(secret)
        self._closed = False
        self._session = requests.Session()
        self._user_agent = user_agent
        self._session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self._pool_maxsize = max(1, pool_maxsize)
        self._mount(self.retry)

    def _mount(self, retry: RetryPolicy) -> None:
        adapter = _Adapter(
            pool_connections=4,
            pool_maxsize=self._pool_maxsize,
            max_retries=retry.to_urllib3(),
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections and forget the secrets. Safe to call twice.

        Example:
            >>> t = Transport("http://127.0.0.1:9", auth_headers={}); t.close(); t.close()
        """
        if self._closed:
            return
        self._closed = True
        self._session.close()
        for secret in self._secrets:
            _SECRETS.discard(secret)

    def url_for(self, path: str) -> str:
        """Join ``path`` to the base URL (see docs/protocol.md); absolute URLs pass unchanged.

        Example:
            >>> Transport("http://h:8000/api/", auth_headers={}).url_for("/tasks/7/")
            'http://h:8000/api/tasks/7/'
        """
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def relative(self, url: str) -> str:
        """Return ``url`` relative to the base URL, for messages (no host, no query).

        Example:
            >>> Transport("http://h/api", auth_headers={}).relative("http://h/api/jobs/?page=2")
            'jobs/'
        """
        path = url.split("?", 1)[0]
        if path.startswith(self.base_url + "/"):
            return path[len(self.base_url) + 1 :]
        return urlsplit(path).path.lstrip("/") or path

    # ------------------------------------------------------------------ requests
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = _NOT_SET,
        data: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
        stream: bool = False,
        secrets: Iterable[str] = (),
    ) -> requests.Response:
        """Send one API request and return the response, raising for HTTP >= 400.

        Args:
            method: HTTP method.
            path: Path relative to the base URL, or an absolute URL (next links).
            params: Query params; ``None`` values are dropped, lists repeat the key.
            json_body: JSON body. For POST/PUT/PATCH without any body the JSON content type
                is still sent with an empty body (see docs/protocol.md).
            data: Form fields or a raw body (multipart with ``files``).
            files: Multipart files, as ``requests`` takes them.
            headers: Extra headers for this request.
            timeout: Overrides the default timeout.
            stream: Leave the body unread (streams).
            secrets: Extra strings to redact from logs and errors (e.g. a token in the path).

        Returns:
            The ``requests.Response`` of a successful (< 400) request.

        Raises:
            ClientError: A subclass per failure kind (see :mod:`synapse_nb.exceptions`).

        Example:
            >>> t = Transport("http://127.0.0.1:9", auth_headers={}, retry=RetryPolicy(total=0))
            >>> try:
            ...     t.request("GET", "jobs/")
            ... except ClientConnectionError as e:
            ...     e.method, e.path
            ('GET', 'jobs/')
        """
        if self._closed:
            raise ClientError(None, "client is closed", method=method, path=path)
        method = method.upper()
        url = self.url_for(path)
        extra_secrets = tuple(secrets)
        where = redact(self.relative(url), extra_secrets)
        send_headers = dict(self._check_origin(url, method, where))
        if headers:
            send_headers.update(headers)
        body: Any = data
        if json_body is not _NOT_SET:
            body = encode_json(json_body, method=f"{method} {where}")
            send_headers.setdefault("Content-Type", "application/json")
        elif data is None and files is None and method in ("POST", "PUT", "PATCH"):
            body = b""
            send_headers.setdefault("Content-Type", "application/json")
        merged = {**self._default_params, **(params or {})}
        query = {k: v for k, v in merged.items() if v is not None} or None
        started = time.monotonic()
        # A stream lasts as long as it must, and sending an upload body (a chunk of a file,
        # multipart files) takes as long as the link needs: neither has a call deadline.
        sends_file = files is not None or (data is not None and json_body is _NOT_SET)
        unbounded = stream or sends_file or self.limits.deadline is None
        deadline = None if unbounded else started + (self.limits.deadline or 0.0)
        budget = started + self.retry.max_retry_time
        timeout = timeout or self.timeout
        for secret in extra_secrets:
            # urllib3 logs the request line itself; register path secrets for its records too
            _SECRETS.add(secret)
        try:
            with (
                _call_budget(budget if deadline is None else min(budget, deadline)),
                _call_deadline(deadline),
            ):
                response = self._session.request(
                    method,
                    url,
                    params=query,
                    data=body,
                    files=files,
                    headers=send_headers,
                    timeout=_bounded(timeout, deadline),
                    stream=True,
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            if deadline is not None and time.monotonic() >= deadline:
                raise self._deadline_error(method, where) from None
            raise self._map_exception(exc, method, where, timeout, headers) from None
        finally:
            for secret in extra_secrets:
                _SECRETS.discard(secret)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s (%.0f ms)",
                method,
                where,
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
        if 300 <= response.status_code < 400:
            response.close()
            raise self._redirect_error(response, method, where)
        if not stream or response.status_code >= 400:
            self._read_body(response, method, where, deadline, timeout)
        if response.status_code >= 400:
            raise self._error_for(response, method, where, extra_secrets)
        return response

    def request_json(
        self,
        method: str,
        path: str,
        *,
        expect: str = "json",
        decode: Callable[[bytes], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Like :meth:`request`, but return the parsed body.

        Args:
            method: HTTP method.
            path: Path relative to the base URL, or an absolute URL of base_url's origin.
            expect: ``"json"`` (the default): the body must be JSON; ``"text"``: the body
                is returned as text (log endpoints).
            decode: Decodes a JSON body instead of :func:`synapse_nb._json.loads` (the
                typed page decoders of the frame listings); raises ``ValueError`` on a body
                that is not JSON.
            **kwargs: As for :meth:`request`.

        Returns:
            The parsed JSON, the text, or ``None`` for a reply without a body (204).

        Raises:
            UnexpectedResponseError: The body is HTML, not valid JSON, or missing where
                one is required.

        Example:
            >>> t = Transport("http://127.0.0.1:9", auth_headers={}, retry=RetryPolicy(total=0))
            >>> try:
            ...     t.request_json("GET", "projects/1/")
            ... except ClientConnectionError as e:
            ...     e.path
            'projects/1/'
        """
        response = self.request(method, path, **kwargs)
        return self.parse_body(
            response,
            expect=expect,
            method=method.upper(),
            path=redact(self.relative(response.url)),
            decode=decode,
        )

    @staticmethod
    def parse_body(
        response: requests.Response,
        *,
        expect: str = "json",
        method: str | None = None,
        path: str | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Parse a reply body: JSON (or text with ``expect="text"``); ``None`` when empty.

        Raises:
            UnexpectedResponseError: The body is not what ``expect`` says, or a reply other
                than 204 (or to DELETE) has no body.

        Example:
            >>> r = requests.Response(); r._content = b'{"a": 1}'; r.status_code = 200
            >>> r.headers["Content-Type"] = "application/json"
            >>> Transport.parse_body(r)
            {'a': 1}
        """
        content = response.content
        mime = _mime(response)
        status = response.status_code
        if not content:
            if expect == "text":
                return ""
            if status == 204 or method in ("DELETE", "HEAD", None):
                return None
            raise UnexpectedResponseError(
                status, mime, "an empty body where JSON was expected", method=method, path=path
            )
        if expect == "text":
            return response.text
        if not _is_json(mime):
            what = "an HTML page" if "html" in mime else "a body that is not JSON"
            raise UnexpectedResponseError(
                status, mime, f"{what} where JSON was expected", method=method, path=path
            )
        try:
            return (decode or json_loads)(content)
        except ValueError as exc:
            raise UnexpectedResponseError(
                status, mime, f"the body is not valid JSON ({exc})", method=method, path=path
            ) from None

    def download(self, url: str, dest: Path, *, timeout: Timeout | None = None) -> Path:
        """Fetch ``url`` into ``dest`` with a plain GET that carries no Synapse headers.

        The body is streamed to a temporary sibling file that replaces ``dest`` only when
        complete, so a cache never holds a half-written file. A URL with userinfo is
        refused; redirects are followed (nothing secret is sent with a download).

        Example:
            >>> t = Transport("http://127.0.0.1:9", auth_headers={}, retry=RetryPolicy(total=0))
            >>> try:
            ...     t.download("http://127.0.0.1:9/media/a.png", Path("/tmp/never.png"))
            ... except ClientConnectionError:
            ...     "unreachable"
            'unreachable'
        """
        parts = urlsplit(url)
        where = _shown_url(parts)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CrossOriginError(where, "not an absolute http(s) URL", method="GET")
        if parts.username is not None or parts.password is not None:
            raise CrossOriginError(where, "the URL carries userinfo (user@host)", method="GET")
        timeout = timeout or self.timeout
        with _call_budget(time.monotonic() + self.retry.max_retry_time):
            try:
                response = self._session.get(url, timeout=timeout.as_requests(), stream=True)
            except requests.RequestException as exc:
                raise self._map_exception(exc, "GET", where, timeout) from None
        with response:
            if response.status_code >= 400:
                self._read_body(response, "GET", where, None, timeout)
                raise self._error_for(response, "GET", where, ())
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{threading.get_ident()}.{random.getrandbits(32)}")
            try:
                with open(tmp, "wb") as fh:
                    for block in response.iter_content(1024 * 1024):
                        fh.write(block)
                tmp.replace(dest)
            except requests.RequestException as exc:
                raise self._map_exception(exc, "GET", where, timeout) from None
            finally:
                tmp.unlink(missing_ok=True)
        return dest

    def _read_body(
        self,
        response: requests.Response,
        method: str,
        where: str,
        deadline: float | None,
        timeout: Timeout,
    ) -> None:
        # Read the body ourselves, a block at a time as it arrives (read1), so that both the
        # size cap and the overall deadline are checked between blocks: a server that drips
        # a byte a second never trips the read timeout, and one that sends 300 MB is cut
        # off at the cap instead of being held whole in memory.
        limit = self.limits.max_json_bytes
        mime = _mime(response)
        declared = response.headers.get("Content-Length", "")
        # a server's header is not trusted: "²" passes isdigit() but not int(), and int()
        # refuses more than 4,300 digits; more digits than the limit has is over it anyway
        declared = declared.lstrip("0") if declared.isascii() and declared.isdigit() else ""
        if len(declared) > len(str(limit)) or (declared and int(declared) > limit):
            response.close()
            shown = declared if len(declared) <= 30 else f"a {len(declared)}-digit number of"
            raise ResponseTooLargeError(
                response.status_code,
                mime,
                f"announced {shown} bytes, above max_json_bytes={limit}",
                method=method,
                path=where,
            )
        blocks: list[bytes] = []
        size = 0
        try:
            while True:
                if deadline is not None and time.monotonic() > deadline:
                    response.close()
                    raise self._deadline_error(method, where)
                block = response.raw.read1(_BODY_READ, decode_content=True)
                if not block:
                    break
                size += len(block)
                if size > limit:
                    response.close()
                    raise ResponseTooLargeError(
                        response.status_code,
                        mime,
                        f"more than max_json_bytes={limit} bytes; the rest was not read",
                        method=method,
                        path=where,
                    )
                blocks.append(block)
        except (requests.RequestException, ProtocolError, ReadTimeoutError, OSError) as exc:
            response.close()
            wrapped: requests.RequestException
            if isinstance(exc, requests.RequestException):
                wrapped = exc
            elif isinstance(exc, ReadTimeoutError):
                wrapped = requests.ReadTimeout(exc)
            else:
                wrapped = requests.ConnectionError(exc)
            raise self._map_exception(wrapped, method, where, timeout) from None
        response._content = b"".join(blocks)
        response.raw.release_conn()  # read to the end: the connection goes back to the pool

    def _deadline_error(self, method: str, where: str) -> DeadlineExceededError:
        return DeadlineExceededError(
            408,
            f"the call took longer than its deadline of {self.limits.deadline}s",
            method=method,
            path=where,
        )

    def _redirect_error(
        self, response: requests.Response, method: str, where: str
    ) -> UnexpectedResponseError:
        location = response.headers.get("Location", "")
        target = _shown_url(urlsplit(location)) if location else "nowhere"
        return UnexpectedResponseError(
            response.status_code,
            _mime(response),
            f"a redirect to {target}; redirects are not followed, so the token stays with base_url",
            method=method,
            path=where,
        )

    def sse_events(
        self, path: str, *, read_timeout: float | None, method: str = "GET"
    ) -> Iterator[dict[str, Any]]:
        """Open a Server-Sent Events stream and yield its events (see :mod:`synapse_nb._sse`).

        The stream is opened at once (so a refused request raises here); the events are
        read lazily. ``read_timeout`` bounds the silence between two lines (``None``: none).

        Raises:
            ClientError: Opening failed, or the stream broke or fell silent while read.

        Example:
            >>> t = Transport("http://127.0.0.1:9", auth_headers={}, retry=RetryPolicy(total=0))
            >>> try:
            ...     t.sse_events("jobs/1/tail_console_logs/", read_timeout=1)
            ... except ClientConnectionError as e:
            ...     e.path
            'jobs/1/tail_console_logs/'
        """
        timeout = Timeout(connect=self.timeout.connect, read=read_timeout)
        response = self.request(
            method,
            path,
            stream=True,
            headers={"Accept": "text/event-stream"},
            timeout=timeout,
        )
        where = redact(self.relative(response.url))
        return self._events(response, method, where, timeout)

    def _events(
        self, response: requests.Response, method: str, where: str, timeout: Timeout
    ) -> Iterator[dict[str, Any]]:
        with response:
            try:
                yield from decode_lines(response.iter_lines(decode_unicode=True))
            except requests.RequestException as exc:
                raise self._map_exception(exc, method, where, timeout) from None

    def websocket(self, path: str, *, timeout: float | None = None) -> Iterator[str]:
        """Open a WebSocket to ``path`` (``ws``/``wss`` of the base URL) and yield text frames.

        The same auth headers as API requests are sent with the handshake. Iteration ends
        when the server closes normally; ``timeout`` bounds the wait for each frame.

        Raises:
            ClientError: The handshake was refused (by status), the connection failed or
                broke, or no frame came within ``timeout`` (408).

        Example:
            >>> t = Transport("http://127.0.0.1:9", auth_headers={})
            >>> frames = t.websocket("jobs/1/logs/")  # lazy: connects on first next()
        """
        return self._ws_frames(path, timeout)

    def _ws_frames(self, path: str, timeout: float | None) -> Iterator[str]:
        # websockets (a uvicorn[standard] dependency) provides the synchronous client.
        from websockets.exceptions import ConnectionClosedOK, InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        url = self.url_for(path)
        where = redact(self.relative(url))
        headers = dict(self._check_origin(url, "GET", where))
        ws_url = "ws" + url[len("http") :]
        try:
            connection = connect(
                ws_url,
                additional_headers=headers,
                open_timeout=self.timeout.connect,
                user_agent_header=self._user_agent,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise error_class_for_status(status)(
                status, exc.response.reason_phrase, method="GET", path=where
            ) from None
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise ClientConnectionError(
                None, f"could not open WebSocket: {_short(exc)}", method="GET", path=where
            ) from None
        with connection:
            while True:
                try:
                    frame = connection.recv(timeout=timeout)
                except TimeoutError:
                    raise ClientTimeoutError(
                        408, f"no message within {timeout}s", method="GET", path=where
                    ) from None
                except ConnectionClosedOK:
                    return
                except (OSError, WebSocketException) as exc:
                    raise ClientConnectionError(
                        None, f"WebSocket broke: {_short(exc)}", method="GET", path=where
                    ) from None
                yield frame if isinstance(frame, str) else frame.decode("utf-8", "replace")

    # ------------------------------------------------------------------ helpers
    def check_origin(self, url: str, *, method: str = "GET") -> None:
        """Raise unless ``url`` may receive this transport's credentials.

        Allowed: exactly base_url's scheme, host and port, and no userinfo. Text prefixes
        decide nothing: ``http://h:8000@evil/`` and ``http://h:8001/`` are both refused for
        a base_url of ``http://h:8000``.

        Raises:
            CrossOriginError: Another origin, userinfo, or an unreadable port.

        Example:
            >>> t = Transport("http://127.0.0.1:8000/api", auth_headers={})
            >>> t.check_origin("http://127.0.0.1:8000/api/tasks/?page=2")
            >>> try:
            ...     t.check_origin("http://127.0.0.1:8001/api/tasks/")
            ... except CrossOriginError as e:
            ...     e.url
            'http://127.0.0.1:8001/api/tasks/'
        """
        parts = urlsplit(url)
        shown = _shown_url(parts)
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise CrossOriginError(
                shown, "refusing to send credentials to a URL with userinfo", method=method
            )
        try:
            origin = origin_of(url)
        except ValueError:
            raise CrossOriginError(shown, "the URL's port is not valid", method=method) from None
        if origin != self.origin:
            scheme, host, port = origin
            base_scheme, base_host, base_port = self.origin
            raise CrossOriginError(
                shown,
                f"refusing to send credentials to {scheme}://{host}:{port}, another origin "
                f"than base_url's {base_scheme}://{base_host}:{base_port}",
                method=method,
            )

    def _check_origin(self, url: str, method: str, where: str) -> Mapping[str, str]:
        # Absolute URLs come from the server (next links, upload urls, log tails).
        # Credentials go only to the origin we were configured with.
        self.check_origin(url, method=method)
        return self._auth_headers

    def _error_for(
        self, response: requests.Response, method: str, where: str, secrets: Iterable[str]
    ) -> ClientError:
        try:
            detail: Any = response.json()
        except ValueError:
            detail = response.text.strip() or response.reason
        detail = _redact_tree(detail, tuple(self._secrets) + tuple(secrets))
        cls = error_class_for_status(response.status_code)
        err = cls(response.status_code, detail, method=method, path=where)
        err.message = redact(err.message, secrets)
        err.args = (err.message,)
        every = tuple(self._secrets) + tuple(secrets)
        # looked up in any case: uvicorn and HTTP/2 proxies send names in lower case
        err.headers = CaseInsensitiveDict(
            {k: redact(v, every) for k, v in response.headers.items()}
        )
        return err

    def _map_exception(
        self,
        exc: requests.RequestException,
        method: str,
        where: str,
        timeout: Timeout,
        headers: Mapping[str, str] | None = None,
    ) -> ClientError:
        sent = {**self._auth_headers, **(headers or {})}  # the headers that may be secret
        if isinstance(exc, requests.exceptions.InvalidHeader):
            # requests quotes the offending header, value included, in its message, and a
            # header value may be a token: name the header, never show its value.
            return ClientError(
                None,
                f"the request header {_invalid_header(sent)} cannot be sent (a value with "
                "surrounding whitespace, a line break or a control character, or not a str); "
                "its value is not shown",
                method=method,
                path=where,
            )
        message = _message_without(sent.values())
        reason = _root_cause(exc)
        sent_maybe = method not in IDEMPOTENT_METHODS
        if isinstance(exc, requests.ConnectTimeout) or (
            isinstance(reason, _ConnectTimeoutError) and not isinstance(reason, NewConnectionError)
        ):
            return ClientTimeoutError(
                408, f"connect timeout (>{timeout.connect}s)", method=method, path=where
            )
        if isinstance(exc, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
            text = f"read timeout (>{timeout.read}s)"
            if sent_maybe:
                return ResponseIncompleteError(
                    None, f"{text}; the server may have applied it", method=method, path=where
                )
            return ClientTimeoutError(408, text, method=method, path=where)
        if isinstance(reason, NewConnectionError):
            return ClientConnectionError(
                None, f"could not connect: {message(reason)}", method=method, path=where
            )
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            text = f"connection lost: {message(reason)}"
            if sent_maybe and isinstance(reason, ProtocolError | OSError):
                return ResponseIncompleteError(
                    None, f"{text}; the server may have applied it", method=method, path=where
                )
            return ClientConnectionError(None, text, method=method, path=where)
        return ClientError(None, message(exc), method=method, path=where)


def _bounded(timeout: Timeout, deadline: float | None) -> tuple[float | None, float | None]:
    # No single wait may outlast the call's deadline.
    connect, read = timeout.as_requests()
    if deadline is None:
        return connect, read
    left = max(0.001, deadline - time.monotonic())
    return (
        left if connect is None else min(connect, left),
        left if read is None else min(read, left),
    )


def _root_cause(exc: BaseException) -> BaseException:
    seen: BaseException = exc
    for _ in range(6):
        inner: Any = None
        if isinstance(seen, MaxRetryError):
            inner = seen.reason
        elif seen.args and isinstance(seen.args[0], BaseException):
            inner = seen.args[0]
        if inner is None:
            break
        seen = inner
    return seen


def _short(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The exception's text, secrets redacted, then shortened (redacting a shortened text
    could leave the start of a secret the cut went through)."""
    text = redact(str(exc) or type(exc).__name__, secrets)
    return text if len(text) < 300 else text[:297] + "..."


def nonfinite_number(value: Any, field: str = "data") -> tuple[str, float] | None:
    """Where ``value`` holds a NaN or an infinity, as ``(field path, number)``; else None.

    JSON has no such numbers (``json.dumps`` writes ``NaN``, which the API refuses). The path
    is written as Python indexes it, e.g. ``data['metrics']['map']``; keys are looked at too.

    Example:
        >>> nonfinite_number({"metrics": {"map": 0.5, "ap": [1.0, float("inf")]}})
        ("data['metrics']['ap'][1]", inf)
        >>> nonfinite_number({"metrics": {"map": 0.5}}) is None
        True
    """
    stack: list[tuple[str, Any]] = [(field, value)]
    seen: set[int] = set()
    while stack:  # depth first, in order, without recursion (bodies may nest deeply)
        path, item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return path, item
            continue
        if isinstance(item, Mapping):
            children = list(item.items())
        elif isinstance(item, list | tuple):
            children = list(enumerate(item))
        else:
            continue
        if id(item) in seen:  # a cycle; json.dumps reports it
            continue
        seen.add(id(item))
        for key, _ in children:
            if isinstance(key, float) and not math.isfinite(key):
                return f"{path}[{key!r}]", key
        stack.extend((f"{path}[{key!r}]", child) for key, child in reversed(children))
    return None


def encode_json(value: Any, *, method: str | None = None, field: str = "data") -> bytes:
    """``value`` as a JSON request body; NaN and infinities are refused, naming where.

    Raises:
        InvalidInputError: ``value`` holds a NaN or an infinity (nothing was sent).

    Example:
        >>> encode_json({"a": [1, 2.5]})
        b'{"a": [1, 2.5]}'
        >>> try:
        ...     encode_json({"metadata": {"x": float("nan")}}, method="update_task")
        ... except InvalidInputError as err:
        ...     print(err.field)
        data['metadata']['x']
    """
    try:
        return json.dumps(value, allow_nan=False).encode()
    except ValueError:
        refuse_nonfinite(value, method=method, field=field)
        raise  # not a NaN: what json.dumps refused (a circular reference)


def _skip(value: Any) -> None:
    return None


def refuse_nonfinite(value: Any, *, method: str | None = None, field: str = "data") -> None:
    """Raise :class:`InvalidInputError` naming the first NaN or infinity in ``value``.

    ``json.dumps`` looks for one in C (values JSON has no type for are skipped there); only
    when it finds one does a walk locate it (:func:`nonfinite_number`).

    Example:
        >>> refuse_nonfinite({"a": [1, 2.5], "when": object()})
        >>> try:
        ...     refuse_nonfinite({"params": {"lr": float("nan")}}, method="run_plugin")
        ... except InvalidInputError as err:
        ...     print(err.field)
        data['params']['lr']
    """
    try:
        json.dumps(value, allow_nan=False, default=_skip)
    except ValueError:
        found = nonfinite_number(value, field)
        if found is not None:
            raise InvalidInputError(
                found[0],
                found[1],
                "is not a finite number, and JSON has no NaN or Infinity (use None for no value)",
                method=method,
            ) from None
    except (TypeError, RecursionError):  # keys JSON cannot hold, or too deep: not ours to say
        pass


def _invalid_header(headers: Mapping[str, Any]) -> str:
    """The name of the first header requests refuses (``'?'`` if none is found)."""
    for name, value in headers.items():
        try:
            requests.utils.check_header_validity((name, value))
        except requests.exceptions.InvalidHeader:
            return repr(name) if isinstance(name, str) and name.isprintable() else "(a name)"
    return "?"


def _message_without(values: Iterable[Any]) -> Callable[[BaseException], str]:
    r"""``_short`` of an exception without any of the header ``values`` in it.

    A value is removed as sent and as quoted by ``repr`` (the messages of requests and
    urllib3 quote values, which turns a trailing newline into ``\n``), whole, stripped, and
    without its ``Token`` scheme.

    Example:
        >>> short = _message_without(["Token s3cret-tok\n"])
        >>> print(short(ValueError("bad header value: " + repr("Token s3cret-tok\n"))))
        bad header value: '***'
    """
    forms: set[str] = set()
    for value in values:
        if not isinstance(value, str | bytes):
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        for part in (text, text.split(" ", 1)[-1]):
            for form in (part, part.strip()):
                forms.add(form)
                forms.add(repr(form)[1:-1])
                forms.add(repr(form.encode("utf-8", "replace"))[2:-1])

    def short(exc: BaseException) -> str:
        return _short(exc, forms)

    return short


def _redact_tree(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact_tree(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_tree(v, secrets) for v in value]
    return value
