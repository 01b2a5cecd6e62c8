"""No 500 on any bad input: malformed JSON, wrong types, huge ints, unicode, empty bodies.

Every operation gets every hostile body, query and path value; the server must answer each
with a 4xx JSON error (or succeed, where the input happens to be acceptable).
"""

from __future__ import annotations

import json

import pytest
import requests
from srv_helpers import OPERATIONS, check_field_error, concrete

HUGE = 10**30
DIGITS_5000 = "9" * 5000

#: raw request bodies, sent as application/json
BODIES: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b" \n\t ",
    "truncated": b'{"name": ',
    "unclosed list": b"[1, 2",
    "bad literal": b"nul",
    "invalid utf-8": b'{"name": "\xff\xfe"}',
    "utf-16": json.dumps({"name": "x"}).encode("utf-16"),
    "null": b"null",
    "string": b'"text"',
    "number": b"123",
    "boolean": b"true",
    "empty list": b"[]",
    "list of junk": b'[1, "a", null, [], {}]',
    "NaN": b'{"name": NaN, "title": NaN, "configuration": {"x": NaN}, "metrics": {"m": NaN}}',
    "Infinity": b'{"name": "x", "data": {"v": Infinity}, "meta": {"v": -Infinity}, "md5": 1}',
    "1e999": b'{"name": "x", "params": {"v": 1e999}, "result": 1e999, "project": 1e999}',
    "huge ints": json.dumps(
        {
            k: HUGE
            for k in (
                "project",
                "data_unit",
                "data_collection",
                "assignee",
                "agent",
                "ground_truth_dataset_version",
            )
        }
        | {"ids": [HUGE], "tags": [HUGE], "name": "x", "title": "x", "event": "e"}
    ).encode(),
    "negative ints": json.dumps(
        {"project": -1, "data_unit": -(2**63), "ids": [-1], "tags": [-5], "data_collection": -3}
    ).encode(),
    "5000-digit int": b'{"project": ' + DIGITS_5000.encode() + b', "name": "x"}',
    "5000-digit string int": json.dumps({"project": DIGITS_5000, "ids": [DIGITS_5000]}).encode(),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "lone surrogate": b'{"name": "\\ud800", "title": "\\udfff", "event": "\\ud800",'
    b' "provider": "\\ud800", "version": "\\ud800", "md5": "\\ud800", "plugin": "\\ud800",'
    b' "metadata": {"k": "\\ud800"}, "data": {"\\ud800": 1}}',
    "nul bytes": json.dumps({"name": "a\x00b", "title": "\x00", "event": "\x00"}).encode(),
    "unicode": json.dumps(
        {"name": "데이터 🚗 ﷽", "title": "\u202etxt", "description": "ß" * 50, "event": "é"}
    ).encode(),
    "wrong types everywhere": json.dumps(
        {
            k: v
            for k, v in zip(
                (
                    "name",
                    "title",
                    "project",
                    "data_unit",
                    "ids",
                    "tags",
                    "files",
                    "meta",
                    "status",
                    "params",
                    "checksums",
                    "console_logs",
                    "datetime",
                    "step",
                    "file",
                    "job",
                    "level",
                    "groups",
                    "file_specifications",
                    "config",
                    "requirements",
                ),
                (
                    [],
                    {},
                    1.5,
                    True,
                    {"a": 1},
                    "x",
                    [1],
                    [2],
                    7,
                    [],
                    {},
                    {},
                    {"d": 1},
                    [1],
                    {"f": 1},
                    [],
                    {},
                    {"g": 1},
                    [1, "x"],
                    [],
                    {"r": 1},
                ),
                strict=True,
            )
        }
    ).encode(),
    "nested wrong types": json.dumps(
        {
            "name": "x",
            "event": "e",
            "files": {"image_1": {"checksum": {"a": 1}, "path": [1]}, "other": 5},
            "console_logs": [{"datetime": {"a": 1}, "step": [1], "level": {}, "message": []}],
            "file_specifications": [{"name": "a", "file_type": "image", "configuration": 5}],
            "meta": {"filename": 12345},
            "data": [{"data_unit": {"x": 1}}],
            "datetime": ["2024"],
            "step": {"s": 1},
            "file": {"f": 1},
            "chunked_upload": 12345,
        }
    ).encode(),
    "huge string": json.dumps({"name": "x" * 2_000_000, "event": "y" * 2_000_000}).encode(),
}

