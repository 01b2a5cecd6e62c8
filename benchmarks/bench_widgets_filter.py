"""FilterPanel benchmark (issues 5, 16): every panel change on a 1M-row frame, to the updated table.

Run: ``python benchmarks/bench_widgets_filter.py --rows 1000000`` (default 100k rows;
``--rows 20000`` for a smoke run); ``--live`` adds live-mode page loads against an embedded
backend seeded with the same number of tasks (slow to seed at 1M).

Each step is one user action (a facet change, a search, a sort, a page flip, a page-size
change, a selection, the health facets) timed from the call to the moment the page's row
widgets hold their new HTML, with every state update JSON-encoded as the kernel would send
it (the comm below serialises what ipywidgets hands it). "cold" steps compute a facet mask
or sort order for the first time; "warm" steps reuse the cache. One run per step.

Beside each step, the same run times the frame's own pandas way to the same rows (the
boolean filter of the same condition, plus the sort where the step sorts) and prints the
ratio panel / pandas: the machine is shared, so ratios are what compare across runs. The
table also gives the panel's creation time and the process's peak RSS before the panel,
after every panel step, and after the pandas baselines (which copy the matching rows).

The frame: ``min(rows, 20000)`` task records go through ``build_frame`` (the real typed
frame), then are repeated up to ``rows`` with their own ids, file names and dates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import comm
import ipywidgets
import numpy as np
import pandas as pd
import pyarrow as pa

from synapse_nb.frames.build import build_frame
from synapse_nb.widgets.filter import FilterPanel
from synapse_nb.widgets.filter_controls import ANY

TARGET_MS = 100.0
CREATE_MS = 300.0
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


def _records(rows: int, seed: int) -> list[dict[str, Any]]:
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
    return records


def task_frame(rows: int, seed: int = 0, base_rows: int = 20_000) -> pd.DataFrame:
    """A typed task frame like ``Client.list_tasks`` returns: ``base_rows`` synthetic records
    through ``build_frame``, repeated up to ``rows`` with distinct ids, file names, dates."""
    base = build_frame("task", _records(min(rows, base_rows), seed), tag_names=TAGS)
    frame = base.iloc[np.arange(rows) % len(base)].copy()
    ids = np.arange(1, rows + 1)
    frame.index = pd.Index(ids, name="id")
    frame["data_unit_id"] = pd.array(ids, dtype="Int64")
    names = pa.array([f"scene_{i:06d}.jpg" for i in ids.tolist()], type=pa.string())
    frame["file_name"] = pd.Series(pd.arrays.ArrowStringArray(names), index=frame.index)
    days = pd.to_timedelta(ids % 28, unit="D")
    frame["created"] = pd.Timestamp("2026-09-01T10:00:00", tz="UTC") + days
    frame.attrs["synapse"] = {"kind": "task", "count": rows}
    return frame


def add_health(frame: pd.DataFrame, seed: int = 1) -> None:
    """Columns like ``df.synapse.health()`` adds (issue lists, scores), in place."""
    rng = np.random.default_rng(seed)
    dark = rng.random(len(frame))
    blurry = rng.random(len(frame)) * 100
    near = rng.random(len(frame)) < 0.02
    tiny = rng.random(len(frame)) < 0.05
    frame["image_issues"] = [
        (["dark"] if d > 0.9 else []) + (["near_duplicate"] if n else [])
        for d, n in zip(dark.tolist(), near.tolist(), strict=True)
    ]
    frame["annotation_issues"] = [["tiny"] if t else [] for t in tiny.tolist()]
    frame["dark_score"] = dark
    frame["blurry_score"] = pd.array(np.where(rng.random(len(frame)) < 0.1, np.nan, blurry),
                                     dtype="Float64")


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def timed_cpu(action: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU milliseconds of ``action`` (CPU: this process only, so the share of a
    loaded machine's cores it did not get does not count)."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _any_item(column: pd.Series, values: set[str]) -> pd.Series:
    """pandas' own way to "any of these items" on a list column: explode, isin, any."""
    return column.explode().isin(values).groupby(level=0).any()


