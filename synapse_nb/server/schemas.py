"""The request bodies the embedded backend accepts, declared by the server itself.

Handlers read bodies by hand (:class:`~.http.Body`) to answer Django REST framework's
``{field: [messages]}`` 400s; these declarations are what the OpenAPI schema shows (and what
the schema-driven fuzz test generates). The task's writable fields are declared once, in
:data:`TASK_FIELDS`: task creation, task updates and both schemas read that tuple.

Example:
    >>> sorted(task_schema("update")["properties"])[:3]
    ['assignee', 'is_discarded', 'metadata']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .db import dumps
from .http import Body

TASK_STATUSES = ("pending", "in_progress", "completed")
PRIORITIES = ("low", "normal", "high")

PositiveInt = Annotated[int, Field(gt=0)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,199}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
FREE: dict[str, Any] = {"type": "object", "additionalProperties": True}


# --------------------------------------------------------------------------- task fields


_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 1},
    "str": {"type": "string"},
    "dict": FREE,
    "bool": {"type": "boolean"},
    "int_list": {"type": "array", "items": {"type": "integer", "minimum": 1}},
}


@dataclass(frozen=True)
class TaskField:
    """One writable task field: how it is read from a body, stored and documented.

    Example:
        >>> TASK_BY_NAME["priority"].schema()
        {'type': 'string', 'enum': ['low', 'normal', 'high']}
    """

    name: str
    kind: Literal["int", "str", "dict", "bool", "int_list"]
    column: str | None = None  # the column an update writes; None: not updatable that way
    on_create: bool = True
    choices: tuple[str, ...] | None = None
    default: Any = None
    nullable: bool = False

    def read(self, body: Body, *, required: bool) -> Any:
        if self.kind == "str":
            return body.str(
                self.name, required=required, default=self.default, choices=self.choices
            )
        if self.kind == "int_list":
            return body.int_list(self.name, required=required)
        reader: Callable[..., Any] = getattr(body, self.kind)
        if self.kind == "bool":
            return reader(self.name, default=self.default)
        return reader(self.name, required=required, default=self.default)

    def stored(self, value: Any) -> Any:
        """The value as its column keeps it."""
        if self.kind == "dict":
            return dumps(value)
        if self.kind == "bool":
            return int(bool(value))
        return value

    def schema(self) -> dict[str, Any]:
        if self.choices:
            return {"type": "string", "enum": list(self.choices)}
        base = _KIND_SCHEMAS[self.kind]
        return {"anyOf": [base, {"type": "null"}]} if self.nullable else base


TASK_FIELDS: tuple[TaskField, ...] = (
    TaskField("project", "int"),
    TaskField("data_unit", "int"),
    TaskField("priority", "str", "priority", choices=PRIORITIES, default="normal"),
    TaskField("status", "str", "status", choices=TASK_STATUSES, default="pending"),
    TaskField("assignee", "int", "assignee_id", nullable=True),
    TaskField("metadata", "dict", "metadata", default={}),
    TaskField("data", "dict", default={}),
    TaskField("is_discarded", "bool", "is_discarded", on_create=False, default=False),
    TaskField("tags", "int_list", on_create=False),  # updated through the tag links
)
TASK_BY_NAME = {f.name: f for f in TASK_FIELDS}
TASK_REQUIRED = ("project", "data_unit")


def task_schema(use: Literal["create", "update"]) -> dict[str, Any]:
    """The JSON schema of a task body for creation or for a partial update."""
    if use == "create":
        fields = [f for f in TASK_FIELDS if f.on_create]
        return _object({f.name: f.schema() for f in fields}, TASK_REQUIRED, extra=True)
    fields = [f for f in TASK_FIELDS if f.column or f.kind == "int_list"]
    return _object({f.name: f.schema() for f in fields})


def _object(
    properties: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if extra:
        schema["additionalProperties"] = True
    return schema


# --------------------------------------------------------------------------- request models


class TagAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class SetTags(BaseModel):
    """Body of ``POST tasks/set_tags/`` and ``POST assignments/set_tags/``."""

    model_config = ConfigDict(extra="forbid")
    ids: Annotated[list[PositiveInt], Field(min_length=1)]
    tags: list[PositiveInt]
    action: TagAction = TagAction.ADD


class DataUnitFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    checksum: NonEmpty
    path: str | None = None


class DataUnitCreate(BaseModel):
    """One item of ``POST data_units/``."""

    model_config = ConfigDict(extra="forbid")
    data_collection: PositiveInt
    files: Annotated[dict[NonEmpty, DataUnitFile], Field(min_length=1)]
    meta: dict[str, Any] | None = None
    groups: list[NonEmpty] | None = None


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class JobUpdate(BaseModel):
    """Body of ``PATCH jobs/{pk}/``: any subset of what a job reports."""

    model_config = ConfigDict(extra="forbid")
    status: JobStatus | None = None
    progress_record: dict[str, Any] | None = None
    metrics_record: dict[str, Any] | None = None
    console_logs: Any = None
    result: Any = None
    meta: dict[str, Any] | None = None


class PluginCreate(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: NonEmpty
    description: str | None = None
    code: Code | None = None
    category: Code | None = None


class PluginUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: NonEmpty | None = None
    description: str | None = None
    code: Code | None = None
    category: Code | None = None


class RunPlugin(BaseModel):
    """Body of ``POST plugins/{ref}/run/``."""

    model_config = ConfigDict(extra="forbid")
    agent: PositiveInt | None = None
    action: NonEmpty | None = None
    params: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    storage_id: PositiveInt | None = None
    job_id: PositiveInt | Code | None = None
    debug: bool | None = None
    version: NonEmpty | None = None
    language: NonEmpty = "ko"


class StorageCategory(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class StorageCreate(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: NonEmpty
    provider: str
    configuration: dict[str, Any] = Field(default_factory=dict)
    category: StorageCategory | None = None
    is_default: bool | None = None


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: NonEmpty
    chunked_upload: PositiveInt | Code
    plugin: PositiveInt | Code | None = None
    version: NonEmpty | None = None
    checkpoint: Any = None
    configuration: dict[str, Any] | None = None
    description: str | None = None


class ModelUpdate(BaseModel):
    """Body of ``PATCH models/{pk}/``: the fields a model's owner may change after training."""

    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    metrics: dict[str, Any] | None = None


# --------------------------------------------------------------------------- plain schemas

INT: dict[str, Any] = {"type": "integer"}
STR: dict[str, Any] = {"type": "string"}
DATETIME: dict[str, Any] = {"type": "string", "format": "date-time"}

PROJECT_CREATE = _object({"title": STR, "name": STR, "category": STR})
TAG_CREATE = _object({"name": STR, "project": INT, "color": STR, "description": STR}, ("name",))
ASSIGNMENT_UPDATE = _object({"status_label": STR, "status_review": STR, "data": FREE})
COLLECTION_CREATE = _object({"name": STR, "category": STR, "description": STR}, ("name",))
CHECKSUMS = _object({"checksums": {"type": "array", "items": STR}}, ("checksums",))
UPLOAD_FINALIZE = _object({"md5": STR}, ("md5",))
LOG_CREATE = _object(
    {"event": STR, "data": FREE, "datetime": DATETIME, "job": INT, "level": STR}, ("event", "job")
)
SERVE_CREATE = _object({"job": INT, "status": STR, "data": FREE})
