"""Where a listing's client CPU goes, layer by layer (issue 16), printed as tables.

Run: ``python benchmarks/bench_client_layers.py [--tasks 100000] [--repeat 3]``.

A fresh backend runs in its own process (``python -m synapse_nb.server --tasks N``, no added
latency) and this process lists its project, one layer more at a time. Every row is the best
of ``--repeat`` runs, the runs of all rows alternating, in process CPU microseconds per task:

1. layers: a plain ``requests`` GET of every page of 1,000; the same plus decoding each
   body into the typed rows of the frame listing (msgspec); decoding and ``build_frame``
   from bodies already in memory; the same with each page fetched right before it in the
   same thread (no concurrency at all); ``Client.list_tasks`` with one page thread, and with
   the default page threads. For comparison, pyarrow's JSON reader (the other reader the
   issue names) parsing the same bodies with an explicit schema of the fields a frame reads,
   and with an inferred one.
2. the synchronous listing of table 1 split by where its CPU went: the GETs, the decoding,
   and everything else (building the frame). Read next to table 1, it shows what a page
   costs more when it is fetched between two builds than when it was in memory.
3. after the last page: ``Client.list_tasks`` in a process whose collector runs as usual:
   the time in ``build_frame``'s final assembly, in the write-back snapshot, and in
   collections of Python's cyclic garbage collector during the call (their count and time).
"""

from __future__ import annotations

import argparse
import gc
import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.json as pa_json
import requests
from bench_client import backend, print_table, scale_project

from synapse_nb.frames import Client, writeback
from synapse_nb.frames import build as frame_build
from synapse_nb.frames.build import build_frame, gc_paused
from synapse_nb.frames.columnar import page_decoder

PAGE = 1000


