"""Data collections, file specifications, data files, data units, chunked upload, media."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from ..db import dumps, in_list, loads, now
from ..filters import STR, FilterSet, Param, date_range, ids, int_range, options, search, words
from ..http import (
    MAX_SQL_INT,
    ApiError,
    Body,
    Principal,
    authenticate,
    expands,
    field_error,
    json_body,
    not_found,
    paginate_where,
    require_dict,
    route,
    shape_one,
    shorten,
)
from ..multipart import OffloadedFileSink, boundary_of, stream_multipart
from ..schemas import CHECKSUMS, COLLECTION_CREATE, UPLOAD_FINALIZE, DataUnitCreate
from .common import (
    get_row,
    int_pk,
    ref_row,
    safe_file_name,
    state_of,
    unit_files,
)

router = APIRouter()
log = logging.getLogger("synapse_nb.server")
Auth = Depends(authenticate)

FILE_TYPES = ("image", "video", "audio", "text", "pcd", "data")
CONTENT_RANGE_HELP = "Expected 'bytes <start>-<end>/<total>'"
COPY_BUFFER = 1024 * 1024
#: digits of the longest ``?expires=`` a media link may carry (signed ones have about 10)
MAX_EXPIRES_DIGITS = 20


# ============================================================================ collections


def spec_json(row: Any) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "file_type": row["file_type"],
        "is_required": bool(row["is_required"]),
        "is_primary": bool(row["is_primary"]),
        "is_sequential": bool(row["is_sequential"]),
        "function_type": row["function_type"],
        "configuration": loads(row["configuration"], {}),
    }


def collection_json(request: Request, row: Any, with_specs: bool) -> dict:
    db = state_of(request).db
    item = {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "category": row["category"],
        "created": row["created"],
        "modified": row["modified"],
        "data_unit_count": db.scalar(
            "SELECT COUNT(*) FROM data_units WHERE data_collection_id = ?", (row["id"],)
        ),
    }
    specs = db.all(
        "SELECT * FROM file_specifications WHERE data_collection_id = ? ORDER BY position, id",
        (row["id"],),
    )
    item["file_specifications"] = (
        [spec_json(s) for s in specs] if with_specs else [s["id"] for s in specs]
    )
    return item


COLLECTION_QUERY = FilterSet(int_range("id", "id"), search("name"), words("category", "category"))


@route(
    router, "/data_collections/", ["GET"], summary="List data collections", query=COLLECTION_QUERY
)
def list_data_collections(request: Request, p: Principal = Auth) -> dict:
    where = COLLECTION_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    with_specs = "file_specifications" in expands(request)
    return paginate_where(
        request,
        "data_collections",
        where,
        lambda rows: [collection_json(request, r, with_specs) for r in rows],
    )


@route(
    router,
    "/data_collections/{pk}/",
    ["GET"],
    summary="Get a data collection",
    query=options(Param("expand", STR, "file_specifications")),
)
def get_data_collection(pk: str, request: Request, p: Principal = Auth) -> dict:
    row = get_row(request, "data_collections", int_pk(pk), p)
    return shape_one(
        request, collection_json(request, row, "file_specifications" in expands(request))
    )


@route(
    router,
    "/data_collections/",
    ["POST"],
    status_code=201,
    summary="Create a data collection with its file specifications",
    body=COLLECTION_CREATE,
)
async def create_data_collection(request: Request, p: Principal = Auth) -> dict:
    body = Body(require_dict(await json_body(request)))
    name = body.str("name", required=True, max_length=200)
    description = body.str("description", default="")
    category = body.str("category", default="image", choices=FILE_TYPES)
    specs = body.list("file_specifications", default=[])
    body.check()
    parsed = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise field_error("file_specifications", f"[{i}]: expected an object.")
        sb = Body(spec)
        parsed.append(
            {
                "name": sb.str("name", required=True, max_length=100),
                "file_type": sb.str("file_type", required=True, choices=FILE_TYPES),
                "is_required": sb.bool("is_required", default=True),
                "is_primary": sb.bool("is_primary", default=i == 0),
                "is_sequential": sb.bool("is_sequential", default=False),
                "function_type": sb.str("function_type", default="main"),
                "configuration": sb.dict("configuration", default={}),
            }
        )
        if sb.errors.errors:
            raise ApiError(
                400,
                {
                    "file_specifications": [
                        f"[{i}].{k}: {m}" for k, v in sb.errors.errors.items() for m in v
                    ]
                },
            )
    stamp = now()
    with state_of(request).db.write() as con:
        cur = con.execute(
            "INSERT INTO data_collections (tenant_id, name, description, category, created, "
            "modified) VALUES (?, ?, ?, ?, ?, ?)",
            (p.tenant_id, name, description, category, stamp, stamp),
        )
        cid = cur.lastrowid
        for pos, s in enumerate(parsed):
            con.execute(
                "INSERT INTO file_specifications (data_collection_id, name, file_type, "
                "is_required, is_primary, is_sequential, function_type, configuration, position)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    s["name"],
                    s["file_type"],
                    int(s["is_required"]),
                    int(s["is_primary"]),
                    int(s["is_sequential"]),
                    s["function_type"],
                    dumps(s["configuration"]),
                    pos,
                ),
            )
    return collection_json(request, get_row(request, "data_collections", cid, p), True)


# ============================================================================ data files


def data_file_json(request: Request, row: Any) -> dict:
    state = state_of(request)
    return {
        "id": row["id"],
        "checksum": row["checksum"],
        "size": row["size"],
        "file_name": row["file_name"],
        "file": state.media_url(request, "data_file", row["id"], row["file_name"]),
        "meta": loads(row["meta"], {}),
        "created_at": row["created"],
        "updated_at": row["modified"],
    }


def store_blob(state: Any, source: Path, checksum: str, file_name: str, move: bool) -> str:
    """Put bytes in the content-addressed store; returns the path relative to the data dir."""
    suffix = Path(file_name).suffix.lower()[:16]
    rel = f"files/{checksum[:2]}/{checksum}{suffix}"
    target = state.store_path(rel)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{uuid.uuid4().hex}.part")
        if move:
            shutil.move(str(source), tmp)
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    elif move:
        source.unlink(missing_ok=True)
    return rel


def insert_data_file(
    state: Any, tenant_id: int, checksum: str, file_name: str, rel: str, size: int, meta: dict
) -> int:
    stamp = now()
    with state.db.write() as con:
        cur = con.execute(
            "INSERT INTO data_files (tenant_id, checksum, file_name, rel_path, size, meta, "
            "created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (tenant_id, checksum, file_name, rel, size, dumps(meta), stamp, stamp),
        )
    return cur.lastrowid


async def _spool(upload: UploadFile, target: Path) -> tuple[str, int]:
    md5 = hashlib.md5()
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(COPY_BUFFER):
            md5.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return md5.hexdigest(), size


def _meta_of(body: Body) -> dict:
    """A data file's ``meta``: a dict, whose ``filename`` (if any) is text."""
    meta = body.dict("meta", default={}) or {}
    body.check()
    name = meta.get("filename")
    if name is not None and not isinstance(name, str):
        raise field_error("meta.filename", f"A file name must be a string, got {shorten(name)}.")
    return meta


