"""pycocotools as the reference, and seeded random COCO sets for the equality tests."""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def reference(dataset: dict[str, Any], results: list[dict[str, Any]], iou_type: str,
              sigmas: np.ndarray | None = None, cat_ids: list[int] | None = None) -> COCOeval:
    """``COCOeval`` evaluate + accumulate + summarize on deep copies (pycocotools mutates)."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = copy.deepcopy(dataset)
        for ann in gt.dataset["annotations"]:
            ann.setdefault("iscrowd", 0)  # pycocotools needs it; we default it to 0
        gt.createIndex()
        dt = load_results(gt, copy.deepcopy(results))
        ev = COCOeval(gt, dt, iou_type)
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def load_results(gt: COCO, results: list[dict[str, Any]]) -> COCO:
    """``gt.loadRes(results)``; for no results at all, the results object ``loadRes`` would
    make (the images and categories, no annotations), since ``loadRes`` reads ``results[0]``."""
    if results:
        return gt.loadRes(results)
    dt = COCO()
    dt.dataset = {"images": list(gt.dataset["images"]),
                  "categories": copy.deepcopy(gt.dataset["categories"]), "annotations": []}
    dt.createIndex()
    return dt


def per_class_reference(ev: COCOeval) -> np.ndarray:
    """Per-class AP, AP50, AP75 and AR at the last maxDets, from ``eval['precision']``."""
    p, r = ev.eval["precision"], ev.eval["recall"]

    def mean(s: np.ndarray) -> float:
        return float(s[s > -1].mean()) if (s > -1).any() else -1.0

    return np.array([[mean(p[:, :, k, 0, -1]), mean(p[0, :, k, 0, -1]), mean(p[5, :, k, 0, -1]),
                      mean(r[:, k, 0, -1])] for k in range(p.shape[2])]).reshape(-1, 4)


def assert_equal_to_reference(ours: Any, ev: COCOeval) -> None:
    """Every number pycocotools computes equals ours within 1e-9 (also with no class at all)."""
    t = ours.run.tables
    assert t.precision.shape == ev.eval["precision"].shape
    assert t.recall.shape == ev.eval["recall"].shape
    assert np.abs(t.precision - ev.eval["precision"]).max(initial=0.0) <= 1e-9
    assert np.abs(t.recall - ev.eval["recall"]).max(initial=0.0) <= 1e-9
    assert np.abs(ours.stats - np.asarray(ev.stats)).max() <= 1e-9
    pc = ours.per_class
    mine = pc[["AP", "AP50", "AP75", pc.columns[9 if len(ev.stats) == 12 else 6]]].to_numpy()
    theirs = per_class_reference(ev)
    assert mine.shape == theirs.shape
    assert np.abs(mine - theirs).max(initial=0.0) <= 1e-9
