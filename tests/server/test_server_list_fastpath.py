"""Listing fast paths answer exactly what the general path answers.

Two shortcuts serve listings: an id-ordered page that follows a page served since the last
write starts after that page's last id (keyset) instead of skipping ``OFFSET`` rows, and the
body is written by orjson unless its text could differ from the standard library's. Both
must be invisible on the wire: the same bytes for every filter, ordering and page.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from synapse_nb.server.db import Database
from synapse_nb.server.http import RawJSON, _render_stdlib, render_json

ORDERINGS = ["", "", "id", "-id", "priority", "-status,id", "-created", "modified,-priority"]
STATUSES = ["stand_by", "in_progress", "completed", "skipped"]
PRIORITIES = ["low", "medium", "high"]


class SqlLog:
    """The SQL of every read the backend's database runs while a test watches."""

    def __init__(self, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        read = db.all

        def all_logged(sql: str, params: Any = ()) -> Any:
            self.statements.append(sql)
            return read(sql, params)

        monkeypatch.setattr(db, "all", all_logged)

    def keyset_reads(self) -> int:
        return sum("id > ?" in sql and "OFFSET" not in sql for sql in self.statements)

    def offset_reads(self) -> int:
        return sum("OFFSET" in sql for sql in self.statements)


@pytest.fixture
def sql_log(server, monkeypatch) -> Iterator[SqlLog]:
    yield SqlLog(server.state.db, monkeypatch)


def random_query(rng: random.Random, projects: list[int]) -> dict[str, Any]:
    params: dict[str, Any] = {"page_size": rng.choice([1, 3, 7, 20, 64])}
    if rng.random() < 0.7:
        params["project"] = rng.choice(projects)
    if rng.random() < 0.3:
        params["status"] = ",".join(rng.sample(STATUSES, rng.randint(1, 3)))
    if rng.random() < 0.3:
        params["priority"] = rng.choice(PRIORITIES)
    if rng.random() < 0.2:
        params["id__gt"] = rng.randint(0, 120)
    if rng.random() < 0.2:
        params["is_discarded"] = rng.choice(["true", "false"])
    if rng.random() < 0.2:  # an OR inside the filters: "id > ?" must bind to all of them
        params["search"] = rng.choice(["tile", "png", "1"])
    if rng.random() < 0.2:
        params["expand"] = rng.choice(["data_unit", "tags", "assignee", "data_unit,tags"])
    ordering = rng.choice(ORDERINGS)
    if ordering:
        params["ordering"] = ordering
    return params


def walk_forward(api, path: str, params: dict[str, Any]) -> list[bytes]:
    """Every page in order, each requested by number (as the frame listing does)."""
    bodies, page = [], 1
    while True:
        response = api.get(path, params={**params, "page": page})
        assert response.status_code == 200, response.text
        bodies.append(response.content)
        if response.json()["next"] is None:
            return bodies
        page += 1


def forget_served_pages(make) -> None:
    """Any write makes the backend forget served pages; a new tag changes no task listing."""
    make.tag()


def test_keyset_pages_equal_offset_pages_for_random_queries(api, make, sql_log) -> None:
    rng = random.Random(16)
    found = api.get("projects/", params={"page_size": 1000}).json()["results"]
    scale = [item["id"] for item in found if item["title"].startswith("Scale")]
    assert scale, "the session backend has no bulk-seeded project"
    # the bulk-seeded project (150 tasks) most often, so that most queries span several pages
    projects = scale * 4 + sorted(item["id"] for item in found)[:4]
    keyset_seen = 0
    for _ in range(16):
        params = random_query(rng, projects)
        path = rng.choice(["tasks/", "sdk/tasks/"])
        forget_served_pages(make)
        sql_log.statements.clear()
        forward = walk_forward(api, path, params)
        keyset_seen += sql_log.keyset_reads()
        forget_served_pages(make)
        sql_log.statements.clear()
        backward = [
            api.get(path, params={**params, "page": page}).content
            for page in range(len(forward), 0, -1)
        ]
        assert sql_log.keyset_reads() == 0  # no previous page was served: the general path
        assert backward[::-1] == forward, params
    assert keyset_seen > 0, "no random query took the keyset path"


def test_sequential_id_pages_take_the_keyset_path(api, make, sql_log) -> None:
    forget_served_pages(make)
    sql_log.statements.clear()
    pages = walk_forward(api, "sdk/tasks/", {"page_size": 10})
    assert len(pages) > 3
    assert sql_log.keyset_reads() == len(pages) - 1
    assert sql_log.offset_reads() == 1  # page 1 (OFFSET 0) only


def test_a_write_between_pages_falls_back_to_offset(api, make, sql_log) -> None:
    params = {"page_size": 2}
    forget_served_pages(make)
    first = api.get("sdk/tasks/", params={**params, "page": 1}).json()
    assert first["next"] is not None
    forget_served_pages(make)
    sql_log.statements.clear()
    second = api.get("sdk/tasks/", params={**params, "page": 2})
    assert second.status_code == 200
    assert sql_log.keyset_reads() == 0
    assert sql_log.offset_reads() == 1
    assert second.json()["results"][0]["id"] > first["results"][-1]["id"]


def test_other_orderings_never_take_the_keyset_path(api, make, sql_log) -> None:
    forget_served_pages(make)
    sql_log.statements.clear()
    pages = walk_forward(api, "sdk/tasks/", {"page_size": 25, "ordering": "-id"})
    assert len(pages) > 1
    assert sql_log.keyset_reads() == 0


@pytest.mark.parametrize(
    "value",
    [
        {"loss": 1e-05, "tiny": 2.5e-07, "big": 1e16, "x": [0.1, -0.0, 123.456]},
        {"name": "image-1e-5.png", "n": 0.00001, "ok": "é\u2028\x00\x7f"},
        {1: "int key", "data": RawJSON('{"a":[1e-07,2]}')},
        [2**70, -(2**64), True, None],
        {"data": RawJSON('{"é":"\\u0000"}'), "f": 1.5e-300},
        1e-07,
        -3e-05,
    ],
)
def test_render_json_matches_the_stdlib_byte_for_byte(value: Any) -> None:
    assert render_json(value) == _render_stdlib(value)


def test_render_json_matches_the_stdlib_for_random_floats() -> None:
    rng = random.Random(7)
    values = [rng.uniform(-1, 1) * 10.0 ** rng.randint(-15, 25) for _ in range(5000)]
    assert render_json({"v": values}) == _render_stdlib({"v": values})
    assert json.loads(render_json(values)) == values
