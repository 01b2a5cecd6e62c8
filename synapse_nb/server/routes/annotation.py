"""Projects, tasks, task tags and assignments (AnnotationClientMixin + HITLClientMixin)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Depends, Request

from ..db import dumps, in_list, loads, now
from ..filters import (
    DATETIME,
    INTS,
    STR,
    FilterSet,
    Param,
    custom,
    date_range,
    flag,
    ids,
    int_range,
    options,
    search,
    subselect,
    words,
)
from ..http import (
    ApiError,
    Body,
    Principal,
    Query,
    RawJSON,
    Where,
    authenticate,
    expands,
    field_error,
    json_body,
    ordering,
    paginate_where,
    require_dict,
    route,
    shape_one,
)
from ..schemas import (
    ASSIGNMENT_UPDATE,
    PROJECT_CREATE,
    TAG_CREATE,
    TASK_BY_NAME,
    TASK_FIELDS,
    SetTags,
    task_schema,
)
from .common import (
    data_units_by_id,
    get_row,
    int_pk,
    json_field,
    links,
    ref_row,
    sdk_views,
    state_of,
    unit_files_reader,
    user_names,
)

router = APIRouter()
Auth = Depends(authenticate)

LABEL_STATUSES = ("stand_by", "in_progress", "completed", "skipped")
REVIEW_STATUSES = ("stand_by", "in_progress", "rejected", "completed", "skipped")
ORDERING = {
    "id": "t.id",
    "created": "t.created",
    "modified": "t.modified",
    "status": "t.status",
    "priority": "t.priority",
}


# ============================================================================ projects


def project_json(row: Any) -> dict:
    return {
        "id": row["id"],
        "title": row["title"],
        "name": row["title"],
        "description": row["description"],
        "category": row["category"],
        "data_collection": row["data_collection_id"],
        "configuration": loads(row["configuration"], {}),
        "created": row["created"],
        "modified": row["modified"],
    }


PROJECT_QUERY = FilterSet(
    int_range("id", "id"), search("title", "description"), words("category", "category")
)


@route(router, "/projects/", ["GET"], summary="List projects", query=PROJECT_QUERY)
def list_projects(request: Request, p: Principal = Auth) -> dict:
    where = PROJECT_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    return paginate_where(request, "projects", where, lambda rows: [project_json(r) for r in rows])


@route(
    router,
    "/projects/",
    ["POST"],
    status_code=201,
    summary="Create a project",
    body=PROJECT_CREATE,
)
async def create_project(request: Request, p: Principal = Auth) -> dict:
    body = Body(require_dict(await json_body(request)))
    title = body.str("title", default=None) or body.str("name", default=None)
    if title is None and not body.errors.errors:
        body.errors.add("title", "This field is required.")
    description = body.str("description", default="")
    category = body.str("category", default="image")
    collection = body.int("data_collection")
    configuration = body.dict("configuration", default={})
    body.check()
    if collection is not None:
        ref_row(request, "data_collections", collection, p, "data_collection")
    stamp = now()
    with state_of(request).db.write() as con:
        cur = con.execute(
            "INSERT INTO projects (tenant_id, title, description, category, data_collection_id,"
            " configuration, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                p.tenant_id,
                title,
                description,
                category,
                collection,
                dumps(configuration),
                stamp,
                stamp,
            ),
        )
    return project_json(get_row(request, "projects", cur.lastrowid, p))


@route(router, "/projects/{pk}/", ["GET"], summary="Get a project")
def get_project(pk: str, request: Request, p: Principal = Auth) -> dict:
    return shape_one(request, project_json(get_row(request, "projects", int_pk(pk), p)))


# ============================================================================ task tags


def tag_json(row: Any) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "project": row["project_id"],
        "color": row["color"],
        "meta": loads(row["meta"], {}),
        "created": row["created"],
    }


TAG_QUERY = FilterSet(
    int_range("id", "id"),
    ids("project_id", "project"),
    words("color", "color"),
    words("name", "name"),
    search("name"),
)


@route(router, "/task_tags/", ["GET"], summary="List task tags", query=TAG_QUERY)
def list_task_tags(request: Request, p: Principal = Auth) -> dict:
    where = TAG_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    return paginate_where(request, "task_tags", where, lambda rows: [tag_json(r) for r in rows])


@route(
    router,
    "/task_tags/",
    ["POST"],
    status_code=201,
    summary="Create a task tag",
    body=TAG_CREATE,
)
async def create_task_tag(request: Request, p: Principal = Auth) -> dict:
    body = Body(require_dict(await json_body(request)))
    name = body.str("name", required=True, max_length=100)
    project = body.int("project")
    color = body.str("color", default="#888888", max_length=32)
    description = body.str("description", default="")
    meta = body.dict("meta", default={})
    body.check()
    if project is not None:
        ref_row(request, "projects", project, p, "project")
    with state_of(request).db.write() as con:
        cur = con.execute(
            "INSERT INTO task_tags (tenant_id, project_id, name, color, description, meta, "
            "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (p.tenant_id, project, name, color, description, dumps(meta), now()),
        )
    return tag_json(get_row(request, "task_tags", cur.lastrowid, p))


@route(router, "/task_tags/{pk}/", ["GET"], summary="Get a task tag")
def get_task_tag(pk: str, request: Request, p: Principal = Auth) -> dict:
    return shape_one(request, tag_json(get_row(request, "task_tags", int_pk(pk), p)))


# ============================================================================ tasks


def serialize_tasks(request: Request, rows: list[Any]) -> list[dict]:
    """Task rows -> JSON, with tags, files and expansions fetched in one query each."""
    db = state_of(request).db
    ids = [r["id"] for r in rows]
    tags = links(db, "task_tag_links", "task_id", ids)
    wanted = expands(request)
    unit_ids = (r["data_unit_id"] for r in rows)
    units = (
        data_units_by_id(request, unit_ids)
        if "data_unit" in wanted
        else _files_by_unit(request, unit_ids)
    )
    stored = _stored_json(request)
    users = user_names(db, (r["assignee_id"] for r in rows))
    tag_rows = {}
    if "tags" in wanted:
        all_tags = sorted({t for ts in tags.values() for t in ts})
        if all_tags:
            tag_ids = in_list(all_tags)
            tag_rows = {
                r["id"]: {"id": r["id"], "name": r["name"], "color": r["color"]}
                for r in db.all(
                    f"SELECT * FROM task_tags WHERE id IN ({tag_ids.sql})", tag_ids.params
                )
            }
    out = []
    for r in rows:
        unit = units.get(r["data_unit_id"])
        assignee = users.get(r["assignee_id"])
        item = {
            "id": r["id"],
            "project": r["project_id"],
            "data_unit": unit if "data_unit" in wanted and unit else r["data_unit_id"],
            "status": r["status"],
            "priority": r["priority"],
            "assignee": (assignee if "assignee" in wanted else r["assignee_id"]),
            "assignee_name": assignee["name"] if assignee else None,
            "tags": [tag_rows[t] for t in tags[r["id"]]] if "tags" in wanted else tags[r["id"]],
            "data": stored(r["data"]),
            "metadata": stored(r["metadata"]),
            "is_discarded": bool(r["is_discarded"]),
            "files": unit["files"] if unit else {},
            "created": r["created"],
            "modified": r["modified"],
        }
        out.append(item)
    return out


def _files_by_unit(request: Request, ids: Iterable[int | None]) -> dict[int, dict]:
    """unit id -> ``{"files": ...}``: all a task shows of its unit unless it is expanded."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    units = in_list(wanted)
    rows = state_of(request).db.all(
        f"SELECT id, files FROM data_units WHERE id IN ({units.sql})", units.params
    )
    files = unit_files_reader(request)
    return {r["id"]: {"files": files(r["files"])} for r in rows}


