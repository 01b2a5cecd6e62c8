"""Models and ground truth: datasets, versions and events (MLClientMixin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request

from ..db import dumps, in_list, loads, now
from ..filters import FilterSet, date_range, flag, ids, int_range, search, subselect, words
from ..http import (
    Body,
    Principal,
    Query,
    Where,
    authenticate,
    field_error,
    json_body,
    not_found,
    ordering,
    paginate,
    paginate_where,
    require_dict,
    route,
    shape_one,
)
from ..schemas import ModelCreate, ModelUpdate
from .common import (
    as_reference,
    data_units_by_id,
    get_row,
    int_pk,
    json_field,
    ref_row,
    sdk_views,
    state_of,
)
from .data import insert_data_file, own_upload, store_blob

router = APIRouter()
Auth = Depends(authenticate)


# ============================================================================ models


def model_json(request: Request, row: Any) -> dict:
    state = state_of(request)
    file_url = None
    if row["data_file_id"]:
        f = state.db.one("SELECT file_name FROM data_files WHERE id = ?", (row["data_file_id"],))
        if f:
            file_url = state.media_url(request, "model", row["id"], f["file_name"])
    item = {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "plugin": row["plugin_id"],
        "version": row["version"],
        "checkpoint": row["checkpoint"],
        "configuration": loads(row["configuration"], {}),
        "metrics": loads(row["metrics"], {}),
        "project": row["project_id"],
        "ground_truth_dataset_version": row["ground_truth_dataset_version_id"],
        "file": file_url,
        "created": row["created"],
        "modified": row["modified"],
    }
    item.update({k: v for k, v in loads(row["extra"], {}).items() if k not in item})
    return item


MODEL_QUERY = FilterSet(
    int_range("id", "id"),
    date_range("created", "created"),
    ids("project_id", "project"),
    ids("plugin_id", "plugin"),
    ids("ground_truth_dataset_version_id", "ground_truth_dataset_version"),
    words("name", "name"),
    search("name", "description"),
)


@route(router, "/models/", ["GET"], summary="List models", query=MODEL_QUERY)
def list_models(request: Request, p: Principal = Auth) -> dict:
    q = Query(request)
    where = MODEL_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    order = ordering(q, {"id": "id", "created": "created", "name": "name", "version": "version"})
    return paginate_where(
        request, "models", where, lambda rows: [model_json(request, r) for r in rows], order=order
    )


@route(router, "/models/{pk}/", ["GET"], summary="Get a model")
def get_model(pk: str, request: Request, p: Principal = Auth) -> dict:
    return shape_one(request, model_json(request, get_row(request, "models", int_pk(pk), p)))


@route(router, "/models/{pk}/", ["PATCH"], summary="Update a model's metrics or description",
       body=ModelUpdate)
async def update_model(pk: str, request: Request, p: Principal = Auth) -> dict:
    row = get_row(request, "models", int_pk(pk), p)
    data = require_dict(await json_body(request))
    body = Body(data)
    changes: dict[str, Any] = {}
    if "description" in data:
        changes["description"] = body.str("description", required=True)
    if "metrics" in data:
        changes["metrics"] = dumps(body.dict("metrics", required=True))
    for key in sorted(set(data) - {"description", "metrics"}):
        body.errors.add(key, "This field cannot be updated (description, metrics).")
    if not data:
        body.errors.add("non_field_errors", "Give description or metrics.")
    body.check()
    changes["modified"] = now()
    state = state_of(request)
    with state.db.write() as con:
        con.execute(
            f"UPDATE models SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
            [*changes.values(), row["id"]],
        )
    return model_json(request, get_row(request, "models", row["id"], p))


MODEL_KEYS = {
    "name",
    "description",
    "plugin",
    "version",
    "checkpoint",
    "configuration",
    "metrics",
    "project",
    "ground_truth_dataset_version",
    "chunked_upload",
}


@route(
    router,
    "/models/",
    ["POST"],
    status_code=201,
    summary="Create a model from a finished chunked upload",
    body=ModelCreate,
)
async def create_model(request: Request, p: Principal = Auth) -> dict:
    state = state_of(request)
    data = require_dict(await json_body(request))
    body = Body(data)
    name = body.str("name", required=True, max_length=200)
    upload_id = body.str("chunked_upload", required=True)
    description = body.str("description", default="")
    version = body.str("version", default="")
    checkpoint = body.str("checkpoint", default=None)
    configuration = body.dict("configuration", default={})
    metrics = body.dict("metrics", default={})
    project = body.int("project")
    gt_version = body.int("ground_truth_dataset_version")
    plugin_ref = body.str("plugin", default=None)
    body.check()
    plugin_id = None
    if plugin_ref is not None:
        from .integration import plugin_row  # local import: routes stay independent modules

        plugin_id = as_reference(plugin_row, request, plugin_ref, p, field="plugin")["id"]
    if project is not None:
        ref_row(request, "projects", project, p, "project")
    if gt_version is not None:
        as_reference(version_row, request, gt_version, p, field="ground_truth_dataset_version")
    upload = own_upload(state, p, str(upload_id))
    if upload is None:
        raise field_error("chunked_upload", f'Invalid pk "{upload_id}" - object does not exist.')
    if upload["status"] != 2:
        raise field_error("chunked_upload", "The chunked upload is not complete.")
    rel = store_blob(
        state, state.uploads_dir / upload["id"], upload["checksum"], upload["filename"], move=False
    )
    file_id = insert_data_file(
        state,
        p.tenant_id,
        upload["checksum"],
        upload["filename"],
        rel,
        upload["offset"],
        {"kind": "model"},
    )
    extra = {k: v for k, v in data.items() if k not in MODEL_KEYS and k != "file"}
    stamp = now()
    with state.db.write() as con:
        cur = con.execute(
            "INSERT INTO models (tenant_id, name, description, plugin_id, version, checkpoint, "
            "configuration, metrics, project_id, ground_truth_dataset_version_id, data_file_id, "
            "extra, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                p.tenant_id,
                name,
                description,
                plugin_id,
                version,
                checkpoint,
                dumps(configuration),
                dumps(metrics),
                project,
                gt_version,
                file_id,
                dumps(extra),
                stamp,
                stamp,
            ),
        )
    return model_json(request, get_row(request, "models", cur.lastrowid, p))


# ============================================================================ ground truth


def dataset_json(row: Any) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "project": row["project_id"],
        "created": row["created"],
    }


DATASET_QUERY = FilterSet(int_range("id", "id"), ids("project_id", "project"))


@route(
    router,
    "/ground_truth_datasets/",
    ["GET"],
    summary="List ground-truth datasets",
    query=DATASET_QUERY,
)
def list_ground_truth_datasets(request: Request, p: Principal = Auth) -> dict:
    where = DATASET_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    return paginate_where(
        request, "ground_truth_datasets", where, lambda rows: [dataset_json(r) for r in rows]
    )


@route(router, "/ground_truth_datasets/{pk}/", ["GET"], summary="Get a ground-truth dataset")
def get_ground_truth_dataset(pk: str, request: Request, p: Principal = Auth) -> dict:
    return dataset_json(get_row(request, "ground_truth_datasets", int_pk(pk), p))


def version_rows(request: Request, p: Principal, where: Where) -> tuple[str, str, list]:
    where.add("d.tenant_id = ?", p.tenant_id)
    join = (
        " FROM ground_truth_dataset_versions v JOIN ground_truth_datasets d ON d.id = v.dataset_id"
    )
    return (
        f"SELECT COUNT(*){join}{where.sql()}",
        f"SELECT v.*{join}{where.sql()} ORDER BY v.id",
        where.params,
    )


def version_json(request: Request, row: Any) -> dict:
    db = state_of(request).db
    return {
        "id": row["id"],
        "version": row["version"],
        "ground_truth_dataset": row["dataset_id"],
        "description": row["description"],
        "is_archived": bool(row["is_archived"]),
        "created": row["created"],
        "event_count": db.scalar(
            "SELECT COUNT(*) FROM ground_truth_events WHERE version_id = ?", (row["id"],)
        ),
    }


VERSION_QUERY = FilterSet(
    int_range("id", "v.id"),
    ids("v.dataset_id", "ground_truth_dataset"),
    flag(
        "is_archived",
        "Archived versions only (true) or none (false).",
        "v.is_archived = 1",
        "v.is_archived = 0",
    ),
)


@route(
    router,
    "/ground_truth_dataset_versions/",
    ["GET"],
    summary="List ground-truth versions",
    query=VERSION_QUERY,
)
def list_ground_truth_versions(request: Request, p: Principal = Auth) -> dict:
    where = VERSION_QUERY.where(request)
    count_sql, select_sql, params = version_rows(request, p, where)
    return paginate(
        request,
        count_sql,
        select_sql,
        params,
        lambda rows: [version_json(request, r) for r in rows],
    )


@route(
    router,
    "/ground_truth_dataset_versions/{pk}/",
    ["GET"],
    summary="Get a ground-truth dataset version",
)
def get_ground_truth_version(pk: str, request: Request, p: Principal = Auth) -> dict:
    return shape_one(request, version_json(request, version_row(request, int_pk(pk), p)))


def version_row(request: Request, pk: int, p: Principal) -> Any:
    """A ground-truth dataset version of the caller's tenant (404 otherwise)."""
    try:
        row = state_of(request).db.one(
            "SELECT v.*, d.tenant_id FROM ground_truth_dataset_versions v JOIN "
            "ground_truth_datasets d ON d.id = v.dataset_id WHERE v.id = ?",
            (pk,),
        )
    except OverflowError:
        row = None
    if row is None or row["tenant_id"] != p.tenant_id:
        raise not_found()
    return row