def _file_name(meta: dict, default: str) -> str:
    """The name ``meta`` gives the file (made safe to store and serve), else ``default``."""
    return safe_file_name(meta["filename"]) if meta.get("filename") else default


def own_upload(state: Any, p: Principal, upload_id: str) -> Any:
    """The caller's chunked upload ``upload_id``: another user's, even in the tenant, is None."""
    row = state.db.one("SELECT * FROM chunked_uploads WHERE id = ?", (upload_id,))
    if row is None or row["tenant_id"] != p.tenant_id or row["user_id"] != (p.user_id or 0):
        return None
    return row


@route(
    router,
    "/data_files/",
    ["POST"],
    status_code=201,
    summary="Create a data file (multipart `file`, or JSON `chunked_upload`)",
)
async def create_data_file(request: Request, p: Principal = Auth) -> dict:
    state = state_of(request)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        boundary_of(content_type)
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise field_error("file", "No file was submitted.")
        file_name = safe_file_name(upload.filename or "file")
        tmp = state.uploads_dir / f"direct-{uuid.uuid4().hex}"
        try:
            checksum, size = await _spool(upload, tmp)
            if size == 0:
                raise field_error("file", "The submitted file is empty.")
            rel = store_blob(state, tmp, checksum, file_name, move=True)
        finally:
            tmp.unlink(missing_ok=True)
        meta = _meta_of(Body({"meta": form.get("meta")}))
        file_name = _file_name(meta, file_name)
    else:
        body = Body(require_dict(await json_body(request)))
        upload_id = body.str("chunked_upload", required=True)
        meta = _meta_of(body)
        file_name = _file_name(meta, "")
        row = own_upload(state, p, str(upload_id))
        if row is None:
            raise field_error(
                "chunked_upload", f'Invalid pk "{upload_id}" - object does not exist.'
            )
        if row["status"] != 2:
            raise field_error("chunked_upload", "The chunked upload is not complete.")
        checksum, size = row["checksum"], row["offset"]
        file_name = file_name or row["filename"]
        rel = store_blob(state, state.uploads_dir / row["id"], checksum, file_name, move=False)
    file_id = insert_data_file(state, p.tenant_id, checksum, file_name, rel, size, meta or {})
    return data_file_json(request, get_row(request, "data_files", file_id, p))


