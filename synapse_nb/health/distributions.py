"""Per-class size and position distributions and class co-occurrence, as frames.

Example:
    >>> rows = [{"annotation_id": 1, "data_unit_id": 1, "class_name": "car",
    ...          "x": 0, "y": 0, "w": 20, "h": 10},
    ...         {"annotation_id": 2, "data_unit_id": 1, "class_name": "person",
    ...          "x": 50, "y": 50, "w": 10, "h": 40}]
    >>> class_cooccurrence(rows).to_dict()
    {'car': {'car': 1, 'person': 1}, 'person': {'car': 1, 'person': 1}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from synapse_nb.health.annotations import image_size_arrays, prepare_annotations

__all__ = ["annotation_geometry", "class_cooccurrence", "class_size_distribution"]

Rows: TypeAlias = pd.DataFrame | Iterable[Mapping[str, Any]]


def annotation_geometry(annotations: Rows, image_sizes: Mapping[Any, Any] | pd.DataFrame
                        ) -> pd.DataFrame:
    """Per annotation: class, box centre (0-1 of the image), size and aspect.

    Columns: ``data_unit_id``, ``class_name``, ``cx``, ``cy`` (centre as a share of the image
    width/height), ``size`` (square root of the box area, px), ``relative_size`` (square root
    of box area / image area) and ``aspect`` (width / height).

    Example:
        >>> rows = [{"annotation_id": 1, "data_unit_id": 1, "class_name": "car",
        ...          "x": 0, "y": 0, "w": 40, "h": 10}]
        >>> annotation_geometry(rows, {1: (80, 20)}).iloc[0, 2:].astype(float).tolist()
        [0.25, 0.25, 20.0, 0.5, 4.0]
    """
    frame = prepare_annotations(annotations)
    width, height = image_size_arrays(frame["data_unit_id"], image_sizes)
    w, h = frame["w"].to_numpy(np.float64), frame["h"].to_numpy(np.float64)
    area = np.clip(w, 0, None) * np.clip(h, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "data_unit_id": frame["data_unit_id"],
            "class_name": frame["class_name"].astype("string"),
            "cx": pd.array((frame["x"].to_numpy(np.float64) + w / 2) / width, dtype="Float64"),
            "cy": pd.array((frame["y"].to_numpy(np.float64) + h / 2) / height, dtype="Float64"),
            "size": pd.array(np.sqrt(area), dtype="Float64"),
            "relative_size": pd.array(np.sqrt(area / (width * height)), dtype="Float64"),
            "aspect": pd.array(np.where(h > 0, w / h, np.nan), dtype="Float64"),
        }, index=frame.index)
    return out


def class_size_distribution(annotations: Rows,
                            image_sizes: Mapping[Any, Any] | pd.DataFrame,
                            quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
                            ) -> pd.DataFrame:
    """Per class: count, quantiles of the box size, median relative size, aspect and position.

    Returns:
        A frame indexed by ``class_name`` with ``count``, ``size_p<q>`` for each quantile
        (px), ``relative_size_median``, ``aspect_median``, ``cx_mean``, ``cy_mean``,
        ``cx_std`` and ``cy_std``.

    Example:
        >>> rows = [{"annotation_id": k, "data_unit_id": 1, "class_name": "car",
        ...          "x": 0, "y": 0, "w": s, "h": s} for k, s in enumerate([10, 20, 30])]
        >>> dist = class_size_distribution(rows, {1: (100, 100)}, quantiles=(0.5,))
        >>> dist.loc["car", ["count", "size_p50"]].tolist()
        [3.0, 20.0]
    """
    geometry = annotation_geometry(annotations, image_sizes)
    grouped = geometry.astype({c: "float64" for c in ("cx", "cy", "size", "relative_size",
                                                      "aspect")}).groupby("class_name")
    table = pd.DataFrame({"count": grouped.size()})
    for q in quantiles:
        table[f"size_p{round(q * 100):02d}"] = grouped["size"].quantile(q)
    table["relative_size_median"] = grouped["relative_size"].median()
    table["aspect_median"] = grouped["aspect"].median()
    for axis in ("cx", "cy"):
        table[f"{axis}_mean"] = grouped[axis].mean()
        table[f"{axis}_std"] = grouped[axis].std()
    return table.astype({c: "Float64" for c in table.columns if c != "count"})


def class_cooccurrence(annotations: Rows) -> pd.DataFrame:
    """Class × class: in how many data units both classes appear (diagonal: units per class).

    Example:
        >>> rows = [{"annotation_id": k, "data_unit_id": u, "class_name": c,
        ...          "x": 0, "y": 0, "w": 1, "h": 1}
        ...         for k, (u, c) in enumerate([(1, "a"), (1, "b"), (2, "a"), (2, "a")])]
        >>> class_cooccurrence(rows).loc["a"].tolist()
        [2, 1]
    """
    frame = prepare_annotations(annotations)
    present = pd.crosstab(frame["data_unit_id"], frame["class_name"]).clip(upper=1)
    matrix = present.T @ present
    matrix.index.name = matrix.columns.name = "class_name"
    return matrix.astype("int64")
