"""Agents, plugins, releases, plugin runs, jobs, console logs, logs, storages, serve apps."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import shutil
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..db import dumps, in_list, loads, now
from ..executors.release import CATEGORIES as RELEASE_CATEGORIES
from ..executors.release import Limits, ReleaseError, prepare_release, validate_params
from ..filters import (
    BOOL,
    STR,
    Filter,
    FilterSet,
    Param,
    custom,
    date_range,
    ids,
    int_range,
    options,
    search,
    words,
)
from ..http import (
    MAX_SQL_INT,
    ApiError,
    Body,
    Principal,
    Query,
    Where,
    authenticate,
    expands,
    field_error,
    hash_token,
    json_body,
    not_found,
    paginate,
    paginate_where,
    parse_datetime,
    require_dict,
    route,
    shape_one,
    shorten,
)
from ..jobs import TERMINAL, add_console_log
from ..schemas import (
    LOG_CREATE,
    SERVE_CREATE,
    JobUpdate,
    PluginCreate,
    PluginUpdate,
    RunPlugin,
    StorageCreate,
)
from .common import as_reference, get_row, int_pk, parse_json_field, ref_row, state_of

router = APIRouter()
Auth = Depends(authenticate)

JOB_STATUSES = ("PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED")
PLUGIN_CATEGORIES = RELEASE_CATEGORIES  # one list: a plugin's category is its releases' too
STORAGE_CATEGORIES = ("internal", "external")
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}\Z")
#: DRF parses both form encodings (MultiPartParser, FormParser) besides JSON
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
#: a log entry's ``file`` is a base64 ``data:`` URI, so it may be long
LOG_FILE_LIMIT = 64 * 1024 * 1024
JOB_UPDATE_KEYS = ("status", "progress_record", "metrics_record", "console_logs", "result", "meta")


# ============================================================================ agents


def agent_json(request: Request, row: Any, *, with_token: bool = True) -> dict:
    """An agent as the Synapse SDK's list gives it, ``token`` and ``node_install_script`` included.

    Agent tokens, unlike user tokens, are shown to the tenant on purpose: a node is set up
    with them (the SDK's ``Agent`` model reads the token out of the install script's URL,
    ``agents/<40 hex>/node_install_script``). Agents stored before the token was kept show
    ``None`` for both, and so does every agent when ``with_token`` is False (the reply to an
    agent's own connect, and listings an agent makes: only users see the tokens).
    """
    token = row["token"] if with_token else None
    script = (
        f"{state_of(request).base_url(request)}/agents/{token}/node_install_script"
        if token
        else None
    )
    return {
        "id": row["id"],
        "name": row["name"],
        "url": row["url"],
        "status": row["status"],
        "token": token,
        "node_install_script": script,
        "last_seen": row["last_seen"],
        "created": row["created"],
    }


@route(router, "/agents/", ["GET"], summary="List agents", query=FilterSet())
def list_agents(request: Request, p: Principal = Auth) -> dict:
    where = Where()
    where.add("tenant_id = ?", p.tenant_id)
    return paginate_where(
        request,
        "agents",
        where,
        lambda rows: [agent_json(request, r, with_token=not p.is_agent) for r in rows],
    )


_INSTALL_SCRIPT = """#!/bin/sh
# Synapse agent node setup for agent {name} (embedded synapse_nb backend).
# The embedded backend runs jobs itself, so setting up a node only registers it as
# connected: the same call as BackendClient.health_check_agent(token).
set -eu
curl -fsS -o /dev/null -w 'agent connected (HTTP %{{http_code}})\\n' -X POST \\
    -H {header} -H 'Content-Type: application/json' {url}
"""


@router.get("/agents/{token}/node_install_script", include_in_schema=False)
@router.get("/agents/{token}/node_install_script/", include_in_schema=False)
def node_install_script(token: str, request: Request) -> PlainTextResponse:
    """The node setup script of an agent; the token in the path is the credential (as
    ``curl <node_install_script> | sh`` on a fresh machine has no other)."""
    state = state_of(request)
    row = state.db.one("SELECT * FROM agents WHERE token_hash = ?", (hash_token(token),))
    if row is None:
        raise not_found()
    script = _INSTALL_SCRIPT.format(
        name=repr(row["name"]),  # a repr has no line breaks: the comment stays one line
        header=shlex.quote(f"SYNAPSE-Agent: Token {token}"),
        url=shlex.quote(f"{state.base_url(request)}/agents/{token}/connect/"),
    )
    return PlainTextResponse(script, media_type="text/x-shellscript")


@route(router, "/agents/{token}/connect/", ["POST"], summary="Agent health check / connect")
async def connect_agent(token: str, request: Request, p: Principal = Auth) -> dict:
    await json_body(request)  # the SDK sends an empty JSON body
    state = state_of(request)
    row = state.db.one("SELECT * FROM agents WHERE token_hash = ?", (hash_token(token),))
    if row is None or row["tenant_id"] != p.tenant_id:
        raise not_found()
    with state.db.write() as con:
        con.execute(
            "UPDATE agents SET status = 'connected', last_seen = ? WHERE id = ?", (now(), row["id"])
        )
    row = state.db.one("SELECT * FROM agents WHERE id = ?", (row["id"],))
    reply = agent_json(request, row, with_token=False)
    # the caller holds the token already: the status reply (often logged) does not repeat it
    del reply["token"], reply["node_install_script"]
    return reply


# ============================================================================ plugins


def plugin_json(row: Any) -> dict:
    return {
        "id": row["id"],
        "code": row["code"],
        "name": row["name"],
        "category": row["category"],
        "description": row["description"],
        "is_active": bool(row["is_active"]),
        "created": row["created"],
        "modified": row["modified"],
    }


def numeric_ref(ref: str) -> int | None:
    """``ref`` as a pk when it is written in ASCII digits, else None (it is then a code).

    ``str.isdigit`` alone also accepts "²", which ``int`` refuses; an id too big for SQLite
    is returned as 0, which no row has. Overlong digit strings are judged by their length
    before any conversion: ``int`` refuses text of more than 4300 digits.
    """
    if not (ref.isascii() and ref.isdigit()):
        return None
    digits = ref.lstrip("0") or "0"
    if len(digits) > len(str(MAX_SQL_INT)):
        return 0
    value = int(digits)
    return value if value <= MAX_SQL_INT else 0


def plugin_row(request: Request, ref: str, p: Principal) -> Any:
    """A plugin by pk or by code."""
    db = state_of(request).db
    pk = numeric_ref(ref)
    row = (
        db.one("SELECT * FROM plugins WHERE id = ? AND tenant_id = ?", (pk, p.tenant_id))
        if pk is not None
        else db.one("SELECT * FROM plugins WHERE code = ? AND tenant_id = ?", (ref, p.tenant_id))
    )
    if row is None:
        raise not_found()
    return row


PLUGIN_QUERY = FilterSet(
    int_range("id", "id"),
    words("category", "category"),
    words("code", "code"),
    search("name", "code"),
)


@route(router, "/plugins/", ["GET"], summary="List plugins", query=PLUGIN_QUERY)
def list_plugins(request: Request, p: Principal = Auth) -> dict:
    where = PLUGIN_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    return paginate_where(request, "plugins", where, lambda rows: [plugin_json(r) for r in rows])


@route(router, "/plugins/", ["POST"], status_code=201, summary="Create a plugin", body=PluginCreate)
async def create_plugin(request: Request, p: Principal = Auth) -> dict:
    body = Body(require_dict(await json_body(request)))
    name = body.str("name", required=True, max_length=200)
    description = body.str("description", default="")
    code = body.str("code", default=None, max_length=100)
    category = body.str("category", default="custom", choices=PLUGIN_CATEGORIES)
    body.check()
    code = code or re.sub(r"[^a-z0-9_\-]+", "-", name.lower()).strip("-") or "plugin"
    if not CODE_RE.match(code):
        raise field_error(
            "code", f"Invalid code {code!r}: use lowercase letters, digits, '_' and '-'."
        )
    db = state_of(request).db
    if db.one("SELECT 1 FROM plugins WHERE tenant_id = ? AND code = ?", (p.tenant_id, code)):
        raise field_error("code", f'A plugin with code "{code}" already exists.')
    stamp = now()
    with db.write() as con:
        cur = con.execute(
            "INSERT INTO plugins (tenant_id, code, name, category, description, created, "
            "modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (p.tenant_id, code, name, category, description, stamp, stamp),
        )
    return plugin_json(db.one("SELECT * FROM plugins WHERE id = ?", (cur.lastrowid,)))


@route(router, "/plugins/{ref}/", ["GET"], summary="Get a plugin (pk or code)")
def get_plugin(ref: str, request: Request, p: Principal = Auth) -> dict:
    return shape_one(request, plugin_json(plugin_row(request, ref, p)))


@route(
    router,
    "/plugins/{ref}/",
    ["PUT", "PATCH"],
    summary="Update a plugin (partial)",
    body=PluginUpdate,
)
async def update_plugin(ref: str, request: Request, p: Principal = Auth) -> dict:
    row = plugin_row(request, ref, p)
    body = Body(require_dict(await json_body(request)))
    changes: dict[str, Any] = {}
    if "name" in body.data:
        changes["name"] = body.str("name", required=True)
    if "description" in body.data:
        if body.data["description"] is None:  # the column holds text: "" clears it, null not
            body.errors.add("description", "This field may not be null.")
        else:
            changes["description"] = body.str("description")
    if "category" in body.data:
        changes["category"] = body.str("category", required=True, choices=PLUGIN_CATEGORIES)
    if "is_active" in body.data:
        if body.data["is_active"] is None:  # not a state: null does not mean "active"
            body.errors.add("is_active", "This field may not be null.")
        else:
            changes["is_active"] = int(bool(body.bool("is_active", default=True)))
    body.check()
    changes["modified"] = now()
    db = state_of(request).db
    with db.write() as con:
        con.execute(
            f"UPDATE plugins SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
            [*changes.values(), row["id"]],
        )
    return plugin_json(db.one("SELECT * FROM plugins WHERE id = ?", (row["id"],)))


# ============================================================================ releases


def release_json(request: Request, row: Any, expand_plugin: bool = False) -> dict:
    state = state_of(request)
    plugin = state.db.one("SELECT * FROM plugins WHERE id = ?", (row["plugin_id"],))
    config = loads(row["config"], {})
    item = {
        "id": row["id"],
        "version": row["version"],
        "config": config,
        "requirements": loads(row["requirements"], []),
        "debug": bool(row["debug"]),
        "file": (
            state.media_url(request, "release", row["id"], row["file_name"])
            if row["rel_path"]
            else None
        ),
        "code": f"{plugin['code']}@{row['version']}",
        "created": row["created"],
    }
    item["plugin"] = {**plugin_json(plugin), "manifest": config} if expand_plugin else plugin["id"]
    return item


def release_row(request: Request, ref: str, p: Principal) -> Any:
    db = state_of(request).db
    if "@" in ref:
        code, _, version = ref.partition("@")
        row = db.one(
            "SELECT r.* FROM plugin_releases r JOIN plugins pl ON pl.id = r.plugin_id "
            "WHERE pl.code = ? AND r.version = ? AND pl.tenant_id = ?",
            (code, version, p.tenant_id),
        )
    elif numeric_ref(ref) is not None:
        row = db.one(
            "SELECT r.* FROM plugin_releases r JOIN plugins pl ON pl.id = r.plugin_id "
            "WHERE r.id = ? AND pl.tenant_id = ?",
            (numeric_ref(ref), p.tenant_id),
        )
    else:
        row = None
    if row is None:
        raise not_found()
    return row


def _release_plugin(q: Query, where: Where) -> None:
    refs = q.list("plugin")
    if refs:  # "plugin=," names no plugin: no filter, as for every other list filter
        ids = [numeric_ref(r) for r in refs if numeric_ref(r) is not None]
        codes = [r for r in refs if numeric_ref(r) is None]
        clause, params = [], []
        for column, values in (("pl.id", ids), ("pl.code", codes)):
            if values:
                wanted = in_list(values)
                clause.append(f"{column} IN ({wanted.sql})")
                params += wanted.params
        where.add("(" + " OR ".join(clause) + ")", *params)


RELEASE_QUERY = FilterSet(custom(Param("plugin", STR, "Plugin id(s) or code(s)."), _release_plugin))


@route(router, "/plugin_releases/", ["GET"], summary="List plugin releases", query=RELEASE_QUERY)
def list_plugin_releases(request: Request, p: Principal = Auth) -> dict:
    where = RELEASE_QUERY.where(request, ("pl.tenant_id = ?", p.tenant_id))
    join = " FROM plugin_releases r JOIN plugins pl ON pl.id = r.plugin_id"
    expand_plugin = "plugin" in expands(request)
    return paginate(
        request,
        f"SELECT COUNT(*){join}{where.sql()}",
        f"SELECT r.*{join}{where.sql()} ORDER BY r.id",
        where.params,
        lambda rows: [release_json(request, r, expand_plugin) for r in rows],
    )


@route(
    router,
    "/plugin_releases/",
    ["POST"],
    status_code=201,
    summary="Create a plugin release (multipart, with the plugin archive)",
)
async def create_plugin_release(request: Request, p: Principal = Auth) -> dict:
    state = state_of(request)
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await request.form()
        data: dict[str, Any] = {k: v for k, v in form.items() if k not in ("requirements",)}
        data["requirements"] = [str(v) for v in form.getlist("requirements")]
    else:
        data = require_dict(await json_body(request))
    body = Body(data)
    plugin_ref = body.str("plugin", required=True)
    version = body.str("version", required=True, max_length=50)
    debug = body.bool("debug", default=False)
    body.check()
    config = parse_json_field("config", data.get("config") or {})
    if not isinstance(config, dict):
        raise field_error("config", "Expected a JSON object.")
    requirements = data.get("requirements") or []
    if isinstance(requirements, str):
        requirements = [requirements]
    plugin = as_reference(plugin_row, request, plugin_ref, p, field="plugin")
    if state.db.one(
        "SELECT 1 FROM plugin_releases WHERE plugin_id = ? AND version = ?", (plugin["id"], version)
    ):
        raise field_error("version", f'Release "{plugin["code"]}@{version}" already exists.')
    upload = data.get("file")
    rel_path = file_name = staging = None
    if isinstance(upload, UploadFile):
        file_name = Path(upload.filename or "plugin.zip").name
        rel_path = f"releases/{uuid.uuid4().hex}-{file_name}"
        staging = state.config.data_dir / "release_code" / f"staging-{uuid.uuid4().hex}"
        config = await _store_release(state, upload, rel_path, staging, plugin, version)
    try:
        release_id = _insert_release(
            state, plugin["id"], version, config, requirements, debug, rel_path, file_name
        )
    except Exception:  # e.g. the same version posted twice at once: leave nothing behind
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            state.store_path(str(rel_path)).unlink(missing_ok=True)
        raise
    if staging is not None:
        staging.rename(staging.with_name(str(release_id)))
    row = state.db.one("SELECT * FROM plugin_releases WHERE id = ?", (release_id,))
    return release_json(request, row)


def _insert_release(
    state: Any,
    plugin_id: int,
    version: str,
    config: dict,
    requirements: list,
    debug: Any,
    rel_path: str | None,
    file_name: str | None,
) -> int:
    with state.db.write() as con:
        cur = con.execute(
            "INSERT INTO plugin_releases (plugin_id, version, config, requirements, debug, "
            "rel_path, file_name, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                plugin_id,
                version,
                dumps(config),
                dumps(requirements),
                int(bool(debug)),
                rel_path,
                file_name,
                now(),
            ),
        )
    return int(cur.lastrowid)


async def _store_release(
    state: Any, upload: UploadFile, rel_path: str, staging: Path, plugin: Any, version: str
) -> dict:
    """Stream the uploaded archive to disk, unpack it safely, return its validated config.

    The release's ``config`` is the archive's ``config.yaml`` (a posted ``config`` is not
    used when an archive is given); a refused archive leaves nothing behind.
    """
    limits = Limits()
    target = state.store_path(rel_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limits.max_archive_bytes:
                out.close()
                target.unlink(missing_ok=True)
                raise field_error(
                    "file", f"The archive is larger than {limits.max_archive_bytes} bytes."
                )
            out.write(chunk)
    try:
        return await run_in_threadpool(
            prepare_release,
            target,
            staging,
            code=plugin["code"],
            version=version,
            category=plugin["category"],
        )
    except ReleaseError as exc:
        target.unlink(missing_ok=True)
        raise field_error(exc.field, exc.message) from None


@route(
    router,
    "/plugin_releases/{ref}/",
    ["GET"],
    summary="Get a release (pk or code@version)",
    query=options(Param("expand", STR, "plugin")),
)
def get_plugin_release(ref: str, request: Request, p: Principal = Auth) -> dict:
    row = release_row(request, ref, p)
    return shape_one(request, release_json(request, row, "plugin" in expands(request)))


# ============================================================================ run + jobs


def job_json(request: Request, row: Any) -> dict:
    db = state_of(request).db
    release = agent = None
    if row["plugin_release_id"]:
        r = db.one(
            "SELECT r.id, r.version, pl.code, pl.name FROM plugin_releases r "
            "JOIN plugins pl ON pl.id = r.plugin_id WHERE r.id = ?",
            (row["plugin_release_id"],),
        )
        release = (
            {"id": r["id"], "plugin": r["code"], "plugin_name": r["name"], "version": r["version"]}
            if r
            else None
        )
    if row["agent_id"]:
        a = db.one("SELECT id, name FROM agents WHERE id = ?", (row["agent_id"],))
        agent = {"id": a["id"], "name": a["name"]} if a else None
    item = {
        "id": row["id"],
        "job_id": row["id"],
        "status": row["status"],
        "action": row["action"],
        "params": loads(row["params"], {}),
        "plugin_release": release,
        "agent": agent,
        "user": row["user_id"],
        "progress_record": loads(row["progress_record"], {}),
        "metrics_record": loads(row["metrics_record"], {}),
        "result": loads(row["result"], None),
        "meta": loads(row["meta"], {}),
        "created": row["created"],
        "modified": row["modified"],
        "started": row["started"],
        "finished": row["finished"],
        "completed": row["finished"],
    }
    if "logs" in expands(request):
        item["logs"] = [
            log_json(r)
            for r in db.all(
                "SELECT * FROM job_console_logs WHERE job_id = ? ORDER BY id", (row["id"],)
            )
        ]
    return item


def job_row(request: Request, pk: str, p: Principal) -> Any:
    row = state_of(request).db.one("SELECT * FROM jobs WHERE id = ?", (pk,))
    if row is None or row["tenant_id"] != p.tenant_id:
        raise not_found()
    return row


@route(
    router,
    "/plugins/{ref}/run/",
    ["POST"],
    summary="Run a plugin action (creates a job)",
    body=RunPlugin,
)
async def run_plugin(ref: str, request: Request, p: Principal = Auth) -> Any:
    state = state_of(request)
    plugin = plugin_row(request, ref, p)
    data = require_dict(await json_body(request))
    body = Body(data)
    action = body.str("action", default="run", max_length=100)
    params = body.dict("params", default=None)
    if params is None:
        params = body.dict("parameters", default={})  # the Synapse SDK's name for it
    agent = body.int("agent")
    version = body.str("version", default=None)
    context = body.dict("context", default={})
    body.check()
    if agent is not None:
        ref_row(request, "agents", agent, p, "agent")
    releases = state.db.all(
        "SELECT * FROM plugin_releases WHERE plugin_id = ? ORDER BY id", (plugin["id"],)
    )
    if version:
        releases = [r for r in releases if r["version"] == version]
        if not releases:
            raise field_error("version", f'No release "{version}" of plugin "{plugin["code"]}".')
    if not releases:
        raise ApiError(400, {"detail": f'Plugin "{plugin["code"]}" has no release to run.'})
    # without a version, the newest release that holds code (one posted as JSON only has none)
    release = ([r for r in releases if r["rel_path"]] or releases)[-1]
    params = runnable_params(plugin, release, action, params)
    job_id = create_job(
        state,
        p,
        release["id"],
        agent,
        action,
        params,
        {
            "context": context,
            "language": data.get("language", "ko"),
            "debug": bool(data.get("debug", False)),
        },
    )
    state.jobs.submit(job_id, state.base_url(request))
    return job_json(request, state.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,)))


def runnable_params(plugin: Any, release: Any, action: str, params: dict) -> dict:
    """The run's params checked against the action's schema; a 400 when it cannot run."""
    config = loads(release["config"], {})
    actions = config.get("actions") if isinstance(config, dict) else None
    spec = actions.get(action) if isinstance(actions, dict) else None
    if not isinstance(spec, dict) or not spec.get("entrypoint") or not release["rel_path"]:
        runnable = sorted(
            name
            for name, item in (actions or {}).items()
            if isinstance(item, dict) and item.get("entrypoint")
        )
        where = f"{plugin['code']}@{release['version']}"
        raise field_error(
            "action",
            f"Release {where} has no runnable action {action!r} "
            f"(runnable: {', '.join(runnable) if runnable and release['rel_path'] else 'none'}).",
        )
    try:
        return validate_params(spec.get("params"), params)
    except ReleaseError as exc:
        raise field_error(exc.field, exc.message) from None


def create_job(
    state: Any,
    p: Principal,
    release_id: int | None,
    agent_id: int | None,
    action: str,
    params: dict,
    meta: dict,
    status: str = "PENDING",
    created: str | None = None,
) -> str:
    job_id = str(uuid.uuid4())
    stamp = created or now()
    with state.db.write() as con:
        seq = con.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
        con.execute(
            "INSERT INTO jobs (id, seq, tenant_id, plugin_release_id, agent_id, user_id, action,"
            " params, status, meta, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                seq,
                p.tenant_id,
                release_id,
                agent_id,
                p.user_id,
                action,
                dumps(params),
                status,
                dumps(meta),
                stamp,
                stamp,
            ),
        )
    return job_id


def _job_plugin(q: Query, where: Where) -> None:
    if q.has("plugin"):
        refs = in_list(q.list("plugin"))
        where.add(
            f"j.plugin_release_id IN (SELECT r.id FROM plugin_releases r JOIN plugins pl "
            f"ON pl.id = r.plugin_id WHERE pl.code IN ({refs.sql}) "
            f"OR CAST(pl.id AS TEXT) IN ({refs.sql}))",
            *refs.params,
            *refs.params,
        )


JOB_QUERY = FilterSet(
    words("status", "j.status", str.upper),
    words("action", "j.action"),
    ids("j.agent_id", "agent"),
    custom(Param("plugin", STR, "Plugin id(s) or code(s)."), _job_plugin),
    date_range("created", "j.created"),
)


@route(router, "/jobs/", ["GET"], summary="List jobs", query=JOB_QUERY)
def list_jobs(request: Request, p: Principal = Auth) -> dict:
    where = JOB_QUERY.where(request, ("j.tenant_id = ?", p.tenant_id))
    return paginate_where(
        request,
        "jobs j",
        where,
        lambda rows: [job_json(request, r) for r in rows],
        order=" ORDER BY j.seq DESC",
    )


@route(
    router,
    "/jobs/{pk}/",
    ["GET"],
    summary="Get a job",
    query=options(Param("expand", STR, "Related objects (unknown values ignored).")),
)
def get_job(pk: str, request: Request, p: Principal = Auth) -> dict:
    return shape_one(request, job_json(request, job_row(request, pk, p)))


@route(
    router,
    "/jobs/{pk}/",
    ["PATCH"],
    summary="Update a job (status, progress, result...)",
    body=JobUpdate,
)
async def update_job(pk: str, request: Request, p: Principal = Auth) -> dict:
    row = job_row(request, pk, p)
    data = require_dict(await json_body(request))
    body = Body(data)
    changes: dict[str, Any] = {}
    if "status" in data:
        status = body.str("status", required=True)
        if status is not None:
            status = status.upper()
            if status not in JOB_STATUSES:
                body.errors.add("status", f'"{data["status"]}" is not a valid choice.')
            changes["status"] = status
    for key in ("progress_record", "metrics_record", "meta"):
        if key in data:
            changes[key] = dumps(body.dict(key, required=True))
    if "result" in data:
        changes["result"] = dumps(data["result"])
    logs = [
        log_entry(entry, f"console_logs[{i}]", body)
        for i, entry in enumerate(body.list("console_logs", default=None) or [])
    ]
    body.check()
    state = state_of(request)
    stamp = now()
    if changes.get("status") == "RUNNING" and not row["started"]:
        changes["started"] = stamp
    if changes.get("status") in TERMINAL and not row["finished"]:
        changes["finished"] = stamp
    changes["modified"] = stamp
    with state.db.write() as con:
        con.execute(
            f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
            [*changes.values(), row["id"]],
        )
        for entry in logs:
            add_console_log(con, row["id"], entry)
    if changes.get("status") in TERMINAL and row["status"] not in TERMINAL:
        state.jobs.stop(row["id"])  # the run ends; its status stays the one set here
    return job_json(request, job_row(request, pk, p))


def log_entry(entry: Any, where: str, body: Body) -> dict:
    """A client's console-log entry (an object, or bare text); type errors go to ``body``.

    ``step`` and ``datetime`` land in text columns, so they must be text (SQLite cannot bind
    a dict); ``data`` is any JSON.
    """
    if not isinstance(entry, dict):
        return {"message": str(entry)}
    item = Body(entry)
    out = dict(entry)
    out["step"] = item.str("step", default=None, max_length=200)
    out["datetime"] = log_datetime(item)
    for name, messages in item.errors.errors.items():
        for message in messages:
            body.errors.add("console_logs", f"{where}.{name}: {message}")
    return out


def log_datetime(body: Body) -> str | None:
    """The optional ``datetime`` of a log entry, normalised to UTC ISO text."""
    value = body.data.get("datetime")
    if value is None:
        return None
    if not isinstance(value, str):
        body.errors.add("datetime", f"Enter a valid date/time, got {shorten(value)}.")
        return None
    try:
        return parse_datetime("datetime", value)
    except ApiError:
        body.errors.add("datetime", f"Enter a valid date/time, got {shorten(value)}.")
        return None


def log_json(row: Any) -> dict:
    return {
        "id": row["id"],
        "event": row["event"],
        "level": row["level"],
        "step": row["step"],
        "data": loads(row["data"], {}),
        "message": row["message"],
        "datetime": row["datetime"],
    }


CONSOLE_LOG_QUERY = FilterSet(int_range("id", "id"), words("level", "level", str.lower))


@route(
    router,
    "/jobs/{pk}/console_logs/",
    ["GET"],
    summary="A job's console logs",
    query=CONSOLE_LOG_QUERY,
)
def list_job_console_logs(pk: str, request: Request, p: Principal = Auth) -> dict:
    job_row(request, pk, p)
    where = CONSOLE_LOG_QUERY.where(request, ("job_id = ?", pk))
    return paginate_where(
        request, "job_console_logs", where, lambda rows: [log_json(r) for r in rows]
    )


def _sse(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


@route(router, "/jobs/{pk}/tail_console_logs/", ["GET"], summary="Stream console logs (SSE)")
async def tail_job_console_logs(pk: str, request: Request, p: Principal = Auth) -> Any:
    job_row(request, pk, p)
    state = state_of(request)
    timeout = Query(request).int("timeout") or 300

    async def events() -> Any:
        yield _sse({"type": "connected", "job": pk})
        last_id = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # Status first, logs second: a job's last log is committed with (or before) its
            # terminal status, or before its executor lets it go (a stopped job's process
            # writes a few lines after the status changed), so logs read after seeing both
            # include it. The other way round could announce "complete" and lose lines.
            status = state.db.scalar("SELECT status FROM jobs WHERE id = ?", (pk,))
            status = status if not state.jobs.is_active(pk) else "RUNNING"
            rows = state.db.all(
                "SELECT * FROM job_console_logs WHERE job_id = ? AND id > ? ORDER BY id",
                (pk, last_id),
            )
            for r in rows:
                last_id = r["id"]
                inner = {
                    "type": "log",
                    "message": r["message"],
                    "level": r["level"],
                    "datetime": r["datetime"],
                }
                yield _sse({"type": "log", "data": f"data: {json.dumps(inner)}\n"})
            if status in TERMINAL:
                yield _sse({"type": "complete", "status": status})
                return
            if loop.time() > deadline or await request.is_disconnected():
                return
            await asyncio.sleep(0.2)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@route(router, "/logs/", ["POST"], status_code=201, summary="Create log entries", body=LOG_CREATE)
async def create_logs(request: Request, p: Principal = Auth) -> Any:
    payload = await json_body(request)
    many = isinstance(payload, list)
    entries = payload if many else [require_dict(payload)]
    parsed = []
    for i, entry in enumerate(entries):
        body = Body(require_dict(entry))
        event = body.str("event", required=True)
        job = body.str("job", default=None)
        level = body.str("level", default="info")
        step = body.str("step", default=None, max_length=200)
        stamp = log_datetime(body)
        file = body.str("file", default=None, max_length=LOG_FILE_LIMIT)  # a data: URI
        if body.errors.errors:
            raise ApiError(
                400,
                {
                    k: [f"[{i}]: {m}" if many else m for m in v]
                    for k, v in body.errors.errors.items()
                },
            )
        if job is not None:
            as_reference(job_row, request, job, p, field="job")
        parsed.append((event, job, level, step, stamp, file, entry))
    ids = []
    with state_of(request).db.write() as con:
        for event, job, level, step, stamp, file, entry in parsed:
            cur = con.execute(
                "INSERT INTO logs (tenant_id, job_id, event, data, datetime, step, level, file) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    p.tenant_id,
                    job,
                    event,
                    dumps(entry.get("data") or {}),
                    stamp or now(),
                    step,
                    level,
                    file,
                ),
            )
            ids.append(cur.lastrowid)
            if job is not None:
                add_console_log(
                    con,
                    job,
                    {
                        "event": event,
                        "level": level,
                        "step": step,
                        "datetime": stamp,
                        "data": entry.get("data"),
                        "message": (entry.get("data") or {}).get("message")
                        if isinstance(entry.get("data"), dict)
                        else None,
                    },
                )
    out = [{"id": i} for i in ids]
    return out if many else out[0]


# ============================================================================ storages


def storage_json(row: Any, with_configuration: bool) -> dict:
    item = {
        "id": row["id"],
        "name": row["name"],
        "category": row["category"],
        "provider": row["provider"],
        "is_default": bool(row["is_default"]),
        "created": row["created"],
    }
    item["configuration"] = loads(row["configuration"], {}) if with_configuration else {}
    return item


#: providers whose ``configuration.location`` is a folder on the backend's machine
LOCAL_STORAGES = frozenset({"file_system"})


def check_storage_location(configuration: dict, roots: tuple[Path, ...]) -> None:
    """A 400 naming ``configuration.location`` unless it is a folder path inside one of the
    storage roots (both resolved, links followed: a link cannot lead out of them).

    Example:
        >>> check_storage_location({"location": "/srv/a/b"}, (Path("/srv/a"),))
        >>> try:
        ...     check_storage_location({"location": "/srv/a/../etc"}, (Path("/srv/a"),))
        ... except ApiError as err:
        ...     print(err.body["configuration.location"][0][:52])
        '/srv/a/../etc' is not inside a storage root of this
    """
    location = configuration.get("location")
    if not isinstance(location, str) or not location or "\x00" in location:
        raise field_error("configuration.location", "A file_system storage needs a folder "
                          f"path, got {shorten(location, 300)}.")  # fmt: skip
    path = Path(location)
    if not path.is_absolute():
        raise field_error("configuration.location", f"{shorten(location, 300)} is not an "
                          "absolute path.")  # fmt: skip
    try:
        real = path.resolve()
        allowed = [root.resolve() for root in roots]
    except (OSError, RuntimeError):  # a link loop
        real, allowed = None, []
    if real is None or not any(real == root or real.is_relative_to(root) for root in allowed):
        listed = ", ".join(str(root) for root in roots)
        raise field_error(
            "configuration.location",
            f"{shorten(location, 300)} is not inside a storage root of this backend ({listed}); "
            "the backend's --storage-root / start(storage_roots=...) sets them.",
        )


WITH_CONFIGURATION = Param("with_configuration", BOOL, "Include each storage's configuration.")
STORAGE_QUERY = FilterSet(
    words("category", "category"), words("provider", "provider"), Filter((WITH_CONFIGURATION,))
)


@route(router, "/storages/", ["GET"], summary="List storages", query=STORAGE_QUERY)
def list_storages(request: Request, p: Principal = Auth) -> dict:
    where = STORAGE_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    with_conf = bool(Query(request).bool("with_configuration"))
    return paginate_where(
        request, "storages", where, lambda rows: [storage_json(r, with_conf) for r in rows]
    )


@route(
    router,
    "/storages/{pk}/",
    ["GET"],
    summary="Get a storage",
    query=options(WITH_CONFIGURATION),
)
def get_storage(pk: str, request: Request, p: Principal = Auth) -> dict:
    row = get_row(request, "storages", int_pk(pk), p)
    return shape_one(request, storage_json(row, bool(Query(request).bool("with_configuration"))))


@route(
    router, "/storages/", ["POST"], status_code=201, summary="Create a storage", body=StorageCreate
)
async def create_storage(request: Request, p: Principal = Auth) -> dict:
    body = Body(require_dict(await json_body(request)))
    name = body.str("name", required=True, max_length=200)
    provider = body.str("provider", required=True, max_length=50)  # open set (current Synapse SDK)
    category = body.str("category", default="external", choices=STORAGE_CATEGORIES)
    configuration = body.dict("configuration", default={})
    is_default = body.bool("is_default", default=False)
    body.check()
    if provider.lower() in LOCAL_STORAGES:
        check_storage_location(configuration, state_of(request).config.allowed_storage_roots)
    with state_of(request).db.write() as con:
        if is_default:
            con.execute("UPDATE storages SET is_default = 0 WHERE tenant_id = ?", (p.tenant_id,))
        cur = con.execute(
            "INSERT INTO storages (tenant_id, name, category, provider, configuration, "
            "is_default, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                p.tenant_id,
                name,
                category,
                provider.lower(),
                dumps(configuration),
                int(bool(is_default)),
                now(),
            ),
        )
    return storage_json(get_row(request, "storages", cur.lastrowid, p), True)


# ============================================================================ serve apps


def serve_json(row: Any) -> dict:
    return {
        "id": row["id"],
        "job": row["job_id"],
        "name": row["name"],
        "status": row["status"],
        "data": loads(row["data"], {}),
        "created": row["created"],
    }


SERVE_QUERY = FilterSet(words("status", "status", str.upper))


@route(
    router, "/serve_applications/", ["GET"], summary="List serve applications", query=SERVE_QUERY
)
def list_serve_applications(request: Request, p: Principal = Auth) -> dict:
    where = SERVE_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    return paginate_where(
        request, "serve_applications", where, lambda rows: [serve_json(r) for r in rows]
    )


@route(
    router,
    "/serve_applications/",
    ["POST"],
    status_code=201,
    summary="Create a serve application",
    body=SERVE_CREATE,
)
async def create_serve_application(request: Request, p: Principal = Auth) -> dict:
    body = Body(require_dict(await json_body(request)))
    job = body.str("job", default=None)
    status = body.str("status", default="DEPLOYING")
    data = body.dict("data", default={})
    name = body.str("name", default=None)
    body.check()
    if job is not None:
        as_reference(job_row, request, job, p, field="job")
    with state_of(request).db.write() as con:
        cur = con.execute(
            "INSERT INTO serve_applications (tenant_id, job_id, name, status, data, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (p.tenant_id, job, name, (status or "DEPLOYING").upper(), dumps(data), now()),
        )
    return serve_json(get_row(request, "serve_applications", cur.lastrowid, p))


@route(router, "/serve_applications/{pk}/", ["GET"], summary="Get a serve application")
def get_serve_application(pk: str, request: Request, p: Principal = Auth) -> dict:
    return serve_json(get_row(request, "serve_applications", int_pk(pk), p))
