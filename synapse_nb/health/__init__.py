"""Dataset health: duplicates, split leakage, image-quality and annotation issues as columns.

Two checks, each returning typed frames (score columns ``Float64``, flag columns ``bool``)
and a ``summary()`` table of counts per issue:

- :func:`check_images` — exact and near duplicates (clusters with a representative), leaks
  of near duplicates across splits, dark / overexposed / low-contrast / blurry /
  low-information / odd-aspect / unusual-size images; cached by content hash
  (:class:`HealthCache`), measured on thumbnails in a thread pool.
- :func:`check_annotations` — boxes outside the image, degenerate, tiny, extreme aspect,
  duplicate same-class shapes, classes and attributes outside the label configuration,
  missing required attributes, keypoints outside their box.
- :func:`label_errors` — label-error candidates from models' evaluations: confident
  predictions of another class than the ground truth, confident predictions on no ground
  truth, ground truth no model finds; one ranked score per candidate and per image.

Thresholds live in :class:`ImageThresholds` and :class:`AnnotationThresholds`. Per-class
size/position distributions and class co-occurrence are frames in :mod:`.distributions`;
:mod:`.plots` draws issue counts, duplicate-cluster thumbnail strips and class sizes
(matplotlib, imported on use). Near-duplicate search is multi-index hashing
(:mod:`.index`).

Example:
    >>> from PIL import Image
    >>> from synapse_nb.health import check_images
    >>> report = check_images({"a": Image.new("L", (32, 32))}, progress=False)
    >>> bool(report.images.loc["a", "is_dark"])
    True
"""

from __future__ import annotations

from synapse_nb.health._errors import HealthInputError
from synapse_nb.health.annotations import ANNOTATION_ISSUES, AnnotationHealth, check_annotations
from synapse_nb.health.cache import HealthCache
from synapse_nb.health.config import LabelConfig
from synapse_nb.health.images import IMAGE_ISSUES, ImageHealth, check_images
from synapse_nb.health.index import brute_force_pairs, near_pairs
from synapse_nb.health.label_errors import (
    LABEL_ERROR_KINDS,
    LabelErrorThresholds,
    annotation_scores,
    image_scores,
    label_errors,
)
from synapse_nb.health.measure import ImageMeasure, measure_image
from synapse_nb.health.thresholds import AnnotationThresholds, ImageThresholds

__all__ = [
    "ANNOTATION_ISSUES",
    "IMAGE_ISSUES",
    "LABEL_ERROR_KINDS",
    "AnnotationHealth",
    "AnnotationThresholds",
    "HealthCache",
    "HealthInputError",
    "ImageHealth",
    "ImageMeasure",
    "ImageThresholds",
    "LabelConfig",
    "LabelErrorThresholds",
    "annotation_scores",
    "brute_force_pairs",
    "check_annotations",
    "check_images",
    "image_scores",
    "label_errors",
    "measure_image",
    "near_pairs",
]
