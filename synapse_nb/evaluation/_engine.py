"""The COCO protocol end to end on column arrays: sort, group, match, accumulate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from synapse_nb.evaluation._accumulate import Tables, accumulate
from synapse_nb.evaluation._inputs import (
    EvaluationInputError,
    GroundTruth,
    Predictions,
    keypoint_array,
)
from synapse_nb.evaluation._iou import COCO_SIGMAS, BlockFn, box_block, mask_block, oks_block
from synapse_nb.evaluation._masks import to_rles
from synapse_nb.evaluation._matching import MatchInput, greedy_match, group_runs

__all__ = ["IouType", "Params", "Run", "block_for", "run_protocol", "sigma_for"]

IouType = Literal["bbox", "segm", "keypoints"]
_BIG = 1e5 ** 2


@dataclass(frozen=True)
class Params:
    """Protocol parameters; :meth:`coco` gives pycocotools' defaults for an IoU type.

    Example:
        >>> p = Params.coco("keypoints")
        >>> p.max_dets, p.area_labels, len(p.iou_thresholds), len(p.rec_thresholds)
        ((20,), ('all', 'medium', 'large'), 10, 101)
    """

    iou_type: IouType
    iou_thresholds: np.ndarray
    rec_thresholds: np.ndarray
    max_dets: tuple[int, ...]
    area_ranges: np.ndarray
    area_labels: tuple[str, ...]

    @classmethod
    def coco(cls, iou_type: IouType) -> Params:
        """pycocotools' ``Params(iouType)`` values (thresholds built with the same linspace)."""
        if iou_type not in ("bbox", "segm", "keypoints"):
            raise EvaluationInputError(
                f"iou_type = {iou_type!r} is not one of 'bbox', 'segm', 'keypoints'")
        iou = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
        rec = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
        ranges = {"all": [0, _BIG], "small": [0, 32 ** 2], "medium": [32 ** 2, 96 ** 2],
                  "large": [96 ** 2, _BIG]}
        labels = (("all", "medium", "large") if iou_type == "keypoints"
                  else ("all", "small", "medium", "large"))
        return cls(iou_type=iou_type, iou_thresholds=iou, rec_thresholds=rec,
                   max_dets=(20,) if iou_type == "keypoints" else (1, 10, 100),
                   area_ranges=np.array([ranges[x] for x in labels], np.float64),
                   area_labels=labels)


@dataclass
class Run:
    """Everything one evaluation computed; rows of ``gt_*``/``dt_*`` are in matching order."""

    params: Params
    gt: GroundTruth
    dt: Predictions
    gt_order: np.ndarray
    dt_order: np.ndarray
    dt_rank: np.ndarray
    gt_ignore: np.ndarray
    codes: np.ndarray
    match: np.ndarray
    tables: Tables
    n_positive: np.ndarray
    block: BlockFn
    extras: dict[str, Any] = field(default_factory=dict)


