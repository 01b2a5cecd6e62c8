"""AgentClient and RayClient: the agent side of the platform (see docs/protocol.md).

The agent authenticates with ``Authorization: <agent token>`` (the raw token, no ``Token``
prefix), optionally impersonating a user (``SYNAPSE-User``) in a tenant (``SYNAPSE-Tenant``).
Log tails use the current wire: ``protocol='stream'`` reads the SSE stream
``jobs/{pk}/logs/stream/``, ``'websocket'`` the JSON frames of ``ws(s)://.../jobs/{pk}/logs/``
and ``'http'`` the full log once; each yields lines ending in ``\\n`` as the Synapse SDK's
client does. The client enforces the SDK's stream limits (:class:`StreamLimits`, configurable
per client): at most 10,000 WebSocket messages, 50,000 lines and 50 MB (``ClientError(429)``
beyond), and lines over 10 KB are dropped.

Example:
    >>> ray = RayClient("http://127.0.0.1:8001/", agent_token="f" * 40)
    >>> ray
    RayClient(base_url='http://127.0.0.1:8001', agent_token=***)
    >>> ray.close()
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from synapse_nb._config import Timeout
from synapse_nb.clients._base import BaseClient
from synapse_nb.clients.backend import _token
from synapse_nb.exceptions import ClientError, InvalidInputError

__all__ = ["AgentClient", "RayClient", "RayClientMixin", "StreamLimits"]

_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}\Z")  # \Z: "$" also matches before a final "\n"
#: Default stream limits of the Synapse SDK's RayClient (see :class:`StreamLimits`).
MAX_WS_MESSAGES = 10_000
MAX_LINES = 50_000
MAX_BYTES = 50 * 1024 * 1024
MAX_LINE_BYTES = 10 * 1024
PROTOCOLS = ("stream", "websocket", "http")


def _check_id(value: Any, method: str, field: str = "pk") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInputError(
            field, value, "must be 1-100 letters, digits, '_' or '-'", method=method
        )
    return value


def _check_stream_timeout(value: Any, method: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 300:
        raise InvalidInputError(
            "stream_timeout", value, "must be seconds, above 0 and at most 300", method=method
        )
    return float(value)


@dataclass(frozen=True)
class StreamLimits:
    """Limits of one log tail (the Synapse SDK's ``StreamLimits``).

    Args:
        max_messages: Most WebSocket messages of one tail.
        max_lines: Most lines of one tail.
        max_bytes: Most bytes of all lines of one tail.
        max_message_size: Longest line, in bytes; longer lines are dropped silently.

    Beyond ``max_messages``, ``max_lines`` or ``max_bytes`` the tail raises
    ``ClientError(429)``.

    Example:
        >>> limits = StreamLimits(max_lines=1000)
        >>> limits.max_lines, limits.max_bytes
        (1000, 52428800)
    """

    max_messages: int = MAX_WS_MESSAGES
    max_lines: int = MAX_LINES
    max_bytes: int = MAX_BYTES
    max_message_size: int = MAX_LINE_BYTES

    def __post_init__(self) -> None:
        for name in ("max_messages", "max_lines", "max_bytes", "max_message_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(
                    name, value, "must be a positive int", method="StreamLimits"
                )


def _default_limits() -> StreamLimits:
    # Read the module constants at call time, so they stay the one place of the defaults.
    return StreamLimits(MAX_WS_MESSAGES, MAX_LINES, MAX_BYTES, MAX_LINE_BYTES)


class _StreamBudget:
    """Counts what a tail yielded and raises ``ClientError(429)`` past the limits."""

    def __init__(self, path: str, limits: StreamLimits | None = None) -> None:
        self.path = path
        self._limits = limits
        self.lines = self.bytes = self.messages = 0

    @property
    def limits(self) -> StreamLimits:
        return self._limits or _default_limits()

    def message(self) -> None:
        self.messages += 1
        if self.messages > self.limits.max_messages:
            self._exceeded(f"more than {self.limits.max_messages} WebSocket messages")

    def line(self, text: str) -> str | None:
        size = len(text.encode())
        if size > self.limits.max_message_size:
            return None  # the Synapse SDK's client drops over-long lines silently
        self.lines += 1
        self.bytes += size
        if self.lines > self.limits.max_lines:
            self._exceeded(f"more than {self.limits.max_lines} lines")
        if self.bytes > self.limits.max_bytes:
            self._exceeded(f"more than {self.limits.max_bytes} bytes")
        return text if text.endswith("\n") else text + "\n"

    def _exceeded(self, what: str) -> None:
        raise ClientError(429, f"log stream limit exceeded: {what}", method="GET", path=self.path)


def _event(payload: str) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        return {"type": "log", "message": payload}
    return event if isinstance(event, dict) else {"type": "log", "message": str(event)}


class RayClientMixin(BaseClient):
    """Ray jobs, logs, nodes, tasks and Serve applications (Synapse SDK: ``RayClientMixin``)."""

    #: Limits of every log tail of this client; ``None`` means the defaults.
    stream_limits: StreamLimits | None = None

    def list_jobs(self) -> dict[str, Any]:
        """List the Ray jobs of the agent's tenant (``{'results': [...]}``).

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> statuses = {j["status"] for j in ray.list_jobs()["results"]}
            >>> {"SUCCEEDED", "FAILED", "STOPPED"} <= statuses
            True
            >>> ray.close()
        """
        return self._get("jobs/")

    def get_job(self, pk: str) -> dict[str, Any]:
        """Get one Ray job.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> run = {"action": "train", "params": {"epochs": 2, "register": False}}
            >>> job_id = backend.run_plugin("numpy-trainer", run)["id"]
            >>> _ = list(ray.tail_job_logs(job_id, stream_timeout=60))  # until it finishes
            >>> job = ray.get_job(job_id)
            >>> job["job_id"] == job_id, job["entrypoint"], job["status"]
            (True, 'trainer:train', 'SUCCEEDED')
            >>> ray.close()
        """
        return self._get(f"jobs/{_check_id(pk, 'get_job')}/")

    def stop_job(self, pk: str) -> dict[str, Any]:
        """Stop a running job; a job already finished gives ``ClientError`` 400.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> run = {"action": "train", "params": {"epochs": 1000, "delay": 1}}
            >>> job_id = backend.run_plugin("numpy-trainer", run)["id"]
            >>> ray.stop_job(job_id)["status"]
            'STOPPED'
            >>> try:
            ...     ray.stop_job(job_id)
            ... except ClientError as exc:
            ...     print(exc.status_code)
            400
            >>> ray.close()
        """
        return self._post(f"jobs/{_check_id(pk, 'stop_job')}/stop/")

    def list_job_logs(self, pk: str) -> str:
        """Return a job's whole log as text.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> run = {"action": "train", "params": {"epochs": 2, "register": False}}
            >>> job_id = backend.run_plugin("numpy-trainer", run)["id"]
            >>> _ = list(ray.tail_job_logs(job_id, stream_timeout=60))  # until it finishes
            >>> print(ray.list_job_logs(job_id))
            Starting action 'train'
            epoch 1/2 ...
            epoch 2/2 ...
            Done
            >>> ray.close()
        """
        text = self._get(f"jobs/{_check_id(pk, 'list_job_logs')}/logs/", expect="text")
        return str(text)

    def tail_job_logs(
        self, pk: str, stream_timeout: float = 10, protocol: str = "stream"
    ) -> Iterator[str]:
        """Follow a job's log until it finishes, yielding lines (each ending in ``\\n``).

        Args:
            pk: Job id.
            stream_timeout: Seconds to wait for the next data (0 < t <= 300).
            protocol: ``'stream'`` (SSE), ``'websocket'`` or ``'http'`` (the log so far).

        Raises:
            ClientError: 400 for a bad id, timeout or protocol; 429 past the stream limits;
                500 when the stream reports an error.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> run = {"action": "train", "params": {"epochs": 2, "register": False}}
            >>> job_id = backend.run_plugin("numpy-trainer", run)["id"]
            >>> for line in ray.tail_job_logs(job_id, stream_timeout=60):
            ...     print(line.strip())
            Starting action 'train'
            epoch 1/2 ...
            epoch 2/2 ...
            Done
            >>> ray.close()
        """
        method = "tail_job_logs"
        if protocol not in PROTOCOLS:
            raise InvalidInputError(
                "protocol", protocol, f"must be one of {PROTOCOLS}", method=method
            )
        if protocol == "websocket":
            return self.websocket_tail_job_logs(pk, stream_timeout)
        if protocol == "http":
            _check_stream_timeout(stream_timeout, method)
            text = self.list_job_logs(pk)
            budget = _StreamBudget(f"jobs/{pk}/logs/", self.stream_limits)
            lines = (budget.line(x) for x in text.splitlines())
            return (line for line in lines if line is not None)
        return self.stream_tail_job_logs(pk, stream_timeout)

    def stream_tail_job_logs(self, pk: str, stream_timeout: float = 10) -> Iterator[str]:
        """Follow a job's log over HTTP (SSE ``jobs/{pk}/logs/stream/``).

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> run = {"action": "train", "params": {"epochs": 2, "register": False}}
            >>> job_id = backend.run_plugin("numpy-trainer", run)["id"]
            >>> tail = ray.stream_tail_job_logs(job_id, stream_timeout=60)
            >>> lines = list(tail)
            >>> lines[0], lines[-1]
            ("Starting action 'train'\\n", 'Done\\n')
            >>> ray.close()
        """
        method = "stream_tail_job_logs"
        ref = _check_id(pk, method)
        timeout = _check_stream_timeout(stream_timeout, method)
        path = f"jobs/{ref}/logs/stream/"
        events = self._transport.sse_events(path, read_timeout=timeout)
        return self._event_lines(events, path, _StreamBudget(path, self.stream_limits))

    def websocket_tail_job_logs(self, pk: str, stream_timeout: float = 10) -> Iterator[str]:
        """Follow a job's log over a WebSocket (``ws(s)://.../jobs/{pk}/logs/``).

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> run = {"action": "train", "params": {"epochs": 2, "register": False}}
            >>> job_id = backend.run_plugin("numpy-trainer", run)["id"]
            >>> lines = list(ray.websocket_tail_job_logs(job_id, stream_timeout=60))
            >>> lines[0], lines[-1]
            ("Starting action 'train'\\n", 'Done\\n')
            >>> ray.close()
        """
        method = "websocket_tail_job_logs"
        ref = _check_id(pk, method)
        timeout = _check_stream_timeout(stream_timeout, method)
        path = f"jobs/{ref}/logs/"
        frames = self._transport.websocket(path, timeout=timeout)
        return self._ws_lines(frames, path, self.stream_limits)

    @staticmethod
    def _ws_lines(
        frames: Iterator[str], path: str, limits: StreamLimits | None = None
    ) -> Iterator[str]:
        budget = _StreamBudget(path, limits)

        def events() -> Iterator[dict[str, Any]]:
            for frame in frames:
                budget.message()
                yield _event(frame)

        return RayClientMixin._event_lines(events(), path, budget)

    @staticmethod
    def _event_lines(
        events: Iterator[dict[str, Any]], path: str, budget: _StreamBudget | None = None
    ) -> Iterator[str]:
        budget = budget or _StreamBudget(path)
        for event in events:
            kind = event.get("type")
            if kind == "connected":
                continue
            if kind == "complete":
                return
            if kind == "error":
                raise ClientError(
                    500, event.get("message") or "stream error", method="GET", path=path
                )
            line = budget.line(str(event.get("message", "")))
            if line is not None:
                yield line

    def list_nodes(self) -> dict[str, Any]:
        """List Ray nodes (``results[*].node_id``, ``state``, ``alive``).

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> ray.list_nodes()["results"][0]["alive"]
            True
            >>> ray.close()
        """
        return self._get("nodes/")

    def get_node(self, pk: str) -> dict[str, Any]:
        """Get one Ray node.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> node_id = ray.list_nodes()["results"][0]["node_id"]
            >>> ray.get_node(node_id)["state"]
            'ALIVE'
            >>> ray.close()
        """
        return self._get(f"nodes/{_check_id(pk, 'get_node')}/")

    def list_tasks(self) -> dict[str, Any]:
        """List Ray tasks.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> ray.list_tasks()["results"][0]["task_id"]
            'task-1'
            >>> ray.close()
        """
        return self._get("tasks/")

    def get_task(self, pk: str) -> dict[str, Any]:
        """Get one Ray task.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> ray.get_task("task-1")["state"]
            'SUCCEEDED'
            >>> ray.close()
        """
        return self._get(f"tasks/{_check_id(pk, 'get_task')}/")

    def list_serve_applications(self) -> dict[str, Any]:
        """List Ray Serve applications.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> ray.list_serve_applications()["results"]  # this agent runs jobs without Ray Serve
            []
            >>> ray.close()
        """
        return self._get("serve_applications/")

    def get_serve_application(self, pk: str) -> dict[str, Any]:
        """Get one Serve application by name.

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> try:  # this agent runs jobs without Ray Serve, so it has no application
            ...     ray.get_serve_application("app-1")
            ... except ClientError as exc:
            ...     print(exc.status_code)
            404
            >>> ray.close()
        """
        ref = _check_id(pk, "get_serve_application")
        return self._get(f"serve_applications/{ref}/")

    def delete_serve_application(self, pk: str) -> None:
        """Delete a Serve application (204, returns ``None``).

        Example:
            >>> ray = RayClient(srv.agent_url, agent_token=srv.agent_token)
            >>> try:  # this agent runs jobs without Ray Serve, so it has no application
            ...     ray.delete_serve_application("app-1")
            ... except ClientError as exc:
            ...     print(exc.status_code)
            404
            >>> ray.close()
        """
        ref = _check_id(pk, "delete_serve_application")
        return self._delete(f"serve_applications/{ref}/")


def _agent_headers(agent_token: Any, user_token: Any, tenant: Any, method: str) -> dict[str, str]:
    agent = _token(agent_token, "agent_token") or _token(
        os.environ.get("SYNAPSE_AGENT_TOKEN"), "SYNAPSE_AGENT_TOKEN", env=True
    )
    if agent is None:
        raise InvalidInputError(
            "agent_token", None, "is required (or set SYNAPSE_AGENT_TOKEN)", method=method
        )
    headers = {"Authorization": agent}
    user = _token(user_token, "user_token")
    if user:
        headers["SYNAPSE-User"] = f"Token {user}"
    tenant = _token(tenant, "tenant")
    if tenant:
        headers["SYNAPSE-Tenant"] = f"Token {tenant}"
    return headers


class RayClient(RayClientMixin, BaseClient):
    """Client of an agent's Ray API (Synapse SDK: ``RayClient(base_url, timeout=None)``).

    Args:
        base_url: The agent's base URL.
        timeout: Default ``{'connect': 3, 'read': 10}``.
        agent_token: The agent token (falls back to ``$SYNAPSE_AGENT_TOKEN``).
        user_token: Optional user token to act as (``SYNAPSE-User``).
        tenant: Optional tenant code (``SYNAPSE-Tenant``).
        retry: Retry policy, as for ``BackendClient``.
        stream_limits: Limits of the log tails (default :class:`StreamLimits`).

    Example:
        >>> with RayClient("http://127.0.0.1:8001", agent_token="a" * 40) as ray:
        ...     ray.timeout
        Timeout(connect=3.0, read=10.0)
    """

    def __init__(
        self,
        base_url: str,
        timeout: Any = None,
        *,
        agent_token: str | None = None,
        user_token: str | None = None,
        tenant: str | None = None,
        retry: Any = None,
        stream_limits: StreamLimits | None = None,
    ) -> None:
        headers = _agent_headers(agent_token, user_token, tenant, type(self).__name__)
        if stream_limits is not None and not isinstance(stream_limits, StreamLimits):
            raise InvalidInputError(
                "stream_limits", stream_limits, "must be a StreamLimits", method=type(self).__name__
            )
        self.stream_limits = stream_limits
        super().__init__(
            base_url,
            Timeout.coerce(timeout) if timeout is not None else Timeout(connect=3, read=10),
            headers=headers,
            retry=retry,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, agent_token=***)"


class AgentClient(RayClient):
    """Client of an agent: ``AgentClient(base_url, agent_token, user_token=None, tenant=None)``.

    Example:
        >>> with AgentClient("http://127.0.0.1:8001", "a" * 40) as agent:
        ...     agent.base_url
        'http://127.0.0.1:8001'
    """

    def __init__(
        self,
        base_url: str,
        agent_token: str | None = None,
        user_token: str | None = None,
        tenant: str | None = None,
        timeout: Any = None,
        *,
        retry: Any = None,
        stream_limits: StreamLimits | None = None,
    ) -> None:
        super().__init__(
            base_url,
            timeout,
            agent_token=agent_token,
            user_token=user_token,
            tenant=tenant,
            retry=retry,
            stream_limits=stream_limits,
        )

    def health_check(self) -> dict[str, Any]:
        """Check that the agent answers (``GET health/``).

        Example:
            >>> agent = AgentClient(srv.agent_url, srv.agent_token)
            >>> agent.health_check()["status"]
            'ok'
            >>> agent.close()
        """
        return self._get("health/")
