"""The error of the importers: bad labelled input, named by file and field.

Example:
    >>> err = ImportFormatError("preds.json", "results[2].score", "high", "is not a number")
    >>> str(err)
    "preds.json: results[2].score = 'high' is not a number"
    >>> err.source, err.field
    ('preds.json', 'results[2].score')
"""

from __future__ import annotations

from typing import Any

from synapse_nb.exceptions import ClientError, InvalidInputError

__all__ = ["ImportFormatError"]

_NOTHING = object()


class ImportFormatError(InvalidInputError):
    """Labelled input that cannot be imported; says which file, which field and which value.

    Raised before anything is sent to the server or written. An
    :class:`~synapse_nb.exceptions.InvalidInputError` (so a ``ClientError`` and a
    ``ValueError``) whose message starts with the file.

    Attributes:
        source: The file (or ``"<object>"``) the problem is in.
        field: The field, e.g. ``results[3].category_id``.
        value: The offending value (``None`` when the problem is a missing field).

    Example:
        >>> err = ImportFormatError("a.json", "format", None, "is unknown")
        >>> isinstance(err, ValueError), isinstance(err, ClientError), err.response
        (True, True, {'format': ['is unknown']})
    """

    def __init__(self, source: str, field: str, value: Any = _NOTHING, why: str = "") -> None:
        self.source = source
        self.field = field
        self.value = None if value is _NOTHING else value
        shown = "" if value is _NOTHING else f" = {_short(value)}"
        message = f"{source}: {field}{shown} {why}".rstrip()
        # the ClientError fields, with the message the importers have always given
        ClientError.__init__(self, 400, {field: [why or "is invalid"]}, message=message)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