@route(
    router,
    "/data_files/verify_checksums/",
    ["POST"],
    summary="Which of these MD5 checksums already exist as data files",
    body=CHECKSUMS,
)
async def verify_checksums(request: Request, p: Principal = Auth) -> dict:
    body = Body(require_dict(await json_body(request)))
    checksums = body.list("checksums", required=True)
    body.check()
    if not all(isinstance(c, str) for c in checksums):
        raise field_error("checksums", "Every checksum must be a string.")
    existing: set[str] = set()
    if checksums:
        wanted = in_list(checksums)
        existing.update(
            r[0]
            for r in state_of(request).db.all(
                f"SELECT checksum FROM data_files WHERE tenant_id = ? AND checksum IN "
                f"({wanted.sql})",
                [p.tenant_id, *wanted.params],
            )
        )
    return {"existing_checksums": [c for c in dict.fromkeys(checksums) if c in existing]}


@route(router, "/data_files/{pk}/", ["GET"], summary="Get a data file")
def get_data_file(pk: str, request: Request, p: Principal = Auth) -> dict:
    return shape_one(
        request, data_file_json(request, get_row(request, "data_files", int_pk(pk), p))
    )


# ============================================================================ data units


def unit_json(request: Request, row: Any) -> dict:
    return {
        "id": row["id"],
        "data_collection": row["data_collection_id"],
        "meta": loads(row["meta"], {}),
        "files": unit_files(request, row["files"]),
        "group": row["group_id"],
        "created": row["created"],
        "modified": row["modified"],
    }


def _resolve_group(con: Any, tenant_id: int, collection: int, names: list[str]) -> int | None:
    parent = None
    for name in names:
        row = con.execute(
            "SELECT id FROM data_unit_groups WHERE tenant_id = ? AND data_collection_id = ? AND "
            "name = ? AND parent_id IS ?",
            (tenant_id, collection, name, parent),
        ).fetchone()
        parent = (
            row[0]
            if row
            else con.execute(
                "INSERT INTO data_unit_groups (tenant_id, data_collection_id, parent_id, name) "
                "VALUES (?, ?, ?, ?)",
                (tenant_id, collection, parent, name),
            ).lastrowid
        )
    return parent


