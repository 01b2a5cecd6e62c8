"""ZIP archives: create with :func:`archive`, extract safely with :func:`unarchive`.

Extraction refuses "zip slip" archives: a member whose name is absolute, contains ``..``,
or would land outside the target through a symlink (one in the archive, or one already in
the target directory) is rejected with :class:`UnsafeArchiveError` *before* anything is
written.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from os import PathLike
from pathlib import Path, PurePosixPath, PureWindowsPath

from synapse_nb.exceptions import UnsafeArchiveError

__all__ = ["UnsafeArchiveError", "archive", "unarchive"]


def archive(
    input_path: str | PathLike[str], output_path: str | PathLike[str], append: bool = False
) -> Path:
    """Write a file or a directory tree into a ZIP archive.

    A single file is stored under its own name. A directory is stored with its own name as
    the top folder (``data/a.txt`` for ``archive("data", ...)``), as in the seed. Symlinks
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
        >>> archive("my_plugin", "dist/my_plugin.zip")  # doctest: +SKIP
        PosixPath('dist/my_plugin.zip')
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
        mode = "w"
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


def unarchive(file_path: str | PathLike[str], output_path: str | PathLike[str]) -> Path:
    """Extract a ZIP archive into a directory, refusing zip-slip members.

    Every member is checked first: absolute names, drive letters, ``..`` components,
    symlink members whose target leaves the directory, and members that would pass
    through an existing symlink to elsewhere are all rejected. If any member is unsafe,
    nothing is written. Safe symlink members are recreated as symlinks.

    Args:
        file_path: Path of the ZIP file.
        output_path: Directory to extract into (created if missing).

    Returns:
        The extraction directory.

    Raises:
        FileNotFoundError: If the archive does not exist.
        zipfile.BadZipFile: If the file is not a ZIP archive.
        UnsafeArchiveError: If a member would escape ``output_path``.

    Example:
        >>> unarchive("dist/my_plugin.zip", "/tmp/plugin")  # doctest: +SKIP
        PosixPath('/tmp/plugin')
    """
    archive_path = Path(file_path)
    if not archive_path.is_file():
        raise FileNotFoundError(f"archive not found: {str(archive_path)!r}")
    out = Path(output_path)
    with zipfile.ZipFile(archive_path) as zf:
        members = zf.infolist()
        plan = _plan_extraction(zf, members, out.resolve())
        out.mkdir(parents=True, exist_ok=True)
        links: list[tuple[Path, str]] = []
        for info, dest, link_target in plan:
            if link_target is not None:
                links.append((dest, link_target))
            elif info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        # Links last, so no regular member is ever written through one.
        for dest, link_target in links:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(link_target, dest)
    return out


def _plan_extraction(
    zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], root: Path
) -> list[tuple[zipfile.ZipInfo, Path, str | None]]:
    plan: list[tuple[zipfile.ZipInfo, Path, str | None]] = []
    link_paths: set[Path] = set()
    for info in members:
        rel = _safe_relative_name(info.filename)
        dest = root.joinpath(*rel.parts)
        # resolve() follows symlinks already on disk, catching a pre-existing escape hatch.
        if not dest.resolve().is_relative_to(root):
            raise UnsafeArchiveError(info.filename, "resolves outside the target directory")
        link_target = None
        if stat.S_ISLNK(info.external_attr >> 16):
            link_target = zf.read(info).decode("utf-8")
            if PurePosixPath(link_target).is_absolute() or PureWindowsPath(link_target).drive:
                raise UnsafeArchiveError(info.filename, f"symlink to absolute path {link_target!r}")
            pointed = Path(os.path.normpath(dest.parent / link_target))
            if not pointed.is_relative_to(root):
                raise UnsafeArchiveError(
                    info.filename, f"symlink target {link_target!r} leaves the target directory"
                )
            if dest.exists() or dest.is_symlink():
                raise UnsafeArchiveError(info.filename, "symlink would replace an existing path")
            link_paths.add(dest)
        plan.append((info, dest, link_target))
    for _, dest, _ in plan:
        for parent in dest.parents:
            if parent in link_paths:
                raise UnsafeArchiveError(
                    str(dest.relative_to(root)), "would be written through a symlink member"
                )
    return plan


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
