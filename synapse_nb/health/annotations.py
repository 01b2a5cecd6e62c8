"""Annotation health: geometry problems, duplicates and labels outside the configuration.

:func:`check_annotations` takes plain rows — one per annotation, with ``annotation_id``,
``data_unit_id``, ``class_name`` and the box ``x``, ``y``, ``w``, ``h`` (pixels, top-left
origin); optionally ``polygon`` (``[[x, y], ...]``), ``keypoints`` (``[[x, y], ...]`` or
``[[x, y, visibility], ...]``, visibility 0 = not labelled) and ``attributes``
(``{name: value}``) — plus the image sizes, and returns the rows' flags and scores (the input
frame's index is kept, so the result joins back onto it):

==================  ===========================================================
issue               rule (thresholds: :class:`~.thresholds.AnnotationThresholds`)
==================  ===========================================================
outside             the box reaches beyond an image edge (score: share outside)
degenerate          zero-size box, or polygon collapsed onto a line or a point
tiny                area / image area below ``tiny``
extreme_aspect      long / short box side above ``extreme_aspect``
duplicate           IoU ≥ ``duplicate_iou`` with an earlier same-class box
unknown_class       class not in the :class:`~.config.LabelConfig`
unknown_attribute   an attribute the class does not declare
missing_attribute   a required attribute of the class is absent or empty
keypoint_outside    a labelled keypoint lies outside the annotation's box
==================  ===========================================================

Example:
    >>> rows = [{"annotation_id": "a", "data_unit_id": 1, "class_name": "car",
    ...          "x": 90, "y": 10, "w": 20, "h": 20}]
    >>> report = check_annotations(rows, {1: (100, 100)})
    >>> row = report.annotations.loc[0]
    >>> bool(row["is_outside"]), float(row["outside_score"])
    (True, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from synapse_nb.health._errors import HealthInputError
from synapse_nb.health.config import LabelConfig
from synapse_nb.health.images import issue_summary
from synapse_nb.health.thresholds import AnnotationThresholds

__all__ = ["ANNOTATION_ISSUES", "REQUIRED_COLUMNS", "AnnotationHealth", "check_annotations",
           "image_size_arrays", "prepare_annotations"]

#: Columns every annotation row must have.
REQUIRED_COLUMNS = ("annotation_id", "data_unit_id", "class_name", "x", "y", "w", "h")

#: Issue name -> flag column of the annotation frame, in the order of the summary.
ANNOTATION_ISSUES = {
    "outside": "is_outside",
    "degenerate": "is_degenerate",
    "tiny": "is_tiny",
    "extreme_aspect": "is_extreme_aspect",
    "duplicate": "is_duplicate",
    "unknown_class": "is_unknown_class",
    "unknown_attribute": "is_unknown_attribute",
    "missing_attribute": "is_missing_attribute",
    "keypoint_outside": "is_keypoint_outside",
}

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AnnotationHealth:
    """The result of :func:`check_annotations`.

    Attributes:
        annotations: The input id columns, then per issue a score (where one is meaningful)
            and an ``is_<issue>`` flag, plus ``duplicate_of``, ``unknown_attributes`` and
            ``missing_attributes``.
        thresholds: The thresholds the flags were computed with.
    """

    annotations: pd.DataFrame
    thresholds: AnnotationThresholds

    def summary(self) -> pd.DataFrame:
        """Counts per issue type: ``level``, ``issue``, ``count``, ``share``.

        Example:
            >>> r = check_annotations([], {})
            >>> r.summary()["count"].sum()
            np.int64(0)
        """
        return issue_summary(self.annotations, ANNOTATION_ISSUES, level="annotation")


def prepare_annotations(annotations: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Validate annotation rows and fill boxes from polygons where the box is missing.

    Raises:
        HealthInputError: A required column is missing or a box value is not a number.

    Example:
        >>> f = prepare_annotations([{"annotation_id": 1, "data_unit_id": 1, "class_name": "c",
        ...     "x": None, "y": None, "w": None, "h": None, "polygon": [[1, 2], [5, 2], [5, 4]]}])
        >>> f.loc[0, ["x", "y", "w", "h"]].tolist()
        [1.0, 2.0, 4.0, 2.0]
    """
    frame = annotations.copy() if isinstance(annotations, pd.DataFrame) else pd.DataFrame(
        list(annotations), columns=None)
    if frame.empty and not len(frame.columns):
        frame = pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise HealthInputError("annotations", sorted(frame.columns),
                               f"missing column(s) {', '.join(missing)}")
    for column in ("x", "y", "w", "h"):
        try:
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
        except (TypeError, ValueError) as err:
            raise HealthInputError(column, frame[column].tolist()[:5], "must be numbers") from err
    if "polygon" in frame.columns:
        _boxes_from_polygons(frame)
    return frame