def _parse_unit(request: Request, item: Any, index: str | None, p: Principal) -> dict:
    if not isinstance(item, dict):
        raise ApiError(400, {"non_field_errors": [f"{index or 'body'}: expected an object."]})
    body = Body(item)
    collection = body.int("data_collection", required=True)
    files = body.dict("files", required=True)
    meta = body.dict("meta", default={})
    groups = item.get("groups")
    if isinstance(groups, str):
        groups = [groups]
    if groups is not None and not (
        isinstance(groups, list) and all(isinstance(g, str) for g in groups)
    ):
        body.errors.add("groups", f"Expected a list of group names, got {shorten(groups)}.")
    if body.errors.errors:
        prefix = f"{index}: " if index else ""
        raise ApiError(400, {k: [prefix + m for m in v] for k, v in body.errors.errors.items()})
    ref_row(request, "data_collections", collection, p, "data_collection")
    db = state_of(request).db
    specs = {
        r["name"]: r
        for r in db.all(
            "SELECT * FROM file_specifications WHERE data_collection_id = ?", (collection,)
        )
    }
    stored: dict[str, dict[str, Any]] = {}
    for spec_name, ref in files.items():
        checksum = ref.get("checksum") if isinstance(ref, dict) else ref
        if not isinstance(checksum, str):
            raise field_error("files", f"{spec_name}: a checksum is required.")
        if specs and spec_name not in specs:
            raise field_error(
                "files",
                f'{spec_name}: no file specification named "{spec_name}" '
                f"in data collection {collection}.",
            )
        row = db.one(
            "SELECT * FROM data_files WHERE tenant_id = ? AND checksum = ? ORDER BY id LIMIT 1",
            (p.tenant_id, checksum),
        )
        if row is None:
            raise field_error("files", f'{spec_name}: unknown checksum "{checksum}".')
        spec = specs.get(spec_name)
        stored[spec_name] = {
            "data_file": row["id"],
            "checksum": checksum,
            "path": (ref.get("path") if isinstance(ref, dict) else None) or row["file_name"],
            "file_name_original": row["file_name"],
            "size": row["size"],
            "file_type": spec["file_type"] if spec else None,
            "is_primary": bool(spec["is_primary"]) if spec else len(stored) == 0,
            "meta": loads(row["meta"], {}),
        }
    missing = [n for n, s in specs.items() if s["is_required"] and n not in stored]
    if missing:
        raise field_error(
            "files", f"Missing required file specification(s): {', '.join(sorted(missing))}."
        )
    return {"collection": collection, "files": stored, "meta": meta, "groups": groups or []}


@route(
    router,
    "/data_units/",
    ["POST"],
    status_code=201,
    summary="Create data unit(s) from uploaded data files (object or list)",
    body=DataUnitCreate,
)
async def create_data_units(request: Request, p: Principal = Auth) -> Any:
    payload = await json_body(request)
    many = isinstance(payload, list)
    items = payload if many else [require_dict(payload)]
    if many and not items:
        raise ApiError(400, {"non_field_errors": ["Expected a non-empty list of data units."]})
    parsed = [_parse_unit(request, it, f"[{i}]" if many else None, p) for i, it in enumerate(items)]
    stamp = now()
    ids = []
    with state_of(request).db.write() as con:
        for it in parsed:
            group = _resolve_group(con, p.tenant_id, it["collection"], it["groups"])
            cur = con.execute(
                "INSERT INTO data_units (tenant_id, data_collection_id, group_id, meta, files, "
                "created, modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    p.tenant_id,
                    it["collection"],
                    group,
                    dumps(it["meta"]),
                    dumps(it["files"]),
                    stamp,
                    stamp,
                ),
            )
            ids.append(cur.lastrowid)
    new = in_list(ids)
    rows = state_of(request).db.all(
        f"SELECT * FROM data_units WHERE id IN ({new.sql}) ORDER BY id", new.params
    )
    units = [unit_json(request, r) for r in rows]
    return units if many else units[0]


UNIT_QUERY = FilterSet(
    int_range("id", "id"),
    date_range("created", "created"),
    ids("data_collection_id", "data_collection", "collection"),
    search("files", "meta"),
)


@route(router, "/data_units/", ["GET"], summary="List data units", query=UNIT_QUERY)
def list_data_units(request: Request, p: Principal = Auth) -> dict:
    where = UNIT_QUERY.where(request, ("tenant_id = ?", p.tenant_id))
    return paginate_where(
        request, "data_units", where, lambda rows: [unit_json(request, r) for r in rows]
    )


