"""Seeding of the demo workspace and of large projects for scale tests.

Everything is derived from a fixed seed, so two starts give the same workspace (ids, names,
annotations, statuses). Images come from :mod:`.media` and are cached on disk; seeding the
database itself takes well under a second for the 240-image demo.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import secrets
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..db import dumps, now
from ..http import hash_token

DEMO_IMAGES = 240
TENANT = "demo"
USERS = (  # username, name, admin
    ("admin", "Ada Admin", True),
    ("alice", "Alice Kim", False),
    ("bob", "Bob Lee", False),
    ("carol", "Carol Park", False),
    ("dave", "Dave Choi", False),
)
TAGS = (  # name, colour, description
    ("needs-review", "#e53935", "Flagged for a second look"),
    ("blurry", "#fb8c00", "Image quality is poor"),
    ("occluded", "#fdd835", "Objects heavily occluded"),
    ("gold", "#43a047", "Curated gold-standard item"),
    ("edge-case", "#8e24aa", "Unusual scene worth discussing"),
)
STATUS_WEIGHTS = (("completed", 0.55), ("in_progress", 0.25), ("pending", 0.20))
LABEL_STATES = ("stand_by", "in_progress", "completed", "skipped")
REVIEW_STATES = ("stand_by", "in_progress", "rejected", "completed", "skipped")
MODELS = (  # name, version, base mAP
    ("yolo-v8n", "1.0.0", 0.412),
    ("yolo-v8n", "1.1.0", 0.447),
    ("yolo-v8n", "2.0.0", 0.489),
    ("detr-r50", "1.0.0", 0.455),
    ("detr-r50", "1.2.0", 0.473),
    ("rtmdet-s", "0.9.0", 0.468),
)
PLUGINS = (  # code, name, category
    ("yolo-trainer", "YOLO trainer", "neural_net"),
    ("coco-exporter", "COCO exporter", "export"),
    ("folder-uploader", "Folder uploader", "upload"),
    ("auto-labeler", "Auto labeler", "pre_annotation"),
)
#: the demo's file_system storage: this folder of the backend's first storage root
LOCAL_DISK = "local-disk"
STORAGES = (  # name, provider, category, configuration, default
    ("Local disk", "file_system", "internal", {"location": LOCAL_DISK}, True),
    (
        "Raw captures (S3)",
        "amazon_s3",
        "external",
        {"bucket_name": "street-raw", "region_name": "ap-northeast-2"},
        False,
    ),
    ("Archive (GCS)", "gcp", "external", {"bucket_name": "street-archive"}, False),
    (
        "Lab MinIO",
        "minio",
        "external",
        {"endpoint_url": "http://minio.lab:9000", "bucket_name": "labels"},
        False,
    ),
    (
        "Partner drop (SFTP)",
        "sftp",
        "external",
        {"host": "sftp.partner.example", "port": 22},
        False,
    ),
)
BASE_TIME = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def _ts(offset_minutes: float) -> str:
    return (BASE_TIME + timedelta(minutes=offset_minutes)).isoformat(timespec="microseconds")


def ensure_admin(state: Any) -> None:
    """The admin user of the default tenant exists in every workspace."""
    if state.db.scalar("SELECT id FROM users WHERE username = 'admin'") is None:
        state.ensure_user(
            "admin", TENANT, name="Ada Admin", email="admin@example.com", is_admin=True
        )


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        os.link(source, tmp)
    except OSError:
        tmp.write_bytes(source.read_bytes())
    os.replace(tmp, target)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@dataclass
class _Seeding:
    """What every part of the demo workspace is written with: one transaction, one generator."""

    state: Any
    con: Any
    rng: random.Random
    seed: int
    tenant_id: int
    user_ids: dict[str, int]


def seed_demo(state: Any, *, seed: int = 0, cache_dir: Path, n_images: int = DEMO_IMAGES) -> str:
    """Seed the demo workspace once per data dir; returns the demo agent's token.

    A data dir that was seeded before keeps its objects; its agent gets a fresh token (only
    the token's hash is kept across restarts, so the old one cannot be handed out again).
    The parts are written in a fixed order from one generator, so a seed always gives the
    same workspace.
    """
    from . import media, problems, releases

    db = state.db
    ensure_admin(state)
    if db.scalar("SELECT value FROM meta WHERE key = 'demo_seed'") is not None:
        return _rotate_agent_token(state)
    rng = random.Random(seed)
    media_dir = Path(cache_dir) / f"demo-media-seed{seed}"
    items = media.generate_items(n_images, media_dir, seed=seed)
    # deliberate problems for the dataset-health checks (documented in docs/health.md)
    planted_dir = Path(cache_dir) / f"demo-planted-seed{seed}"
    items, media_dir = problems.plant(items, media_dir, planted_dir)
    tenant_id = state.ensure_tenant(TENANT, "Demo workspace")
    user_ids = {
        u: state.ensure_user(u, TENANT, name=n, email=f"{u}@example.com", is_admin=a)
        for u, n, a in USERS
    }
    state.ensure_user("outsider", "acme", name="Olive Outsider", email="olive@acme.example")
    with db.write() as con:
        ctx = _Seeding(state, con, rng, seed, tenant_id, user_ids)
        cid, upload_cid = _collections(ctx)
        pid, kid = _projects(ctx, cid, upload_cid)
        tag_ids = _tags(ctx, (pid, kid))
        docs = _data_units(ctx, cid, items, media_dir)
        _tasks(ctx, pid, kid, docs, tag_ids)
        v1, v2 = _ground_truth(ctx, pid, docs)
        plugin_ids, release_ids = _plugins(ctx)
        agent_id, agent_token = _agent(ctx)
        _jobs(ctx, pid, agent_id, release_ids)
        _models(ctx, pid, plugin_ids["yolo-trainer"], (v1, v2))
        _storages(ctx)
        con.execute("INSERT INTO meta (key, value) VALUES ('demo_seed', ?)", (str(seed),))
    releases.seed_plugin_releases(state, tenant_id)  # real, runnable plugin releases
    return agent_token


def _collections(ctx: _Seeding) -> tuple[int, int]:
    """The annotated collection (image + meta json) and the empty one for uploads."""
    con, tenant_id = ctx.con, ctx.tenant_id
    cid = con.execute(
        "INSERT INTO data_collections (tenant_id, name, description, category, created, "
        "modified) VALUES (?, ?, ?, 'image', ?, ?)",
        (
            tenant_id,
            "Street scenes",
            "Synthetic street photos with DM v2 annotations",
            _ts(0),
            _ts(0),
        ),
    ).lastrowid
    con.execute(
        "INSERT INTO file_specifications (data_collection_id, name, file_type, is_required, "
        "is_primary, configuration, position) VALUES (?, 'image_1', 'image', 1, 1, ?, 0)",
        (cid, dumps({"extensions": [".jpg", ".jpeg", ".png"]})),
    )
    con.execute(
        "INSERT INTO file_specifications (data_collection_id, name, file_type, is_required, "
        "is_primary, function_type, position) VALUES (?, 'meta_json', 'data', 0, 0, "
        "'sub', 1)",
        (cid,),
    )
    upload_cid = con.execute(
        "INSERT INTO data_collections (tenant_id, name, description, category, created, "
        "modified) VALUES (?, ?, ?, 'image', ?, ?)",
        (
            tenant_id,
            "Incoming uploads",
            "Empty collection for the upload notebook",
            _ts(1),
            _ts(1),
        ),
    ).lastrowid
    con.execute(
        "INSERT INTO file_specifications (data_collection_id, name, file_type, is_required, "
        "is_primary, position) VALUES (?, 'image_1', 'image', 1, 1, 0)",
        (upload_cid,),
    )
    return cid, upload_cid


def _project_configuration() -> dict[str, Any]:
    from . import media, problems

    return problems.configure({
        "classes": list(media.CLASSES),
        "tools": ["bounding_box", "polygon", "polyline", "keypoint", "segmentation"],
        "keypoints": list(media.KEYPOINT_NAMES),
        "skeleton": [list(e) for e in media.SKELETON],
    })


def _projects(ctx: _Seeding, cid: int, upload_cid: int) -> tuple[int, int]:
    """Detection and pose projects on the street collection, and the upload sandbox."""
    con, tenant_id = ctx.con, ctx.tenant_id
    configuration = _project_configuration()
    pid = con.execute(
        "INSERT INTO projects (tenant_id, title, description, category, data_collection_id,"
        " configuration, created, modified) VALUES (?, ?, ?, 'image', ?, ?, ?, ?)",
        (
            tenant_id,
            "Street detection",
            "Boxes, polygons and masks on street scenes",
            cid,
            dumps(configuration),
            _ts(2),
            _ts(2),
        ),
    ).lastrowid
    kid = con.execute(
        "INSERT INTO projects (tenant_id, title, description, category, data_collection_id,"
        " configuration, created, modified) VALUES (?, ?, ?, 'image', ?, ?, ?, ?)",
        (
            tenant_id,
            "Pedestrian pose",
            "Keypoint skeletons of pedestrians",
            cid,
            dumps({**configuration, "tools": ["keypoint", "bounding_box"]}),
            _ts(3),
            _ts(3),
        ),
    ).lastrowid
    con.execute(
        "INSERT INTO projects (tenant_id, title, description, category, data_collection_id,"
        " configuration, created, modified) VALUES (?, ?, ?, 'image', ?, ?, ?, ?)",
        (
            tenant_id,
            "Upload sandbox",
            "Tasks created from the upload notebook",
            upload_cid,
            dumps(configuration),
            _ts(4),
            _ts(4),
        ),
    )
    return pid, kid


def _tags(ctx: _Seeding, projects: tuple[int, ...]) -> dict[tuple[int, str], int]:
    con, tenant_id = ctx.con, ctx.tenant_id
    tag_ids = {}
    for project in projects:
        for name, color, description in TAGS:
            tag_ids[(project, name)] = con.execute(
                "INSERT INTO task_tags (tenant_id, project_id, name, color, description, "
                "created) VALUES (?, ?, ?, ?, ?, ?)",
                (tenant_id, project, name, color, description, _ts(5)),
            ).lastrowid
    return tag_ids


def _data_units(ctx: _Seeding, cid: int, items: list[Any], media_dir: Path) -> dict[int, Any]:
    """One data file and one data unit per image; returns unit id -> media item, in order."""
    con, tenant_id, state = ctx.con, ctx.tenant_id, ctx.state
    docs = {}
    for item in items:
        source = media_dir / item.file_name
        checksum = _md5(source)
        rel = f"files/{checksum[:2]}/{checksum}{Path(item.file_name).suffix}"
        _link_or_copy(source, state.store_path(rel))
        stamp = _ts(10 + item.index * 0.5)
        fid = con.execute(
            "INSERT INTO data_files (tenant_id, checksum, file_name, rel_path, size, meta, "
            "created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant_id,
                checksum,
                item.file_name,
                rel,
                source.stat().st_size,
                dumps({"width": item.width, "height": item.height}),
                stamp,
                stamp,
            ),
        ).lastrowid
        files = {
            "image_1": {
                "data_file": fid,
                "checksum": checksum,
                "path": item.file_name,
                "file_name_original": item.file_name,
                "size": source.stat().st_size,
                "file_type": "image",
                "is_primary": True,
                "meta": {"width": item.width, "height": item.height},
            }
        }
        meta = {
            "file_name": item.file_name,
            "width": item.width,
            "height": item.height,
            "classes": list(item.classes_present),
        }
        uid = con.execute(
            "INSERT INTO data_units (tenant_id, data_collection_id, meta, files, created, "
            "modified) VALUES (?, ?, ?, ?, ?, ?)",
            (tenant_id, cid, dumps(meta), dumps(files), stamp, stamp),
        ).lastrowid
        docs[uid] = item
    return docs


def _tasks(
    ctx: _Seeding,
    pid: int,
    kid: int,
    docs: dict[int, Any],
    tag_ids: dict[tuple[int, str], int],
) -> None:
    """A detection task per unit (status, priority, tags, assignment drawn), a pose task
    for each unit showing a person."""
    con, tenant_id, rng = ctx.con, ctx.tenant_id, ctx.rng
    workers = [ctx.user_ids[u] for u in ("alice", "bob", "carol", "dave")]
    for position, uid in enumerate(docs):
        item = docs[uid]
        status = rng.choices([s for s, _ in STATUS_WEIGHTS], [w for _, w in STATUS_WEIGHTS])[0]
        assignee = None if status == "pending" and rng.random() < 0.6 else rng.choice(workers)
        data = item.annotations if status != "pending" else {}
        stamp = _ts(200 + position)
        modified = _ts(200 + position + rng.randint(0, 5000))
        priority = rng.choices(["low", "normal", "high"], [0.2, 0.6, 0.2])[0]
        tid = con.execute(
            "INSERT INTO tasks (tenant_id, project_id, data_unit_id, status, priority, "
            "assignee_id, data, metadata, created, modified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant_id,
                pid,
                uid,
                status,
                priority,
                assignee,
                dumps(data),
                dumps({"file_name": item.file_name, "scene": item.file_name.split("_")[0]}),
                stamp,
                modified,
            ),
        ).lastrowid
        for name, _, _ in TAGS:
            if rng.random() < (0.12 if name != "gold" else 0.05):
                con.execute("INSERT INTO task_tag_links VALUES (?, ?)", (tid, tag_ids[(pid, name)]))
        if assignee is not None:
            label = (
                "completed"
                if status == "completed"
                else rng.choice(("stand_by", "in_progress", "skipped"))
            )
            review = rng.choice(REVIEW_STATES) if label == "completed" else "stand_by"
            con.execute(
                "INSERT INTO assignments (tenant_id, project_id, task_id, user_id, "
                "status_label, status_review, data, created, modified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (tenant_id, pid, tid, assignee, label, review, dumps(data), stamp, modified),
            )
        if "person" in item.classes_present:
            con.execute(
                "INSERT INTO tasks (tenant_id, project_id, data_unit_id, status, priority, "
                "assignee_id, data, metadata, created, modified) "
                "VALUES (?, ?, ?, ?, 'normal', ?, ?, ?, ?, ?)",
                (
                    tenant_id,
                    kid,
                    uid,
                    status,
                    assignee,
                    dumps(data),
                    dumps({"file_name": item.file_name}),
                    stamp,
                    modified,
                ),
            )


PREDICTED_MODELS = (("yolo-v8n", "2.0.0"), ("detr-r50", "1.2.0"), ("rtmdet-s", "0.9.0"))
"""The models of :data:`MODELS` whose predictions on the GT images are kept as datasets."""


def prediction_seed(seed: int, model: int, position: int) -> int:
    """The random-generator seed of the predictions of model ``model`` (its position in
    :data:`PREDICTED_MODELS`, < 16) on the ``position``-th GT image (< 1,000,003): distinct for
    every seed, model and position.

    Example:
        >>> prediction_seed(0, 1, 5), prediction_seed(1, 0, 5)
        (1000008, 16000053)
    """
    return (seed * 16 + model) * 1_000_003 + position


def _ground_truth(ctx: _Seeding, pid: int, docs: dict[int, Any]) -> tuple[int, int]:
    """v1 (as annotated), v2 (reviewed: perturbed) and the predictions of some models."""
    from . import media

    con, tenant_id, seed = ctx.con, ctx.tenant_id, ctx.seed
    unit_ids = list(docs)
    did = con.execute(
        "INSERT INTO ground_truth_datasets (tenant_id, name, description, project_id, "
        "created) VALUES (?, 'Street GT', 'Reviewed street annotations', ?, ?)",
        (tenant_id, pid, _ts(3000)),
    ).lastrowid
    v1 = con.execute(
        "INSERT INTO ground_truth_dataset_versions (dataset_id, version, description, "
        "is_archived, created) VALUES (?, 'v1', 'First review pass', 1, ?)",
        (did, _ts(3001)),
    ).lastrowid
    v2 = con.execute(
        "INSERT INTO ground_truth_dataset_versions (dataset_id, version, description, "
        "created) VALUES (?, 'v2', 'Second pass: fixes and relabels', ?)",
        (did, _ts(4001)),
    ).lastrowid
    gt_units = unit_ids[: int(len(unit_ids) * 0.75)]
    for i, uid in enumerate(gt_units):
        doc = docs[uid].annotations
        con.execute(
            "INSERT INTO ground_truth_events (tenant_id, version_id, data_unit_id, "
            "data, created, modified) VALUES (?, ?, ?, ?, ?, ?)",
            (tenant_id, v1, uid, dumps(doc), _ts(3002 + i), _ts(3002 + i)),
        )
    for i, uid in enumerate(gt_units):
        doc = media.perturb(docs[uid].annotations, seed=seed * 7919 + i)
        con.execute(
            "INSERT INTO ground_truth_events (tenant_id, version_id, data_unit_id, "
            "data, created, modified) VALUES (?, ?, ?, ?, ?, ?)",
            (tenant_id, v2, uid, dumps(doc), _ts(4002 + i), _ts(4002 + i)),
        )
    for k in range(len(PREDICTED_MODELS)):
        _predictions_dataset(ctx, pid, k, [(uid, docs[uid].annotations) for uid in gt_units])
    return v1, v2


def _predictions_dataset(ctx: _Seeding, pid: int, k: int, units: list[tuple[int, dict]]) -> None:
    """The dataset "<model> <version> predictions" (version v1): the model's output per unit."""
    from .predictions import model_predictions, profile_for

    con, tenant_id, seed = ctx.con, ctx.tenant_id, ctx.seed
    name, version = PREDICTED_MODELS[k]
    start = 5000 + 300 * k
    dataset = con.execute(
        "INSERT INTO ground_truth_datasets (tenant_id, name, description, project_id, "
        "created) VALUES (?, ?, 'Model output kept for review', ?, ?)",
        (tenant_id, f"{name} {version} predictions", pid, _ts(start)),
    ).lastrowid
    vid = con.execute(
        "INSERT INTO ground_truth_dataset_versions (dataset_id, version, description, "
        "created) VALUES (?, 'v1', 'Predictions on the GT images', ?)",
        (dataset, _ts(start + 1)),
    ).lastrowid
    profile = profile_for(name)
    con.executemany(
        "INSERT INTO ground_truth_events (tenant_id, version_id, data_unit_id, "
        "data, created, modified) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                tenant_id,
                vid,
                uid,
                dumps(model_predictions(doc, prediction_seed(seed, k, i), profile)),
                _ts(start + 2 + i),
                _ts(start + 2 + i),
            )
            for i, (uid, doc) in enumerate(units)
        ],
    )


