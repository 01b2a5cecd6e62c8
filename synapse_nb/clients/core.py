"""CoreClientMixin: the resumable chunked upload.

Example:
    >>> result = client.create_chunked_upload("big.zip")  # doctest: +SKIP
    >>> result["checksum"]                                 # doctest: +SKIP
    '9e107d9d372bb6826bd81d3542a419d6'
"""

from __future__ import annotations

import os
from typing import Any

from synapse_nb._config import DEFAULT_CHUNK_SIZE
from synapse_nb._uploads import ChunkedUploader, ProgressCallback, check_upload_file
from synapse_nb.clients._validate import check_ref
from synapse_nb.exceptions import InvalidInputError

__all__ = ["CoreClientMixin"]


class CoreClientMixin:
    """File uploads (seed: ``CoreClientMixin``)."""

    def create_chunked_upload(
        self,
        file_path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: ProgressCallback | None = None,
        upload_id: str | int | None = None,
        resume_timeout: float = 120.0,
    ) -> dict[str, Any]:
        """Upload a file in chunks (contract 3.1) and return the completion reply.

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
            >>> done = client.create_chunked_upload(
            ...     "video.mp4", progress=lambda sent, total: print(sent, total)
            ... )  # doctest: +SKIP
        """
        method = "create_chunked_upload"
        path = check_upload_file(file_path, method=method)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise InvalidInputError(
                "chunk_size", chunk_size, "must be a positive int of bytes", method=method
            )
        if progress is not None and not callable(progress):
            raise InvalidInputError(
                "progress", progress, "must be callable(sent, total)", method=method
            )
        if upload_id is not None:
            upload_id = check_ref(upload_id, method=method, field="upload_id", what="upload id")
        if (
            isinstance(resume_timeout, bool)
            or not isinstance(resume_timeout, int | float)
            or (resume_timeout < 0)
        ):
            raise InvalidInputError(
                "resume_timeout", resume_timeout, "must be seconds >= 0", method=method
            )
        uploader = ChunkedUploader(
            self._transport,  # type: ignore[attr-defined]
            path,
            chunk_size=chunk_size,
            progress=progress,
            upload_id=upload_id,
            resume_timeout=float(resume_timeout),
        )
        return uploader.run()

    def get_chunked_upload(self, upload_id: str | int) -> dict[str, Any]:
        """Get the state of a chunked upload: ``{id, offset, completed_at, status, ...}``.

        Args:
            upload_id: The upload's id (a UUID string or an int).

        Example:
            >>> client.get_chunked_upload("3f2c...")["offset"]  # doctest: +SKIP
            52428800
        """
        upload_id = check_ref(
            upload_id, method="get_chunked_upload", field="upload_id", what="upload id"
        )
        return self._get(f"chunked_upload/{upload_id}/")  # type: ignore[attr-defined]
