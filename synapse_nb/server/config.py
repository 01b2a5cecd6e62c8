"""Configuration of the embedded Synapse backend (value objects, no I/O)."""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the largest injected latency accepted, in ms (10 minutes: anything longer is a hang)
MAX_LATENCY_MS = 600_000.0
#: the largest ``Retry-After`` accepted, in seconds (1 day)
MAX_RETRY_AFTER = 86_400.0
#: what an API token may be: printable ASCII without whitespace, the client's rule (it goes
#: into a header as it is; see ``synapse_nb.clients.backend._HEADER_SAFE``)
TOKEN_PATTERN = re.compile(r"^[\x21-\x7e]+\Z")



class StartRefused(ValueError):
    """A setting, argument or token the embedded backend refuses before it starts.

    ``synapse-nb serve`` reports it as a usage error; any other error of a start is a fault.

    Example:
        >>> issubclass(StartRefused, ValueError)
        True
    """

def _finite_number(name: str, value: Any) -> float:
    """``value`` as a float, or a ValueError naming ``name`` (not a number, NaN, infinite)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise StartRefused(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise StartRefused(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_token(value: Any, name: str = "token") -> str | None:
    """An API token fit for the ``Synapse-Access-Token`` header, None when not given.

    The client's rule: surrounding whitespace is stripped, and what is left must be printable
    ASCII without spaces, tabs, line breaks or other control characters. The error never shows
    the token, only its length.

    Example:
        >>> check_token(" secret-token\\n")
        'secret-token'
        >>> check_token("a b")
        Traceback (most recent call last):
        ...
        synapse_nb.server.config.StartRefused: token (<3 characters>) must be printable ASCII \
characters without spaces, tabs, line breaks or other control characters
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise StartRefused(f"{name} must be a string, got {type(value).__name__}")
    token = value.strip()
    if not token:
        raise StartRefused(f"{name} (<{len(value)} characters>) is only whitespace")
    if not TOKEN_PATTERN.fullmatch(token):
        raise StartRefused(
            f"{name} (<{len(value)} characters>) must be printable ASCII characters without "
            "spaces, tabs, line breaks or other control characters"
        )
    return token


@dataclass
class FaultConfig:
    """Faults and latency the server injects into its own responses (off by default).

    Rates are probabilities per request, drawn from a seeded generator so a run is repeatable.

    Example:
        >>> FaultConfig(latency_ms=20, rate_429=0.1).enabled
        True
    """

    latency_ms: float = 0.0
    rate_429: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    seed: int = 0
    retry_after: float = 1.0
    #: path prefixes (relative to the API prefix) the faults apply to; empty = every API path
    paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("rate_429", "rate_503", "rate_drop"):
            value = _finite_number(name, getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise StartRefused(f"{name} must be between 0 and 1, got {value!r}")
        if self.rate_429 + self.rate_503 + self.rate_drop > 1.0:
            raise StartRefused("rate_429 + rate_503 + rate_drop must not exceed 1")
        latency = _finite_number("latency_ms", self.latency_ms)
        if not 0.0 <= latency <= MAX_LATENCY_MS:
            raise StartRefused(
                f"latency_ms must be between 0 and {MAX_LATENCY_MS:g}, got {self.latency_ms!r}"
            )
        retry_after = _finite_number("retry_after", self.retry_after)
        if not 0.0 <= retry_after <= MAX_RETRY_AFTER:
            raise StartRefused(
                f"retry_after must be between 0 and {MAX_RETRY_AFTER:g}, got {self.retry_after!r}"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.latency_ms or self.rate_429 or self.rate_503 or self.rate_drop)

    def replace(self, **changes) -> FaultConfig:
        return dataclasses.replace(self, **changes)


@dataclass
class ServerConfig:
    """Everything the app factory needs.

    Example:
        >>> ServerConfig(data_dir=Path("/tmp/synapse")).max_page_size
        1000
    """

    data_dir: Path
    prefix: str = ""
    default_page_size: int = 100
    max_page_size: int = 1000
    faults: FaultConfig = field(default_factory=FaultConfig)
    #: plugin jobs running at once (None: the CPU count); more wait PENDING
    max_jobs: int | None = None
    #: seconds a plugin job may run unless its action sets ``timeout``
    job_timeout: float = 3600.0
    #: seconds between SIGTERM and SIGKILL when a job is stopped
    job_grace: float = 2.0
    #: keep the last N requests in memory for wire checks (tests); 0 disables the journal
    journal_size: int = 2000
    #: the largest JSON request body accepted, in bytes (larger ones are a 413)
    max_json_body: int = 64 * 1024 * 1024
    #: the base of every absolute link in responses (``next``, media, upload URLs, install
    #: scripts), e.g. ``"https://synapse.example/api"``; empty: the request's own base URL,
    #: provided its host is one of ``allowed_hosts`` (a 400 otherwise)
    public_url: str = ""
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    #: seconds a signed media URL stays valid; None: media URLs do not expire
    media_url_ttl: float | None = None
    #: run plugin jobs on this Ray cluster (``"auto"``, ``ray://host:port`` or the Jobs API
    #: URL) instead of as local subprocesses; None: the local executor
    ray_address: str | None = None
    #: Ray's authentication token for that cluster (default: ``$RAY_AUTH_TOKEN``)
    ray_token: str | None = field(default=None, repr=False)
    #: folders a ``file_system`` storage's ``location`` must be inside (links followed);
    #: empty: the ``storages`` folder of the data dir (see :attr:`allowed_storage_roots`)
    storage_roots: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.storage_roots = tuple(Path(root) for root in self.storage_roots)
        self.prefix = "/" + self.prefix.strip("/") if self.prefix.strip("/") else ""

    @property
    def allowed_storage_roots(self) -> tuple[Path, ...]:
        """The storage roots asked for, or by default the data dir's ``storages`` folder.

        Example:
            >>> ServerConfig(data_dir=Path("/srv/synapse")).allowed_storage_roots
            (PosixPath('/srv/synapse/storages'),)
            >>> ServerConfig(data_dir=Path("/d"), storage_roots=["/mnt/a"]).allowed_storage_roots
            (PosixPath('/mnt/a'),)
        """
        return self.storage_roots or (self.data_dir / "storages",)
