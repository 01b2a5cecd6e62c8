"""The agent (Ray) side of the protocol, served under ``<base>/agent/``.

A real deployment runs this on each agent; here the backend is its own agent: jobs are the
ones its executor runs (from the same jobs table). With the local executor the node is this
machine (CPU count, memory and GPUs read from it) and there are no Ray Serve applications;
with the Ray executor nodes, GPU totals and Serve applications are read from the cluster.
Auth is ``Authorization: <raw agent token>`` (no ``Token`` prefix).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..db import in_list, loads, now
from ..executors import machine
from ..http import ApiError, Principal, not_found
from ..http import route as backend_route
from ..jobs import TERMINAL
from .common import state_of

router = APIRouter()


def route(router: APIRouter, path: str, methods: list[str], **kwargs: Any) -> Any:
    """Like the backend's ``route``, with ``agent_`` operation ids (the paths overlap)."""
    return backend_route(router, path, methods, operation_prefix="agent", **kwargs)


ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}\Z")


def _principal_for(state: Any, headers: Any) -> Principal:
    raw = (headers.get("authorization") or "").strip()
    token = raw.split(" ", 1)[1] if raw.lower().startswith("token ") else raw
    if not token:
        raise ApiError(401, {"detail": "Authentication credentials were not provided."})
    principal = state.agent_for_token(token)
    if principal is None:
        raise ApiError(401, {"detail": "Invalid agent token."})
    return principal


def agent_auth(request: Request) -> Principal:
    return _principal_for(state_of(request), request.headers)


Auth = Depends(agent_auth)


def _epoch_ms(stamp: str | None) -> int | None:
    return int(datetime.fromisoformat(stamp).timestamp() * 1000) if stamp else None


def ray_job(row: Any, executor: Any = None, entrypoint: str | None = None) -> dict:
    """A job as the executor runs it: its entrypoint, and where and as which process."""
    meta = loads(row["meta"], {}).get("executor") or {}
    live = executor.describe(row["id"]) if executor is not None else {}
    return {
        "job_id": row["id"],
        "submission_id": row["id"],
        "status": row["status"],
        "entrypoint": entrypoint or row["action"],
        "start_time": _epoch_ms(row["started"]),
        "end_time": _epoch_ms(row["finished"]),
        "metadata": {"action": row["action"]},
        "driver_info": {
            "executor": meta.get("kind") or live.get("executor"),
            "node": meta.get("node"),
            "pid": meta.get("pid"),
            "active": bool(live.get("active")),
        },
        "message": f"Job is {row['status'].lower()}",
    }


def _entrypoints(request: Request, rows: list[Any]) -> dict[int, dict]:
    """release id -> its config's actions, for the jobs in ``rows``."""
    ids = sorted({r["plugin_release_id"] for r in rows if r["plugin_release_id"]})
    if not ids:
        return {}
    releases = in_list(ids)
    found = state_of(request).db.all(
        f"SELECT id, config FROM plugin_releases WHERE id IN ({releases.sql})", releases.params
    )
    return {r["id"]: loads(r["config"], {}).get("actions") or {} for r in found}


def _ray_jobs(request: Request, rows: list[Any]) -> list[dict]:
    actions = _entrypoints(request, rows)
    executor = state_of(request).jobs
    out = []
    for row in rows:
        spec = actions.get(row["plugin_release_id"], {}).get(row["action"])
        entry = spec.get("entrypoint") if isinstance(spec, dict) else None
        out.append(ray_job(row, executor, entry))
    return out


def _job(request: Request, pk: str, p: Principal) -> Any:
    if not ID_RE.match(pk):
        raise ApiError(400, {"detail": f"Invalid job id {pk[:40]!r}."})
    row = state_of(request).db.one(
        "SELECT * FROM jobs WHERE id = ? AND tenant_id = ?", (pk, p.tenant_id)
    )
    if row is None:
        raise not_found()
    return row


def _log_lines(request: Request, job_id: str, after: int = 0) -> list[Any]:
    return state_of(request).db.all(
        "SELECT id, message FROM job_console_logs WHERE job_id = ? AND id > ? ORDER BY id",
        (job_id, after),
    )


@route(router, "/health/", ["GET"], summary="Agent health")
def health(request: Request, p: Principal = Auth) -> dict:
    return {"status": "ok", "agent": p.agent_id}


def _tenant_list(
    request: Request, p: Principal, table: str, order: str, shape: Callable[[Any], dict]
) -> dict:
    """Every row of ``table`` of the caller's tenant, as one unpaginated envelope."""
    rows = state_of(request).db.all(
        f"SELECT * FROM {table} WHERE tenant_id = ? ORDER BY {order}", (p.tenant_id,)
    )
    return {"count": len(rows), "next": None, "previous": None, "results": [shape(r) for r in rows]}


