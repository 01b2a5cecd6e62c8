"""Explorer review-loop benchmark: a confusion-cell click inside ``explore()``.

Run: ``python benchmarks/bench_explorer_cell.py`` (the demo workspace on an embedded backend,
real HTTP on 127.0.0.1).

Inside ``explore(client, evaluation=panel)`` one click is the panel's own
:meth:`EvaluationPanel.select_cell` plus the Explore tab's share: the live task table filtered
to the cell's tasks (one page request carrying ``id__in``), the chip, and a second compare
preview on the cell's first task. The baseline, measured in the same run, is the panel's click
alone (what ``bench_review.py`` measures at scale); the ratio is explorer click / panel click.

A second table measures the id filter itself as the id list grows (a cell of a large
evaluation names thousands of tasks): one page request with ``id__in`` of N ids, against the
same page request without an id filter.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import numpy as np

from synapse_nb.frames import Client
from synapse_nb.server import start
from synapse_nb.widgets import EvaluationPanel, FilterPanel, explore


def _median_ms(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _worst(matrix) -> tuple[str, str]:
    values = matrix.iloc[:-1, :-1].to_numpy().copy()
    np.fill_diagonal(values, 0)
    i, j = np.unravel_index(values.argmax(), values.shape)
    return str(matrix.index[i]), str(matrix.columns[j])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        srv = start(demo=True, data_dir=tmp)
        try:
            with Client(srv.url, api_token=srv.token) as client:
                result = client.evaluate(ground_truth=2, predictions={"model": 3})
                alone = EvaluationPanel.from_client(client, result)
                linked = EvaluationPanel.from_client(client, result)
                ex = explore(client, project=1, evaluation=linked).load()
                true, predicted = _worst(alone.matrix)
                base = _median_ms(lambda: alone.select_cell(true, predicted))
                click = _median_ms(lambda: ex.select_cell(true, predicted))
                n = len(linked.cell_task_ids)
                print(f"cell {true}→{predicted}: {n} tasks")
                print(f"{'what':40} {'ms':>8} {'ratio':>7}")
                print(f"{'panel click alone (baseline)':40} {base:8.1f} {1.0:7.2f}")
                print(f"{'click inside explore()':40} {click:8.1f} {click / base:7.2f}")
                panel = FilterPanel(client=client, params={"project": 1}).load()
                plain = _median_ms(panel.reload)
                print(f"\n{'page request':40} {'ms':>8} {'ratio':>7}")
                print(f"{'no id filter (baseline)':40} {plain:8.1f} {1.0:7.2f}")
                for size in (10, 1_000, 10_000):
                    panel.filter_ids(range(1, size + 1), "bench")
                    ms = _median_ms(panel.reload)
                    print(f"{f'id__in of {size:,} ids':40} {ms:8.1f} {ms / plain:7.2f}")
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
