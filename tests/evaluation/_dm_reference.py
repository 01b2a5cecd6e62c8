"""COCO inputs written straight from DM v2 documents fetched from the server, for pycocotools.

Deliberately independent of ``synapse_nb.evaluation.dm``: it walks the raw JSON, so a test
comparing ``client.evaluate`` with pycocotools on these inputs checks the adapter as well as
the engine. The rules are the ones ``synapse_nb.evaluation.dm`` documents: image ids are data
unit ids, categories are the project's classes in order then other classes sorted (ids 1..K),
a prediction without a score counts 1.0, a pose is a skeleton group whose box is its visible
joints' extent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from synapse_nb.annotations import decode_mask


def categories(classes: list[str], docs: Iterable[dict], tools: tuple[str, ...]) -> dict[str, int]:
    seen = {a["classification"] for d in docs for a in _anns(d, tools)}
    if "keypoint" in tools:
        seen = {g["classification"] for d in docs for g in _image(d).get("group", [])}
    names = list(dict.fromkeys([*classes, *sorted(seen - set(classes))]))
    return {n: i + 1 for i, n in enumerate(names)}


def _image(doc: dict) -> dict:
    images = (doc or {}).get("images") or [{}]
    return images[0]


def _anns(doc: dict, tools: tuple[str, ...]) -> list[dict]:
    image = _image(doc)
    return [a for t in tools for a in image.get(t, [])]


def _score(ann: dict) -> float:
    for attr in ann.get("attrs", []):
        if attr["name"] in ("score", "confidence"):
            return float(attr["value"])
    return 1.0


def box_inputs(gt: dict[int, dict], preds: dict[int, dict],
               cats: dict[str, int]) -> tuple[dict, list]:
    """``gt``/``preds``: data unit id -> DM v2 document (boxes only)."""
    dataset: dict[str, Any] = {"images": [{"id": u} for u in sorted(gt)],
                               "categories": [{"id": i, "name": n} for n, i in cats.items()],
                               "annotations": []}
    for unit, doc in gt.items():
        for ann in _anns(doc, ("bounding_box",)):
            x, y, w, h = ann["data"]
            dataset["annotations"].append({"id": len(dataset["annotations"]) + 1,
                                           "image_id": unit, "iscrowd": 0,
                                           "category_id": cats[ann["classification"]],
                                           "bbox": [x, y, w, h], "area": w * h})
    results = [{"image_id": unit, "category_id": cats[ann["classification"]],
                "bbox": list(ann["data"]), "score": _score(ann)}
               for unit, doc in preds.items() for ann in _anns(doc, ("bounding_box",))
               if ann["classification"] in cats]
    return dataset, results


def _rle(ann: dict, tool: str, w: int, h: int) -> dict:
    if tool == "polygon":
        flat = [float(v) for xy in ann["data"] for v in xy]
        return mask_utils.merge(mask_utils.frPyObjects([flat], h, w))
    mask = decode_mask(ann, w, h)
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


def segm_inputs(gt: dict[int, dict], preds: dict[int, dict], sizes: dict[int, tuple[int, int]],
                cats: dict[str, int]) -> tuple[dict, list]:
    """Polygons and masks as RLE; ``sizes``: data unit id -> (width, height)."""
    dataset: dict[str, Any] = {
        "images": [{"id": u, "width": sizes[u][0], "height": sizes[u][1]} for u in sorted(gt)],
        "categories": [{"id": i, "name": n} for n, i in cats.items()], "annotations": []}
    for unit, doc in gt.items():
        for tool in ("polygon", "segmentation"):
            for ann in _anns(doc, (tool,)):
                rle = _rle(ann, tool, *sizes[unit])
                dataset["annotations"].append({
                    "id": len(dataset["annotations"]) + 1, "image_id": unit, "iscrowd": 0,
                    "category_id": cats[ann["classification"]], "segmentation": rle,
                    "area": float(mask_utils.area(rle)),
                    "bbox": list(mask_utils.toBbox(rle))})
    results = []
    for unit, doc in preds.items():
        for tool in ("polygon", "segmentation"):
            for ann in _anns(doc, (tool,)):
                results.append({"image_id": unit, "category_id": cats[ann["classification"]],
                                "segmentation": _rle(ann, tool, *sizes[unit]),
                                "score": _score(ann)})
    return dataset, results


def _poses(doc: dict, joints: list[str]) -> list[tuple[str, np.ndarray, float]]:
    image = _image(doc)
    classes = {g["id"]: g["classification"] for g in image.get("group", [])}
    poses: dict[str, np.ndarray] = {}
    scores: dict[str, float] = {}
    for kp in image.get("keypoint", []):
        group = kp.get("group_id")
        if group not in classes or kp["classification"] not in joints:
            continue
        pose = poses.setdefault(group, np.zeros((len(joints), 3)))
        pose[joints.index(kp["classification"])] = (*kp["data"][:2], kp.get("visibility", 2))
        scores.setdefault(group, _score(kp))
    return [(classes[g], p, scores[g]) for g, p in poses.items()]


def keypoint_inputs(gt: dict[int, dict], preds: dict[int, dict], joints: list[str],
                    cats: dict[str, int]) -> tuple[dict, list]:
    dataset: dict[str, Any] = {"images": [{"id": u} for u in sorted(gt)],
                               "categories": [{"id": i, "name": n} for n, i in cats.items()],
                               "annotations": []}
    for unit, doc in gt.items():
        for label, pose, _ in _poses(doc, joints):
            seen = pose[pose[:, 2] > 0]
            x0, y0 = seen[:, :2].min(axis=0) if len(seen) else (0.0, 0.0)
            x1, y1 = seen[:, :2].max(axis=0) if len(seen) else (0.0, 0.0)
            dataset["annotations"].append({
                "id": len(dataset["annotations"]) + 1, "image_id": unit, "iscrowd": 0,
                "category_id": cats[label], "keypoints": pose.reshape(-1).tolist(),
                "num_keypoints": int((pose[:, 2] > 0).sum()),
                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0)})
    results = [{"image_id": unit, "category_id": cats[label], "score": score,
                "keypoints": pose.reshape(-1).tolist()}
               for unit, doc in preds.items() for label, pose, score in _poses(doc, joints)]
    return dataset, results
