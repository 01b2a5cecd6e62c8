"""The one progress protocol of synapse_nb: ``progress(current, total, category)``.

Uploads, exports and the upload workflow all report through :class:`ProgressCallback`.
``category`` names what advances: ``"upload"`` (bytes of a chunked upload), ``"fetch"``,
``"dataset_conversion"``, ``"upload_data_files"``, ... so one callback can drive several
bars. ``current`` never decreases within a category.

The Synapse SDK's uploads take a two-argument ``progress(sent_bytes, total_bytes)``; such a
callable is accepted wherever a :class:`ProgressCallback` is, and :func:`as_progress` adapts
it (the category is then not passed).

Example:
    >>> seen = []
    >>> report = as_progress(lambda sent, total: seen.append((sent, total)))
    >>> report(5, 10, "upload"); seen
    [(5, 10)]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias, cast

__all__ = ["AnyProgress", "ProgressCallback", "as_progress"]


class ProgressCallback(Protocol):
    """Called as work advances: ``progress(current, total, category)``.

    It is called from the thread that runs the work (never from worker threads), so a
    widget may update itself directly. An exception raised by it stops the work (an upload
    stays resumable).

    Example:
        >>> def progress(current: int, total: int, category: str) -> None:
        ...     print(f"{category}: {current}/{total}")
    """

    def __call__(self, current: int, total: int, category: str) -> None: ...


#: What a ``progress=`` argument accepts: the protocol, or the SDK's ``(sent, total)`` form.
AnyProgress: TypeAlias = ProgressCallback | Callable[[int, int], Any]


def as_progress(callback: AnyProgress | None) -> ProgressCallback | None:
    """Return ``callback`` as a :class:`ProgressCallback` (``None`` stays ``None``).

    A callable that cannot take three positional arguments but takes two is wrapped so
    that the category is dropped.

    Raises:
        TypeError: ``callback`` is not callable.

    Example:
        >>> as_progress(None) is None
        True
        >>> def three(current, total, category): ...
        >>> as_progress(three) is three
        True
    """
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError(f"progress must be callable, got {type(callback).__name__}")
    if _accepts(callback, 3) or not _accepts(callback, 2):
        return cast(ProgressCallback, callback)
    two = cast(Callable[[int, int], Any], callback)

    def adapted(current: int, total: int, category: str) -> None:
        two(current, total)

    return adapted


def _accepts(callback: Callable[..., Any], count: int) -> bool:
    try:
        inspect.signature(callback).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): assume the protocol
        return count == 3
    return True
