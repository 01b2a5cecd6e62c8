"""DM v2 <-> YOLO (Ultralytics detect, segment and pose).

The three tasks are separate datasets (``detect/``, ``segment/``, ``pose/``), each with
``dataset.yaml``, ``classes.txt``, ``images/`` and ``labels/``. Coordinates are normalised
by the image size and written with 6 decimals; class ids start at 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ._audit import Audit, Outcome, Reason
from ._common import (
    PERSON_17,
    YOLO_FLIP_IDX,
    ImageItem,
    InputTypeError,
    InvalidInputError,
    audit_unsupported,
    bbox_of,
    check_segmentation_mode,
    coerce_items,
    custom_attrs,
    image_tools,
    make_dm_document,
    new_id,
    normalize_label,
    points_of,
    resolve_class_order,
    rotation_of,
    unique_stems,
)
from ._pose import note_zeroed_joints, pose_groups
from .jsontext import write_json
from .masks import MaskError, decode_mask

__all__ = ["YOLO_TASKS", "from_yolo", "read_yolo", "to_yolo", "write_yolo"]

YOLO_TASKS = ("detect", "segment", "pose")
_EPS = 1e-6
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _fmt(value: float) -> str:
    return f"{value:.6f}"


def to_yolo(
    items: Iterable[ImageItem | Mapping[str, Any]],
    *,
    classes: Any = None,
    segmentation_mode: str = "instance",
    tasks: Sequence[str] = YOLO_TASKS,
) -> tuple[dict[str, Any], Audit]:
    """Convert DM items to YOLO label files for the detect, segment and pose tasks.

    * detect: ``cls cx cy w h`` per ``bounding_box``.
    * segment: ``cls x1 y1 x2 y2 ...`` per ``polygon``, and per external contour of each
      ``instance`` mask (OpenCV ``RETR_EXTERNAL`` + ``CHAIN_APPROX_SIMPLE``; holes are
      dropped and audited as ``MASK_HOLE_DROPPED``).
    * pose: ``0 cx cy w h`` + 17 ``x y v`` per Person-17 skeleton group; the box is the
      group's explicit ``group_bbox``/``bounding_box`` or the extent of visible joints.

    Every item gets a label text per task, empty if it has no rows. Geometry outside the
    image fails (``OUT_OF_BOUNDS``); attrs and box rotation are lost (audited ``lossy``).

    Args:
        items: :class:`ImageItem` objects or mappings with ``id``, ``data``, ``width``,
            ``height`` and optional ``file_name``.
        classes: Class configuration (see :func:`resolve_class_order`); ids from 0.
        segmentation_mode: ``"instance"`` (default), ``"semantic"`` (masks skipped) or
            ``"exclude"``.
        tasks: Subset of ``("detect", "segment", "pose")`` to produce; a single name such
            as ``"detect"`` is that one task.

    Returns:
        ``(result, audit)`` where ``result[task]`` is ``{"names", "labels": {stem: text},
        "dataset_yaml"}`` for each task, ``result["items"]`` maps stem to
        ``{"item_id", "file_name"}`` and ``result["filename_collisions"]`` lists renamed
        stems.

    Raises:
        ValueError: If an item lacks width/height, ids repeat, or a task/mode is unknown.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> result, audit = to_yolo([item], classes=["car"])
        >>> result["detect"]["labels"]["a"]
        '0 0.312500 0.333333 0.312500 0.166667\\n'
    """
    mode = check_segmentation_mode(segmentation_mode)
    if isinstance(tasks, str):  # one task kind, not its letters
        tasks = (tasks,)
    if not isinstance(tasks, Iterable):
        raise InputTypeError(
            "tasks", tasks, f"must be a non-empty subset of {YOLO_TASKS}", method="to_yolo"
        )
    selected = tuple(tasks)
    unknown = [t for t in selected if t not in YOLO_TASKS]
    if unknown or not selected:
        raise InvalidInputError(
            "tasks", tasks, f"must be a non-empty subset of {YOLO_TASKS}", method="to_yolo"
        )
    checked = coerce_items(items, need_size=True, what="YOLO export", method="to_yolo")
    audit = Audit()
    prepared = [(item, image_tools(item, audit, "yolo")) for item in checked]
    observed = [
        label
        for _, tools in prepared
        for tool in ("bounding_box", "polygon", "segmentation")
        for label in (normalize_label(a.get("classification")) for a in tools.get(tool, []))
        if label
    ]
    names = resolve_class_order(observed, classes, audit)
    class_id = {name: i for i, name in enumerate(names)}
    stems, collisions = unique_stems(checked)

    result: dict[str, Any] = {
        "items": {stems[item.id]: {"item_id": item.id, "file_name": item.leaf} for item in checked},
        "filename_collisions": collisions,
    }
    for task in selected:
        task_names = ["person"] if task == "pose" else list(names)
        result[task] = {
            "names": task_names,
            "labels": {},
            "dataset_yaml": _dataset_yaml(task, task_names),
        }
    for item, tools in prepared:
        writer = _ItemWriter(item, class_id, mode, selected, audit)
        lines = writer.run(tools)
        for task in selected:
            result[task]["labels"][stems[item.id]] = "".join(f"{line}\n" for line in lines[task])
    return result, audit


def _dataset_yaml(task: str, names: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "path": ".",
        "train": "images",
        "val": "images",
        "nc": len(names),
        "names": names,
    }
    if task == "pose":
        spec["kpt_shape"] = [len(PERSON_17), 3]
        spec["flip_idx"] = list(YOLO_FLIP_IDX)
    return spec


class _ItemWriter:
    def __init__(
        self,
        item: ImageItem,
        class_id: Mapping[str, int],
        mode: str,
        tasks: Sequence[str],
        audit: Audit,
    ) -> None:
        self.item, self.class_id, self.mode, self.tasks, self.audit = (
            item,
            class_id,
            mode,
            tasks,
            audit,
        )
        width, height = item.size
        self.w, self.h = float(width), float(height)
        self.lines: dict[str, list[str]] = {task: [] for task in YOLO_TASKS}

    def note(
        self,
        ann_id: str | None,
        tool: str,
        outcome: Outcome,
        reason: Reason,
        detail: str,
        task: str,
    ) -> None:
        self.audit.add(self.item.id, ann_id, tool, outcome, reason, detail, f"yolo.{task}")

    def selected(self, ann: Mapping[str, Any], tool: str, task: str) -> bool:
        if task in self.tasks:
            return True
        self.note(
            ann["id"],
            tool,
            Outcome.SKIPPED,
            Reason.TASK_NOT_SELECTED,
            f"only the {task!r} task can hold {tool!r}, and it was not selected",
            task,
        )
        return False

    def label_id(self, ann: Mapping[str, Any], tool: str, task: str) -> int | None:
        label = normalize_label(ann.get("classification"))
        if label is None:
            self.note(
                ann["id"],
                tool,
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                f"classification must be a non-empty label, got {ann.get('classification')!r}",
                task,
            )
            return None
        return self.class_id[label]

    def lossy_attrs(self, ann: Mapping[str, Any], tool: str, task: str) -> None:
        attrs = custom_attrs(ann)
        if attrs:
            self.note(
                ann["id"],
                tool,
                Outcome.LOSSY,
                Reason.CUSTOM_ATTRIBUTES_DROPPED,
                f"YOLO has no attributes; dropped {[a['name'] for a in attrs]}",
                task,
            )

    def inside(self, xs: Sequence[float], ys: Sequence[float]) -> bool:
        return (
            min(xs) >= -_EPS
            and min(ys) >= -_EPS
            and max(xs) <= self.w + _EPS
            and max(ys) <= self.h + _EPS
        )

    def run(self, tools: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        for ann in tools.get("bounding_box", []):
            if self.selected(ann, "bounding_box", "detect"):
                self.box(ann)
        for ann in tools.get("polygon", []):
            if self.selected(ann, "polygon", "segment"):
                self.polygon(ann)
        for ann in tools.get("segmentation", []):
            if self.selected(ann, "segmentation", "segment"):
                self.mask(ann)
        keypoints = tools.get("keypoint", [])
        if keypoints and "pose" in self.tasks:
            self.poses(keypoints)
        elif keypoints:
            for ann in keypoints:
                self.selected(ann, "keypoint", "pose")
        audit_unsupported(
            self.item.id,
            tools,
            ("bounding_box", "polygon", "segmentation", "keypoint"),
            self.audit,
            "yolo",
        )
        return self.lines

    def box(self, ann: Mapping[str, Any]) -> None:
        box = bbox_of(ann)
        if isinstance(box, str):
            self.note(
                ann["id"],
                "bounding_box",
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                box,
                "detect",
            )
            return
        cls = self.label_id(ann, "bounding_box", "detect")
        if cls is None:
            return
        x, y, w, h = box
        if not self.inside([x, x + w], [y, y + h]):
            self.note(
                ann["id"],
                "bounding_box",
                Outcome.FAILED,
                Reason.OUT_OF_BOUNDS,
                f"box {list(box)} leaves the {self.w:g}x{self.h:g} image",
                "detect",
            )
            return
        if rotation_of(ann):
            self.note(
                ann["id"],
                "bounding_box",
                Outcome.LOSSY,
                Reason.UNSUPPORTED_ORIENTED_BOUNDING_BOX,
                f"rotation {rotation_of(ann)!r} rad dropped; box written axis-aligned",
                "detect",
            )
        self.lossy_attrs(ann, "bounding_box", "detect")
        cx, cy = (x + w / 2) / self.w, (y + h / 2) / self.h
        self.lines["detect"].append(
            " ".join([str(cls), *map(_fmt, (cx, cy, w / self.w, h / self.h))])
        )

    def polygon(self, ann: Mapping[str, Any]) -> None:
        points = points_of(ann)
        if isinstance(points, str):
            self.note(
                ann["id"], "polygon", Outcome.FAILED, Reason.MALFORMED_ANNOTATION, points, "segment"
            )
            return
        cls = self.label_id(ann, "polygon", "segment")
        if cls is None:
            return
        if not self.inside([p[0] for p in points], [p[1] for p in points]):
            self.note(
                ann["id"],
                "polygon",
                Outcome.FAILED,
                Reason.OUT_OF_BOUNDS,
                f"polygon has points outside the {self.w:g}x{self.h:g} image",
                "segment",
            )
            return
        self.lossy_attrs(ann, "polygon", "segment")
        self.lines["segment"].append(self.segment_row(cls, points))

    def segment_row(self, cls: int, points: Sequence[tuple[float, float]]) -> str:
        coords = [_fmt(v) for x, y in points for v in (x / self.w, y / self.h)]
        return " ".join([str(cls), *coords])

    def mask(self, ann: Mapping[str, Any]) -> None:
        if self.mode != "instance":
            reason = (
                Reason.SEGMENTATION_EXCLUDED
                if self.mode == "exclude"
                else Reason.SEMANTIC_SEGMENTATION_UNSUPPORTED
            )
            self.note(
                ann["id"],
                "segmentation",
                Outcome.SKIPPED,
                reason,
                f"segmentation_mode is {self.mode!r}",
                "segment",
            )
            return
        try:
            mask = decode_mask(ann, *self.item.size)
        except MaskError as exc:
            self.note(
                ann["id"],
                "segmentation",
                Outcome.FAILED,
                Reason.INVALID_MASK_ENCODING,
                str(exc),
                "segment",
            )
            return
        cls = self.label_id(ann, "segmentation", "segment")
        if cls is None:
            return
        if not mask.any():
            self.note(
                ann["id"],
                "segmentation",
                Outcome.FAILED,
                Reason.MALFORMED_ANNOTATION,
                "mask is empty",
                "segment",
            )
            return
        outer, holes, fragments = mask_contours(mask)
        if not outer:
            self.note(
                ann["id"],
                "segmentation",
                Outcome.SKIPPED,
                Reason.MASK_TOO_SMALL,
                "no part of the mask has a contour of >= 3 points",
                "segment",
            )
            return
        if holes:
            self.note(
                ann["id"],
                "segmentation",
                Outcome.LOSSY,
                Reason.MASK_HOLE_DROPPED,
                f"{holes} hole(s) cannot be represented in YOLO and were filled",
                "segment",
            )
        if fragments:
            self.note(
                ann["id"],
                "segmentation",
                Outcome.LOSSY,
                Reason.MASK_FRAGMENT_DROPPED,
                f"{fragments} part(s) too thin for a 3-point contour were dropped",
                "segment",
            )
        self.lossy_attrs(ann, "segmentation", "segment")
        for contour in outer:
            self.lines["segment"].append(self.segment_row(cls, contour))

    def poses(self, keypoints: list[dict[str, Any]]) -> None:
        for group in pose_groups(self.item.id, keypoints, self.audit, "yolo.pose"):
            box = group.box or group.visible_extent()
            if box is None:
                self.note(
                    group.group_id,
                    "keypoint",
                    Outcome.SKIPPED,
                    Reason.POSE_BOX_UNAVAILABLE,
                    f"group {group.group_id!r} has no visible joint and no group_bbox",
                    "pose",
                )
                continue
            xs = [x for x, _, v, _ in group.joints.values() if v > 0] + [box[0], box[0] + box[2]]
            ys = [y for _, y, v, _ in group.joints.values() if v > 0] + [box[1], box[1] + box[3]]
            if not self.inside(xs, ys):
                self.note(
                    group.group_id,
                    "keypoint",
                    Outcome.FAILED,
                    Reason.OUT_OF_BOUNDS,
                    f"group {group.group_id!r} leaves the {self.w:g}x{self.h:g} image",
                    "pose",
                )
                continue
            x, y, w, h = box
            parts = [
                str(0),
                *map(_fmt, ((x + w / 2) / self.w, (y + h / 2) / self.h, w / self.w, h / self.h)),
            ]
            for name in PERSON_17:
                jx, jy, v, _ = group.joints.get(name, (0.0, 0.0, 0, ""))
                parts += (
                    [_fmt(jx / self.w), _fmt(jy / self.h), str(v)]
                    if v > 0
                    else ["0.000000", "0.000000", "0"]
                )
            self.lines["pose"].append(" ".join(parts))
            note_zeroed_joints(self.item.id, group, self.audit, "yolo.pose")


def mask_contours(mask: np.ndarray) -> tuple[list[list[tuple[float, float]]], int, int]:
    """External contours of a mask as pixel-coordinate point lists.

    Uses OpenCV (``RETR_CCOMP`` to see holes, ``CHAIN_APPROX_SIMPLE``), which is what the
    SDK's YOLO exporter runs.

    Returns:
        ``(outer contours with >= 3 distinct points, number of holes, number of outer parts
        dropped for having fewer than 3 points)``.

    Example:
        >>> m = np.zeros((4, 4), bool); m[1:3, 1:3] = True
        >>> mask_contours(m)[0]
        [[(1.0, 1.0), (1.0, 2.0), (2.0, 2.0), (2.0, 1.0)]]
    """
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - cv2 is a declared dependency
        raise ImportError(
            "converting masks to YOLO polygons needs OpenCV: pip install opencv-python-headless"
        ) from exc
    contours, hierarchy = cv2.findContours(
        np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    outer: list[list[tuple[float, float]]] = []
    holes = dropped = 0
    for contour, info in zip(contours, hierarchy[0] if hierarchy is not None else [], strict=True):
        if info[3] != -1:  # has a parent: this contour is a hole
            holes += 1
            continue
        points = [(float(p[0][0]), float(p[0][1])) for p in contour]
        if len(set(points)) < 3:
            dropped += 1
            continue
        outer.append(points)
    return outer, holes, dropped


def write_yolo(
    result: Mapping[str, Any], out_dir: str | PathLike[str], audit: Audit | None = None
) -> list[Path]:
    """Write :func:`to_yolo`'s result as ``<out_dir>/<task>/{dataset.yaml,classes.txt,labels/}``.

    ``images/`` is created empty for the caller to fill. With an audit,
    ``export_outcomes.json`` is written too; ``filename_collisions.json`` is always written.

    Args:
        result: The first element of :func:`to_yolo`'s result.
        out_dir: Directory to write into.
        audit: The audit of the same run.

    Returns:
        The task directories written.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> result, audit = to_yolo([item], classes=["car"])
        >>> [p.name for p in write_yolo(result, "export/yolo", audit)]
        ['detect', 'segment', 'pose']
        >>> print(Path("export/yolo/detect/labels/a.txt").read_text(), end="")
        0 0.312500 0.333333 0.312500 0.166667
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task in YOLO_TASKS:
        if task not in result:
            continue
        task_dir = out / task
        (task_dir / "images").mkdir(parents=True, exist_ok=True)
        (task_dir / "labels").mkdir(parents=True, exist_ok=True)
        spec = dict(result[task]["dataset_yaml"])
        # names as a JSON-style flow list, as the SDK writes it
        text = yaml.safe_dump({k: v for k, v in spec.items() if k != "names"}, sort_keys=False)
        text += f"names: {json.dumps(spec['names'], ensure_ascii=False)}\n"
        (task_dir / "dataset.yaml").write_text(text, encoding="utf-8")
        (task_dir / "classes.txt").write_text(
            "".join(f"{n}\n" for n in spec["names"]), encoding="utf-8"
        )
        for stem, text in result[task]["labels"].items():
            (task_dir / "labels" / f"{stem}.txt").write_text(text, encoding="utf-8")
        written.append(task_dir)
    collisions = result.get("filename_collisions", [])
    write_json(out / "filename_collisions.json", collisions, indent=2, default=str)
    if audit is not None:
        report = {"summary": audit.summary(), "records": audit.to_records()}
        write_json(out / "export_outcomes.json", report, indent=2, ensure_ascii=True, default=str)
    return written


