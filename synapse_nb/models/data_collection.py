"""Request bodies of the data-collection domain: data units.

Example:
    >>> unit = DataUnitCreate(data_collection=1, files={"image": {"checksum": "ab" * 16}})
    >>> unit.model_dump(mode="json", exclude_none=True)["files"]
    {'image': {'checksum': 'abababababababababababababababab'}}
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PositiveInt, field_validator

from synapse_nb.models._base import NonEmptyStr, OpenRequestModel, RequestModel

__all__ = ["DataUnitCreate", "DataUnitFile"]


class DataUnitFile(OpenRequestModel):
    """One file of a data unit, bound by the checksum ``create_data_file`` returned.

    Example:
        >>> DataUnitFile(checksum="00" * 16, path="a.jpg").path
        'a.jpg'
    """

    checksum: NonEmptyStr
    path: str | None = None


class DataUnitCreate(RequestModel):
    """Body item of ``POST data_units/`` (the keys the current Synapse SDK validates).

    ``groups`` names a hierarchy, top first; a single string becomes a one-item list.

    Example:
        >>> DataUnitCreate(data_collection=1, files={"a": {"checksum": "x"}}, groups="g").groups
        ['g']
    """

    data_collection: PositiveInt
    files: dict[NonEmptyStr, DataUnitFile] = Field(min_length=1)
    meta: dict[str, Any] | None = None
    groups: list[NonEmptyStr] | None = None

    @field_validator("groups", mode="before")
    @classmethod
    def _one_group(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
