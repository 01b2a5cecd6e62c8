"""Scale benchmark (issue 16): N tasks -> typed frame at 100k / 300k / 1M, printed as tables.

Run: ``python benchmarks/bench_scale.py`` (100k, 300k, 1M tasks; 20 ms latency; long),
``--quick`` (20k, 50k) or ``--sizes 20000,100000``. ``--profile`` adds the top functions of
each client phase (cProfile over process CPU time, microseconds per row), from a second
pass so the profiler's overhead stays out of the other tables.

For each size a fresh backend runs in its own process (``python -m synapse_nb.server``,
bulk-seeded with ``--tasks N``, 20 ms of added latency per request) and this process lists
the project once with ``Client.list_tasks(list_all=True)``. Tables:

1. listing: wall time, wall and client CPU per row (this process, every thread), server
   CPU per row, client peak RSS (absolute and growth) vs the frame's
   ``memory_usage(deep=True)``; time per row is also given relative to the smallest size
   (1.00 = linear in N).
2. client CPU split: the same listing redone in phases, one after the other on this thread
   with the cyclic GC paused as the frame listing does: HTTP (request, socket wait, body
   read) of every page of 1000, decoding of each body (the frame listing's page decoder:
   typed rows for tasks), ``build_frame`` of the decoded rows, and freeing the decoded rows
   (the real listing frees each page's rows as it goes). Process CPU per row of each phase;
   the sum is compared with the real listing's.
3. server CPU per page of 100: sequential requests for page 1 and for the deepest page
   (page 10,000 where the project has it, else its last page); CPU of the server process
   per request, from /proc.
4. with ``--compare TREE`` (another source tree of synapse_nb, e.g. ``git archive main | tar
   -x -C /tmp/main``): the same listing by a fresh process of each tree, alternating,
   ``--repeat`` times against the same backend; best wall and client CPU of each, and this
   tree's speed-up over the other. On a shared machine this is the fair before/after.
5. memory: the same listing in a fresh interpreter of this tree, its resident set after the
   imports and a one-page listing (before), its high-water mark after the full listing
   (peak), and both against the frame's ``memory_usage(deep=True)``. Table 1's RSS columns
   come from one process that lists every size in turn, so a larger size reuses memory the
   smaller ones freed; this table does not. It costs one more full listing per size (about
   20 s and a second process of the frame's size at 1M), and it is printed right after
   table 3 (table 4, with ``--compare``, comes last).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import requests
from bench_client import PeakRSS, backend, cpu_seconds, print_table, scale_project

from synapse_nb._json import loads as json_loads
from synapse_nb.frames import Client
from synapse_nb.frames.build import build_frame, gc_paused

try:  # the typed page decoder (absent from older trees)
    from synapse_nb.frames.columnar import page_decoder
except ImportError:  # pragma: no cover - an older tree

    def page_decoder(kind: str) -> Any:
        return None


PAGE = 1000  # the frame listing's page size
SERVER_PAGE = 100
SERVER_REQUESTS = 30


def cpu_timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, process CPU s, result) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def session_for(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {token}"
    return session


def fetch_bodies(session: requests.Session, url: str, project: int, n: int) -> list[bytes]:
    pages = -(-n // PAGE)
    base = f"{url}sdk/tasks/?project={project}&page_size={PAGE}&page="
    return [session.get(f"{base}{page}", timeout=120).content for page in range(1, pages + 1)]


def decode(bodies: list[bytes]) -> list[Any]:
    """The pages' rows as the frame listing decodes them (typed rows where covered)."""
    items: list[Any] = []
    decode_page = page_decoder("task") or json_loads
    for body in bodies:
        items.extend(decode_page(body)["results"])
    return items


def top_functions(profile: cProfile.Profile, rows: int, limit: int = 12) -> list[list[Any]]:
    stats = pstats.Stats(profile)
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]  # type: ignore[attr-defined]
    out = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in entries:
        where = f"{os.path.basename(filename)}:{line}" if line else filename
        out.append(
            [
                f"{name} ({where})",
                calls,
                f"{tottime / rows * 1e6:.2f}",
                f"{cumtime / rows * 1e6:.2f}",
            ]
        )
    return out


