"""A tiny real HTTP server on 127.0.0.1 for the download utilities (no mocks)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest


@dataclass
class FileServer:
    """Serves ``files[path]``; counts hits per path; can delay or fail on purpose."""

    base_url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    hits: Counter = field(default_factory=Counter)
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> 5xx answers to send first
    truncate: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before hanging up
    delay: float = 0.0
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str, query: str = "") -> str:
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            with state.lock:
                state.hits[path] += 1
                state.active += 1
                state.max_active = max(state.max_active, state.active)
            try:
                if state.delay:
                    time.sleep(state.delay)
                with state.lock:
                    failures = state.fail_first.get(path, 0)
                    if failures:
                        state.fail_first[path] = failures - 1
                if failures:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = state.files.get(path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = state.truncate.get(path)
                if cut is not None:  # promise the whole body, send part of it, hang up
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)
            finally:
                with state.lock:
                    state.active -= 1

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """Point get_temp_path() at a per-test directory."""
    root = tmp_path / "scratch"
    monkeypatch.setenv("SYNAPSE_NB_TEMP_DIR", str(root))
    return root
