"""A job's logged metrics as a small inline SVG line chart (no plotting library needed).

The chart reads ``metrics_record.record`` the way the backend's executor writes it,
``{category: {step: {metric: value}}}``, and draws the first category whose steps are numbers
(``epoch`` for the built-in trainer): one line per metric, each on its own scale, with its
last value in the legend.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

PALETTE = ("#42a5f5", "#ef5350", "#66bb6a", "#ffb300", "#ab47bc", "#26c6da")
WIDTH, HEIGHT, PAD = 360, 110, 6

Series = dict[str, list[tuple[float, float]]]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def metric_series(job: Mapping[str, Any]) -> tuple[str, Series] | None:
    """``(category, {metric: [(step, value), ...]})`` of a job, None when it logged none.

    Example:
        >>> metric_series({"metrics_record": {"record": {"epoch": {"2": {"loss": 0.5},
        ...                                                        "1": {"loss": 0.9}}}}})
        ('epoch', {'loss': [(1.0, 0.9), (2.0, 0.5)]})
    """
    record = job.get("metrics_record")
    categories = record.get("record") if isinstance(record, Mapping) else None
    if not isinstance(categories, Mapping):
        return None
    for category, steps in categories.items():
        if not isinstance(steps, Mapping):
            continue
        series: Series = {}
        for step, values in steps.items():
            x = _number(step)
            if x is None or not isinstance(values, Mapping):
                continue
            for name, value in values.items():
                y = _number(value)
                if y is not None:
                    series.setdefault(str(name), []).append((x, y))
        if series:
            return str(category), {name: sorted(points) for name, points in series.items()}
    return None


def _polyline(points: list[tuple[float, float]], x0: float, x1: float, color: str) -> str:
    ys = [y for _, y in points]
    low, high = min(ys), max(ys)
    span_x, span_y = (x1 - x0) or 1.0, (high - low) or 1.0
    coords = " ".join(
        f"{PAD + (x - x0) / span_x * (WIDTH - 2 * PAD):.1f},"
        f"{HEIGHT - PAD - (y - low) / span_y * (HEIGHT - 2 * PAD):.1f}"
        for x, y in points
    )
    return f"<polyline fill='none' stroke='{color}' stroke-width='1.5' points='{coords}'/>"


def metrics_html(job: Mapping[str, Any]) -> str:
    """The chart of a job's metrics as HTML, or "" when the job logged no metrics.

    Example:
        >>> "<svg" in metrics_html({"metrics_record": {"record": {"epoch": {"1": {"loss": 1}}}}})
        True
        >>> metrics_html({})
        ''
    """
    found = metric_series(job)
    if found is None:
        return ""
    category, series = found
    xs = [x for points in series.values() for x, _ in points]
    lines, legend = [], []
    for i, (name, points) in enumerate(sorted(series.items())):
        color = PALETTE[i % len(PALETTE)]
        lines.append(_polyline(points, min(xs), max(xs), color))
        legend.append(
            f"<span style='color:{color}'>■ {html.escape(name)} {points[-1][1]:.4g}</span>"
        )
    return (
        f"<div class='snb-job-metrics' style='font-size:12px'>"
        f"<svg width='{WIDTH}' height='{HEIGHT}' style='background:#fafafa'>{''.join(lines)}</svg>"
        f"<div>{html.escape(category)} {min(xs):g}–{max(xs):g} · {' '.join(legend)}</div></div>"
    )
