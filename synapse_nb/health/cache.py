"""A cache of image measurements keyed by content hash, in memory or in a directory.

Re-running the checks after a few images changed re-reads every file (hashing bytes is cheap)
but decodes and measures only the images whose content hash the cache does not hold. Keys
also carry the measuring settings (thumbnail size and measure version), so a run with other
settings never reads stale scores. With a ``directory``, :meth:`HealthCache.save` writes the
entries to one Parquet file there (atomically) and a new cache on the same directory loads
them.

Example:
    >>> from synapse_nb.health.cache import HealthCache
    >>> from synapse_nb.health.measure import ImageMeasure
    >>> cache = HealthCache()
    >>> cache.put("abc", ImageMeasure(4, 3, 7, 0.5, 0.1, 0.8, 120.0, 6.5))
    >>> cache.get("abc").width, cache.get("zzz"), len(cache)
    (4, None, 1)
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import pandas as pd

from synapse_nb.health.measure import ImageMeasure

__all__ = ["HealthCache"]

_FILE = "image_measures.parquet"


class HealthCache:
    """Image measurements by key; optionally persisted in ``directory``.

    Args:
        directory: Where :meth:`save` writes and the constructor loads the entries; None
            keeps them in memory only.

    Attributes:
        computed: How many measurements were stored with :meth:`put` since creation (the
            images that were decoded and measured).
        hits: How many :meth:`get` calls found an entry.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._entries: dict[str, ImageMeasure] = {}
        self._lock = threading.Lock()
        self.computed = 0
        self.hits = 0
        if self.directory is not None and (self.directory / _FILE).exists():
            self._load(self.directory / _FILE)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        where = str(self.directory) if self.directory is not None else "memory"
        return f"HealthCache({len(self)} entries, {where})"

    def get(self, key: str) -> ImageMeasure | None:
        """The measurement stored under ``key``, or None."""
        found = self._entries.get(key)
        if found is not None:
            with self._lock:
                self.hits += 1
        return found

    def put(self, key: str, measure: ImageMeasure) -> None:
        """Store a fresh measurement (counted in :attr:`computed`)."""
        with self._lock:
            self._entries[key] = measure
            self.computed += 1

    def save(self) -> Path | None:
        """Write the entries to ``directory`` (no-op in memory); returns the file written.

        Example:
            >>> import tempfile
            >>> from synapse_nb.health.measure import ImageMeasure
            >>> folder = tempfile.mkdtemp()
            >>> cache = HealthCache(folder)
            >>> cache.put("k", ImageMeasure(4, 3, 2**63, 0.5, 0.1, 0.8, float("nan"), 6.5))
            >>> _ = cache.save()
            >>> HealthCache(folder).get("k").phash == 2**63
            True
        """
        if self.directory is None:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            items = list(self._entries.items())
        names = ImageMeasure.field_names()
        frame = pd.DataFrame([m.as_tuple() for _, m in items], columns=list(names))
        frame["phash"] = frame["phash"].astype("uint64")
        frame.insert(0, "key", [k for k, _ in items])
        target = self.directory / _FILE
        partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        frame.to_parquet(partial, index=False)
        os.replace(partial, target)
        return target

    def _load(self, path: Path) -> None:
        names = ImageMeasure.field_names()
        try:
            frame = pd.read_parquet(path, columns=["key", *names])
        except Exception as err:  # a damaged or foreign file costs a re-measure, not a crash
            warnings.warn(f"ignoring the unreadable health cache {path}: {err}", stacklevel=3)
            return
        columns = [frame["key"].tolist()] + [frame[n].tolist() for n in names]
        for key, *values in zip(*columns, strict=True):
            self._entries[str(key)] = ImageMeasure(
                int(values[0]), int(values[1]), int(values[2]), *map(float, values[3:])
            )
