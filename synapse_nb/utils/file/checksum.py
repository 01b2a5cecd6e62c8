"""File checksums: md5 of a path, any hashlib digest of a file-like object."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from os import PathLike
from typing import IO, Any

__all__ = ["calculate_checksum", "get_checksum_from_file"]

_READ_SIZE = 1024 * 1024  # big enough to keep hashing I/O-bound, small enough for memory
_FILE_OBJECT_READ_SIZE = 4096  # the Synapse SDK's block size for file-like objects


def calculate_checksum(file_path: str | PathLike[str], prefix: str = "") -> str:
    """Return the md5 hex digest of a file, optionally prefixed.

    The file is read in blocks, so large files do not need to fit in memory.

    Args:
        file_path: Path of the file.
        prefix: Text put in front of the digest (for example ``"dev-"``). The Synapse SDK's
            2025.9 code wrote ``"dev-"`` for any non-empty prefix; here the given prefix
            is used as is.

    Returns:
        ``prefix`` followed by 32 lowercase hex characters.

    Raises:
        FileNotFoundError: If the file does not exist.
        TypeError: If ``prefix`` is not a string.

    Example:
        >>> _ = (tmp / "plugin.zip").write_bytes(b"hello")
        >>> calculate_checksum(tmp / "plugin.zip")
        '5d41402abc4b2a76b9719d911017c592'
        >>> calculate_checksum(tmp / "plugin.zip", prefix="dev-")
        'dev-5d41402abc4b2a76b9719d911017c592'
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {type(prefix).__name__}: {prefix!r}")
    digest = hashlib.md5()
    with open(file_path, "rb") as handle:
        while block := handle.read(_READ_SIZE):
            digest.update(block)
    return f"{prefix}{digest.hexdigest()}"


def get_checksum_from_file(file: IO[Any], digest_mod: Callable[[], Any] = hashlib.sha1) -> str:
    """Return the hex digest of everything in a file-like object.

    Works with any object that has ``read()``: open files, ``BytesIO``, ``StringIO``,
    Django ``File`` objects. Text chunks are encoded as UTF-8, so a text and a binary
    object holding the same UTF-8 content give the same digest. If the object can seek,
    it is rewound before reading (so a half-read file is hashed whole) and rewound again
    afterwards (so it can be uploaded next without a manual ``seek(0)``).

    Args:
        file: A readable file-like object.
        digest_mod: A hashlib constructor such as ``hashlib.sha256`` (default
            ``hashlib.sha1``).

    Returns:
        The hex digest of the content.

    Raises:
        TypeError: If ``file`` has no ``read()`` or a chunk is neither bytes nor str.

    Example:
        >>> from io import BytesIO
        >>> get_checksum_from_file(BytesIO(b"Hello, world!"))
        '943a702d06f34599aee1f8da8ef9f7296031d699'
        >>> get_checksum_from_file(BytesIO(b"Hello, world!"), digest_mod=hashlib.md5)
        '6cd3556deb0da54bca060b4c39479839'
    """
    if not callable(getattr(file, "read", None)):
        raise TypeError(f"file must be a file-like object with read(), got {type(file).__name__}")
    digest = digest_mod()
    _rewind(file)
    while chunk := file.read(_FILE_OBJECT_READ_SIZE):
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        elif not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"file.read() returned {type(chunk).__name__}, expected bytes or str")
        digest.update(chunk)
    _rewind(file)
    return digest.hexdigest()


def _rewind(file: IO[Any]) -> None:
    seekable = getattr(file, "seekable", None)
    if callable(seekable) and not seekable():
        return
    if callable(getattr(file, "seek", None)):
        file.seek(0)
