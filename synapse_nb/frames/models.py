"""Comparing models by their metrics: a frame to sort and read, and a grouped bar plot.

Example:
    >>> import pandas as pd
    >>> models = pd.DataFrame({"name": ["a", "b"], "version": ["1", "2"],
    ...                        "metric_mAP": [0.4, 0.5], "metric_latency_ms": [30.0, 20.0]},
    ...                       index=pd.Index([1, 2], name="id"))
    >>> cmp = compare_models(models)
    >>> cmp.index.tolist(), cmp["mAP"].tolist(), cmp["delta_mAP"].tolist()
    (['b 2', 'a 1'], [0.5, 0.4], [0.1, 0.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from synapse_nb.exceptions import InvalidInputError

__all__ = ["compare_models", "plot_models"]

PREFIX = "metric_"

#: Metrics where smaller is better (for the ``best`` row and the ranking).
LOWER_IS_BETTER = ("latency", "loss", "error", "time", "_ms")


def _lower_is_better(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in LOWER_IS_BETTER)


def _select(models: pd.DataFrame, metrics: str | Sequence[str] | None) -> list[str]:
    available = [c for c in models.columns if str(c).startswith(PREFIX)]
    if not available:
        raise InvalidInputError(
            "models", list(models.columns)[:8], "has no metric_* columns", method="compare_models"
        )
    if metrics is None:
        top = [c for c in available if "." not in c]
        return top or available
    wanted = [metrics] if isinstance(metrics, str) else list(metrics)
    chosen: list[str] = []
    for name in wanted:
        column = name if name.startswith(PREFIX) else PREFIX + name
        group = [c for c in available if c.startswith(column + ".")]
        if column in available:
            chosen.append(column)
        elif group:  # a nested metric: every sub-metric (per_class_AP -> .car, .dog ...)
            chosen.extend(group)
        else:
            raise InvalidInputError(
                "metrics",
                name,
                f"is not a metric of these models; available: "
                f"{[c[len(PREFIX) :] for c in available]}",
                method="compare_models",
            )
    return chosen


def _labels(models: pd.DataFrame) -> list[str]:
    names = models["name"].astype(object).tolist() if "name" in models else [None] * len(models)
    versions = (
        models["version"].astype(object).tolist() if "version" in models else [None] * len(models)
    )
    labels = []
    for pk, name, version in zip(models.index.tolist(), names, versions, strict=True):
        parts = [str(p) for p in (name, version) if p is not None and not pd.isna(p) and p != ""]
        labels.append(" ".join(parts) or f"model {pk}")
    if len(set(labels)) < len(labels):
        labels = [f"{label} (#{pk})" for label, pk in zip(labels, models.index, strict=True)]
    return labels


def compare_models(
    models: pd.DataFrame,
    metrics: str | Sequence[str] | None = None,
    *,
    baseline: Any = None,
    plot: bool = False,
    ax: Any = None,
) -> pd.DataFrame:
    """Models side by side: chosen metrics, the change against a baseline, and a rank.

    Args:
        models: A model frame (``Client.list_models``), one row per model.
        metrics: Metric names (``'mAP'`` or ``'metric_mAP'``; a nested group such as
            ``'per_class_AP'`` expands to its members); default: every top-level metric.
        baseline: Model id to compare against (default: the oldest, i.e. the first row
            by ``created`` or by id).
        plot: Also draw :func:`plot_models` (matplotlib).
        ax: Axes to draw on when ``plot`` is set.

    Returns:
        Frame indexed by model label (``name version``): ``id``, the metrics (without the
        ``metric_`` prefix), ``delta_<metric>`` against the baseline, and ``rank`` by the
        first metric (1 = best; lower is better for latency/loss/error/time metrics);
        sorted by rank.

    Example:
        >>> models = client.list_models({"project": 1}).loc[[1, 3, 5]]
        >>> compare_models(models, ["mAP", "recall"])
                        id    mAP  recall  delta_mAP  delta_recall  rank
        model
        yolo-v8n 2.0.0   3  0.489   0.604      0.077         0.074     1
        detr-r50 1.2.0   5  0.473   0.555      0.061         0.025     2
        yolo-v8n 1.0.0   1  0.412    0.53        0.0           0.0     3
    """
    if not isinstance(models, pd.DataFrame) or models.empty:
        raise InvalidInputError(
            "models",
            type(models).__name__,
            "must be a non-empty model frame",
            method="compare_models",
        )
    columns = _select(models, metrics)
    if baseline is None:
        base_pos = (
            int(models["created"].reset_index(drop=True).idxmin())
            if "created" in models and models["created"].notna().any()
            else 0
        )
    else:
        if baseline not in models.index:
            raise InvalidInputError(
                "baseline", baseline, "is not a model id of the frame", method="compare_models"
            )
        base_pos = int(models.index.get_loc(baseline))
    names = [c[len(PREFIX) :] for c in columns]
    out = pd.DataFrame(index=pd.Index(_labels(models), name="model"))
    out["id"] = pd.array(models.index.tolist(), dtype=models.index.dtype)
    for column, name in zip(columns, names, strict=True):
        values = models[column].astype("Float64").to_numpy()
        out[name] = pd.array(values, dtype="Float64")
    for name in names:
        out[f"delta_{name}"] = (out[name] - out[name].iloc[base_pos]).round(6)
    first = names[0]
    ascending = _lower_is_better(first)
    out["rank"] = out[first].rank(ascending=ascending, method="min").astype("Int64")
    out = out.sort_values(["rank"], kind="stable")
    out.attrs["synapse"] = {
        "kind": "model_comparison",
        "baseline": models.index.tolist()[base_pos],
    }
    if plot:
        plot_models(out, names, ax=ax)
    return out


def plot_models(
    comparison: pd.DataFrame, metrics: Sequence[str] | None = None, *, ax: Any = None
) -> Any:
    """Grouped bar chart of a :func:`compare_models` frame (one group per metric).

    Args:
        comparison: The frame :func:`compare_models` returned (or a model frame, which is
            compared first).
        metrics: Which of its metric columns to draw (default: all but deltas and rank).
        ax: Matplotlib Axes to draw on (a new figure otherwise).

    Returns:
        The matplotlib Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")  # no display needed
        >>> models = client.list_models({"project": 1}).loc[[1, 3, 5]]
        >>> ax = plot_models(compare_models(models, ["mAP", "recall"]))
        >>> [label.get_text() for label in ax.get_xticklabels()]
        ['mAP', 'recall']

    """
    import matplotlib.pyplot as plt  # lazy: plotting is optional and slow to import

    if any(str(c).startswith(PREFIX) for c in comparison.columns):
        comparison = compare_models(comparison, metrics)
        metrics = None
    names = (
        list(metrics)
        if metrics is not None
        else [
            c for c in comparison.columns if c not in ("id", "rank") and not c.startswith("delta_")
        ]
    )
    data = comparison[names].astype(float)
    if ax is None:
        bars = len(names) * max(1, len(data))
        # wide enough for the bars, but never wider than a notebook cell (about 12 in)
        _fig, ax = plt.subplots(figsize=(min(12.0, max(4.0, 1.0 + 0.3 * bars)), 3.5))
    width = 0.8 / max(1, len(data))
    for i, (label, row) in enumerate(data.iterrows()):
        positions = [j + i * width for j in range(len(names))]
        ax.bar(positions, row.to_numpy(), width=width, label=str(label))
    ax.set_xticks([j + width * (len(data) - 1) / 2 for j in range(len(names))])
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("value")
    ax.set_title("Model comparison")
    # outside the axes, to the right: over the bars it would hide the tallest ones
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.figure.tight_layout()
    return ax
