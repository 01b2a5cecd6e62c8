"""Deliberate, documented problems planted in the demo workspace, for the dataset-health checks.

The generated demo scenes are clean: no duplicates, well exposed, sharp, every box inside its
image. So that the health checks (:mod:`synapse_nb.health`) have something real to find, the
demo seeding replaces a handful of its images and annotations with known problems, always the
same ones:

* **images** — byte copies of another scene (exact duplicates), re-saved copies of another scene
  (near duplicates: brighter, stronger JPEG compression), a dark, an overexposed, a washed-out
  (low-contrast) and a blurred scene, a test-card frame (low information), a scene squeezed to
  a strip (odd aspect ratio) and one shrunk to a thumbnail (unusual size);
* **annotations** (on scenes the ground truth does not include) — a box reaching past the right
  edge, a zero-width box, a 3 px box, a 300×12 px box, a second copy of a box, a box of a class
  the project does not have, a box with an attribute the project does not declare, a box
  without its required ``occluded`` attribute, and a person whose nose keypoint sits far
  outside the person's box.

:func:`manifest` lists them by file name (the data units and tasks carry it), with the issue
name the health checks use, so tests and notebooks can compare what is found with what was
planted. Whether a duplicate pair leaks across splits depends on the split, which the client
computes; the pairs are in :func:`manifest` too.

The demo project's configuration declares the attributes of the boxes (:data:`ATTRIBUTES`) so
that "unknown" and "missing required" attributes mean something.

Example:
    >>> planted = manifest()
    >>> sorted({p["issue"] for p in planted["images"]})[:3]
    ['blurry', 'dark', 'exact_duplicate']
    >>> [p for p in planted["annotations"] if p["issue"] == "tiny"][0]["file_name"]
    'scene_0190.jpg'
"""

from __future__ import annotations

import copy
import io
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

__all__ = [
    "ANNOTATION_PROBLEMS",
    "ATTRIBUTES",
    "DUPLICATES",
    "IMAGE_PROBLEMS",
    "UNKNOWN_CLASS",
    "configure",
    "manifest",
    "plant",
]

#: Attributes the demo project declares for every class (name, required).
ATTRIBUTES: tuple[tuple[str, bool], ...] = (
    ("occluded", True),
    ("truncated", True),
    ("color", False),
    ("state", False),
)


@dataclass(frozen=True)
class _Duplicate:
    source: int
    target: int
    exact: bool


#: Scenes replaced by a copy of another one: (source index, target index, exact byte copy).
DUPLICATES: tuple[_Duplicate, ...] = (
    _Duplicate(20, 60, True),
    _Duplicate(100, 150, True),
    _Duplicate(30, 130, False),
    _Duplicate(45, 170, False),
    _Duplicate(81, 160, False),
)

#: Scene index -> image issue planted on it (besides the duplicates).
IMAGE_PROBLEMS: dict[int, str] = {
    12: "dark",
    33: "overexposed",
    54: "low_contrast",
    75: "blurry",
    96: "low_information",
    117: "odd_aspect",
    138: "unusual_size",
}

#: Scene index -> annotation issue planted on it (scenes after the ground truth's 75 %).
ANNOTATION_PROBLEMS: dict[int, str] = {
    182: "outside",
    187: "degenerate",
    190: "tiny",
    191: "extreme_aspect",
    192: "duplicate",
    194: "unknown_class",
    195: "unknown_attribute",
    197: "missing_attribute",
    202: "keypoint_outside",
}

_PLANTED_ID = "bbox_planted"
#: The class of the planted box whose class the demo project does not configure.
UNKNOWN_CLASS = "truck"


def _name(index: int) -> str:
    return f"scene_{index:04d}.jpg"


def manifest() -> dict[str, list[dict[str, Any]]]:
    """Every planted problem, by file name and health issue name.

    Returns:
        ``{"images": [{"file_name", "issue", "source"}...], "annotations": [{"file_name",
        "issue", "annotation_id"}...], "pairs": [{"source", "target", "exact"}...]}``;
        ``source`` is the file name a duplicate copies (None for other issues), and
        ``annotation_id`` the id of the flagged annotation.

    Example:
        >>> manifest()["pairs"][0]
        {'source': 'scene_0020.jpg', 'target': 'scene_0060.jpg', 'exact': True}
    """
    images: list[dict[str, Any]] = [
        {"file_name": _name(d.target), "issue": "exact_duplicate" if d.exact else
         "near_duplicate", "source": _name(d.source)}
        for d in DUPLICATES
    ]
    images += [{"file_name": _name(k), "issue": issue, "source": None}
               for k, issue in IMAGE_PROBLEMS.items()]
    annotations = [{"file_name": _name(k), "issue": issue, "annotation_id": _flagged_id(issue)}
                   for k, issue in ANNOTATION_PROBLEMS.items()]
    pairs = [{"source": _name(d.source), "target": _name(d.target), "exact": d.exact}
             for d in DUPLICATES]
    return {"images": images, "annotations": annotations, "pairs": pairs}