@route(router, "/jobs/", ["GET"], summary="Jobs of this agent's tenant, as its executor runs them")
def list_jobs(request: Request, p: Principal = Auth) -> dict:
    rows = state_of(request).db.all(
        "SELECT * FROM jobs WHERE tenant_id = ? ORDER BY seq", (p.tenant_id,)
    )
    items = _ray_jobs(request, rows)
    return {"count": len(items), "next": None, "previous": None, "results": items}


@route(router, "/jobs/{pk}/", ["GET"], summary="One job, as its executor runs it")
def get_job(pk: str, request: Request, p: Principal = Auth) -> dict:
    return _ray_jobs(request, [_job(request, pk, p)])[0]


@route(router, "/jobs/{pk}/stop/", ["POST"], summary="Stop a Ray job")
def stop_job(pk: str, request: Request, p: Principal = Auth) -> dict:
    row = _job(request, pk, p)
    if row["status"] in TERMINAL:
        raise ApiError(400, {"detail": f"Job is already {row['status']}."})
    with state_of(request).db.write() as con:
        con.execute(
            "UPDATE jobs SET status = 'STOPPED', finished = ?, modified = ? WHERE id = ?",
            (now(), now(), row["id"]),
        )
    state_of(request).jobs.stop(row["id"])
    return {"job_id": row["id"], "status": "STOPPED", "stopped": True}


@route(router, "/jobs/{pk}/logs/", ["GET"], summary="A Ray job's full log (text)")
def job_logs(pk: str, request: Request, p: Principal = Auth) -> PlainTextResponse:
    row = _job(request, pk, p)
    return PlainTextResponse("".join(f"{r['message']}\n" for r in _log_lines(request, row["id"])))


async def _follow(request: Request, job_id: str, sse: bool) -> Any:
    state = state_of(request)
    last = 0
    while True:
        # status before logs, so the logs read after a terminal status include the last line
        status = state.db.scalar("SELECT status FROM jobs WHERE id = ?", (job_id,))
        status = status if not state.jobs.is_active(job_id) else "RUNNING"  # lines may follow
        for r in _log_lines(request, job_id, last):
            last = r["id"]
            yield (
                f"data: {json.dumps({'type': 'log', 'message': r['message']})}\n\n"
                if sse
                else f"{r['message']}\n"
            ).encode()
        if status in TERMINAL:
            if sse:
                yield f"data: {json.dumps({'type': 'complete', 'message': status})}\n\n".encode()
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.2)


@route(router, "/jobs/{pk}/logs/stream/", ["GET"], summary="Follow a job's log (SSE)")
def stream_logs(pk: str, request: Request, p: Principal = Auth) -> StreamingResponse:
    row = _job(request, pk, p)
    return StreamingResponse(_follow(request, row["id"], sse=True), media_type="text/event-stream")


@route(router, "/ray/jobs/{pk}/logs/stream/", ["GET"], summary="Follow a job's log (plain)")
def stream_logs_plain(pk: str, request: Request, p: Principal = Auth) -> StreamingResponse:
    row = _job(request, pk, p)
    return StreamingResponse(_follow(request, row["id"], sse=False), media_type="text/plain")


class _DeniedHandshakeFilter(logging.Filter):
    """uvicorn's sans-I/O WebSocket protocol logs "returned without completing handshake" at
    ERROR after a denial response; drop exactly one such record per denial we sent."""

    pending = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.pending and "without completing handshake" in record.getMessage():
            type(self).pending -= 1
            return False
        return True


logging.getLogger("uvicorn.error").addFilter(_DeniedHandshakeFilter())