def phase_split(
    url: str, token: str, project: int, n: int, tags: Any, profile: bool
) -> dict[str, Any]:
    """Per-row CPU of HTTP, JSON decoding and frame building, run one after the other."""
    session = session_for(token)
    profiles: dict[str, cProfile.Profile] = {}

    def run(name: str, fn: Callable[[], Any]) -> tuple[float, float, Any]:
        if not profile:
            return cpu_timed(fn)
        profiles[name] = cProfile.Profile(time.process_time)  # CPU, not wall: a loaded machine
        return cpu_timed(lambda: profiles[name].runcall(fn))

    with gc_paused():
        w_http, c_http, bodies = run("http", lambda: fetch_bodies(session, url, project, n))
        w_json, c_json, items = run("json", lambda: decode(bodies))
        bodies.clear()
        w_build, c_build, frame = run("build", lambda: build_frame("task", items, tag_names=tags))
        # the real listing frees each page's rows as it goes: that costs CPU too
        w_free, c_free, _ = run("free", items.clear)
    session.close()
    assert len(frame) == n, (len(frame), n)
    return {
        "http": (w_http, c_http),
        "json": (w_json, c_json),
        "build": (w_build, c_build),
        "free": (w_free, c_free),
        "profiles": profiles,
    }


def server_page_cpu(url: str, token: str, pid: int, project: int, page: int) -> float:
    """Server CPU seconds per request of ``page`` (pages of 100), sequential requests."""
    session = session_for(token)
    target = f"{url}sdk/tasks/?project={project}&page_size={SERVER_PAGE}&page={page}"
    session.get(target, timeout=60).raise_for_status()  # warm
    before = cpu_seconds(pid)
    for _ in range(SERVER_REQUESTS):
        session.get(target, timeout=60).raise_for_status()
    spent = cpu_seconds(pid) - before
    session.close()
    return spent / SERVER_REQUESTS


def server_cold_page_cpu(url: str, token: str, pid: int, project: int, page: int) -> float:
    """Server CPU seconds of ``page`` (of 100) asked for first after a write, mean of 5.

    A write makes the backend forget where the listing's pages start: this is the cost of a
    page nobody asked for nearby (the count is cached first, as the first page does).
    """
    session = session_for(token)
    target = f"{url}sdk/tasks/?project={project}&page_size={SERVER_PAGE}"
    spent = 0.0
    for _ in range(5):
        session.post(f"{url}task_tags/", json={"name": "bench"}, timeout=60).raise_for_status()
        session.get(target, timeout=60).raise_for_status()
        before = cpu_seconds(pid)
        session.get(f"{target}&page={page}", timeout=60).raise_for_status()
        spent += cpu_seconds(pid) - before
    session.close()
    return spent / 5


