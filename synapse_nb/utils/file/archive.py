"""Archives: create a ZIP with :func:`archive`; extract a ZIP or tar safely with :func:`unarchive`.

Extraction is all or nothing. Every member is checked before a byte is written: a name that
is absolute, contains ``..`` or appears twice; a symlink whose target -- followed link by
link, through the archive's other links and the symlinks already in the target directory --
leaves the target; a member written through a symlink member; hard links and device files.
The sizes the archive declares are checked against :class:`ArchiveLimits` (total size,
compression ratio, member count). Then everything is extracted into a temporary directory
beside the target, counting the bytes really written, and moved into place only when all of
it passed. A refused archive raises :class:`~synapse_nb.exceptions.UnsafeArchiveError` (or
its :class:`~synapse_nb.exceptions.ArchiveLimitError`) and leaves the target untouched.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Literal

from synapse_nb.exceptions import ArchiveLimitError, UnsafeArchiveError

__all__ = ["ArchiveLimitError", "ArchiveLimits", "UnsafeArchiveError", "archive", "unarchive"]

_COPY_BLOCK = 1024 * 1024
_MAX_LINK_HOPS = 40
_MAX_LINK_TARGET = 4096


@dataclass(frozen=True)
class ArchiveLimits:
    """What :func:`unarchive` accepts; an archive beyond any limit is refused whole.

    Args:
        max_members: Most members (files, directories and links).
        max_total_size: Most bytes of all members together, uncompressed.
        max_ratio: Largest ratio of uncompressed size to archive size, checked once the
            uncompressed size passes ``ratio_floor`` (small archives of text compress well).
        ratio_floor: Uncompressed bytes below which the ratio is not checked.

    Example:
        >>> ArchiveLimits(max_members=10).max_ratio
        200.0
    """

    max_members: int = 100_000
    max_total_size: int = 4 * 1024**3
    max_ratio: float = 200.0
    ratio_floor: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("max_members", "max_total_size", "max_ratio", "ratio_floor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"ArchiveLimits.{name} must be a positive number, got {value!r}")
        object.__setattr__(self, "max_ratio", float(self.max_ratio))


def archive(
    input_path: str | PathLike[str], output_path: str | PathLike[str], append: bool = False
) -> Path:
    """Write a file or a directory tree into a ZIP archive.

    A single file is stored under its own name. A directory is stored with its own name as
    the top folder (``data/a.txt`` for ``archive("data", ...)``), as in the Synapse SDK. Symlinks
    inside the tree are stored as the files they point to, but only if they point inside
    the tree; a link to elsewhere is an error, so an archive never carries outside files.
    The archive is written to a temporary file and moved into place, so a failure leaves
    no half-written ZIP.

    Args:
        input_path: File or directory to archive.
        output_path: Path of the ZIP file to write.
        append: Add to an existing archive instead of replacing it.

    Returns:
        The path of the archive.

    Raises:
        FileNotFoundError: If ``input_path`` does not exist.
        ValueError: If a symlink in the tree points outside it.

    Example:
        >>> import zipfile
        >>> (tmp / "my_plugin").mkdir()
        >>> _ = (tmp / "my_plugin" / "config.yaml").write_text("name: my-plugin\\n")
        >>> zipped = archive(tmp / "my_plugin", tmp / "dist" / "my_plugin.zip")
        >>> zipped.relative_to(tmp).as_posix(), zipfile.ZipFile(zipped).namelist()
        ('dist/my_plugin.zip', ['my_plugin/config.yaml'])
    """
    source = Path(input_path)
    target = Path(output_path)
    if not source.exists():
        raise FileNotFoundError(f"input_path does not exist: {str(source)!r}")
    entries = _collect_entries(source, exclude=target)

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        mode: Literal["w", "a"] = "w"
        if append and target.exists():
            shutil.copyfile(target, tmp)
            mode = "a"
        with zipfile.ZipFile(tmp, mode=mode, compression=zipfile.ZIP_DEFLATED) as zf:
            for file_path, arcname in entries:
                zf.write(file_path, arcname)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _collect_entries(source: Path, exclude: Path) -> list[tuple[Path, str]]:
    if source.is_file():
        return [(source, source.name)]
    root = source.resolve()
    excluded = exclude.resolve() if exclude.exists() else exclude.absolute()
    entries: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if Path(dirpath, d).is_symlink()]:
            path = Path(dirpath, name)
            resolved = path.resolve()
            if resolved == excluded:
                continue
            if path.is_symlink() and not resolved.exists():
                raise ValueError(f"symlink {str(path)!r} is broken; refusing to archive it")
            if path.is_symlink() and not resolved.is_relative_to(root):
                raise ValueError(
                    f"symlink {str(path)!r} points outside {str(source)!r} "
                    f"(to {str(resolved)!r}); refusing to archive it"
                )
            if resolved.is_file():
                entries.append((path, path.relative_to(source.parent).as_posix()))
    return entries


def unarchive(
    file_path: str | PathLike[str],
    output_path: str | PathLike[str],
    *,
    limits: ArchiveLimits | None = None,
    links: bool = True,
) -> Path:
    """Extract a ZIP or tar archive (plain, gz, bz2, xz) into a directory, all or nothing.

    Every member is checked first (see the module docs): absolute names, drive letters,
    ``..`` components, duplicate names, symlinks whose target leaves the directory when
    followed (through other links of the archive and symlinks already in the directory),
    members written through a symlink member, hard links and device files, and the
    :class:`ArchiveLimits`. The archive is then extracted into a temporary directory and
    moved into place only when all of it passed, so a refused archive writes nothing.
    Safe symlink members are recreated as symlinks.

    Args:
        file_path: Path of the archive.
        output_path: Directory to extract into (created if missing; existing files of the
            same name are replaced).
        limits: Limits on size, ratio and member count (default :class:`ArchiveLimits`).
        links: Whether safe symlink members are allowed; with ``False`` any symlink member
            refuses the whole archive (for code that will run, such as plugin releases).

    Returns:
        The extraction directory.

    Raises:
        FileNotFoundError: If the archive does not exist.
        zipfile.BadZipFile: If the file is neither a ZIP nor a tar archive.
        UnsafeArchiveError: If a member would escape ``output_path`` or is not allowed.
        ArchiveLimitError: If the archive exceeds a limit; ``limit`` names it.

    Example:
        >>> _ = (tmp / "src").mkdir(), (tmp / "src" / "a.txt").write_text("hi")
        >>> out = unarchive(archive(tmp / "src", tmp / "src.zip"), tmp / "out")
        >>> (out / "src" / "a.txt").read_text()
        'hi'
    """
    archive_path = Path(file_path)
    if not archive_path.is_file():
        raise FileNotFoundError(f"archive not found: {str(archive_path)!r}")
    limits = limits or ArchiveLimits()
    out = Path(output_path).absolute()
    with _open_members(archive_path) as members:
        if not links:
            for member in members:
                if member.kind == "link":
                    raise UnsafeArchiveError(member.name, "is a symlink; links are not allowed")
        plan = _Plan(members, out, limits, archive_path.stat().st_size)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.unarchive-", dir=out.parent))
        try:
            _extract(plan, staging, limits)
            _move_into_place(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Path(output_path)


# --------------------------------------------------------------------------- members
@dataclass
class _Member:
    name: str
    kind: str  # "file", "dir" or "link"
    size: int
    open: Callable[[], IO[bytes]]
    link: str | None = None


@contextmanager
def _open_members(path: Path) -> Iterator[list[_Member]]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            yield [_zip_member(zf, info) for info in zf.infolist()]
    elif tarfile.is_tarfile(path):
        with tarfile.open(path, "r:*") as tf:
            yield [_tar_member(tf, info) for info in tf.getmembers()]
    else:
        raise zipfile.BadZipFile(f"{str(path)!r} is neither a ZIP nor a tar archive")


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    def opener() -> IO[bytes]:
        return zf.open(info)

    if stat.S_ISLNK(info.external_attr >> 16):
        if info.file_size > _MAX_LINK_TARGET:
            raise UnsafeArchiveError(info.filename, "symlink target is too long")
        return _Member(info.filename, "link", 0, opener, zf.read(info).decode("utf-8"))
    kind = "dir" if info.is_dir() else "file"
    return _Member(info.filename, kind, info.file_size, opener)


def _tar_member(tf: tarfile.TarFile, info: tarfile.TarInfo) -> _Member:
    def opener() -> IO[bytes]:
        handle = tf.extractfile(info)
        if handle is None:
            raise UnsafeArchiveError(info.name, "has no content to extract")
        return handle

    if info.issym():
        return _Member(info.name, "link", 0, opener, info.linkname)
    if info.isdir():
        return _Member(info.name, "dir", 0, opener)
    if info.isfile():
        return _Member(info.name, "file", info.size, opener)
    what = "a hard link" if info.islnk() else "a device, FIFO or other special file"
    raise UnsafeArchiveError(info.name, f"is {what}; only files, directories and symlinks")


# --------------------------------------------------------------------------- checks
class _Plan:
    """Every member checked against the names, the links and the limits, before writing."""

    def __init__(self, members: list[_Member], root: Path, limits: ArchiveLimits, size: int):
        if len(members) > limits.max_members:
            raise ArchiveLimitError(
                "max_members", f"{len(members)} members, the limit is {limits.max_members}"
            )
        self.root = root
        self.items: list[tuple[_Member, PurePosixPath]] = []
        self.links: dict[PurePosixPath, str] = {}
        kinds: dict[PurePosixPath, str] = {}
        for member in members:
            rel = _safe_relative_name(member.name)
            seen = kinds.get(rel)
            if seen is not None and not (seen == "dir" and member.kind == "dir"):
                raise UnsafeArchiveError(member.name, "appears twice in the archive")
            kinds[rel] = member.kind
            if member.kind == "link":
                self.links[rel] = member.link or ""
            self.items.append((member, rel))
        _check_sizes(members, limits, size)
        for member, rel in self.items:
            self._check(member, rel)

    def _check(self, member: _Member, rel: PurePosixPath) -> None:
        for parent in rel.parents:
            if parent in self.links:
                raise UnsafeArchiveError(member.name, "would be written through a symlink member")
        dest = self.root.joinpath(*rel.parts)
        if member.kind != "link":
            self._resolve(member.name, rel.parts)
        if member.kind == "link":
            self._resolve(member.name, rel.parent.parts)  # the directory it lands in
            target = member.link or ""
            if PurePosixPath(target).is_absolute() or PureWindowsPath(target).drive or not target:
                raise UnsafeArchiveError(member.name, f"symlink to absolute path {target!r}")
            if dest.exists() or dest.is_symlink():
                raise UnsafeArchiveError(member.name, "symlink would replace an existing path")
            try:
                self._resolve(member.name, (*rel.parent.parts, *PurePosixPath(target).parts))
            except UnsafeArchiveError:
                raise UnsafeArchiveError(
                    member.name, f"symlink target {target!r} leaves the target directory"
                ) from None
        elif member.kind == "file" and dest.is_dir() and not dest.is_symlink():
            raise UnsafeArchiveError(member.name, "would replace an existing directory")

    def _resolve(self, name: str, parts: tuple[str, ...]) -> list[str]:
        """Follow ``parts`` from the root as the filesystem will, refusing any escape.

        Links are the archive's own (as they will be) and those already on disk; each is
        followed where it stands, so a chain of links that are each harmless as text but
        climb out together is caught.
        """
        stack: list[str] = []
        queue = list(parts)
        hops = 0
        while queue:
            part = queue.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not stack:
                    raise UnsafeArchiveError(name, "resolves outside the target directory")
                stack.pop()
                continue
            stack.append(part)
            target = self._link_at(stack)
            if target is None:
                continue
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise UnsafeArchiveError(name, "symlinks form a loop")
            stack.pop()
            if os.path.isabs(target):
                stack = self._inside(name, Path(os.path.realpath(target)))
            else:
                queue = list(PurePosixPath(target).parts) + queue
        return stack

    def _link_at(self, stack: list[str]) -> str | None:
        rel = PurePosixPath(*stack)
        if rel in self.links:
            return self.links[rel]
        disk = self.root.joinpath(*stack)
        return os.readlink(disk) if disk.is_symlink() else None

    def _inside(self, name: str, real: Path) -> list[str]:
        root = Path(os.path.realpath(self.root))
        if not real.is_relative_to(root):
            raise UnsafeArchiveError(name, "resolves outside the target directory")
        return list(real.relative_to(root).parts)


def _check_sizes(members: list[_Member], limits: ArchiveLimits, archive_size: int) -> None:
    total = sum(m.size for m in members)
    if total > limits.max_total_size:
        raise ArchiveLimitError(
            "max_total_size",
            f"{total} bytes uncompressed, the limit is {limits.max_total_size}",
        )
    ratio = total / max(archive_size, 1)
    if total > limits.ratio_floor and ratio > limits.max_ratio:
        raise ArchiveLimitError(
            "max_ratio",
            f"{archive_size} bytes unpack to {total} (ratio {ratio:.0f}), "
            f"the limit is {limits.max_ratio:.0f}",
        )


# --------------------------------------------------------------------------- writing
def _extract(plan: _Plan, staging: Path, limits: ArchiveLimits) -> None:
    written = 0
    for member, rel in plan.items:
        dest = staging.joinpath(*rel.parts)
        if member.kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
        elif member.kind == "file":
            dest.parent.mkdir(parents=True, exist_ok=True)
            with member.open() as src, open(dest, "wb") as dst:
                while block := src.read(_COPY_BLOCK):
                    written += len(block)
                    if written > limits.max_total_size:
                        raise ArchiveLimitError(
                            "max_total_size",
                            f"more than {limits.max_total_size} bytes uncompressed",
                        )
                    dst.write(block)
    # Links last, so no regular member is ever written through one.
    for member, rel in plan.items:
        if member.kind == "link":
            dest = staging.joinpath(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(member.link or "", dest)


def _move_into_place(staging: Path, out: Path) -> None:
    if not out.exists() and not out.is_symlink():
        os.rename(staging, out)
        staging.mkdir()  # the caller removes the (now empty) staging directory
        return
    for dirpath, dirnames, filenames in os.walk(staging):
        here = Path(dirpath)
        target_dir = out / here.relative_to(staging)
        for name in list(dirnames):
            source = here / name
            if source.is_symlink():
                os.replace(source, target_dir / name)
                dirnames.remove(name)
            else:
                (target_dir / name).mkdir(exist_ok=True)
        for name in filenames:
            os.replace(here / name, target_dir / name)


def _safe_relative_name(name: str) -> PurePosixPath:
    # Backslashes count as separators: archives made on Windows use them.
    normalised = name.replace("\\", "/")
    if not normalised or normalised.startswith("/") or PureWindowsPath(name).drive:
        raise UnsafeArchiveError(name, "absolute path")
    parts = [p for p in PurePosixPath(normalised).parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(name, "contains '..'")
    if not parts:
        raise UnsafeArchiveError(name, "empty name")
    return PurePosixPath(*parts)
