"""DRF page-number pagination: completeness, stable order, absolute links, bounds."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from srv_helpers import check_field_error

from synapse_nb.server import ServerHandle, start


def walk(api, path: str, params: dict) -> tuple[list[dict], list[dict]]:
    """Follow ``next`` verbatim (as both SDKs do); returns (pages, items)."""
    response = api.get(path, params=params)
    pages = []
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        if page["next"] is None:
            break
        response = api.get(page["next"])
    return pages, [item for page in pages for item in page["results"]]


#: rows of the admin's tenant (other tenants' rows exist too: see the isolation tests)
OURS = "tenant_id = (SELECT tenant_id FROM users WHERE username = 'admin')"

#: list endpoint, its params, and the database's view of which ids it must return, in order
LISTINGS = {
    "tasks": (
        "sdk/tasks/",
        {"project": 1},
        "SELECT id FROM tasks WHERE project_id = 1 ORDER BY id",
    ),
    "assignments": (
        "sdk/assignments/",
        {"project": 1},
        "SELECT id FROM assignments WHERE project_id = 1 ORDER BY id",
    ),
    "data units": ("data_units/", {}, f"SELECT id FROM data_units WHERE {OURS} ORDER BY id"),
    "ground-truth events": (
        "sdk/ground_truth_events/",
        {},
        f"SELECT id FROM ground_truth_events WHERE {OURS} ORDER BY id",
    ),
    "ground-truth versions": (
        "ground_truth_dataset_versions/",
        {},
        "SELECT v.id FROM ground_truth_dataset_versions v JOIN ground_truth_datasets d "
        f"ON d.id = v.dataset_id WHERE d.{OURS} ORDER BY v.id",
    ),
    "jobs (newest first)": ("jobs/", {}, f"SELECT id FROM jobs WHERE {OURS} ORDER BY seq DESC"),
    "plugin releases": (
        "plugin_releases/",
        {},
        "SELECT r.id FROM plugin_releases r JOIN plugins p ON p.id = r.plugin_id "
        f"WHERE p.{OURS} ORDER BY r.id",
    ),
    "task tags": ("task_tags/", {}, f"SELECT id FROM task_tags WHERE {OURS} ORDER BY id"),
}


@pytest.fixture(scope="module")
def populated(make, ground_truth) -> None:
    """A few jobs and releases, so their listings span pages too."""
    for _ in range(3):
        make.job()
    return None


@pytest.mark.parametrize("page_size", [1, 2, 7, 50, 149, 150, 1000])
def test_task_pages_return_every_item_exactly_once(page_size, api, server):
    expected = [r[0] for r in server.state.db.all(LISTINGS["tasks"][2])]
    if page_size == 1:
        expected = expected[:40]  # one item per page: a prefix is enough to prove the walk
        params = {"project": 1, "page_size": 1, "id__lte": expected[-1]}
    else:
        params = {"project": 1, "page_size": page_size}
    pages, items = walk(api, "sdk/tasks/", params)
    got = [t["id"] for t in items]
    assert got == expected
    assert len(pages) == -(-len(expected) // page_size)
    assert all(page["count"] == len(expected) for page in pages)
    assert all(len(page["results"]) == page_size for page in pages[:-1])


@pytest.mark.parametrize("name", list(LISTINGS))
@pytest.mark.parametrize("page_size", [2, 3, 100])
def test_every_listing_is_complete_and_ordered(name, page_size, populated, api, server):
    path, params, sql = LISTINGS[name]
    expected = [r[0] for r in server.state.db.all(sql)]
    assert len(expected) >= 2, name
    _, items = walk(api, path, {**params, "page_size": page_size})
    assert [item["id"] for item in items] == expected


def test_order_is_stable_across_walks_and_orderings(api):
    for ordering in (None, "status", "-modified", "priority,-id"):
        params = {"project": 1, "page_size": 13, "ordering": ordering}
        first = [t["id"] for t in walk(api, "sdk/tasks/", params)[1]]
        second = [t["id"] for t in walk(api, "sdk/tasks/", params)[1]]
        assert first == second, ordering
        assert len(set(first)) == len(first) == 150, ordering


def test_next_is_absolute_and_keeps_every_filter(api, server):
    params = {"project": 1, "status": "pending", "page_size": 10, "bogus": "kept"}
    first = api.get("sdk/tasks/", params=params).json()
    link = urlsplit(first["next"])
    assert f"{link.scheme}://{link.netloc}/" == server.url
    assert link.path == "/sdk/tasks/"
    query = parse_qs(link.query)
    assert query == {
        "project": ["1"],
        "status": ["pending"],
        "page_size": ["10"],
        "bogus": ["kept"],
        "page": ["2"],
    }
    assert first["previous"] is None
    second = api.get(first["next"]).json()
    assert all(t["status"] == "pending" for t in second["results"])
    assert parse_qs(urlsplit(second["previous"]).query)["page"] == ["1"]
    _, items = walk(api, "sdk/tasks/", params)
    assert len(items) == first["count"] == 50


def test_repeated_filter_keys_survive_in_next(api):
    params = {"project": 1, "status": ["pending", "completed"], "page_size": 10}
    pages, items = walk(api, "sdk/tasks/", params)
    assert parse_qs(urlsplit(pages[0]["next"]).query)["status"] == ["pending", "completed"]
    assert {t["status"] for t in items} == {"pending", "completed"}
    assert len(items) == pages[0]["count"] == 100


def test_page_past_the_end_is_404(api):
    last = api.get("sdk/tasks/", params={"project": 1, "page_size": 40, "page": 4})
    assert last.status_code == 200 and len(last.json()["results"]) == 30
    assert last.json()["next"] is None
    for page in (5, 10**6, 0, -1):
        response = api.get("sdk/tasks/", params={"project": 1, "page_size": 40, "page": page})
        assert response.status_code == 404, (page, response.text)
        assert response.json() == {"detail": "Invalid page."}


def test_an_empty_listing_has_one_empty_page(api):
    body = api.get("sdk/tasks/", params={"project": 987654321}).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}
    assert api.get("sdk/tasks/", params={"project": 987654321, "page": 2}).status_code == 404


def test_bad_page_params_are_400_not_500(api):
    check_field_error(api.get("sdk/tasks/", params={"page": "two"}), "page", "two")
    check_field_error(api.get("sdk/tasks/", params={"page_size": "many"}), "page_size", "many")
    check_field_error(api.get("sdk/tasks/", params={"page_size": -5}), "page_size")


@pytest.mark.parametrize("path", ["sdk/tasks/", "tasks/", "projects/", "data_units/"])
def test_page_size_zero_is_400_like_negative_ones(path, api):
    for size in (0, "0", -1):
        response = api.get(path, params={"page_size": size})
        message = check_field_error(response, "page_size")[0]
        assert message == f"Ensure this value is greater than 0, got {int(size)}.", message


def test_default_page_size_is_100(api):
    body = api.get("sdk/tasks/", params={"project": 1}).json()
    assert len(body["results"]) == 100
    assert parse_qs(urlsplit(body["next"]).query)["page"] == ["2"]


def test_count_follows_writes_at_once(api, make):
    project = make.project()["id"]
    collection = make.collection()["id"]
    for expected in (1, 2, 3):
        make.task(project, make.data_unit(collection)["id"])
        assert api.get("sdk/tasks/", params={"project": project}).json()["count"] == expected


@pytest.fixture(scope="module")
def big_server() -> Iterator[ServerHandle]:
    """More tasks than the maximum page size."""
    srv = start(tasks=1100)
    try:
        yield srv
    finally:
        srv.stop()


def test_max_page_size_is_enforced(big_server):
    with requests.Session() as api:
        api.headers["Synapse-Access-Token"] = f"Token {big_server.token}"
        url = big_server.url + "sdk/tasks/"
        first = api.get(url, params={"page_size": 5000}).json()
        assert first["count"] == 1100
        assert len(first["results"]) == 1000
        second = api.get(first["next"]).json()
        assert len(second["results"]) == 100 and second["next"] is None
        got = [t["id"] for t in first["results"] + second["results"]]
        assert got == sorted(set(got)) and len(got) == 1100
        # deep pages (id-first lookups) return exactly the rows a plain OFFSET would
        deep = api.get(url, params={"page_size": 7, "page": 150}).json()
        assert [t["id"] for t in deep["results"]] == got[149 * 7 : 150 * 7]
