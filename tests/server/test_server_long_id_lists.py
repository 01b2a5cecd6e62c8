"""Request lists of any length: more values than SQLite binds in one statement are no 5xx.

A bulk body (tasks, data units) or an id list (``set_tags``, a task's tags, checksums) is
looked up with ``IN (...)``; SQLite caps the parameters of a statement (250,000 in some
builds, 32,766 in its default build since 3.32, 999 before). Past the cap a request answered
500 "too many SQL variables", a bulk create only after its tasks were written. Every request
here goes over that cap and must answer 2xx, or a 4xx naming the field with nothing written.

``default_build`` is a backend whose connections allow 32,766 parameters (SQLite's
``setlimit``, as a default build does); ``big`` binds only 2,000 and holds 2,001 tasks, so
the long lists of its tests are long for it at a small cost (the code paths are those of
lists past any build's cap: a long list is never bound value by value).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests
from demo_backends import ApiSession, running, token_headers
from srv_helpers import check_field_error

from synapse_nb.server import ServerHandle
from synapse_nb.server.db import now

#: parameters per statement of SQLite's default build since 3.32
DEFAULT_BUILD_LIMIT = 32_766
#: parameters per statement of the ``big`` backend's connections
SMALL_BUILD_LIMIT = 2_000
#: one value more than the ``big`` backend binds in one statement
ABOVE_THIS_BUILD = SMALL_BUILD_LIMIT + 1
#: one past an id that exists
UNKNOWN = 10**9


def lower_variable_limit(srv: ServerHandle, limit: int) -> None:
    """Every connection of ``srv``'s database, open or opened later, binds ``limit`` at most."""
    db = srv.state.db
    connect = db._connect

    def limited() -> sqlite3.Connection:
        con = connect()
        con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        return con

    db._connect = limited
    for con in list(db._connections):
        con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)


@pytest.fixture(scope="module")
def default_build() -> Iterator[ServerHandle]:
    """A backend whose SQLite binds 32,766 parameters per statement, as SQLite's default."""
    with running(tasks=10) as srv:
        lower_variable_limit(srv, DEFAULT_BUILD_LIMIT)
        with pytest.raises(sqlite3.OperationalError, match="too many SQL variables"):
            srv.state.db.all(f"SELECT {','.join('?' * (DEFAULT_BUILD_LIMIT + 1))}", [1] * 32_767)
        yield srv


@pytest.fixture(scope="module")
def big() -> Iterator[ServerHandle]:
    """A backend binding 2,000 parameters per statement, with 2,001 tasks in project 1."""
    with running(tasks=ABOVE_THIS_BUILD) as srv:
        lower_variable_limit(srv, SMALL_BUILD_LIMIT)
        with pytest.raises(sqlite3.OperationalError, match="too many SQL variables"):
            srv.state.db.all(f"SELECT {','.join('?' * ABOVE_THIS_BUILD)}", [1] * ABOVE_THIS_BUILD)
        yield srv


def session(srv: ServerHandle) -> ApiSession:
    api = ApiSession(srv.url, token_headers(srv.token))
    api.headers["Content-Type"] = "application/json"
    return api


def post(srv: ServerHandle, path: str, body: Any, **kwargs: Any) -> requests.Response:
    with session(srv) as api:
        return api.post(path, data=orjson.dumps(body), timeout=120, **kwargs)


def count(srv: ServerHandle, sql: str, *params: Any) -> Any:
    return srv.state.db.scalar(sql, params)


# --------------------------------------------------------------------------- bulk creates


def check_created(srv: ServerHandle, response: requests.Response, n: int) -> None:
    """A 201 listing ``n`` new tasks of project 1 and data unit 1, each of them stored."""
    assert response.status_code == 201, response.text[:500]
    created = orjson.loads(response.content)
    assert len(created) == n
    ids = [t["id"] for t in created]
    assert ids == sorted(set(ids))
    assert {(t["project"], t["data_unit"]) for t in created} == {(1, 1)}
    stored = count(srv, "SELECT COUNT(*) FROM tasks WHERE id BETWEEN ? AND ?", ids[0], ids[-1])
    assert stored == n


