"""Model-like predictions for the demo workspace, with the errors real detectors make.

:func:`model_predictions` turns a ground-truth DM v2 document into what a detector might have
output for the same image. Every ground-truth box meets one fate, drawn from the model's
:class:`ErrorProfile`:

* **missed**, more often when the object is small (COCO area ranges) or occluded,
* **confused** with a similar class (:data:`CONFUSIONS`: car and bus, person and bicycle, ...),
  with a box as good as a correct detection (and now and then a second, lower-scored box of the
  true class),
* **badly localised**: the right class with a box of IoU 0.3-0.5 against the object,
* **detected**, with a box of IoU >= 0.55,

and a detected object sometimes gets a **duplicate** (a second, lower-scored box of IoU 0.5-0.85).
Background false positives (boxes with IoU < 0.3 against every object) come on top. Scores
come from one logistic model in which correct detections sit higher than confusions, poorly
localised boxes, duplicates and background, by a margin the profile sets: they separate true
from false positives only partly.

Polygons and keypoint skeletons of the ground truth follow the fate of their object's box: an
object whose box is missed has no polygon or skeleton predicted; otherwise the polygon (or each
joint) is carried by the same shift and scale that took the true box to the predicted box, plus
noise. So segmentation and keypoint (OKS) evaluation see the same errors as box evaluation.

:data:`MODEL_PROFILES` holds one profile per demo model; they differ where comparisons are
interesting (small objects, confusions, duplicates, score calibration). Everything is a pure
function of the document, the random seed and the profile.

Example:
    >>> from synapse_nb.server.demo.media import generate_item
    >>> item, _ = generate_item(3)
    >>> preds = model_predictions(item.annotations, seed=1, profile=MODEL_PROFILES["rtmdet-s"])
    >>> preds == model_predictions(item.annotations, seed=1, profile=MODEL_PROFILES["rtmdet-s"])
    True
    >>> sorted(preds["images"][0])
    ['bounding_box', 'group', 'keypoint']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synapse_nb.annotations.geometry import extent, iou_xywh
from synapse_nb.server.demo.media import (
    CLASSES,
    _attr,
    _boxes_of,
    _check_int,
    _check_rate,
    _classification_map,
    _fit_box,
    _geometry_extent,
    _pick,
    _plain_number,
)

__all__ = [
    "CONFUSIONS",
    "MODEL_PROFILES",
    "ErrorProfile",
    "model_predictions",
    "profile_for",
]

CONFUSIONS: dict[str, tuple[float, dict[str, float]]] = {
    "car": (0.05, {"bus": 1.0}),
    "bus": (0.25, {"car": 1.0}),
    "person": (0.06, {"bicycle": 0.7, "dog": 0.3}),
    "bicycle": (0.18, {"person": 1.0}),
    "dog": (0.10, {"person": 1.0}),
    "traffic_light": (0.10, {"stop_sign": 1.0}),
    "stop_sign": (0.25, {"traffic_light": 1.0}),
}
"""For each class: the base rate at which a detected object of it is given another class, and
the weights of the classes it is mistaken for (similar-looking ones). Rare classes are taken for
the frequent class they resemble more often than the other way round, as with real detectors.
An error profile scales the rate; small objects are confused half as often again."""

_SMALL, _MEDIUM = 32.0**2, 96.0**2  # COCO area-range borders (pixels)
_NUMBER = (int, float)  # exact types of the fast path of point checks
_SECOND_GUESS = 0.3  # share of confused objects that also get a lower-scored box of their class
_JOINT_NOISE: dict[Any, float] = {2: 1.0, 1: 2.0, 0: 3.0}  # a joint's noise by its visibility
# Score logits per kind of detection, before the profile's separation and the noise.
_LOGIT = {"good": 1.4, "confused": 0.1, "localised": -0.1, "duplicate": -0.5, "background": -1.3}


@dataclass(frozen=True)
class ErrorProfile:
    """How one demo model errs. Rates are per ground-truth object unless said otherwise.

    Attributes:
        miss: Probability of missing a small, medium and large object (COCO area ranges).
        miss_occluded: Added to the miss probability of an object marked occluded.
        confusion: Scale on the per-class confusion rates of :data:`CONFUSIONS`.
        localisation: Probability that a detection's box has IoU 0.3-0.5 with its object.
        duplicate: Probability that a detection gets a second, lower-scored box.
        background: Expected background false positives per ground-truth box.
        spread: Standard deviation of a good box's centre shift and log size, as a fraction of
            the object's size.
        separation: How far true positives' scores sit above false positives' (0: not at all).
        keypoint_noise: Standard deviation of a joint's position, as a fraction of the square
            root of the person's box area.
        outline_noise: Standard deviation of a polygon vertex, same unit.

    Example:
        >>> MODEL_PROFILES["detr-r50"].miss[0] > MODEL_PROFILES["rtmdet-s"].miss[0]
        True
    """

    miss: tuple[float, float, float]
    miss_occluded: float
    confusion: float
    localisation: float
    duplicate: float
    background: float
    spread: float
    separation: float
    keypoint_noise: float
    outline_noise: float

    def __post_init__(self) -> None:
        if not (isinstance(self.miss, tuple) and len(self.miss) == 3):
            raise ValueError(f"ErrorProfile.miss must be 3 probabilities, got {self.miss!r}")
        for size, value in zip(("small", "medium", "large"), self.miss, strict=True):
            _check_rate(f"ErrorProfile.miss ({size})", value, upper=1.0)
        for name in ("miss_occluded", "localisation", "duplicate"):
            _check_rate(f"ErrorProfile.{name}", getattr(self, name), upper=1.0)
        for name in (
            "confusion",
            "background",
            "spread",
            "separation",
            "keypoint_noise",
            "outline_noise",
        ):
            _check_rate(f"ErrorProfile.{name}", getattr(self, name), upper=math.inf)


MODEL_PROFILES: dict[str, ErrorProfile] = {
    # small and fast: misses small and occluded objects, average elsewhere
    "yolo-v8n": ErrorProfile(
        miss=(0.45, 0.12, 0.04),
        miss_occluded=0.25,
        confusion=1.0,
        localisation=0.08,
        duplicate=0.06,
        background=0.12,
        spread=0.05,
        separation=1.0,
        keypoint_noise=0.035,
        outline_noise=0.035,
    ),
    # set prediction: weakest on small objects, best on large ones, few duplicates
    "detr-r50": ErrorProfile(
        miss=(0.65, 0.08, 0.01),
        miss_occluded=0.15,
        confusion=0.6,
        localisation=0.05,
        duplicate=0.02,
        background=0.08,
        spread=0.04,
        separation=1.2,
        keypoint_noise=0.025,
        outline_noise=0.03,
    ),
    # dense detector: best on small objects, but confuses classes and duplicates more
    "rtmdet-s": ErrorProfile(
        miss=(0.22, 0.08, 0.03),
        miss_occluded=0.2,
        confusion=2.0,
        localisation=0.12,
        duplicate=0.12,
        background=0.18,
        spread=0.06,
        separation=0.7,
        keypoint_noise=0.045,
        outline_noise=0.045,
    ),
}
"""The error profile of each demo model that has a predictions dataset, by model name."""


@dataclass
class _Detection:
    """One predicted box, and the ground-truth box it came from (None: background)."""

    label: str
    score: float
    data: list[float]
    source: int | None


def model_predictions(doc: dict, seed: int, profile: ErrorProfile) -> dict:
    """Make predictions with realistic errors for a ground-truth DM v2 document.

    See the module description for the errors. Boxes are sorted by descending score with ids
    ``pred_0001``, ...; each prediction carries a ``score`` attr. Polygons (``pred_poly_``)
    and skeletons (keypoints ``pred_kpt_`` in a ``group`` ``pred_grp_`` of class ``person``)
    are made for the ground truth's polygons and skeletons whose object was detected. Geometry
    stays inside the extent of the document's own geometry.

    Args:
        doc: A DM v2 ground-truth document; ``images[0]`` is used.
        seed: Seed (>= 0) for the choices; equal inputs give equal outputs.
        profile: The model's :class:`ErrorProfile`.

    Returns:
        A new DM v2 document holding the predictions.

    Raises:
        TypeError: ``doc`` is not a dict, ``seed`` not an int or ``profile`` not an
            :class:`ErrorProfile`.
        ValueError: malformed ``doc`` or negative ``seed``.

    Example:
        >>> from synapse_nb.server.demo.media import generate_item
        >>> item, _ = generate_item(0)
        >>> preds = model_predictions(item.annotations, 2, MODEL_PROFILES["yolo-v8n"])
        >>> all(0 < b["attrs"][0]["value"] < 1 for b in preds["images"][0]["bounding_box"])
        True
    """
    gt = _boxes_of(doc, "doc")
    rng = np.random.default_rng([_check_int("seed", seed), 0xD37])
    if not isinstance(profile, ErrorProfile):
        raise TypeError(f"profile must be an ErrorProfile, got {profile!r}")
    source = doc["images"][0]
    _check_geometry(source)
    limits = _geometry_extent(source)
    detections = _object_detections(gt, rng, profile, limits)
    detections += _background(gt, rng, profile, limits)
    detections.sort(key=lambda d: -d.score)
    item: dict[str, list] = {
        "bounding_box": [
            {
                "id": f"pred_{n:04d}",
                "classification": d.label,
                "attrs": [_attr("score", d.score)],
                "data": d.data,
            }
            for n, d in enumerate(detections, 1)
        ]
    }
    polygons = _polygons(source, gt, detections, rng, profile, limits)
    if polygons:
        item["polygon"] = polygons
    _skeletons(item, source, gt, detections, rng, profile, limits)
    return {"classification": _classification_map(item), "images": [item]}


def _is_point(value: Any) -> bool:
    return (
        type(value) is list
        and len(value) >= 2
        and type(value[0]) in _NUMBER
        and type(value[1]) in _NUMBER
    ) or (isinstance(value, list) and len(value) >= 2 and all(map(_plain_number, value[:2])))


def _check_geometry(source: dict) -> None:
    """Polygons and keypoints (which boxes' validation does not cover) are readable."""
    where = "doc['images'][0]"
    for tool, shape in (("polygon", "[[x, y], ...]"), ("keypoint", "[x, y]")):
        anns = source.get(tool, [])
        if not isinstance(anns, list):
            raise ValueError(f"{where}['{tool}'] must be a list, got {anns!r}")
        for pos, ann in enumerate(anns):
            data = ann.get("data") if isinstance(ann, dict) else None
            if tool == "keypoint":
                ok = _is_point(data)
            else:
                ok = isinstance(data, list) and all(map(_is_point, data))
            if not ok:
                raise ValueError(f"{where}['{tool}'][{pos}]['data'] must be {shape}, got {data!r}")


# --------------------------------------------------------------------------------------------
# Boxes


def _occluded(box: dict) -> bool:
    attrs = box.get("attrs")
    return isinstance(attrs, list) and any(
        isinstance(a, dict) and a.get("name") == "occluded" and a.get("value") is True
        for a in attrs
    )


def _miss_probability(box: dict, profile: ErrorProfile) -> float:
    area = box["data"][2] * box["data"][3]
    small, medium, large = profile.miss
    base = small if area < _SMALL else medium if area < _MEDIUM else large
    return min(1.0, base + (profile.miss_occluded if _occluded(box) else 0.0))


def _score(rng: np.random.Generator, kind: str, profile: ErrorProfile, hard: bool) -> float:
    logit = profile.separation * _LOGIT[kind] - (0.5 if hard else 0.0) + rng.normal(0.0, 1.0)
    return round(min(0.995, max(0.01, 1.0 / (1.0 + math.exp(-logit)))), 3)


def _confused_label(
    label: str, area: float, rng: np.random.Generator, profile: ErrorProfile
) -> str | None:
    rate, targets = CONFUSIONS.get(label, (0.0, {}))
    rate *= profile.confusion * (1.5 if area < _SMALL else 1.0)
    if not targets or rng.random() >= rate:
        return None
    names = sorted(targets)
    weights = np.array([targets[n] for n in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def _object_detections(
    gt: list[dict], rng: np.random.Generator, profile: ErrorProfile, limits: tuple[float, float]
) -> list[_Detection]:
    out: list[_Detection] = []
    for pos, box in enumerate(gt):
        data = [float(v) for v in box["data"]]
        if rng.random() < _miss_probability(box, profile):
            continue
        hard = data[2] * data[3] < _SMALL or _occluded(box)
        label = box["classification"]
        other = _confused_label(label, data[2] * data[3], rng, profile)
        placed = _localised(data, rng, limits) if rng.random() < profile.localisation else None
        kind = "good"
        if other is not None:
            kind, label = "confused", other
        if placed is not None:
            kind = "localised"
        score = _score(rng, kind, profile, hard)
        good = (0.55, 1.01)
        out.append(
            _Detection(label, score, placed or _near(data, rng, profile.spread, limits, good), pos)
        )
        if other is not None and rng.random() < _SECOND_GUESS:  # the true class as well, lower
            second = round(score * float(rng.uniform(0.5, 0.95)), 3)
            true_box = _near(data, rng, profile.spread, limits, good)
            out.append(_Detection(box["classification"], second, true_box, pos))
        if rng.random() < profile.duplicate:
            twin = _near(data, rng, 2.5 * profile.spread, limits, (0.5, 0.85))
            out.append(
                _Detection(label, round(score * float(rng.uniform(0.4, 0.85)), 3), twin, pos)
            )
    return out


def _inside(data: Sequence[float], limits: tuple[float, float]) -> tuple[float, float]:
    return max(limits[0], data[0] + data[2]), max(limits[1], data[1] + data[3])


def _near(
    data: list[float],
    rng: np.random.Generator,
    spread: float,
    limits: tuple[float, float],
    band: tuple[float, float],
) -> list[float]:
    """A box around ``data`` whose IoU with it lies in ``band`` (the box itself if none is)."""
    x, y, w, h = data
    right, bottom = _inside(data, limits)
    for _ in range(12):
        cx = x + w / 2 + rng.normal(0, spread) * w
        cy = y + h / 2 + rng.normal(0, spread) * h
        sw, sh = math.exp(rng.normal(0, 1.3 * spread)), math.exp(rng.normal(0, 1.3 * spread))
        box = _fit_box(cx, cy, w * sw, h * sh, right, bottom)
        if band[0] <= iou_xywh(box, data) < band[1]:
            return box
        if band[1] > 1:
            spread /= 1.5  # a good box that came out too far is drawn again, closer
    return [round(v, 1) for v in data] if band[1] > 1 else _shifted(data, 0.65, limits)


def _localised(
    data: list[float], rng: np.random.Generator, limits: tuple[float, float]
) -> list[float] | None:
    """A box of IoU 0.3-0.5 with ``data`` (shifted and resized), or None if none fits."""
    x, y, w, h = data
    right, bottom = _inside(data, limits)
    for _ in range(30):
        angle = rng.uniform(0, 2 * math.pi)
        reach = rng.uniform(0.2, 0.5)
        cx, cy = x + w / 2 + math.cos(angle) * reach * w, y + h / 2 + math.sin(angle) * reach * h
        scale = math.exp(rng.normal(0, 0.25))
        box = _fit_box(cx, cy, w * scale, h * scale, right, bottom)
        if 0.3 <= iou_xywh(box, data) < 0.5:
            return box
    return None


def _shifted(data: list[float], target: float, limits: tuple[float, float]) -> list[float]:
    """``data`` moved sideways until its IoU with itself drops to about ``target``."""
    x, y, w, h = data
    right, bottom = _inside(data, limits)
    dx = w * (1 - target) / (1 + target) * 0.5
    for sign in (1, -1):
        box = _fit_box(x + w / 2 + sign * dx, y + h / 2, w, h, right, bottom)
        if iou_xywh(box, data) < 0.85:
            return box
    return [round(v, 1) for v in data]


def _background(
    gt: list[dict], rng: np.random.Generator, profile: ErrorProfile, limits: tuple[float, float]
) -> list[_Detection]:
    right, bottom = limits
    n = int(rng.poisson(profile.background * max(len(gt), 1)))
    present = sorted({b["classification"] for b in gt})
    out = []
    for _ in range(n):
        if right < 8 or bottom < 8:
            break
        if gt:
            template = gt[int(rng.integers(len(gt)))]["data"]
            w, h = template[2] * rng.uniform(0.4, 1.0), template[3] * rng.uniform(0.4, 1.0)
        else:
            w, h = 0.1 * right, 0.1 * bottom
        label = _pick(rng, present) if present and rng.random() < 0.7 else _pick(rng, CLASSES)
        for _ in range(50):
            box = _fit_box(rng.uniform(0, right), rng.uniform(0, bottom), w, h, right, bottom)
            if all(iou_xywh(box, g["data"]) < 0.3 for g in gt):
                out.append(_Detection(label, _score(rng, "background", profile, False), box, None))
                break
    return out


# --------------------------------------------------------------------------------------------
# Polygons and skeletons follow their object's box


def _transform(src: Sequence[float], dst: Sequence[float]) -> tuple[float, float, float, float]:
    """Scale and offset (sx, sy, ox, oy) that map box ``src`` onto box ``dst``."""
    sx = dst[2] / src[2] if src[2] else 1.0
    sy = dst[3] / src[3] if src[3] else 1.0
    return sx, sy, dst[0] - src[0] * sx, dst[1] - src[1] * sy


def _carry(
    points: np.ndarray,
    src: Sequence[float],
    dst: Sequence[float],
    noise: float | np.ndarray,
    rng: np.random.Generator,
    limits: tuple[float, float],
) -> np.ndarray:
    """``points`` taken from box ``src`` to box ``dst``, plus noise (per point if an array)."""
    sx, sy, ox, oy = _transform(src, dst)
    moved = points * [sx, sy] + [ox, oy]
    spread = np.asarray(noise, float)
    scale = math.sqrt(max(src[2] * src[3], 1.0))
    moved += (
        rng.normal(0.0, 1.0, moved.shape) * (spread[:, None] if spread.ndim else spread) * scale
    )
    return np.clip(moved, 0.0, [max(limits[0], 1.0), max(limits[1], 1.0)]).round(1)


def _owner(points: list[tuple[float, float]], gt: list[dict], label: str | None) -> int | None:
    """The box (same class if ``label``) holding most of ``points``; ties: best IoU of their
    extent, then document order."""
    box = extent(points)
    best: tuple[int, float] | None = None
    owner = None
    for pos, g in enumerate(gt):
        if label is not None and g["classification"] != label:
            continue
        x, y, w, h = g["data"]
        inside = sum(x - 1 <= px <= x + w + 1 and y - 1 <= py <= y + h + 1 for px, py in points)
        key = (inside, iou_xywh(box, g["data"]) if box else 0.0)
        if inside and (best is None or key > best):
            best, owner = key, pos
    return owner


def _polygons(
    source: dict,
    gt: list[dict],
    detections: list[_Detection],
    rng: np.random.Generator,
    profile: ErrorProfile,
    limits: tuple[float, float],
) -> list[dict]:
    by_source = _detections_by_source(detections)
    out = []
    for poly in source.get("polygon", []):
        points = [(float(p[0]), float(p[1])) for p in poly.get("data", [])]
        owner = _owner(points, gt, poly.get("classification")) if len(points) >= 3 else None
        if owner is None:
            continue
        for det in by_source.get(owner, []):
            moved = _carry(
                np.array(points), gt[owner]["data"], det.data, profile.outline_noise, rng, limits
            )
            out.append((det.score, det.label, moved.tolist()))
    out.sort(key=lambda p: -p[0])
    return [
        {
            "id": f"pred_poly_{n:04d}",
            "classification": label,
            "attrs": [_attr("score", score)],
            "data": data,
        }
        for n, (score, label, data) in enumerate(out, 1)
    ]


def _detections_by_source(detections: list[_Detection]) -> dict[int, list[_Detection]]:
    found: dict[int, list[_Detection]] = {}
    for det in detections:
        if det.source is not None:
            found.setdefault(det.source, []).append(det)
    return found


def _skeleton_groups(source: dict) -> list[tuple[dict, list[dict]]]:
    """Each ``group`` of keypoints with its member keypoints, in member order."""
    keypoints = {k.get("id"): k for k in source.get("keypoint", []) if isinstance(k, dict)}
    groups = []
    for group in source.get("group", []):
        data = group.get("data") if isinstance(group, dict) else None
        names = data if isinstance(data, list) else []
        members = [keypoints[m] for m in names if isinstance(m, str) and m in keypoints]
        if members:
            groups.append((group, members))
    return groups


def _skeletons(
    item: dict,
    source: dict,
    gt: list[dict],
    detections: list[_Detection],
    rng: np.random.Generator,
    profile: ErrorProfile,
    limits: tuple[float, float],
) -> None:
    """A skeleton for each true skeleton whose person was detected as a person (its best box);
    hidden joints are placed with twice the noise, joints outside the image with three times."""
    by_source = _detections_by_source(detections)
    made = []
    for group, members in _skeleton_groups(source):
        seen = [
            (float(k["data"][0]), float(k["data"][1])) for k in members if k.get("visibility") != 0
        ]
        owner = _owner(seen, gt, "person") if seen else None
        if owner is None:
            continue
        label = group.get("classification", "person")
        det = next((d for d in by_source.get(owner, []) if d.label == label), None)
        if det is None:
            continue
        points = np.array([[float(k["data"][0]), float(k["data"][1])] for k in members])
        noise = profile.keypoint_noise * np.array(
            [_JOINT_NOISE.get(k.get("visibility"), 1.0) for k in members]
        )
        moved = _carry(points, gt[owner]["data"], det.data, noise, rng, limits)
        made.append((det.score, label, members, moved))
    made.sort(key=lambda s: -s[0])
    for score, label, members, moved in made:
        _add_group(item, score, label, [m.get("classification") for m in members], moved)


def _add_group(item: dict, score: float, label: str, names: list[Any], points: np.ndarray) -> None:
    keypoints = item.setdefault("keypoint", [])
    groups = item.setdefault("group", [])
    group_id = f"pred_grp_{len(groups) + 1:04d}"
    members = []
    for name, (x, y) in zip(names, points.tolist(), strict=True):
        kp_id = f"pred_kpt_{len(keypoints) + 1:04d}"
        keypoints.append(
            {
                "id": kp_id,
                "classification": name,
                "attrs": [_attr("score", score)],
                "data": [x, y],
                "visibility": 2,
                "group_id": group_id,
            }
        )
        members.append(kp_id)
    groups.append(
        {"id": group_id, "classification": label, "attrs": [_attr("score", score)], "data": members}
    )


def profile_for(name: str, profiles: Mapping[str, ErrorProfile] = MODEL_PROFILES) -> ErrorProfile:
    """The error profile of the demo model ``name``.

    Raises:
        ValueError: ``name`` has no profile (the message lists those that do).

    Example:
        >>> profile_for("detr-r50").duplicate
        0.02
    """
    if name not in profiles:
        raise ValueError(f"model name = {name!r} has no error profile; known: {sorted(profiles)}")
    return profiles[name]
