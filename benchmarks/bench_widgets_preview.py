"""AnnotationPreview speed: one 1920x1080 image with 100 shapes, a gallery of 24.

Run: ``python benchmarks/bench_widgets_preview.py`` (about 20 s). It starts the embedded demo
backend in-process, downloads what it needs once, then times (median of ``--repeat`` runs,
milliseconds):

- render 1920x1080 + 100 shapes: what the single view does for a new row, in the widget
  (``AnnotationPreview`` on a frame whose row is the demo's 1920x1080 JPEG, cached on disk,
  with 100 shapes: 60 boxes, 20 polygons, 10 polylines, 2 masks, an 8-joint skeleton, with
  labels): decode at display size, draw, encode in the widget's default ``image_format``,
  put the bytes into the ``Image`` widget. Target <= 25 ms.
- same, image already decoded: a redraw of the row (labels or a class toggled): the
  widget's in-memory LRU holds the decoded image.
- same, image_format='png': the exact (lossless) output asked for explicitly.
- pipeline open + render + encode png / jpeg: the same work through the module functions
  (``open_display``, ``render``, ``encode_image``), without the widget.
- widget next(): ``AnnotationPreview.next()`` on ground-truth rows, ending with new bytes in
  the ``Image`` widget (files cached on disk; data from the frame).
- gallery 24 thumbnails: one gallery page, every thumbnail drawn with its overlays and
  encoded (files cached on disk). Target <= 1000 ms.
- gallery 24, cold: the same page the first time, downloads included (for information).

Each row shows wall-clock and CPU time (``process_time``: this process, all threads). On a
loaded machine wall-clock exceeds CPU time; the last column says whether the wall-clock
target is met in this run.

Before/after in one run: ``--compare TREE`` (e.g. ``--compare /work/main``, another checkout of
the package) runs the same measurements in child processes, alternately with ``TREE``'s
package and with this checkout's, ``--rounds`` times each, and prints both medians and their
ratio (this / TREE): the machine's load hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.converters import encode_mask
from synapse_nb.frames import Client
from synapse_nb.server import start
from synapse_nb.utils.file import download_file
from synapse_nb.widgets._render import (
    RenderOptions,
    encode_image,
    open_display,
    render,
    shapes_from_doc,
)
from synapse_nb.widgets.preview import SINGLE_SIZE, AnnotationPreview

CLASSES = ("car", "person", "bicycle", "dog", "bus", "traffic_light", "stop_sign")
JOINTS = (
    "nose",
    "left_shoulder",
    "right_shoulder",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_ankle",
    "right_ankle",
)


def hundred_shapes(width: int, height: int, seed: int = 0) -> dict[str, Any]:
    """A DM v2 document with 100 annotations spread over a ``width`` x ``height`` image."""
    rng = random.Random(seed)

    def ann(n: int, tool: str, data: Any, **extra: Any) -> dict[str, Any]:
        label = extra.pop("label", rng.choice(CLASSES))
        return {
            "id": f"{tool[:4]}{n:04d}",
            "classification": label,
            "attrs": [],
            "data": data,
            **extra,
        }

    boxes = []
    for n in range(60):
        w, h = rng.uniform(30, 300), rng.uniform(30, 300)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        attrs = [{"name": "score", "value": round(rng.random(), 2)}]
        boxes.append({**ann(n, "bounding_box", [x, y, w, h]), "attrs": attrs})
    polygons = []
    for n in range(20):
        cx, cy, r = rng.uniform(100, width - 100), rng.uniform(100, height - 100), 80
        points = [
            [cx + r * np.cos(a) * rng.uniform(0.6, 1), cy + r * np.sin(a) * rng.uniform(0.6, 1)]
            for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)
        ]
        polygons.append(ann(n, "polygon", points))
    polylines = [
        ann(n, "polyline", [[rng.uniform(0, width), rng.uniform(0, height)] for _ in range(8)])
        for n in range(10)
    ]
    masks = []
    for n in range(2):
        mask = np.zeros((height, width), dtype=bool)
        x, y = rng.randrange(0, width - 400), rng.randrange(0, height - 300)
        mask[y : y + 300, x : x + 400] = True
        encoded = encode_mask(mask, "dm_rle")
        masks.append({**ann(n, "segmentation", encoded.pop("data")), **encoded})
    keypoints = [
        {
            **ann(n, "keypoint", [900 + 30 * (n % 3), 300 + 60 * n], label=name),
            "visibility": 2,
            "group_id": "g1",
        }
        for n, name in enumerate(JOINTS[:8])
    ]
    group = [
        {"id": "g1", "classification": "person", "attrs": [], "data": [k["id"] for k in keypoints]}
    ]
    item = {
        "bounding_box": boxes,
        "polygon": polygons,
        "polyline": polylines,
        "segmentation": masks,
        "keypoint": keypoints,
        "group": group,
    }
    assert sum(len(v) for k, v in item.items() if k != "group") == 100
    return {"images": [item]}


def median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median wall-clock and CPU milliseconds of ``fn`` (CPU: this process, all threads)."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


#: Rows of the table: name and wall-clock target (ms) or None.
ROWS: tuple[tuple[str, float | None], ...] = (
    ("render 1920x1080 + 100 shapes", 25),
    ("  same, image already decoded", None),
    ("  same, image_format='png'", None),
    ("  pipeline open + render + encode png", None),
    ("  pipeline open + render + encode jpeg", None),
    ("widget next() on demo rows", None),
    ("gallery 24 thumbnails", 1000),
    ("  gallery 24, cold (downloads included)", None),
)
#: Marks the line a child process prints its results on.
_RESULT = "BENCH-RESULT "


def measure(repeat: int) -> dict[str, tuple[float, float]]:
    """Every row of :data:`ROWS` as ``{name: (wall ms, cpu ms)}``."""
    out: dict[str, tuple[float, float]] = {}
    names = [name for name, _ in ROWS]
    with start(demo=True) as srv, Client(srv.url, api_token=srv.token) as client:
        events = client.list_ground_truth_events(
            {"ground_truth_dataset_versions": [1]}, list_all=True, include_data=True
        )
        full_hd = events[(events.width == 1920) & (events.height == 1080)].iloc[0]
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp)
            path = download_file(full_hd.file_url, cache)
            doc = hundred_shapes(1920, 1080)
            frame = pd.DataFrame(
                {"file_url": [str(path)], "data": [doc], "width": [1920], "height": [1080]}
            )

            def widget_render(**options: Any) -> Callable[[], None]:
                preview = AnnotationPreview(frame, cache_dir=cache, **options).load()

                def again() -> None:
                    preview._images._memo.clear()  # a new row: decode from the file
                    preview._refresh()

                return again

            out[names[0]] = median_ms(widget_render(), repeat)
            warm = AnnotationPreview(frame, cache_dir=cache).load()
            out[names[1]] = median_ms(warm._refresh, repeat)
            out[names[2]] = median_ms(widget_render(image_format="png"), repeat)
            shapes = shapes_from_doc(doc)
            options = RenderOptions()

            def pipeline(fmt: str) -> bytes:
                image, size = open_display(path, SINGLE_SIZE)
                drawn = render(image, shapes, source_size=size, options=options)
                return encode_image(drawn, fmt)

            out[names[3]] = median_ms(lambda: pipeline("png"), repeat)
            out[names[4]] = median_ms(lambda: pipeline("jpeg"), repeat)

            preview = AnnotationPreview(events, cache_dir=cache)
            for url in events.file_url.head(repeat + 2):
                download_file(url, cache)
            preview.load()
            out[names[5]] = median_ms(preview.next, repeat)
            preview.close()

            preview = AnnotationPreview(events, cache_dir=cache)
            cold_started = time.perf_counter(), time.process_time()
            preview.mode = "gallery"
            preview.load()
            cold = (
                (time.perf_counter() - cold_started[0]) * 1000,
                (time.process_time() - cold_started[1]) * 1000,
            )
            assert len(preview._grid.children) == 24

            def gallery() -> None:
                preview._images._memo.clear()  # decode again: only the files are cached
                preview._refresh()

            out[names[6]] = median_ms(gallery, repeat)
            out[names[7]] = cold
            preview.close()
    return out


def run_child(tree: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """:func:`measure` in a child process that imports the package from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, __file__, "--repeat", str(repeat), "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(x for x in done.stdout.splitlines() if x.startswith(_RESULT))
    return {name: (wall, cpu) for name, (wall, cpu) in json.loads(line[len(_RESULT):]).items()}


