"""Id-ordered listings start each page from the nearest page boundary served before it.

Pages asked for in any order (a client prefetching concurrently) must skip only the rows
between a known boundary (or the listing's end) and the page, and answer the same bytes
whatever was asked before them.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from synapse_nb.server.marks import PageMarks

SKIP = re.compile(r"LIMIT \? OFFSET \?$")


class SkipLog:
    """The ``OFFSET`` of every id skip the backend's database runs while a test watches."""

    def __init__(self, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offsets: list[int] = []
        read = db.all

        def all_logged(sql: str, params: Any = ()) -> Any:
            params = list(params)
            if SKIP.search(sql) and params[-1]:
                self.offsets.append(params[-1])
            return read(sql, params)

        monkeypatch.setattr(db, "all", all_logged)


def forget_served_pages(make) -> None:
    make.tag()  # any write; a new tag changes no task listing


def pages(api, params: dict[str, Any], order: list[int]) -> dict[int, bytes]:
    out = {}
    for page in order:
        response = api.get("sdk/tasks/", params={**params, "page": page})
        assert response.status_code == 200, response.text
        out[page] = response.content
    return out


def test_pages_in_any_order_skip_only_the_gap_and_match_pages_asked_alone(
    api, make, server, monkeypatch
) -> None:
    params = {"page_size": 7}
    count = api.get("sdk/tasks/", params={"page_size": 1}).json()["count"]
    last = -(-count // 7)
    assert last >= 12, "the session backend has too few tasks for this test"
    forget_served_pages(make)
    # one page at a time after a write: nothing known about the listing
    alone = {}
    for page in range(1, last + 1):
        forget_served_pages(make)
        alone.update(pages(api, params, [page]))
    forget_served_pages(make)
    log = SkipLog(server.state.db, monkeypatch)
    order = list(range(1, last + 1))
    random.Random(16).shuffle(order)
    served = pages(api, params, order)
    assert served == alone
    tenant = server.state.db.scalar("SELECT tenant_id FROM users WHERE username = 'admin'")
    ids = [
        r[0]
        for r in server.state.db.all(
            "SELECT id FROM tasks WHERE tenant_id = ? ORDER BY id", [tenant]
        )
    ]
    for page, body in alone.items():
        assert [item["id"] for item in json.loads(body)["results"]] == ids[(page - 1) * 7 :][:7]
    # each skip starts at the closest boundary below, or at the end when that is closer
    seen: list[int] = []
    expected = []
    for page in order:
        below = [p for p in seen if p < page]
        gap = (page - 1 - max(below)) * 7 if below else (page - 1) * 7
        behind = max(0, count - page * 7)
        skip = behind if behind < gap else gap
        if skip:
            expected.append(skip)
        seen.append(page)
    assert log.offsets == expected
    assert max(expected) < (last - 1) * 7 // 2  # never more than half the listing


def test_a_page_right_after_a_served_one_of_another_size_skips_nothing(
    api, make, server, monkeypatch
) -> None:
    forget_served_pages(make)
    first = api.get("sdk/tasks/", params={"page_size": 10, "page": 1}).json()["results"]
    log = SkipLog(server.state.db, monkeypatch)
    # rows 10..14: page 3 of 5 starts where page 1 of 10 ended
    third = api.get("sdk/tasks/", params={"page_size": 5, "page": 3}).json()["results"]
    assert log.offsets == []
    assert third[0]["id"] > first[-1]["id"]
    forget_served_pages(make)
    assert api.get("sdk/tasks/", params={"page_size": 5, "page": 3}).json()["results"] == third
    assert log.offsets == [10]


def test_page_marks_stay_bounded() -> None:
    marks = PageMarks(max_listings=3, max_marks=50)
    for listing in range(10):
        marks.add(listing, 0, [(rank, rank * 2) for rank in range(0, 10_000, 100)])
    assert len(marks) <= 3 * 50
    assert marks.nearest(0, 0, 500) == (0, None)  # the oldest listings were dropped
    rank, after = marks.nearest(9, 0, 9_950)
    assert rank == 9_900 and after == 19_800


def test_a_write_while_a_page_is_read_leaves_no_boundary_behind(api, make, server, monkeypatch):
    # the write lands right after the page's count, as another request's could: the page is
    # placed from that count, so nothing it read may be remembered for later pages
    project = make.project()
    unit = make.data_unit(make.collection()["id"])
    victim = make.task(project["id"], unit["id"])["id"]
    db = server.state.db
    tenant = db.scalar("SELECT tenant_id FROM users WHERE username = 'admin'")

    def ids() -> list[int]:
        rows = db.all("SELECT id FROM tasks WHERE tenant_id = ? ORDER BY id", [tenant])
        return [r[0] for r in rows]

    size = 5
    last = -(-len(ids()) // size)
    forget_served_pages(make)
    count = db.count

    def count_then_write(sql: str, params: Any = ()) -> int:
        total = count(sql, params)
        if "FROM tasks" in sql and not fired:
            fired.append(sql)
            with db.write() as con:
                con.execute("DELETE FROM tasks WHERE id = ?", (victim,))
        return total

    fired: list[str] = []
    monkeypatch.setattr(db, "count", count_then_write)
    api.get("sdk/tasks/", params={"page_size": size, "page": last - 1})  # read backwards
    monkeypatch.setattr(db, "count", count)
    assert fired
    now = ids()
    assert victim not in now
    walked: list[int] = []
    for page in [last - 1, last, *range(1, last)]:  # no write from here on
        body = api.get("sdk/tasks/", params={"page_size": size, "page": page})
        if page == last and body.status_code == 404:  # the listing lost its last page
            continue
        got = [item["id"] for item in body.json()["results"]]
        assert got == now[(page - 1) * size :][:size], page
        walked += got
    assert set(walked) == set(now)


def test_page_marks_of_all_listings_together_stay_under_their_cap() -> None:
    marks = PageMarks(max_listings=100, max_marks=1_000, max_total=2_500)
    for listing in range(10):
        marks.add(listing, 0, [(rank, rank) for rank in range(0, 100_000, 100)])  # 1,000 each
        assert len(marks) <= 2_500
    assert marks.nearest(9, 0, 500) == (500, 500)  # the newest listing is kept
    assert marks.nearest(0, 0, 500) == (0, None)
    marks.clear()
    assert len(marks) == 0
    marks.add(1, 1, [(5, 5)])
    assert len(marks) == 1
