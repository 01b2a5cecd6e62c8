"""The result of one evaluation: COCO summary, per-class table, PR curves, confusion matrix,
per-image and per-annotation frames, and plots."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synapse_nb.evaluation._accumulate import mean_valid
from synapse_nb.evaluation._confusion import agnostic_match, confusion_counts
from synapse_nb.evaluation._engine import Run
from synapse_nb.evaluation._inputs import EvaluationInputError
from synapse_nb.evaluation._matching import IGNORED, TP

if TYPE_CHECKING:
    from synapse_nb.evaluation.dm import Links

__all__ = ["EvaluationResult"]

# (name, AP?, IoU threshold or None for .50:.95, area label, maxDets or index into maxDets)
_DET_STATS = [("AP", 1, None, "all", 2), ("AP50", 1, .5, "all", 2), ("AP75", 1, .75, "all", 2),
              ("APs", 1, None, "small", 2), ("APm", 1, None, "medium", 2),
              ("APl", 1, None, "large", 2), ("AR1", 0, None, "all", 0),
              ("AR10", 0, None, "all", 1), ("AR100", 0, None, "all", 2),
              ("ARs", 0, None, "small", 2), ("ARm", 0, None, "medium", 2),
              ("ARl", 0, None, "large", 2)]
_KP_STATS = [("AP", 1, None, "all", 0), ("AP50", 1, .5, "all", 0), ("AP75", 1, .75, "all", 0),
             ("APm", 1, None, "medium", 0), ("APl", 1, None, "large", 0),
             ("AR", 0, None, "all", 0), ("AR50", 0, .5, "all", 0), ("AR75", 0, .75, "all", 0),
             ("ARm", 0, None, "medium", 0), ("ARl", 0, None, "large", 0)]


class EvaluationResult:
    """COCO-protocol results; numbers equal ``pycocotools.cocoeval.COCOeval``'s.

    Attributes:
        run: the raw arrays (``run.tables.precision`` is ``COCOeval.eval['precision']``).
        summary: the 12 COCO stats (10 for keypoints) as a frame indexed by metric name.
        per_class: AP/AR per category (columns as in ``summary``), ``n_gt`` and ``n_pred``.

    Example:
        >>> from synapse_nb.evaluation import evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
        ...                        "bbox": [0, 0, 40, 40]}]}
        >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 36],
        ...                      "score": 0.9}])
        >>> res.summary.loc["AP", "value"].round(4), res.per_class.loc["car", "AP50"].round(4)
        (np.float64(0.9), np.float64(1.0))
    """

    def __init__(self, run: Run, links: Links | None = None, notes: Sequence[str] = ()) -> None:
        self.run = run
        #: Where each annotation came from (data unit, item, DM id), when evaluated from DM data.
        self.links = links
        #: What the conversion from DM data did (rotated boxes, left-out geometry), in words.
        self.notes = list(notes)
        self._specs = _KP_STATS if run.params.iou_type == "keypoints" else _DET_STATS
        self.summary = self._summary_frame()
        self.per_class = self._per_class_frame()

    def __repr__(self) -> str:
        s = self.summary["value"]
        return (f"EvaluationResult({self.run.params.iou_type}: {len(self.run.gt.image_ids)} "
                f"images, {len(self.run.gt.category_ids)} classes, AP={s['AP']:.3f}, "
                f"AP50={s['AP50']:.3f})")

    # --- metrics -------------------------------------------------------------------------
    def _stat(self, ap: int, thr: float | None, area: str, mdet: int,
              category: int | None) -> float:
        p = self.run.params
        a = p.area_labels.index(area)
        if ap:
            s = self.run.tables.precision
            if thr is not None:
                s = s[np.where(thr == p.iou_thresholds)[0]]
            s = s[:, :, :, a, mdet] if category is None else s[:, :, category, a, mdet]
        else:
            s = self.run.tables.recall
            if thr is not None:
                s = s[np.where(thr == p.iou_thresholds)[0]]
            s = s[:, :, a, mdet] if category is None else s[:, category, a, mdet]
        return mean_valid(s)

    @property
    def stats(self) -> np.ndarray:
        """The summary values in ``COCOeval.stats`` order.

        Example:
            >>> import matplotlib; matplotlib.use("Agg")
            >>> from synapse_nb.evaluation import evaluate
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
            ...                        "bbox": [0, 0, 40, 40]}]}
            >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
            ...                      "score": 0.9}])
            >>> res.stats.round(3).tolist()[:3]
            [1.0, 1.0, 1.0]
        """
        return self.summary["value"].to_numpy()

    def _summary_frame(self) -> pd.DataFrame:
        p = self.run.params
        rows = [{"metric": name, "value": self._stat(ap, thr, area, m, None),
                 "iou": "0.50:0.95" if thr is None else f"{thr:.2f}", "area": area,
                 "max_dets": p.max_dets[m]} for name, ap, thr, area, m in self._specs]
        return pd.DataFrame(rows).set_index("metric")

    def _per_class_frame(self) -> pd.DataFrame:
        gt, dt = self.run.gt, self.run.dt
        n_cat = len(gt.category_ids)
        data: dict[str, Any] = {"category_id": gt.category_ids}
        for name, ap, thr, area, m in self._specs:
            data[name] = [self._stat(ap, thr, area, m, k) for k in range(n_cat)]
        data["n_gt"] = self.run.n_positive[:, 0]
        data["n_pred"] = np.bincount(dt.category[self.run.dt_order], minlength=n_cat)
        frame = pd.DataFrame(data, index=pd.Index(gt.category_names, name="category"))
        return frame

    def pr_curve(self, category: str | int | None = None, iou: float = 0.5) -> pd.DataFrame:
        """Interpolated precision at the 101 recall points (all areas, last maxDets).

        ``category`` is a name or id (None: the mean over classes that have ground truth).

        Example:
            >>> from synapse_nb.evaluation import evaluate
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
            ...                        "bbox": [0, 0, 40, 40]}]}
            >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
            ...                      "score": 0.9}])
            >>> res.pr_curve("car").iloc[[0, -1]].round(6).to_dict("list")
            {'recall': [0.0, 1.0], 'precision': [1.0, 1.0]}
        """
        t = self._threshold_index(iou)
        prec = self.run.tables.precision[t, :, :, 0, -1]
        if category is None:
            valid = (prec > -1).all(axis=0)
            curve = prec[:, valid].mean(axis=1) if valid.any() else np.full(len(prec), np.nan)
        else:
            curve = prec[:, self._category_index(category)]
        return pd.DataFrame({"recall": self.run.params.rec_thresholds, "precision": curve})

    def _threshold_index(self, iou: float) -> int:
        hits = np.flatnonzero(np.isclose(self.run.params.iou_thresholds, iou))
        if len(hits) == 0:
            raise EvaluationInputError(
                f"iou = {iou!r} is not one of the protocol's thresholds "
                f"{[round(float(x), 2) for x in self.run.params.iou_thresholds]}")
        return int(hits[0])

    def _category_index(self, category: str | int) -> int:
        gt = self.run.gt
        if isinstance(category, str) and category in gt.category_names:
            return gt.category_names.index(category)
        if isinstance(category, int | np.integer) and category in set(gt.category_ids.tolist()):
            return int(np.searchsorted(gt.category_ids, category))
        raise EvaluationInputError(f"category = {category!r} is not a category of the ground truth")

    # --- confusion, per image, per annotation ----------------------------------------------
    def confusion_matrix(self, iou: float = 0.5, score_threshold: float = 0.0) -> pd.DataFrame:
        """Counts of (true class, predicted class) from class-agnostic matching at ``iou``.

        The last row/column, ``background``, holds false positives (row) and misses (column).
        See :mod:`synapse_nb.evaluation._confusion` for the matching rule.

        Example:
            >>> from synapse_nb.evaluation import evaluate
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
            ...                        "bbox": [0, 0, 40, 40]}]}
            >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [50, 0, 9, 9],
            ...                      "score": 0.9}])
            >>> res.confusion_matrix().values.tolist()
            [[0, 1], [1, 0]]
        """
        # scores may be any finite number (logits, percentages): only the IoU has a range
        for name, value, low in (("iou", iou, 0.0), ("score_threshold", score_threshold, None)):
            number = not isinstance(value, bool) and isinstance(value, numbers.Real)
            if not number or not math.isfinite(value) or (low is not None and not low < value <= 1):
                wanted = "a number in (0, 1]" if low is not None else "a finite number"
                raise EvaluationInputError(
                    f"{name} = {value!r} is not {wanted}", field=name, value=value
                )
        counts = confusion_counts(self.run, agnostic_match(self.run, iou, score_threshold))
        labels = [*self.run.gt.category_names, "background"]
        return pd.DataFrame(counts, index=pd.Index(labels, name="true"),
                            columns=pd.Index(labels, name="predicted"))

    def per_annotation(self, iou: float = 0.5) -> pd.DataFrame:
        """One row per ground truth and per evaluated prediction at IoU threshold ``iou``.

        ``status`` is TP/FP/FN from the COCO (per-class) matching, or ``ignored`` (crowd);
        ``matched_id``/``iou`` name the COCO match; ``matched_category`` is the class the
        annotation met in the class-agnostic matching (``background`` when none): a false
        positive ``truck`` with ``matched_category == "car"`` is a confusion, not a ghost.
        Keyed by ``(source, annotation_id)``; ``source`` is ``gt`` or ``pred``.

        Example:
            >>> from synapse_nb.evaluation import evaluate
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": [{"id": 7, "image_id": 1, "category_id": 1,
            ...                        "bbox": [0, 0, 40, 40]}]}
            >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
            ...                      "score": 0.9}])
            >>> res.per_annotation()[["status", "matched_id"]].values.tolist()
            [['TP', 1], ['TP', 7]]
        """
        from synapse_nb.evaluation._frames import per_annotation_frame

        return per_annotation_frame(self, self._threshold_index(iou), iou)

    def per_image(self, iou: float = 0.5) -> pd.DataFrame:
        """TP/FP/FN counts per image at ``iou``, worst first (most FP + FN, then fewest TP).

        Example:
            >>> from synapse_nb.evaluation import evaluate
            >>> gt = {"images": [{"id": 1}, {"id": 2}], "categories": [{"id": 1, "name": "a"}],
            ...       "annotations": [{"id": 1, "image_id": 2, "category_id": 1,
            ...                        "bbox": [0, 0, 40, 40]}]}
            >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4],
            ...                      "score": 0.9}])
            >>> res.per_image()[["image_id", "fp", "fn"]].values.tolist()
            [[1, 1, 0], [2, 0, 1]]
        """
        from synapse_nb.evaluation._frames import per_image_frame

        return per_image_frame(self, self._threshold_index(iou))

    def label_annotations(self, annotations: pd.DataFrame, source: str = "gt",
                          iou: float = 0.5) -> pd.DataFrame:
        """``annotations`` (a ``df.synapse.annotations()`` frame) with the evaluation's
        ``eval_status``, ``eval_iou``, ``eval_score`` and ``eval_matched_category`` columns.

        Rows join by (item id, DM annotation id): the ground-truth annotations of the events
        (``source="gt"``) or the predictions' (``source="pred"``). Rows the evaluation did not
        see (other tools, other items) get NA. Needs a result evaluated from DM data.

        Example:
            >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [2]},
            ...                                      list_all=True).head(5)
            >>> res = gt.synapse.evaluate(gt)  # the ground truth against itself
            >>> ann = res.label_annotations(gt.synapse.annotations())
            >>> ann.loc[ann.tool == "bounding_box", "eval_status"].unique().tolist()
            ['TP']
        """
        if self.links is None:
            raise EvaluationInputError(
                "links = None: this result was not evaluated from Synapse DM data, so its "
                "annotations cannot be joined by id")
        if source not in ("gt", "pred"):
            raise EvaluationInputError(f"source = {source!r} is not 'gt' or 'pred'")
        if not isinstance(annotations, pd.DataFrame):
            raise EvaluationInputError(
                f"annotations = {type(annotations).__name__} is not the frame "
                "df.synapse.annotations() returned", field="annotations", value=annotations)
        owner = (annotations.attrs.get("synapse") or {}).get("owner")
        if owner not in annotations.columns or "annotation_id" not in annotations.columns:
            raise EvaluationInputError(
                f"annotations: field 'owner' = {owner!r} is not an id column of the frame "
                "(give the frame df.synapse.annotations() returned)")
        rows = self.per_annotation(iou)
        rows = rows[rows["source"] == source].drop_duplicates(["item_id", "dm_annotation_id"])
        keyed = rows.set_index(["item_id", "dm_annotation_id"])[
            ["status", "iou", "score", "matched_category"]].add_prefix("eval_")
        key = pd.MultiIndex.from_arrays([pd.array(annotations[owner], dtype="Int64"),
                                         pd.array(annotations["annotation_id"], dtype="string")])
        out = annotations.copy()
        for column in keyed.columns:
            out[column] = keyed[column].reindex(key).to_numpy()
        out["eval_status"] = out["eval_status"].astype("string")
        return out

    # --- plots ---------------------------------------------------------------------------
    def plot_pr_curves(self, iou: float = 0.5, ax: Any = None, top: int = 10) -> Any:
        """PR curves of the ``top`` classes by AP at ``iou`` (and their mean); returns the axes.

        Example:
            >>> import matplotlib; matplotlib.use("Agg")
            >>> from synapse_nb.evaluation import evaluate
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
            ...                        "bbox": [0, 0, 40, 40]}]}
            >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
            ...                      "score": 0.9}])
            >>> res.plot_pr_curves().get_title()
            'Precision-recall at IoU 0.50'
        """
        from synapse_nb.evaluation.plots import plot_pr_curves

        return plot_pr_curves(self, iou=iou, ax=ax, top=top)

    def plot_per_class_ap(self, metric: str = "AP", ax: Any = None) -> Any:
        """Horizontal bars of a per-class metric, sorted; returns the axes.

        Example:
            >>> import matplotlib; matplotlib.use("Agg")
            >>> from synapse_nb.evaluation import evaluate
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
            ...                        "bbox": [0, 0, 40, 40]}]}
            >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
            ...                      "score": 0.9}])
            >>> res.plot_per_class_ap("AP50").get_title()
            'AP50 per class'
        """
        from synapse_nb.evaluation.plots import plot_per_class_ap

        return plot_per_class_ap(self, metric=metric, ax=ax)

    def plot_confusion_matrix(self, iou: float = 0.5, score_threshold: float = 0.0,
                              ax: Any = None, normalize: bool = False) -> Any:
        """Heat map of :meth:`confusion_matrix`; returns the axes.

        Example:
            >>> import matplotlib; matplotlib.use("Agg")
            >>> from synapse_nb.evaluation import evaluate
            >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
            ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
            ...                        "bbox": [0, 0, 40, 40]}]}
            >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
            ...                      "score": 0.9}])
            >>> res.plot_confusion_matrix().get_xlabel()
            'predicted'
        """
        from synapse_nb.evaluation.plots import plot_confusion_matrix

        return plot_confusion_matrix(self.confusion_matrix(iou, score_threshold), ax=ax,
                                     normalize=normalize)


def _status_names(code: np.ndarray) -> np.ndarray:
    return np.where(code == TP, "TP", np.where(code == IGNORED, "ignored", "FP"))