def serialize_events(request: Request, rows: list[Any]) -> list[dict]:
    units = data_units_by_id(request, (r["data_unit_id"] for r in rows))
    db = state_of(request).db
    version_ids = sorted({r["version_id"] for r in rows})
    versions = {}
    if version_ids:
        wanted = in_list(version_ids)
        versions = {
            v["id"]: v
            for v in db.all(
                f"SELECT id, version, dataset_id FROM ground_truth_dataset_versions WHERE id IN "
                f"({wanted.sql})",
                wanted.params,
            )
        }
    out = []
    for r in rows:
        unit = units.get(r["data_unit_id"])
        version = versions.get(r["version_id"])
        out.append(
            {
                "id": r["id"],
                "data": json_field(request, r["data"], {}),
                "files": unit["files"] if unit else {},
                "data_unit": r["data_unit_id"],
                "task": r["task_id"],
                "ground_truth_dataset_version": r["version_id"],
                "version": version["version"] if version else None,
                "ground_truth_dataset": version["dataset_id"] if version else None,
                "meta": unit["meta"] if unit else {},
                "created": r["created"],
                "modified": r["modified"],
            }
        )
    return out


EVENT_QUERY = FilterSet(
    int_range("id", "e.id"),
    date_range("created", "e.created"),
    date_range("modified", "e.modified"),
    ids(
        "e.version_id",
        "ground_truth_dataset_versions",
        "ground_truth_dataset_version",
        "version",
    ),
    subselect(
        "ground_truth_dataset",
        "e.version_id",
        "SELECT id FROM ground_truth_dataset_versions WHERE dataset_id IN ({})",
        "ground-truth dataset id(s)",
    ),
    ids("e.data_unit_id", "data_unit"),
)


