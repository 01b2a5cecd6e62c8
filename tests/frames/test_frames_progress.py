"""Progress of long ``list_all`` listings: a tqdm bar over 20,000 rows, or on request."""

from __future__ import annotations

import pytest

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client
from synapse_nb.frames import progress as frames_progress


def test_a_progress_callable_sees_every_page_up_to_the_count(client: Client) -> None:
    calls: list[tuple[int, int | None]] = []
    frame = client.list_tasks(
        {"project": 1, "page_size": 50},
        list_all=True,
        progress=lambda rows, count: calls.append((rows, count)),
    )
    count = frame.attrs["synapse"]["count"]
    assert len(calls) == -(-count // 50)  # one call per page
    assert calls[-1] == (len(frame), count)
    assert [rows for rows, _ in calls] == sorted(rows for rows, _ in calls)


def test_progress_true_draws_a_bar_and_small_listings_draw_none(client: Client, capsys) -> None:
    frame = client.list_tasks({"project": 1}, list_all=True, progress=True)
    shown = capsys.readouterr().err
    assert "list_tasks" in shown and f"/{len(frame)}" in shown  # a bar with the right total
    client.list_tasks({"project": 1}, list_all=True)  # 240 rows: under the threshold
    assert "list_tasks" not in capsys.readouterr().err


def test_the_threshold_decides_when_progress_is_none(
    demo, client: Client, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames_progress, "PROGRESS_MIN_ROWS", 100)
    frame = client.list_assignments({"project": 1}, list_all=True)
    assert len(frame) > 100
    assert "list_assignments" in capsys.readouterr().err
    quiet = Client(demo.url, api_token=demo.token, progress=False)
    try:
        quiet.list_assignments({"project": 1}, list_all=True)
        assert "list_assignments" not in capsys.readouterr().err
        quiet.list_assignments({"project": 1}, list_all=True, progress=True)  # the call wins
        assert "list_assignments" in capsys.readouterr().err
    finally:
        quiet.close()


@pytest.mark.parametrize("bad", ["yes", 3])
def test_bad_progress_values_name_the_field(client: Client, bad) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.list_tasks({"project": 1}, list_all=True, progress=bad)
    assert info.value.field == "progress"
    with pytest.raises(InvalidInputError) as info:
        Client(client.base_url, api_token="t", progress=bad)
    assert info.value.field == "progress"


def test_the_bar_counts_rows_as_pages_arrive(capsys) -> None:
    bar = frames_progress.ListingBar("list_jobs", always=True)
    bar(100, 250)
    bar(200, 250)
    bar(250, 250)
    assert bar.bar is not None and (bar.bar.n, bar.bar.total) == (250, 250)
    bar.close()
    unknown = frames_progress.ListingBar("list_jobs")
    unknown(1000, None)  # no count: no bar unless asked for
    assert unknown.bar is None


def test_progress_is_honoured_and_checked_on_cache_hits(demo, tmp_path) -> None:
    with Client(demo.url, api_token=demo.token, cache=tmp_path) as cached:
        query = {"project": 1, "ordering": "-priority"}  # an order a refresh cannot rebuild
        cached.list_tasks(query, list_all=True)
        calls: list[tuple[int, int | None]] = []
        again = cached.list_tasks(
            query, list_all=True, progress=lambda rows, count: calls.append((rows, count))
        )
        assert again.attrs["synapse"]["cache"]["hit"]
        assert calls and calls[-1] == (len(again), len(again))  # the re-listing reported
        with pytest.raises(InvalidInputError) as info:
            cached.list_tasks(query, list_all=True, progress="yes")
        assert info.value.field == "progress"
