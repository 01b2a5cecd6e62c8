"""Review-loop benchmark: a click on a confusion-matrix cell of a 50,000-image evaluation.

Run: ``python benchmarks/bench_review.py`` (50,000 images × ~20 ground-truth and ~30 predicted
boxes over 10 classes, the data set of ``bench_eval.py``) or ``--quick`` (2,000 images).

One click is :meth:`EvaluationPanel.select_cell`: find the cell's annotations among all
labels, filter the task table to their tasks (most cell annotations first), aim the tag
editor at them, build the compare preview of the first ``preview_rows`` tasks (ground truth
vs predictions, the cell highlighted, the label view applied) and draw its first image. The
images are one 640×480 JPEG on local disk (no server: the click itself is measured).

The baseline, measured in the same run on the same label frame, is the plain pandas way of
answering the same question: a boolean filter of the labels for the cell and ``.loc`` of the
matching tasks. The ratio is panel / baseline (the panel also draws a preview); the target is
a click ≤ 300 ms. Each cell is clicked ``--repeat`` times; the medians of wall and CPU
(process) time are shown — on a shared machine the CPU column is the steadier one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from bench_eval import make_dataset  # a sibling script, not a package

TARGET_MS = 300.0


def _tasks(n_images: int, image: Path) -> pd.DataFrame:
    ids = np.arange(1, n_images + 1) * 2  # task ids differ from the COCO image ids
    return pd.DataFrame(
        {
            "project": 1,
            "status": pd.Categorical(np.where(ids % 3 == 0, "completed", "pending")),
            "tag_names": [[] for _ in ids],
            "file_name": [f"img_{i:06d}.jpg" for i in ids],
            "file_url": str(image),
            "width": 640,
            "height": 480,
        },
        index=pd.Index(ids, name="id"),
    )


def _baseline(labels: pd.DataFrame, tasks: pd.DataFrame, true: str, predicted: str) -> int:
    """The cell's tasks with plain pandas: one boolean filter, then ``.loc``."""
    if true == "background":
        mask = (labels["source"] == "pred") & (labels["class_name"] == predicted) & (
            labels["matched_class"] == "background")
    else:
        mask = (labels["source"] == "gt") & (labels["class_name"] == true) & (
            labels["matched_class"] == predicted)
    return len(tasks.loc[labels.loc[mask, "task_id"].unique()])


def _median_ms(fn, repeat: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def _cells(matrix: pd.DataFrame) -> list[tuple[str, str, str]]:
    values = matrix.to_numpy().copy()
    k = len(values) - 1
    off = values[:k, :k].copy()
    np.fill_diagonal(off, -1)
    i, j = np.unravel_index(off.argmax(), off.shape)
    miss = int(values[:k, k].argmax())
    ghost = int(values[k, :k].argmax())
    names = [str(n) for n in matrix.index]
    return [("confusion", names[i], names[j]), ("diagonal", names[0], names[0]),
            ("missed", names[miss], "background"), ("no ground truth", "background",
                                                    names[ghost])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="2,000 images (smoke run)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    n_images = 2_000 if args.quick else args.images

    from synapse_nb.evaluation import evaluate
    from synapse_nb.widgets.evaluation import EvaluationPanel

    dataset, results = make_dataset(n_images, args.seed)
    t0 = time.perf_counter()
    result = evaluate(dataset, results)
    eval_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "frame.jpg"
        Image.new("RGB", (640, 480), (90, 110, 130)).save(image, quality=85)
        tasks = _tasks(n_images, image)
        images = {i: i * 2 for i in range(1, n_images + 1)}
        t0 = time.perf_counter()
        panel = EvaluationPanel(result, tasks, images=images)
        build_s = time.perf_counter() - t0
        labels = panel.labels
        print(f"\n{n_images:,} images, {len(labels):,} labels (ground truth + predictions), "
              f"10 classes; evaluate {eval_s:.1f} s, panel built in {build_s:.1f} s "
              f"(labels, matrix, widgets; once)\n")
        print(f"{'cell':<38}{'labels':>9}{'tasks':>8}{'pandas ms':>11}{'click ms':>10}"
              f"{'ratio':>8}{'CPU pandas':>12}{'CPU click':>11}{'ratio':>8}{'≤ 300 ms':>10}")
        for kind, true, predicted in _cells(panel.matrix):
            n_tasks = _baseline(labels, tasks, true, predicted)
            base, base_cpu = _median_ms(
                lambda t=true, p=predicted: _baseline(labels, tasks, t, p), args.repeat)
            click, click_cpu = _median_ms(
                lambda t=true, p=predicted: panel.select_cell(t, p), args.repeat)
            assert len(panel.table.value) == min(n_tasks, panel.table.page_size) or (
                panel.table.count == n_tasks), "the table holds the cell's tasks"
            assert panel.table.count == n_tasks
            name = f"{kind}: {true} → {predicted}"
            ok = "yes" if click <= TARGET_MS else ("CPU yes" if click_cpu <= TARGET_MS else "NO")
            print(f"{name:<38}{len(panel.cell_labels):>9,}{n_tasks:>8,}{base:>11.1f}"
                  f"{click:>10.1f}{click / base:>7.1f}×{base_cpu:>12.1f}{click_cpu:>11.1f}"
                  f"{click_cpu / max(base_cpu, 1e-3):>7.1f}×{ok:>10}")
        panel.close()
    print("\nclick = EvaluationPanel.select_cell (filter, table, tags, compare preview + first "
          "image); pandas = boolean filter + .loc of the tasks (the baseline). Medians of "
          f"{args.repeat} clicks. CPU = process time: on a shared machine wall time also counts "
          "the time other processes held the cores ('CPU yes': within target in CPU time only).")


if __name__ == "__main__":
    main()