def from_yolo(
    labels: Mapping[str, str],
    *,
    task: str,
    names: Sequence[str],
    sizes: Mapping[str, tuple[int, int]],
    kpt_shape: Sequence[int] = (17, 3),
    keypoint_names: Sequence[str] = PERSON_17,
) -> tuple[list[dict[str, Any]], Audit]:
    """Convert YOLO label texts back to DM v2 items.

    The task decides how a row is read (the SDK guessed it from the token count, which
    misreads pose rows with an even count): detect rows become ``bounding_box``, segment
    rows ``polygon``, pose rows one keypoint per labelled joint (v > 0) sharing a
    ``group_id``, with the row's box as ``group_bbox``. Malformed rows are audited.

    Args:
        labels: Label text per image stem.
        task: ``"detect"``, ``"segment"`` or ``"pose"``.
        names: Class names by id.
        sizes: ``(width, height)`` per stem; YOLO coordinates are normalised.
        kpt_shape: ``[joints, 2 or 3]`` from ``dataset.yaml``.
        keypoint_names: Joint names by slot.

    Returns:
        ``(items, audit)``; items have ``id`` (the stem), ``width``, ``height`` and ``data``.

    Raises:
        ValueError: If the task is unknown or a stem has no size.

    Example:
        >>> items, _ = from_yolo({"a": "0 0.5 0.5 0.5 0.5\\n"}, task="detect", names=["car"],
        ...                      sizes={"a": (100, 50)})
        >>> items[0]["data"]["images"][0]["bounding_box"][0]["data"]
        [25.0, 12.5, 50.0, 25.0]
    """
    if task not in YOLO_TASKS:
        raise ValueError(f"task must be one of {YOLO_TASKS}, got {task!r}")
    joints, dims = int(kpt_shape[0]), int(kpt_shape[1])
    if dims not in (2, 3):
        raise ValueError(f"kpt_shape must be [joints, 2 or 3], got {list(kpt_shape)!r}")
    audit = Audit()
    items = []
    for stem, text in labels.items():
        if stem not in sizes:
            raise ValueError(f"sizes has no (width, height) for label {stem!r}")
        width, height = sizes[stem]
        media: dict[str, list[dict[str, Any]]] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                problem = _import_row(
                    line.split(),
                    task,
                    names,
                    float(width),
                    float(height),
                    joints,
                    dims,
                    keypoint_names,
                    media,
                )
                if problem:
                    audit.add(
                        stem,
                        None,
                        f"yolo_{task}_row",
                        Outcome.FAILED,
                        Reason.MALFORMED_ANNOTATION,
                        f"line {number}: {problem}",
                        "dm_v2",
                    )
        items.append(
            {
                "id": stem,
                "file_name": None,
                "width": width,
                "height": height,
                "data": make_dm_document(media),
            }
        )
    return items, audit