def _explicit_schema() -> pa.Schema:
    """The fields a task frame reads, as pyarrow's JSON reader takes them."""
    annotations = pa.list_(pa.struct([("classification", pa.string())]))
    tools = ["bounding_box", "polygon", "polyline", "keypoint", "segmentation"]
    image = pa.struct([(tool, annotations) for tool in tools])
    file = pa.struct([(k, pa.string()) for k in ("path", "file_name_original", "url")])
    row = pa.struct([
        ("id", pa.int64()), ("project", pa.int64()), ("data_unit", pa.int64()),
        ("status", pa.string()), ("priority", pa.string()), ("assignee", pa.int64()),
        ("tags", pa.list_(pa.int64())), ("is_discarded", pa.bool_()),
        ("data", pa.struct([("images", pa.list_(image))])),
        ("files", pa.struct([("image_1", file)])),
        ("created", pa.string()), ("modified", pa.string()),
    ])  # fmt: skip
    return pa.schema([("count", pa.int64()), ("results", pa.list_(row))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.tasks
    with backend("process", tasks=n) as srv:
        project = scale_project(srv.url, srv.token)
        headers = {"Synapse-Access-Token": f"Token {srv.token}"}
        session = requests.Session()
        pages = range(1, -(-n // PAGE) + 1)
        url = f"{srv.url}tasks/?project={project}&page_size={PAGE}&page={{}}"

        def get(page: int) -> bytes:
            reply = session.get(url.format(page), headers=headers, timeout=60)
            reply.raise_for_status()
            return reply.content

        bodies = [get(p) for p in pages]
        decode = page_decoder("task")
        assert decode is not None
        split = {"get": 0.0, "decode": 0.0}

        def fetched() -> Iterator[Any]:
            for page in pages:
                started = time.process_time()
                body = get(page)
                decoding = time.process_time()
                rows = decode(body)["results"]
                split["get"] += decoding - started
                split["decode"] += time.process_time() - decoding
                yield from rows

        def in_memory() -> Iterator[Any]:
            for body in bodies:
                yield from decode(body)["results"]

        def build(rows: Callable[[], Iterator[Any]]) -> Callable[[], Any]:
            return lambda: build_frame("task", rows(), tag_names={})

        def decode_all() -> None:
            with gc_paused():
                for page in pages:
                    decode(get(page))

        one = Client(srv.url, api_token=srv.token, max_workers=1, progress=False)
        default = Client(srv.url, api_token=srv.token, progress=False)
        query = {"project": project}
        options = pa_json.ReadOptions(use_threads=False, block_size=max(map(len, bodies)) + 1)
        explicit = pa_json.ParseOptions(
            explicit_schema=_explicit_schema(), unexpected_field_behavior="ignore"
        )
        inferred = pa_json.ParseOptions()

        def arrow(parse: pa_json.ParseOptions) -> Callable[[], None]:
            def read() -> None:
                for body in bodies:
                    pa_json.read_json(io.BytesIO(body), read_options=options, parse_options=parse)

            return read

        steps: list[tuple[str, Callable[[], Any]]] = [
            ("requests GET of every page", lambda: [get(p) for p in pages]),
            ("  + msgspec decode into typed rows", decode_all),
            ("decode + build_frame, bodies in memory", build(in_memory)),
            ("fetch + decode + build_frame, one thread", build(fetched)),
            ("Client.list_tasks, 1 page thread", lambda: one.list_tasks(query, list_all=True)),
            ("Client.list_tasks, default page threads",
             lambda: default.list_tasks(query, list_all=True)),
            ("pyarrow JSON reader, explicit schema (parse only)", arrow(explicit)),
            ("pyarrow JSON reader, inferred schema (parse only)", arrow(inferred)),
        ]  # fmt: skip
        best = {name: float("inf") for name, _ in steps}
        splits: list[tuple[float, float, float]] = []
        for _ in range(args.repeat):
            for name, step in steps:
                gc.collect()
                split.update(get=0.0, decode=0.0)
                started = time.process_time()
                step()
                used = time.process_time() - started
                best[name] = min(best[name], used)
                if step is steps[3][1]:
                    splits.append((used, split["get"], split["decode"]))
        print_table(
            f"1. client CPU per task, {n:,} tasks in pages of {PAGE} (best of {args.repeat})",
            ["layer", "us/task"],
            [[name, f"{best[name] / n * 1e6:.2f}"] for name, _ in steps],
        )
        total, got, decoded = min(splits)
        print_table(
            "2. the one-thread listing of table 1, split (its best run)",
            ["part", "us/task"],
            [
                ["GET (request, socket wait, body)", f"{got / n * 1e6:.2f}"],
                ["decode", f"{decoded / n * 1e6:.2f}"],
                ["build_frame and the rest", f"{(total - got - decoded) / n * 1e6:.2f}"],
                ["all", f"{total / n * 1e6:.2f}"],
            ],
        )
        print_table(
            "3. after the last page of Client.list_tasks (collector on, as in a notebook)",
            ["run", "wall s", "final assembly s", "snapshot s", "gc passes", "gc s"],
            _tail(default, query, args.repeat),
        )


def _tail(client: Client, query: dict[str, Any], repeat: int) -> list[list[str]]:
    spent = {"frame": 0.0, "snapshot": 0.0}
    passes: list[tuple[str, float]] = []

    def timed(owner: Any, name: str, key: str) -> Callable[[], None]:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - started

        setattr(owner, name, wrapper)
        return lambda: setattr(owner, name, original)

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        passes.append((phase, time.perf_counter()))

    undo = [
        timed(frame_build._Accumulator, "frame", "frame"),
        timed(writeback, "_snapshot_frame", "snapshot"),
    ]
    gc.callbacks.append(on_gc)
    rows = []
    try:
        for run in range(1, repeat + 1):
            spent.update(frame=0.0, snapshot=0.0)
            passes.clear()
            started = time.perf_counter()
            frame = client.list_tasks(query, list_all=True)
            wall = time.perf_counter() - started
            pairs = list(zip(passes[::2], passes[1::2], strict=False))
            collected = sum(stop - start for (_, start), (_, stop) in pairs)
            rows.append([
                str(run), f"{wall:.2f}", f"{spent['frame']:.2f}", f"{spent['snapshot']:.2f}",
                str(len(pairs)), f"{collected:.2f}",
            ])  # fmt: skip
            del frame
    finally:
        gc.callbacks.remove(on_gc)
        for restore in undo:
            restore()
    return rows


if __name__ == "__main__":
    main()