def measure(n: int, latency_ms: float, profile: bool) -> dict[str, Any]:
    with backend("process", tasks=n, latency_ms=latency_ms) as srv:
        assert srv.pid is not None
        project = scale_project(srv.url, srv.token)
        client = Client(srv.url, api_token=srv.token, progress=False)
        server_before, client_before = cpu_seconds(srv.pid), cpu_seconds()
        with PeakRSS(interval=0.02) as rss:  # sparse sampling: its CPU counts as the client's
            started = time.perf_counter()
            frame = client.list_tasks({"project": project}, list_all=True)
            wall = time.perf_counter() - started
        client_cpu, server_cpu = cpu_seconds() - client_before, cpu_seconds(srv.pid) - server_before
        assert len(frame) == n, (len(frame), n)
        frame_mb = frame.memory_usage(deep=True).sum() / 1e6
        del frame
        tags = client.tags.names()
        split = phase_split(srv.url, srv.token, project, n, tags, profile=False)
        if profile:  # a second pass, so the profiler's overhead stays out of table 2
            split["profiles"] = phase_split(srv.url, srv.token, project, n, tags, True)["profiles"]
        deep = min(10_000, -(-n // SERVER_PAGE))
        page1 = server_page_cpu(srv.url, srv.token, srv.pid, project, 1)
        page_deep = server_page_cpu(srv.url, srv.token, srv.pid, project, deep)
        middle = -(-n // SERVER_PAGE) // 2  # cold, the farthest page from both ends is the worst
        page_cold = server_cold_page_cpu(srv.url, srv.token, srv.pid, project, middle)
        client.close()
        memory = run_in_tree(MEMORY, THIS_TREE, srv.url, srv.token, project)
        assert memory["n"] == n, (memory["n"], n)
    return {
        "n": n,
        "wall": wall,
        "client_cpu": client_cpu,
        "server_cpu": server_cpu,
        "peak": rss.peak / 1e6,
        "growth": rss.growth / 1e6,
        "frame_mb": frame_mb,
        "split": split,
        "deep": deep,
        "page1": page1,
        "page_deep": page_deep,
        "middle": middle,
        "page_cold": page_cold,
        "memory": memory,
    }


# Table 5, in a fresh interpreter of this tree: argv = url token project; prints JSON. The
# resident set is read after the imports and a one-page listing (what any session holds
# before it lists), then its high-water mark after the full listing.
MEMORY = r"""
import json, sys
from synapse_nb.frames import Client

def status(key):
    return int(open("/proc/self/status").read().split(key + ":")[1].split()[0]) * 1024 / 1e6

client = Client(sys.argv[1], api_token=sys.argv[2], progress=False)
client.list_tasks({"project": int(sys.argv[3]), "page_size": 10})
before = status("VmRSS")
frame = client.list_tasks({"project": int(sys.argv[3])}, list_all=True)
peak = status("VmHWM")  # not ru_maxrss: Linux carries it over from the parent across exec
mb = float(frame.memory_usage(deep=True).sum()) / 1e6
print(json.dumps({"n": len(frame), "before": before, "peak": peak, "frame_mb": mb}))
"""


#: this source tree (the folder holding ``synapse_nb/`` and ``benchmarks/``)
THIS_TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_in_tree(script: str, tree: str, *args: Any) -> dict[str, Any]:
    """The JSON last printed by ``script`` run in a fresh interpreter of the source ``tree``."""
    env = {**os.environ, "PYTHONPATH": tree}
    command = [sys.executable, "-c", script, *map(str, args)]
    # cwd is the tree too: ``python -c`` puts the cwd first on sys.path
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json_loads(done.stdout.strip().splitlines()[-1])
    return result


# Runs in a fresh interpreter with PYTHONPATH=<tree>: argv = url token project; prints JSON.
LISTER = r"""
import json, resource, sys, time
from synapse_nb.frames import Client

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

client = Client(sys.argv[1], api_token=sys.argv[2], progress=False)
started, cpu0 = time.perf_counter(), cpu()
frame = client.list_tasks({"project": int(sys.argv[3])}, list_all=True)
wall, spent = time.perf_counter() - started, cpu() - cpu0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
peak = int(status) * 1024 / 1e6
import synapse_nb
source = synapse_nb.__file__
mb = float(frame.memory_usage(deep=True).sum()) / 1e6
print(json.dumps({"n": len(frame), "wall": wall, "cpu": spent, "peak": peak, "source": source,
                  "frame_mb": mb}))
"""


def compare_trees(n: int, latency_ms: float, trees: dict[str, str], repeat: int) -> list[list[Any]]:
    """Table 4: the listing by each source tree in its own process, alternating."""
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
    with backend("process", tasks=n, latency_ms=latency_ms) as srv:
        project = scale_project(srv.url, srv.token)
        for _ in range(repeat):
            for label, tree in trees.items():
                run = run_in_tree(LISTER, tree, srv.url, srv.token, project)
                assert run["n"] == n, (label, run["n"], n)
                assert run["source"].startswith(os.path.abspath(tree)), (label, run["source"])
                runs[label].append(run)
    best = {label: min(r["cpu"] for r in rs) for label, rs in runs.items()}
    other = best[next(label for label in trees if label != "this tree")]
    rows = []
    for label, rs in runs.items():
        peak = min(r["peak"] for r in rs)
        frame_mb = rs[0]["frame_mb"]
        rows.append(
            [
                f"{n:,}",
                label,
                f"{min(r['wall'] for r in rs):.2f}",
                f"{min(r['wall'] for r in rs) / n * 1e6:.1f}",
                f"{best[label] / n * 1e6:.1f}",
                f"{other / best[label]:.2f}x",
                f"{peak:.0f}",
                f"{frame_mb:.0f}",
                f"{peak / frame_mb:.2f}",
            ]
        )
    return rows


def us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:.1f}"


def report(results: list[dict[str, Any]], latency_ms: float) -> None:
    load = os.getloadavg()[0]
    print(
        f"\n{latency_ms:g} ms latency, backend in its own process, {os.cpu_count()} CPUs "
        f"(load {load:.1f}), pandas {pd.__version__}, Python {sys.version.split()[0]}, one run"
    )
    base = results[0]["wall"] / results[0]["n"]
    print_table(
        "1. Client.list_tasks(list_all=True) -> typed frame",
        [
            "tasks",
            "wall s",
            "wall us/row",
            "vs smallest",
            "client CPU us/row",
            "server CPU us/row",
            "peak RSS MB",
            "RSS growth MB",
            "frame MB (deep)",
            "peak/frame",
        ],
        [
            [
                f"{r['n']:,}",
                f"{r['wall']:.2f}",
                us(r["wall"], r["n"]),
                f"{r['wall'] / r['n'] / base:.2f}",
                us(r["client_cpu"], r["n"]),
                us(r["server_cpu"], r["n"]),
                f"{r['peak']:.0f}",
                f"{r['growth']:.0f}",
                f"{r['frame_mb']:.0f}",
                f"{r['peak'] / r['frame_mb']:.2f}",
            ]
            for r in results
        ],
    )
    rows = []
    for r in results:
        n, split = r["n"], r["split"]
        phases = ("http", "json", "build", "free")
        total = sum(split[k][1] for k in phases)
        shares = " / ".join(f"{split[k][1] / total:.0%}" for k in phases)
        rows.append(
            [
                f"{n:,}",
                us(split["http"][1], n),
                us(split["json"][1], n),
                us(split["build"][1], n),
                us(split["free"][1], n),
                us(total, n),
                us(r["client_cpu"], n),
                shares,
            ]
        )
    print_table(
        "2. client CPU us/row by phase (sequential pages of 1000, GC paused)",
        [
            "tasks",
            "HTTP + socket",
            "JSON decode",
            "build_frame",
            "free rows",
            "sum",
            "real listing",
            "share http/json/build/free",
        ],
        rows,
    )
    print_table(
        f"3. server CPU per page of {SERVER_PAGE} ({SERVER_REQUESTS} sequential requests each; "
        "cold: the middle page as the first request after a write, mean of 5)",
        ["tasks", "page 1 ms", "deep page", "deep page ms", "deep / page 1", "middle", "cold ms"],
        [
            [
                f"{r['n']:,}",
                f"{r['page1'] * 1e3:.1f}",
                f"{r['deep']:,}",
                f"{r['page_deep'] * 1e3:.1f}",
                f"{r['page_deep'] / max(r['page1'], 1e-9):.1f}x",
                f"{r['middle']:,}",
                f"{r['page_cold'] * 1e3:.1f}",
            ]
            for r in results
        ],
    )
    print_table(
        "5. memory of the listing in a fresh process (table 1 lists every size in one process, "
        "where the allocator reuses what the smaller sizes freed)",
        [
            "tasks",
            "RSS before MB",
            "peak RSS MB",
            "growth MB",
            "frame MB (deep)",
            "growth/frame",
            "peak/frame",
        ],
        [
            [
                f"{r['n']:,}",
                f"{m['before']:.0f}",
                f"{m['peak']:.0f}",
                f"{m['peak'] - m['before']:.0f}",
                f"{m['frame_mb']:.0f}",
                f"{(m['peak'] - m['before']) / m['frame_mb']:.2f}",
                f"{m['peak'] / m['frame_mb']:.2f}",
            ]
            for r in results
            for m in [r["memory"]]
        ],
    )
    last = results[-1]
    for name, prof in last["split"]["profiles"].items():
        profiled = pstats.Stats(prof).total_tt / last["n"] * 1e6  # type: ignore[attr-defined]
        plain = last["split"][name][1] / last["n"] * 1e6
        print_table(
            f"profile of phase '{name}' at {last['n']:,} tasks (CPU us per row; {profiled:.1f} "
            f"us/row under the profiler vs {plain:.1f} without: read the shares)",
            ["function", "calls", "own us/row", "cumulative us/row"],
            top_functions(prof, last["n"]),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="20k and 50k tasks")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the client phases")
    parser.add_argument("--compare", metavar="TREE", help="another synapse_nb source tree")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of --compare")
    parser.add_argument("--only-compare", action="store_true", help="skip tables 1-3")
    args = parser.parse_args(argv)
    sizes = [20_000, 50_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    if not args.only_compare:
        results = [measure(n, args.latency_ms, args.profile and n == sizes[-1]) for n in sizes]
        report(results, args.latency_ms)
    if args.compare:
        trees = {"this tree": THIS_TREE, os.path.basename(args.compare.rstrip("/")): args.compare}
        rows = [r for n in sizes for r in compare_trees(n, args.latency_ms, trees, args.repeat)]
        print_table(
            f"4. Client.list_tasks(list_all=True) by two source trees, alternating "
            f"({args.repeat} runs each, best; load {os.getloadavg()[0]:.1f})",
            [
                "tasks",
                "tree",
                "wall s",
                "wall us/row",
                "client CPU us/row",
                "CPU speed-up",
                "peak RSS MB",
                "frame MB (deep)",
                "peak/frame",
            ],
            rows,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
