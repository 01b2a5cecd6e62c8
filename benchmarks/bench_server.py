"""Embedded backend throughput: seeding time and pages/s of ``sdk/tasks/?page_size=100``.

Run: ``python benchmarks/bench_server.py [--tasks 100000] [--workers 8]``. One run, printed as a
table; the sequential walk is the baseline the concurrent walk is compared with.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from synapse_nb.server import start


def walk_sequential(session: requests.Session, url: str) -> tuple[int, int, float]:
    pages = items = 0
    started = time.perf_counter()
    while url:
        body = session.get(url, timeout=60).json()
        pages += 1
        items += len(body["results"])
        url = body["next"]
    return pages, items, time.perf_counter() - started


def walk_concurrent(session: requests.Session, url: str, workers: int) -> tuple[int, int, float]:
    started = time.perf_counter()
    first = session.get(url, timeout=60).json()
    n_pages = -(-first["count"] // len(first["results"]))

    def fetch(page: int) -> int:
        return len(session.get(f"{url}&page={page}", timeout=60).json()["results"])

    with ThreadPoolExecutor(workers) as pool:
        items = len(first["results"]) + sum(pool.map(fetch, range(2, n_pages + 1)))
    return n_pages, items, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        srv = start(demo=True, cache_dir=cache)
        rows.append(("demo workspace, cold start (s)", time.perf_counter() - t0))
        srv.stop()
        t0 = time.perf_counter()
        srv = start(demo=True, cache_dir=cache)
        rows.append(("demo workspace, second start, media cached (s)", time.perf_counter() - t0))
        srv.stop()
    t0 = time.perf_counter()
    srv = start(tasks=args.tasks, latency_ms=args.latency_ms)
    rows.append((f"bulk seed of {args.tasks:,} tasks (s)", time.perf_counter() - t0))
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {srv.token}"
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=args.workers)
    session.mount("http://", adapter)
    url = f"{srv.url}sdk/tasks/?page_size=100"
    pages, items, seconds = walk_sequential(session, url)
    assert items == args.tasks, (items, args.tasks)
    rows.append((f"sequential walk: {pages} pages of 100 (pages/s)", pages / seconds))
    seq_rate = pages / seconds
    pages, items, seconds = walk_concurrent(session, url, args.workers)
    assert items == args.tasks, (items, args.tasks)
    rows.append((f"concurrent walk, {args.workers} workers (pages/s)", pages / seconds))
    rows.append(("concurrent / sequential (ratio)", (pages / seconds) / seq_rate))
    srv.stop()

    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  --------")
    for name, value in rows:
        print(f"{name:<{width}}  {value:8.2f}")


if __name__ == "__main__":
    main()