#: hostile values for path parameters
PATH_VALUES = [
    str(HUGE),
    "-" + str(HUGE),
    "²",
    "١٢",
    "1e3",
    "0x10",
    " 1",
    "%00",
    "%FF",
    "..",
    "a" * 2000,
    DIGITS_5000,
    "데이터",
    "1;DROP TABLE tasks",
    "x@y@z",
    "@",
]

#: hostile query strings, added to every GET
QUERIES = [
    {"page": HUGE},
    {"page": "²"},
    {"page_size": HUGE},
    {"page_size": DIGITS_5000},
    {"id": HUGE},
    {"id__gt": -HUGE},
    {"id__in": f"1,{HUGE}"},
    {"project": HUGE},
    {"project": ","},
    {"tags": ","},
    {"tags": HUGE},
    {"status": ","},
    {"status_label": ","},
    {"labelers": ","},
    {"plugin": ","},
    {"plugin": f"{HUGE}"},
    {"plugin": "²"},
    {"plugin": DIGITS_5000},
    {"agent": HUGE},
    {"assignee": "null,²"},
    {"ground_truth_dataset_versions": HUGE},
    {"ground_truth_dataset": ","},
    {"created__gte": "2024-13-45"},
    {"created__lt": "९९९९"},
    {"modified__gte": "\x00"},
    {"search": "%_\\'\"\x00"},
    {"search": "x" * 5000},
    {"expand": "", "fields": "", "omit": ""},
    {"expand": "data_unit,assignee,tags,logs,plugin,file_specifications,user"},
    {"ordering": "-"},
    {"ordering": ",,,-,-id,--created"},
    {"is_discarded": "²"},
    {"with_configuration": "maybe"},
    {"timeout": -HUGE},
    {"level": ","},
    {"schema": "\x00"},
    {"replace": "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")},
]


def path_for(path: str, ctx: dict) -> str:
    """A real object for every parameter, so the body (not the id) is what gets judged."""
    values = {
        "{pk}": str(ctx["task"]),
        "{upload_id}": ctx["upload"],
        "{token}": ctx["agent_token"],
        "{ref}": ctx["plugin"],
        "{name}": "app-1",
    }
    if path.startswith("/jobs/"):
        values["{pk}"] = ctx["job"]
    for key, value in values.items():
        path = path.replace(key, value)
    return path.lstrip("/")


@pytest.fixture(scope="module")
def ctx(make, api, agent) -> dict:
    project = make.project()["id"]
    collection = make.collection()["id"]
    plugin = make.plugin()
    make.release(plugin)
    unfinished = api.put(
        "chunked_upload/",
        files={"file": ("file", b"abc")},
        headers={"Content-Range": "bytes 0-2/9"},
    ).json()["id"]
    return {
        "task": make.task(project, make.data_unit(collection)["id"])["id"],
        "plugin": plugin["code"],
        "job": make.job()["id"],
        "upload": unfinished,
        "agent_token": agent.token,
    }


def judge(response: requests.Response, what: str) -> str | None:
    """None when the answer is acceptable, else a description of what went wrong."""
    if response.status_code >= 500:
        return f"{what}: {response.status_code} {response.text[:200]}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            return f"{what}: non-JSON {response.status_code} body {response.text[:100]!r}"
        if not isinstance(body, dict) or not body:
            return f"{what}: error body is not a DRF dict: {body!r}"
    return None


WRITES = [(m, p) for m, p in OPERATIONS if m != "GET"]
READS = [(m, p) for m, p in OPERATIONS if m == "GET" and "tail_console_logs" not in p]


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_hostile_bodies_never_500(method, path, ctx, api):
    url = path_for(path, ctx)
    problems = []
    for name, raw in BODIES.items():
        response = api.request(
            method, url, data=raw, headers={"Content-Type": "application/json"}, timeout=60
        )
        problems.append(judge(response, f"{name} -> {method} {url}"))
        if "upload" in path or "data_files" in path or "plugin_releases" in path:
            response = api.request(
                method,
                url,
                data=raw,
                headers={
                    "Content-Type": "multipart/form-data; boundary=zzz",
                    "Content-Range": "bytes 0-1/2",
                },
                timeout=60,
            )
            problems.append(judge(response, f"{name} as multipart -> {method} {url}"))
    assert [p for p in problems if p] == []


@pytest.mark.parametrize(("method", "path"), READS, ids=[f"{m} {p}" for m, p in READS])
def test_hostile_queries_never_500(method, path, ctx, api):
    url = path_for(path, ctx)
    problems = [judge(api.get(url, params=query), f"GET {url} {query}") for query in QUERIES]
    assert [p for p in problems if p] == []


PARAMETRISED = [(m, p) for m, p in OPERATIONS if "{" in p]


