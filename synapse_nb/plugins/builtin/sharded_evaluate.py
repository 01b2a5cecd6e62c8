"""The evaluate job's reading done by Ray tasks, one per shard of ground-truth events.

The job lists only the event ids of the ground-truth and predictions versions and splits them
into shards; a Ray task per shard fetches its events with their data through the job's token
and reads them as DM items (one per data unit, with its size and file name) with
:func:`~synapse_nb.frames.evaluation.version_items`, exactly as ``Client.evaluate`` reads a
version. The job joins the shards' items in listing order and runs
the COCO evaluation once over all of them, so the metrics are those of the run without shards.
"""

from __future__ import annotations

from typing import Any

from synapse_nb.evaluation import EvaluationResult
from synapse_nb.evaluation.dm import DMItem
from synapse_nb.frames.evaluation import evaluate_read_versions, version_items
from synapse_nb.plugins.builtin.sharding import JobAccess, ShardTasks, list_ids, split_ids

__all__ = ["evaluate_on_ray", "read_shard"]


def read_shard(access: JobAccess, version: int, ids: list[int], field: str) -> list[DMItem]:
    """The DM items of one shard of a version's events (a Ray task's body).

    Example:
        >>> items = read_shard(JobAccess(srv.url, srv.token), 2, [181, 182], "ground_truth")
        >>> [type(i).__name__ for i in items], items[0].width > 0
        (['DMItem', 'DMItem'], True)
    """
    with access.notebook_client() as client:
        return version_items(client, version, field, ids=ids)


def evaluate_on_ray(ctx: Any, client: Any, ground_truth: int, predictions: int, iou_type: str,
                    shard_size: int) -> EvaluationResult | None:  # fmt: skip
    """``client.evaluate(ground_truth, predictions, iou_type)`` with its reading in Ray tasks.

    Returns None, having evaluated nothing, when the job does not run on Ray or neither
    version has more events than ``shard_size`` (the caller then evaluates as usual).
    """
    if ctx.ray_address is None:
        return None
    for version in (ground_truth, predictions):
        client.get_ground_truth_version(version)  # a clear 404 for an unknown version
    lister = client.raw.list_ground_truth_events
    ids = {v: list_ids(lister, {"ground_truth_dataset_versions": [v]})
           for v in (ground_truth, predictions)}  # fmt: skip
    if max(len(found) for found in ids.values()) <= shard_size:
        return None
    jobs = [(v, shard, field) for v, field in ((ground_truth, "ground_truth"),
                                               (predictions, "predictions"))
            for shard in split_ids(ids[v], shard_size)]  # fmt: skip
    ctx.log_message(f"Sharded: {len(ids[ground_truth])} + {len(ids[predictions])} events in "
                    f"{len(jobs)} Ray tasks of up to {shard_size}", step="shards")  # fmt: skip
    access = JobAccess(*ctx.backend_access())
    tasks = ShardTasks(ctx, "read")
    parts = tasks.wait(tasks.submit(read_shard, [(access, *job) for job in jobs]))
    read = list(zip(jobs, parts, strict=True))
    gt_items = [i for job, part in read if job[2] == "ground_truth" for i in part]
    pred_items = [i for job, part in read if job[2] == "predictions" for i in part]
    return evaluate_read_versions(client, ground_truth, gt_items, pred_items, iou_type)
