"""Following a Ray job's log without reading it again and again.

Ray's Jobs API streams a job's log over a websocket (``tail_job_logs``): from its first
character, in chunks as the job writes, until the job has ended and the log is read to its end.
:class:`LogTail` runs that stream on an event loop of its own thread and hands the text over
in order. It counts the characters it has handed out (``position``); each chunk carries where
it starts in the log, so whatever a full read (:meth:`LogTail.catch_up`) or an earlier stream
already handed out is dropped: a stream that dropped (or a backend that restarted, given where
the last one had got to) carries on without a character twice or missing, and the executor may
top up a quiet stream with full reads while the log is short. ``fetched`` counts every
character Ray sent, skipped ones included: the cost of following the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from typing import Any

log = logging.getLogger("synapse_nb.server.executor.ray")

#: what the stream thread puts last when Ray closed the stream in order
_END = object()


class LogTail:
    """The log of one Ray job as it grows, read once.

    Args:
        client: Ray's ``JobSubmissionClient`` of the cluster.
        ray_id: Ray's id (submission id) of the job.
        start: characters of the log already handed out earlier (skipped).

    Attributes:
        position: characters of the log handed out so far (``start`` included).
        fetched: characters Ray sent, skipped ones included.
        ended: Ray closed the stream in order (the job has ended and its log is read out).
        error: why the stream broke, if it did (then :meth:`resume` carries on).

    Example:
        >>> tail = LogTail.__new__(LogTail)
        >>> tail.position, tail.fetched = 5, 0
        >>> tail.catch_up("hello world")  # a full read after a drop: only what is new
        ' world'
        >>> tail.position
        11
    """

    def __init__(self, client: Any, ray_id: str, start: int = 0) -> None:
        self.client, self.ray_id = client, ray_id
        self.position, self.fetched = start, 0
        self.ended = False
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._open()

    # ------------------------------------------------------------------ consumer side
    def read(self, timeout: float) -> str:
        """The text that arrived since the last read, waiting up to ``timeout`` for some."""
        parts: list[str] = []
        with contextlib.suppress(queue.Empty):
            item = self._queue.get(timeout=timeout)
            while True:
                self._take(item, parts)
                item = self._queue.get_nowait()
        return "".join(parts)

    def catch_up(self, full_text: str) -> str:
        """The part of a full read of the log not handed out yet (and it counts as handed out)."""
        self.fetched += len(full_text)
        new = full_text[self.position :]
        self.position += len(new)
        return new

    def resume(self) -> None:
        """Open the stream again after a drop; it skips everything handed out so far.

        Called once :meth:`read` has shown ``error`` or ``ended``: the old stream has put its
        last item, so nothing of it is left behind.
        """
        self.close()
        self._open()

    def close(self) -> None:
        """End the stream (if it still runs) and its thread."""
        loop, task, thread = self._loop, self._task, self._thread
        if loop is not None and task is not None and not task.done():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(task.cancel)
        if thread is not None:
            thread.join(timeout=10)

    def _take(self, item: Any, parts: list[str]) -> None:
        if item is _END:
            self.ended = True
        elif isinstance(item, BaseException):
            self.error = item
        else:  # (where the chunk starts in the log, the chunk)
            start, chunk = item
            self.fetched += len(chunk)
            new = chunk[max(0, self.position - start) :]  # a full read may have handed it out
            self.position += len(new)
            parts.append(new)

    # ------------------------------------------------------------------ stream thread
    def _open(self) -> None:
        self.ended, self.error = False, None
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), daemon=True,
            name=f"ray-log-{self.ray_id}",
        )
        self._thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        try:
            loop = asyncio.new_event_loop()
        except Exception as exc:  # handed to the reader, like a dropped stream
            self._queue.put(exc)
            ready.set()
            return
        try:
            self._loop = loop
            self._task = loop.create_task(self._stream())
            ready.set()
            loop.run_until_complete(self._task)
        finally:
            ready.set()
            loop.close()

    async def _stream(self) -> None:
        seen = 0
        chunks = self.client.tail_job_logs(self.ray_id)
        try:
            async for chunk in chunks:
                self._queue.put((seen, chunk))  # the reader keeps what it has not handed out
                seen += len(chunk)
            self._queue.put(_END)
        except asyncio.CancelledError:
            pass  # closed by this side
        except Exception as exc:  # the websocket broke, the dashboard went away, ...
            log.warning("Ray job %s: the log stream dropped (%s)", self.ray_id, exc)
            self._queue.put(exc)
        finally:
            with contextlib.suppress(Exception):
                await chunks.aclose()