@route(
    router,
    "/data_units/{pk}/",
    ["GET"],
    summary="Get a data unit",
    query=options(Param("expand", STR, "files")),
)
def get_data_unit(pk: str, request: Request, p: Principal = Auth) -> dict:
    return shape_one(request, unit_json(request, get_row(request, "data_units", int_pk(pk), p)))


# ============================================================================ chunked upload


def upload_json(request: Request, row: Any) -> dict:
    state = state_of(request)
    item = {
        "id": row["id"],
        "url": f"{state.base_url(request)}/chunked_upload/{row['id']}/",
        "offset": row["offset"],
        "filename": row["filename"],
        "status": row["status"],
        "created_at": row["created"],
        "completed_at": row["completed_at"],
    }
    if row["status"] == 2:
        item.update(
            {
                "checksum": row["checksum"],
                "size": row["offset"],
                "file": state.media_url(request, "upload", row["id"], row["filename"]),
            }
        )
    return item


def _content_range(header: str | None) -> tuple[int, int, int]:
    if not header:
        raise ApiError(400, {"detail": f"Content-Range header is required. {CONTENT_RANGE_HELP}"})
    unit, _, spec = header.strip().partition(" ")
    try:
        span, _, total = spec.partition("/")
        start, _, end = span.partition("-")
        start_i, end_i, total_i = int(start), int(end), int(total)
    except ValueError:
        raise ApiError(
            400, {"detail": f"Invalid Content-Range {header!r}. {CONTENT_RANGE_HELP}"}
        ) from None
    if (
        unit.lower() != "bytes"
        or start_i < 0
        or end_i < start_i
        or end_i >= total_i
        or total_i > MAX_SQL_INT  # SQLite stores 64-bit integers only
    ):
        raise ApiError(400, {"detail": f"Invalid Content-Range {header!r}. {CONTENT_RANGE_HELP}"})
    return start_i, end_i, total_i


def _upload_row(state: Any, p: Principal, upload_id: str, total: int) -> Any:
    row = own_upload(state, p, upload_id)
    if row is None:
        raise not_found()
    if row["status"] == 2:
        raise ApiError(400, {"detail": "Upload has already been completed."})
    if row["total"] is not None and row["total"] != total:
        raise ApiError(
            400, {"detail": f"Total size {total} differs from the upload's {row['total']}."}
        )
    return row


async def _drain(request: Request) -> None:
    async for _ in request.stream():
        pass


async def _receive_chunk(
    request: Request, path: Path, start: int, expected: int, digest: Any, new_upload: bool
) -> dict[str, str]:
    """Stream the body's ``file`` part into ``path`` at ``start``; returns the form fields.

    Raises a 400 (and, for a new upload, removes the file) when the part is missing or not
    ``expected`` bytes long; ``OSError`` when the disk fails.
    """
    with path.open("r+b" if path.exists() else "wb") as out:
        out.seek(start)
        sink = OffloadedFileSink(out, digest, expected)
        try:
            fields, size = await stream_multipart(
                request, file_field="file", on_file_data=sink, after_piece=sink.pump
            )
            await sink.finish()
            if size is None:
                raise field_error("file", "No chunk was submitted.")
            if size != expected:
                end = start + expected - 1
                raise ApiError(
                    400,
                    {"detail": f"Chunk size {size} does not match Content-Range {start}-{end}."},
                )
            out.truncate(start + expected)
        except BaseException:
            await sink.settle()
            if new_upload:
                out.close()
                path.unlink(missing_ok=True)
            raise
    return fields