@pytest.mark.parametrize(
    ("method", "path"), PARAMETRISED, ids=[f"{m} {p}" for m, p in PARAMETRISED]
)
def test_hostile_path_values_never_500(method, path, api):
    problems = []
    for value in PATH_VALUES:
        url = concrete(path, value)
        response = api.request(method, url, json={}, timeout=30)
        problems.append(judge(response, f"{method} {url[:80]}"))
    assert [p for p in problems if p] == []


def test_json_numbers_that_cannot_be_stored_are_field_errors(api):
    check_field_error(api.post("tasks/", json={"project": HUGE, "data_unit": 1}), "project", HUGE)
    check_field_error(api.post("tasks/set_tags/", json={"ids": [HUGE], "tags": []}), "ids")
    response = api.post(
        "projects/", data=b'{"title": "t", "configuration": {"x": NaN}}', headers=_json()
    )
    assert response.status_code == 400 and "NaN" in json.dumps(response.json())


def test_malformed_json_says_so(api):
    response = api.post("projects/", data=b'{"title": ', headers=_json())
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    response = api.post("projects/", data=b'{"title": "\\ud800"}', headers=_json())
    assert response.status_code == 400 and "detail" in response.json()


def test_empty_body_is_no_payload(api):
    # connect is called with a JSON content type and no body at all (see docs/protocol.md)
    response = api.post("projects/", data=b"", headers=_json())
    check_field_error(response, "title")


def test_unicode_round_trips(api):
    title = "데이터 🚗 \u202e ﷽ a\x00b"
    response = api.post("projects/", json={"title": title, "configuration": {"클래스": ["차"]}})
    assert response.status_code == 201, response.text
    fetched = api.get(f"projects/{response.json()['id']}/").json()
    assert fetched["title"] == title and fetched["configuration"] == {"클래스": ["차"]}


# --------------------------------------------------------------------------- past int()'s limit

#: lookups of a plugin or a release by pk (digits) or by code
PLUGIN_REF_OPERATIONS = [
    ("GET", "plugins/{}/"),
    ("PUT", "plugins/{}/"),
    ("PATCH", "plugins/{}/"),
    ("POST", "plugins/{}/run/"),
    ("GET", "plugin_releases/{}/"),
]


@pytest.mark.parametrize(
    ("method", "path"), PLUGIN_REF_OPERATIONS, ids=[f"{m} {p}" for m, p in PLUGIN_REF_OPERATIONS]
)
def test_a_pk_longer_than_int_converts_is_not_found(api, method, path):
    # Python's int() refuses more than 4300 digits; no row has such an id anyway
    response = api.request(method, path.format(DIGITS_5000), json={})
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "Not found."}


def test_zero_padding_does_not_make_a_plugin_pk_too_long(api, make):
    plugin = make.plugin()
    response = api.get(f"plugins/{'0' * 5000}{plugin['id']}/")
    assert response.status_code == 200, response.text
    assert response.json()["code"] == plugin["code"]


def test_a_release_plugin_filter_longer_than_int_converts_matches_nothing(api, make):
    make.release(make.plugin())
    response = api.get("plugin_releases/", params={"plugin": DIGITS_5000})
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 0


@pytest.fixture(scope="module")
def owners(make, api, ctx) -> dict:
    """Objects whose dict-typed fields the tests below send as JSON text."""
    project = make.project()["id"]
    collection = make.collection()["id"]
    unit = make.data_unit(collection)
    return {
        "project": project,
        "collection": collection,
        "unit": unit["id"],
        "files": unit["files"],
        "task": make.task(project, unit["id"])["id"],
        "assignment": api.get("sdk/assignments/").json()["results"][0]["id"],
        "model": make.model()["id"],
        "job": ctx["job"],
    }


#: (method, path, the rest of a valid body, field): every field read as a dictionary, which
#: a client may also send as JSON text (as multipart forms do)
DICT_FIELDS = [
    ("PATCH", "models/{model}/", lambda o: {}, "metrics"),
    ("POST", "models/", lambda o: {"name": "m", "chunked_upload": 1}, "configuration"),
    ("POST", "tasks/", lambda o: {"project": o["project"], "data_unit": o["unit"]}, "metadata"),
    ("POST", "tasks/", lambda o: {"project": o["project"], "data_unit": o["unit"]}, "data"),
    ("PATCH", "tasks/{task}/", lambda o: {}, "metadata"),
    ("PATCH", "assignments/{assignment}/", lambda o: {}, "data"),
    ("POST", "data_units/", lambda o: {"data_collection": o["collection"]}, "files"),
    (
        "POST",
        "data_units/",
        lambda o: {"data_collection": o["collection"], "files": o["files"]},
        "meta",
    ),
    ("PATCH", "jobs/{job}/", lambda o: {}, "progress_record"),
    ("PATCH", "jobs/{job}/", lambda o: {}, "metrics_record"),
    ("PATCH", "jobs/{job}/", lambda o: {}, "meta"),
    ("POST", "storages/", lambda o: {"name": "s", "provider": "amazon_s3"}, "configuration"),
    ("POST", "serve_applications/", lambda o: {"name": "app"}, "data"),
]
DICT_FIELD_IDS = [f"{m} {p} {f}" for m, p, _, f in DICT_FIELDS]


