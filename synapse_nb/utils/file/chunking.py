"""Memory-efficient chunked reading of files."""

from __future__ import annotations

from collections.abc import Iterator
from os import PathLike
from pathlib import Path

__all__ = ["DEFAULT_CHUNK_SIZE", "read_file_in_chunks"]

#: 50 MiB, the Synapse SDK's default chunk size for reading and chunked uploads.
DEFAULT_CHUNK_SIZE = 1024 * 1024 * 50


def read_file_in_chunks(
    file_path: str | PathLike[str], chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[bytes]:
    """Read a file in chunks of ``chunk_size`` bytes.

    The arguments are checked and the file is opened when the function is called, so a
    missing file or a bad chunk size fails at the call site rather than at the first
    ``next()``.

    Args:
        file_path: Path of the file to read.
        chunk_size: Size of each chunk in bytes (default 50 MiB). The last chunk may be
            shorter.

    Returns:
        An iterator of ``bytes`` chunks; an empty file yields nothing.

    Raises:
        ValueError: If ``chunk_size`` is not a positive integer.
        FileNotFoundError: If the file does not exist.
        IsADirectoryError: If ``file_path`` is a directory.
        PermissionError: If the file cannot be read.

    Example:
        >>> _ = Path("big.bin").write_bytes(b"x" * 25)
        >>> [len(chunk) for chunk in read_file_in_chunks("big.bin", chunk_size=10)]
        [10, 10, 5]
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    handle = Path(file_path).open("rb")  # noqa: SIM115 - closed by the generator below
    return _iter_chunks(handle, chunk_size)


def _iter_chunks(handle, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk
