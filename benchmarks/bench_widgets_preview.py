"""AnnotationPreview speed (issue 5): one 1920x1080 image with 100 shapes, a gallery of 24.

Run: ``python benchmarks/bench_widgets_preview.py`` (about 20 s). It starts the embedded demo
backend in-process, downloads what it needs once, then times (median of ``--repeat`` runs,
milliseconds):

- render 1920x1080 + 100 shapes: the single view's whole path from the cached JPEG on disk
  to PNG bytes: decode at display size, draw 100 shapes (60 boxes, 20 polygons, 10
  polylines, 2 masks, an 8-joint skeleton) with labels, encode. Target <= 50 ms.
- same, image already decoded: navigating back to a row (the widget's in-memory LRU).
- same, image_format='jpeg': the widget's optional JPEG output instead of PNG.
- widget next(): ``AnnotationPreview.next()`` on ground-truth rows, ending with new bytes in
  the ``Image`` widget (files cached on disk; data from the frame).
- gallery 24 thumbnails: one gallery page, every thumbnail drawn with its overlays and
  encoded (files cached on disk). Target <= 1000 ms.
- gallery 24, cold: the same page the first time, downloads included (for information).

Each row shows wall-clock and CPU time (``process_time``: this process, all threads). On a
loaded machine wall-clock exceeds CPU time; the last column says whether the wall-clock
target is met in this run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement")
    args = parser.parse_args()

    rows: list[tuple[str, tuple[float, float], float | None]] = []
    with start(demo=True) as srv, Client(srv.url, api_token=srv.token) as client:
        events = client.list_ground_truth_events(
            {"ground_truth_dataset_versions": [1]}, list_all=True, include_data=True
        )
        full_hd = events[(events.width == 1920) & (events.height == 1080)].iloc[0]
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp)
            path = download_file(full_hd.file_url, cache)
            shapes = shapes_from_doc(hundred_shapes(1920, 1080))
            options = RenderOptions()

            def single(fmt: str = "png") -> bytes:
                image, size = open_display(path, SINGLE_SIZE)
                drawn = render(image, shapes, source_size=size, options=options)
                return encode_image(drawn, fmt)

            rows.append(("render 1920x1080 + 100 shapes", median_ms(single, args.repeat), 50))
            decoded, size = open_display(path, SINGLE_SIZE)
            rows.append(
                (
                    "  same, image already decoded",
                    median_ms(
                        lambda: encode_image(render(decoded, shapes, source_size=size)), args.repeat
                    ),
                    None,
                )
            )
            rows.append(
                (
                    "  same, image_format='jpeg'",
                    median_ms(lambda: single("jpeg"), args.repeat),
                    None,
                )
            )

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

            rows.append(("gallery 24 thumbnails", median_ms(gallery, args.repeat), 1000))
            rows.append(("  gallery 24, cold (downloads included)", cold, None))
            preview.mode = "single"
            preview.index = 0
            for url in events.file_url.head(args.repeat + 2):
                download_file(url, cache)
            rows.append(("widget next() on demo rows", median_ms(preview.next, args.repeat), None))
            preview.close()

    print(f"\n{'measurement':42} {'wall ms':>8} {'cpu ms':>8} {'target':>8}  ok (wall)")
    for name, (wall, cpu), target in rows:
        target_text = f"<= {target:g}" if target else ""
        ok = "" if target is None else ("yes" if wall <= target else "NO")
        print(f"{name:42} {wall:8.1f} {cpu:8.1f} {target_text:>8}  {ok}")


if __name__ == "__main__":
    main()