def _outside(area: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    return (area[None, :] < ranges[:, :1]) | (area[None, :] > ranges[:, 1:])


def run_protocol(gt: GroundTruth, dt: Predictions, params: Params,
                 sigmas: Mapping[int, Any] | None = None) -> Run:
    """Run evaluate + accumulate. ``sigmas`` maps a category id to its keypoint OKS sigmas.

    Example:
        >>> gt = GroundTruth.from_coco({"images": [{"id": 1}],
        ...     "categories": [{"id": 1, "name": "a"}],
        ...     "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 9]}]})
        >>> dt = Predictions.from_coco([{"image_id": 1, "category_id": 1,
        ...                              "bbox": [0, 0, 9, 8], "score": 1.0}], gt)
        >>> r = run_protocol(gt, dt, Params.coco("bbox"))
        >>> p = r.tables.precision          # (T, R, K, A, M); 1/(1+eps) as in pycocotools
        >>> round(float(p[0, :, 0, 0, 2].min()), 6), float(p[-1, :, 0, 0, 2].max())
        (1.0, 0.0)
    """
    n_cat = len(gt.category_ids)
    gt_order = np.lexsort((gt.category, gt.image))
    dt_sorted = np.lexsort((-dt.score, dt.category, dt.image))
    dt_key_all = dt.image[dt_sorted] * n_cat + dt.category[dt_sorted]
    _, starts, lengths = group_runs(dt_key_all)
    rank_all = np.arange(len(dt_sorted)) - np.repeat(starts, lengths)
    keep = rank_all < params.max_dets[-1]
    dt_order, dt_rank = dt_sorted[keep], rank_all[keep]
    g_area, g_crowd = gt.area[gt_order], gt.crowd[gt_order]
    base_ignore = g_crowd.copy()
    if params.iou_type == "keypoints":
        base_ignore |= _num_keypoints(gt, gt_order) == 0
    gt_ignore = base_ignore[None, :] | _outside(g_area, params.area_ranges)
    gt_key = gt.image[gt_order] * n_cat + gt.category[gt_order]
    dt_key = dt.image[dt_order] * n_cat + dt.category[dt_order]
    block, bucket = block_for(gt, dt, gt_order, dt_order, params, sigmas)
    inp = MatchInput(
        gt_key=gt_key, dt_key=dt_key, gt_ignore=gt_ignore, gt_crowd=g_crowd,
        gt_zero_id=gt.ids[gt_order] == 0, dt_out=_outside(dt.area[dt_order], params.area_ranges),
        thresholds=params.iou_thresholds, block=block,
        bucket_of_key=None if bucket is None else bucket % n_cat if n_cat else bucket,
        bucket_key_values=None if bucket is None else bucket)
    codes, match = greedy_match(inp)
    n_positive = np.zeros((n_cat, len(params.area_labels)), np.int64)
    for a in range(len(params.area_labels)):
        n_positive[:, a] = np.bincount(gt.category[gt_order][~gt_ignore[a]], minlength=n_cat)
    tables = accumulate(codes, dt.category[dt_order], dt.image[dt_order], dt_rank,
                        dt.score[dt_order], n_positive, params.rec_thresholds, params.max_dets)
    return Run(params=params, gt=gt, dt=dt, gt_order=gt_order, dt_order=dt_order,
               dt_rank=dt_rank, gt_ignore=gt_ignore, codes=codes, match=match, tables=tables,
               n_positive=n_positive, block=block)


def block_for(gt: GroundTruth, dt: Predictions, gt_order: np.ndarray, dt_order: np.ndarray,
               params: Params, sigmas: Mapping[int, Any] | None,
               ) -> tuple[BlockFn, np.ndarray | None]:
    crowd = gt.crowd[gt_order]
    if params.iou_type == "bbox":
        return box_block(dt.bbox[dt_order], gt.bbox[gt_order], crowd), None
    if params.iou_type == "segm":
        g = gt_order.tolist()
        d = dt_order.tolist()
        gt_segm, dt_segm = gt.raw("segmentation"), dt.raw("segmentation")
        gt_rles = to_rles([gt_segm[i] for i in g], gt.heights[gt.image[gt_order]],
                          gt.widths[gt.image[gt_order]], "ground truth")
        dt_rles = to_rles([dt_segm[i] for i in d], gt.heights[dt.image[dt_order]],
                          gt.widths[dt.image[dt_order]], "predictions", boxes=dt.bbox[dt_order])
        return mask_block(dt_rles, gt_rles, crowd), None
    return _oks_dispatch(gt, dt, gt_order, dt_order, sigmas or {})


def _num_keypoints(gt: GroundTruth, order: np.ndarray) -> np.ndarray:
    out = np.zeros(len(order), np.int64)
    num, kps = gt.raw("num_keypoints"), gt.raw("keypoints")
    for j, i in enumerate(order.tolist()):
        given = num[i]
        if given is None:
            kp = keypoint_array(kps[i], f"ground truth annotations[{i}]")
            given = np.count_nonzero(kp[2::3] > 0)
        out[j] = int(given)
    return out


def _stack_keypoints(kps: list[Any], order: np.ndarray, where: str) -> np.ndarray:
    rows = [keypoint_array(kps[i], f"{where}[{i}]") for i in order.tolist()]
    width = max((len(r) for r in rows), default=0)
    out = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _oks_dispatch(gt: GroundTruth, dt: Predictions, gt_order: np.ndarray, dt_order: np.ndarray,
                  sigmas: Mapping[int, Any]) -> tuple[BlockFn, np.ndarray]:
    gt_kps = gt.raw("keypoints")
    gkp = _stack_keypoints(gt_kps, gt_order, "ground truth")
    dkp = _stack_keypoints(dt.raw("keypoints"), dt_order, "predictions")
    g_cat = gt.category[gt_order]
    blocks: dict[int, BlockFn] = {}

    def block(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        k = int(g_cat[cols[0, 0]])
        if k not in blocks:
            first = gt_kps[int(gt_order[cols[0, 0]])]
            sig = sigma_for(int(gt.category_ids[k]), len(first) // 3, sigmas)
            blocks[k] = oks_block(dkp, gkp, gt.bbox[gt_order], gt.area[gt_order], sig)
        return blocks[k](rows, cols)

    keys = np.unique(gt.image[gt_order] * len(gt.category_ids) + g_cat)
    return block, keys


def sigma_for(category_id: int, n_keypoints: int, sigmas: Mapping[int, Any]) -> np.ndarray:
    """OKS sigmas of a category: given ones, COCO's for 17 keypoints, else their mean for all.

    Example:
        >>> sigma_for(1, 17, {}).round(3)[:3].tolist(), sigma_for(1, 2, {1: [0.1, 0.2]}).tolist()
        ([0.026, 0.025, 0.025], [0.1, 0.2])
    """
    if category_id in sigmas:
        out = np.asarray(sigmas[category_id], np.float64)
        if out.ndim != 1 or len(out) != n_keypoints or not (out > 0).all():
            raise EvaluationInputError(
                f"sigmas[{category_id}] = {sigmas[category_id]!r} is not {n_keypoints} "
                "positive numbers (one per keypoint)")
        return out
    if n_keypoints == len(COCO_SIGMAS):
        return COCO_SIGMAS
    return np.full(n_keypoints, COCO_SIGMAS.mean())
