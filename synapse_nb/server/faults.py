"""ASGI middleware: injected latency and faults, plus the request journal used by wire tests.

It wraps the whole app (outermost), so the faults reach the client exactly as a flaky proxy or
overloaded backend would: a real 429 with ``Retry-After``, a real 503, or a connection closed
without any response.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from typing import Any

from .config import FaultConfig
from .http import redact_path

log = logging.getLogger("synapse_nb.server.faults")

JOURNAL_BODY_LIMIT = 64 * 1024


#: request headers whose values are credentials
SECRET_HEADERS = frozenset({"authorization", "synapse-access-token", "synapse-agent", "cookie"})


class JournalEntry(dict):
    """One journalled request; its repr masks credentials (headers, agent tokens in paths).

    The values themselves stay readable for wire checks.

    Example:
        >>> entry = JournalEntry({"path": "/projects/", "headers": {"authorization": "Token s3"}})
        >>> entry["headers"]["authorization"], "s3" in repr(entry)
        ('Token s3', False)
    """

    def __repr__(self) -> str:
        shown = dict(self)
        if isinstance(shown.get("headers"), dict):
            shown["headers"] = {
                k: ("***" if k.lower() in SECRET_HEADERS else v)
                for k, v in shown["headers"].items()
            }
        if isinstance(shown.get("path"), str):
            shown["path"] = redact_path(shown["path"])
        return repr(shown)

    __str__ = __repr__


class FaultInjector:
    """Holds the live fault settings and their random generator; thread-safe to reconfigure."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self.counts = {"requests": 0, "429": 0, "503": 0, "drop": 0}

    def decide(self, path: str) -> str | None:
        cfg = self.config
        if cfg.paths and not any(path.startswith(p) for p in cfg.paths):
            return None
        with self._lock:
            self.counts["requests"] += 1
            draw = self._rng.random()
            if draw < cfg.rate_drop:
                verdict = "drop"
            elif draw < cfg.rate_drop + cfg.rate_429:
                verdict = "429"
            elif draw < cfg.rate_drop + cfg.rate_429 + cfg.rate_503:
                verdict = "503"
            else:
                return None
            self.counts[verdict] += 1
            return verdict


def _transport_of(receive: Any) -> Any:
    """uvicorn's transport behind the ``receive`` callable (to drop a connection for real)."""
    owner = getattr(receive, "__self__", None)
    return getattr(owner, "transport", None)


class _Recording:
    """A ``receive`` that copies the request body (up to a limit) into a journal entry."""

    def __init__(self, entry: JournalEntry, inner: Any) -> None:
        self.entry = entry
        self._inner = inner  # uvicorn's receive, whose owner holds the transport

    async def __call__(self) -> dict:
        message = await self._inner()
        body = self.entry["body"]
        if message.get("type") == "http.request" and len(body) < JOURNAL_BODY_LIMIT:
            self.entry["body"] = body + message.get("body", b"")[: JOURNAL_BODY_LIMIT - len(body)]
        return message


class FaultMiddleware:
    """The ASGI app served: faults and the journal around the FastAPI app (``api``)."""

    def __init__(self, app: Any, injector: FaultInjector, journal: Any, prefix: str) -> None:
        self.app = app
        self.injector = injector
        self.journal = journal
        self.prefix = prefix
        self.api: Any = app
        self.state: Any = getattr(app, "state", None)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = (
            scope["path"][len(self.prefix) :]
            if scope["path"].startswith(self.prefix)
            else scope["path"]
        )
        if self.journal is not None and not path.startswith("/media/"):
            receive = self._journal(scope, receive, path)
        cfg = self.injector.config
        if cfg.enabled and not path.startswith(("/media/", "/openapi", "/docs")):
            if cfg.latency_ms:
                await asyncio.sleep(cfg.latency_ms / 1000)
            verdict = self.injector.decide(path.lstrip("/"))
            if verdict == "drop":
                transport = _transport_of(receive) or _transport_of(
                    getattr(receive, "_inner", None)
                )
                if transport is not None:
                    log.debug(
                        "fault: dropping connection for %s %s", scope["method"], redact_path(path)
                    )
                    transport.abort()
                    # let uvicorn see the disconnect, so it does not log "returned without
                    # starting response" as an error for a fault we injected on purpose
                    for _ in range(3):
                        await asyncio.sleep(0)
                    return
                verdict = "503"
            if verdict in ("429", "503"):
                await self._reply(send, int(verdict), cfg.retry_after)
                return
        await self.app(scope, receive, send)

    def _journal(self, scope: dict, receive: Any, path: str) -> Any:
        entry = JournalEntry(
            {
                "method": scope["method"],
                "path": path,
                "query": scope.get("query_string", b"").decode("latin-1"),
                "headers": {
                    k.decode("latin-1").lower(): v.decode("latin-1")
                    for k, v in scope.get("headers", [])
                },
                "body": b"",
            }
        )
        self.journal.append(entry)
        return _Recording(entry, receive)

    @staticmethod
    async def _reply(send: Any, status: int, retry_after: float) -> None:
        body = (
            b'{"detail": "Request was throttled."}'
            if status == 429
            else b'{"detail": "Service temporarily unavailable."}'
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(0, round(retry_after))).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
