"""FilterPanel benchmark (issue 5): a filter change on a 100k-row frame, to the updated table.

Run: ``python benchmarks/bench_widgets_filter.py`` (100k rows) or ``--rows 20000`` for a
smoke run; ``--live`` adds live-mode page loads against an embedded backend seeded with the
same number of tasks.

Each step is one user action (a facet change, a sort, a page flip, a selection) timed from
the call to the moment the page's row widgets hold their new HTML, with every state update
JSON-encoded as the kernel would send it (the comm below serialises what ipywidgets hands
it). "cold" steps compute a facet mask or sort order for the first time; "warm" steps reuse
the cache. One run per step, printed as a table of milliseconds against the 100 ms target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import comm
import pandas as pd

from synapse_nb.frames.build import build_frame
from synapse_nb.widgets.filter import FilterPanel

TARGET_MS = 100.0
TAGS = {1: "needs-review", 2: "blurry", 3: "night", 4: "occluded", 5: "golden"}
CLASSES = ("car", "person", "bicycle", "dog", "stop_sign", "bus", "truck")
NAMES = ("Alice Kim", "Bob Lee", "Carol Park", "Dave Choi", None)


class JsonComm:
    """A comm without a frontend that still pays for encoding every message as JSON."""

    kernel = "bench"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.comm_id = kwargs.get("comm_id") or uuid.uuid4().hex
        self.sent_bytes = 0

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, data: Any = None, buffers: Any = None, **kwargs: Any) -> None:
        self.sent_bytes += len(json.dumps(data, default=str))


def task_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """A typed task frame like ``Client.list_tasks`` returns, built from synthetic records."""
    rng = random.Random(seed)
    records = []
    for i in range(1, rows + 1):
        classes = rng.sample(CLASSES, rng.randint(0, 3))
        who = rng.randrange(len(NAMES))
        records.append({
            "id": i, "project": 1, "data_unit": i,
            "status": rng.choice(("pending", "in_progress", "completed")),
            "priority": "normal", "assignee": who + 1 if NAMES[who] else None,
            "assignee_name": NAMES[who], "tags": rng.sample(sorted(TAGS), rng.randint(0, 2)),
            "is_discarded": False,
            "files": {"image_1": {"url": f"http://127.0.0.1:9/{i}.jpg", "is_primary": True,
                                  "file_name_original": f"scene_{i:06d}.jpg"}},
            "data": {"images": [{"bounding_box": [
                {"id": f"a{j}", "classification": c, "data": [1, 2, 3, 4]}
                for j, c in enumerate(classes)]}]} if classes else {},
            "metadata": {}, "created": f"2026-09-{1 + i % 28:02d}T10:00:00+00:00",
            "modified": "2026-09-30T10:00:00+00:00",
        })  # fmt: skip
    frame = build_frame("task", records, tag_names=TAGS)
    frame.attrs["synapse"] = {"kind": "task", "count": rows}
    return frame


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def frame_steps(panel: FilterPanel) -> list[tuple[str, Callable[[], Any]]]:
    first_row = panel._row_checks[0]
    return [
        ("status = completed (cold)", lambda: panel.filter(status="completed")),
        ("+ tags any of [blurry, night] (cold)", lambda: panel.filter(tags=["blurry", "night"])),
        ("+ class = dog (cold)", lambda: panel.filter(class_name="dog")),
        ("+ search '0012' (cold)", lambda: panel.filter(search="0012")),
        ("- search", lambda: panel.filter(search="")),
        ("+ created 2026-09-05..09-20 (cold)",
         lambda: panel.filter(created_from=dt.date(2026, 9, 5), created_to=dt.date(2026, 9, 20))),
        ("sort by file name, descending (cold)", lambda: panel.sort("file_name", ascending=False)),
        ("next page", lambda: panel.go(panel.page + 1)),
        ("tick a row checkbox", lambda: setattr(first_row, "value", not first_row.value)),
        ("reset all filters", panel.reset),
        ("status = pending (cold)", lambda: panel.filter(status="pending")),
        ("status = completed (warm)", lambda: panel.filter(status="completed")),
        ("sort by id", lambda: panel.sort("id")),
        ("page size 100", lambda: setattr(panel, "page_size", 100)),
    ]  # fmt: skip


def run_frame(rows: int) -> list[tuple[str, float, int]]:
    started = time.perf_counter()
    frame = task_frame(rows)
    print(f"built a {rows:,}-row task frame in {time.perf_counter() - started:.1f} s")
    original = comm.create_comm
    comm.create_comm = lambda *args, **kwargs: JsonComm(*args, **kwargs)
    try:
        create_ms = timed(lambda: globals().__setitem__("_panel", FilterPanel(frame)))
        panel: FilterPanel = globals().pop("_panel")
        results = [("create the panel (first page)", create_ms, panel.count)]
        for label, action in frame_steps(panel):
            results.append((label, timed(action), panel.count))
    finally:
        comm.create_comm = original
    return results


def run_live(rows: int) -> list[tuple[str, float, int]]:
    from synapse_nb.frames import Client
    from synapse_nb.server import start

    started = time.perf_counter()
    srv = start(tasks=rows)
    print(f"seeded {rows:,} tasks in {time.perf_counter() - started:.1f} s")
    project = srv.state.db.scalar("SELECT MAX(project_id) FROM tasks")
    try:
        with Client(srv.url, api_token=srv.token) as client:
            panel = FilterPanel(client=client, params={"project": project})
            results = [("live: load (tags, assignees, page 1)", timed(panel.load), panel.count)]
            for label, action in [
                ("live: status = completed", lambda: panel.filter(status="completed")),
                ("live: next page", lambda: panel.go(2)),
                ("live: sort by created, descending", lambda: panel.sort("created", False)),
                ("live: reset", panel.reset),
            ]:
                results.append((label, timed(action), panel.count))
    finally:
        srv.stop()
    return results


def print_table(results: list[tuple[str, float, int]]) -> None:
    width = max(len(label) for label, _ms, _n in results)
    print(f"\n{'step'.ljust(width)}  {'ms':>8}  {'matches':>9}  target {TARGET_MS:.0f} ms")
    for label, ms, count in results:
        verdict = "ok" if ms <= TARGET_MS else "SLOW"
        if label.startswith(("create", "live: load")):
            verdict = "(setup, not a change)"
        print(f"{label.ljust(width)}  {ms:8.1f}  {count:9,}  {verdict}")
    changes = [ms for label, ms, _n in results if not label.startswith(("create", "live"))]
    if changes:
        print(
            f"\nfilter/sort/page changes: median {statistics.median(changes):.1f} ms, "
            f"max {max(changes):.1f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--live", action="store_true", help="also time live mode")
    args = parser.parse_args(argv)
    results = run_frame(args.rows)
    if args.live:
        results += run_live(args.rows)
    print_table(results)
    slow = [label for label, ms, _n in results if ms > TARGET_MS and not label.startswith(
        ("create", "live"))]  # fmt: skip
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
