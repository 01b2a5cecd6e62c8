"""Default thresholds of every health flag, as two small frozen dataclasses.

Each flag of the health frames compares a score column with one field here. The defaults are
documented on the fields; override any of them with :func:`dataclasses.replace` or keywords.
Changing a threshold never re-reads an image: the scores are cached, the flags are not.

Example:
    >>> from synapse_nb.health.thresholds import ImageThresholds
    >>> ImageThresholds(dark=0.1).dark, ImageThresholds().near_duplicate_distance
    (0.1, 5)
    >>> import numpy as np  # numpy numbers are taken as the Python number they hold
    >>> type(ImageThresholds(near_duplicate_distance=np.int64(3)).near_duplicate_distance)
    <class 'int'>
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from synapse_nb.health._errors import HealthInputError

__all__ = ["AnnotationThresholds", "ImageThresholds"]


def _check_range(owner: object, name: str, low: float, high: float) -> None:
    """Check a number field (numpy numbers become Python floats); bools and NaN are refused."""
    value = getattr(owner, name)
    if (isinstance(value, bool | np.bool_)
            or not isinstance(value, int | float | np.integer | np.floating)
            or not low <= value <= high):
        raise HealthInputError(name, value, f"must be a number within [{low}, {high}]")
    if isinstance(value, np.integer | np.floating):
        object.__setattr__(owner, name, float(value))


@dataclass(frozen=True)
class ImageThresholds:
    """Thresholds of the image flags (scores are measured on a luma thumbnail).

    Attributes:
        dark: ``is_dark`` when ``dark_score`` (95th percentile of luma, 0-1) is below: almost
            no pixel is brighter than this.
        overexposed: ``is_overexposed`` when ``overexposed_score`` (5th percentile of luma)
            is above: almost no pixel is darker than this.
        low_contrast: ``is_low_contrast`` when ``low_contrast_score`` (Michelson contrast of
            the 2nd and 98th luma percentiles, relative to the nearer of black and white,
            0-1) is below.
        blurry: ``is_blurry`` when ``blurry_score`` (variance of the Laplacian of the luma
            stretched to its 2-98 percentile range, in 8-bit units) is below. Flat images
            have no edges to judge and get no blur score (they are low-information).
        low_information: ``is_low_information`` when ``low_information_score`` (Shannon
            entropy of the 256-bin luma histogram, bits, 0-8) is below.
        odd_aspect: ``is_odd_aspect`` when ``odd_aspect_score`` (long side / short side) is
            above.
        unusual_size: ``is_unusual_size`` when ``unusual_size_score`` (square root of the
            image area over the median area of the collection) is above this factor or below
            its inverse.
        near_duplicate_distance: Two images are near duplicates when the Hamming distance
            of their 64-bit perceptual hashes is at most this. Re-saved, re-compressed or
            slightly cropped copies stay within 4 bits; two different scenes built alike
            (same room, same camera height) can come as close as 6, so the default is 5.
    """

    dark: float = 0.20
    overexposed: float = 0.90
    low_contrast: float = 0.15
    blurry: float = 40.0
    low_information: float = 2.5
    odd_aspect: float = 2.5
    unusual_size: float = 4.0
    near_duplicate_distance: int = 5

    def __post_init__(self) -> None:
        for name in ("dark", "overexposed", "low_contrast"):
            _check_range(self, name, 0.0, 1.0)
        _check_range(self, "blurry", 0.0, float("inf"))
        _check_range(self, "low_information", 0.0, 8.0)
        _check_range(self, "odd_aspect", 1.0, float("inf"))
        _check_range(self, "unusual_size", 1.0, float("inf"))
        k = self.near_duplicate_distance
        if (isinstance(k, bool | np.bool_) or not isinstance(k, int | np.integer)
                or not 0 <= k <= 32):
            raise HealthInputError("near_duplicate_distance", k, "must be an int within [0, 32]")
        object.__setattr__(self, "near_duplicate_distance", int(k))


@dataclass(frozen=True)
class AnnotationThresholds:
    """Thresholds of the annotation flags.

    Attributes:
        outside_tolerance: ``is_outside`` when the box reaches more than this many pixels
            beyond an image edge (``outside_score`` is the share of the box outside).
        degenerate_area: ``is_degenerate`` when the box or polygon area (px²) is at most
            this (zero-size boxes, polygons collapsed onto a line or a point).
        tiny: ``is_tiny`` when ``tiny_score`` (annotation area / image area) is below and
            the annotation is not degenerate.
        extreme_aspect: ``is_extreme_aspect`` when ``extreme_aspect_score`` (long side /
            short side of the box) is above.
        duplicate_iou: ``is_duplicate`` when a box of the same class on the same image,
            listed earlier, overlaps it with an IoU of at least this.
        keypoint_tolerance: A keypoint counts as outside its box when it lies more than this
            many pixels beyond it.
    """

    outside_tolerance: float = 1.0
    degenerate_area: float = 0.0
    tiny: float = 1e-4
    extreme_aspect: float = 10.0
    duplicate_iou: float = 0.9
    keypoint_tolerance: float = 1.0

    def __post_init__(self) -> None:
        for item in fields(self):
            high = 1.0 if item.name in ("tiny", "duplicate_iou") else float("inf")
            low = 1.0 if item.name == "extreme_aspect" else 0.0
            _check_range(self, item.name, low, high)