#: one step: label, the panel action, the pandas way to the same rows (or None)
Step = tuple[str, Callable[[], Any], Callable[[], Any] | None]


def frame_steps(panel: FilterPanel, f: pd.DataFrame) -> list[Step]:
    """The changes a user makes in the panel's controls (set as the frontend sets them)."""
    first_row = panel._row_checks[0]
    completed = lambda: f["status"] == "completed"  # noqa: E731
    tagged = lambda: completed() & _any_item(f["tag_names"], {"blurry", "night"})  # noqa: E731
    dog = lambda: tagged() & _any_item(f["classes"], {"dog"})  # noqa: E731
    since = lambda: dog() & (f["created"] >= "2026-09-05")  # noqa: E731
    dated = lambda: since() & (f["created"] < "2026-09-21")  # noqa: E731

    def searched(term: str, base: Callable[[], pd.Series]) -> pd.Series:
        hit = f["file_name"].str.contains(term, case=False, regex=False)
        hit |= f["assignee_name"].str.contains(term, case=False, regex=False).fillna(False)
        return base() & hit

    def by_name(ascending: bool) -> pd.DataFrame:
        return f[dated()].sort_values("file_name", ascending=ascending, kind="stable")

    def set_(widget: Any, value: Any) -> Callable[[], None]:
        return lambda: setattr(widget, "value", value)

    return [
        ("status = completed (cold)", set_(panel.status_filter, "completed"),
         lambda: f[completed()]),
        ("+ tags any of [blurry, night] (cold)", set_(panel.tags_filter, ["blurry", "night"]),
         lambda: f[tagged()]),
        ("+ class = dog (cold)", set_(panel.class_filter, "dog"), lambda: f[dog()]),
        ("+ search '0012' (cold)", set_(panel.search_box, "0012"),
         lambda: f[searched("0012", dog)]),
        ("- search", set_(panel.search_box, ""), lambda: f[dog()]),
        ("+ created from 2026-09-05 (cold)", set_(panel.created_from, dt.date(2026, 9, 5)),
         lambda: f[since()]),
        ("+ created to 2026-09-20 (cold)", set_(panel.created_to, dt.date(2026, 9, 20)),
         lambda: f[dated()]),
        ("sort by file name (cold)", set_(panel.sort_dropdown, "file_name"),
         lambda: by_name(True)),
        ("descending (cold)", set_(panel.direction, True), lambda: by_name(False)),
        ("next page", panel.next_button.click, lambda: by_name(False).iloc[20:40]),
        ("tick a row checkbox", lambda: setattr(first_row, "value", not first_row.value), None),
        ("reset all filters", panel.reset_button.click,
         lambda: f[np.ones(len(f), dtype=bool)].sort_values("file_name", ascending=False)),
        ("sort by id", lambda: panel.sort("id"), lambda: f.sort_index()),
        ("status = pending (cold)", set_(panel.status_filter, "pending"),
         lambda: f[f["status"] == "pending"]),
        ("status = completed (warm)", set_(panel.status_filter, "completed"),
         lambda: f[completed()]),
        ("search 'Scene_' (cold, every row)", set_(panel.search_box, "Scene_"),
         lambda: f[searched("Scene_", completed)]),
        ("- search", set_(panel.search_box, ""), lambda: f[completed()]),
        ("assignee = Bob Lee (cold)", set_(panel.assignee_filter, "Bob Lee"),
         lambda: f[completed() & (f["assignee_name"] == "Bob Lee").fillna(False)]),
        ("page size 100", set_(panel.size_dropdown, 100),
         lambda: f[completed() & (f["assignee_name"] == "Bob Lee").fillna(False)].iloc[:100]),
        ("last page", lambda: panel.go(10**9),
         lambda: f[completed() & (f["assignee_name"] == "Bob Lee").fillna(False)].iloc[-100:]),
        ("page size 20", set_(panel.size_dropdown, 20),
         lambda: f[completed() & (f["assignee_name"] == "Bob Lee").fillna(False)].iloc[:20]),
        ("page size 100 again (rows reused)", set_(panel.size_dropdown, 100),
         lambda: f[completed() & (f["assignee_name"] == "Bob Lee").fillna(False)].iloc[:100]),
        ("page size 20 again", set_(panel.size_dropdown, 20),
         lambda: f[completed() & (f["assignee_name"] == "Bob Lee").fillna(False)].iloc[:20]),
        ("select all matches", panel.select_all_button.click, None),
        ("clear selection", panel.clear_button.click, None),
        ("clear (reset)", panel.reset_button.click, lambda: f[np.ones(len(f), dtype=bool)]),
    ]  # fmt: skip