def _import_row(
    tokens: list[str],
    task: str,
    names: Sequence[str],
    w: float,
    h: float,
    joints: int,
    dims: int,
    keypoint_names: Sequence[str],
    media: dict[str, list[dict[str, Any]]],
) -> str:
    try:
        cls = int(tokens[0])
        values = [float(t) for t in tokens[1:]]
    except ValueError:
        return f"not numeric: {' '.join(tokens)[:60]!r}"
    if not 0 <= cls < len(names):
        return f"class id {cls} is not in names (0..{len(names) - 1})"
    label = names[cls]
    if task == "detect":
        if len(values) != 4:
            return f"a detect row has 5 tokens, got {len(tokens)}"
        cx, cy, bw, bh = values
        data = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
        media.setdefault("bounding_box", []).append(
            {"id": new_id(), "classification": label, "attrs": [], "data": data}
        )
    elif task == "segment":
        if len(values) < 6 or len(values) % 2:
            return f"a segment row has a class and >= 3 x y pairs, got {len(tokens)} tokens"
        points = [[values[i] * w, values[i + 1] * h] for i in range(0, len(values), 2)]
        media.setdefault("polygon", []).append(
            {"id": new_id(), "classification": label, "attrs": [], "data": points}
        )
    else:
        if len(values) != 4 + joints * dims:
            expected = 5 + joints * dims
            shape = [joints, dims]
            return f"a pose row has {expected} tokens for kpt_shape {shape}, got {len(tokens)}"
        cx, cy, bw, bh = values[:4]
        group_id = new_id()
        box = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
        for slot in range(joints):
            x, y, *rest = values[4 + slot * dims : 4 + (slot + 1) * dims]
            v = int(rest[0]) if rest else 2
            if v == 0:
                continue
            joint = {
                "id": new_id(),
                "classification": keypoint_names[slot]
                if slot < len(keypoint_names)
                else f"keypoint_{slot}",
                "attrs": [],
                "data": [x * w, y * h],
                "visibility": v,
                "group_id": group_id,
            }
            if box[2] > 0 and box[3] > 0:
                joint["group_bbox"] = box
            media.setdefault("keypoint", []).append(joint)
    return ""