async def _put_chunk(request: Request, p: Principal, upload_id: str | None) -> dict:
    """Store one chunk, streamed from the socket into the upload file as it arrives.

    The multipart body is parsed while it is received (:mod:`..multipart`): each piece of the
    ``file`` part is written at its offset and fed to the upload's running MD5, so a chunk
    is never held whole in memory or spooled to a temporary file. The offset only advances
    (and the running MD5 is only replaced) once the whole chunk has arrived with the size
    its Content-Range announced; a chunk cut short leaves the committed state as it was.
    PUTs to one upload are serialised by a per-upload lock, so a transport retry racing its
    original sees the committed offset and is answered as a repeat.
    """
    state = state_of(request)
    start, end, total = _content_range(request.headers.get("content-range"))
    boundary_of(request.headers.get("content-type"))
    db = state.db
    new_upload = upload_id is None
    if upload_id is None:
        if start != 0:
            await _drain(request)
            raise ApiError(400, {"detail": "Offsets do not match", "offset": 0})
        key = str(uuid.uuid4())
    else:
        key = upload_id
        _upload_row(state, p, key, total)  # 404/400 before taking the lock
    upload_id = key
    # nobody else knows a new upload's id before this PUT answers: it needs no shared lock
    lock = asyncio.Lock() if new_upload else state.upload_locks.setdefault(key, asyncio.Lock())
    async with lock:
        running = None
        if not new_upload:
            row = _upload_row(state, p, key, total)
            if start != row["offset"]:
                await _drain(request)
                # A transport retry that repeats the last stored range is answered.
                if row["last_range"] == f"{start}-{end}" and end + 1 == row["offset"]:
                    return upload_json(request, row)
                raise ApiError(400, {"detail": "Offsets do not match", "offset": row["offset"]})
            running = state.upload_hashes.get(upload_id)
        if start == 0:
            digest = hashlib.md5()
        elif running is not None and running[0] == start:
            digest = running[1].copy()
        else:
            digest = None  # after a restart: finalizing re-reads the file
        expected = end - start + 1
        path = state.uploads_dir / upload_id
        try:
            fields = await _receive_chunk(request, path, start, expected, digest, new_upload)
        except OSError as exc:  # the disk, not the request: a 5xx the client can retry later
            log.error("chunked upload: could not store a chunk: %s", exc.strerror or exc)
            status = 507 if exc.errno == errno.ENOSPC else 500
            raise ApiError(
                status, {"detail": f"The server could not store the chunk ({exc.strerror})."}
            ) from None

        def commit() -> None:
            with db.write() as con:
                if new_upload:
                    filename = safe_file_name(str(fields.get("filename") or "file"))
                    con.execute(
                        "INSERT INTO chunked_uploads (id, tenant_id, user_id, filename, total, "
                        "created, offset, last_range) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            upload_id,
                            p.tenant_id,
                            p.user_id or 0,
                            filename,
                            total,
                            now(),
                            end + 1,
                            f"{start}-{end}",
                        ),
                    )
                else:
                    con.execute(
                        "UPDATE chunked_uploads SET offset = ?, last_range = ? WHERE id = ?",
                        (end + 1, f"{start}-{end}", upload_id),
                    )

        await asyncio.to_thread(commit)  # the write lock may be busy: not on the event loop
        if digest is not None:
            state.upload_hashes[upload_id] = (end + 1, digest)
        else:
            state.upload_hashes.pop(upload_id, None)
    return upload_json(request, db.one("SELECT * FROM chunked_uploads WHERE id = ?", (upload_id,)))


@route(router, "/chunked_upload/", ["PUT"], summary="First chunk of a chunked upload")
async def put_first_chunk(request: Request, p: Principal = Auth) -> dict:
    return await _put_chunk(request, p, None)


@route(router, "/chunked_upload/{upload_id}/", ["PUT"], summary="Next chunk of a chunked upload")
async def put_next_chunk(upload_id: str, request: Request, p: Principal = Auth) -> dict:
    return await _put_chunk(request, p, upload_id)


@route(router, "/chunked_upload/{upload_id}/", ["GET"], summary="State of a chunked upload")
def get_chunked_upload(upload_id: str, request: Request, p: Principal = Auth) -> dict:
    row = own_upload(state_of(request), p, upload_id)
    if row is None:
        raise not_found()
    return upload_json(request, row)


@route(router, "/chunked_upload/", ["POST"], summary="Finalize without an upload (empty file)")
async def finalize_nothing(request: Request, p: Principal = Auth) -> dict:
    await json_body(request)
    raise ApiError(400, {"detail": "No chunk was uploaded: an empty file cannot be finalized."})


