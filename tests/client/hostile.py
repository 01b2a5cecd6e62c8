"""A scripted hostile HTTP server: a real ``ThreadingHTTPServer`` on 127.0.0.1.

Each test tells it what to answer per path (``srv.on("GET", "/api/tasks/", reply)``), and it
records every request it receives, headers included, so a test can assert that a token never
reached it. Two of them on two loopback ports are the "same host, other origin" attacker.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Reply = Callable[[BaseHTTPRequestHandler], None]


def send(
    handler: BaseHTTPRequestHandler,
    status: int = 200,
    body: bytes | str | Any = b"",
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    """Write one complete reply (a dict/list body is sent as JSON)."""
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


def json_reply(body: Any, status: int = 200, **kwargs: Any) -> Reply:
    return lambda h: send(h, status, body, **kwargs)


def drip(body: bytes, every: float) -> Reply:
    """A reply whose body arrives one byte per ``every`` seconds (no Content-Length)."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        for i in range(len(body)):
            try:
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(every)

    return reply


class HostileServer:
    """Answers what the test scripted; 404 JSON for anything else."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Reply] = {}
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "url": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                reply = outer.routes.get((self.command, path))
                if reply is None:
                    send(self, 404, {"detail": "Not found."})
                else:
                    reply(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def on(self, method: str, path: str, reply: Reply) -> None:
        self.routes[(method, path)] = reply

    def saw_token(self, token: str) -> bool:
        """Whether any request carried ``token`` in a header or its URL."""
        return any(
            token in entry["url"] or any(token in v for v in entry["headers"].values())
            for entry in self.requests
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
