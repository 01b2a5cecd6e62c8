"""Folders inside a storage, as plugin code on the backend's machine reaches them.

A storage (``get_storage``) is a provider and its configuration; a ``file_system`` storage's
``location`` is a folder on the backend's machine. Built-in plugins take a storage id and a
path inside it: :func:`storage_root` finds the storage's folder, :func:`inside` resolves a path
in it and :func:`check_links` looks through a folder, each refusing a path that leaves the
storage (through ``..`` or a symbolic link) with an :class:`InvalidInputError` naming the
parameter, before anything is read or written.

Example:
    >>> from pathlib import Path
    >>> _ = Path("disk/scenes").mkdir(parents=True)
    >>> disk = {"location": str(Path("disk").resolve())}
    >>> storage = backend.create_storage({"name": "Scratch disk", "provider": "file_system",
    ...                                   "configuration": disk})
    >>> root = storage_root(backend, storage["id"], method="upload")
    >>> inside(root, "/scenes", field="path", method="upload") == root / "scenes"
    True
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from synapse_nb.exceptions import InvalidInputError, NotFoundError

__all__ = ["LOCAL_PROVIDERS", "check_links", "inside", "open_folder", "relative", "storage_root"]

#: providers whose ``location`` is a folder on the backend's machine
LOCAL_PROVIDERS = frozenset({"file_system"})
ESCAPES = "leaves the storage (through '..' or a symbolic link)"
#: a folder opened to work in by descriptor: never through a link, never a file
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def storage_root(
    client: Any,
    storage_id: int,
    *,
    method: str,
    roots: Iterable[str | os.PathLike[str]] | None = None,
) -> Path:
    """The real folder of a ``file_system`` storage on this machine.

    Args:
        client: A ``BackendClient`` (a job's ``ctx.client``).
        storage_id: The storage's id.
        method: The calling plugin's name, for error messages.
        roots: The backend's storage roots (a job's ``ctx.storage_roots``): the location,
            resolved with its links followed, must be inside one of them, so a level of it
            that became a link out of the roots after the storage was created is refused.
            An empty sequence refuses every storage; None does not check (code that is not a
            job of the backend).

    Raises:
        InvalidInputError: No such storage, not a local provider, its ``location`` is not
            a folder here, or (``roots`` given) it is not inside one of them.

    Example:
        >>> s3 = backend.create_storage({"name": "S3", "provider": "amazon_s3",
        ...                              "configuration": {"bucket_name": "b"}})
        >>> try:
        ...     storage_root(backend, s3["id"], method="upload")
        ... except InvalidInputError as err:
        ...     print(err.field, "|", err.message.split(": ", 2)[2])
        storage | is an amazon_s3 storage; only file_system storages are folders on the \
backend's machine (nothing was sent)
        >>> Path("elsewhere").mkdir()
        >>> disk = backend.create_storage({"name": "Elsewhere", "provider": "file_system",
        ...     "configuration": {"location": str(Path("elsewhere").resolve())}})
        >>> try:
        ...     storage_root(backend, disk["id"], method="upload", roots=[Path("roots")])
        ... except InvalidInputError as err:
        ...     print(err.field, "|", "not inside a storage root" in err.message)
        storage | True
    """
    try:
        storage = client.get_storage(storage_id)
    except NotFoundError:
        raise InvalidInputError("storage", storage_id, "no such storage", method=method) from None
    provider = str(storage.get("provider") or "")
    if provider not in LOCAL_PROVIDERS:
        problem = (
            f"is an {provider} storage; only file_system storages are folders on the "
            "backend's machine"
        )
        raise InvalidInputError("storage", storage_id, problem, method=method)
    location = (storage.get("configuration") or {}).get("location")
    if not isinstance(location, str) or not Path(location).is_absolute():
        problem = "has no absolute 'location' in its configuration"
        raise InvalidInputError("storage", storage_id, problem, method=method)
    real = _resolved(Path(location), "storage", storage_id, method)
    if roots is not None:
        _check_roots(real, location, storage_id, roots, method)
    if not real.is_dir():
        problem = f"its location {location} is not a folder on the backend's machine"
        raise InvalidInputError("storage", storage_id, problem, method=method)
    return real


def _check_roots(
    real: Path, location: str, storage_id: int, roots: Iterable[Any], method: str
) -> None:
    """Refuse a storage whose resolved location is outside every storage root."""
    listed = [Path(root) for root in roots]
    allowed = [_resolved(root, "storage", storage_id, method) for root in listed]
    if any(_within(real, root) for root in allowed):
        return
    where = location if str(real) == location else f"{location} (resolved: {real})"
    shown = ", ".join(str(root) for root in listed) or "none"
    problem = f"its location {where} is not inside a storage root of this backend ({shown})"
    raise InvalidInputError("storage", storage_id, problem, method=method)


def _within(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def inside(root: Path, path: str, *, field: str, method: str) -> Path:
    """``path`` (relative to the storage; a leading ``/`` is its root) resolved under ``root``.

    Symbolic links along the way are followed, so a link that points out of the storage is
    refused like a ``..`` that climbs out of it. The path need not exist yet.

    Raises:
        InvalidInputError: ``path`` is not a string, holds a NUL byte, or leaves the storage.

    Example:
        >>> try:
        ...     inside(Path("/srv/data"), "exports/../../etc", field="path", method="export")
        ... except InvalidInputError as err:
        ...     print(err.message)
        export: invalid path='exports/../../etc': leaves the storage (through '..' or a \
symbolic link) (nothing was sent)
    """
    if not isinstance(path, str) or "\x00" in path:
        raise InvalidInputError(field, path, "must be a path inside the storage", method=method)
    target = _resolved(root / path.lstrip("/"), field, path, method)
    if not _within(target, root):
        raise InvalidInputError(field, path, ESCAPES, method=method)
    return target


def _resolved(path: Path, field: str, value: Any, method: str) -> Path:
    """``path.resolve()``; a link loop (or an unreadable link) is an error naming the parameter."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:
        problem = f"cannot be followed inside the storage ({type(exc).__name__})"
        raise InvalidInputError(field, value, problem, method=method) from None