def _md5_of(path: Path) -> str:
    md5 = hashlib.md5()
    with path.open("rb") as fh:
        while block := fh.read(COPY_BUFFER * 4):
            md5.update(block)
    return md5.hexdigest()


@route(
    router,
    "/chunked_upload/{upload_id}/",
    ["POST"],
    summary="Finalize a chunked upload",
    body=UPLOAD_FINALIZE,
)
async def finalize_upload(upload_id: str, request: Request, p: Principal = Auth) -> dict:
    state = state_of(request)
    body = Body(require_dict(await json_body(request)))
    md5 = body.str("md5", required=True, max_length=64)
    body.check()
    row = own_upload(state, p, upload_id)
    if row is None:
        raise not_found()
    if row["status"] == 2:
        if row["checksum"] == md5.lower():
            return upload_json(request, row)  # a repeated finalize is harmless
        raise ApiError(400, {"detail": "Upload has already been completed."})
    if row["total"] is not None and row["offset"] != row["total"]:
        raise ApiError(
            400,
            {
                "detail": f"Upload incomplete: {row['offset']} of {row['total']} bytes received.",
                "offset": row["offset"],
            },
        )
    path = state.uploads_dir / upload_id
    running = state.upload_hashes.pop(upload_id, None)
    state.upload_locks.pop(upload_id, None)
    if running is not None and running[0] == row["offset"]:
        actual = running[1].hexdigest()
    else:
        actual = (
            await asyncio.to_thread(_md5_of, path) if path.exists() else hashlib.md5().hexdigest()
        )
    if actual != md5.lower():
        # Nothing is committed: the partial data is discarded and the upload cannot be used.
        path.unlink(missing_ok=True)
        with state.db.write() as con:
            con.execute("DELETE FROM chunked_uploads WHERE id = ?", (upload_id,))
        raise ApiError(400, {"md5": [f"MD5 mismatch: expected {md5.lower()}, got {actual}."]})
    with state.db.write() as con:
        con.execute(
            "UPDATE chunked_uploads SET status = 2, checksum = ?, completed_at = ? WHERE id = ?",
            (actual, now(), upload_id),
        )
    return upload_json(
        request, state.db.one("SELECT * FROM chunked_uploads WHERE id = ?", (upload_id,))
    )


# ============================================================================ media


@router.get("/media/{kind}/{ident}/{signature}/{name:path}", include_in_schema=False)
def media(kind: str, ident: str, signature: str, name: str, request: Request) -> FileResponse:
    """Unauthenticated file download, presigned-URL style: the signature covers the kind, the
    object, the file name and the expiry (``?expires=<epoch seconds>``) of the URL."""
    state = state_of(request)
    expires = request.query_params.get("expires")
    # only ASCII digits of a plausible length: "²" passes isdigit() but not int(), and int()
    # refuses more than 4300 digits; such a link was never signed, so it is answered as one
    # with a bad signature
    if expires is not None and not (
        expires.isascii() and expires.isdigit() and len(expires) <= MAX_EXPIRES_DIGITS
    ):
        raise not_found()
    if not state.verify(kind, ident, name, signature, int(expires) if expires else None):
        raise not_found()
    db = state.db
    path: Path | None = None
    if kind == "data_file":
        row = db.one("SELECT rel_path FROM data_files WHERE id = ?", (ident,))
        path = state.store_path(row[0]) if row else None
    elif kind == "upload":
        path = state.uploads_dir / ident
    elif kind == "release":
        row = db.one("SELECT rel_path FROM plugin_releases WHERE id = ?", (ident,))
        path = state.store_path(row[0]) if row and row[0] else None
    elif kind == "model":
        row = db.one(
            "SELECT f.rel_path FROM models m JOIN data_files f ON f.id = m.data_file_id"
            " WHERE m.id = ?",
            (ident,),
        )
        path = state.store_path(row[0]) if row else None
    if path is None or not path.is_file():
        raise not_found()
    return FileResponse(path, filename=name, headers={"Cache-Control": "max-age=3600"})
