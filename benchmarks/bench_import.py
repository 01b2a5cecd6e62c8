"""Import speed: the importers against the converter and frame builder they sit on.

Run: ``python benchmarks/bench_import.py`` (about a minute). It makes a COCO results list of
2,000 images x 30 boxes over 10 classes and times, best CPU time of 3 interleaved runs:

- reading: ``read_coco_results`` (checks every entry, keys by file name, keeps scores)
  against the converters' ``from_coco`` on the same list turned into an instances file;
- the frame: ``predictions_frame`` against the annotations view's builder
  (``frames.annotations.annotations_from_data``) on the same documents.

A ratio is importer time / baseline time; the overhead of the importer is ratio - 1.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from synapse_nb.converters import from_coco
from synapse_nb.frames.annotations import annotations_from_data
from synapse_nb.importers import match_to_tasks, predictions_frame, read_coco_results

IMAGES, PER_IMAGE, CLASSES = 2000, 30, 10


def _pair(
    old: Callable[[], object], new: Callable[[], object], repeat: int = 3
) -> tuple[float, float]:
    """Best CPU seconds of each, runs interleaved (a shared machine's load hits both alike)."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for slot, run in enumerate((old, new)):
            start = time.process_time()
            run()
            best[slot] = min(best[slot], time.process_time() - start)
    return best[0], best[1]


def main() -> None:
    rng = random.Random(0)
    images = [
        {"id": i, "file_name": f"img_{i:05d}.jpg", "width": 640, "height": 480}
        for i in range(IMAGES)
    ]
    categories = [{"id": c, "name": f"class_{c}"} for c in range(CLASSES)]
    results = [_result(rng, i) for i in range(IMAGES) for _ in range(PER_IMAGE)]
    instances = {"images": images, "categories": categories, "annotations": []}
    as_instances = {
        **instances,
        "annotations": [
            {**r, "id": n + 1, "attributes": {"score": r["score"]}} for n, r in enumerate(results)
        ],
    }
    read_base, read_ours = _pair(
        lambda: from_coco(as_instances), lambda: read_coco_results(results, instances)
    )
    labels = read_coco_results(results, instances)
    ids = list(range(1, IMAGES + 1))
    docs = [labels[img["file_name"]].data for img in images]
    tasks = {i + 1: img["file_name"] for i, img in enumerate(images)}
    matching = match_to_tasks(labels, tasks)
    frame_base, frame_ours = _pair(
        lambda: annotations_from_data(ids, docs, owner="task_id"),
        lambda: predictions_frame(labels, matching),
    )
    rows = len(results)
    print(f"{IMAGES:,} images x {PER_IMAGE} boxes = {rows:,} predictions, best CPU s of 3")
    print(f"{'step':<6} {'baseline':<30} {'base s':>7} {'ours s':>7} {'ratio':>6}")
    for step, base, base_s, ours_s in (
        ("read", "converters.from_coco", read_base, read_ours),
        ("frame", "frames annotations_from_data", frame_base, frame_ours),
    ):
        print(f"{step:<6} {base:<30} {base_s:7.2f} {ours_s:7.2f} {ours_s / base_s:6.2f}")


def _result(rng: random.Random, image_id: int) -> dict:
    box = [rng.uniform(0, 500), rng.uniform(0, 400), rng.uniform(2, 100), rng.uniform(2, 60)]
    return {
        "image_id": image_id,
        "category_id": rng.randrange(CLASSES),
        "score": rng.random(),
        "bbox": box,
    }


if __name__ == "__main__":
    main()
