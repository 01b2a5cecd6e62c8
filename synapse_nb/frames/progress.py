"""Progress bars of ``list_all`` frame listings (tqdm; a widget in Jupyter).

A listing's ``progress=`` option is True (always a bar), None (a bar over
:data:`PROGRESS_MIN_ROWS` rows), False (never) or a callable ``(rows_so_far, count)``.

Example:
    >>> with progress_options("list_tasks", {"progress": False}, None) as options:
    ...     options
    {}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from synapse_nb.exceptions import InvalidInputError

__all__ = ["PROGRESS_MIN_ROWS", "ListingBar", "check_progress", "progress_options"]

#: ``list_all`` listings of more rows than this show a progress bar (``progress=None``)
PROGRESS_MIN_ROWS = 20_000


def check_progress(value: Any, method: str) -> None:
    """Raise unless ``value`` is a valid ``progress=`` option.

    Example:
        >>> check_progress(True, "list_tasks")
        >>> check_progress("yes", "list_tasks")
        Traceback (most recent call last):
        ...
        synapse_nb.exceptions.InvalidInputError: list_tasks: invalid progress='yes': must be \
True, False, None or callable(rows_so_far, count) (nothing was sent)
    """
    if value is not None and not isinstance(value, bool) and not callable(value):
        raise InvalidInputError(
            "progress",
            value,
            "must be True, False, None or callable(rows_so_far, count)",
            method=method,
        )


class ListingBar:
    """A tqdm bar fed by the page walker's ``progress(rows_so_far, count)`` calls.

    Created on the first page, once the server's count is known: a listing of at most
    :data:`PROGRESS_MIN_ROWS` rows (unless ``always``) never shows one. The bar goes away
    when the listing ends (the frame's repr says how many rows it holds).

    Example:
        >>> bar = ListingBar("list_tasks")
        >>> bar(100, 240); bar.close()   # a small listing: no bar at all
        >>> bar.bar is None
        True
    """

    def __init__(self, method: str, *, always: bool = False) -> None:
        self.method = method
        self.always = always
        self.bar: Any = None
        self._decided = False

    def __call__(self, rows: int, count: int | None) -> None:
        if not self._decided:
            self._decided = True
            if self.always or (count is not None and count > PROGRESS_MIN_ROWS):
                from tqdm.auto import tqdm  # lazy: only listings that show a bar import it

                self.bar = tqdm(total=count, desc=self.method, unit=" rows", leave=False)
        if self.bar is not None:
            self.bar.update(rows - self.bar.n)

    def close(self) -> None:
        """Remove the bar (if one was shown)."""
        if self.bar is not None:
            self.bar.close()


@contextmanager
def progress_options(
    method: str, page_options: Mapping[str, Any], default: bool | None
) -> Iterator[dict[str, Any]]:
    """``page_options`` with the ``progress`` callback this listing should use.

    ``progress=`` of the call wins over ``default`` (the client's setting): a callable is
    passed on as is; True/None/False pick a tqdm bar (always / over
    :data:`PROGRESS_MIN_ROWS` rows / never), closed when the listing ends, however it ends.

    Example:
        >>> with progress_options("list_tasks", {}, None) as options:
        ...     type(options["progress"]).__name__
        'ListingBar'
    """
    options = dict(page_options)
    wanted = options.pop("progress", default)
    check_progress(wanted, method)
    if callable(wanted):
        options["progress"] = wanted
        yield options
        return
    if wanted is False:
        yield options
        return
    bar = ListingBar(method, always=wanted is True)
    options["progress"] = bar
    try:
        yield options
    finally:
        bar.close()