def api_steps(panel: FilterPanel, f: pd.DataFrame) -> list[Step]:
    """Python calls: one returns the matching frame (it copies the rows, as pandas does);
    ``update_rows`` patches tags as the TagEditor does (baseline: copying those columns)."""
    ids = f.index[[5, 70_000 % len(f), 900 % len(f)]]
    patch = f.loc[ids, ["tags", "tag_names"]].copy()
    patch["tags"] = [[2] for _ in ids]
    patch["tag_names"] = pd.Series([["blurry"]] * len(ids), index=ids, dtype=f["tag_names"].dtype)
    return [
        ("panel.filter(status=completed) -> frame", lambda: panel.filter(status="completed"),
         lambda: f[f["status"] == "completed"]),
        ("update_rows: tag 3 rows", lambda: panel.update_rows(patch, synced=False),
         lambda: f[["tags", "tag_names"]].copy()),
    ]


def health_steps(panel: FilterPanel, f: pd.DataFrame) -> list[Step]:
    def issue(name: str) -> pd.Series:
        return (_any_item(f["image_issues"], {name}) | _any_item(f["annotation_issues"], {name}))

    blurry = f["blurry_score"]
    return [
        ("health: issue = dark (cold)", lambda: setattr(panel.issue_filter, "value", "dark"),
         lambda: f[issue("dark")]),
        ("health: issue = tiny (cold)", lambda: setattr(panel.issue_filter, "value", "tiny"),
         lambda: f[issue("tiny")]),
        ("health: score column blurry (cold)",
         lambda: setattr(panel.score_filter.column, "value", "blurry_score"),
         lambda: f[issue("tiny") & blurry.notna()]),
        ("health: score slider 0..40 (cold)",
         lambda: setattr(panel.score_filter.slider, "value", (0.0, 40.0)),
         lambda: f[issue("tiny") & (blurry >= 0) & (blurry <= 40)]),
        ("health: issue = any", lambda: setattr(panel.issue_filter, "value", ANY),
         lambda: f[(blurry >= 0) & (blurry <= 40)]),
        ("health: clear", panel.reset_button.click, lambda: f[np.ones(len(f), dtype=bool)]),
    ]  # fmt: skip


#: one result row: label, panel ms, panel CPU ms, matches, baseline ms (or None)
Row = tuple[str, float, float, int, float | None]


Baselines = list[Callable[[], Any] | None]


def _run_steps(panel: FilterPanel, frame: pd.DataFrame,
               steps: Callable[[FilterPanel, pd.DataFrame], list[Step]]
               ) -> tuple[list[Row], Baselines]:
    results: list[Row] = []
    baselines: Baselines = []
    for name, action, baseline in steps(panel, frame):
        results.append((name, *timed_cpu(action), panel.count, None))
        baselines.append(baseline)
    return results, baselines


def _run_panel(frame: pd.DataFrame, steps: Callable[[FilterPanel, pd.DataFrame], list[Step]],
               label: str) -> tuple[FilterPanel, list[Row], Baselines]:
    small = frame.iloc[:1000]
    FilterPanel(small)  # the process's first panel pays imports and widget-class set-up once
    create_ms, create_cpu = timed_cpu(lambda: globals().__setitem__("_panel", FilterPanel(frame)))
    panel: FilterPanel = globals().pop("_panel")
    # creation's baseline: the same panel on 1,000 rows (the widgets, without the data)
    results, baselines = _run_steps(panel, frame, steps)
    return (panel, [(label, create_ms, create_cpu, panel.count, None), *results],
            [lambda: FilterPanel(small), *baselines])