def _stored_json(request: Request) -> Callable[[str | None], Any]:
    """A reader of stored JSON columns (``{}`` when NULL), per :func:`json_field`'s rules."""
    raw = getattr(request.state, "raw_json", False)

    def read(text: str | None) -> Any:
        if text is None or text == "{}":  # the usual empty metadata: no wrapper to splice
            return {}
        return RawJSON(text) if raw else loads(text)

    return read


def _assignee(q: Query, where: Where) -> None:
    if q.has("assignee"):
        if any(v.lower() in ("null", "none") for v in q.list("assignee")):
            where.add("t.assignee_id IS NULL")
        else:
            where.add_in("t.assignee_id", q.ints("assignee"))


def _created_after(q: Query, where: Where) -> None:
    if q.has("created_after"):
        where.add("t.created >= ?", q.datetime("created_after"))


def _task_search(q: Query, where: Where) -> None:
    if q.has("search"):
        term = f"%{q.str('search')}%"
        where.add(
            "(t.metadata LIKE ? OR t.data_unit_id IN (SELECT id FROM data_units "
            "WHERE files LIKE ? OR meta LIKE ?))",
            term,
            term,
            term,
        )


def _in_assignments(name: str, column: str, kind: str = "ints") -> Any:
    sql = f"SELECT task_id FROM assignments WHERE {column} IN ({{}})"
    return subselect(name, "t.id", sql, f"tasks with an assignment of these {name}", kind)


