"""CoreClientMixin: the resumable chunked upload.

Example:
    >>> _ = open("big.zip", "wb").write(b"The quick brown fox jumps over the lazy dog")
    >>> result = backend.create_chunked_upload("big.zip")
    >>> result["checksum"]
    '9e107d9d372bb6826bd81d3542a419d6'
"""

from __future__ import annotations

import os
from typing import Any

from synapse_nb._config import DEFAULT_CHUNK_SIZE
from synapse_nb._progress import AnyProgress
from synapse_nb.clients._base import BaseClient
from synapse_nb.clients._validate import check_ref

__all__ = ["CoreClientMixin"]


class CoreClientMixin(BaseClient):
    """File uploads (Synapse SDK: ``CoreClientMixin``)."""

    def create_chunked_upload(
        self,
        file_path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: AnyProgress | None = None,
        upload_id: str | int | None = None,
        resume_timeout: float = 120.0,
    ) -> dict[str, Any]:
        """Upload a file in chunks (see docs/protocol.md) and return the completion reply.

        The file is read once and never held whole in memory: the next chunk is read and
        MD5-hashed in a background thread while the current one is sent. A failed chunk
        resumes from the server's offset; if the server stays unreachable for
        ``resume_timeout`` seconds, :class:`~synapse_nb.exceptions.UploadInterruptedError`
        is raised, and its ``upload_id`` resumes the upload later (also from another
        process).

        Args:
            file_path: The file to upload (must exist and not be empty).
            chunk_size: Bytes per chunk (default 50 MiB).
            progress: ``progress(sent_bytes, total_bytes)`` callback.
            upload_id: Id of an unfinished upload of this file, to resume it.
            resume_timeout: Seconds to keep trying after the server became unreachable.

        Returns:
            ``{'id', 'checksum', 'size', 'completed_at', 'status', 'filename', ...}``; its
            ``id`` is what ``data_files/`` and ``models/`` take as ``chunked_upload``.

        Example:
            >>> _ = open("video.mp4", "wb").write(bytes(range(256)) * 40)  # 10,240 bytes
            >>> done = backend.create_chunked_upload(
            ...     "video.mp4", chunk_size=4096, progress=lambda sent, total: print(sent, total)
            ... )
            0 10240
            4096 10240
            8192 10240
            10240 10240
            >>> done["size"]
            10240
        """
        return self._chunked_upload(
            file_path,
            chunk_size=chunk_size,
            progress=progress,
            upload_id=upload_id,
            resume_timeout=resume_timeout,
            method="create_chunked_upload",
        )

    def get_chunked_upload(self, upload_id: str | int) -> dict[str, Any]:
        """Get the state of a chunked upload: ``{id, offset, completed_at, status, ...}``.

        Args:
            upload_id: The upload's id (a UUID string or an int).

        Example:
            >>> _ = open("part.bin", "wb").write(b"get_chunked_upload example")
            >>> done = backend.create_chunked_upload("part.bin")
            >>> backend.get_chunked_upload(done["id"])["offset"]
            26
        """
        upload_id = check_ref(
            upload_id, method="get_chunked_upload", field="upload_id", what="upload id"
        )
        return self._get(f"chunked_upload/{upload_id}/")
