"""Shared checks of the frames tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.frames.schemas import SCHEMAS


def assert_schema(frame: pd.DataFrame, kind: str, *, extra: tuple[str, ...] = ()) -> None:
    """Columns in schema order (then ``extra``), every dtype as declared, index ``id``."""
    schema = SCHEMAS[kind]
    names = schema.names
    prefix = schema.dynamic_prefix
    dynamic = [c for c in frame.columns if prefix and str(c).startswith(prefix)]
    assert list(frame.columns) == [*names, *extra, *dynamic]
    assert frame.index.name == "id"
    if schema.index_dtype == "string":
        assert isinstance(frame.index.dtype, pd.StringDtype)
    else:
        assert frame.index.dtype == pd.Int64Dtype()
    for column in schema.columns:
        dtype = frame[column.name].dtype
        expected = column.dtype
        if expected == "Int64":
            assert dtype == pd.Int64Dtype(), column.name
        elif expected == "Int32":
            assert dtype == pd.Int32Dtype(), column.name
        elif expected == "list[string]":
            assert str(dtype) == "list<item: string>[pyarrow]", column.name
        elif expected == "Float64":
            assert dtype == pd.Float64Dtype(), column.name
        elif expected == "boolean":
            assert dtype == pd.BooleanDtype(), column.name
        elif expected == "string":
            assert isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA, column.name
        elif expected == "category":
            assert isinstance(dtype, pd.CategoricalDtype), column.name
            assert list(dtype.categories[: len(column.categories)]) == list(column.categories)
        elif expected == "datetime":
            assert str(dtype) == "datetime64[ns, UTC]", column.name
        else:
            assert dtype == np.dtype("O"), column.name
    for name in dynamic:
        assert frame[name].dtype == pd.Float64Dtype(), name


def primary_url(record: dict[str, Any]) -> str | None:
    files = record.get("files") or {}
    for entry in files.values():
        if entry.get("is_primary"):
            return entry["url"]
    return None


def tool_counts(data: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in data.get("images", []):
        for tool, anns in item.items():
            counts[tool] = counts.get(tool, 0) + len(anns)
    return counts


def paths(srv: Any, method: str = "GET") -> list[str]:
    return [r["path"] for r in list(srv.requests) if r["method"] == method]