_ASSIGNMENT_EXISTS = "EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id)"
TASK_QUERY = FilterSet(
    ids("t.project_id", "project"),
    int_range("id", "t.id"),
    date_range("created", "t.created"),
    date_range("modified", "t.modified"),
    custom(Param("created_after", DATETIME, "Created at or after (created__gte)."), _created_after),
    words("status", "t.status", str.lower),
    words("priority", "t.priority", str.lower),
    custom(Param("assignee", INTS, "Assignee id(s), or 'null' for none."), _assignee),
    ids("t.data_unit_id", "data_unit"),
    flag(
        "is_discarded",
        "Discarded tasks only (true) or none of them (false).",
        "t.is_discarded = 1",
        "t.is_discarded = 0",
    ),
    subselect(
        "tags", "t.id", "SELECT task_id FROM task_tag_links WHERE tag_id IN ({})", "tag id(s)"
    ),
    flag(
        "has_assignment",
        "Tasks with (true) or without (false) an assignment.",
        _ASSIGNMENT_EXISTS,
        f"NOT {_ASSIGNMENT_EXISTS}",
    ),
    _in_assignments("status_label", "status_label", "words"),
    _in_assignments("status_review", "status_review", "words"),
    _in_assignments("labelers", "user_id"),
    _in_assignments("assignments", "id"),
    custom(Param("search", STR, "Text in the metadata or the data unit's files."), _task_search),
)


def task_where(request: Request, p: Principal) -> Where:
    return TASK_QUERY.where(request, ("t.tenant_id = ?", p.tenant_id))


def _task_listing(request: Request, p: Principal, shape: Callable = list) -> Any:
    where = task_where(request, p)
    order = ordering(Query(request), ORDERING)
    return paginate_where(
        request, "tasks t", where, lambda rows: shape(serialize_tasks(request, rows)), order=order
    )


@route(router, "/sdk/tasks/", ["GET"], summary="List tasks (SDK list endpoint)", query=TASK_QUERY)
@route(router, "/tasks/", ["GET"], summary="List tasks", query=TASK_QUERY)
def list_tasks(request: Request, p: Principal = Auth) -> dict:
    return _task_listing(request, p)


sdk_views(router, "/sdk/tasks/", _task_listing, "tasks", TASK_QUERY)


def one_task(request: Request, pk: int, p: Principal) -> dict:
    return shape_one(request, serialize_tasks(request, [get_row(request, "tasks", pk, p)])[0])


@route(
    router,
    "/tasks/{pk}/",
    ["GET"],
    summary="Get a task",
    query=options(
        Param("expand", STR, "data_unit, assignee, tags"),
        Param("fields", STR, "Comma-separated fields to keep."),
        Param("include_annotations", {"type": "boolean"}, "Include the annotation data."),
    ),
)
def get_task(pk: str, request: Request, p: Principal = Auth) -> dict:
    return one_task(request, int_pk(pk), p)


