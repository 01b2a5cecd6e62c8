"""Streaming multipart parsing for chunk uploads: the file part goes straight to a sink.

Starlette's ``request.form()`` spools every file part to a temporary file, which the chunk
handler then reads back into memory and writes again: three copies of each 50 MiB chunk.
:func:`stream_multipart` feeds the request body through python-multipart's push parser
instead and hands each piece of the file part to a callback as it arrives (a memoryview into
the received bytes, no copy), so a chunk is written and hashed while it is still arriving.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from .http import ApiError

#: the largest value accepted for a plain (non-file) form field
MAX_FIELD_BYTES = 64 * 1024
#: the most parts a body may have (a chunk PUT has two: ``filename`` and ``file``)
MAX_PARTS = 64


#: the longest boundary multipart allows (RFC 2046); the parser refuses longer ones
MAX_BOUNDARY = 70


def boundary_of(content_type: str | None, field: str = "file") -> bytes:
    """The multipart boundary of a Content-Type header, or a 400 naming the file ``field``.

    Example:
        >>> boundary_of('multipart/form-data; boundary="abc"')
        b'abc'
    """
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ApiError(
            400,
            {
                field: [
                    "No chunk was submitted: send multipart/form-data with a "
                    f"{field!r} part (got Content-Type {content_type or 'none'!r})."
                ]
            },
        )
    if len(boundary) > MAX_BOUNDARY:
        raise ApiError(
            400,
            {
                "detail": f"Invalid multipart boundary: {len(boundary)} characters, "
                f"at most {MAX_BOUNDARY} are allowed."
            },
        )
    return boundary


async def stream_multipart(
    request: Request,
    *,
    file_field: str,
    on_file_data: Callable[[memoryview], None],
    after_piece: Callable[[], Awaitable[None]] | None = None,
    keep_fields: tuple[str, ...] = ("filename",),
) -> tuple[dict[str, str], int | None]:
    """Parse the request body as it arrives.

    Args:
        request: The request whose body is ``multipart/form-data``.
        file_field: Name of the part whose bytes go to ``on_file_data``.
        on_file_data: Called with each piece of that part, in order (a view of the received
            bytes; keeping it keeps them alive).
        after_piece: Awaited after each received piece of the body has been parsed (where
            ``on_file_data``'s consumer can wait for its own back-pressure). What it raises
            propagates as is (e.g. the consumer's ``OSError``).
        keep_fields: The plain fields whose values are kept (each at most
            :data:`MAX_FIELD_BYTES`); other parts are parsed and dropped, so a body of many
            fields costs no memory. At most :data:`MAX_PARTS` parts are accepted.

    Returns:
        ``(fields, file_bytes)``: the kept fields as text, and how many bytes the file part
        had (``None`` when the body had no such part).

    Raises:
        ApiError: 400 for a body that is not valid multipart, has too many parts or a kept
            field over the limit.
    """
    boundary = boundary_of(request.headers.get("content-type"))
    fields: dict[str, str] = {}
    state: dict[str, Any] = {"header": b"", "value": b"", "headers": {}, "name": None}
    values: dict[str, bytearray] = {}
    file_bytes: list[int] = []  # one entry: the file part's size (set when it starts)
    parts = [0]

    def on_part_begin() -> None:
        parts[0] += 1
        if parts[0] > MAX_PARTS:
            raise ApiError(400, {"detail": f"A body may have at most {MAX_PARTS} parts."})
        state["headers"] = {}
        state["name"] = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["header"].lower()] = state["value"]
        state["header"] = state["value"] = b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == file_field:
            if file_bytes:
                raise ApiError(400, {file_field: ["Only one file part may be sent."]})
            file_bytes.append(0)
        elif name in keep_fields:
            values[name] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        name = state["name"]
        if name == file_field:
            file_bytes[0] += end - start
            on_file_data(memoryview(data)[start:end])
            return
        value = values.get(name)
        if value is None:
            return  # a field nobody reads: dropped as it streams by
        if len(value) + end - start > MAX_FIELD_BYTES:
            raise ApiError(400, {name: [f"Field is longer than {MAX_FIELD_BYTES} bytes."]})
        value += data[start:end]

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
        },
    )

    def parse(piece: bytes | None) -> None:
        try:
            if piece is None:
                parser.finalize()
            else:
                parser.write(piece)
        except ApiError:
            raise
        except Exception as exc:  # python-multipart's MultipartParseError and friends
            raise ApiError(400, {"detail": f"Malformed multipart body: {exc}"}) from None

    async for piece in request.stream():
        if piece:
            parse(piece)
            if after_piece is not None:
                await after_piece()  # outside parse(): a disk error is not a bad request
    parse(None)
    for name, value in values.items():
        fields[name] = value.decode("utf-8", "replace")
    return fields, (file_bytes[0] if file_bytes else None)


class OffloadedFileSink:
    """Consumes a file part: writes it at the file's position and hashes it, off the loop.

    Pieces are gathered into batches of :attr:`BATCH` bytes; each batch is written and fed
    to the MD5 in a worker thread (both release the GIL) while the event loop receives and
    parses the next one, so receiving and hashing overlap. At most one batch is in flight
    and one is being gathered: memory stays near ``2 * BATCH`` whatever the chunk size.
    Bytes past ``limit`` are counted but neither written nor hashed.

    Example:
        >>> import asyncio, hashlib, io
        >>> out, digest = io.BytesIO(), hashlib.md5()
        >>> sink = OffloadedFileSink(out, digest, limit=5)
        >>> sink(memoryview(b"hello"))
        >>> asyncio.run(sink.finish())
        >>> out.getvalue(), sink.received, digest.hexdigest() == hashlib.md5(b"hello").hexdigest()
        (b'hello', 5, True)
    """

    BATCH = 1 << 20

    def __init__(self, out: IO[bytes], digest: hashlib._Hash | None, limit: int) -> None:
        self._out = out
        self._digest = digest
        self._limit = limit
        self._pending: list[memoryview] = []
        self._pending_bytes = 0
        self._inflight: asyncio.Future[None] | None = None
        self.received = 0

    def __call__(self, piece: memoryview) -> None:
        room = self._limit - self.received
        self.received += len(piece)
        if room <= 0:
            return
        if len(piece) > room:
            piece = piece[:room]
        self._pending.append(piece)
        self._pending_bytes += len(piece)

    def _work(self, batch: list[memoryview]) -> None:
        for piece in batch:
            self._out.write(piece)
            if self._digest is not None:
                self._digest.update(piece)

    async def _submit(self) -> None:
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            await inflight
        if self._pending:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
            self._inflight = asyncio.get_running_loop().run_in_executor(None, self._work, batch)

    async def pump(self) -> None:
        """Hand a full batch to the worker (waiting for the previous one first)."""
        if self._pending_bytes >= self.BATCH:
            await self._submit()

    async def finish(self) -> None:
        """Write and hash everything received so far; returns when it is done."""
        await self._submit()
        await self.settle()

    async def settle(self) -> None:
        """Wait for the batch in flight (after an error: before the file is closed)."""
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            await asyncio.gather(inflight, return_exceptions=True)
