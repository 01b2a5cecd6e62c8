"""What the OpenAPI schema says about query parameters and request bodies.

The routes read their queries and bodies by hand (:class:`~.http.Query`, :class:`~.http.Body`),
which is how they give Django REST framework's 400 bodies instead of FastAPI's 422s, so
FastAPI cannot see either. This module writes them into the generated schema: the filters
of every listing (the ones the handlers read, with their types), the paging and shaping
parameters, and the JSON bodies, taken from the client's request models (the same wire
contract). ``/docs`` then documents the embedded backend, and the schema-driven fuzz test
generates queries and bodies as well as paths.

Example:
    >>> spec = {"paths": {"/tasks/": {"get": {}}}}
    >>> document(spec)["paths"]["/tasks/"]["get"]["parameters"][0]["name"]
    'page'
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
DATETIME = {"type": "string", "format": "date-time"}
INTS = {"type": "string", "description": "one id, or several comma-separated / repeated"}

PAGING = [
    ("page", {"type": "integer", "minimum": 1}, "Page number (from 1)."),
    ("page_size", {"type": "integer", "minimum": 1, "maximum": 1000}, "Items per page."),
]
SHAPING = [
    ("fields", STR, "Comma-separated fields to keep."),
    ("omit", STR, "Comma-separated fields to drop."),
    ("expand", STR, "Comma-separated related objects to expand."),
    ("ordering", STR, "Comma-separated fields, '-' for descending; id breaks ties."),
]


def _range(name: str, kind: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    out = [(name, INTS if kind is INT else kind, f"{name} equals")]
    if kind is INT:
        out.append((f"{name}__in", INTS, f"{name} in the list"))
    for op, word in (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")):
        out.append((f"{name}__{op}", kind, f"{name} {word}"))
    return out


def _ids(*names: str) -> list[tuple[str, dict[str, Any], str]]:
    return [(n, INTS, f"{n} id(s)") for n in names]


def _words(*names: str) -> list[tuple[str, dict[str, Any], str]]:
    return [(n, STR, f"{n} value(s), comma-separated or repeated") for n in names]


SEARCH = [("search", STR, "Text contained in the name or description.")]
TIMES = _range("created", DATETIME) + _range("modified", DATETIME)
TASK_FILTERS = [
    *_range("id", INT),
    *TIMES,
    *_ids("project", "assignee", "data_unit", "tags"),
    *_words("status", "priority"),
    ("is_discarded", BOOL, "Discarded tasks only (true) or none of them (false)."),
    ("has_assignment", BOOL, "Tasks with (true) or without (false) an assignment."),
    ("created_after", DATETIME, "The seed's name for created__gte."),
    *SEARCH,
]
ASSIGNMENT_FILTERS = [
    *_range("id", INT),
    *TIMES,
    *_ids("project", "tasks", "task", "users", "user", "assignee", "tags"),
    *_words("status_label", "status_review", "status"),
]
EVENT_FILTERS = [
    *_range("id", INT),
    *TIMES,
    *_ids("ground_truth_dataset", "ground_truth_dataset_version", "version", "data_unit"),
]

#: GET path -> its filters (paging and shaping parameters are added to every listing)
FILTERS: dict[str, list[tuple[str, dict[str, Any], str]]] = {
    "/projects/": [*_range("id", INT), *_words("category"), *SEARCH],
    "/task_tags/": [*_range("id", INT), *_ids("project"), *_words("name", "color"), *SEARCH],
    "/tasks/": TASK_FILTERS,
    "/sdk/tasks/": TASK_FILTERS,
    "/sdk/tasks/data/": TASK_FILTERS,
    "/sdk/tasks/files/": TASK_FILTERS,
    "/assignments/": ASSIGNMENT_FILTERS,
    "/sdk/assignments/": ASSIGNMENT_FILTERS,
    "/sdk/assignments/data/": ASSIGNMENT_FILTERS,
    "/sdk/assignments/files/": ASSIGNMENT_FILTERS,
    "/data_collections/": [*_range("id", INT), *_words("category"), *SEARCH],
    "/data_units/": [*_range("id", INT), *_range("created", DATETIME), *SEARCH],
    "/agents/": [],
    "/plugins/": [*_range("id", INT), *_words("category", "code"), *SEARCH],
    "/plugin_releases/": _words("plugin"),
    "/jobs/": [*_range("created", DATETIME), *_ids("agent"), *_words("status", "action", "plugin")],
    "/jobs/{pk}/console_logs/": [*_range("id", INT), *_words("level")],
    "/storages/": [
        *_words("category", "provider"),
        ("with_configuration", BOOL, "Include each storage's configuration."),
    ],
    "/serve_applications/": _words("status"),
    "/models/": [
        *_range("id", INT),
        *_range("created", DATETIME),
        *_ids("project", "plugin", "ground_truth_dataset_version"),
        *_words("name"),
        *SEARCH,
    ],
    "/ground_truth_datasets/": [*_range("id", INT), *_ids("project")],
    "/ground_truth_dataset_versions/": [
        *_range("id", INT),
        *_ids("ground_truth_dataset"),
        ("is_archived", BOOL, "Archived versions only (true) or none (false)."),
    ],
    "/ground_truths/": EVENT_FILTERS,
    "/ground_truth_events/": EVENT_FILTERS,
    "/sdk/ground_truth_events/": EVENT_FILTERS,
    "/sdk/ground_truth_events/data/": EVENT_FILTERS,
    "/sdk/ground_truth_events/files/": EVENT_FILTERS,
}

#: query parameters of single-object and action routes: (method, path) -> parameters
EXTRA_QUERY: dict[tuple[str, str], list[tuple[str, dict[str, Any], str]]] = {
    ("get", "/tasks/{pk}/"): [
        ("expand", STR, "data_unit, assignment, annotations"),
        ("fields", STR, "Comma-separated fields to keep."),
        ("include_annotations", BOOL, "Include the annotation data (seed)."),
    ],
    ("put", "/tasks/{pk}/annotate_task_data/"): [
        ("schema", {"type": "string", "enum": ["dm_schema_v1", "any"]}, "Validation schema.")
    ],
    ("post", "/tasks/set_tags/"): [("replace", BOOL, "Replace the tag sets (action add).")],
    ("post", "/assignments/set_tags/"): [("replace", BOOL, "Replace the tag sets.")],
    ("get", "/data_collections/{pk}/"): [("expand", STR, "file_specifications")],
    ("get", "/data_units/{pk}/"): [("expand", STR, "files")],
    ("get", "/plugin_releases/{ref}/"): [("expand", STR, "plugin")],
    ("get", "/jobs/{pk}/"): [("expand", STR, "Related objects (unknown values ignored).")],
    ("get", "/storages/{pk}/"): [("with_configuration", BOOL, "Include the configuration.")],
}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def _bodies() -> dict[tuple[str, str], Any]:
    """(method, path) -> a request model or a JSON schema of the body."""
    from synapse_nb.models.annotation import SetAssignmentTags, SetTaskTags, TaskCreate
    from synapse_nb.models.data_collection import DataUnitCreate
    from synapse_nb.models.integration import (
        JobUpdate,
        PluginCreate,
        PluginUpdate,
        RunPlugin,
        StorageCreate,
    )
    from synapse_nb.models.ml import ModelCreate

    free = {"type": "object", "additionalProperties": True}
    return {
        ("post", "/projects/"): _object({"title": STR, "name": STR, "category": STR}),
        ("post", "/task_tags/"): _object(
            {"name": STR, "project": INT, "color": STR, "description": STR}, ("name",)
        ),
        ("post", "/tasks/"): TaskCreate,
        ("patch", "/tasks/{pk}/"): _object(
            {
                "status": STR,
                "priority": STR,
                "assignee": {"type": ["integer", "null"]},
                "metadata": free,
                "tags": {"type": "array", "items": INT},
                "is_discarded": BOOL,
            }
        ),
        ("put", "/tasks/{pk}/annotate_task_data/"): free,
        ("post", "/tasks/set_tags/"): SetTaskTags,
        ("patch", "/assignments/{pk}/"): _object(
            {"status_label": STR, "status_review": STR, "data": free}
        ),
        ("post", "/assignments/set_tags/"): SetAssignmentTags,
        ("post", "/data_collections/"): _object(
            {"name": STR, "category": STR, "description": STR}, ("name",)
        ),
        ("post", "/data_files/verify_checksums/"): _object(
            {"checksums": {"type": "array", "items": STR}}, ("checksums",)
        ),
        ("post", "/data_units/"): DataUnitCreate,
        ("post", "/chunked_upload/{upload_id}/"): _object({"md5": STR}, ("md5",)),
        ("post", "/plugins/"): PluginCreate,
        ("put", "/plugins/{ref}/"): PluginUpdate,
        ("patch", "/plugins/{ref}/"): PluginUpdate,
        ("post", "/plugins/{ref}/run/"): RunPlugin,
        ("patch", "/jobs/{pk}/"): JobUpdate,
        ("post", "/logs/"): _object(
            {"event": STR, "data": free, "datetime": DATETIME, "job": INT, "level": STR},
            ("event", "job"),
        ),
        ("post", "/storages/"): StorageCreate,
        ("post", "/serve_applications/"): _object({"job": INT, "status": STR, "data": free}),
        ("post", "/models/"): ModelCreate,
    }


def _parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def document(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Add the query parameters and JSON bodies to a generated schema, in place.

    ``prefix`` is the API prefix the routes are mounted under (as in the schema's paths).
    """
    paths = {
        path[len(prefix) :]: item
        for path, item in spec.get("paths", {}).items()
        if path.startswith(prefix)
    }
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for path, query in FILTERS.items():
        operation = paths.get(path, {}).get("get")
        if operation is None:
            continue
        declared = {p["name"] for p in operation.get("parameters", [])}
        wanted = [*PAGING, *SHAPING, *query]
        operation.setdefault("parameters", []).extend(
            _parameter(*p) for p in wanted if p[0] not in declared
        )
    for (method, path), query in EXTRA_QUERY.items():
        operation = paths.get(path, {}).get(method)
        if operation is not None:
            operation.setdefault("parameters", []).extend(_parameter(*p) for p in query)
    for (method, path), body in _bodies().items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        if isinstance(body, type) and issubclass(body, BaseModel):
            schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components[body.__name__] = schema
            schema = {"$ref": f"#/components/schemas/{body.__name__}"}
        else:
            schema = body
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return spec
