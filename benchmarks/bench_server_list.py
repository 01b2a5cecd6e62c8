"""Embedded backend CPU per listed task, this tree against another, from one run.

Run: ``python benchmarks/bench_server_list.py --compare TREE [--tasks 100000]`` where TREE is
another source tree of synapse_nb (e.g. ``git archive main | tar -x -C /tmp/main``). Each
tree's backend runs in its own process (``python -m synapse_nb.server --tasks N`` with
``PYTHONPATH=TREE``); the listings alternate between them, so a loaded machine weighs on both.
Server CPU comes from ``/proc/<pid>/stat`` of each backend process.

Columns: CPU per row of a full ``sdk/tasks/`` listing at ``page_size=1000``, pages requested
in order (best of ``--repeat``); the mean CPU of its first and of its last 10 pages (a
sequential listing reads each page after the previous one's last id); and pages requested
directly (no previous page served): page 1 vs page 100 at 1000 per page, page 1 vs page
1000 at 100 per page. The last column is the ratio of this tree's CPU per row to TREE's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
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

    def page_cost(self, size: int, page: int, repeat: int = 10) -> float:
        """Mean CPU seconds of ``page`` requested on its own (its previous page not served)."""
        self.get(size, page)
        before = cpu_seconds(self.proc.pid)
        for _ in range(repeat):
            self.get(size, page)
        return (cpu_seconds(self.proc.pid) - before) / repeat

    def stop(self) -> None:
        self.session.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def measure(backend: Backend, runs: list[tuple[float, list[float]]]) -> list[Any]:
    per_row, pages = min(runs, key=lambda run: run[0])
    direct = [backend.page_cost(1000, 1), backend.page_cost(1000, 100)]
    direct += [backend.page_cost(100, 1), backend.page_cost(100, 1000)]
    return [
        f"{per_row * 1e6:.1f}",
        f"{sum(pages[:10]) / 10 * 1e3:.1f}",
        f"{sum(pages[-10:]) / 10 * 1e3:.1f}",
        *(f"{cost * 1e3:.1f}" for cost in direct),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", required=True, metavar="TREE", help="another source tree")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="alternating listings per tree")
    args = parser.parse_args(argv)
    if args.tasks < 100_000:
        parser.error("--tasks must be at least 100000 (page 100 of 1000 and 1000 of 100 exist)")
    trees = {"this tree": HERE, os.path.basename(args.compare.rstrip("/")): args.compare}
    with tempfile.TemporaryDirectory() as workdir:
        backends = {name: Backend(tree, args.tasks, workdir) for name, tree in trees.items()}
        try:
            runs: dict[str, list[tuple[float, list[float]]]] = {name: [] for name in trees}
            for _ in range(args.repeat):
                for name, backend in backends.items():
                    runs[name].append(backend.listing())
            rows = {name: measure(backends[name], runs[name]) for name in trees}
        finally:
            for backend in backends.values():
                backend.stop()
    other = float(rows[list(trees)[1]][0])
    table = [[name, *row, f"{float(row[0]) / other:.2f}"] for name, row in rows.items()]
    header = ["tree", "us/row", "ms first 10", "ms last 10", "ms p1/1000", "ms p100/1000"]
    header += ["ms p1/100", "ms p1000/100", "us/row vs other"]
    print_table(
        f"server CPU, sdk/tasks/ of {args.tasks:,} tasks (pages of 1000 in order; direct pages)",
        header,
        table,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