def _plugins(ctx: _Seeding) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """The demo plugins, two releases each (archives written to the store)."""
    con, tenant_id, state = ctx.con, ctx.tenant_id, ctx.state
    plugin_ids = {}
    release_ids = {}
    for k, (code, name, category) in enumerate(PLUGINS):
        plugin_ids[code] = con.execute(
            "INSERT INTO plugins (tenant_id, code, name, category, description, created, "
            "modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                tenant_id,
                code,
                name,
                category,
                f"{name} (demo plugin)",
                _ts(6000 + k),
                _ts(6000 + k),
            ),
        ).lastrowid
        for j, version in enumerate(("0.1.0", "0.2.0")):
            archive = _plugin_archive(code, version, category)
            rel = f"releases/{code}-{version}.zip"
            target = state.store_path(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive)
            release_ids[(code, version)] = con.execute(
                "INSERT INTO plugin_releases (plugin_id, version, config, requirements, "
                "debug, rel_path, file_name, created) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    plugin_ids[code],
                    version,
                    dumps(
                        {
                            "code": code,
                            "name": name,
                            "version": version,
                            "category": category,
                            "actions": {"run": {"method": "job"}},
                        }
                    ),
                    dumps(["pillow>=10"]),
                    rel,
                    f"{code}-{version}.zip",
                    _ts(6100 + 10 * k + j),
                ),
            ).lastrowid
    return plugin_ids, release_ids


