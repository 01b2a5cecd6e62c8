"""Export and upload workflows against the embedded backend, as ratios to their baselines.

Run: ``python benchmarks/bench_workflows.py [--quick] [--tasks 10000] [--files 2000]
[--latency-ms 20] [--workers 8] [--formats dm,coco,voc,yolo] [--no-upload] [--repeat 2]
[--out-dir DIR]``. Printed as tables: each export is the best of ``--repeat`` runs, the upload
rows one run each. Per-file formats create small files per item (DM and VOC one, YOLO three:
one per task; with the originals each adds the image, so YOLO writes six), so the export
table gives the files each export wrote and the disk's cost of creating one is printed for
context; ``--out-dir`` on a RAM disk (``/dev/shm``) separates that cost from the CPU work.

* **Export** of a bulk-seeded project to DM, COCO, Pascal VOC and YOLO (detect, segment,
  pose), labels only and then with the originals: the ratio of each export's time to the
  floor, which is only listing the same tasks with their annotation JSON
  (``list_tasks(list_all=True)``) -- the part every export must do -- measured right before it.
  Next to it the **file floor**, measured right after it: writing as many files as the
  export left, with the same sizes, into a fresh folder with plain ``open(...).write(...)``
  -- what the disk charges for the files alone -- and the export's ratio to both floors
  together, which is what the export's own work adds.
* **Upload** of small files at a per-request latency: :func:`synapse_nb.plugins.upload` (which
  also creates the data units) against a sequential ``create_data_file`` loop; then a re-run
  of the finished upload, which must skip everything.

``--quick`` shrinks both (1,000 tasks, 200 files) for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from synapse_nb.clients import BackendClient
from synapse_nb.plugins import export, upload
from synapse_nb.server import start


def _project(client: BackendClient, prefix: str) -> int:
    projects = client._get("projects/", {"page_size": 1000})["results"]
    return next(p["id"] for p in projects if p["title"].startswith(prefix))


FORMATS = ("dm", "coco", "voc", "yolo")


def _floor(client: BackendClient, params: dict[str, Any], repeat: int) -> tuple[float, int]:
    """Seconds to list the tasks with their annotation JSON (best of runs), and how many."""
    best, listed = float("inf"), 0
    for _ in range(max(repeat, 2)):  # the first walk also warms the server's caches
        started = time.perf_counter()
        tasks, _ = client.list_tasks(params, url_conversion=False, list_all=True)
        listed = sum(1 for _ in tasks)
        best = min(best, time.perf_counter() - started)
    return best, listed


def file_floor(sizes: list[int], folder: Path, repeat: int) -> float:
    """Seconds to write ``len(sizes)`` files of those sizes into a fresh folder with plain
    ``open(...).write(...)`` (best of ``repeat`` runs, each into its own folder)."""
    payload = memoryview(b"x" * max(sizes, default=0))
    best = float("inf")
    for run in range(repeat):
        target = folder / f"run{run}"
        target.mkdir(parents=True)
        prefix = f"{target}{os.sep}"
        started = time.perf_counter()
        for number, size in enumerate(sizes):
            with open(f"{prefix}{number}.txt", "wb") as file:
                file.write(payload[:size])
        best = min(best, time.perf_counter() - started)
    return best


def _file_sizes(root: Path) -> list[int]:
    """Sizes of every file under ``root`` (hard links count once per name, as written)."""
    return [
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(root)
        for name in names
    ]


def bench_export(
    n_tasks: int, workers: int, out: Path, formats: tuple[str, ...] = FORMATS, repeat: int = 2
) -> list[tuple[str, ...]]:
    """``(format, originals, listing floor, file floor, export, ratio to the listing, ratio
    to both floors, files per item)`` rows; each export next to its own floors.

    Every measure is the best of ``repeat`` runs. The listing floor is measured right before
    each export and the file floor right after it (writing the files the export left), so a
    change of load on the machine moves both sides of a ratio alike. The originals (and the
    image sizes the tasks lack) come from the download cache after the first export that
    needs them.
    """
    rows: list[tuple[str, ...]] = []
    with start(tasks=n_tasks) as srv, BackendClient(srv.url, api_token=srv.token) as client:
        params = {"project": _project(client, "Scale project")}
        for originals in (False, True):
            for fmt in formats:
                floor, listed = _floor(client, params, repeat)
                best = float("inf")
                for _ in range(repeat):
                    report = export(
                        client, "task", fmt, out, params=params, progress=False,
                        workers=workers, save_original_file=originals, cache_dir=out / "cache",
                        name=f"{fmt}-{'with' if originals else 'no'}-originals",
                    )  # fmt: skip
                    assert report.exported == listed, report
                    best = min(best, report.elapsed)
                sizes = _file_sizes(report.path)
                files = file_floor(sizes, out / f"file-floor-{report.path.name}", repeat)
                rows.append((
                    fmt.upper(), "yes" if originals else "no", f"{floor:.2f} s",
                    f"{files:.2f} s", f"{best:.2f} s", f"{best / floor:.1f}x",
                    f"{best / (floor + files):.1f}x",
                    f"{len(sizes):,} ({len(sizes) / listed:.2f}), {sum(sizes) / 1e6:.1f} MB",
                ))  # fmt: skip
    return rows


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=True)).rstrip())


def file_creation_cost(folder: Path, n: int = 500) -> float:
    """Milliseconds to create one small file in ``folder`` (YOLO writes 3 to 6 per item)."""
    folder.mkdir(parents=True)
    started = time.perf_counter()
    for i in range(n):
        (folder / f"{i}.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    return (time.perf_counter() - started) / n * 1000


def _make_files(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (8, 6), (i % 256, (i // 256) % 256, 77)).save(folder / f"f{i:05d}.png")


def bench_upload(n_files: int, latency_ms: float, workers: int, tmp: Path) -> list[tuple[str, str]]:
    rows = []
    baseline_dir, workflow_dir = tmp / "baseline", tmp / "workflow"
    _make_files(baseline_dir, n_files)
    _make_files(workflow_dir, n_files)
    # different bytes, so the workflow's checksum dedupe cannot profit from the baseline run
    for path in workflow_dir.iterdir():
        path.write_bytes(path.read_bytes() + b"workflow")
    with (
        start(demo=True, latency_ms=latency_ms) as srv,
        BackendClient(srv.url, api_token=srv.token, max_workers=workers) as client,
    ):
        collection = next(
            c["id"] for c in client.list_data_collection()["results"]
            if c["name"] == "Incoming uploads"
        )  # fmt: skip
        started = time.perf_counter()
        for path in sorted(baseline_dir.iterdir()):
            client.create_data_file(path)
        sequential = time.perf_counter() - started
        first = upload(client, workflow_dir, collection, workers=workers, progress=False)
        assert first.ok and len(first.created) == n_files, first
        again = upload(client, workflow_dir, collection, workers=workers, progress=False)
        assert again.already_created == n_files and not again.created, again
    label = f"{n_files:,} files at {latency_ms:g} ms"
    rows.append((f"sequential create_data_file loop, {label}", f"{sequential:.2f} s"))
    rows.append((f"upload() incl. data units, {workers} workers", f"{first.elapsed:.2f} s"))
    rows.append(("  speed-up vs sequential (goal >= 5x)", f"{sequential / first.elapsed:.1f}x"))
    rows.append(("re-run of the finished upload", f"{again.elapsed:.3f} s"))
    rows.append(
        ("  re-run / first run (goal < 10%)", f"{100 * again.elapsed / first.elapsed:.1f}%")
    )
    return rows


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"--repeat must be at least 1, got {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 tasks and 200 files")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--formats", default=",".join(FORMATS), help="export formats to time")
    parser.add_argument("--no-upload", action="store_true", help="time the exports only")
    parser.add_argument(
        "--repeat", type=_at_least_one, default=2, help="runs per export (best is kept)"
    )
    parser.add_argument(
        "--out-dir", help="where exports and files are written (default: the temp dir)"
    )
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.files = 1_000, 200
    formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    with tempfile.TemporaryDirectory(dir=args.out_dir) as tmp:
        cost = file_creation_cost(Path(tmp) / "probe")
        exports = bench_export(
            args.tasks, args.workers, Path(tmp) / "exports", formats, args.repeat
        )
        rows = [("disk: create one small file (context for per-file formats)", f"{cost:.2f} ms")]
        if not args.no_upload:
            rows += bench_upload(args.files, args.latency_ms, args.workers, Path(tmp) / "uploads")
    where = args.out_dir or tempfile.gettempdir()
    print(
        f"exports of {args.tasks:,} tasks into {where}; listing floor = listing them with their "
        "annotation JSON; file floor = writing the files the export left (same count and "
        f"sizes) with plain open().write() into a fresh folder; best of {args.repeat} runs each"
    )
    print_table(
        (
            "format",
            "originals",
            "listing floor",
            "file floor",
            "export",
            "ratio (goal <= 3x)",
            "export / both floors",
            "files (per item), bytes",
        ),
        exports,
    )
    print()
    print_table(("measure", "value"), rows)


if __name__ == "__main__":
    main()
