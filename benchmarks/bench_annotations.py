"""DM reading speed: the shared annotation model against the readers it replaced.

Run: ``python benchmarks/bench_annotations.py`` (about 30 s). It generates 10 demo images'
ground truth, repeats the documents to 1000 (and their DM v1 forms to 1000), and times the
best CPU time of 5 interleaved runs of each reader over all of them: the frames' per-annotation rows
(``synapse_nb.frames.dm.iter_annotations``) and the preview's shapes
(``synapse_nb.widgets._render.shapes_from_doc``), old and new in the same run. The old readers
are the frozen copies kept for the equivalence tests (``tests/annotations/_legacy_readers``).
A ratio below 1 means the new reader is faster.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "annotations"))

import _legacy_readers as legacy

from synapse_nb.converters import dm_v2_to_v1
from synapse_nb.frames.dm import iter_annotations
from synapse_nb.server.demo import media
from synapse_nb.widgets._render import shapes_from_doc


def _pair(
    old: Callable[[], object], new: Callable[[], object], repeat: int = 5
) -> tuple[float, float]:
    """Best CPU seconds of each, runs interleaved (a shared machine's load hits both alike)."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for slot, run in enumerate((old, new)):
            start = time.process_time()
            run()
            best[slot] = min(best[slot], time.process_time() - start)
    return best[0], best[1]


def main() -> None:
    items = media.generate_items(10, Path(tempfile.mkdtemp()), seed=0)
    v2 = [(i.annotations, i.width) for i in items] * 100
    v1 = [
        (dm_v2_to_v1(i.annotations, extra={"image_1": {"width": i.width, "height": i.height}})[0],
         i.width)
        for i in items
    ] * 100  # fmt: skip
    cases = [
        ("frames rows, v2", v2, legacy.frames_iter_annotations, iter_annotations, True),
        ("frames rows, v1", v1, legacy.frames_iter_annotations, iter_annotations, False),
        ("preview shapes, v2", v2, legacy.render_shapes_from_doc, shapes_from_doc, None),
        ("preview shapes, v1", v1, legacy.render_shapes_from_doc, shapes_from_doc, None),
    ]
    print(f"{'reader (1000 documents)':28} {'old cpu s':>10} {'new cpu s':>10} {'new/old':>8}")
    for name, docs, old, new, width in cases:
        if width is None:
            o, n = _pair(
                lambda: [old(d) for d, _ in docs],  # noqa: B023
                lambda: [new(d) for d, _ in docs],  # noqa: B023
            )
        else:
            o, n = _pair(
                lambda: [list(old(d, w if width else None)) for d, w in docs],  # noqa: B023
                lambda: [list(new(d, w if width else None)) for d, w in docs],  # noqa: B023
            )
        print(f"{name:28} {o:10.3f} {n:10.3f} {n / o:8.2f}")


if __name__ == "__main__":
    main()
