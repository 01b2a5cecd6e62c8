"""Evaluation from Synapse DM data: the DM read next to the COCO engine and pycocotools.

Run: ``python benchmarks/bench_eval_client.py`` (the demo's ground truth v2 and the
``yolo-v8n 2.0.0`` predictions, fetched once from an embedded demo backend, repeated 50 times
under new data unit ids: 9,000 images, ~49k boxes each side) or ``--quick`` (5 repeats).

Rows, each timed in this process on the same data (wall and CPU time of the process):

- pycocotools: ``COCOeval.evaluate()`` + ``accumulate()`` on the COCO inputs the DM
  adapter wrote (the baseline, 1.00; ``loadRes`` and index building not counted);
- engine: ``synapse_nb.evaluation.evaluate`` on the same COCO inputs;
- DM read: ``synapse_nb.evaluation.dm.coco_from_dm`` on the DM documents;
- DM read + engine: what ``client.evaluate`` does after the fetch.

Ratios are the baseline's time over the row's (higher is faster). The last line is the
largest |Δ| between pycocotools' and the engine's 12 summary stats.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from synapse_nb.evaluation import evaluate
from synapse_nb.evaluation.dm import DMItem, coco_from_dm


def _documents(repeats: int) -> tuple[list[DMItem], list[DMItem], dict[str, Any]]:
    from synapse_nb.frames import Client
    from synapse_nb.frames.evaluation import model_predictions_version
    from synapse_nb.server import start

    srv = start(demo=True)
    try:
        with Client(srv.url, api_token=srv.token, progress=False) as client:
            config = client.get_project(1)["configuration"]
            sets = []
            for version in (2, model_predictions_version(client, 3)):
                ev = client.list_ground_truth_events(
                    {"ground_truth_dataset_versions": [version]}, list_all=True,
                    include_data=True)
                sets.append(list(zip(ev.data_unit_id.astype(int), ev.data,
                                     ev.width.astype(int), ev.height.astype(int), strict=True)))
    finally:
        srv.stop()
    step = 1 + max(u for u, *_ in sets[0])
    gt, preds = ([DMItem(int(u) + r * step, d, width=w, height=h)
                  for r in range(repeats) for u, d, w, h in rows] for rows in sets)
    return gt, preds, config


def _timed(run: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = run()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _pycocotools(dataset: dict[str, Any], results: list[dict[str, Any]]) -> Any:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = copy.deepcopy(dataset)
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(results))
        ev = COCOeval(gt, dt, "bbox")
        _, wall, cpu = _timed(lambda: (ev.evaluate(), ev.accumulate()))
        ev.summarize()
    return ev, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 repeats instead of 50")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 50)
    gt, preds, config = _documents(repeats)
    inputs, read_wall, read_cpu = _timed(lambda: coco_from_dm(gt, preds, "bbox",
                                                              configuration=config))
    ours, eng_wall, eng_cpu = _timed(lambda: evaluate(inputs.dataset, inputs.results, "bbox"))
    ev, ref_wall, ref_cpu = _pycocotools(inputs.dataset, inputs.results)
    print(f"{len(gt):,} images, {len(inputs.dataset['annotations']):,} ground-truth and "
          f"{len(inputs.results):,} predicted boxes, {len(inputs.dataset['categories'])} classes")
    print(f"{'row':<18}{'wall s':>9}{'cpu s':>9}{'ratio wall':>12}{'ratio cpu':>11}")
    for name, wall, cpu in (("pycocotools", ref_wall, ref_cpu), ("engine", eng_wall, eng_cpu),
                            ("DM read", read_wall, read_cpu),
                            ("DM read + engine", read_wall + eng_wall, read_cpu + eng_cpu)):
        print(f"{name:<18}{wall:>9.2f}{cpu:>9.2f}{ref_wall / wall:>12.2f}{ref_cpu / cpu:>11.2f}")
    delta = float(np.abs(ours.stats - np.asarray(ev.stats)).max())
    print(f"max |Δ| of the 12 stats vs pycocotools: {delta:.1e}")


if __name__ == "__main__":
    main()
