"""Predictions against ground truth, as a job: COCO metrics logged, returned, written to a model.

Both sides are ground-truth dataset versions (a model's predictions are kept as one, their
confidence in each annotation's ``score``/``confidence`` attribute). The job evaluates them
exactly as a notebook does, ``Client.evaluate(ground_truth=, predictions=, iou_type=)`` through
the job's token: the same DM reading (data units as images, rotated boxes by their hull for
``bbox``, polygons and masks for ``segm``, skeletons with the project's sigmas for
``keypoints``), the same numbers. The COCO summary is logged as metrics (category
``evaluation``) and returned with AP per class; with ``model`` the metrics are merged into that
model's in the models' own naming (``mAP``, ``mAP50``, ``mAP75``, ``recall``, ``per_class_AP``),
as ``Client.push_metrics`` writes them. On Ray, versions with more than ``shard_size`` events
are read by Ray tasks, one per shard, and evaluated once here (see
:mod:`synapse_nb.plugins.builtin.sharded_evaluate`): the same numbers.
"""

from __future__ import annotations

from typing import Any

from synapse_nb.frames.eval_models import computed_metrics
from synapse_nb.plugins.builtin.sharded_evaluate import evaluate_on_ray
from synapse_nb.plugins.builtin.sharding import shard_size


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
    model = params.get("model")
    with ctx.notebook_client() as client:
        if model is not None:
            client.get_model(model)  # an unknown model fails before anything is read
        ctx.set_progress(1, 3, "read")
        ctx.check_stop()
        sharded = evaluate_on_ray(ctx, client, params["ground_truth_version"],
                                  params["predictions"], iou_type, shard_size(params))
        evaluation = sharded if sharded is not None else client.evaluate(  # not on Ray, or small
            ground_truth=params["ground_truth_version"], predictions=params["predictions"],
            iou_type=iou_type)
        ctx.set_progress(2, 3, "evaluate")
        ctx.check_stop()
        summary = {str(k): round(float(v), 6) for k, v in evaluation.summary["value"].items()}
        ctx.log_metrics(summary, step=iou_type, category="evaluation")
        ap = {str(name): round(float(v), 6) for name, v in evaluation.per_class["AP"].items()}
        images = len(evaluation.run.gt.image_ids)
        ctx.log_message(
            f"{iou_type} AP={summary['AP']:.4f} AP50={summary['AP50']:.4f} over {images} images",
            step="evaluate",
        )
        for note in evaluation.notes:
            ctx.log_message(note, level="warning", step="evaluate")
        result: dict[str, Any] = {"iou_type": iou_type, "images": images, "summary": summary,
                                  "per_class_ap": ap, "notes": list(evaluation.notes)}
        if model is not None:
            client.push_metrics(model, evaluation, dry_run=False, confirm=True)
            ctx.log_message(f"Wrote the metrics to model {model}", level="success", step="model")
            result["model"] = {"id": model, "metrics": computed_metrics(evaluation)}
        ctx.set_progress(3, 3, "evaluate")
    return result