def _task_fields(item: Any, index: str | None, need_project: bool = True) -> dict:
    if not isinstance(item, dict):
        raise ApiError(
            400,
            {
                "non_field_errors": [
                    f"{index or 'body'}: expected a dictionary, but got {type(item).__name__}."
                ]
            },
        )
    body = Body(item)
    required = {"project": need_project, "data_unit": True}
    fields = {
        f.name: f.read(body, required=required.get(f.name, False))
        for f in TASK_FIELDS
        if f.on_create
    }
    if body.errors.errors and index:
        raise ApiError(
            400, {k: [f"{index}: {m}" for m in v] for k, v in body.errors.errors.items()}
        )
    body.check()
    return fields


@route(
    router,
    "/tasks/",
    ["POST"],
    status_code=201,
    summary="Create task(s), three body shapes",
    body=task_schema("create"),
)
async def create_tasks(request: Request, p: Principal = Auth) -> Any:
    payload = await json_body(request)
    if isinstance(payload, list):  # shape (b): a list of objects
        if not payload:
            raise ApiError(400, {"non_field_errors": ["Expected a non-empty list of tasks."]})
        labels: list[str | None] = [f"[{i}]" for i in range(len(payload))]
        items = [_task_fields(x, label) for x, label in zip(payload, labels, strict=True)]
        single = False
    elif isinstance(payload, dict) and "data" in payload and isinstance(payload["data"], list):
        body = Body(payload)  # shape (c): {project, data: [{data_unit, ...}]}
        project = body.int("project", required=True)
        body.check()
        if not payload["data"]:
            raise field_error("data", "This list may not be empty.")
        labels = [f"data[{i}]" for i in range(len(payload["data"]))]
        items = [
            _task_fields(x, label, need_project=False)
            for x, label in zip(payload["data"], labels, strict=True)
        ]
        for item in items:
            item["project"] = item["project"] or project
        single = False
    else:
        items = [_task_fields(require_dict(payload), None)]
        labels = [None]
        single = True
    _check_task_refs(request, items, p)
    _check_task_collections(request, items, labels)
    stamp = now()
    with state_of(request).db.write() as con:
        ids = []
        for it in items:
            cur = con.execute(
                "INSERT INTO tasks (tenant_id, project_id, data_unit_id, status, priority, "
                "assignee_id, data, metadata, created, modified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    p.tenant_id,
                    it["project"],
                    it["data_unit"],
                    it["status"],
                    it["priority"],
                    it["assignee"],
                    dumps(it["data"]),
                    dumps(it["metadata"]),
                    stamp,
                    stamp,
                ),
            )
            ids.append(cur.lastrowid)
    new = in_list(ids)
    rows = state_of(request).db.all(
        f"SELECT * FROM tasks WHERE id IN ({new.sql}) ORDER BY id", new.params
    )
    created = serialize_tasks(request, rows)
    return created[0] if single else created


def _check_task_refs(request: Request, items: list[dict], p: Principal) -> None:
    db = state_of(request).db
    for name, table, key in (
        ("project", "projects", "project"),
        ("data_unit", "data_units", "data_unit"),
        ("assignee", "users", "assignee"),
    ):
        wanted = sorted({it[key] for it in items if it[key] is not None})
        if not wanted:
            continue
        refs = in_list(wanted)
        found = {
            r[0]
            for r in db.all(
                f"SELECT id FROM {table} WHERE tenant_id = ? AND id IN ({refs.sql})",
                [p.tenant_id, *refs.params],
            )
        }
        missing = [w for w in wanted if w not in found]
        if missing:
            raise field_error(name, f'Invalid pk "{missing[0]}" - object does not exist.')


def _check_task_collections(request: Request, items: list[dict], labels: list[str | None]) -> None:
    """Refuse a data unit of another data collection than its task's project's.

    Runs after :func:`_check_task_refs` (every project and data unit exists) and before
    anything is written, so a bulk request with one bad item creates no task. A project
    without a data collection takes data units of any collection.
    """
    db = state_of(request).db
    projects = in_list(sorted({it["project"] for it in items}))
    units = in_list(sorted({it["data_unit"] for it in items}))
    project_collection = {
        r[0]: r[1]
        for r in db.all(
            f"SELECT id, data_collection_id FROM projects WHERE id IN ({projects.sql})",
            projects.params,
        )
    }
    unit_collection = {
        r[0]: r[1]
        for r in db.all(
            f"SELECT id, data_collection_id FROM data_units WHERE id IN ({units.sql})",
            units.params,
        )
    }
    for it, label in zip(items, labels, strict=True):
        wanted = project_collection.get(it["project"])
        actual = unit_collection.get(it["data_unit"])
        if wanted is not None and actual != wanted:
            prefix = f"{label}: " if label else ""
            raise field_error(
                "data_unit",
                f'{prefix}Invalid pk "{it["data_unit"]}" - the data unit belongs to data '
                f"collection {actual}, not to data collection {wanted} of project "
                f"{it['project']}.",
            )


@route(
    router,
    "/tasks/{pk}/",
    ["PATCH"],
    summary="Update a task's writable fields",
    body=task_schema("update"),
)
async def update_task(pk: str, request: Request, p: Principal = Auth) -> dict:
    task_id = int_pk(pk)
    get_row(request, "tasks", task_id, p)
    body = Body(require_dict(await json_body(request)))
    changes: dict[str, Any] = {
        f.column: f.stored(f.read(body, required=not f.nullable))
        for f in TASK_FIELDS
        if f.column and f.name in body.data
    }
    tags = TASK_BY_NAME["tags"].read(body, required=False) if "tags" in body.data else None
    body.check()
    if changes.get("assignee_id") is not None:
        _check_task_refs(
            request, [{"project": None, "data_unit": None, "assignee": changes["assignee_id"]}], p
        )
    if tags is not None:
        _check_tags(request, tags, p)
    with state_of(request).db.write() as con:
        changes["modified"] = now()
        sets = ", ".join(f"{k} = ?" for k in changes)
        con.execute(f"UPDATE tasks SET {sets} WHERE id = ?", [*changes.values(), task_id])
        if tags is not None:
            con.execute("DELETE FROM task_tag_links WHERE task_id = ?", (task_id,))
            con.executemany(  # a tag named twice is linked once
                "INSERT INTO task_tag_links VALUES (?, ?)", [(task_id, t) for t in set(tags)]
            )
    return one_task(request, task_id, p)


@route(
    router,
    "/tasks/{pk}/annotate_task_data/",
    ["PUT"],
    summary="Store annotation data",
    query=options(
        Param("schema", {"type": "string", "enum": ["dm_schema_v1", "any"]}, "Validation schema.")
    ),
    body={"type": "object", "additionalProperties": True},
)
async def annotate_task_data(pk: str, request: Request, p: Principal = Auth) -> dict:
    task_id = int_pk(pk)
    get_row(request, "tasks", task_id, p)
    payload = await json_body(request)
    schema = Query(request).str("schema")
    if schema not in (None, "dm_schema_v1", "any"):
        raise field_error("schema", f'"{schema}" is not a valid choice.')
    if schema != "any" and not isinstance(payload, dict):
        raise ApiError(
            400,
            {
                "non_field_errors": [
                    f"Annotation data must be an object, got {type(payload).__name__}."
                ]
            },
        )
    with state_of(request).db.write() as con:
        con.execute(
            "UPDATE tasks SET data = ?, modified = ? WHERE id = ?", (dumps(payload), now(), task_id)
        )
    return one_task(request, task_id, p)


# ============================================================================ set_tags