def run_frame(rows: int, health: bool) -> tuple[list[Row], dict[str, float]]:
    started = time.perf_counter()
    frame = task_frame(rows)
    print(f"built a {rows:,}-row task frame in {time.perf_counter() - started:.1f} s")
    rss = {"frame built": peak_rss_mb()}
    original = comm.create_comm
    comm.create_comm = lambda *args, **kwargs: JsonComm(*args, **kwargs)
    try:
        panel, results, baselines = _run_panel(frame, frame_steps,
                                               "create the panel (first page)")
        rss["after every panel change"] = peak_rss_mb()
        more, extra = _run_steps(panel, frame, api_steps)
        results, baselines = results + more, baselines + extra
        rss["after panel.filter() returned a frame"] = peak_rss_mb()
        if health:  # the same frame, with the columns of df.synapse.health() added
            add_health(frame)
            rss["health columns added"] = peak_rss_mb()
            _health, more, extra = _run_panel(frame, health_steps, "create a health panel (3 "
                                              "rows of controls)")
            results, baselines = results + more, baselines + extra
            rss["after every health panel change"] = peak_rss_mb()
        timed_rows = []
        for (label, ms, cpu, count, _none), baseline in zip(results, baselines, strict=True):
            timed_rows.append((label, ms, cpu, count, timed(baseline) if baseline else None))
    finally:
        comm.create_comm = original
    rss["after the pandas baselines"] = peak_rss_mb()
    return timed_rows, rss


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


def print_table(results: list[Row], rss: dict[str, float]) -> None:
    width = max(len(label) for label, *_rest in results)
    print(f"\n{'step'.ljust(width)}  {'ms':>8}  {'cpu ms':>8}  {'matches':>9}  {'base ms':>8}"
          f"  {'ratio':>6}  target {TARGET_MS:.0f} ms (creation {CREATE_MS:.0f} ms)")
    for label, ms, cpu, count, base_ms in results:
        target = CREATE_MS if label.startswith("create") else TARGET_MS
        verdict = "ok" if ms <= target else "SLOW" + (" (cpu ok)" if cpu <= target else "")
        if label.startswith("live"):
            verdict = ""
        base = f"{base_ms:8.1f}  {ms / base_ms:6.2f}" if base_ms else f"{'-':>8}  {'-':>6}"
        print(f"{label.ljust(width)}  {ms:8.1f}  {cpu:8.1f}  {count:9,}  {base}  {verdict}")
    changes = [ms for label, ms, *_rest in results if not label.startswith(("create", "live"))]
    if changes:
        print(
            f"\nfilter/sort/page changes: median {statistics.median(changes):.1f} ms, "
            f"max {max(changes):.1f} ms"
        )
    ratios = [ms / b for label, ms, _c, _n, b in results if b and not label.startswith("create")]
    if ratios:
        print(f"panel / pandas: median {statistics.median(ratios):.3f}, max {max(ratios):.3f}")
    print("base ms: the pandas filter (and sort) of the same rows; for creation, the same "
          "panel on 1,000 rows\n(both creations after a first panel in the process, which pays "
          "the imports and widget-class set-up once)")
    print("peak RSS: " + ", ".join(f"{k} {v:,.0f} MB" for k, v in rss.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--live", action="store_true", help="also time live mode")
    parser.add_argument("--no-health", action="store_true", help="skip the health facets")
    args = parser.parse_args(argv)
    try:
        results, rss = run_frame(args.rows, health=not args.no_health)
        if args.live:
            results += [(label, ms, ms, n, None) for label, ms, n in run_live(args.rows)]
        print_table(results, rss)
    finally:
        # closed while ipywidgets is whole: panels left to the interpreter's shutdown print
        # "Exception ignored in Widget.__del__" tracebacks under the table
        ipywidgets.Widget.close_all()
    slow = [label for label, ms, *_rest in results
            if ms > (CREATE_MS if label.startswith("create") else TARGET_MS)
            and not label.startswith("live")]  # fmt: skip
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
