"""The error the health checks raise for bad input."""

from __future__ import annotations

from typing import Any

from synapse_nb.exceptions import SynapseNBError

__all__ = ["HealthInputError"]


class HealthInputError(SynapseNBError, ValueError):
    """An argument of a health check is invalid; raised before any image is read.

    Args:
        field: The argument or column at fault.
        value: The offending value (shown with ``repr``, shortened).
        problem: What is wrong with it (kept as ``problem``).

    Example:
        >>> err = HealthInputError("dark", 2.0, "must be within [0, 1]")
        >>> str(err), err.field, isinstance(err, ValueError)
        ('invalid dark=2.0: must be within [0, 1]', 'dark', True)
    """

    def __init__(self, field: str, value: Any, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"invalid {field}={shown}: {problem}")