def _agent(ctx: _Seeding) -> tuple[int, str]:
    con, tenant_id = ctx.con, ctx.tenant_id
    agent_token = secrets.token_hex(20)
    agent_id = con.execute(
        "INSERT INTO agents (tenant_id, name, url, token_hash, token, status, last_seen, "
        "created) VALUES (?, 'local-agent', 'http://127.0.0.1:8001/', ?, ?, 'connected', ?, ?)",
        (tenant_id, hash_token(agent_token), agent_token, _ts(7000), _ts(100)),
    ).lastrowid
    return agent_id, agent_token


JOB_PLAN = (  # plugin code, release, action, status
    ("yolo-trainer", "0.2.0", "train", "SUCCEEDED"),
    ("yolo-trainer", "0.2.0", "train", "FAILED"),
    ("yolo-trainer", "0.1.0", "train", "STOPPED"),
    ("coco-exporter", "0.2.0", "export", "SUCCEEDED"),
    ("coco-exporter", "0.2.0", "export", "RUNNING"),
    ("folder-uploader", "0.1.0", "upload", "SUCCEEDED"),
    ("auto-labeler", "0.2.0", "pre_annotate", "PENDING"),
    ("auto-labeler", "0.2.0", "pre_annotate", "SUCCEEDED"),
)