@pytest.mark.parametrize("shape", ["list", "project and data"])
def test_bulk_create_of_more_tasks_than_the_default_build_binds(default_build, shape):
    n = DEFAULT_BUILD_LIMIT + 7_234  # 40,000
    items = [{"project": 1, "data_unit": 1}] * n
    body = items if shape == "list" else {"project": 1, "data": [{"data_unit": 1}] * n}
    check_created(default_build, post(default_build, "tasks/", body), n)


def test_bulk_create_of_more_tasks_than_this_build_binds(big):
    n = ABOVE_THIS_BUILD
    check_created(big, post(big, "tasks/", [{"project": 1, "data_unit": 1}] * n), n)


@pytest.mark.parametrize("field", ["project", "data_unit", "assignee"])
def test_bulk_create_with_unknown_references_creates_nothing(default_build, field):
    before = count(default_build, "SELECT COUNT(*) FROM tasks")
    n = DEFAULT_BUILD_LIMIT + 1
    items = [{"project": 1, "data_unit": 1} | {field: UNKNOWN + i} for i in range(n)]
    check_field_error(post(default_build, "tasks/", items), field, UNKNOWN)
    assert count(default_build, "SELECT COUNT(*) FROM tasks") == before


def test_bulk_create_with_too_many_unknown_assignees_to_bind_creates_nothing(big):
    before = count(big, "SELECT COUNT(*) FROM tasks")
    items = [
        {"project": 1, "data_unit": 1, "assignee": UNKNOWN + i} for i in range(ABOVE_THIS_BUILD)
    ]
    check_field_error(post(big, "tasks/", items), "assignee", UNKNOWN)
    assert count(big, "SELECT COUNT(*) FROM tasks") == before


def units_of_project_1(srv: ServerHandle) -> dict[int, dict]:
    """Data unit id -> its stored files, for every unit of project 1's data collection."""
    collection = count(srv, "SELECT data_collection_id FROM projects WHERE id = 1")
    rows = srv.state.db.all(
        "SELECT id, files FROM data_units WHERE data_collection_id = ? ORDER BY id", [collection]
    )
    return {r["id"]: orjson.loads(r["files"]) for r in rows}


@pytest.fixture(scope="module")
def many_units(big) -> dict[int, dict]:
    """Project 1's data units, made more than ``big`` binds (its 2,001 tasks share 1,000)."""
    units = units_of_project_1(big)
    missing = ABOVE_THIS_BUILD - len(units)
    if missing > 0:
        collection = count(big, "SELECT data_collection_id FROM projects WHERE id = 1")
        checksum = count(big, "SELECT checksum FROM data_files ORDER BY id LIMIT 1")
        body = [{"data_collection": collection, "files": {"image_1": checksum}}] * missing
        response = post(big, "data_units/", body)
        assert response.status_code == 201, response.text[:500]
        units = units_of_project_1(big)
    assert len(units) >= ABOVE_THIS_BUILD
    return units


def shown_files(stored: dict) -> dict:
    """What a task shows of its unit's stored files, less the signed URL."""
    return {
        spec: {k: v for k, v in info.items() if k not in ("data_file", "rel_path")}
        for spec, info in stored.items()
    }


def test_bulk_create_on_more_distinct_data_units_than_this_build_binds(big, many_units):
    # every unit distinct: the unit lists of the reference, collection and files checks are
    # longer than the build binds (a repeated unit is de-duplicated to a list of one)
    units = many_units
    response = post(big, "tasks/", [{"project": 1, "data_unit": u} for u in units])
    assert response.status_code == 201, response.text[:500]
    created = orjson.loads(response.content)
    assert [t["data_unit"] for t in created] == list(units)
    assert {t["project"] for t in created} == {1} and all(t["files"] for t in created)
    for task in created:
        stored = units[task["data_unit"]]
        assert {
            s: {k: v for k, v in f.items() if k != "url"} for s, f in task["files"].items()
        } == shown_files(stored), task["id"]
        assert all("url" in task["files"][s] for s, f in stored.items() if "data_file" in f)
    ids = [t["id"] for t in created]
    assert ids == sorted(set(ids))
    rows = big.state.db.all(
        "SELECT id, data_unit_id FROM tasks WHERE id BETWEEN ? AND ? ORDER BY id",
        [ids[0], ids[-1]],
    )
    assert [(r["id"], r["data_unit_id"]) for r in rows] == list(zip(ids, units, strict=True))


