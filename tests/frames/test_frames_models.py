"""compare_models on the live model frame, and its plot."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client, compare_models, plot_models

matplotlib.use("Agg")


def test_compare_models_ranks_and_deltas(client: Client) -> None:
    models = client.list_models({"project": 1})
    table = compare_models(models, ["mAP", "latency_ms"])
    assert list(table.columns) == [
        "id",
        "mAP",
        "latency_ms",
        "delta_mAP",
        "delta_latency_ms",
        "rank",
    ]
    assert table["rank"].tolist() == sorted(table["rank"].tolist())
    assert table["mAP"].iloc[0] == models["metric_mAP"].max()
    oldest = models["created"].idxmin()
    baseline = table[table["id"] == oldest]
    assert baseline["delta_mAP"].iloc[0] == 0
    for _, row in table.iterrows():
        expected = models.at[row["id"], "metric_mAP"] - models.at[oldest, "metric_mAP"]
        assert row["delta_mAP"] == pytest.approx(expected, abs=1e-6)
    per_class = compare_models(models, "per_class_AP", baseline=int(models.index[-1]))
    assert "per_class_AP.car" in per_class.columns
    assert (per_class[per_class["id"] == models.index[-1]]["delta_per_class_AP.car"] == 0).all()


def test_lower_is_better_metrics_rank_ascending() -> None:
    models = pd.DataFrame(
        {"name": ["a", "b"], "version": ["1", "1"], "metric_latency_ms": [30.0, 10.0]},
        index=pd.Index([1, 2], name="id"),
    )
    assert compare_models(models)["id"].tolist() == [2, 1]


def test_bad_metric_names_are_reported(client: Client) -> None:
    models = client.list_models({"project": 1})
    with pytest.raises(InvalidInputError, match="not a metric"):
        compare_models(models, "accuracy")
    with pytest.raises(InvalidInputError, match="baseline"):
        compare_models(models, baseline=99999)
    with pytest.raises(InvalidInputError, match="non-empty"):
        compare_models(models.iloc[0:0])


def test_plot_draws_one_bar_per_model_and_metric(client: Client) -> None:
    import matplotlib.pyplot as plt

    models = client.list_models({"project": 1})
    table = compare_models(models, ["mAP", "recall"])
    ax = plot_models(table, ["mAP", "recall"])
    assert len(ax.patches) == len(models) * 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mAP", "recall"]
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted([*table["mAP"].astype(float), *table["recall"].astype(float)])
    plt.close("all")
    every = plot_models(compare_models(models))  # all metrics: still fits a notebook cell
    width, height = every.figure.get_size_inches()
    assert 4 <= width <= 12 and height == 3.5
    plt.close("all")
    fig, own_ax = plt.subplots()
    compare_models(models, "mAP", plot=True, ax=own_ax)
    assert len(own_ax.patches) == len(models)
    plt.close(fig)