def compare(baseline: Path, rounds: int, repeat: int) -> None:
    """Both trees measured alternately; medians of the rounds and their ratios."""
    here = Path(__file__).resolve().parents[1]
    runs: dict[str, list[dict[str, tuple[float, float]]]] = {"base": [], "this": []}
    for _ in range(rounds):
        runs["base"].append(run_child(baseline, repeat))
        runs["this"].append(run_child(here, repeat))

    def med(side: str, name: str, part: int) -> float:
        return statistics.median(run[name][part] for run in runs[side])

    print(f"\nbaseline: {baseline}   this: {here}   ({rounds} rounds each, alternating)")
    print(f"{'measurement':42} {'wall base':>9} {'wall this':>9} {'ratio':>6} "
          f"{'cpu base':>9} {'cpu this':>9} {'ratio':>6} {'target':>8}  ok (wall)")  # fmt: skip
    for name, target in ROWS:
        wall_b, wall_t = med("base", name, 0), med("this", name, 0)
        cpu_b, cpu_t = med("base", name, 1), med("this", name, 1)
        target_text = f"<= {target:g}" if target else ""
        ok = "" if target is None else ("yes" if wall_t <= target else "NO")
        print(f"{name:42} {wall_b:9.1f} {wall_t:9.1f} {wall_t / wall_b:6.2f} "
              f"{cpu_b:9.1f} {cpu_t:9.1f} {cpu_t / cpu_b:6.2f} {target_text:>8}  {ok}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement")
    parser.add_argument("--compare", type=Path, help="another checkout to measure against")
    parser.add_argument("--rounds", type=int, default=2, help="with --compare: runs per tree")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare is not None:
        compare(args.compare, args.rounds, args.repeat)
        return
    results = measure(args.repeat)
    if args.json:
        print(_RESULT + json.dumps(results))
        return
    print(f"\n{'measurement':42} {'wall ms':>8} {'cpu ms':>8} {'target':>8}  ok (wall)")
    for name, target in ROWS:
        wall, cpu = results[name]
        target_text = f"<= {target:g}" if target else ""
        ok = "" if target is None else ("yes" if wall <= target else "NO")
        print(f"{name:42} {wall:8.1f} {cpu:8.1f} {target_text:>8}  {ok}")


if __name__ == "__main__":
    main()