def test_bulk_create_with_one_unit_of_another_collection_among_too_many_creates_nothing(
    big, many_units
):
    units = list(many_units)
    checksum = count(big, "SELECT checksum FROM data_files ORDER BY id LIMIT 1")
    spec = {"name": "image_1", "file_type": "image", "is_primary": True}
    other = post(big, "data_collections/", {"name": "another", "file_specifications": [spec]})
    assert other.status_code == 201, other.text[:500]
    body = {"data_collection": other.json()["id"], "files": {"image_1": checksum}}
    stray = post(big, "data_units/", body)
    assert stray.status_code == 201, stray.text[:500]
    stray_id = stray.json()["id"]
    assert stray_id not in units
    before = count(big, "SELECT COUNT(*) FROM tasks")
    items = [{"project": 1, "data_unit": u} for u in units]
    items.insert(len(items) // 2, {"project": 1, "data_unit": stray_id})
    message = check_field_error(post(big, "tasks/", items), "data_unit", stray_id)[0]
    assert message.startswith(f'[{len(units) // 2}]: Invalid pk "{stray_id}"'), message
    assert count(big, "SELECT COUNT(*) FROM tasks") == before


def test_bulk_create_of_more_data_units_than_the_default_build_binds(default_build):
    srv = default_build
    collection = count(srv, "SELECT data_collection_id FROM projects WHERE id = 1")
    checksum = count(srv, "SELECT checksum FROM data_files ORDER BY id LIMIT 1")
    n = DEFAULT_BUILD_LIMIT + 1
    body = [{"data_collection": collection, "files": {"image_1": checksum}}] * n
    response = post(srv, "data_units/", body)
    assert response.status_code == 201, response.text[:500]
    ids = [u["id"] for u in orjson.loads(response.content)]
    assert len(ids) == n
    assert ids == sorted(set(ids))
    assert count(srv, "SELECT COUNT(*) FROM data_units WHERE id >= ?", ids[0]) == n


# --------------------------------------------------------------------------- id lists

#: set_tags route -> (table, link table, owner column)
SET_TAGS = {
    "tasks/set_tags/": ("tasks", "task_tag_links", "task_id"),
    "assignments/set_tags/": ("assignments", "assignment_tag_links", "assignment_id"),
}


@pytest.fixture(scope="module")
def owners(big) -> dict[str, list[int]]:
    """set_tags route -> 2,001 ids it may tag (assignments have no create endpoint)."""
    tenant = count(big, "SELECT tenant_id FROM users WHERE username = 'admin'")
    stamp = now()
    with big.state.db.write() as con:
        first = con.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM assignments").fetchone()[0]
        con.executemany(
            "INSERT INTO assignments (id, tenant_id, project_id, task_id, created, modified) "
            "VALUES (?, ?, 1, ?, ?, ?)",
            ((first + i, tenant, 1 + i, stamp, stamp) for i in range(ABOVE_THIS_BUILD)),
        )
    return {
        "tasks/set_tags/": list(range(1, ABOVE_THIS_BUILD + 1)),
        "assignments/set_tags/": list(range(first, first + ABOVE_THIS_BUILD)),
    }


@pytest.fixture(scope="module")
def tags(big) -> list[int]:
    with session(big) as api:
        made = [api.post("task_tags/", json={"name": f"long-{i}", "project": 1}) for i in (1, 2)]
    assert all(r.status_code == 201 for r in made), [r.text for r in made]
    return [r.json()["id"] for r in made]


def links_state(srv: ServerHandle, route: str, ids: list[int]) -> tuple:
    """What a set_tags call over ``ids`` may change: their links and modification times."""
    table, link, owner = SET_TAGS[route]
    span = (ids[0], ids[-1])
    return (
        srv.state.db.one(
            f"SELECT COUNT(*), TOTAL(tag_id), MIN(tag_id), MAX(tag_id) FROM {link} "
            f"WHERE {owner} BETWEEN ? AND ?",
            span,
        )[:],
        count(srv, f"SELECT MAX(modified) FROM {table} WHERE id BETWEEN ? AND ?", *span),
    )


@pytest.mark.parametrize("route", SET_TAGS)
def test_set_tags_on_more_objects_than_the_build_binds(big, owners, tags, route):
    ids = owners[route]
    for tag in tags:  # the second call replaces the first's tag on every object
        response = post(big, route, {"ids": ids, "tags": [tag]}, params={"replace": "true"})
        assert response.status_code == 200, response.text[:500]
        assert response.json()["updated"] == len(ids)
        links, _ = links_state(big, route, ids)
        assert links == (len(ids), float(tag * len(ids)), tag, tag)
    response = post(big, route, {"ids": ids, "tags": tags[-1:], "action": "remove"})
    assert response.status_code == 200, response.text[:500]
    assert links_state(big, route, ids)[0][0] == 0


@pytest.mark.parametrize("route", SET_TAGS)
def test_set_tags_with_one_unknown_id_among_too_many_changes_nothing(big, owners, tags, route):
    ids = owners[route]
    response = post(big, route, {"ids": ids, "tags": tags[:1]}, params={"replace": "true"})
    assert response.status_code == 200, response.text[:500]
    before = links_state(big, route, ids)
    for params in ({"replace": "true"}, {}):
        body = {"ids": [*ids, UNKNOWN], "tags": tags[1:]}
        check_field_error(post(big, route, body, params=params), "ids", UNKNOWN)
        assert links_state(big, route, ids) == before


@pytest.mark.parametrize("route", SET_TAGS)
def test_set_tags_with_too_many_unknown_ids_or_tags_to_bind(big, owners, tags, route):
    ids = owners[route]
    before = links_state(big, route, ids)
    unknown = list(range(UNKNOWN, UNKNOWN + ABOVE_THIS_BUILD))
    check_field_error(post(big, route, {"ids": unknown, "tags": tags}), "ids", UNKNOWN)
    check_field_error(post(big, route, {"ids": ids[:2], "tags": unknown}), "tags", UNKNOWN)
    assert links_state(big, route, ids) == before


def test_task_update_with_too_many_unknown_tags_to_bind_changes_nothing(big, tags):
    with session(big) as api:
        task = api.patch("tasks/7/", json={"tags": tags[:1]}).json()
        unknown = list(range(UNKNOWN, UNKNOWN + ABOVE_THIS_BUILD))
        response = api.patch("tasks/7/", data=orjson.dumps({"tags": [*tags, *unknown]}))
        check_field_error(response, "tags", UNKNOWN)
        assert api.get("tasks/7/").json() == task


def test_verify_checksums_of_more_values_than_the_build_binds(big):
    known = big.state.db.scalar("SELECT checksum FROM data_files")
    checksums = [f"{i:032x}" for i in range(ABOVE_THIS_BUILD - 1)]
    checksums.insert(len(checksums) // 2, known)
    response = post(big, "data_files/verify_checksums/", {"checksums": checksums})
    assert response.status_code == 200, response.text[:500]
    assert response.json() == {"existing_checksums": [known]}


# --------------------------------------------------------------------------- query filters


def test_filters_of_more_values_than_the_default_build_binds(default_build):
    """A query string holds some 30,000 values at most (the server refuses a longer request
    line), but the jobs' ``plugin`` filter binds each value twice."""
    with session(default_build) as api:
        refs = ",".join(["x"] * (DEFAULT_BUILD_LIMIT // 2) + ["y"])
        response = api.get(f"jobs/?plugin={refs}")
        assert response.status_code == 200, response.text[:500]
        assert response.json()["count"] == 0
        ids = ",".join(["1"] * 20_000 + ["3"])
        response = api.get(f"tasks/?id={ids}&page_size=10")
        assert response.status_code == 200, response.text[:500]
        assert [t["id"] for t in response.json()["results"]] == [1, 3]