def check_links(folder: Path, root: Path, *, field: str, method: str) -> None:
    """Refuse a folder holding a symbolic link (at any depth) whose target leaves ``root``.

    Links that stay inside the storage are followed and their folders checked too.

    Example:
        >>> _ = Path("box/inner").mkdir(parents=True)
        >>> Path("box/inner/out").symlink_to("/etc")
        >>> box = Path("box").resolve()
        >>> try:
        ...     check_links(box, box, field="path", method="upload")
        ... except InvalidInputError as err:
        ...     print(err.message)
        upload: invalid path='inner/out': holds a symbolic link that leaves the storage \
(nothing was sent)
    """
    seen: set[Path] = set()
    pending = [folder]
    while pending:
        current = pending.pop()
        real = _resolved(current, field, relative(current, root), method)
        if real in seen:
            continue
        seen.add(real)
        with os.scandir(current) as entries:
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink() and not _within(
                    _resolved(path, field, relative(path, root), method), root
                ):
                    problem = "holds a symbolic link that leaves the storage"
                    raise InvalidInputError(field, relative(path, root), problem, method=method)
                if entry.is_dir():  # follows a link, now known to stay inside
                    pending.append(path)


def open_folder(root: Path, path: str, *, field: str, method: str) -> int:
    """A descriptor of the folder ``path`` under ``root``, creating the missing levels.

    Each level is created (``os.mkdir``) and opened relative to the descriptor of the level
    above it, and opened without following a link: a symbolic link found at any level, even
    one swapped in after ``path`` was checked with :func:`inside`, is refused before anything
    is created through it. Give ``path`` as :func:`inside` resolved it (see
    :func:`relative`). The caller closes the descriptor (``os.close``).

    Raises:
        InvalidInputError: A level of ``path`` is a symbolic link, a file, or ``..``.

    Example:
        >>> root = Path("store").resolve()
        >>> root.mkdir()
        >>> fd = open_folder(root, "exports/coco", field="path", method="export")
        >>> os.close(fd); (root / "exports" / "coco").is_dir()
        True
        >>> (root / "exports" / "link").symlink_to(root)
        >>> try:
        ...     open_folder(root, "exports/link/x", field="path", method="export")
        ... except InvalidInputError as err:
        ...     print(err.message)
        export: invalid path='exports/link/x': has a symbolic link or a file at 'exports/link' \
(nothing was sent)
    """
    fd = os.open(root, _FOLDER_FLAGS)
    done: list[str] = []
    try:
        for part in (p for p in path.split("/") if p not in ("", ".")):
            done.append(part)
            if part == "..":
                raise InvalidInputError(field, path, ESCAPES, method=method)
            child = _open_level(fd, part, path, "/".join(done), field, method)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_level(parent: int, name: str, path: str, where: str, field: str, method: str) -> int:
    """The sub-folder ``name`` of the folder open as ``parent`` (created when missing), opened
    without following a link."""
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, dir_fd=parent)
        return os.open(name, _FOLDER_FLAGS, dir_fd=parent)
    except OSError as exc:  # ELOOP: a link; ENOTDIR: a file (or a link, on some systems)
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise
        problem = f"has a symbolic link or a file at {where!r}"
        raise InvalidInputError(field, path, problem, method=method) from None


def relative(path: Path, root: Path) -> str:
    """``path`` as the storage names it (``/``-separated, relative to its root; ``""`` for it).

    Example:
        >>> relative(Path("/srv/data/exports/a.zip"), Path("/srv/data"))
        'exports/a.zip'
    """
    rel = path.relative_to(root).as_posix()
    return "" if rel == "." else rel