@pytest.mark.parametrize(("method", "path", "rest", "field"), DICT_FIELDS, ids=DICT_FIELD_IDS)
def test_a_dict_field_sent_as_a_number_past_the_digit_limit_is_a_field_error(
    api, owners, method, path, rest, field
):
    body = {**rest(owners), field: DIGITS_5000}
    response = api.request(method, path.format(**owners), json=body)
    check_field_error(response, field)


#: the dict fields whose lone surrogate reaches the database unless it is refused (the files
#: of a data unit are checked against the collection first)
SURROGATE_FIELDS = [c for c in DICT_FIELDS if (c[1], c[3]) != ("data_units/", "files")]


@pytest.mark.parametrize(
    ("method", "path", "rest", "field"),
    SURROGATE_FIELDS,
    ids=[f"{m} {p} {f}" for m, p, _, f in SURROGATE_FIELDS],
)
def test_a_dict_field_sent_as_json_text_with_a_lone_surrogate_is_a_field_error(
    api, owners, method, path, rest, field
):
    body = {**rest(owners), field: '{"key": "\\ud800"}'}
    response = api.request(method, path.format(**owners), json=body)
    check_field_error(response, field)
    if method == "PATCH":  # nothing was stored: the object still reads back
        assert api.get(path.format(**owners)).status_code == 200


@pytest.mark.parametrize(
    "text",
    [DIGITS_5000, '{"key": "\\ud800"}', '{"lr": NaN}', '{"lr": -Infinity}', '{"lr": 1e999}'],
    ids=["digits", "surrogate", "NaN", "infinity", "out of range"],
)
def test_multipart_json_fields_past_the_digit_limit_with_a_surrogate_or_nan_are_field_errors(
    api, make, text
):
    stored = api.post("data_files/", files={"file": ("a.bin", b"abc")}, data={"meta": text})
    check_field_error(stored, "meta")
    plugin = make.plugin()
    release = api.post(
        "plugin_releases/", data={"plugin": plugin["code"], "version": "1.0.0", "config": text}
    )
    check_field_error(release, "config")
    assert api.get("plugin_releases/", params={"plugin": plugin["code"]}).json()["count"] == 0


# --------------------------------------------------------------------------- null for text


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_null_plugin_description_is_a_field_error_and_changes_nothing(api, make, method):
    plugin = make.plugin(description="kept")
    url = f"plugins/{plugin['code']}/"
    response = api.request(method, url, json={"name": "renamed", "description": None})
    messages = check_field_error(response, "description")
    assert "null" in messages[0]
    after = api.get(url).json()
    assert (after["name"], after["description"]) == (plugin["name"], "kept")
    cleared = api.request(method, url, json={"description": ""})  # blank is allowed
    assert cleared.status_code == 200 and cleared.json()["description"] == "", cleared.text


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


@pytest.mark.parametrize("code", ["nl-code-1\n", "crlf-code-2\r\n", "\nlead-code-3"])
def test_a_plugin_code_with_a_line_break_is_a_field_error(api, code):
    # "$" also matched before a final newline, so "nlcode\n" was stored as a code
    response = api.post("plugins/", json={"name": "n", "code": code, "category": "export"})
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["code"]
    # the same plugin with the code on one line is created
    fine = api.post("plugins/", json={"name": "n", "code": code.strip(), "category": "export"})
    assert fine.status_code == 201, fine.text


def test_a_null_plugin_state_is_a_field_error_and_changes_nothing(api, make):
    plugin = make.plugin()
    api.patch(f"plugins/{plugin['id']}/", json={"is_active": False}).raise_for_status()
    response = api.patch(f"plugins/{plugin['id']}/", json={"is_active": None})
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["is_active"]
    assert api.get(f"plugins/{plugin['id']}/").json()["is_active"] is False  # null set it on