def read_yolo(
    task_dir: str | PathLike[str], sizes: Mapping[str, tuple[int, int]] | None = None
) -> tuple[list[dict[str, Any]], Audit]:
    """Read a YOLO task directory (``dataset.yaml`` + ``labels/``) back into DM items.

    Image sizes come from ``sizes`` or, when missing, from the matching file in
    ``images/`` (read with Pillow).

    Args:
        task_dir: A ``detect``, ``segment`` or ``pose`` directory written by
            :func:`write_yolo` (the task is its name, or inferred from ``kpt_shape``).
        sizes: ``(width, height)`` per stem.

    Returns:
        ``(items, audit)`` as :func:`from_yolo`.

    Raises:
        ValueError: If ``dataset.yaml`` is missing or a stem's size cannot be found.

    Example:
        >>> item = {"id": 1, "width": 640, "height": 480, "file_name": "a.jpg", "data": {
        ...     "images": [{"bounding_box": [{"id": "b1", "classification": "car",
        ...                                   "attrs": [], "data": [100, 120, 200, 80]}]}]}}
        >>> result, audit = to_yolo([item], classes=["car"])
        >>> _ = write_yolo(result, "export/yolo", audit)
        >>> items, audit = read_yolo("export/yolo/detect", sizes={"a": (640, 480)})
        >>> box = items[0]["data"]["images"][0]["bounding_box"][0]
        >>> box["classification"], [round(v, 1) for v in box["data"]]
        ('car', [100.0, 120.0, 200.0, 80.0])
    """
    from PIL import Image

    root = Path(task_dir)
    spec_path = root / "dataset.yaml"
    if not spec_path.is_file():
        raise ValueError(f"{str(root)!r} has no dataset.yaml")
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8")) or {}
    names = spec.get("names", [])
    if isinstance(names, Mapping):
        names = [names[k] for k in sorted(names)]
    task = root.name if root.name in YOLO_TASKS else ("pose" if "kpt_shape" in spec else "detect")
    labels = {
        p.stem: p.read_text(encoding="utf-8") for p in sorted((root / "labels").glob("*.txt"))
    }
    known = dict(sizes or {})
    for stem in labels:
        if stem in known:
            continue
        image = next(
            (p for s in _IMAGE_SUFFIXES for p in [root / "images" / f"{stem}{s}"] if p.is_file()),
            None,
        )
        if image is None:
            raise ValueError(
                f"no size for {stem!r}: pass sizes= or put the image in {str(root / 'images')!r}"
            )
        with Image.open(image) as img:
            known[stem] = img.size
    return from_yolo(
        labels, task=task, names=names, sizes=known, kpt_shape=spec.get("kpt_shape", (17, 3))
    )
