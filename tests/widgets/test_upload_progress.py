"""UploadProgress against real chunked uploads to the embedded backend (dummy comm)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from collections.abc import Iterator

import pytest
from part_a_helpers import (  # noqa: F401 - fixtures
    dummy_comm,
    frontend_click,
    journal_mark,
    requests_since,
    sent_updates,
)

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.server import ServerHandle, start
from synapse_nb.widgets.upload import UploadCancelled, UploadProgress, widget_frontend

pytestmark = pytest.mark.usefixtures("dummy_comm")

CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    """A private backend: these tests inject latency and faults."""
    srv = start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(server: ServerHandle) -> Iterator[BackendClient]:
    server.set_faults()
    with BackendClient(server.url, api_token=server.token, retry=0) as c:
        yield c
    server.set_faults()


def make_file(directory, name: str, size: int) -> tuple[str, str]:
    path = directory / name
    data = os.urandom(size)
    path.write_bytes(data)
    return str(path), hashlib.md5(data).hexdigest()


def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def chunk_puts(entries) -> list[str]:
    return [
        r["headers"].get("content-range", "")
        for r in entries
        if r["method"] == "PUT" and "chunked_upload" in r["path"]
    ]


# ---------------------------------------------------------------------------- callback


def test_as_the_clients_progress_callback(client, tmp_path):
    path, md5 = make_file(tmp_path, "one.bin", 5 * CHUNK + 123)
    bar = UploadProgress(display="widget")
    reply = client.create_chunked_upload(path, chunk_size=CHUNK, progress=bar)
    assert reply["checksum"] == md5
    state = bar.get_state()
    assert state["sent_bytes"] == state["total_bytes"] == 5 * CHUNK + 123
    assert state["status"] == "done"
    assert [f["status"] for f in state["files"]] == ["done"]
    assert bar._total.value == 1.0 and bar._total.bar_style == "success"
    assert "100%" in bar._header.value
    values = [u["value"] for u in sent_updates(bar._total) if "value" in u]
    assert values == sorted(values) and values[-1] == 1.0


def test_callback_per_file_and_totals(client, tmp_path):
    paths = [make_file(tmp_path, f"f{i}.bin", (i + 1) * CHUNK)[0] for i in range(3)]
    bar = UploadProgress(display="widget")
    for path in paths:
        client.create_chunked_upload(path, chunk_size=CHUNK, progress=bar.callback(path))
    assert [f["name"] for f in bar.files] == ["f0.bin", "f1.bin", "f2.bin"]
    assert bar.total_bytes == 6 * CHUNK and bar.sent_bytes == 6 * CHUNK
    rows = bar._rows.children
    assert len(rows) == 3 and all(row.children[1].value == 1.0 for row in rows)


# ---------------------------------------------------------------------------- upload()


def test_upload_runs_in_the_background_and_collects_results(client, tmp_path):
    made = [make_file(tmp_path, f"u{i}.bin", 3 * CHUNK + i) for i in range(2)]
    bar = UploadProgress([p for p, _ in made], chunk_size=CHUNK, display="widget")
    assert bar.total_bytes == 6 * CHUNK + 1 and bar.status == "idle"
    finished = []
    bar.on_complete(finished.append)
    assert bar.upload(client) is bar
    bar.wait(60)
    assert finished == [bar]
    assert bar.status == "done"
    assert {p: r["checksum"] for p, r in bar.results.items()} == dict(made)


def test_the_cancel_button_shows_only_while_uploading(server, client, tmp_path):
    path, _md5 = make_file(tmp_path, "c.bin", 12 * CHUNK)
    server.set_faults(latency_ms=25)
    bar = UploadProgress([path], chunk_size=CHUNK, display="widget")
    assert bar._cancel.layout.display == "none"  # nothing to cancel yet
    bar.upload(client)
    wait_until(lambda: bar.sent_bytes >= 2 * CHUNK and bar.draws > 1)
    bar._draw(force=True)
    assert bar._cancel.layout.display is None and bar._cancel.disabled is False
    bar.wait(60)
    assert bar.status == "done"
    assert bar._cancel.layout.display == "none"


def test_cancel_click_stops_between_chunks_and_retry_resumes(server, client, tmp_path):
    big, md5 = make_file(tmp_path, "big.bin", 40 * CHUNK + 17)
    other, _ = make_file(tmp_path, "other.bin", 2 * CHUNK)
    server.set_faults(latency_ms=25)  # slow enough to click while chunks are in flight
    bar = UploadProgress([big, other], chunk_size=CHUNK, display="widget")
    cancelled = []
    bar.on_cancel(cancelled.append)
    bar.upload(client)
    wait_until(lambda: bar.sent_bytes >= 5 * CHUNK)
    frontend_click(bar._cancel)
    assert cancelled == [bar] and bar.get_state()["cancel_requested"] is True
    bar.wait(60)
    assert bar.status == "cancelled"
    first, second = bar.files
    assert first["status"] == "cancelled" and second["status"] == "cancelled"
    assert second["sent"] == 0 and second["upload_id"] is None  # never started
    state = client.get_chunked_upload(first["upload_id"])
    assert state["completed_at"] is None
    assert state["offset"] == first["sent"] and state["offset"] % CHUNK == 0
    assert 5 * CHUNK <= state["offset"] < 40 * CHUNK
    retry_buttons = [row.children[3] for row in bar._rows.children]
    assert all(b.layout.display is None for b in retry_buttons)

    mark = journal_mark(server)
    frontend_click(retry_buttons[0])
    frontend_click(retry_buttons[1])  # while the first runs: queued behind it
    assert [f["status"] for f in bar.files] in (
        ["uploading", "waiting"],
        ["waiting", "waiting"],
    )
    assert all(b.layout.display == "none" for b in retry_buttons)
    bar.wait(60)
    ranges = chunk_puts(requests_since(server, mark))
    assert ranges[0].startswith(f"bytes {state['offset']}-"), ranges[:2]
    assert bar.results[big]["checksum"] == md5
    assert bar.status == "done" and bar.results[other]["id"]
    assert [f["status"] for f in bar.files] == ["done", "done"]


def test_failed_file_shows_its_error_and_retry_finishes_it(server, client, tmp_path):
    path, md5 = make_file(tmp_path, "flaky.bin", 12 * CHUNK)
    server.set_faults(latency_ms=20)
    bar = UploadProgress([path], chunk_size=CHUNK, display="widget")
    bar.upload(client, resume_timeout=0.3)
    wait_until(lambda: bar.sent_bytes >= 3 * CHUNK)
    server.set_faults(rate_503=1.0, retry_after=0.01, paths=("chunked_upload",))
    bar.wait(60)
    entry = bar.files[0]
    assert bar.status == "failed" and entry["status"] == "failed"
    assert "interrupted at byte" in entry["error"] and entry["upload_id"]
    assert "1 file(s) failed" in bar._message.value
    assert "failed" in bar._rows.children[0].children[2].value
    assert bar._total.bar_style == "danger"

    server.set_faults()
    frontend_click(bar._rows.children[0].children[3])
    bar.wait(60)
    assert bar.status == "done" and bar.results[path]["checksum"] == md5
    assert bar._message.value == ""


def test_bare_callback_cancel_raises_with_the_resume_note(server, client, tmp_path):
    path, md5 = make_file(tmp_path, "bare.bin", 10 * CHUNK)
    bar = UploadProgress(chunk_size=CHUNK, display="widget")

    def progress(sent: int, total: int) -> None:
        if sent >= 4 * CHUNK:
            bar.cancel()
        bar(sent, total)

    with pytest.raises(UploadCancelled) as caught:
        client.create_chunked_upload(path, chunk_size=CHUNK, progress=progress)
    note = "\n".join(caught.value.__notes__)
    upload_id = re.search(r"upload_id='([^']+)'", note).group(1)
    state = client.get_chunked_upload(upload_id)
    assert state["offset"] == 4 * CHUNK and state["completed_at"] is None
    assert bar.files[0]["status"] == "cancelled" and bar.status == "cancelled"
    done = client.create_chunked_upload(path, chunk_size=CHUNK, upload_id=upload_id)
    assert done["checksum"] == md5


# ---------------------------------------------------------------------------- drawing


def test_redraws_are_throttled_to_ten_a_second():
    bar = UploadProgress(display="widget", throttle=0.1)
    report = bar.callback("stream.bin")
    started = time.monotonic()
    total = 50_000_000
    for sent in range(0, total, 10_000):
        report(sent, total)
    elapsed = time.monotonic() - started
    assert bar.sent_bytes < total
    draws_allowed = elapsed / 0.1 + 2  # plus the forced first draw and one at the edge
    assert bar.draws <= draws_allowed + 1, (bar.draws, elapsed)
    total_bar_updates = [u for u in sent_updates(bar._total) if "value" in u]
    assert len(total_bar_updates) <= draws_allowed + 1
    report(total, total)  # the last report is always drawn
    assert bar._total.value == 1.0 and bar.status == "done"


def test_rate_and_eta_follow_the_reports():
    bar = UploadProgress(display="widget", throttle=0.0)
    report = bar.callback("timed.bin")
    total = 10_000_000
    started = time.monotonic()
    for step in range(6):
        report(step * 200_000, total)
        time.sleep(0.05)
    report(6 * 200_000, total)
    elapsed = time.monotonic() - started
    assert bar.rate >= 1_200_000 / elapsed * 0.99  # at least the average over the whole run
    assert bar.rate <= 1_200_000 / 0.25  # the sleeps lasted at least 0.05 s each
    assert bar.eta == pytest.approx((total - bar.sent_bytes) / bar.rate, rel=1e-6)
    assert " left" in bar._header.value and "/s" in bar._header.value


def test_text_fallback_without_a_frontend(client, tmp_path, monkeypatch):
    monkeypatch.delenv("SYNAPSE_NB_WIDGETS", raising=False)
    assert widget_frontend() is False  # plain pytest: no Jupyter kernel
    path, _ = make_file(tmp_path, "text.bin", 4 * CHUNK)
    out = io.StringIO()
    bar = UploadProgress([path], chunk_size=CHUNK, text_file=out)
    assert bar.frontend == "text"
    bar.upload(client)  # no frontend: runs in the cell, Ctrl-C stops it
    assert bar._thread is None and bar.status == "done"
    text = out.getvalue()
    assert "100%" in text and "text.bin: done" in text
    monkeypatch.setenv("SYNAPSE_NB_WIDGETS", "1")
    assert UploadProgress().frontend == "widget"
    monkeypatch.setenv("SYNAPSE_NB_WIDGETS", "0")
    assert UploadProgress(display="widget").frontend == "widget"  # explicit beats the env


def test_text_fallback_reports_a_cancel_with_its_upload(client, tmp_path):
    path, _ = make_file(tmp_path, "stop.bin", 8 * CHUNK)
    out = io.StringIO()
    bar = UploadProgress([path], chunk_size=CHUNK, display="text", text_file=out)
    bar.on_complete(lambda w: None)
    original = bar._report

    def report(entry, sent, total):
        if sent >= 2 * CHUNK:
            bar.cancel()
        original(entry, sent, total)

    bar._report = report  # type: ignore[method-assign]
    bar.upload(client)
    entry = bar.files[0]
    assert entry["status"] == "cancelled" and entry["sent"] == 2 * CHUNK
    assert f"stop.bin: cancelled; resume with retry() (upload {entry['upload_id']})" in (
        out.getvalue()
    )


# ---------------------------------------------------------------------------- bad input


def test_bad_input_names_the_field(server, client, tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    mark = journal_mark(server)
    with pytest.raises(InvalidInputError, match=r"invalid files\[0\]='/nope/x.bin': no such file"):
        UploadProgress(["/nope/x.bin"])
    with pytest.raises(InvalidInputError, match=r"files\[0\]=.*empty.bin': file is empty"):
        UploadProgress([empty])
    with pytest.raises(InvalidInputError, match=r"invalid chunk_size=0"):
        UploadProgress(chunk_size=0)
    with pytest.raises(InvalidInputError, match=r"invalid display='html'"):
        UploadProgress(display="html")
    with pytest.raises(InvalidInputError, match=r"invalid throttle=-1"):
        UploadProgress(throttle=-1)
    bar = UploadProgress(display="widget")
    with pytest.raises(InvalidInputError, match=r"invalid client='object'"):
        bar.upload(object())
    with pytest.raises(InvalidInputError, match=r"no upload\(\) ran yet"):
        bar.retry()
    with pytest.raises(InvalidInputError, match=r"invalid name=''"):
        bar.callback("")
    assert requests_since(server, mark) == []
