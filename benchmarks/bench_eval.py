"""COCO evaluation benchmark: synapse_nb.evaluation vs pycocotools on the same boxes.

Run: ``python benchmarks/bench_eval.py`` (50,000 images × ~20 ground-truth and ~30 predicted
boxes over 10 classes; pycocotools alone takes tens of minutes) or ``--quick`` (500 images)
for a smoke run. One run of each engine, each in its own subprocess that rebuilds the same
seeded data set, so their peak memory (``ru_maxrss``) is their own.

Rows:
- pycocotools: ``COCOeval.evaluate()`` + ``accumulate()`` (the reference; its ``loadRes`` and
  index building are shown apart and not counted).
- synapse_nb: ``evaluate(gt_dict, results_list)`` end to end: reading the dicts, matching,
  accumulating, the summary and per-class tables. The ratios are pycocotools' time / ours,
  in wall-clock and in CPU time of the process (on a shared machine the CPU ratio is the
  steadier one: wall time also counts the time other processes held the cores).

Then the largest |Δ| over the 12 summary stats, the full precision (T×R×K×A×M) and recall
arrays, and the per-class AP/AP50/AP75/APs/APm/APl/AR100 (pycocotools' per-class values are
taken from its ``eval['precision']``/``eval['recall']``).

The data: boxes of random size (4–150 px) on 640×480 images; 60% of the predictions are
jittered copies of a ground truth (15% of those with the wrong class), the rest random;
scores rounded to 2 decimals so ties are common. Crowd-free.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np


def make_dataset(n_images: int, seed: int, n_cat: int = 10) -> tuple[dict[str, Any], list[dict]]:
    """The seeded COCO ground truth and results list (identical in every process)."""
    rng = np.random.default_rng(seed)
    n_gt = rng.poisson(20, n_images)
    n_dt = rng.poisson(30, n_images)
    g_img = np.repeat(np.arange(1, n_images + 1), n_gt)
    g_xy = rng.uniform(0, 500, (len(g_img), 2))
    g_wh = rng.uniform(4, 150, (len(g_img), 2))
    g_cat = rng.integers(1, n_cat + 1, len(g_img))
    g_start = np.r_[0, np.cumsum(n_gt)[:-1]]
    d_img = np.repeat(np.arange(1, n_images + 1), n_dt)
    d_owner = g_start[d_img - 1] + (rng.random(len(d_img)) * n_gt[d_img - 1]).astype(int)
    near = (rng.random(len(d_img)) < 0.6) & (n_gt[d_img - 1] > 0)
    owner = np.where(near, d_owner, 0)
    jitter = rng.normal(0, 0.08, (len(d_img), 4)) * np.c_[g_wh[owner], g_wh[owner]]
    box_near = np.c_[g_xy[owner], g_wh[owner]] + jitter
    box_far = np.c_[rng.uniform(0, 500, (len(d_img), 2)), rng.uniform(4, 150, (len(d_img), 2))]
    d_box = np.where(near[:, None], box_near, box_far)
    d_box[:, 2:] = np.maximum(d_box[:, 2:], 1.0)
    wrong = rng.random(len(d_img)) < 0.15
    d_cat = np.where(near & ~wrong, g_cat[owner], rng.integers(1, n_cat + 1, len(d_img)))
    d_score = np.round(np.clip(rng.beta(2, 2, len(d_img)) + 0.25 * near, 0, 1), 2)
    g_box = np.round(np.c_[g_xy, g_wh], 2).tolist()
    annotations = [{"id": i + 1, "image_id": int(im), "category_id": int(c), "bbox": b,
                    "area": b[2] * b[3], "iscrowd": 0}
                   for i, (im, c, b) in enumerate(zip(g_img.tolist(), g_cat.tolist(), g_box,
                                                          strict=True))]
    results = [{"image_id": im, "category_id": c, "bbox": b, "score": s}
               for im, c, b, s in zip(d_img.tolist(), d_cat.tolist(),
                                      np.round(d_box, 2).tolist(), d_score.tolist(), strict=True)]
    dataset = {"images": [{"id": i, "width": 640, "height": 480}
                          for i in range(1, n_images + 1)],
               "categories": [{"id": c, "name": f"class{c}"} for c in range(1, n_cat + 1)],
               "annotations": annotations}
    return dataset, results


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_PER_CLASS = [("AP", None, 0, 2), ("AP50", 0, 0, 2), ("AP75", 5, 0, 2), ("APs", None, 1, 2),
              ("APm", None, 2, 2), ("APl", None, 3, 2)]


def _per_class(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """Per-class AP/AP50/AP75/APs/APm/APl/AR100 from COCO arrays (-1 when absent)."""
    out = []
    for k in range(precision.shape[2]):
        row = []
        for _, t, a, m in _PER_CLASS:
            s = precision[:, :, k, a, m] if t is None else precision[t, :, k, a, m]
            row.append(s[s > -1].mean() if (s > -1).any() else -1.0)
        r = recall[:, k, 0, 2]
        row.append(r[r > -1].mean() if (r > -1).any() else -1.0)
        out.append(row)
    return np.array(out)


def worker(engine: str, n_images: int, seed: int, out: str) -> None:
    dataset, results = make_dataset(n_images, seed)
    rss_data = _rss_mb()
    info: dict[str, Any] = {"n_gt": len(dataset["annotations"]), "n_dt": len(results)}
    if engine == "ours":
        from synapse_nb.evaluation import evaluate

        t0, c0 = time.perf_counter(), time.process_time()
        res = evaluate(dataset, results)
        info["time"], info["cpu"] = time.perf_counter() - t0, time.process_time() - c0
        precision, recall = res.run.tables.precision, res.run.tables.recall
        stats = res.stats
    else:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            gt = COCO()
            gt.dataset = dataset
            gt.createIndex()
            dt = gt.loadRes(results)
            info["load"] = time.perf_counter() - t0
            ev = COCOeval(gt, dt, "bbox")
            t0, c0 = time.perf_counter(), time.process_time()
            ev.evaluate()
            ev.accumulate()
            info["time"], info["cpu"] = time.perf_counter() - t0, time.process_time() - c0
            ev.summarize()
        precision, recall, stats = ev.eval["precision"], ev.eval["recall"], ev.stats
    info.update(peak=_peak_mb(), rss_data=rss_data)
    np.savez(out, precision=precision, recall=recall, stats=np.asarray(stats),
             per_class=_per_class(precision, recall))
    with open(out + ".json", "w") as f:
        json.dump(info, f)


def _run_worker(engine: str, n_images: int, seed: int, tmp: str) -> tuple[dict, Any]:
    out = os.path.join(tmp, f"{engine}.npz")
    subprocess.run([sys.executable, __file__, "--worker", engine, "--images", str(n_images),
                    "--seed", str(seed), "--out", out], check=True)
    with open(out + ".json") as f:
        info = json.load(f)
    return info, np.load(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="500 images (smoke run)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--worker", choices=["ours", "pycocotools"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n_images = 500 if args.quick else args.images
    if args.worker:
        worker(args.worker, n_images, args.seed, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ours, a = _run_worker("ours", n_images, args.seed, tmp)
        ref, b = _run_worker("pycocotools", n_images, args.seed, tmp)
    print(f"\n{n_images:,} images, {ours['n_gt']:,} ground-truth boxes, {ours['n_dt']:,} "
          "predictions, 10 classes (bbox)\n")
    print(f"{'engine':<34}{'wall s':>9}{'ratio':>8}{'CPU s':>9}{'ratio':>8}"
          f"{'peak RSS MB':>13}{'over data MB':>14}")
    rows = [("pycocotools evaluate+accumulate", ref), ("synapse_nb evaluate (end to end)", ours)]
    for name, info in rows:
        print(f"{name:<34}{info['time']:>9.2f}{ref['time'] / info['time']:>7.1f}×"
              f"{info['cpu']:>9.2f}{ref['cpu'] / info['cpu']:>7.1f}×{info['peak']:>13.0f}"
              f"{info['peak'] - info['rss_data']:>14.0f}")
    print(f"(pycocotools loadRes + index, not counted: {ref['load']:.2f} s)\n")
    for key in ("stats", "precision", "recall", "per_class"):
        print(f"max |Δ| {key:<10} {np.abs(a[key] - b[key]).max():.3g}")
    worst = max(np.abs(a[k] - b[k]).max() for k in ("stats", "precision", "recall", "per_class"))
    print(f"max |Δ| over all metrics: {worst:.3g}")


if __name__ == "__main__":
    main()
