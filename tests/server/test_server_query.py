"""Query handling: slashes, unknown params, booleans, lists, fields/omit/expand and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from srv_helpers import OPERATIONS, check_field_error, concrete, unique

from synapse_nb.server import start

#: the scale project bulk-seeded by the session server
SEEDED_PROJECT = 1
#: the scale seeding creates task i at this instant plus i seconds
SEED_EPOCH = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded_tasks(api) -> list[dict]:
    body = api.get("sdk/tasks/", params={"project": SEEDED_PROJECT, "page_size": 1000}).json()
    assert body["next"] is None and body["count"] == len(body["results"]) > 100
    return body["results"]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["results"]]


# ------------------------------------------------------------------ trailing slashes


@pytest.mark.parametrize(
    ("method", "path"), OPERATIONS, ids=[f"{m} {p.rstrip('/')}" for m, p in OPERATIONS]
)
def test_slashless_twin_is_served_without_redirect(method, path, anon):
    """Auth runs inside the route: a 401 proves the slash-less path reached it directly."""
    response = anon.request(method, concrete(path).rstrip("/"), allow_redirects=False)
    assert response.status_code == 401, (response.status_code, response.text)


def test_slashless_writes_keep_their_method(api, make):
    title = unique("slashless")
    response = api.post("projects", json={"title": title}, allow_redirects=False)
    assert response.status_code == 201, response.text
    project = response.json()["id"]
    assert api.get(f"projects/{project}", allow_redirects=False).json()["title"] == title
    unit = make.data_unit(make.collection()["id"])["id"]
    task = make.task(project, unit)["id"]
    response = api.patch(f"tasks/{task}", json={"priority": "low"}, allow_redirects=False)
    assert response.status_code == 200 and response.json()["priority"] == "low"
    response = api.put(f"tasks/{task}/annotate_task_data", json={"k": 1}, allow_redirects=False)
    assert response.status_code == 200 and response.json()["data"] == {"k": 1}


def test_slash_and_slashless_answer_the_same(api):
    bare = api.get("sdk/tasks?page_size=3").json()
    slashed = api.get("sdk/tasks/?page_size=3").json()
    assert bare["results"] == slashed["results"] and bare["count"] == slashed["count"]
    # each next link keeps the caller's own path form, and both lead to the same page
    assert api.get(bare["next"]).json()["results"] == api.get(slashed["next"]).json()["results"]


# ------------------------------------------------------------------ tolerance


def test_unknown_query_params_are_ignored(api):
    plain = api.get("sdk/tasks/", params={"project": SEEDED_PROJECT, "page_size": 5}).json()
    noisy = api.get(
        "sdk/tasks/",
        params={
            "project": SEEDED_PROJECT,
            "page_size": 5,
            "bogus": "1",
            "workshop": "7",
            "pagination": "cursor",
            "response_mode": "raw",
            "url_host": "example.org",
        },
    ).json()
    assert [t["id"] for t in noisy["results"]] == [t["id"] for t in plain["results"]]
    assert noisy["count"] == plain["count"]


def test_unknown_expand_values_are_ignored(api):
    response = api.get("sdk/tasks/", params={"page_size": 2, "expand": "nonsense,metrics"})
    assert response.status_code == 200
    assert isinstance(response.json()["results"][0]["data_unit"], int)


def test_booleans_parse_case_insensitively(api, make):
    project = make.project()["id"]
    collection = make.collection()["id"]
    kept, dropped = (make.task(project, make.data_unit(collection)["id"])["id"] for _ in range(2))
    assert api.patch(f"tasks/{dropped}/", json={"is_discarded": "TRUE"}).json()["is_discarded"]
    for truthy in ("true", "True", "TRUE", "1", "yes"):
        got = ids(api.get("sdk/tasks/", params={"project": project, "is_discarded": truthy}))
        assert got == [dropped], truthy
    for falsy in ("false", "False", "0", "no"):
        got = ids(api.get("sdk/tasks/", params={"project": project, "is_discarded": falsy}))
        assert got == [kept], falsy
    response = api.get("sdk/tasks/", params={"is_discarded": "maybe"})
    check_field_error(response, "is_discarded", "maybe")


def test_repeated_keys_and_comma_lists_are_the_same(api, seeded_tasks):
    wanted = {"pending", "completed"}
    expected = [t["id"] for t in seeded_tasks if t["status"] in wanted]
    assert 0 < len(expected) < len(seeded_tasks)
    base = {"project": SEEDED_PROJECT, "page_size": 1000}
    repeated = api.get("sdk/tasks/", params={**base, "status": ["pending", "completed"]})
    comma = api.get("sdk/tasks/", params={**base, "status": "pending,completed"})
    mixed = api.get("sdk/tasks/?status=pending,&status=COMPLETED", params=base)
    assert ids(repeated) == ids(comma) == ids(mixed) == expected


# ------------------------------------------------------------------ fields / omit / expand


def test_fields_and_omit_on_lists_and_details(api):
    listed = api.get("sdk/tasks/", params={"page_size": 3, "fields": "id,status"}).json()
    assert all(set(t) == {"id", "status"} for t in listed["results"])
    listed = api.get("sdk/tasks/", params={"page_size": 3, "fields": ["id", "project"]}).json()
    assert all(set(t) == {"id", "project"} for t in listed["results"])
    omitted = api.get("sdk/tasks/", params={"page_size": 3, "omit": "data,files"}).json()
    assert all("data" not in t and "files" not in t and "id" in t for t in omitted["results"])
    task = omitted["results"][0]["id"]
    assert set(api.get(f"tasks/{task}/", params={"fields": "id,data"}).json()) == {"id", "data"}
    detail = api.get(f"projects/{SEEDED_PROJECT}/", params={"omit": "configuration"}).json()
    assert "configuration" not in detail and detail["id"] == SEEDED_PROJECT


def test_expand_on_tasks(api, seeded_tasks):
    task = next(t for t in seeded_tasks if t["assignee"] is not None and t["tags"])
    plain = api.get(f"tasks/{task['id']}/").json()
    assert isinstance(plain["data_unit"], int) and isinstance(plain["assignee"], int)
    expanded = api.get(
        f"tasks/{task['id']}/", params={"expand": ["data_unit", "assignee", "tags"]}
    ).json()
    unit = expanded["data_unit"]
    assert unit["id"] == plain["data_unit"]
    image = unit["files"]["image_1"]
    assert image["url"].startswith("http://127.0.0.1:") and image["is_primary"] is True
    assert expanded["assignee"]["id"] == plain["assignee"]
    assert {"username", "name"} <= set(expanded["assignee"])
    assert [t["id"] for t in expanded["tags"]] == plain["tags"]
    assert all({"name", "color"} <= set(t) for t in expanded["tags"])


def test_expand_file_specifications_inside_the_path(api, make):
    collection = make.collection()["id"]
    plain = api.get(f"data_collections/{collection}/").json()
    assert all(isinstance(s, int) for s in plain["file_specifications"])
    # The 2025 Synapse SDK puts the query in the path string; it is the same URL on the wire
    expanded = api.get(f"data_collections/{collection}/?expand=file_specifications").json()
    specs = expanded["file_specifications"]
    assert [s["name"] for s in specs] == ["image_1", "meta_json"]
    keys = {"id", "name", "file_type", "is_required", "is_primary", "is_sequential"}
    assert all(keys | {"function_type", "configuration"} <= set(s) for s in specs)


def test_expand_plugin_on_releases_and_logs_on_jobs(api, make):
    plugin = make.plugin()
    release = make.release(plugin)
    expanded = api.get(f"plugin_releases/{release['id']}/", params={"expand": "plugin"}).json()
    assert expanded["plugin"]["code"] == plugin["code"]
    assert "manifest" in expanded["plugin"]
    job = api.post(f"plugins/{plugin['id']}/run/", json={}).json()["id"]
    api.patch(f"jobs/{job}/", json={"console_logs": [{"message": "first line"}]})
    detail = api.get(f"jobs/{job}/", params={"expand": "logs"}).json()
    assert "first line" in [entry["message"] for entry in detail["logs"]]
    assert "logs" not in api.get(f"jobs/{job}/").json()


# ------------------------------------------------------------------ filters


def test_filter_by_project(api, make):
    project = make.project()["id"]
    collection = make.collection()["id"]
    mine = [make.task(project, make.data_unit(collection)["id"])["id"] for _ in range(3)]
    assert ids(api.get("sdk/tasks/", params={"project": project})) == mine
    assert ids(api.get("tasks/", params={"project": project})) == mine


@pytest.mark.parametrize("status", ["pending", "in_progress", "completed", "COMPLETED"])
def test_filter_by_status(status, api, seeded_tasks):
    expected = [t["id"] for t in seeded_tasks if t["status"] == status.lower()]
    assert expected
    got = api.get(
        "sdk/tasks/", params={"project": SEEDED_PROJECT, "status": status, "page_size": 1000}
    )
    assert ids(got) == expected


def test_filter_by_assignee(api, seeded_tasks):
    assignee = next(t["assignee"] for t in seeded_tasks if t["assignee"])
    base = {"project": SEEDED_PROJECT, "page_size": 1000}
    expected = [t["id"] for t in seeded_tasks if t["assignee"] == assignee]
    assert ids(api.get("sdk/tasks/", params={**base, "assignee": assignee})) == expected
    unassigned = [t["id"] for t in seeded_tasks if t["assignee"] is None]
    assert unassigned
    assert ids(api.get("sdk/tasks/", params={**base, "assignee": "null"})) == unassigned
    check_field_error(api.get("sdk/tasks/", params={"assignee": "bob"}), "assignee", "bob")


def test_filter_by_tags_repeated_or_comma(api, seeded_tasks):
    tagged = [t for t in seeded_tasks if t["tags"]]
    first, second = sorted({tag for t in tagged for tag in t["tags"]})[:2]
    expected = [t["id"] for t in seeded_tasks if {first, second} & set(t["tags"])]
    assert 0 < len(expected) < len(seeded_tasks)
    base = {"project": SEEDED_PROJECT, "page_size": 1000}
    assert ids(api.get("sdk/tasks/", params={**base, "tags": [first, second]})) == expected
    assert ids(api.get("sdk/tasks/", params={**base, "tags": f"{first},{second}"})) == expected


def test_filter_by_created_ranges(api, seeded_tasks):
    base = {"project": SEEDED_PROJECT, "page_size": 1000}
    cut = (SEED_EPOCH + timedelta(seconds=40)).isoformat()
    by_time = {t["id"]: datetime.fromisoformat(t["created"]) for t in seeded_tasks}
    cut_dt = datetime.fromisoformat(cut)
    after = [pk for pk, c in by_time.items() if c >= cut_dt]
    before = [pk for pk, c in by_time.items() if c < cut_dt]
    assert after and before
    assert ids(api.get("sdk/tasks/", params={**base, "created__gte": cut})) == after
    assert ids(api.get("sdk/tasks/", params={**base, "created__lt": cut})) == before
    # the Synapse SDK's name, a naive datetime (taken as UTC) and a Z suffix mean the same instant
    naive = cut.replace("+00:00", "")
    assert ids(api.get("sdk/tasks/", params={**base, "created_after": naive})) == after
    zulu = cut.replace("+00:00", "Z")
    assert ids(api.get("sdk/tasks/", params={**base, "created__gte": zulu})) == after
    # a '+' left unescaped in a query string arrives as a space; the offset still counts
    raw = api.get(f"sdk/tasks/?created__gte={cut}", params=base)
    assert ids(raw) == after
    window = {**base, "created__gt": cut, "created__lte": (cut_dt + timedelta(seconds=5))}
    assert len(ids(api.get("sdk/tasks/", params=window))) == 5
    check_field_error(api.get("sdk/tasks/", params={"created__gte": "yesterday"}), "created__gte")


def test_filter_by_id_lookups(api, seeded_tasks):
    some = [t["id"] for t in seeded_tasks[3:9]]
    assert ids(api.get("sdk/tasks/", params={"id__in": ",".join(map(str, some))})) == some
    assert ids(api.get("sdk/tasks/", params={"id": some[:2]})) == some[:2]
    ranged = api.get("sdk/tasks/", params={"id__gt": some[0], "id__lte": some[-1]})
    assert ids(ranged) == some[1:]
    check_field_error(api.get("sdk/tasks/", params={"id__gt": "1.5"}), "id__gt", "1.5")


def test_search(api, make, seeded_tasks):
    name = f"needle-{unique('search')}"
    project = make.project()
    collection = make.collection()["id"]
    unit = make.data_unit(collection, file_name=name)["id"]
    task = make.task(project["id"], unit)["id"]
    make.task(project["id"], make.data_unit(collection, file_name="hay.png")["id"])
    assert ids(api.get("sdk/tasks/", params={"search": name})) == [task]
    assert ids(api.get("data_units/", params={"search": name})) == [unit]
    assert ids(api.get("projects/", params={"search": project["title"]})) == [project["id"]]


def test_ordering_is_applied_with_id_tie_break(api, seeded_tasks):
    base = {"project": SEEDED_PROJECT, "page_size": 1000}
    newest_first = ids(api.get("sdk/tasks/", params={**base, "ordering": "-created"}))
    assert newest_first == [t["id"] for t in sorted(seeded_tasks, key=lambda t: t["created"])][::-1]
    by_status = ids(api.get("sdk/tasks/", params={**base, "ordering": "status,nonsense"}))
    assert by_status == [
        t["id"] for t in sorted(seeded_tasks, key=lambda t: (t["status"], t["id"]))
    ]


def test_assignment_filters(api):
    everything = api.get("sdk/assignments/", params={"project": SEEDED_PROJECT, "page_size": 1000})
    rows = everything.json()["results"]
    assert rows
    for key, field in (("status_label", "status_label"), ("status_review", "status_review")):
        value = rows[-1][field]
        expected = [a["id"] for a in rows if a[field] == value]
        got = api.get(
            "sdk/assignments/",
            params={"project": SEEDED_PROJECT, key: value.upper(), "page_size": 1000},
        )
        assert ids(got) == expected
    user = rows[0]["user"]
    expected = [a["id"] for a in rows if a["user"] == user]
    got = api.get("sdk/assignments/", params={"project": SEEDED_PROJECT, "users": user})
    assert ids(got) == expected[:100]
    tasks = [rows[0]["task"], rows[1]["task"]]
    got = api.get("sdk/assignments/", params={"tasks": f"{tasks[0]},{tasks[1]}"})
    assert ids(got) == [rows[0]["id"], rows[1]["id"]]


def test_ground_truth_event_filters(api, ground_truth):
    first, second = ground_truth.versions
    every = ground_truth.events[first] + ground_truth.events[second]
    repeated = api.get(
        "sdk/ground_truth_events/", params={"ground_truth_dataset_versions": [first, second]}
    )
    comma = api.get(
        "sdk/ground_truth_events/", params={"ground_truth_dataset_versions": f"{first},{second}"}
    )
    assert ids(repeated) == ids(comma) == every
    only = api.get("sdk/ground_truth_events/", params={"ground_truth_dataset_versions": second})
    assert ids(only) == ground_truth.events[second]
    assert all(e["ground_truth_dataset_version"] == second for e in only.json()["results"])
    by_dataset = api.get("ground_truths/", params={"ground_truth_dataset": ground_truth.dataset})
    assert ids(by_dataset) == every
    versions = api.get(
        "ground_truth_dataset_versions/", params={"ground_truth_dataset": ground_truth.dataset}
    )
    assert ids(versions) == [first, second]
    assert [v["event_count"] for v in versions.json()["results"]] == [3, 4]
    event = api.get(f"ground_truth_events/{every[0]}/").json()
    assert event["files"]["image_1"]["url"].startswith("http://127.0.0.1:")


def test_job_status_filter_is_case_insensitive(api, make):
    job = make.job()
    api.patch(f"jobs/{job['id']}/", json={"status": "STOPPED"})
    for value in ("stopped", "Stopped", "STOPPED"):
        got = ids(api.get("jobs/", params={"status": value, "page_size": 1000}))
        assert job["id"] in got, value
    running = ids(api.get("jobs/", params={"status": "running", "page_size": 1000}))
    assert job["id"] not in running


def test_task_tag_filters(api, make):
    project = make.project()["id"]
    red = make.tag(project, color="#ff0000")
    make.tag(project, color="#00ff00")
    assert ids(api.get("task_tags/", params={"project": project, "color": "#ff0000"})) == [
        red["id"]
    ]
    assert ids(api.get("task_tags/", params={"search": red["name"]})) == [red["id"]]


def test_a_path_prefix_carries_into_every_link():
    """The wire protocol: a base URL may carry a prefix; links built by the server keep it."""
    with start(tasks=120, prefix="api") as srv:
        assert srv.url.endswith("/api/")
        session = requests.Session()
        session.headers["Synapse-Access-Token"] = f"Token {srv.token}"
        page = session.get(srv.url + "sdk/tasks/").json()
        assert page["next"] == srv.url + "sdk/tasks/?page=2"
        image = page["results"][0]["files"]["image_1"]["url"]
        assert image.startswith(srv.url + "media/")
        assert requests.get(image, timeout=10).status_code == 200
        upload = session.put(
            srv.url + "chunked_upload",
            files={"file": ("file", b"abc")},
            headers={"Content-Range": "bytes 0-2/3"},
        ).json()
        assert upload["url"] == f"{srv.url}chunked_upload/{upload['id']}/"
        root = srv.url.removesuffix("api/")
        assert session.get(root + "projects/").status_code == 404
        schema = requests.get(srv.url + "openapi.json", timeout=10)
        assert schema.status_code == 200 and "/api/sdk/tasks/" in schema.json()["paths"]
        srv.set_faults(rate_503=1.0, paths=("jobs",))
        assert session.get(srv.url + "jobs/").status_code == 503
        assert session.get(srv.url + "projects/").status_code == 200


@pytest.mark.parametrize("listing", ["sdk/tasks", "sdk/assignments", "sdk/ground_truth_events"])
def test_data_and_files_listings_mirror_the_full_listing(listing, api, ground_truth):
    """Newer SDK ``.../data/`` gives ``{id, data}``; ``.../files/`` gives ``{id, files: [...]}``."""
    full = api.get(f"{listing}/", params={"page_size": 5}).json()
    data = api.get(f"{listing}/data/", params={"page_size": 5}).json()
    files = api.get(f"{listing}/files/", params={"page_size": 5}).json()
    assert data["count"] == files["count"] == full["count"] > 0
    assert data["results"] == [{"id": i["id"], "data": i["data"]} for i in full["results"]]
    for whole, item in zip(full["results"], files["results"], strict=True):
        assert set(item) == {"id", "files"} and item["id"] == whole["id"]
        assert isinstance(item["files"], list)
        assert {
            f["name"]: {k: v for k, v in f.items() if k != "name"} for f in item["files"]
        } == whole["files"]
    assert data["next"].startswith(api.base_url + f"{listing}/data/?")