def _jobs(ctx: _Seeding, pid: int, agent_id: int, release_ids: dict[tuple[str, str], int]) -> None:
    """Jobs in every status, with progress, metrics and console logs."""
    con, tenant_id, rng, user_ids = ctx.con, ctx.tenant_id, ctx.rng, ctx.user_ids
    for seq, (code, version, action, status) in enumerate(JOB_PLAN, start=1):
        job_id = str(_uuid_from(rng))
        created = _ts(8000 + seq * 30)
        steps = {"SUCCEEDED": 10, "FAILED": 6, "STOPPED": 3, "RUNNING": 7, "PENDING": 0}[status]
        progress = {
            "record": {"step": steps, "total": 10},
            "current_progress": {"overall": steps * 10, "step": action},
        }
        metrics = {
            "record": {
                "steps": {
                    str(s): {"loss": round(1.2 / s, 4), "mAP": round(0.05 * s, 3)}
                    for s in range(1, steps + 1)
                }
            }
        }
        con.execute(
            "INSERT INTO jobs (id, seq, tenant_id, plugin_release_id, agent_id, user_id, "
            "action, params, status, progress_record, metrics_record, result, meta, created,"
            " modified, started, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?)",
            (
                job_id,
                seq,
                tenant_id,
                release_ids[(code, version)],
                agent_id,
                user_ids["admin"],
                action,
                dumps({"project": pid, "epochs": 10}),
                status,
                dumps(progress),
                dumps(metrics),
                dumps({"ok": True} if status == "SUCCEEDED" else None),
                dumps({"demo": True}),
                created,
                created,
                None if status == "PENDING" else _ts(8001 + seq * 30),
                _ts(8020 + seq * 30) if status in ("SUCCEEDED", "FAILED", "STOPPED") else None,
            ),
        )
        for s in range(1, steps + 1):
            _job_log(con, job_id, f"[{action}] step {s}/10", "info", action, 8001 + seq * 30 + s)
        if status == "FAILED":
            message = "CUDA out of memory (simulated)"
            _job_log(con, job_id, message, "error", action, 8010 + seq * 30)
        if status == "SUCCEEDED":
            _job_log(con, job_id, "Finished", "success", action, 8015 + seq * 30)


