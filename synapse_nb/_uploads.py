"""Resumable chunked upload (see docs/protocol.md): chunk reader, running MD5, resume, progress.

The file is read once, in order, into two alternating buffers: while one chunk is being
sent, a background thread reads (and hashes) the next one, so disk, hashing and network
overlap and at most two chunks are ever in memory. Each chunk is sent as the multipart body
the real backend expects (``filename`` field, then a ``file`` part named ``file``), but the
body streams straight from the buffer instead of being copied into a new bytes object.

The server's offset is the source of truth. When a chunk PUT fails (connection lost,
server restarted, 5xx, offset mismatch) the uploader asks ``GET chunked_upload/{id}/`` for
the offset and continues from there, waiting with backoff up to ``resume_timeout`` seconds
for the server to come back. After that it raises
:class:`~synapse_nb.exceptions.UploadInterruptedError`, whose ``upload_id`` resumes the upload
in a later call, even from another process. A finalize POST whose reply was lost is never
re-sent blindly: the upload is polled until it reports ``completed_at``.

Example:
    >>> body = StreamingMultipart("a.bin", memoryview(b"xyz"))
    >>> raw = body.read(); raw.count(b"xyz"), len(raw) == len(body)
    (1, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from urllib3.fields import RequestField
from urllib3.filepost import encode_multipart_formdata

from synapse_nb._config import DEFAULT_CHUNK_SIZE
from synapse_nb._progress import AnyProgress, ProgressCallback, as_progress
from synapse_nb._transport import Transport
from synapse_nb.exceptions import (
    ClientConnectionError,
    ClientError,
    ClientTimeoutError,
    InvalidInputError,
    RateLimitError,
    ServerError,
    UploadInterruptedError,
    ValidationError,
)

__all__ = ["ChunkedUploader", "ProgressCallback", "StreamingMultipart"]

logger = logging.getLogger("synapse_nb.uploads")

_MARKER = b"\x00synapse-nb-chunk-marker\x00"
_PROGRESS_STEP = 1024 * 1024
_HASH_PIECE = 8 * 1024 * 1024
_FINALIZE_ATTEMPTS = 4
_FINALIZE_POLLS = 5
_POLL_BASE = 0.5
#: Failures after which the server's offset is re-read and the upload continues.
_RESUMABLE = (ClientConnectionError, ClientTimeoutError, ServerError, RateLimitError)


class _Progress:
    """Keeps progress reports monotonic and throttled; the category is ``"upload"``.

    ``sent_bytes`` never decreases. It is reported once at the start (with the resumed
    offset, usually 0), during each chunk as bytes leave the client (about every MiB), and
    after every chunk the server confirmed. ``sent_bytes == total_bytes`` is reported only
    once the server has confirmed every byte, just before the upload is finalized. An
    exception raised by the callback aborts the upload; the partial upload stays on the
    server and the exception carries a note with the ``upload_id`` that resumes it.
    """

    def __init__(self, callback: AnyProgress | None, total: int) -> None:
        self._callback = as_progress(callback)
        self._total = total
        self._reported = -1
        self._next = 0

    def report(self, sent: int, *, force: bool = False) -> None:
        if self._callback is None:
            return
        sent = min(max(sent, self._reported), self._total)
        if sent == self._reported or (not force and sent < self._next):
            return
        self._reported = sent
        self._next = sent + _PROGRESS_STEP
        self._callback(sent, self._total, "upload")


class StreamingMultipart:
    """A seekable multipart body around one chunk, without copying the chunk.

    The preamble and epilogue come from urllib3's multipart encoder (the same one requests
    uses), so the wire format is exactly ``requests.put(files={'file': chunk},
    data={'filename': name})``; only the chunk bytes are streamed from the buffer.
    Seekable, so a transport retry can rewind and resend it.

    Args:
        filename: Value of the ``filename`` form field.
        chunk: The chunk's bytes.
        on_read: Called with the number of chunk bytes handed to the socket so far.

    Example:
        >>> b = StreamingMultipart("x.txt", memoryview(b"hello"))
        >>> b.content_type.startswith("multipart/form-data; boundary=")
        True
    """

    def __init__(
        self, filename: str, chunk: memoryview, on_read: Callable[[int], None] | None = None
    ) -> None:
        name_field = RequestField(name="filename", data=filename.encode())
        name_field.make_multipart()
        file_field = RequestField(name="file", data=_MARKER, filename="file")
        file_field.make_multipart()
        body, self.content_type = encode_multipart_formdata([name_field, file_field])
        head, tail = body.split(_MARKER)
        self._parts = (memoryview(head), chunk, memoryview(tail))
        self._len = len(head) + len(chunk) + len(tail)
        self._pos = 0
        self._on_read = on_read

    def __len__(self) -> int:
        return self._len

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._len}[whence]
        self._pos = min(max(base + offset, 0), self._len)
        return self._pos

    def read(self, size: int = -1) -> Any:
        """Return up to ``size`` bytes (a memoryview: sockets send it without a copy)."""
        if size is None or size < 0:
            out = bytearray()
            while piece := self.read(1 << 20):
                out += piece
            return bytes(out)
        start = self._pos
        for index, part in enumerate(self._parts):
            if start < len(part):
                piece = part[start : start + size]
                self._pos += len(piece)
                if index == 1 and self._on_read is not None:
                    self._on_read(start + len(piece))
                return piece
            start -= len(part)
        return b""


class _ChunkSource:
    """Reads a file into two alternating buffers in a background thread; hashes each byte once."""

    def __init__(self, path: Path, chunk_size: int, total: int) -> None:
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._size = chunk_size
        self._total = total
        self._buffers = [
            bytearray(min(chunk_size, total)) for _ in range(2 if total > chunk_size else 1)
        ]
        self._md5 = hashlib.md5()
        self._hashed = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synapse-upload-read")

    def submit(self, offset: int, slot: int) -> Future[memoryview]:
        return self._pool.submit(self._read, offset, slot % len(self._buffers))

    def _read(self, offset: int, slot: int) -> memoryview:
        self._hash_until(offset)
        want = min(self._size, self._total - offset)
        view = memoryview(self._buffers[slot])[:want]
        self._fh.seek(offset)
        got = 0
        while got < want:
            n = self._fh.readinto(view[got:])
            if not n:
                raise ClientError(None, f"file shrank while uploading (EOF at byte {offset + got})")
            got += n
        if offset + want > self._hashed:
            self._md5.update(view[self._hashed - offset :])
            self._hashed = offset + want
        return view

    def _hash_until(self, end: int) -> None:
        # Only a resumed upload starts past the hashed prefix: hash the gap from disk.
        if self._hashed >= end:
            return
        piece = bytearray(min(_HASH_PIECE, end - self._hashed))
        self._fh.seek(self._hashed)
        while self._hashed < end:
            n = self._fh.readinto(memoryview(piece)[: min(len(piece), end - self._hashed)])
            if not n:
                raise ClientError(None, f"file shrank while hashing (EOF at byte {self._hashed})")
            self._md5.update(memoryview(piece)[:n])
            self._hashed += n

    def hexdigest(self) -> str:
        self._pool.submit(self._hash_until, self._total).result()
        return self._md5.hexdigest()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._fh.close()


def _retry_after(exc: ClientError) -> float | None:
    # the transport's error headers take a name in any case (uvicorn sends "retry-after")
    value = (getattr(exc, "headers", None) or {}).get("Retry-After")
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None


def _drain(future: Future[Any] | None) -> None:
    # A buffer may be refilled only after the read that owns it has finished.
    if future is not None:
        with contextlib.suppress(Exception):  # the read is discarded anyway
            future.result()


class ChunkedUploader:
    """Runs one chunked upload against a transport.

    Args:
        transport: The client's transport.
        path: File to upload.
        chunk_size: Bytes per PUT.
        progress: Optional :class:`ProgressCallback`.
        upload_id: Id of an earlier, unfinished upload of the same file to resume.
        resume_timeout: Seconds to keep trying to reach the server after a failure.

    Example:
        >>> _ = (tmp / "big.zip").write_bytes(b"The quick brown fox jumps over the lazy dog")
        >>> uploader = ChunkedUploader(backend._transport, tmp / "big.zip", chunk_size=16)
        >>> uploader.run()["checksum"]
        '9e107d9d372bb6826bd81d3542a419d6'
    """

    def __init__(
        self,
        transport: Transport,
        path: Path,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: AnyProgress | None = None,
        upload_id: str | int | None = None,
        resume_timeout: float = 120.0,
    ) -> None:
        self._t = transport
        self._path = path
        self._chunk_size = chunk_size
        self._total = path.stat().st_size
        self._progress = _Progress(progress, self._total)
        self._upload_id = upload_id
        self._url: str | None = None if upload_id is None else f"chunked_upload/{upload_id}/"
        self._resume_timeout = resume_timeout
        self._offset = 0
        # When the upload stopped making progress; None while it advances.
        self._stalled_since: float | None = None
        self._failures = 0

    # ------------------------------------------------------------------ public
    def run(self) -> dict[str, Any]:
        """Upload the file and return the server's completion reply.

        Raises:
            UploadInterruptedError: The server stayed unreachable for ``resume_timeout``.
            ClientError: The server refused the upload (e.g. 400 on an MD5 mismatch).

        Example:
            >>> _ = (tmp / "clip.mp4").write_bytes(b"chunked-uploader-run-example" * 100)
            >>> seen = []
            >>> done = ChunkedUploader(backend._transport, tmp / "clip.mp4", chunk_size=1000,
            ...                        progress=lambda sent, total, kind: seen.append(sent)).run()
            >>> done["completed_at"] is not None, seen
            (True, [0, 1000, 2000, 2800])
        """
        source = _ChunkSource(self._path, self._chunk_size, self._total)
        try:
            if self._upload_id is not None:
                state = self._state_or_wait(None)
                if state.get("completed_at"):
                    return self._verify(state, source.hexdigest())
                self._offset = self._checked_offset(state)
            self._progress.report(self._offset, force=True)
            self._send_all(source)
            md5 = source.hexdigest()
            self._progress.report(self._total, force=True)
            return self._verify(self._finalize(md5), md5)
        except UploadInterruptedError:
            raise
        except BaseException as exc:
            if self._upload_id is not None:
                # Whatever stopped us (a callback, Ctrl-C, a refused chunk), the partial
                # upload stays on the server: say how to continue it.
                exc.add_note(
                    f"chunked upload {self._upload_id} stopped at byte {self._offset}; resume "
                    f"with create_chunked_upload(..., upload_id={self._upload_id!r})"
                )
            raise
        finally:
            source.close()

    # ------------------------------------------------------------------ chunks
    def _send_all(self, source: _ChunkSource) -> None:
        slot = 0
        future: Future[memoryview] | None = source.submit(self._offset, slot)
        while self._offset < self._total:
            assert future is not None
            chunk = future.result()
            expected = self._offset + len(chunk)
            following = 1 - slot
            future = source.submit(expected, following) if expected < self._total else None
            try:
                new_offset = self._put(chunk)
            except ValidationError as exc:
                if not isinstance(exc.response, dict) or "offset" not in exc.response:
                    _drain(future)
                    raise
                new_offset = self._resync(exc)
            except _RESUMABLE as exc:
                new_offset = self._resync(exc)
            except BaseException:
                _drain(future)
                raise
            if new_offset > self._offset:
                self._stalled_since, self._failures = None, 0
            if new_offset == expected:
                self._offset, slot = new_offset, following
            else:
                _drain(future)
                self._offset = new_offset
                future = source.submit(new_offset, slot) if new_offset < self._total else None
            self._progress.report(self._offset, force=True)
        _drain(future)

    def _put(self, chunk: memoryview) -> int:
        start = self._offset
        end = start + len(chunk) - 1
        # Bytes handed to the socket are not confirmed yet, so in-chunk reports stop short of
        # the chunk's end: the report of the chunk's last byte waits for the server's ack.
        last = len(chunk) - 1
        body = StreamingMultipart(
            self._path.name, chunk, lambda n: self._progress.report(start + min(n, last))
        )
        reply = self._t.request_json(
            "PUT",
            self._url or "chunked_upload/",
            data=body,
            headers={
                "Content-Type": body.content_type,
                "Content-Range": f"bytes {start}-{end}/{self._total}",
            },
        )
        if not isinstance(reply, dict) or "offset" not in reply:
            raise ClientError(
                None,
                f"unexpected chunk reply: {reply!r:.200}",
                method="PUT",
                path=self._t.relative(self._t.url_for(self._url or "chunked_upload/")),
            )
        if self._upload_id is None:
            self._upload_id = reply.get("id")
            logger.debug("chunked upload %s started for %s", self._upload_id, self._path.name)
        self._url = reply.get("url") or f"chunked_upload/{self._upload_id}/"
        return self._checked_offset(reply)

    def _checked_offset(self, state: dict[str, Any]) -> int:
        offset = state.get("offset")
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int)
            or not 0 <= offset <= self._total
        ):
            raise ClientError(
                None,
                f"server reports offset {offset!r} for a file of {self._total} bytes "
                f"(is upload {self._upload_id} for another file?)",
                method="GET",
                path=f"chunked_upload/{self._upload_id}/",
            )
        return offset

    # ------------------------------------------------------------------ resume
    def _resync(self, exc: ClientError) -> int:
        logger.debug("chunk at %d failed (%s); asking the server for its offset", self._offset, exc)
        if self._url is None:
            # No upload exists yet, so there is no offset to read: the first PUT is retried.
            self._wait_or_give_up(exc)
            return 0
        self._wait_or_give_up(exc, first_wait=False)
        return self._checked_offset(self._state_or_wait(exc))

    def _state_or_wait(self, cause: ClientError | None) -> dict[str, Any]:
        while True:
            try:
                state = self._t.request_json("GET", self._url or "")
                if isinstance(state, dict):
                    return state
                raise ClientError(None, f"unexpected upload state: {state!r:.200}")
            except _RESUMABLE as exc:
                cause = exc
            self._wait_or_give_up(cause)

    def _wait_or_give_up(self, cause: ClientError | None, *, first_wait: bool = True) -> None:
        """Sleep before the next attempt, or raise once stalled for ``resume_timeout``."""
        now = time.monotonic()
        if self._stalled_since is None:
            self._stalled_since = now
        elapsed = now - self._stalled_since
        if elapsed >= self._resume_timeout:
            raise UploadInterruptedError(
                self._upload_id,
                self._offset,
                cause=str(cause) if cause else "server unreachable",
                status_code=getattr(cause, "status_code", None),
            ) from cause
        if not first_wait and self._failures == 0:
            self._failures = 1
            return  # the first resync asks the server at once
        wait = min(0.5 * 2**self._failures, 10.0, self._resume_timeout - elapsed)
        self._failures += 1
        time.sleep(max(wait, 0.05))

    # ------------------------------------------------------------------ finalize
    def _finalize(self, md5: str) -> dict[str, Any]:
        url = self._url
        if url is None:  # the file is empty: validated earlier, but never POST blindly
            raise InvalidInputError("file_path", str(self._path), "file is empty")
        last: ClientError | None = None
        started = time.monotonic()
        for attempt in range(_FINALIZE_ATTEMPTS):
            if attempt and time.monotonic() - started > self._resume_timeout:
                break
            try:
                reply = self._t.request_json("POST", url, json_body={"md5": md5})
                if isinstance(reply, dict):
                    return reply
                raise ClientError(None, f"unexpected finalize reply: {reply!r:.200}")
            except ValidationError:
                state = self._poll_completed(polls=1)
                if state is not None:
                    return state  # an earlier finalize did land; this repeat was refused
                raise
            except (ServerError, RateLimitError) as exc:
                # The server answered, so nothing was lost; it may still have completed the
                # upload before failing, which one look tells.
                last = exc
                state = self._poll_completed(polls=1)
                if state is not None:
                    return state
                time.sleep(min(_retry_after(exc) or 0.5 * 2**attempt, 10.0))
            except (ClientConnectionError, ClientTimeoutError) as exc:
                # The reply was lost: the POST may have been applied. Never re-send it
                # blindly; poll until the upload says it completed (as the Synapse SDK does).
                last = exc
                logger.debug("finalize reply lost (%s); polling the upload", exc)
                state = self._poll_completed(polls=_FINALIZE_POLLS)
                if state is not None:
                    return state
        raise UploadInterruptedError(
            self._upload_id,
            self._offset,
            cause=f"finalize did not complete after {_FINALIZE_ATTEMPTS} attempts: {last}",
        )

    def _poll_completed(self, *, polls: int) -> dict[str, Any] | None:
        deadline = time.monotonic() + 60.0
        for attempt in range(polls):
            try:
                state = self._t.request_json("GET", self._url or "")
                if isinstance(state, dict) and state.get("completed_at"):
                    return state
                if isinstance(state, dict) and state.get("offset") != self._total:
                    return None  # not complete and not even fully sent: finalize again
            except _RESUMABLE:
                pass
            if attempt + 1 < polls:
                # Full jitter, so many clients do not poll in lockstep; a smaller base than
                # the Synapse SDK's 2 s because the finalize of a fully-sent upload is quick.
                pause = random.uniform(0, _POLL_BASE * 2**attempt)
                time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        return None

    def _verify(self, reply: dict[str, Any], md5: str) -> dict[str, Any]:
        checksum = reply.get("checksum")
        if checksum and str(checksum).lower() != md5:
            raise ClientError(
                None,
                f"server checksum {checksum} differs from the file's md5 {md5}",
                method="POST",
                path=f"chunked_upload/{self._upload_id}/",
            )
        return reply


def check_upload_file(path: Any, *, method: str, field: str = "file_path") -> Path:
    """Validate that ``path`` names a readable, non-empty regular file.

    Example:
        >>> try:
        ...     check_upload_file("/nonexistent/x.bin", method="create_chunked_upload")
        ... except InvalidInputError as e:
        ...     e.field, e.response
        ('file_path', {'file_path': ['no such file']})
    """
    if not isinstance(path, str | os.PathLike) or isinstance(path, bytes):
        raise InvalidInputError(field, path, "must be a str or pathlib.Path", method=method)
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise InvalidInputError(field, str(path), "no such file", method=method)
    if not resolved.is_file():
        raise InvalidInputError(field, str(path), "not a regular file", method=method)
    if not os.access(resolved, os.R_OK):
        raise InvalidInputError(field, str(path), "file is not readable", method=method)
    if resolved.stat().st_size == 0:
        raise InvalidInputError(field, str(path), "file is empty", method=method)
    return resolved
