"""``evaluate`` and ``compare``: the entry points of the evaluation package."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from synapse_nb.evaluation._engine import IouType, Params, run_protocol
from synapse_nb.evaluation._inputs import EvaluationInputError, GroundTruth, Predictions
from synapse_nb.evaluation.result import EvaluationResult

__all__ = ["Comparison", "compare", "evaluate"]


def _ground_truth(ground_truth: Mapping[str, Any] | GroundTruth) -> GroundTruth:
    return ground_truth if isinstance(ground_truth, GroundTruth) else GroundTruth.from_coco(
        ground_truth)


def evaluate(
    ground_truth: Mapping[str, Any] | GroundTruth,
    predictions: Sequence[Mapping[str, Any]],
    iou_type: IouType = "bbox",
    *,
    sigmas: Mapping[int, Sequence[float]] | None = None,
) -> EvaluationResult:
    """Evaluate predictions against ground truth with the COCO protocol.

    Numbers equal ``pycocotools.cocoeval.COCOeval`` (``evaluate`` + ``accumulate`` +
    ``summarize``) on the same data. Inputs are a COCO instances/keypoints dict and a COCO
    results list (see :func:`coco_from_per_image` for a simple per-image structure).

    * ``bbox``: box IoU. Rotated boxes are not boxes to this protocol: give them as polygons
      (:func:`rotated_box_polygon`) and evaluate with ``segm``, which rasterises them exactly.
    * ``segm``: mask IoU of polygons/RLE (images need ``height``/``width``); a result without a
      segmentation is evaluated as its box, as pycocotools does.
    * ``keypoints``: OKS. ``sigmas`` maps a category id to per-keypoint sigmas; otherwise the
      COCO person sigmas for 17 keypoints, else their mean for every keypoint.

    ``iscrowd`` ground truths are supported as in COCO: they are ignored regions that absorb
    any number of detections (IoU over the detection's area) and count neither way. Results of
    categories absent from the ground truth are dropped; more than the last ``maxDets``
    detections per image and class are cut, as pycocotools does.

    Example:
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
        ...                        "bbox": [0, 0, 40, 40]}]}
        >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
        ...                      "score": 0.9}])
        >>> res.summary.loc[["AP", "AR100"], "value"].round(6).tolist()
        [1.0, 1.0]
    """
    gt = _ground_truth(ground_truth)
    params = Params.coco(iou_type)
    dt = Predictions.from_coco(predictions, gt)
    return EvaluationResult(run_protocol(gt, dt, params, sigmas))


def compare(
    ground_truth: Mapping[str, Any] | GroundTruth,
    predictions: Mapping[str, Sequence[Mapping[str, Any]]],
    iou_type: IouType = "bbox",
    *,
    sigmas: Mapping[int, Sequence[float]] | None = None,
) -> Comparison:
    """Evaluate several prediction sets (``{model name: results}``) against one ground truth.

    Example:
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
        ...                        "bbox": [0, 0, 40, 40]}]}
        >>> hit = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40], "score": 0.9}
        >>> cmp = compare(gt, {"good": [hit], "empty": []})
        >>> cmp.summary["AP"].round(6).to_dict()
        {'good': 1.0, 'empty': 0.0}
    """
    if not isinstance(predictions, Mapping) or not predictions:
        raise EvaluationInputError(
            f"predictions = {type(predictions).__name__} is not a non-empty {{name: results}} map")
    gt = _ground_truth(ground_truth)
    return Comparison({str(name): evaluate(gt, preds, iou_type, sigmas=sigmas)
                       for name, preds in predictions.items()})


class Comparison:
    """Results of several models on one ground truth, side by side.

    Attributes:
        results: ``{model name: EvaluationResult}``.
        summary: models × COCO stats.
        model_ids: ``{model name: model id}`` when compared from the server.
    """

    def __init__(self, results: Mapping[str, EvaluationResult]) -> None:
        self.results = dict(results)
        #: ``{result key: model id}`` when the results are models' (``compare_models``).
        self.model_ids: dict[str, int] = {}
        self.summary = pd.DataFrame(
            {name: r.summary["value"] for name, r in self.results.items()}).T
        self.summary.index.name = "model"

    def __repr__(self) -> str:
        return f"Comparison({', '.join(self.results)})"

    def per_class(self, metric: str = "AP") -> pd.DataFrame:
        """Classes × models for one per-class metric.

        Example:
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": []}
            >>> compare(gt, {"a": [], "b": []}).per_class().columns.tolist()
            ['a', 'b']
        """
        return pd.DataFrame({name: r.per_class[metric] for name, r in self.results.items()})

    def plot(self, metrics: tuple[str, ...] = ("AP", "AP50", "AP75"), ax: Any = None) -> Any:
        """Grouped bars of ``metrics`` per model; returns the axes.

        Example:
            >>> import matplotlib; matplotlib.use("Agg")
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": []}
            >>> compare(gt, {"a": [], "b": []}).plot(("AP",)).get_title()
            'Model comparison'
        """
        from synapse_nb.evaluation.plots import plot_comparison

        return plot_comparison(self.summary, metrics, ax=ax)