async def _deny(websocket: WebSocket, exc: ApiError) -> None:
    """Refuse the handshake with the real HTTP status (401/404), not a bare 403."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        _DeniedHandshakeFilter.pending += 1
        await websocket.send_denial_response(JSONResponse(exc.body, status_code=exc.status))
    else:
        await websocket.close(code=4000 + exc.status)


async def _ws_logs(websocket: WebSocket, pk: str, as_json: bool) -> None:
    state = websocket.app.state.synapse
    try:
        principal = _principal_for(state, websocket.headers)
    except ApiError as exc:
        await _deny(websocket, exc)
        return
    row = state.db.one(
        "SELECT * FROM jobs WHERE id = ? AND tenant_id = ?", (pk, principal.tenant_id)
    )
    if row is None:
        await _deny(websocket, not_found())
        return
    await websocket.accept()
    last = 0
    while True:
        status = state.db.scalar("SELECT status FROM jobs WHERE id = ?", (pk,))
        status = status if not state.jobs.is_active(pk) else "RUNNING"  # lines may follow
        for r in state.db.all(
            "SELECT id, message FROM job_console_logs WHERE job_id = ? AND id > ? ORDER BY id",
            (pk, last),
        ):
            last = r["id"]
            await websocket.send_text(
                json.dumps({"type": "log", "message": r["message"]}) if as_json else r["message"]
            )
        if status in TERMINAL:
            if as_json:
                await websocket.send_text(json.dumps({"type": "complete", "message": status}))
            await websocket.close()
            return
        await asyncio.sleep(0.2)


@router.websocket("/jobs/{pk}/logs/")
async def ws_logs(websocket: WebSocket, pk: str) -> None:
    await _ws_logs(websocket, pk, as_json=True)


@router.websocket("/ray/jobs/{pk}/logs/ws/")
async def ws_logs_plain(websocket: WebSocket, pk: str) -> None:
    await _ws_logs(websocket, pk, as_json=False)


def _cluster(request: Request) -> Any:
    """The Ray cluster jobs run on (the Ray executor's), None with the local executor."""
    return getattr(state_of(request).jobs, "cluster", None)


def _ask_cluster(read: Callable[[], Any]) -> Any:
    """A read from the Ray cluster; a 503 naming the cause when the cluster does not answer."""
    try:
        return read()
    except Exception as exc:
        detail = f"The Ray cluster did not answer: {type(exc).__name__}: {str(exc)[:200]}"
        raise ApiError(503, {"detail": detail}) from exc


def _nodes(request: Request) -> list[dict]:
    cluster = _cluster(request)
    if cluster is not None:
        return list(_ask_cluster(cluster.nodes))
    return [machine.node(running_jobs=len(state_of(request).jobs.active_jobs()))]


@route(router, "/nodes/", ["GET"], summary="The nodes jobs run on (this machine, or Ray's)")
def list_nodes(request: Request, p: Principal = Auth) -> dict:
    nodes = _nodes(request)
    return {"count": len(nodes), "next": None, "previous": None, "results": nodes}


@route(router, "/nodes/{pk}/", ["GET"], summary="One node")
def get_node(pk: str, request: Request, p: Principal = Auth) -> dict:
    for node in _nodes(request):
        if pk == node["node_id"]:
            return node
    raise not_found()


def ray_task(row: Any) -> dict:
    return {
        "task_id": f"task-{row['seq']}",
        "job_id": row["id"],
        "state": row["status"],
        "name": row["action"],
        "node_id": (loads(row["meta"], {}).get("executor") or {}).get("node"),
    }


@route(router, "/tasks/", ["GET"], summary="Ray tasks")
def list_tasks(request: Request, p: Principal = Auth) -> dict:
    return _tenant_list(request, p, "jobs", "seq", ray_task)


@route(router, "/tasks/{pk}/", ["GET"], summary="One Ray task")
def get_task(pk: str, request: Request, p: Principal = Auth) -> dict:
    seq = pk.removeprefix("task-")
    row = (
        state_of(request).db.one(
            "SELECT * FROM jobs WHERE seq = ? AND tenant_id = ?", (seq, p.tenant_id)
        )
        if seq.isdigit()
        else None
    )
    if row is None:
        raise not_found()
    return ray_task(row)


#: serve applications live in Ray Serve; this backend's executor runs without Ray
NO_SERVE = "This agent runs jobs without Ray, so it serves no Ray Serve applications."


def _serve_apps(request: Request) -> list[dict]:
    cluster = _cluster(request)
    return list(_ask_cluster(cluster.serve_applications)) if cluster is not None else []


@route(router, "/serve_applications/", ["GET"], summary="Ray Serve applications (none without Ray)")
def list_serve(request: Request, p: Principal = Auth) -> dict:
    apps = _serve_apps(request)
    return {"count": len(apps), "next": None, "previous": None, "results": apps}


@route(router, "/serve_applications/{name}/", ["GET"], summary="One Serve application")
def get_serve(name: str, request: Request, p: Principal = Auth) -> dict:
    if _cluster(request) is None:
        raise ApiError(404, {"detail": NO_SERVE})
    for app in _serve_apps(request):
        if app["name"] == name:
            return app
    raise not_found()


@route(router, "/serve_applications/{name}/", ["DELETE"], summary="Delete a Serve application")
def delete_serve(name: str, request: Request, p: Principal = Auth) -> Response:
    if _cluster(request) is not None:
        detail = "This backend lists Ray Serve applications but does not delete them."
        raise ApiError(405, {"detail": detail})
    raise ApiError(404, {"detail": NO_SERVE})


@route(router, "/gpu_status/", ["GET"], summary="This machine's GPUs (via nvidia-smi)")
def gpu_status(request: Request, p: Principal = Auth) -> dict:
    cluster = _cluster(request)
    if cluster is not None:
        return dict(_ask_cluster(cluster.gpu_status))
    gpus = machine.gpus()
    busy = sum(1 for g in gpus if (g.get("utilization_percent") or 0) > 0)
    total, available = machine.memory_bytes()
    return {
        "gpus": gpus,
        "total": len(gpus),
        "available": len(gpus) - busy,
        "cpu_count": os.cpu_count(),
        "memory_total": total,
        "memory_available": available,
        "nvidia_smi": shutil.which("nvidia-smi") is not None,
    }
