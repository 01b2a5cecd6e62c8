"""Small value objects that configure the clients: timeouts, retry policy, defaults.

Example:
    >>> Timeout.coerce({"connect": 2, "read": 10})
    Timeout(connect=2.0, read=10.0)
    >>> RetryPolicy(total=2).total
    2
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_LIST_ALL_PAGE_SIZE",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_WORKERS",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_UPLOAD_WORKERS",
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "ResponseLimits",
    "RetryPolicy",
    "Timeout",
    "default_cache_dir",
]

#: Chunk size of the chunked-upload protocol (see docs/protocol.md): 50 MiB.
DEFAULT_CHUNK_SIZE = 50 * 1024 * 1024
#: Page size the SDK sends (see docs/protocol.md); also what endpoints that always page send.
DEFAULT_PAGE_SIZE = 100
#: Page size ``list_all=True`` asks for when params set none. Larger than the SDK's 100:
#: each request costs the server a fixed overhead plus an OFFSET scan, so 10x fewer pages
#: is the biggest single saving on long lists. The backend honours up to 1000 (see
#: docs/protocol.md); a server that caps lower is detected from page 1's length.
DEFAULT_LIST_ALL_PAGE_SIZE = 1000
#: Concurrent page fetches of ``list_all=True``. With pages of 1000, eight requests in
#: flight keep a server busy across 20 ms of latency while this process is busy building the
#: frame (the embedded backend reads one page at a time, so waiting requests cost it
#: nothing). Measured on 2 cores, typed task frames at 20 ms latency, 4 alternating runs
#: each: 100k tasks 1.75-1.97 s with 4 workers, 1.52-1.81 s with 8; 1M tasks 18.6-19.6 s
#: with 4, 16.0-17.2 s with 8 and 18.4-18.9 s with 16.
DEFAULT_MAX_WORKERS = 8
#: Most concurrent uploads of ``upload()`` by default (fewer when the client's ``max_workers``
#: is lower): each large file in flight holds two chunk buffers of DEFAULT_CHUNK_SIZE.
DEFAULT_UPLOAD_WORKERS = 4
#: Most pages one ``list_all=True`` walk fetches (``max_pages=`` raises it). A server that
#: announces more, or a cursor list without a ``count`` that goes on longer, ends the walk
#: with a ``PaginationError``. At the default page size this is 100 million items.
DEFAULT_MAX_PAGES = 100_000
#: Statuses that mean "try again later" rather than "this request is wrong".
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Methods whose repetition cannot apply a change twice; a chunk PUT carries its own range.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def _seconds(name: str, value: Any, *, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"timeout {name} must be a positive number of seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Timeout:
    """Connect and read timeouts in seconds (``read=None`` waits forever, for streams).

    Args:
        connect: Seconds to establish a TCP connection.
        read: Seconds to wait between bytes of the reply.

    Example:
        >>> Timeout()
        Timeout(connect=5.0, read=30.0)
        >>> Timeout.coerce(10).as_requests()
        (10.0, 10.0)
    """

    connect: float | None = 5.0
    read: float | None = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "connect", _seconds("connect", self.connect, allow_none=True))
        object.__setattr__(self, "read", _seconds("read", self.read, allow_none=True))

    @classmethod
    def coerce(cls, value: Any) -> Timeout:
        """Build a Timeout from ``None``, a number, a ``(connect, read)`` pair or a dict.

        The dict form is the Synapse SDK's ``{'connect': 5, 'read': 30}``; missing keys keep their
        defaults.

        Example:
            >>> Timeout.coerce({"read": 60})
            Timeout(connect=5.0, read=60.0)
        """
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"connect", "read"}
            if unknown:
                raise ValueError(f"timeout has unknown keys {sorted(unknown)}; use connect/read")
            return cls(connect=value.get("connect", 5.0), read=value.get("read", 30.0))
        if isinstance(value, tuple | list) and len(value) == 2:
            return cls(connect=value[0], read=value[1])
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(connect=value, read=value)
        raise ValueError(
            f"timeout must be a number, a (connect, read) pair or a dict, got {value!r}"
        )

    def as_requests(self) -> tuple[float | None, float | None]:
        """Return the ``(connect, read)`` tuple that ``requests`` expects.

        Example:
            >>> Timeout(3, 9).as_requests()
            (3.0, 9.0)
        """
        return (self.connect, self.read)


@dataclass(frozen=True)
class RetryPolicy:
    """How the transport retries failed requests.

    Requests are retried on ``statuses`` (429/502/503/504) and on connection errors, with
    exponential backoff ``backoff_factor * 2**(n-1)`` (none before the first retry) plus
    up to ``backoff_jitter`` seconds of random jitter, capped at ``backoff_max``. A
    ``Retry-After`` reply header (seconds or an HTTP date) replaces the backoff, capped at
    ``retry_after_max``.

    Only ``methods`` (idempotent ones) are retried after the request left the client.
    POST/PATCH are retried only when the connection could not be made at all, and on 429
    when ``retry_post_on_429`` is set (a 429 means the server refused before acting).

    Args:
        total: Maximum retries of one request (0 disables retrying).
        backoff_factor: Base of the exponential backoff, in seconds.
        backoff_max: Cap of a single backoff sleep, in seconds.
        backoff_jitter: Upper bound of the uniform random jitter added to a backoff.
        retry_after_max: Cap of a server-requested ``Retry-After`` wait, in seconds. A
            negative or unreadable value is treated as absent (the backoff applies).
        max_retry_time: Cap of the time one call spends waiting between its retries, in
            seconds; once spent, the last reply (or error) is final.
        statuses: HTTP statuses that are retried.
        methods: Methods retried after a read error or a retryable status.
        retry_post_on_429: Also retry non-idempotent methods on 429.

    Example:
        >>> policy = RetryPolicy(total=5, backoff_factor=0.1)
        >>> policy.to_urllib3().total
        5
    """

    total: int = 5
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.5
    retry_after_max: int = 60
    max_retry_time: float = 120.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    methods: frozenset[str] = field(default=IDEMPOTENT_METHODS)
    retry_post_on_429: bool = True

    def __post_init__(self) -> None:
        for name in ("total", "retry_after_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"RetryPolicy.{name} must be an int >= 0, got {value!r}")
        for name in ("backoff_factor", "backoff_max", "backoff_jitter", "max_retry_time"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"RetryPolicy.{name} must be a number >= 0, got {value!r}")
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))

    @classmethod
    def coerce(cls, value: Any) -> RetryPolicy:
        """Build a policy from ``None`` (defaults), an int (``total``), a dict or a policy.

        Example:
            >>> RetryPolicy.coerce(0).total
            0
        """
        if value is None:
            return cls()
        if isinstance(value, RetryPolicy):
            return value
        if isinstance(value, bool):
            return cls() if value else cls(total=0)
        if isinstance(value, int):
            return cls(total=value)
        if isinstance(value, Mapping):
            return cls(**value)
        raise ValueError(f"retry must be None, an int, a dict or a RetryPolicy, got {value!r}")

    def to_urllib3(self) -> Any:
        """Return the urllib3 ``Retry`` object that implements this policy.

        Example:
            >>> RetryPolicy(total=2).to_urllib3().status_forcelist == {429, 502, 503, 504}
            True
        """
        from synapse_nb._transport import LoggingRetry  # one-way: config is imported first

        return LoggingRetry(
            total=self.total,
            connect=self.total,
            read=self.total,
            status=self.total,
            other=0,
            redirect=0,
            allowed_methods=self.methods,
            status_forcelist=set(self.statuses),
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff_jitter,
            retry_after_max=self.retry_after_max,
            raise_on_status=False,
            raise_on_redirect=False,
            respect_retry_after_header=True,
            retry_post_on_429=self.retry_post_on_429,
        )


def _limit(name: str, value: Any, *, integer: bool) -> None:
    number = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not number or value <= 0:
        what = "int" if integer else "number"
        raise ValueError(f"ResponseLimits.{name} must be a positive {what}, got {value!r}")


@dataclass(frozen=True)
class ResponseLimits:
    """Bounds on one API call: the size of a JSON reply and the wall-clock time of the call.

    The read timeout bounds the silence *between* bytes; a server that drips one byte a
    second never trips it. ``deadline`` bounds the whole call instead: connecting, every
    retry and its wait, and reading the body. ``max_json_bytes`` bounds a reply that is
    read whole (every API reply except streams and file downloads, which go to disk). A
    request that sends a file (an upload chunk, multipart files) has no deadline: sending it
    takes as long as the link needs, and the chunked upload has its own resume timeout.

    Args:
        max_json_bytes: Largest reply body read into memory, in bytes (default 64 MiB).
        deadline: Seconds one call may take in total; ``None`` lets it run (default 300).

    Example:
        >>> ResponseLimits(max_json_bytes=1024).deadline
        300.0
    """

    max_json_bytes: int = 64 * 1024 * 1024
    deadline: float | None = 300.0

    def __post_init__(self) -> None:
        _limit("max_json_bytes", self.max_json_bytes, integer=True)
        if self.deadline is not None:
            _limit("deadline", self.deadline, integer=False)
            object.__setattr__(self, "deadline", float(self.deadline))

    @classmethod
    def coerce(cls, value: Any) -> ResponseLimits:
        """Build limits from ``None`` (defaults), a dict of the fields or a ``ResponseLimits``.

        Example:
            >>> ResponseLimits.coerce({"deadline": 10}).deadline
            10.0
        """
        if value is None:
            return cls()
        if isinstance(value, ResponseLimits):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"max_json_bytes", "deadline"}
            if unknown:
                raise ValueError(f"limits has unknown keys {sorted(unknown)}")
            return cls(**value)
        raise ValueError(f"limits must be None, a dict or a ResponseLimits, got {value!r}")


def default_cache_dir() -> Path:
    """Directory where ``url_conversion`` keeps downloaded files.

    ``$SYNAPSE_NB_CACHE_DIR`` wins, else ``$XDG_CACHE_HOME/synapse_nb/media``, else
    ``~/.cache/synapse_nb/media``.

    Example:
        >>> isinstance(default_cache_dir(), Path)
        True
    """
    explicit = os.environ.get("SYNAPSE_NB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "synapse_nb" / "media"
