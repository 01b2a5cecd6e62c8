"""Whole-folder import: ``import_folder`` against the hand-made pipeline it replaces.

Run: ``python benchmarks/bench_import_folder.py`` (about half a minute). On a fresh embedded
demo backend it writes two datasets of ``IMAGES`` new images (random pixels, so every byte
is really sent) with a DM label of ``BOXES`` boxes each, and times (wall clock, best of
``REPEAT`` interleaved runs on fresh datasets):

- baseline: ``upload(images, collection, project_id=...)``, one listing of the tasks and
  of the units, then one ``annotate_task_data`` per task, with no checks;
- ours: ``import_folder`` on the other dataset (reads and checks every label and image
  size first, then the same upload and writes);
- resume: ``import_folder`` again on the finished dataset (nothing to send).

A ratio is time / baseline time; the overhead of the checks and bookkeeping is ratio - 1.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from synapse_nb.clients import BackendClient
from synapse_nb.importers import import_folder
from synapse_nb.plugins.upload import upload
from synapse_nb.server import start

IMAGES, BOXES, REPEAT = 150, 10, 2
COLLECTION, PROJECT = 2, 3


def _dataset(root: Path, seed: int) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    docs = {}
    for n in range(IMAGES):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(
            root / "images" / f"img_{n:04d}.png"
        )
        boxes = [
            {"id": f"b{k}", "classification": "car", "attrs": [],
             "data": [int(rng.integers(0, 100)), int(rng.integers(0, 80)), 20, 15]}
            for k in range(BOXES)
        ]  # fmt: skip
        docs[f"img_{n:04d}"] = {"images": [{"bounding_box": boxes}]}
        (root / "labels" / f"img_{n:04d}.json").write_text(json.dumps(docs[f"img_{n:04d}"]))
    return docs


def _baseline(client: BackendClient, root: Path, docs: dict[str, dict]) -> None:
    report = upload(client, root / "images", COLLECTION, project_id=PROJECT, progress=False)
    tasks, _ = client.list_tasks({"project": PROJECT}, url_conversion=False, list_all=True)
    units, _ = client.list_data_units({"data_collection": COLLECTION}, list_all=True)
    stems = {u["id"]: u["meta"]["origin_file_stem"] for u in units}
    unit_to_task = {t["data_unit"]: t["id"] for t in tasks}
    for unit in report.created:
        client.annotate_task_data(unit_to_task[unit], docs[stems[unit]])


def main() -> None:
    srv = start(demo=True)
    client = BackendClient(srv.url, srv.token)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base, ours = float("inf"), float("inf")
            for run in range(REPEAT):  # interleaved, best of each: load hits both alike
                plain, ours_root = Path(tmp) / f"plain{run}", Path(tmp) / f"ours{run}"
                docs = _dataset(plain, 2 * run)
                _dataset(ours_root, 2 * run + 1)
                started = time.perf_counter()
                _baseline(client, plain, docs)
                base = min(base, time.perf_counter() - started)
                started = time.perf_counter()
                first = import_folder(client, ours_root, collection=COLLECTION,
                                      project=PROJECT, progress=False)  # fmt: skip
                ours = min(ours, time.perf_counter() - started)
            started = time.perf_counter()
            again = import_folder(client, ours_root, collection=COLLECTION,
                                  project=PROJECT, progress=False)  # fmt: skip
            resume = time.perf_counter() - started
    finally:
        client.close()
        srv.stop()
    assert first.counts()["annotated"] == IMAGES and again.counts()["skipped"] == IMAGES
    print(f"{IMAGES} images x {BOXES} boxes, wall clock, best of {REPEAT} interleaved runs")
    print(f"{'case':<44}{'seconds':>9}{'ratio':>8}")
    for name, value in (
        ("baseline: upload + annotate_task_data", base),
        ("import_folder (checks, upload, annotate)", ours),
        ("import_folder again (resume, nothing sent)", resume),
    ):
        print(f"{name:<44}{value:>9.2f}{value / base:>8.2f}")


if __name__ == "__main__":
    main()