def _flagged_id(issue: str) -> str:
    return {"missing_attribute": "bbox_0001", "unknown_attribute": "bbox_0001",
            "keypoint_outside": "bbox_0001"}.get(issue, _PLANTED_ID)


def configure(configuration: dict[str, Any]) -> dict[str, Any]:
    """The demo project configuration with its box attributes declared.

    Example:
        >>> configure({"classes": ["car"]})["attributes"][0]
        {'name': 'occluded', 'required': True}
    """
    attributes = [{"name": name, "required": required} for name, required in ATTRIBUTES]
    return {**configuration, "attributes": attributes}


# ----------------------------------------------------------------------------- images


def _jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _near_copy(image: Image.Image) -> Image.Image:
    """Cropped by 2 % on each side, scaled back, brighter by 8 % (and re-saved with strong
    compression): the same scene to a person, other bytes and pixels to a computer."""
    dx, dy = image.width // 50, image.height // 50
    cropped = image.crop((dx, dy, image.width - dx, image.height - dy))
    return cropped.resize(image.size, Image.Resampling.BILINEAR).point(
        lambda v: min(255, round(v * 1.08)))


def _test_card(size: tuple[int, int]) -> Image.Image:
    """Three flat bars (black, grey, white): a camera's test frame, almost no information."""
    card = Image.new("RGB", size, (0, 0, 0))
    draw = ImageDraw.Draw(card)
    third = size[0] // 3
    draw.rectangle((third, 0, 2 * third, size[1]), fill=(128, 128, 128))
    draw.rectangle((2 * third, 0, size[0], size[1]), fill=(255, 255, 255))
    return card