def _event_listing(request: Request, p: Principal, shape: Callable = list) -> Any:
    where = EVENT_QUERY.where(request, ("e.tenant_id = ?", p.tenant_id))
    return paginate_where(
        request,
        "ground_truth_events e",
        where,
        lambda rows: shape(serialize_events(request, rows)),
        order=" ORDER BY e.id",
    )


@route(
    router,
    "/sdk/ground_truth_events/",
    ["GET"],
    summary="List ground-truth events",
    query=EVENT_QUERY,
)
@route(
    router,
    "/ground_truth_events/",
    ["GET"],
    summary="List ground-truth events",
    query=EVENT_QUERY,
)
@route(
    router,
    "/ground_truths/",
    ["GET"],
    summary="List ground truths (current Synapse SDK name)",
    query=EVENT_QUERY,
)
def list_ground_truth_events(request: Request, p: Principal = Auth) -> dict:
    return _event_listing(request, p)


sdk_views(router, "/sdk/ground_truth_events/", _event_listing, "ground-truth events", EVENT_QUERY)


@route(router, "/ground_truth_events/{pk}/", ["GET"], summary="Get a ground-truth event")
def get_ground_truth_event(pk: str, request: Request, p: Principal = Auth) -> dict:
    row = get_row(request, "ground_truth_events", int_pk(pk), p)
    return shape_one(request, serialize_events(request, [row])[0])
