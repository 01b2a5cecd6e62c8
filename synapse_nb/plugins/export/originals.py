"""Original files of export items, downloaded concurrently ahead of the export loop.

:class:`OriginalsPrefetcher` wraps the item list and yields the items in order while a
thread pool downloads the originals of the next ones (a bounded window, so memory stays
flat). Each distinct URL is downloaded once into a cache directory with
:func:`~synapse_nb.utils.file.download_file` (cached by URL without its query string,
written atomically); an exporter then links or copies it into place. When an item's image
size is unknown, the worker reads it from the image header with Pillow. A failed download
never stops the export: the item carries ``files["error"]`` and the exporter records it.

Example:
    >>> items = [{"id": 1, "files": {}, "width": 4, "height": 3}]
    >>> [i["id"] for i in OriginalsPrefetcher(items, "/tmp/cache", needed=lambda i: False)]
    [1]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from synapse_nb.utils.file import download_file

__all__ = ["OriginalsPrefetcher", "image_size"]

#: Items kept in flight per download worker.
WINDOW_PER_WORKER = 4


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) read from an image file's header (Pillow does not decode pixels).

    Example:
        >>> from PIL import Image
        >>> Image.new("RGB", (640, 480), (12, 34, 56)).save("cat.jpg")
        >>> image_size(Path("cat.jpg"))
        (640, 480)
    """
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def _cache_key(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class OriginalsPrefetcher:
    """Iterate items in order while their originals download concurrently.

    Args:
        items: Export items (``files["url"]`` is downloaded).
        cache_dir: Where downloads are cached.
        workers: Concurrent downloads.
        needed: Which items need their original (default: all with a URL).

    Example:
        >>> task = backend.get_task(1)
        >>> items = [{"id": task["id"], "files": {"url": task["files"]["image_1"]["url"]}}]
        >>> prefetcher = OriginalsPrefetcher(items, "cache", workers=2)
        >>> for item in prefetcher:
        ...     print(item["files"]["path"].name.endswith(".jpg"), item["width"], item["height"])
        True 1280 720
        >>> prefetcher.downloaded, prefetcher.failed
        (1, 0)
    """

    def __init__(
        self,
        items: list[dict[str, Any]],
        cache_dir: str | Path,
        *,
        workers: int = 8,
        needed: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.items = items
        self.cache_dir = Path(cache_dir)
        self.workers = workers
        self.needed = needed or (lambda item: bool((item.get("files") or {}).get("url")))
        self.downloaded = 0
        self.failed = 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        pending: deque[tuple[dict[str, Any], Future[Any] | None]] = deque()
        by_url: dict[str, Future[Any]] = {}
        window = max(self.workers * WINDOW_PER_WORKER, 1)
        source = iter(self.items)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="synapse-export-dl") as pool:

            def fill() -> None:
                while len(pending) < window:
                    item = next(source, None)
                    if item is None:
                        return
                    url = (item.get("files") or {}).get("url")
                    future = None
                    if url and self.needed(item):
                        key = _cache_key(str(url))
                        future = by_url.get(key)
                        if future is None:
                            future = by_url[key] = pool.submit(self._fetch, str(url))
                    pending.append((item, future))

            fill()
            while pending:
                item, future = pending.popleft()
                fill()
                yield self._resolved(item, future)

    def _fetch(self, url: str) -> tuple[Path, tuple[int, int] | None]:
        path = Path(download_file(url, self.cache_dir))
        try:
            size: tuple[int, int] | None = image_size(path)
        except (OSError, ValueError):  # not an image (or not one Pillow reads): no size
            size = None
        return path, size

    def _resolved(self, item: dict[str, Any], future: Future[Any] | None) -> dict[str, Any]:
        if future is None:
            return item
        files = dict(item.get("files") or {})
        resolved = {**item, "files": files}
        try:
            files["path"], size = future.result()
        except Exception as exc:  # recorded on the item, which the exporter reports
            files["error"] = f"download of the original failed: {exc}"
            self.failed += 1
            return resolved
        self.downloaded += 1
        if size is not None and not (resolved.get("width") and resolved.get("height")):
            resolved["width"], resolved["height"] = size
        return resolved