def _degrade(issue: str, image: Image.Image) -> Image.Image:
    if issue == "dark":
        return image.point(lambda v: round(v * 0.12))
    if issue == "overexposed":
        return image.point(lambda v: 255 - round((255 - v) * 0.06))
    if issue == "low_contrast":
        return image.point(lambda v: round(128 + (v - 128) * 0.1))
    if issue == "blurry":
        return image.filter(ImageFilter.GaussianBlur(max(image.size) / 80))
    if issue == "low_information":
        return _test_card(image.size)
    if issue == "odd_aspect":
        return image.resize((image.width, round(image.height * 0.4)), Image.Resampling.LANCZOS)
    if issue == "unusual_size":
        return image.resize((image.width // 4, image.height // 4), Image.Resampling.LANCZOS)
    raise ValueError(f"unknown planted image issue {issue!r}")


_SCALES = {"odd_aspect": (1.0, 0.4), "unusual_size": (0.25, 0.25)}


def _scaled_doc(doc: dict[str, Any], sx: float, sy: float) -> dict[str, Any]:
    """The DM v2 document of a resized image (boxes, polygons, polylines, keypoints)."""
    out = copy.deepcopy(doc)
    for item in out["images"]:
        for box in item.get("bounding_box", []):
            x, y, w, h = box["data"]
            box["data"] = [round(x * sx, 1), round(y * sy, 1), round(w * sx, 1), round(h * sy, 1)]
        for tool in ("polygon", "polyline"):
            for shape in item.get(tool, []):
                shape["data"] = [[round(px * sx, 1), round(py * sy, 1)] for px, py in shape["data"]]
        for point in item.get("keypoint", []):
            px, py = point["data"][:2]
            point["data"] = [round(px * sx, 1), round(py * sy, 1)]
        if item.get("segmentation"):
            raise ValueError("planted resizes are on scenes without masks")
    return out


# ----------------------------------------------------------------------------- annotations


def _attrs(**values: Any) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _planted_box(issue: str, first: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    x, y, w, h = first["data"]
    data = {
        "outside": [width - 30.0, min(y, height - 50.0), 80.0, 40.0],
        "degenerate": [x, y, 0.0, 25.0],
        "tiny": [x, y, 3.0, 3.0],
        "extreme_aspect": [10.0, height - 20.0, 300.0, 12.0],
        "duplicate": list(first["data"]),
        "unknown_class": [x, y, w, h],
    }[issue]
    cls = UNKNOWN_CLASS if issue == "unknown_class" else first["classification"]
    return {"id": _PLANTED_ID, "classification": cls,
            "attrs": _attrs(occluded=False, truncated=False), "data": data}


def _break(issue: str, doc: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    item = out["images"][0]
    boxes = item["bounding_box"]
    first = boxes[0]
    if issue == "missing_attribute":
        first["attrs"] = [a for a in first["attrs"] if a["name"] != "occluded"]
    elif issue == "unknown_attribute":
        first["attrs"] = [*first["attrs"], *_attrs(weather="rain")]
    elif issue == "keypoint_outside":
        _move_nose(item, first, width)
    else:
        boxes.append(_planted_box(issue, first, width, height))
        out["classification"]["bounding_box"] = sorted(
            {*out["classification"].get("bounding_box", []), boxes[-1]["classification"]})
    return out


def _move_nose(item: dict[str, Any], box: dict[str, Any], width: int) -> None:
    """Move the nose of the first skeleton 120 px beyond the right of its person box."""
    if box["classification"] != "person" or not item.get("keypoint"):
        raise ValueError("the keypoint problem is planted on a scene whose first box is a person")
    nose = item["keypoint"][0]
    x, _, w, _ = box["data"]
    nose["data"] = [float(min(x + w + 120.0, width - 1.0)), nose["data"][1]]
    nose["visibility"] = 2


# ----------------------------------------------------------------------------- planting


def _partial(path: Path) -> Path:
    """A sibling name of its own per process and thread (demo backends seed concurrently)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")


def _write_if_changed(path: Path, payload: bytes) -> None:
    if path.exists() and path.read_bytes() == payload:
        return
    partial = _partial(path)
    partial.write_bytes(payload)
    os.replace(partial, path)


def _link(source: Path, target: Path) -> None:
    if target.exists() and os.path.samefile(source, target):
        return
    partial = _partial(target)
    try:
        os.link(source, partial)
    except OSError:
        partial.write_bytes(source.read_bytes())
    os.replace(partial, target)


def plant(items: list[Any], media_dir: Path, target_dir: Path) -> tuple[list[Any], Path]:
    """Plant the problems of :func:`manifest` into the demo items.

    The generated files in ``media_dir`` are left as they are: ``target_dir`` receives the
    planted images and a hard link (or copy) of every other one.

    Args:
        items: The generated :class:`~.media.DemoItem` list, in index order.
        media_dir: Where the generated JPEGs are.
        target_dir: Where the demo's images are read from after planting.

    Returns:
        The items (planted ones replaced: new annotations, sizes) and ``target_dir``.
        Problems on indices beyond ``len(items)`` are skipped.

    Example:
        >>> from synapse_nb.server.demo import media
        >>> items = media.generate_items(13, tmp / "generated")
        >>> planted, folder = plant(items, tmp / "generated", tmp / "planted")
        >>> from PIL import Image
        >>> with Image.open(folder / "scene_0012.jpg") as dark:
        ...     max(dark.convert("L").getextrema()) < 60
        True
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    out = list(items)
    payloads: dict[int, bytes] = {}
    n = len(items)
    for dup in DUPLICATES:
        if dup.target >= n:
            continue
        source = items[dup.source]
        data = (media_dir / source.file_name).read_bytes()
        if not dup.exact:
            with Image.open(io.BytesIO(data)) as image:
                data = _jpeg(_near_copy(image.convert("RGB")), quality=45)
        payloads[dup.target] = data
        out[dup.target] = replace(source, index=dup.target, file_name=_name(dup.target))
    for index, issue in IMAGE_PROBLEMS.items():
        if index >= n:
            continue
        item = items[index]
        with Image.open(media_dir / item.file_name) as image:
            changed = _degrade(issue, image.convert("RGB"))
        payloads[index] = _jpeg(changed)
        if issue in _SCALES:
            doc = _scaled_doc(item.annotations, *_SCALES[issue])
            out[index] = replace(item, annotations=doc, width=changed.width,
                                 height=changed.height)
    for index, issue in ANNOTATION_PROBLEMS.items():
        if index < n:
            item = items[index]
            out[index] = replace(item, annotations=_break(issue, item.annotations, item.width,
                                                          item.height))
    for position, item in enumerate(out):
        target = target_dir / item.file_name
        if position in payloads:
            _write_if_changed(target, payloads[position])
        else:
            _link(media_dir / item.file_name, target)
    return out, target_dir
