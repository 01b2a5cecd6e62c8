"""Request bodies of the ML domain: models.

Example:
    >>> ModelCreate.model_fields["name"].is_required()
    True
"""

from __future__ import annotations

from typing import Any

from pydantic import PositiveInt

from synapse_nb.models._base import Code, NonEmptyStr, OpenRequestModel

__all__ = ["ModelCreate"]


class ModelCreate(OpenRequestModel):
    """Body of ``POST models/`` once the file is uploaded (extra keys such as ``project``
    pass through, as in the Synapse SDK).

    Example:
        >>> ModelCreate(name="m", chunked_upload="u1", project=3).model_dump(exclude_none=True)
        {'name': 'm', 'chunked_upload': 'u1', 'project': 3}
    """

    name: NonEmptyStr
    chunked_upload: PositiveInt | Code
    plugin: PositiveInt | Code | None = None
    version: NonEmptyStr | None = None
    checkpoint: Any = None
    configuration: dict[str, Any] | None = None
    description: str | None = None
