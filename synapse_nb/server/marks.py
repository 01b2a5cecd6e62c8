"""Known page boundaries of id-ordered listings, so any page starts near a known id.

A listing ordered by id is cut into pages by rank: page ``n`` of size ``s`` holds the rows
ranked ``(n - 1) * s`` to ``n * s - 1``. Every page served tells where two ranks start (its
first row and the row after its last); remembering those lets a later request, in whatever
order and at whatever page size, start from the nearest boundary at or below its first rank
and skip only the gap through the id index, instead of skipping from the first row.

Boundaries hold until the next write (they are kept per write generation) and memory stays
bounded: a fixed number of listings, each with a fixed number of boundaries, and a cap on the
boundaries of all listings together (about 100 bytes each; the default cap is ~14 MB).
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable


class _Listing:
    """The boundaries of one listing at one generation: sorted ranks and the id before each."""

    __slots__ = ("after", "ranks")

    def __init__(self) -> None:
        self.ranks: list[int] = []
        self.after: dict[int, int] = {}


class PageMarks:
    """Rank -> "the rows from here on have ids above this" of id-ordered listings.

    ``listing`` is any hashable naming the query and its parameters; ``generation`` is the
    database's write generation the rows were read at. A lookup at another generation
    finds nothing.

    Example:
        >>> marks = PageMarks()
        >>> marks.add(("tasks", 1), 0, [(100, 250), (200, 371)])
        >>> marks.nearest(("tasks", 1), 0, 150), marks.nearest(("tasks", 1), 0, 200)
        ((100, 250), (200, 371))
        >>> marks.nearest(("tasks", 1), 1, 150)  # a write happened since: nothing known
        (0, None)
    """

    def __init__(
        self, max_listings: int = 64, max_marks: int = 65_536, max_total: int = 131_072
    ) -> None:
        self.max_listings = max_listings
        self.max_marks = max_marks
        self.max_total = max_total
        self._lock = threading.Lock()
        self._listings: OrderedDict[tuple, _Listing] = OrderedDict()
        self._total = 0

    def __len__(self) -> int:
        """How many boundaries are held, over all listings."""
        with self._lock:
            return sum(len(known.ranks) for known in self._listings.values())

    def nearest(self, listing: Hashable, generation: int, rank: int) -> tuple[int, int | None]:
        """``(rank0, after)``: the closest known boundary at or below ``rank``.

        ``after`` is None when nothing is known below ``rank``; ``rank0`` is then 0.
        """
        with self._lock:
            known = self._listings.get((listing, generation))
            if known is None:
                return 0, None
            index = bisect.bisect_right(known.ranks, rank) - 1
            if index < 0:
                return 0, None
            found = known.ranks[index]
            return found, known.after[found]

    def add(self, listing: Hashable, generation: int, marks: Iterable[tuple[int, int]]) -> None:
        """Remember ``(rank, after)`` pairs: rows ranked ``rank`` on have ids above ``after``."""
        key = (listing, generation)
        with self._lock:
            known = self._listings.get(key)
            if known is None:
                known = self._listings[key] = _Listing()
                while len(self._listings) > self.max_listings:
                    self._total -= len(self._listings.popitem(last=False)[1].ranks)
            else:
                self._listings.move_to_end(key)
            for rank, after in marks:
                if rank not in known.after:
                    if len(known.ranks) >= self.max_marks:
                        self._total -= len(known.ranks)
                        known.ranks.clear()
                        known.after.clear()
                    bisect.insort(known.ranks, rank)
                    self._total += 1
                known.after[rank] = after
            while self._total > self.max_total and len(self._listings) > 1:  # oldest go first
                self._total -= len(self._listings.popitem(last=False)[1].ranks)

    def clear(self) -> None:
        """Forget everything (a write happened)."""
        with self._lock:
            self._listings.clear()
            self._total = 0
