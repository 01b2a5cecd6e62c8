"""Base of the request models: strict, and failing with the client's own error type.

Example:
    >>> class Body(RequestModel):
    ...     project: int = pydantic.Field(gt=0)
    >>> build_body(Body, {"project": 3}, method="demo")
    {'project': 3}
    >>> try:
    ...     build_body(Body, {"project": 0}, method="demo")
    ... except InvalidInputError as e:
    ...     print(e)
    demo: invalid project=0: Input should be greater than 0 (nothing was sent)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, StringConstraints

from synapse_nb._transport import refuse_nonfinite
from synapse_nb.exceptions import InvalidInputError

__all__ = ["Code", "NonEmptyStr", "OpenRequestModel", "RequestModel", "build_body"]

#: A non-empty, stripped string.
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
#: A slug-like code (plugin codes, provider codes).
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,199}$")]

M = TypeVar("M", bound=BaseModel)


class RequestModel(BaseModel):
    """A request body whose fields are all known: unknown keys are rejected."""

    # NaN and infinities stay numbers in the body (pydantic's default writes null in their
    # place without a word), so the transport refuses them by name before sending
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, validate_default=False, ser_json_inf_nan="constants"
    )


class OpenRequestModel(BaseModel):
    """A request body with typed known fields that also passes extra keys through.

    Used where the Synapse SDK sends keys beyond the known ones (e.g. ``project`` in
    ``create_model``) and the backend accepts them.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, ser_json_inf_nan="constants")


def validate(model: type[M], data: Any, *, method: str, field: str = "data") -> M:
    """Validate ``data`` against ``model``, raising :class:`InvalidInputError` on failure.

    The error names the offending field (dotted, prefixed with ``field`` when nested) and
    the value that was given.

    A NaN or an infinity anywhere in ``data`` is refused the same way, named by its path
    in ``data`` (JSON has neither; the request models keep them as numbers so that nothing
    replaces them silently).

    Example:
        >>> validate(RequestModel, {}, method="x")
        RequestModel()
        >>> try:
        ...     validate(RequestModel, {"metrics": {"map": float("nan")}}, method="update_model")
        ... except InvalidInputError as err:
        ...     print(err.field)
        data['metrics']['map']
    """
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_unset=True)
    if not isinstance(data, Mapping):
        raise InvalidInputError(field, data, "must be a dict", method=method)
    refuse_nonfinite(data, method=method, field=field)
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        raise _as_input_error(exc, method) from None


def build_body(model: type[BaseModel], data: Any, *, method: str, field: str = "data") -> Any:
    """Validate ``data`` and return the JSON-ready body (``None`` fields dropped).

    Example:
        >>> build_body(RequestModel, {}, method="x")
        {}
    """
    return validate(model, data, method=method, field=field).model_dump(
        mode="json", exclude_none=True
    )


def _as_input_error(exc: pydantic.ValidationError, method: str) -> InvalidInputError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"]) or "data"
    problem = first["msg"]
    if len(errors) > 1:
        others = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in errors[1:4]
        )
        problem = f"{problem} (also {others})"
    value = first.get("input")
    if first["type"] == "missing":
        value = None
    err = InvalidInputError(loc, value, problem, method=method)
    err.response = {(".".join(str(p) for p in e["loc"]) or "data"): [e["msg"]] for e in errors}
    return err
