"""split() and details(): reproducibility, stratification, consistency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client, details, split


def synthetic(n: int = 1000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.choice(["car", "person", "dog", "bus"], size=n, p=[0.6, 0.25, 0.1, 0.05])
    classes = [[str(label)] + (["person"] if rng.random() < 0.3 else []) for label in labels]
    classes[:20] = [[] for _ in range(20)]
    return pd.DataFrame(
        {"classes": classes, "status": rng.choice(["a", "b"], size=n)},
        index=pd.Index(np.arange(10, 10 + n), name="id"),
    )


def test_same_seed_same_split_whatever_the_row_order() -> None:
    frame = synthetic()
    first = split(frame, seed=7)["split"]
    shuffled = frame.sample(frac=1, random_state=1)
    again = split(shuffled, seed=7)["split"].reindex(first.index)
    assert first.equals(again)
    other = split(frame, seed=8)["split"]
    assert not first.equals(other)


def test_fractions_are_respected() -> None:
    out = split(synthetic(), val=0.2, test=0.1, seed=0)
    shares = out["split"].value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.7, abs=0.02)
    assert shares["val"] == pytest.approx(0.2, abs=0.02)
    assert shares["test"] == pytest.approx(0.1, abs=0.02)
    assert list(out["split"].cat.categories) == ["train", "val", "test"]


def test_stratified_by_rarest_class() -> None:
    frame = synthetic(2000)
    out = split(frame, val=0.2, test=0.2, seed=0)
    d = details(out)
    shares = d.distribution[["train", "val", "test"]].div(d.distribution["total"], axis=0)
    for label in ("car", "dog", "bus"):  # each class keeps the global proportions
        assert shares.loc[label, "train"] == pytest.approx(0.6, abs=0.05), label
        assert shares.loc[label, "val"] == pytest.approx(0.2, abs=0.05), label
        assert shares.loc[label, "test"] == pytest.approx(0.2, abs=0.05), label
    plain = split(frame, val=0.2, test=0.2, seed=0, stratify=None)
    plain_bus = details(plain).distribution.loc["bus", ["train", "val", "test"]]
    strat_bus = d.distribution.loc["bus", ["train", "val", "test"]]
    expected = np.array([0.6, 0.2, 0.2]) * strat_bus.sum()
    assert np.abs(strat_bus - expected).sum() <= np.abs(plain_bus - expected).sum()


def test_tiny_classes_are_pooled_not_dropped() -> None:
    frame = pd.DataFrame(
        {"classes": [["a"]] * 30 + [["rare"]] * 3},
        index=pd.Index(range(33), name="id"),
    )
    out = split(frame, val=0.2, test=0.1, seed=0)
    assert out["split"].notna().all()
    assert len(out) == 33


def test_stratify_by_any_column_and_bad_arguments() -> None:
    frame = synthetic()
    out = split(frame, stratify="status", val=0.5, test=0.0)
    table = pd.crosstab(out["status"], out["split"])
    for status in ("a", "b"):
        assert table.loc[status, "val"] == pytest.approx(table.loc[status].sum() / 2, abs=1)
    for kwargs, field in [
        ({"val": 0.6, "test": 0.5}, "val"),
        ({"val": -0.1}, "val"),
        ({"test": "0.1"}, "test"),
        ({"stratify": "nope"}, "stratify"),
        ({"seed": 1.5}, "seed"),
    ]:
        with pytest.raises(InvalidInputError, match=field):
            split(frame, **kwargs)
    assert "split" not in frame.columns  # a copy is returned


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"seed": -1}, "seed"),
    ({"column": 5}, "column"), ({"column": ""}, "column"), ({"column": "  "}, "column"),
    ({"column": None}, "column"),
])
def test_a_negative_seed_or_a_bad_column_name_is_refused_naming_it(kwargs, field) -> None:
    frame = synthetic(50)
    with pytest.raises(InvalidInputError) as info:
        split(frame, **kwargs)
    assert info.value.field == field and repr(next(iter(kwargs.values()))) in str(info.value)
    assert list(frame.columns) == list(synthetic(50).columns)  # nothing was written


def test_a_numpy_seed_is_the_int_it_holds() -> None:
    frame = synthetic(200)
    pd.testing.assert_series_equal(split(frame, seed=np.int64(7))["split"],
                                   split(frame, seed=7)["split"])
    with pytest.raises(InvalidInputError, match="seed"):
        split(frame, seed=np.int64(-3))


def test_details_are_consistent() -> None:
    out = split(synthetic(), seed=2)
    d = details(out)
    assert d.labels["label_id"].tolist() == list(range(len(d.labels)))
    assert list(d.labels.index) == sorted(d.labels.index)
    assert (d.distribution["total"] == d.labels["n_items"]).all()
    assert (d.distribution[["train", "val", "test"]].sum(axis=1) == d.distribution["total"]).all()
    assert int(d.splits["n_items"].sum()) == len(out)
    assert d.splits["n_items"].to_dict() == out["split"].value_counts().to_dict()
    for label in d.labels.index:
        expected = sorted(pk for pk, c in out["classes"].items() if label in c)
        assert sorted(d.items_of(label)) == expected
    grouped = d.items.groupby(["class_name", "split"], observed=True).size()
    for (label, part), n in grouped.items():
        assert d.distribution.loc[label, part] == n
    unsplit = details(synthetic())
    assert list(unsplit.distribution.columns) == ["all", "total"]


def test_split_and_details_on_a_live_frame(client: Client) -> None:
    tasks = client.list_tasks({"project": 1}, list_all=True)
    out = tasks.synapse.split(val=0.2, test=0.1, seed=0)
    assert out.synapse.kind == "task"
    again = client.list_tasks({"project": 1}, list_all=True).synapse.split(seed=0)
    assert out["split"].equals(again["split"])
    d = out.synapse.details()
    assert set(d.labels.index) == {c for cs in tasks["classes"] for c in cs}
    assert int(d.splits["n_items"].sum()) == len(tasks)