def _check_tags(request: Request, tag_ids: list[int], p: Principal) -> None:
    if not tag_ids:
        return
    tags = in_list(tag_ids)
    found = {
        r[0]
        for r in state_of(request).db.all(
            f"SELECT id FROM task_tags WHERE tenant_id = ? AND id IN ({tags.sql})",
            [p.tenant_id, *tags.params],
        )
    }
    missing = [t for t in tag_ids if t not in found]
    if missing:
        raise field_error("tags", f'Invalid pk "{missing[0]}" - object does not exist.')


async def _set_tags(
    request: Request, p: Principal, table: str, link: str, owner: str, legacy_ids: str
) -> dict:
    body = Body(require_dict(await json_body(request)))
    ids_key = "ids" if "ids" in body.data or legacy_ids not in body.data else legacy_ids
    tags_key = "tags" if "tags" in body.data or "tag_ids" not in body.data else "tag_ids"
    ids = body.int_list(ids_key, required=True)
    tags = body.int_list(tags_key, required=True)
    action = body.str("action", default="add", choices=("add", "remove"))
    body.check()
    replace = Query(request).bool("replace") or False
    if replace and action == "remove":
        raise field_error(
            "action", "'remove' cannot be combined with replace=true (replace sets the tags)."
        )
    ids = sorted(set(ids or ()))
    tags = sorted(set(tags or ()))
    db = state_of(request).db
    owners = in_list(ids)
    found = (
        {
            r[0]
            for r in db.all(
                f"SELECT id FROM {table} WHERE tenant_id = ? AND id IN ({owners.sql})",
                [p.tenant_id, *owners.params],
            )
        }
        if ids
        else set()
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise field_error(ids_key, f'Invalid pk "{missing[0]}" - object does not exist.')
    _check_tags(request, tags, p)
    with db.write() as con:
        if replace and ids:
            con.execute(f"DELETE FROM {link} WHERE {owner} IN ({owners.sql})", owners.params)
        pairs = [(i, t) for i in ids for t in tags]
        if action == "remove" and not replace:
            con.executemany(f"DELETE FROM {link} WHERE {owner} = ? AND tag_id = ?", pairs)
        else:
            con.executemany(f"INSERT OR IGNORE INTO {link} VALUES (?, ?)", pairs)
        if ids:
            con.execute(
                f"UPDATE {table} SET modified = ? WHERE id IN ({owners.sql})",
                [now(), *owners.params],
            )
    return {
        "updated": len(ids),
        "ids": ids,
        "tags": tags,
        "action": "replace" if replace else action,
    }


REPLACE = options(Param("replace", {"type": "boolean"}, "Replace the tag sets (action add)."))


@route(
    router,
    "/tasks/set_tags/",
    ["POST"],
    summary="Add/remove/replace tags on tasks",
    query=REPLACE,
    body=SetTags,
)
async def set_tags_tasks(request: Request, p: Principal = Auth) -> dict:
    return await _set_tags(request, p, "tasks", "task_tag_links", "task_id", "task_ids")


# ============================================================================ assignments


def serialize_assignments(request: Request, rows: list[Any]) -> list[dict]:
    db = state_of(request).db
    ids = [r["id"] for r in rows]
    tags = links(db, "assignment_tag_links", "assignment_id", ids)
    users = user_names(db, (r["user_id"] for r in rows))
    task_ids = sorted({r["task_id"] for r in rows})
    unit_of = {}
    if task_ids:
        tasks = in_list(task_ids)
        unit_of = {
            r[0]: r[1]
            for r in db.all(
                f"SELECT id, data_unit_id FROM tasks WHERE id IN ({tasks.sql})", tasks.params
            )
        }
    units = data_units_by_id(request, unit_of.values())
    wanted = expands(request)
    out = []
    for r in rows:
        unit_id = unit_of.get(r["task_id"])
        unit = units.get(unit_id) if unit_id is not None else None
        user = users.get(r["user_id"])
        out.append(
            {
                "id": r["id"],
                "project": r["project_id"],
                "task": r["task_id"],
                "user": user if "user" in wanted else r["user_id"],
                "assignee": r["user_id"],
                "assignee_name": user["name"] if user else None,
                "status": r["status_label"],
                "status_label": r["status_label"],
                "status_review": r["status_review"],
                "data": json_field(request, r["data"], {}),
                "files": unit["files"] if unit else {},
                "tags": tags[r["id"]],
                "data_unit": unit if "data_unit" in wanted and unit else unit_of.get(r["task_id"]),
                "created": r["created"],
                "modified": r["modified"],
            }
        )
    return out


ASSIGNMENT_QUERY = FilterSet(
    ids("a.project_id", "project"),
    int_range("id", "a.id"),
    date_range("created", "a.created"),
    date_range("modified", "a.modified"),
    ids("a.task_id", "tasks", "task"),
    ids("a.user_id", "users", "user", "assignee"),
    words("status_label", "a.status_label", str.lower),
    words("status_review", "a.status_review", str.lower),
    words("status", "a.status_label", str.lower),
    subselect(
        "tags",
        "a.id",
        "SELECT assignment_id FROM assignment_tag_links WHERE tag_id IN ({})",
        "tag id(s)",
    ),
)


def _assignment_listing(request: Request, p: Principal, shape: Callable = list) -> Any:
    q = Query(request)
    where = ASSIGNMENT_QUERY.where(request, ("a.tenant_id = ?", p.tenant_id))
    order = ordering(q, {"id": "a.id", "created": "a.created", "modified": "a.modified"})
    return paginate_where(
        request,
        "assignments a",
        where,
        lambda rows: shape(serialize_assignments(request, rows)),
        order=order,
    )


@route(
    router,
    "/sdk/assignments/",
    ["GET"],
    summary="List assignments (SDK list endpoint)",
    query=ASSIGNMENT_QUERY,
)
@route(router, "/assignments/", ["GET"], summary="List assignments", query=ASSIGNMENT_QUERY)
def list_assignments(request: Request, p: Principal = Auth) -> dict:
    return _assignment_listing(request, p)


sdk_views(router, "/sdk/assignments/", _assignment_listing, "assignments", ASSIGNMENT_QUERY)


@route(router, "/assignments/{pk}/", ["GET"], summary="Get an assignment")
def get_assignment(pk: str, request: Request, p: Principal = Auth) -> dict:
    row = get_row(request, "assignments", int_pk(pk), p)
    return shape_one(request, serialize_assignments(request, [row])[0])


@route(
    router,
    "/assignments/{pk}/",
    ["PATCH"],
    summary="Update an assignment's review state",
    body=ASSIGNMENT_UPDATE,
)
async def update_assignment(pk: str, request: Request, p: Principal = Auth) -> dict:
    assignment_id = int_pk(pk)
    get_row(request, "assignments", assignment_id, p)
    body = Body(require_dict(await json_body(request)))
    changes: dict[str, Any] = {}
    if "status_label" in body.data:
        changes["status_label"] = body.str("status_label", required=True, choices=LABEL_STATUSES)
    if "status_review" in body.data:
        changes["status_review"] = body.str("status_review", required=True, choices=REVIEW_STATUSES)
    if "data" in body.data:
        changes["data"] = dumps(body.dict("data", required=True))
    body.check()
    changes["modified"] = now()
    with state_of(request).db.write() as con:
        sets = ", ".join(f"{k} = ?" for k in changes)
        con.execute(
            f"UPDATE assignments SET {sets} WHERE id = ?", [*changes.values(), assignment_id]
        )
    row = get_row(request, "assignments", assignment_id, p)
    return serialize_assignments(request, [row])[0]


@route(
    router,
    "/assignments/set_tags/",
    ["POST"],
    summary="Add/remove/replace assignment tags",
    query=options(Param("replace", {"type": "boolean"}, "Replace the tag sets.")),
    body=SetTags,
)
async def set_tags_assignments(request: Request, p: Principal = Auth) -> dict:
    return await _set_tags(
        request, p, "assignments", "assignment_tag_links", "assignment_id", "assignment_ids"
    )
