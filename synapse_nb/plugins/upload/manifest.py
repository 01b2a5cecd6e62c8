"""The upload manifest: what a run has uploaded and created, so a re-run resumes.

It is a JSON file beside the source folder (``<folder>.synapse-upload-<collection>.json``
by default), rewritten atomically (a temporary file in the same directory, then
:func:`os.replace`), so a crash leaves either the previous or the new version, never half
of one. Writes during the upload are throttled; anything a crash loses from the last
fraction of a second is recovered by ``verify_checksums`` on the next run.

Per file (by path relative to the source folder): size, mtime and MD5, so an unchanged file
is not hashed again, and whether it was uploaded. Per data unit (by its key): ``creating``
while a create request is in flight (a crash there is reconciled against the collection's
units on the next run), then ``created`` with the unit id (and task id).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> m = UploadManifest.open(folder / "photos.synapse-upload-2.json",
    ...                         source_dir=folder / "photos", data_collection=2)
    >>> m.mark_unit("a", "created", data_unit=11); m.save(force=True)
    >>> UploadManifest.open(m.path, source_dir=folder / "photos", data_collection=2).unit("a")
    {'state': 'created', 'data_unit': 11}
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synapse_nb.exceptions import InvalidInputError

__all__ = ["UploadManifest", "default_manifest_path"]

#: Minimum seconds between two throttled rewrites.
SAVE_INTERVAL = 0.5


def default_manifest_path(source_dir: Path, data_collection: int) -> Path:
    """``<parent>/<folder>.synapse-upload-<collection>.json``, beside the source folder.

    Example:
        >>> default_manifest_path(Path("/data/photos"), 2)
        PosixPath('/data/photos.synapse-upload-2.json')
    """
    return source_dir.parent / f"{source_dir.name}.synapse-upload-{data_collection}.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UploadManifest:
    """State of one folder's upload into one data collection.

    Use :meth:`open`; ``path=None`` keeps the state in memory only (no resume).

    Example:
        >>> UploadManifest(None, source_dir=Path("x"), data_collection=1).units
        {}
    """

    VERSION = 1

    def __init__(
        self,
        path: Path | None,
        *,
        source_dir: Path,
        data_collection: int,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.state = state or {
            "version": self.VERSION,
            "source_dir": str(source_dir),
            "data_collection": data_collection,
            "created": _now(),
            "updated": None,
            "completed": False,
            "files": {},
            "units": {},
        }
        self.resumed = state is not None
        self._dirty = False
        self._saved_at = 0.0

    @classmethod
    def open(cls, path: Path | None, *, source_dir: Path, data_collection: int) -> UploadManifest:
        """Load the manifest at ``path``, or start a new one.

        Raises:
            InvalidInputError: The file is not a manifest, or one of another folder or
                collection.

        Example:
            >>> UploadManifest.open(None, source_dir=Path("x"), data_collection=1).resumed
            False
        """
        if path is None or not path.exists():
            return cls(path, source_dir=source_dir, data_collection=data_collection)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            valid = state.get("version") == cls.VERSION and isinstance(state.get("files"), dict)
        except (OSError, ValueError, AttributeError):
            valid = False
        if not valid:
            raise InvalidInputError(
                "manifest", str(path), "is not an upload manifest (delete it or pass another)",
                method="upload",
            )  # fmt: skip
        if state.get("data_collection") != data_collection:
            raise InvalidInputError(
                "manifest",
                str(path),
                f"belongs to data collection {state.get('data_collection')}, not "
                f"{data_collection}; pass manifest= another path",
                method="upload",
            )
        if Path(state.get("source_dir", "")) != source_dir:
            raise InvalidInputError(
                "manifest",
                str(path),
                f"belongs to the folder {state.get('source_dir')!r}; pass manifest= another path",
                method="upload",
            )
        return cls(path, source_dir=source_dir, data_collection=data_collection, state=state)

    # ------------------------------------------------------------------ files
    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """``{relative path: {size, mtime_ns, checksum, uploaded}}``.

        Example:
            >>> UploadManifest(None, source_dir=Path("x"), data_collection=1).files
            {}
        """
        return self.state["files"]

    def known_checksum(self, rel: str, stat: os.stat_result) -> str | None:
        """The recorded MD5 of a file, if it has not changed since (same size and mtime).

        Example:
            >>> m = UploadManifest(None, source_dir=Path("x"), data_collection=1)
            >>> m.known_checksum("a.jpg", Path(".").stat()) is None
            True
        """
        entry = self.files.get(rel)
        if (
            entry
            and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns
        ):
            return entry.get("checksum")
        return None

    def record_file(
        self, rel: str, stat: os.stat_result, checksum: str, *, uploaded: bool | None = None
    ) -> None:
        """Record a file's checksum (and whether it is on the server).

        Example:
            >>> m = UploadManifest(None, source_dir=Path("x"), data_collection=1)
            >>> m.record_file("a.jpg", Path(".").stat(), "abc", uploaded=True)
            >>> m.files["a.jpg"]["uploaded"]
            True
        """
        entry = self.files.setdefault(rel, {})
        entry.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns, checksum=checksum)
        if uploaded is not None:
            entry["uploaded"] = uploaded
        self._dirty = True

    def mark_uploaded(self, rel: str) -> None:
        """Record that a file (already recorded with its checksum) is on the server.

        Example:
            >>> m = UploadManifest(None, source_dir=Path("x"), data_collection=1)
            >>> m.record_file("a.jpg", Path(".").stat(), "abc"); m.mark_uploaded("a.jpg")
            >>> m.files["a.jpg"]["uploaded"]
            True
        """
        self.files[rel]["uploaded"] = True
        self._dirty = True

    # ------------------------------------------------------------------ units
    @property
    def units(self) -> dict[str, dict[str, Any]]:
        """``{unit key: {state, data_unit?, task?}}``.

        Example:
            >>> UploadManifest(None, source_dir=Path("x"), data_collection=1).units
            {}
        """
        return self.state["units"]

    def unit(self, key: str) -> dict[str, Any] | None:
        """The recorded state of one unit.

        Example:
            >>> UploadManifest(None, source_dir=Path("x"), data_collection=1).unit("a") is None
            True
        """
        return self.units.get(key)

    def mark_unit(self, key: str, state: str, **fields: Any) -> None:
        """Set a unit's state (``creating``, ``created``, ``pending``) and fields.

        Example:
            >>> m = UploadManifest(None, source_dir=Path("x"), data_collection=1)
            >>> m.mark_unit("a", "creating"); m.unit("a")["state"]
            'creating'
        """
        entry = self.units.setdefault(key, {})
        entry["state"] = state
        entry.update(fields)
        self._dirty = True

    # ------------------------------------------------------------------ persistence
    def save(self, *, force: bool = False) -> None:
        """Rewrite the file atomically (throttled unless ``force``).

        Example:
            >>> UploadManifest(None, source_dir=Path("x"), data_collection=1).save(force=True)
        """
        if self.path is None or not (self._dirty or force):
            return
        if not force and time.monotonic() - self._saved_at < SAVE_INTERVAL:
            return
        self.state["updated"] = _now()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.state, out, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        self._dirty = False
        self._saved_at = time.monotonic()