def _job_log(con: Any, job_id: str, message: str, level: str, action: str, at: float) -> None:
    from ..jobs import add_console_log

    entry = {"message": message, "level": level, "step": action, "datetime": _ts(at)}
    add_console_log(con, job_id, entry)


def _models(ctx: _Seeding, pid: int, plugin_id: int, versions: tuple[int, int]) -> None:
    """Models across versions, each with metrics and a checkpoint file."""
    from . import media

    con, tenant_id, rng, state, seed = ctx.con, ctx.tenant_id, ctx.rng, ctx.state, ctx.seed
    classes = list(media.CLASSES)
    v1, v2 = versions
    for k, (name, version, base) in enumerate(MODELS):
        blob = f"checkpoint {name} {version} seed {seed}\n".encode() * 64
        checksum = hashlib.md5(blob).hexdigest()
        rel = f"files/{checksum[:2]}/{checksum}.pt"
        target = state.store_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        fid = con.execute(
            "INSERT INTO data_files (tenant_id, checksum, file_name, rel_path, size, meta, "
            "created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant_id,
                checksum,
                f"{name}-{version}.pt",
                rel,
                len(blob),
                dumps({"kind": "model"}),
                _ts(9000 + k),
                _ts(9000 + k),
            ),
        ).lastrowid
        precision = round(min(0.99, base + 0.18 + rng.uniform(-0.02, 0.02)), 3)
        recall = round(min(0.99, base + 0.10 + rng.uniform(-0.02, 0.02)), 3)
        metrics = {
            "mAP": base,
            "mAP50": round(min(0.99, base + 0.21), 3),
            "precision": precision,
            "recall": recall,
            "f1": round(2 * precision * recall / (precision + recall), 3),
            "latency_ms": round(rng.uniform(4, 40), 1),
            "per_class_AP": {
                c: round(max(0.05, base + rng.uniform(-0.2, 0.15)), 3) for c in classes
            },
        }
        con.execute(
            "INSERT INTO models (tenant_id, name, description, plugin_id, version, "
            "checkpoint, configuration, metrics, project_id, "
            "ground_truth_dataset_version_id, data_file_id, created, modified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant_id,
                name,
                f"{name} trained on Street GT",
                plugin_id,
                version,
                f"{name}-{version}.pt",
                dumps({"input_size": 640, "classes": classes}),
                dumps(metrics),
                pid,
                v1 if k < 3 else v2,
                fid,
                _ts(9000 + k * 60),
                _ts(9000 + k * 60),
            ),
        )


