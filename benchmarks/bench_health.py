"""Dataset-health benchmarks: image measuring throughput, near-duplicate search, re-runs.

Run: ``python benchmarks/bench_health.py`` (10,000 generated 640×480 JPEGs; a few minutes)
or ``--quick`` (1,000 images) for a smoke run. Each measurement runs once; every ratio is
against a baseline measured in the same run, on the same files, with the same thread count.

Rows:
- decode (full): read each file and decode it at full size with PIL (``Image.load``) — what
  any tool that looks at the pixels pays. The baseline of the throughput ratio.
- decode (draft): the same files decoded as a reduced grayscale JPEG (``draft``) and
  thumbnailed — the decode ``check_images`` does, without the measurements.
- check_images: content hash, perceptual hash, exposure/contrast/blur/entropy statistics,
  near-duplicate clusters and the frame, cold cache.
- near-duplicate search: ``near_pairs`` (multi-index hashing) over 100,000 random 64-bit
  hashes at the default distance, vs a brute-force popcount scan of a subset, extrapolated
  quadratically to the full size (the subset's pairs are checked to be identical).
- re-run after 1% changed: ``check_images`` with a directory cache loaded by a new
  ``HealthCache`` after 1% of the files were rewritten with new images, vs the cold run.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageDraw

from synapse_nb.health import HealthCache, ImageHealth, ImageThresholds, check_images
from synapse_nb.health.index import brute_force_pairs, near_pairs

T = TypeVar("T")


def _bases(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:600, 0:800]
    out = []
    for _ in range(count):
        base = rng.uniform(40, 200, 3) + xx[..., None] * rng.uniform(-0.15, 0.15, 3) + yy[
            ..., None] * rng.uniform(-0.15, 0.15, 3)
        out.append(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8))
    return out


def _image(rng: np.random.Generator, bases: list[np.ndarray]) -> bytes:
    base = bases[int(rng.integers(len(bases)))]
    x, y = int(rng.integers(0, 160)), int(rng.integers(0, 120))
    image = Image.fromarray(base[y : y + 480, x : x + 640])
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.uniform(0, 560), rng.uniform(0, 400)
        box = (x0, y0, x0 + rng.uniform(40, 300), y0 + rng.uniform(40, 240))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def make_images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    bases = _bases(24, rng)
    paths = []
    for k in range(count):
        path = folder / f"{k:06d}.jpg"
        path.write_bytes(_image(rng, bases))
        paths.append(path)
    return paths


REPEAT = 1  # set from --repeat: keep the fastest of N runs of each measurement


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds and CPU seconds of the process (all threads) of one measurement.

    The machine may be shared: wall time then includes waiting for a core, CPU time does
    not. Ratios are printed for both.
    """

    wall: float
    cpu: float


def timed(fn: Callable[[], T]) -> tuple[Timing, T]:
    best = Timing(float("inf"), float("inf"))
    for _ in range(REPEAT):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        run = Timing(time.perf_counter() - wall, time.process_time() - cpu)
        best = run if run.wall < best.wall else best
    return best, out


def decode_full(path: Path) -> None:
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        image.load()


def decode_draft(path: Path) -> None:
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        image.draft("L", (256, 192))
        image.convert("L").thumbnail((256, 256))


def over_pool(fn: Callable[[Path], None], paths: list[Path], workers: int) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(fn, paths):
            pass


Row = tuple[str, Timing, str]


def _rate(base: Timing, other: Timing) -> str:
    return f"{base.wall / other.wall:.2f}× wall, {base.cpu / other.cpu:.2f}× CPU"


def search_rows(count: int, subset: int, k: int) -> list[Row]:
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**64, count, dtype=np.uint64)
    planted = rng.integers(0, count, count // 100)
    flips = np.uint64(1) << rng.integers(0, 64, planted.size).astype(np.uint64)
    hashes[rng.integers(0, count, planted.size)] = hashes[planted] ^ flips
    index, pairs = timed(lambda: near_pairs(hashes, k))
    brute, brute_pairs = timed(lambda: brute_force_pairs(hashes[:subset], k))
    small = near_pairs(hashes[:subset], k)
    same = all(np.array_equal(a, b) for a, b in zip(small, brute_pairs, strict=True))
    full = brute.wall * (count / subset) ** 2
    return [
        (f"near-dup search, {count:,} hashes (index, {len(pairs[0])} pairs)", index,
         f"{full / index.wall:,.0f}× faster than brute force (wall)"),
        (f"brute force, {subset:,} hashes (same pairs: {same})", brute,
         f"→ {full:,.1f} s extrapolated to {count:,}"),
    ]


def image_rows(count: int, workers: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        start = time.perf_counter()
        paths = make_images(folder, count)
        print(f"generated {count:,} JPEGs in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
        sources = {p.name: p for p in paths}
        full, _ = timed(lambda: over_pool(decode_full, paths, workers))
        draft, _ = timed(lambda: over_pool(decode_draft, paths, workers))
        cold, first = timed(lambda: check_images(sources, cache=HealthCache(),
                                                 workers=workers, progress=False))
        cache_dir = Path(tmp) / "cache"
        check_images(sources, cache=HealthCache(cache_dir), workers=workers, progress=False)
        rng = np.random.default_rng(7)
        bases = _bases(2, rng)
        for path in paths[::100]:
            path.write_bytes(_image(rng, bases))
        saved = (cache_dir / "image_measures.parquet").read_bytes()

        def rerun() -> ImageHealth:  # a new session, starting from the saved cache
            (cache_dir / "image_measures.parquet").write_bytes(saved)
            return check_images(sources, cache=HealthCache(cache_dir), workers=workers,
                                progress=False)

        warm, again = timed(rerun)
    return [
        (f"decode (full), {count:,} JPEGs 640×480", full,
         f"{count / full.wall:,.0f} images/s wall (baseline)"),
        ("decode (draft + thumbnail) only", draft, _rate(full, draft) + " the full decode's rate"),
        (f"check_images cold ({first.recomputed} measured)", cold,
         _rate(full, cold) + f" the full decode's rate ({count / cold.wall:,.0f} images/s)"),
        (f"re-run after 1% changed ({again.recomputed} recomputed)", warm,
         f"{cold.wall / warm.wall:.1f}× faster than the cold run (wall)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 images instead of 10,000")
    parser.add_argument("--images", type=int, default=None, help="number of generated JPEGs")
    parser.add_argument("--hashes", type=int, default=100_000, help="hashes to search")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each measurement N times and keep the fastest")
    args = parser.parse_args()
    global REPEAT
    REPEAT = max(1, args.repeat)
    images = args.images or (1_000 if args.quick else 10_000)
    k = ImageThresholds().near_duplicate_distance
    rows = image_rows(images, args.workers) + search_rows(args.hashes, 5_000, k)
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{images:,} images, {args.workers} threads, near-duplicate distance {k}, "
          f"fastest of {REPEAT}, load average {os.getloadavg()[0]:.1f}\n")
    print(f"| {'measurement':<{width}} | {'wall s':>7} | {'CPU s':>7} | ratio |")
    print(f"|{'-' * (width + 2)}|{'-' * 9}|{'-' * 9}|-------|")
    for name, timing, ratio in rows:
        print(f"| {name:<{width}} | {timing.wall:>7.2f} | {timing.cpu:>7.2f} | {ratio} |")


if __name__ == "__main__":
    main()
