"""Embedded backend CPU, throughput and memory while listing tasks, this tree against another.

Run: ``python benchmarks/bench_server_list.py --compare TREE [--tasks 100000]`` where TREE is
another source tree of synapse_nb (e.g. ``git archive main | tar -x -C /tmp/main``). Each
tree's backend runs in its own process (``python -m synapse_nb.server --tasks N`` with
``PYTHONPATH=TREE``); the measurements alternate between them, so a loaded machine weighs on
both. Server CPU comes from ``/proc/<pid>/stat``, memory from ``/proc/<pid>/status``.

Table 1, one client: CPU per row of a full ``sdk/tasks/`` listing at ``page_size=1000``,
pages requested in order (best of ``--repeat``); the mean CPU of its first and of its last 10
pages; pages requested on their own, each after one warm-up request (page 1 vs page 100 at
1000 per page, page 1 vs page 1000 at 100 per page); and the CPU of the page of 100 in the
middle of the listing right after a write (nothing known about the listing: the cold path at
its worst, as far from the end as from the start), averaged over a few writes. The last
column is the ratio of this tree's CPU per row to TREE's.

Table 2, concurrency: 1/2/4/8 client processes list every page of 100 (``--page-size``)
together, each taking the pages ``i, i + C, i + 2C, ...`` (so pages arrive out of order, as a
prefetching client sends them), after a write (nothing cached). Rows per second of wall
time, server CPU per page, and this tree's throughput against TREE's at the same
concurrency.

Table 3, memory: the server's RSS before the runs, its highest sample (every 20 ms) while
serving them, and after.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import requests
from bench_client import cpu_seconds, print_table, scale_project

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Backend:
    """A seeded backend of one source tree, in its own process."""

    def __init__(self, tree: str, tasks: int, workdir: str) -> None:
        self.token = "bench-" + os.urandom(12).hex()
        cmd = [sys.executable, "-m", "synapse_nb.server", "--port", "0", "--token", self.token]
        env = dict(os.environ, PYTHONPATH=tree)
        self.proc = subprocess.Popen(
            [*cmd, "--tasks", str(tasks)], stdout=subprocess.PIPE, text=True, env=env, cwd=workdir
        )
        assert self.proc.stdout is not None
        self.url = ""
        for line in self.proc.stdout:
            match = re.search(r"URL:\s+(\S+)", line)
            if match:
                self.url = match.group(1)
                break
        self.session = requests.Session()
        self.session.headers["Synapse-Access-Token"] = f"Token {self.token}"
        self.project = scale_project(self.url, self.token)
        self.count = tasks

    def get(self, size: int, page: int) -> dict[str, Any]:
        params = {"project": self.project, "page_size": size, "page": page}
        reply = self.session.get(f"{self.url}sdk/tasks/", params=params, timeout=120)
        reply.raise_for_status()
        return reply.json()

    def listing(self, size: int = 1000) -> tuple[float, list[float]]:
        """(CPU seconds per row, CPU seconds of each page) of one sequential listing."""
        pages: list[float] = []
        rows, page = 0, 1
        while True:
            before = cpu_seconds(self.proc.pid)
            body = self.get(size, page)
            pages.append(cpu_seconds(self.proc.pid) - before)
            rows += len(body["results"])
            if body["next"] is None:
                return sum(pages) / rows, pages
            page += 1

    def page_cost(self, size: int, page: int, repeat: int = 50) -> float:
        """Mean CPU seconds of ``page`` requested on its own (its previous page not served)."""
        self.get(size, page)
        before = cpu_seconds(self.proc.pid)
        for _ in range(repeat):
            self.get(size, page)
        return (cpu_seconds(self.proc.pid) - before) / repeat

    def write(self) -> None:
        """Any write: the backend forgets what it knew about listings (counts, page marks)."""
        reply = self.session.post(f"{self.url}task_tags/", json={"name": "bench"}, timeout=60)
        reply.raise_for_status()

    def cold_page_cost(self, size: int, page: int, repeat: int = 5) -> float:
        """Mean CPU seconds of ``page`` asked for first after a write (its count cached)."""
        spent = 0.0
        for _ in range(repeat):
            self.write()
            self.session.get(
                f"{self.url}sdk/tasks/",
                params={"project": self.project, "page_size": size},
                timeout=120,
            ).raise_for_status()
            before = cpu_seconds(self.proc.pid)
            self.get(size, page)
            spent += cpu_seconds(self.proc.pid) - before
        return spent / repeat

    def rss(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            line = next(line for line in fh if line.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024

    def stop(self) -> None:
        self.session.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


class RssWatch:
    """Samples a backend's RSS every 20 ms in a thread; ``peak`` is the highest sample."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.before = self.peak = backend.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.backend.rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.backend.rss()


