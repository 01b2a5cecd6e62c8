"""Predictions against ground truth, as a job: COCO metrics logged and returned.

Both sides are ground-truth dataset versions read through the job's client (a model's
predictions are kept as one, their confidence in each annotation's ``score``/``confidence``
attribute). Images are matched by data unit and named by file name, as the importers name them
(``read_ground_truth``), so that the numbers equal an evaluation of those labels: the COCO
protocol breaks score ties by image order. ``iou_type="bbox"`` evaluates ``bounding_box``
annotations (a rotated box by the axis-aligned hull of its corners); ``"segm"`` evaluates
``polygon`` annotations as masks, sized from each event's image width and height (``segmentation``
masks and keypoints are not evaluated by this plugin).
The COCO summary is logged as metrics (category ``evaluation``) and returned with AP per class.
With ``model`` the metrics are merged into that model's (same names replaced, others kept)
when the client can update models; otherwise the result says that they were not written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from synapse_nb.annotations import box_corners, read_document
from synapse_nb.evaluation import coco_from_per_image, evaluate

PAGE = {"url_conversion": False, "list_all": True}


def _box(data: list[float], rotation: float) -> list[float]:
    if not rotation:
        return [float(v) for v in data[:4]]
    corners = box_corners(data[:4], rotation)
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _shape(annotation: Any, iou_type: str) -> dict[str, Any] | None:
    data = annotation.data
    if iou_type == "bbox" and annotation.tool == "bounding_box" and len(data or []) >= 4:
        rotation = annotation.attrs.get("rotation")
        ok = isinstance(rotation, int | float) and math.isfinite(rotation)
        return {"bbox": _box(data, float(rotation) if ok else 0.0)}
    if iou_type == "segm" and annotation.tool == "polygon" and len(data or []) >= 3:
        flat = [float(c) for point in data for c in point[:2]]
        xs, ys = flat[0::2], flat[1::2]
        bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        return {"segmentation": [flat], "bbox": bbox}
    return None


def image_key(event: Mapping[str, Any], names: dict[str, int]) -> str:
    """The event's file name (else its data unit id); a name of two data units gets the id.

    Example:
        >>> names = {}
        >>> [image_key(e, names) for e in ({"data_unit": 1, "meta": {"file_name": "a.jpg"}},
        ...                                {"data_unit": 2, "meta": {"file_name": "a.jpg"}},
        ...                                {"data_unit": 3})]
        ['a.jpg', 'a.jpg#2', '3']
    """
    unit = int(event["data_unit"])
    name = str((event.get("meta") or {}).get("file_name") or unit)
    if names.setdefault(name, unit) != unit:
        name = f"{name}#{unit}"
        names.setdefault(name, unit)
    return name


def per_image(
    events: Iterable[Mapping[str, Any]], iou_type: str, scored: bool
) -> tuple[dict[str, list[dict]], dict[str, tuple[int, int]]]:
    """``{image: [{"label", "bbox"|"segmentation", "score"?}]}`` and image sizes.

    Example:
        >>> doc = {"images": [{"bounding_box": [{"id": "b", "classification": "car",
        ...        "data": [1, 2, 3, 4], "attrs": [{"name": "score", "value": 0.5}]}]}]}
        >>> per_image([{"data_unit": 7, "data": doc, "meta": {"width": 64, "height": 48}}],
        ...           "bbox", scored=True)
        ({'7': [{'bbox': [1.0, 2.0, 3.0, 4.0], 'label': 'car', 'score': 0.5}]}, {'7': (48, 64)})
    """
    images: dict[str, list[dict]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    names: dict[str, int] = {}
    for event in events:
        key = image_key(event, names)
        meta = event.get("meta") or {}
        sizes[key] = (int(meta.get("height") or 0), int(meta.get("width") or 0))
        rows = images.setdefault(key, [])
        for annotation in read_document(event.get("data")).annotations():
            shape = _shape(annotation, iou_type) if annotation.label else None
            if shape is None:
                continue
            shape["label"] = annotation.label
            if scored:
                score = annotation.score()
                shape["score"] = 1.0 if score is None else score
            rows.append(shape)
    return images, sizes


def read_version(ctx: Any, version: int, iou_type: str, scored: bool) -> Any:
    """The events of one ground-truth version, per image."""
    events, count = ctx.client.list_ground_truth_events(
        {"ground_truth_dataset_versions": [version]}, **PAGE
    )
    if not count:
        raise ValueError(f"version {version}: this ground-truth version has no events")
    return per_image(events, iou_type, scored)


def model_metrics(ctx: Any, model: int | None) -> dict[str, Any] | None:
    """The model's current metrics (None without a model); fails early on an unknown model."""
    if model is None:
        return None
    return dict(ctx.client.get_model(model, url_conversion=False).get("metrics") or {})


def write_to_model(ctx: Any, model: int, old: dict[str, Any], metrics: dict[str, float]) -> str:
    """Merge the metrics into the model's when the client can write them; says what happened."""
    update = getattr(ctx.client, "update_model", None)
    if update is None:
        return "not written: this client has no update-model call"
    update(model, {"metrics": {**old, **metrics}})
    ctx.log_message(f"Wrote the metrics to model {model}", level="success", step="model")
    return "written"


def run(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Evaluate; returns the COCO summary, AP per class and what was written to the model.

    Example:
        >>> from synapse_nb.plugins.runtime import RunContext
        >>> params = {"ground_truth_version": 2, "predictions": 3, "iou_type": "bbox"}
        >>> ctx = RunContext({"job_id": "doc", "action": "evaluate", "params": params,
        ...                   "base_url": srv.url, "token": srv.token})
        >>> result = run(params, ctx)
        >>> result["images"], 0 < result["summary"]["AP"] < 1, "car" in result["per_class_ap"]
        (180, True, True)
    """
    iou_type = params["iou_type"]
    old_metrics = model_metrics(ctx, params.get("model"))
    gt, sizes = read_version(ctx, params["ground_truth_version"], iou_type, scored=False)
    ctx.set_progress(1, 3, "read")
    ctx.check_stop()
    predictions, _ = read_version(ctx, params["predictions"], iou_type, scored=True)
    predictions = {key: rows for key, rows in predictions.items() if key in gt}
    ctx.set_progress(2, 3, "read")
    ctx.check_stop()
    dataset, results = coco_from_per_image(gt, predictions, image_sizes=sizes)
    evaluation = evaluate(dataset, results, iou_type)
    summary = {str(k): round(float(v), 6) for k, v in evaluation.summary["value"].items()}
    ctx.log_metrics(summary, step=iou_type, category="evaluation")
    ap = {str(name): round(float(v), 6) for name, v in evaluation.per_class["AP"].items()}
    ctx.set_progress(3, 3, "evaluate")
    ctx.log_message(
        f"{iou_type} AP={summary['AP']:.4f} AP50={summary['AP50']:.4f} over {len(gt)} images",
        step="evaluate",
    )
    result: dict[str, Any] = {
        "iou_type": iou_type,
        "images": len(gt),
        "summary": summary,
        "per_class_ap": ap,
    }
    if old_metrics is not None:
        written = write_to_model(ctx, params["model"], old_metrics, summary)
        result["model"] = {"id": params["model"], "metrics": written}
    return result