def _storages(ctx: _Seeding) -> None:
    con, tenant_id = ctx.con, ctx.tenant_id
    for name, provider, category, conf, default in STORAGES:
        if provider == "file_system":
            conf = {"location": str(_local_disk(ctx.state, str(conf["location"])))}
        con.execute(
            "INSERT INTO storages (tenant_id, name, category, provider, configuration, "
            "is_default, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tenant_id, name, category, provider, dumps(conf), int(default), _ts(9500)),
        )


def _local_disk(state: Any, name: str) -> Path:
    """The folder ``name`` in the backend's first storage root (created when it can be), so
    the demo's file_system storage is inside the roots its jobs check."""
    folder = Path(state.config.allowed_storage_roots[0]) / name
    with contextlib.suppress(OSError):  # a root it cannot write: the storage's jobs say so
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _uuid_from(rng: random.Random) -> Any:
    import uuid

    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _rotate_agent_token(state: Any) -> str:
    token = secrets.token_hex(20)
    with state.db.write() as con:
        con.execute(
            "UPDATE agents SET token_hash = ?, token = ? WHERE id = (SELECT MIN(id) FROM agents)",
            (hash_token(token), token),
        )
    return token


def _plugin_archive(code: str, version: str, category: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "config.yaml",
            f"name: {code}\ncode: {code}\nversion: {version}\n"
            f"category: {category}\nactions:\n  run:\n    method: job\n",
        )
        zf.writestr("plugin/__init__.py", f'"""{code} {version} (demo plugin)."""\n')
    return buffer.getvalue()


