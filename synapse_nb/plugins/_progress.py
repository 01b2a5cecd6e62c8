"""Progress reporting shared by the export and upload workflows.

A workflow reports progress through the package's one
:class:`~synapse_nb._progress.ProgressCallback`, ``progress(current, total, category)``, the
shape of the Synapse SDK's ``run.set_progress(current, total, category=...)``. ``category``
names the phase
(``"fetch"``, ``"dataset_conversion"``, ``"upload_data_files"``, ...), so one callback can
drive several bars. With no callback, tqdm shows one bar per category; ``progress=False``
shows nothing. An exception raised by a callback stops the workflow (an upload stays
resumable from its manifest).

Example:
    >>> seen = []
    >>> reporter = ProgressReporter(lambda cur, tot, cat: seen.append((cat, cur, tot)),
    ...                             method="export")
    >>> reporter.set_progress(1, 2, "fetch"); reporter.close()
    >>> seen
    [('fetch', 1, 2)]
"""

from __future__ import annotations

from typing import Any

from synapse_nb._progress import AnyProgress, ProgressCallback, as_progress
from synapse_nb.exceptions import InvalidInputError

__all__ = ["ProgressCallback", "ProgressReporter"]


class ProgressReporter:
    """Sends progress to a :class:`ProgressCallback`, or to tqdm bars when none is given.

    Args:
        progress: A callback, ``None`` for tqdm bars, or ``False`` for silence.
        method: Name of the calling workflow, for the error message of a bad argument.

    Example:
        >>> quiet = ProgressReporter(False, method="upload")
        >>> quiet.set_progress(3, 10, "upload_data_files"); quiet.close()
    """

    def __init__(self, progress: AnyProgress | bool | None, *, method: str) -> None:
        if progress is True:
            progress = None
        if progress is not None and progress is not False and not callable(progress):
            raise InvalidInputError(
                "progress",
                progress,
                "must be callable(current, total, category), None (tqdm bars) or False",
                method=method,
            )
        self._callback: ProgressCallback | None = (
            as_progress(progress) if callable(progress) else None
        )
        self._use_tqdm = progress is None
        self._bars: dict[str, Any] = {}
        self._last: dict[str, int] = {}

    def set_progress(self, current: int, total: int, category: str) -> None:
        """Report ``current`` of ``total`` in ``category``.

        Example:
            >>> ProgressReporter(False, method="export").set_progress(0, 5, "fetch")
        """
        current = max(int(current), self._last.get(category, 0))
        self._last[category] = current
        if self._callback is not None:
            self._callback(current, int(total), category)
        elif self._use_tqdm:
            self._tqdm(current, int(total), category)

    def _tqdm(self, current: int, total: int, category: str) -> None:
        bar = self._bars.get(category)
        if bar is None:
            from tqdm.auto import tqdm

            bar = self._bars[category] = tqdm(total=total, desc=category, unit="item")
        if bar.total != total:
            bar.total = total
        bar.update(current - bar.n)

    def close(self) -> None:
        """Close the tqdm bars (callbacks need no closing).

        Example:
            >>> ProgressReporter(False, method="export").close()
        """
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