def measure(backend: Backend, runs: list[tuple[float, list[float]]]) -> list[Any]:
    per_row, pages = min(runs, key=lambda run: run[0])
    direct = [backend.page_cost(1000, 1), backend.page_cost(1000, 100)]
    direct += [backend.page_cost(100, 1), backend.page_cost(100, 1000)]
    middle = -(-backend.count // 100) // 2  # the farthest from both ends: the worst cold page
    direct.append(backend.cold_page_cost(100, middle))
    return [
        f"{per_row * 1e6:.1f}",
        f"{sum(pages[:10]) / 10 * 1e3:.1f}",
        f"{sum(pages[-10:]) / 10 * 1e3:.1f}",
        *(f"{cost * 1e3:.2f}" for cost in direct),
    ]


def _lister(args: tuple[str, str, int, int, list[int]]) -> int:
    """One client process: GET each of ``pages`` (of ``size``) in turn; returns the rows seen."""
    url, token, project, size, pages = args
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {token}"
    rows = 0
    for page in pages:
        params = {"project": project, "page_size": size, "page": page}
        reply = session.get(f"{url}sdk/tasks/", params=params, timeout=120)
        reply.raise_for_status()
        rows += len(reply.json()["results"])
    session.close()
    return rows


def concurrent_listing(
    backend: Backend, clients: int, pool: Any, size: int = 100
) -> tuple[float, float]:
    """(rows per wall second, server CPU seconds per page) of every page of ``size`` by
    ``clients``."""
    backend.write()
    pages = -(-backend.count // size)
    work = [
        (backend.url, backend.token, backend.project, size, list(range(i + 1, pages + 1, clients)))
        for i in range(clients)
    ]
    before, started = cpu_seconds(backend.proc.pid), time.perf_counter()
    rows = sum(pool.map(_lister, work))
    wall, spent = time.perf_counter() - started, cpu_seconds(backend.proc.pid) - before
    assert rows == backend.count, (rows, backend.count)
    return rows / wall, spent / pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", required=True, metavar="TREE", help="another source tree")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="alternating listings per tree")
    parser.add_argument("--clients", default="1,2,4,8", help="concurrent clients of table 2")
    parser.add_argument("--page-size", type=int, default=100, help="page size of table 2")
    args = parser.parse_args(argv)
    if args.tasks < 100_000:
        parser.error("--tasks must be at least 100000 (page 100 of 1000 and 1000 of 100 exist)")
    clients = [int(c) for c in args.clients.split(",")]
    trees = {"this tree": HERE, os.path.basename(args.compare.rstrip("/")): args.compare}
    with tempfile.TemporaryDirectory() as workdir:
        backends = {name: Backend(tree, args.tasks, workdir) for name, tree in trees.items()}
        try:
            watches = {name: RssWatch(backend) for name, backend in backends.items()}
            runs: dict[str, list[tuple[float, list[float]]]] = {name: [] for name in trees}
            for _ in range(args.repeat):
                for name, backend in backends.items():
                    runs[name].append(backend.listing())
            rows = {name: measure(backends[name], runs[name]) for name in trees}
            flows: dict[str, dict[int, tuple[float, float]]] = {name: {} for name in trees}
            with multiprocessing.get_context("fork").Pool(max(clients)) as pool:
                for count in clients:
                    for name, backend in backends.items():
                        flows[name][count] = concurrent_listing(
                            backend, count, pool, args.page_size
                        )
            memory = {name: (w.before, w.peak, w.stop()) for name, w in watches.items()}
        finally:
            for backend in backends.values():
                backend.stop()
    report(args.tasks, trees, rows, flows, memory, args.page_size)
    return 0


def report(
    tasks: int,
    trees: dict[str, str],
    rows: dict[str, list[Any]],
    flows: dict[str, dict[int, tuple[float, float]]],
    memory: dict[str, tuple[int, int, int]],
    page_size: int = 100,
) -> None:
    names = list(trees)
    other = float(rows[names[1]][0])
    table = [[name, *row, f"{float(row[0]) / other:.2f}"] for name, row in rows.items()]
    header = ["tree", "us/row", "ms first 10", "ms last 10", "ms p1/1000", "ms p100/1000"]
    header += ["ms p1/100", "ms p1000/100", "ms middle/100 cold", "us/row vs other"]
    load = os.getloadavg()[0]
    print_table(
        f"1. server CPU, sdk/tasks/ of {tasks:,} tasks (pages of 1000 in order; pages on "
        f"their own; load {load:.1f})",
        header,
        table,
    )
    print_table(
        f"2. every page of {page_size} of {tasks:,} tasks by C client processes, pages interleaved",
        ["tree", "C", "rows/s", "server ms CPU/page", "rows/s vs other"],
        [
            [
                name,
                count,
                f"{rate:,.0f}",
                f"{cpu * 1e3:.2f}",
                f"{rate / flows[names[1]][count][0]:.2f}",
            ]
            for name in names
            for count, (rate, cpu) in flows[name].items()
        ],
    )
    print_table(
        "3. server RSS MB around tables 1 and 2 (peak: highest 20 ms sample)",
        ["tree", "before", "peak", "after", "peak - before"],
        [
            [name, f"{b / 1e6:.0f}", f"{p / 1e6:.0f}", f"{a / 1e6:.0f}", f"{(p - b) / 1e6:.0f}"]
            for name, (b, p, a) in memory.items()
        ],
    )


if __name__ == "__main__":
    raise SystemExit(main())