def seed_scale(state: Any, n_tasks: int, *, seed: int = 0) -> int:
    """Bulk-seed a project with ``n_tasks`` tasks (and assignments for a third of them).

    Used by scale tests and benchmarks; 100k tasks take a few seconds. Returns the project id.
    """
    from PIL import Image

    ensure_admin(state)
    rng = random.Random(seed + 1)
    tenant_id = state.ensure_tenant(TENANT)
    admin = state.db.scalar("SELECT id FROM users WHERE username = 'admin'")
    workers = [
        state.ensure_user(u, TENANT, name=n, email=f"{u}@example.com") for u, n, _ in USERS[1:]
    ]
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 160)).save(buffer, "PNG")
    blob = buffer.getvalue()
    checksum = hashlib.md5(blob).hexdigest()
    rel = f"files/{checksum[:2]}/{checksum}.png"
    target = state.store_path(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(blob)
    classes = ("car", "person", "bicycle", "dog", "traffic_light")
    stamp = now()
    with state.db.write() as con:
        cid = con.execute(
            "INSERT INTO data_collections (tenant_id, name, description, category, created, "
            "modified) VALUES (?, ?, 'Bulk-seeded for scale tests', 'image', ?, ?)",
            (tenant_id, f"Scale collection ({n_tasks} tasks)", stamp, stamp),
        ).lastrowid
        con.execute(
            "INSERT INTO file_specifications (data_collection_id, name, file_type, "
            "is_required, is_primary, position) VALUES (?, 'image_1', 'image', 1, 1, 0)",
            (cid,),
        )
        pid = con.execute(
            "INSERT INTO projects (tenant_id, title, description, category, data_collection_id,"
            " configuration, created, modified) VALUES (?, ?, ?, 'image', ?, ?, ?, ?)",
            (
                tenant_id,
                f"Scale project ({n_tasks} tasks)",
                "Bulk-seeded",
                cid,
                dumps({"classes": list(classes)}),
                stamp,
                stamp,
            ),
        ).lastrowid
        fid = con.execute(
            "INSERT INTO data_files (tenant_id, checksum, file_name, rel_path, size, meta, "
            "created, modified) VALUES (?, ?, 'tile.png', ?, ?, '{}', ?, ?)",
            (tenant_id, checksum, rel, len(blob), stamp, stamp),
        ).lastrowid
        n_units = min(n_tasks, 1000)
        unit_rows = []
        for u in range(n_units):
            files = {
                "image_1": {
                    "data_file": fid,
                    "checksum": checksum,
                    "path": f"tile_{u:05d}.png",
                    "file_name_original": "tile.png",
                    "file_type": "image",
                    "is_primary": True,
                }
            }
            unit_rows.append(
                (
                    tenant_id,
                    cid,
                    dumps({"file_name": f"tile_{u:05d}.png"}),
                    dumps(files),
                    stamp,
                    stamp,
                )
            )
        con.executemany(
            "INSERT INTO data_units (tenant_id, data_collection_id, meta, files, "
            "created, modified) VALUES (?, ?, ?, ?, ?, ?)",
            unit_rows,
        )
        first_unit = con.execute(
            "SELECT MIN(id) FROM data_units WHERE data_collection_id = ?", (cid,)
        ).fetchone()[0]
        tag_ids = [
            con.execute(
                "INSERT INTO task_tags (tenant_id, project_id, name, color, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (tenant_id, pid, name, color, stamp),
            ).lastrowid
            for name, color, _ in TAGS
        ]
        first_task = (con.execute("SELECT COALESCE(MAX(id), 0) FROM tasks").fetchone()[0]) + 1
        statuses = ("pending", "in_progress", "completed")

        def task_rows() -> Any:
            for i in range(n_tasks):
                cls = classes[min(int(rng.expovariate(1.2)), len(classes) - 1)]
                x, y = rng.randint(0, 40), rng.randint(0, 30)
                doc = {
                    "classification": {"bounding_box": [cls]},
                    "images": [
                        {
                            "bounding_box": [
                                {
                                    "id": f"b{i:07d}",
                                    "classification": cls,
                                    "attrs": [],
                                    "data": [x, y, rng.randint(4, 20), rng.randint(4, 16)],
                                }
                            ]
                        }
                    ],
                }
                created = (BASE_TIME + timedelta(seconds=i)).isoformat(timespec="microseconds")
                yield (
                    first_task + i,
                    tenant_id,
                    pid,
                    first_unit + i % n_units,
                    statuses[i % 3],
                    rng.choice(workers) if i % 4 else None,
                    dumps(doc),
                    created,
                    created,
                )

        con.executemany(
            "INSERT INTO tasks (id, tenant_id, project_id, data_unit_id, status, assignee_id, "
            "data, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            task_rows(),
        )
        con.executemany(
            "INSERT INTO task_tag_links VALUES (?, ?)",
            ((first_task + i, tag_ids[i % len(tag_ids)]) for i in range(0, n_tasks, 7)),
        )
        con.executemany(
            "INSERT INTO assignments (tenant_id, project_id, task_id, user_id, status_label, "
            "status_review, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    tenant_id,
                    pid,
                    first_task + i,
                    workers[i % len(workers)],
                    LABEL_STATES[i % 4],
                    REVIEW_STATES[i % 5],
                    stamp,
                    stamp,
                )
                for i in range(0, n_tasks, 3)
            ),
        )
    _ = admin
    return pid