def _points(value: Any, columns: tuple[int, ...] = (2,)) -> Floats | None:
    """Points as an (n, 2) array ((n, 3) for keypoints with visibility), None if absent."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.empty((0, 0))
    if array.ndim == 1 and array.size % 2 == 0:
        array = array.reshape(-1, 2)
    if array.ndim != 2 or array.shape[1] not in columns:
        shapes = " or ".join("[" + ", ".join(("x", "y", "v")[:c]) + "]" for c in columns)
        raise HealthInputError("points", value, f"must be a list of {shapes} points")
    return array


def _boxes_from_polygons(frame: pd.DataFrame) -> None:
    no_box = frame[["x", "y", "w", "h"]].isna().any(axis=1).to_numpy()
    for position in np.flatnonzero(no_box):
        points = _points(frame["polygon"].iat[position])
        if points is None or len(points) == 0:
            continue
        low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        frame.iloc[position, [frame.columns.get_loc(c) for c in ("x", "y", "w", "h")]] = [
            low[0], low[1], high[0] - low[0], high[1] - low[1]]


def _shoelace(points: Floats) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _areas(frame: pd.DataFrame) -> Floats:
    """Polygon area where a polygon is given, else box area."""
    area = np.array(frame["w"] * frame["h"], dtype=np.float64)  # a writable copy
    if "polygon" in frame.columns:
        for position, value in enumerate(frame["polygon"].tolist()):
            points = _points(value)
            if points is not None and len(points):
                area[position] = _shoelace(points[:, :2]) if len(points) >= 3 else 0.0
    return area


def image_size_arrays(data_unit_ids: pd.Series,
                      sizes: Mapping[Any, Any] | pd.DataFrame) -> tuple[Floats, Floats]:
    """Image width and height per annotation (NaN where the size is unknown).

    ``sizes`` is ``{data_unit_id: (width, height)}`` or a frame indexed by data unit id with
    ``width`` and ``height`` columns (such as :attr:`.ImageHealth.images`).

    Example:
        >>> image_size_arrays(pd.Series([1, 2]), {1: (640, 480)})[0].tolist()
        [640.0, nan]
    """
    if isinstance(sizes, pd.DataFrame):
        if not {"width", "height"} <= set(sizes.columns):
            raise HealthInputError("image_sizes", list(sizes.columns),
                                   "needs width and height columns")
        table = {k: (w, h) for k, w, h in zip(sizes.index, sizes["width"], sizes["height"],
                                               strict=True)}
    elif isinstance(sizes, Mapping):
        table = dict(sizes)
    else:
        raise HealthInputError("image_sizes", type(sizes).__name__,
                               "must be a mapping or a frame with width and height")
    pairs = [table.get(k, (None, None)) for k in data_unit_ids.tolist()]
    width = pd.to_numeric(pd.Series([p[0] for p in pairs], dtype=object)).astype("float64")
    height = pd.to_numeric(pd.Series([p[1] for p in pairs], dtype=object)).astype("float64")
    return width.to_numpy(), height.to_numpy()


def _geometry_columns(out: pd.DataFrame, frame: pd.DataFrame, width: Floats, height: Floats,
                      t: AnnotationThresholds) -> None:
    x, y = frame["x"].to_numpy(np.float64), frame["y"].to_numpy(np.float64)
    w, h = frame["w"].to_numpy(np.float64), frame["h"].to_numpy(np.float64)
    area = _areas(frame)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside_w = np.clip(np.minimum(x + w, width) - np.maximum(x, 0), 0, None)
        inside_h = np.clip(np.minimum(y + h, height) - np.maximum(y, 0), 0, None)
        box_area = w * h
        outside = np.where(box_area > 0, 1.0 - inside_w * inside_h / box_area, np.nan)
        aspect = np.where((w > 0) & (h > 0), np.maximum(w / h, h / w), np.nan)
        relative = area / (width * height)
    tol = t.outside_tolerance
    beyond = (x < -tol) | (y < -tol) | (x + w > width + tol) | (y + h > height + tol)
    degenerate = ~(w > 0) | ~(h > 0) | ~(area > t.degenerate_area)
    out["outside_score"] = pd.array(np.round(outside, 12), dtype="Float64")
    out["is_outside"] = beyond & ~np.isnan(width)
    out["degenerate_score"] = pd.array(area, dtype="Float64")
    out["is_degenerate"] = degenerate
    out["tiny_score"] = pd.array(relative, dtype="Float64")
    out["is_tiny"] = (relative < t.tiny) & ~degenerate
    out["extreme_aspect_score"] = pd.array(aspect, dtype="Float64")
    out["is_extreme_aspect"] = (aspect > t.extreme_aspect) & ~degenerate


def _pair_iou(a: Floats, b: Floats) -> Floats:
    """IoU of boxes ``a[k]`` and ``b[k]`` (rows of x, y, w, h)."""
    iw = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _duplicate_columns(out: pd.DataFrame, frame: pd.DataFrame, t: AnnotationThresholds) -> None:
    """Same-class pairs on one image, all images at once.

    Rows are sorted by (data unit, class, input order); the pairs ``(k, k + d)`` inside a
    group are compared for d = 1, 2, ... as whole vectors, so the work is the number of
    same-class pairs with no Python loop over images. For d ascending, the last overlapping
    partner written is the earliest one.
    """
    n = len(frame)
    score = np.full(n, -1.0)
    first = np.full(n, -1, dtype=np.int64)
    boxes = frame[["x", "y", "w", "h"]].to_numpy(np.float64)
    unit = pd.factorize(frame["data_unit_id"], use_na_sentinel=False)[0]
    cls = pd.factorize(frame["class_name"], use_na_sentinel=False)[0]
    order = np.lexsort((np.arange(n), cls, unit))
    key = unit[order].astype(np.int64) * (int(cls.max(initial=0)) + 1) + cls[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if n else np.empty(0, np.int64)
    sizes = np.diff(np.r_[starts, n])
    group_size = np.repeat(sizes, sizes)
    rank = np.arange(n) - np.repeat(starts, sizes)
    active = np.arange(n)
    for d in range(1, int(sizes.max(initial=1))):
        active = active[rank[active] + d < group_size[active]]
        a, b = order[active], order[active + d]
        iou = _pair_iou(boxes[a], boxes[b])
        np.maximum.at(score, a, iou)
        np.maximum.at(score, b, iou)
        hit = iou >= t.duplicate_iou
        first[b[hit]] = a[hit]
    ids = frame["annotation_id"].to_numpy(dtype=object)
    out["duplicate_score"] = pd.array(np.where(score < 0, np.nan, score), dtype="Float64")
    out["is_duplicate"] = first >= 0
    out["duplicate_of"] = pd.Series([ids[k] if k >= 0 else None for k in first],
                                    index=out.index, dtype=object)


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and np.isnan(value))


def _label_columns(out: pd.DataFrame, frame: pd.DataFrame, config: LabelConfig | None) -> None:
    n = len(frame)
    unknown_class = np.zeros(n, dtype=bool)
    unknown: list[str | None] = [None] * n
    missing: list[str | None] = [None] * n
    if config is not None:
        attributes = frame["attributes"].tolist() if "attributes" in frame else [None] * n
        for k, (name, attrs) in enumerate(zip(frame["class_name"].tolist(), attributes,
                                              strict=True)):
            attrs = attrs if isinstance(attrs, Mapping) else {}
            if name not in config.classes:
                unknown_class[k] = True
                continue
            declared = config.classes[name]
            extra = [a for a in attrs if a not in declared]
            absent = [a for a in config.required(name) if _empty(attrs.get(a))]
            unknown[k] = ", ".join(map(str, extra)) or None
            missing[k] = ", ".join(absent) or None
    out["is_unknown_class"] = unknown_class
    out["unknown_attributes"] = pd.array(unknown, dtype="string")
    out["is_unknown_attribute"] = out["unknown_attributes"].notna().to_numpy()
    out["missing_attributes"] = pd.array(missing, dtype="string")
    out["is_missing_attribute"] = out["missing_attributes"].notna().to_numpy()


def _keypoint_columns(out: pd.DataFrame, frame: pd.DataFrame, t: AnnotationThresholds) -> None:
    counts: list[int | None] = [None] * len(frame)
    if "keypoints" in frame.columns:
        tol = t.keypoint_tolerance
        boxes = frame[["x", "y", "w", "h"]].to_numpy(np.float64)
        for k, value in enumerate(frame["keypoints"].tolist()):
            points = _points(value, (2, 3))
            if points is None or len(points) == 0:
                continue
            if points.shape[1] == 3:
                points = points[points[:, 2] != 0]
            x, y, w, h = boxes[k]
            px, py = points[:, 0], points[:, 1]
            away = (px < x - tol) | (px > x + w + tol) | (py < y - tol) | (py > y + h + tol)
            counts[k] = int(away.sum())
    out["keypoint_outside_score"] = pd.array(counts, dtype="Int64")
    out["is_keypoint_outside"] = (out["keypoint_outside_score"] > 0).fillna(False).to_numpy(
        dtype=bool)


def check_annotations(
    annotations: pd.DataFrame | Iterable[Mapping[str, Any]],
    image_sizes: Mapping[Any, Any] | pd.DataFrame,
    *,
    config: LabelConfig | Mapping[str, Any] | None = None,
    thresholds: AnnotationThresholds | None = None,
) -> AnnotationHealth:
    """Flag geometry, duplicate and configuration problems of annotation rows.

    Args:
        annotations: A frame or an iterable of row mappings (columns: see the module
            docstring). A missing box is taken from the row's polygon.
        image_sizes: ``{data_unit_id: (width, height)}`` or a frame with ``width`` and
            ``height`` indexed by data unit id (e.g. ``check_images(...).images``).
            Annotations of images of unknown size get no outside or tiny flag.
        config: A :class:`LabelConfig` or a project configuration mapping; without it the
            class and attribute rules flag nothing.
        thresholds: Flag thresholds (defaults: :class:`AnnotationThresholds`).

    Returns:
        An :class:`AnnotationHealth` whose frame keeps the input's index and order.

    Raises:
        HealthInputError: A required column is missing, a box is not numeric, points are
            malformed, or the configuration has no classes list.

    Example:
        >>> rows = [{"annotation_id": k, "data_unit_id": 1, "class_name": "car",
        ...          "x": 10, "y": 10, "w": 30, "h": 20} for k in ("a", "b")]
        >>> out = check_annotations(rows, {1: (100, 100)}).annotations
        >>> out[["is_duplicate", "duplicate_of"]].values.tolist()
        [[False, None], [True, 'a']]
    """
    thresholds = thresholds if thresholds is not None else AnnotationThresholds()
    if config is not None and not isinstance(config, LabelConfig):
        config = LabelConfig.from_configuration(config)
    frame = prepare_annotations(annotations)
    width, height = image_size_arrays(frame["data_unit_id"], image_sizes)
    out = frame[["annotation_id", "data_unit_id", "class_name"]].copy()
    out["class_name"] = out["class_name"].astype("string")
    _geometry_columns(out, frame, width, height, thresholds)
    _duplicate_columns(out, frame, thresholds)
    _label_columns(out, frame, config)
    _keypoint_columns(out, frame, thresholds)
    return AnnotationHealth(out, thresholds)
