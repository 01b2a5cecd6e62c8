"""Request bodies of the integration domain: plugins, releases, runs, jobs, storages.

Example:
    >>> JobUpdate(status="completed").model_dump(mode="json", exclude_none=True)
    {'status': 'SUCCEEDED'}
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, PositiveInt, field_validator, model_validator

from synapse_nb.models._base import Code, NonEmptyStr, OpenRequestModel, RequestModel
from synapse_nb.models.enums import JobStatus, StorageCategory, StorageProvider

__all__ = [
    "JobUpdate",
    "PluginCreate",
    "PluginReleaseCreate",
    "PluginUpdate",
    "RunPlugin",
    "StorageCreate",
]


class PluginCreate(OpenRequestModel):
    """Body of ``POST plugins/``.

    Example:
        >>> PluginCreate(name="Blur faces").name
        'Blur faces'
    """

    name: NonEmptyStr
    description: str | None = None
    code: Code | None = None
    category: Code | None = None


class PluginUpdate(OpenRequestModel):
    """Body of ``PUT plugins/{pk}/`` (a partial update, as the Synapse SDK sends it).

    Example:
        >>> PluginUpdate(description="new").model_dump(exclude_none=True)
        {'description': 'new'}
    """

    name: NonEmptyStr | None = None
    description: str | None = None
    code: Code | None = None
    category: Code | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> PluginUpdate:
        if not self.model_dump(exclude_none=True):
            raise ValueError("give at least one field to update")
        return self


class RunPlugin(RequestModel):
    """Body of ``POST plugins/{pk}/run/`` (newer SDK keys; the SDK's ``parameters`` is ``params``).

    ``language`` defaults to ``"ko"`` as in the Synapse SDK. The SDK's free-form ``context`` is
    passed through.

    Example:
        >>> RunPlugin.model_validate({"parameters": {"x": 1}}).model_dump(exclude_none=True)
        {'params': {'x': 1}, 'language': 'ko'}
    """

    agent: PositiveInt | None = None
    action: NonEmptyStr | None = None
    params: dict[str, Any] | None = Field(
        default=None, validation_alias=AliasChoices("params", "parameters")
    )
    context: dict[str, Any] | None = None
    storage_id: PositiveInt | None = None
    job_id: PositiveInt | Code | None = None
    debug: bool | None = None
    version: NonEmptyStr | None = None
    language: NonEmptyStr = "ko"


class PluginReleaseCreate(OpenRequestModel):
    """Form fields of ``POST plugin_releases/`` (the archive travels as the ``file`` part).

    ``plugin`` is a pk or a plugin code (newer Synapse SDK); the server accepts either.

    Example:
        >>> PluginReleaseCreate(plugin=3, version="1.0.0").debug
        False
    """

    plugin: PositiveInt | Code
    version: NonEmptyStr
    config: dict[str, Any] | None = None
    requirements: list[NonEmptyStr] | None = None
    debug: bool = False


class JobUpdate(RequestModel):
    """Body of ``PATCH jobs/{pk}/``: any subset of the fields a job reports.

    ``status`` accepts the Synapse SDK's lowercase values (``completed`` -> ``SUCCEEDED``).

    Example:
        >>> JobUpdate(progress_record={"record": {}}).status is None
        True
    """

    status: JobStatus | None = None
    progress_record: dict[str, Any] | None = None
    metrics_record: dict[str, Any] | None = None
    console_logs: Any = None
    result: Any = None
    meta: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> JobUpdate:
        if not self.model_fields_set:
            raise ValueError(f"give at least one of {sorted(type(self).model_fields)}")
        return self


class StorageCreate(OpenRequestModel):
    """Body of ``POST storages/``.

    ``provider`` may be any provider code: the known ones are normalized
    (``AMAZON_S3`` -> ``amazon_s3``), new ones pass through.

    Example:
        >>> StorageCreate(name="s3", provider="AMAZON_S3").provider
        'amazon_s3'
    """

    name: NonEmptyStr
    provider: str
    configuration: dict[str, Any] = Field(default_factory=dict)
    category: StorageCategory | None = None
    is_default: bool | None = None

    @field_validator("provider", mode="before")
    @classmethod
    def _provider(cls, value: Any) -> str:
        return StorageProvider.normalize(value)
