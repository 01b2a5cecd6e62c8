"""COCO-protocol evaluation of detections, masks and keypoints against ground truth.

Numbers equal ``pycocotools.cocoeval.COCOeval`` (|Δ| ≤ 1e-9, in practice bit-identical), computed
by a vectorised numpy engine an order of magnitude faster. The engine reads COCO dicts and
results lists (or a simple per-image mapping through :func:`coco_from_per_image`); it knows
nothing of the Synapse client.

Example:
    >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
    >>> gt, preds = coco_from_per_image(
    ...     {"a.jpg": [{"label": "car", "bbox": [0, 0, 40, 40]}]},
    ...     {"a.jpg": [{"label": "car", "bbox": [2, 0, 40, 40], "score": 0.8}]})
    >>> evaluate(gt, preds).per_class[["AP50", "n_gt", "n_pred"]].round(6).values.tolist()
    [[1.0, 1.0, 1.0]]
"""

from synapse_nb.evaluation._engine import Params
from synapse_nb.evaluation._inputs import (
    EvaluationInputError,
    GroundTruth,
    Predictions,
    coco_from_per_image,
)
from synapse_nb.evaluation._masks import rotated_box_polygon
from synapse_nb.evaluation.api import Comparison, compare, evaluate
from synapse_nb.evaluation.result import EvaluationResult

__all__ = [
    "Comparison",
    "EvaluationInputError",
    "EvaluationResult",
    "GroundTruth",
    "Params",
    "Predictions",
    "coco_from_per_image",
    "compare",
    "evaluate",
    "rotated_box_polygon",
]
