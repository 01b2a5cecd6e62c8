"""Matplotlib figures of an evaluation: PR curves, per-class bars, confusion matrix, comparison.

Each function draws on ``ax`` (a new figure sized for a notebook cell when None) and returns the
axes, so figures compose in subplots and render inline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from synapse_nb.evaluation.result import EvaluationResult

__all__ = ["plot_comparison", "plot_confusion_matrix", "plot_per_class_ap", "plot_pr_curves"]


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def plot_pr_curves(result: EvaluationResult, iou: float = 0.5, ax: Any = None,
                   top: int = 10) -> Any:
    """Interpolated PR curves of the ``top`` classes by AP at ``iou``, plus their mean (bold).

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from synapse_nb.evaluation import evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
        ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
        ...                        "bbox": [0, 0, 40, 40]}]}
        >>> res = evaluate(gt, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
        ...                      "score": 0.9}])
        >>> plot_pr_curves(res).get_xlabel()
        'recall'
    """
    ax = _axes(ax, (6.5, 4.5))
    column = "AP50" if np.isclose(iou, 0.5) else ("AP75" if np.isclose(iou, 0.75) else "AP")
    table = result.per_class[result.per_class["n_gt"] > 0].sort_values(column, ascending=False)
    for name, row in table.head(top).iterrows():
        curve = result.pr_curve(str(name), iou)
        ax.plot(curve["recall"], curve["precision"], lw=1.2, alpha=0.8,
                label=f"{name} ({row[column]:.2f})")
    mean = result.pr_curve(None, iou)
    ax.plot(mean["recall"], mean["precision"], color="black", lw=2.5, label="mean")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
           title=f"Precision-recall at IoU {iou:.2f}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", frameon=False)
    return ax


def plot_per_class_ap(result: EvaluationResult, metric: str = "AP", ax: Any = None) -> Any:
    """Horizontal bars of ``metric`` per class, best at the top; classes without GT greyed.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from synapse_nb.evaluation import evaluate
        >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "car"}],
        ...       "annotations": []}
        >>> plot_per_class_ap(evaluate(gt, [])).get_xlabel()
        'AP'
    """
    table = result.per_class.sort_values(metric)
    ax = _axes(ax, (6.5, max(2.0, 0.32 * len(table) + 1)))
    values = table[metric].clip(lower=0)
    colors = ["#bbbbbb" if n == 0 else "#3b75af" for n in table["n_gt"]]
    ax.barh([str(i) for i in table.index], values, color=colors)
    for y, v in enumerate(table[metric]):
        ax.text(max(v, 0) + 0.01, y, "no GT" if v < 0 else f"{v:.3f}", va="center", fontsize=8)
    ax.set(xlim=(0, 1.1), xlabel=metric, title=f"{metric} per class")
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_confusion_matrix(matrix: pd.DataFrame, ax: Any = None, normalize: bool = False) -> Any:
    """Heat map of a confusion matrix frame (rows true, columns predicted), counts annotated.

    ``normalize`` divides each row by its total (the share of a true class predicted as ...).

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> m = pd.DataFrame([[3, 1], [2, 0]], index=["car", "background"],
        ...                  columns=["car", "background"])
        >>> plot_confusion_matrix(m).get_ylabel()
        'true'
    """
    values = matrix.to_numpy().astype(float)
    shown = values / np.maximum(values.sum(axis=1, keepdims=True), 1) if normalize else values
    n = len(matrix)
    ax = _axes(ax, (max(4.5, 0.55 * n + 2), max(4.0, 0.5 * n + 1.5)))
    image = ax.imshow(np.log1p(shown) if not normalize else shown, cmap="Blues")
    ax.set_xticks(range(n), [str(c) for c in matrix.columns], rotation=45, ha="right")
    ax.set_yticks(range(n), [str(i) for i in matrix.index])
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
    limit = float(np.asarray(image.get_array()).max()) if n else 0.0
    for (i, j), v in np.ndenumerate(shown):
        if v:
            text = f"{v:.2f}" if normalize else f"{int(v)}"
            light = np.log1p(v) if not normalize else v
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if light > 0.6 * limit else "black")
    return ax


def plot_comparison(table: pd.DataFrame, metrics: tuple[str, ...] = ("AP", "AP50", "AP75"),
                    ax: Any = None) -> Any:
    """Grouped bars: one group per metric, one bar per model (``table``: models × metrics).

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> t = pd.DataFrame({"AP": [.3, .4], "AP50": [.5, .6], "AP75": [.2, .3]},
        ...                  index=["a", "b"])
        >>> len(plot_comparison(t).patches)
        6
    """
    ax = _axes(ax, (6.5, 3.8))
    width = 0.8 / max(len(table), 1)
    x = np.arange(len(metrics))
    for i, (name, row) in enumerate(table.iterrows()):
        values = [max(float(row[m]), 0.0) for m in metrics]
        bars = ax.bar(x + (i - (len(table) - 1) / 2) * width, values, width, label=str(name))
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks(x, list(metrics))
    ax.set(ylim=(0, 1.05), ylabel="value", title="Model comparison")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax
