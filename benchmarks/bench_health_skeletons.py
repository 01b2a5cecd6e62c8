"""Skeleton-to-box linking of ``df.synapse.health()``: one pass with dicts against the old scan.

Run: ``python benchmarks/bench_health_skeletons.py`` (about two minutes). It builds annotation
views of 200, 800 and 1600 images with 3 people each (a box and a 17-joint skeleton whose
group lists only its keypoints, so every skeleton takes the containment fallback, the old
rule) and times the best CPU time of 3 interleaved runs of the old linking (a frozen copy
below: per skeleton, a filter over every box of the frame) and of
``synapse_nb.frames.health_skeletons.skeleton_joints``, in the same run. Both must pick the
same boxes. A ratio below 1 means the new linking is faster. The old one's work grows with
skeletons x boxes (a filter of the whole frame per skeleton, plus pandas' per-group cost); the
new one's with skeletons + boxes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from synapse_nb.frames.health_skeletons import skeleton_joints

PEOPLE, JOINTS = 3, 17


def _old_points_of(group: pd.DataFrame) -> list[list[float]]:
    visible = group[group["visibility"].fillna(0) == 2]
    return [[float(x), float(y), 2.0] for x, y in zip(visible["x"], visible["y"], strict=True)]


def _old_keypoints(ann: pd.DataFrame, owner: str, boxes: pd.DataFrame) -> pd.Series:
    """The linking before: the same-class box holding most joints, found by a frame filter."""
    out = pd.Series([None] * len(boxes), index=boxes.index, dtype=object)
    points = ann[ann["tool"] == "keypoint"]
    if points.empty:
        return out
    groups = ann[ann["tool"] == "group"]
    group_class = {(o, g): c for o, g, c in zip(groups[owner], groups["annotation_id"],
                                                groups["class_name"], strict=True)}
    for (unit, group_id), joints in points.groupby([owner, "group_id"], sort=False):
        cls = group_class.get((unit, group_id))
        candidates = boxes[(boxes[owner] == unit) & (boxes["tool"] == "bounding_box")
                           & (boxes["class_name"] == cls)]
        if candidates.empty:
            continue
        xs, ys = joints["x"].to_numpy(float), joints["y"].to_numpy(float)
        inside = [int(((xs >= x) & (xs <= x + w) & (ys >= y) & (ys <= y + h)).sum())
                  for x, y, w, h in candidates[["x", "y", "w", "h"]].to_numpy(float)]
        best = candidates.index[int(np.argmax(inside))]
        out.at[best] = _old_points_of(joints)
    return out


def _view(images: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for unit in range(images):
        for p in range(PEOPLE):
            x, y = 150.0 * p + rng.uniform(0, 20), rng.uniform(0, 50)
            rows.append({"task_id": unit, "tool": "bounding_box", "annotation_id": f"b{p}",
                         "class_name": "person", "x": x, "y": y, "w": 100.0, "h": 200.0,
                         "visibility": None, "group_id": None, "geometry": None})
            ids = []
            for j in range(JOINTS):
                ids.append(f"k{p}_{j}")
                rows.append({"task_id": unit, "tool": "keypoint", "annotation_id": ids[-1],
                             "class_name": f"j{j}", "x": x + rng.uniform(-5, 105),
                             "y": y + rng.uniform(0, 200), "w": None, "h": None,
                             "visibility": 2, "group_id": f"g{p}", "geometry": None})
            rows.append({"task_id": unit, "tool": "group", "annotation_id": f"g{p}",
                         "class_name": "person", "x": None, "y": None, "w": None, "h": None,
                         "visibility": None, "group_id": None, "geometry": ids})
    return pd.DataFrame(rows)


def _pair(old: Callable[[], object], new: Callable[[], object], repeat: int = 3
          ) -> tuple[float, float]:
    """Best CPU seconds of each, runs interleaved (a shared machine's load hits both alike)."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for slot, run in enumerate((old, new)):
            start = time.process_time()
            run()
            best[slot] = min(best[slot], time.process_time() - start)
    return best[0], best[1]


def main() -> None:
    print(f"{'images (3 skeletons each)':26} {'old cpu s':>10} {'new cpu s':>10} {'new/old':>8}")
    for images in (200, 800, 1600):
        ann = _view(images)
        boxes = ann[ann["tool"] == "bounding_box"]
        same = _old_keypoints(ann, "task_id", boxes).equals(
            skeleton_joints(ann, "task_id", boxes))
        if not same:
            raise SystemExit(f"{images} images: the two linkings pick different boxes")
        old, new = _pair(lambda a=ann, b=boxes: _old_keypoints(a, "task_id", b),
                         lambda a=ann, b=boxes: skeleton_joints(a, "task_id", b))
        print(f"{images:<26} {old:>10.3f} {new:>10.3f} {new / old:>8.3f}")


if __name__ == "__main__":
    main()
