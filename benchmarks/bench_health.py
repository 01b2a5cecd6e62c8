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
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from synapse_nb.health import HealthCache, ImageThresholds, check_images
from synapse_nb.health.index import brute_force_pairs, near_pairs


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


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


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


def search_rows(count: int, subset: int, k: int) -> list[tuple[str, float, str]]:
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**64, count, dtype=np.uint64)
    planted = rng.integers(0, count, count // 100)
    flips = np.uint64(1) << rng.integers(0, 64, planted.size).astype(np.uint64)
    hashes[rng.integers(0, count, planted.size)] = hashes[planted] ^ flips
    index_s, pairs = timed(lambda: near_pairs(hashes, k))
    brute_s, brute = timed(lambda: brute_force_pairs(hashes[:subset], k))
    small = near_pairs(hashes[:subset], k)
    same = all(np.array_equal(a, b) for a, b in zip(small, brute, strict=True))
    full_brute = brute_s * (count / subset) ** 2
    found = len(pairs[0])  # type: ignore[index]
    return [
        (f"near-dup search, {count:,} hashes (index, {found} pairs)", index_s,
         f"{full_brute / index_s:,.0f}× faster than brute force"),
        (f"brute force {subset:,} hashes (same pairs: {same})", brute_s,
         f"→ {full_brute:,.1f} s extrapolated to {count:,}"),
    ]


def image_rows(count: int, workers: int) -> list[tuple[str, float, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        gen_s, paths = timed(lambda: make_images(folder, count))
        print(f"generated {count:,} JPEGs in {gen_s:.1f} s", file=sys.stderr)
        sources = {p.name: p for p in paths}  # type: ignore[union-attr]
        full_s, _ = timed(lambda: over_pool(decode_full, list(sources.values()), workers))
        draft_s, _ = timed(lambda: over_pool(decode_draft, list(sources.values()), workers))
        cache_dir = Path(tmp) / "cache"
        cold_s, cold = timed(lambda: check_images(sources, cache=HealthCache(cache_dir),
                                                  workers=workers, progress=False))
        changed = list(sources.values())[:: 100]
        rng = np.random.default_rng(7)
        bases = _bases(2, rng)
        for path in changed:
            path.write_bytes(_image(rng, bases))
        cache = HealthCache(cache_dir)
        warm_s, warm = timed(lambda: check_images(sources, cache=cache, workers=workers,
                                                  progress=False))
    per = count / full_s
    return [
        (f"decode (full), {count:,} JPEGs 640×480", full_s, f"{per:,.0f} images/s (baseline)"),
        ("decode (draft + thumbnail)", draft_s, f"{full_s / draft_s:.2f}× the full decode's rate"),
        ("check_images (hashes + statistics), cold", cold_s,
         f"{full_s / cold_s:.2f}× the full decode's rate ({count / cold_s:,.0f} images/s)"),
        (f"re-run after 1% changed ({warm.recomputed} recomputed)", warm_s,  # type: ignore[attr-defined]
         f"{cold_s / warm_s:.1f}× faster than the cold run ({cold.recomputed} measured)"),  # type: ignore[attr-defined]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 images, 20,000 hashes")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--hashes", type=int, default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    images = args.images or (1_000 if args.quick else 10_000)
    hashes = args.hashes or 100_000
    k = ImageThresholds().near_duplicate_distance
    rows = image_rows(images, args.workers) + search_rows(hashes, 5_000, k)
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{images:,} images, {args.workers} threads, near-duplicate distance {k}\n")
    print(f"| {'measurement':<{width}} | {'seconds':>8} | ratio |")
    print(f"|{'-' * (width + 2)}|{'-' * 10}|-------|")
    for name, seconds, ratio in rows:
        print(f"| {name:<{width}} | {seconds:>8.2f} | {ratio} |")


if __name__ == "__main__":
    main()
