"""Chunked upload: wire format, progress, faults, finalize-lost, and resume after restarts."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import threading
import time

import pytest
from client_helpers import make_file
from hostile import json_reply

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import (
    ClientError,
    InvalidInputError,
    ServerError,
    UploadInterruptedError,
)
from synapse_nb.server import start

MiB = 1024 * 1024
TOKEN = "known-token-for-restarts"
FAST_RETRY = {"total": 6, "backoff_factor": 0.05, "backoff_jitter": 0.05, "backoff_max": 0.5}


def md5_of(path):
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(8 * MiB):
            digest.update(block)
    return digest.hexdigest()


def test_chunks_follow_the_content_range_protocol(client, wire, tmp_path):
    path = make_file(tmp_path / "archive.zip", 5 * MiB + 123, seed=1)
    seen: list[tuple[int, int]] = []
    result = client.create_chunked_upload(
        path, chunk_size=2 * MiB, progress=lambda sent, total: seen.append((sent, total))
    )
    assert result["checksum"] == md5_of(path) and result["id"] and result["completed_at"]
    puts = wire.all("PUT", prefix="chunked_upload/")
    total = path.stat().st_size
    assert [p["headers"]["content-range"] for p in puts] == [
        f"bytes 0-{2 * MiB - 1}/{total}",
        f"bytes {2 * MiB}-{4 * MiB - 1}/{total}",
        f"bytes {4 * MiB}-{total - 1}/{total}",
    ]
    assert puts[0]["path"] == "/chunked_upload/"
    assert all(p["path"] == f"/chunked_upload/{result['id']}/" for p in puts[1:])
    body = puts[0]["body"]
    assert b'Content-Disposition: form-data; name="filename"\r\n\r\narchive.zip\r\n' in body
    assert b'Content-Disposition: form-data; name="file"; filename="file"\r\n\r\n' in body
    finalize = wire.one("POST", f"chunked_upload/{result['id']}/")
    assert wire.json(finalize) == {"md5": md5_of(path)}
    sent = [s for s, _ in seen]
    assert sent == sorted(sent) and sent[0] == 0 and sent[-1] == total
    assert {t for _, t in seen} == {total} and len(seen) > 4  # also reports inside chunks


def test_200mb_upload_under_20_percent_faults(tmp_path):
    path = make_file(tmp_path / "big.bin", 200 * MiB, seed=2)
    with start() as srv:
        srv.set_faults(rate_429=0.07, rate_503=0.07, rate_drop=0.06, retry_after=0, seed=21)
        with BackendClient(srv.url, api_token=srv.token, retry=FAST_RETRY) as c:
            result = c.create_chunked_upload(path, chunk_size=16 * MiB)
        counts = srv.fault_counts
    assert result["checksum"] == md5_of(path)
    assert result["size"] == 200 * MiB
    assert counts["429"] + counts["503"] + counts["drop"] > 0


def test_lost_finalize_reply_is_polled_not_blindly_resent(tmp_path, virtual_clock):
    path = make_file(tmp_path / "model.pt", 3 * MiB, seed=3)
    with start() as srv:

        def progress(sent, total):
            if sent == total:  # all chunks acknowledged: the finalize POST comes next
                srv.set_faults(rate_drop=1.0, paths=("chunked_upload/",))

        virtual_clock(lambda n: srv.set_faults())  # the uploader's first wait ends the drops
        with BackendClient(srv.url, api_token=srv.token, retry=FAST_RETRY) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB, progress=progress)
        upload_path = f"/chunked_upload/{result['id']}/"
        calls = [(e["method"], e["path"]) for e in srv.requests if e["path"] == upload_path]
    assert result["checksum"] == md5_of(path)
    posts = [i for i, (m, _) in enumerate(calls) if m == "POST"]
    assert len(posts) == 2  # the dropped one, and one more only after polling
    assert ("GET", upload_path) in calls[posts[0] + 1 : posts[1]]


def _restart_later(data_dir, port, delay, holder):
    time.sleep(delay)
    holder["srv"] = start(data_dir=data_dir, port=port, token=TOKEN)


def test_upload_survives_a_server_restart_midway(tmp_path):
    path = make_file(tmp_path / "video.mp4", 12 * MiB, seed=4)
    data_dir = tmp_path / "server-data"
    first = start(data_dir=data_dir, token=TOKEN)
    holder: dict = {}
    restarter: list[threading.Thread] = []

    def progress(sent, total):
        if sent >= total // 2 and not restarter:
            # Called between two chunks: the server goes down now and is back in a second.
            first.stop()
            args = (data_dir, first.port, 1.0, holder)
            restarter.append(threading.Thread(target=_restart_later, args=args))
            restarter[0].start()

    try:
        with BackendClient(first.url, api_token=TOKEN, retry=FAST_RETRY) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB, progress=progress)
        restarter[0].join()
        second = holder["srv"]
        puts = [e for e in second.requests if e["method"] == "PUT"]
        ranges = [int(p["headers"]["content-range"].split()[1].split("-")[0]) for p in puts]
    finally:
        first.stop()
        if "srv" in holder:
            holder["srv"].stop()
    assert result["checksum"] == md5_of(path)
    assert ranges == [n * MiB for n in range(6, 12)]  # continued where the first server stopped


def test_interrupted_upload_resumes_in_another_process(tmp_path):
    path = make_file(tmp_path / "scan.bin", 6 * MiB, seed=5)
    data_dir = tmp_path / "server-data"
    srv = start(data_dir=data_dir, token=TOKEN)
    port = srv.port

    def progress(sent, total):
        if sent >= 3 * MiB and srv.running:
            srv.stop()  # between two chunks: the next PUT finds nobody listening

    no_wait = {"total": 1, "backoff_factor": 0}
    try:
        with (
            BackendClient(srv.url, api_token=TOKEN, retry=no_wait) as c,
            pytest.raises(UploadInterruptedError) as info,
        ):
            c.create_chunked_upload(path, chunk_size=MiB, progress=progress, resume_timeout=0.5)
        err = info.value
        assert err.upload_id and err.offset == 3 * MiB
        assert f"upload_id={err.upload_id!r}" in str(err)
        srv.stop()
        srv = start(data_dir=data_dir, port=port, token=TOKEN)
        script = (
            "import json, sys\n"
            "from synapse_nb.clients import BackendClient\n"
            "c = BackendClient(sys.argv[1], api_token=sys.argv[2])\n"
            "print(json.dumps(c.create_chunked_upload(sys.argv[3], chunk_size=1048576, "
            "upload_id=sys.argv[4])))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, srv.url, TOKEN, str(path), str(err.upload_id)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        result = json.loads(out.stdout)
        puts = [e for e in srv.requests if e["method"] == "PUT"]
        first_put = puts[0]["headers"]["content-range"]
    finally:
        srv.stop()
    assert result["id"] == err.upload_id and result["checksum"] == md5_of(path)
    assert first_put.startswith(f"bytes {err.offset}-")  # only the missing bytes were sent
    assert len(puts) == (6 * MiB - err.offset) // MiB


def test_callback_error_leaves_a_resumable_upload(client, wire, tmp_path):
    path = make_file(tmp_path / "notes.txt", 4 * MiB, seed=6)

    def stop_early(sent, total):
        if sent >= 2 * MiB:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        client.create_chunked_upload(path, chunk_size=MiB, progress=stop_early)
    note = "\n".join(getattr(info.value, "__notes__", []))
    upload_id = note.split("upload_id=")[1].split(")")[0].strip("'")
    state = client.get_chunked_upload(upload_id)
    assert 0 < state["offset"] < 4 * MiB and not state["completed_at"]
    wire.clear()
    result = client.create_chunked_upload(path, chunk_size=MiB, upload_id=upload_id)
    assert result["checksum"] == md5_of(path)
    assert wire.all("PUT")[0]["headers"]["content-range"].startswith(f"bytes {state['offset']}-")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"file_path": "missing.bin"}, "file_path"),
        ({"file_path": "."}, "file_path"),
        ({"file_path": "empty.bin"}, "file_path"),
        ({"file_path": 42}, "file_path"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 1.5}, "chunk_size"),
        ({"progress": "print"}, "progress"),
        ({"upload_id": "../x"}, "upload_id"),
        ({"resume_timeout": -1}, "resume_timeout"),
    ],
)
def test_bad_input_raises_before_sending(client, wire, tmp_path, monkeypatch, kwargs, field):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "ok.bin").write_bytes(b"data")
    args = {"file_path": "ok.bin", **kwargs}
    with pytest.raises(InvalidInputError) as info:
        client.create_chunked_upload(args.pop("file_path"), **args)
    assert info.value.field == field
    assert wire.all() == []


def test_unknown_upload_id_is_not_found(client, tmp_path):
    path = make_file(tmp_path / "x.bin", 10, seed=7)
    with pytest.raises(Exception) as info:
        client.create_chunked_upload(path, upload_id="00000000-0000-4000-8000-000000000000")
    assert getattr(info.value, "status_code", None) == 404


def test_first_chunk_against_a_dead_server_gives_up_after_resume_timeout(tmp_path):
    path = make_file(tmp_path / "x.bin", 2 * MiB, seed=8)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: every connect is refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        started = time.monotonic()
        with (
            BackendClient(url, api_token=TOKEN, retry=0) as c,
            pytest.raises(UploadInterruptedError) as info,
        ):
            c.create_chunked_upload(path, chunk_size=MiB, resume_timeout=1.0)
    assert 1.0 <= time.monotonic() - started < 5
    assert info.value.upload_id is None and info.value.offset == 0


def test_one_progress_protocol_for_uploads_and_workflows(client, tmp_path):
    from synapse_nb import plugins
    from synapse_nb._progress import ProgressCallback
    from synapse_nb._uploads import ProgressCallback as UploadProgress
    from synapse_nb.plugins._progress import ProgressReporter

    assert plugins.ProgressCallback is UploadProgress is ProgressCallback
    path = make_file(tmp_path / "p.bin", 3 * MiB)
    three: list[tuple[int, int, str]] = []
    two: list[tuple[int, int]] = []
    client.create_chunked_upload(
        path, chunk_size=MiB, progress=lambda cur, tot, cat: three.append((cur, tot, cat))
    )
    client.create_chunked_upload(path, chunk_size=MiB, progress=lambda s, t: two.append((s, t)))
    assert {cat for _, _, cat in three} == {"upload"}
    assert three[-1][:2] == two[-1] == (3 * MiB, 3 * MiB)
    seen: list[tuple[int, int]] = []
    reporter = ProgressReporter(lambda cur, tot: seen.append((cur, tot)), method="export")
    reporter.set_progress(2, 5, "fetch")
    assert seen == [(2, 5)]


def test_a_rate_limited_finalize_waits_as_long_as_retry_after_says(tmp_path, virtual_clock):
    # found by mutation testing: nothing checked that the finalize honours Retry-After
    path = make_file(tmp_path / "weights.bin", 2 * MiB, seed=9)
    with start() as srv:

        def progress(sent, total):
            if sent == total:  # the finalize POST comes next: it and the poll get a 429
                srv.set_faults(rate_429=1.0, retry_after=2, paths=("chunked_upload/",))

        clock = virtual_clock(lambda n: srv.set_faults())  # the first wait ends the 429s
        with BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB, progress=progress)
        upload_path = f"/chunked_upload/{result['id']}/"
        calls = _calls(srv)
    assert result["checksum"] == md5_of(path) and result["completed_at"]
    posts = [call for call in calls if call == ("POST", upload_path)]
    assert len(posts) == 2  # the first one was refused with a 429
    assert clock.sleeps == [2.0]  # Retry-After: 2, not the 0.5 s of the default backoff


def test_a_chunk_refused_until_resume_timeout_names_the_last_failure(tmp_path):
    # found by mutation testing: the error's cause and status were never checked
    path = make_file(tmp_path / "x.bin", 2 * MiB, seed=10)
    with start() as srv:

        def progress(sent, total):
            if sent >= MiB:  # the first chunk is stored; every later request gets a 503
                srv.set_faults(rate_503=1.0, retry_after=0, paths=("chunked_upload/",))

        started = time.monotonic()
        with (
            BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c,
            pytest.raises(UploadInterruptedError) as info,
        ):
            c.create_chunked_upload(path, chunk_size=MiB, progress=progress, resume_timeout=1.0)
        srv.set_faults()
    err = info.value
    assert 1.0 <= time.monotonic() - started < 5
    assert err.upload_id and err.offset == MiB
    assert err.status_code == 503 and err.response.startswith("GET ")
    assert "(503)" in err.response
    assert isinstance(err.__cause__, ServerError) and err.__cause__.status_code == 503


class VirtualClock:
    """Stands in for the uploader's ``time`` module: a sleep is recorded and moves the clock
    on at once, so backoff schedules of many seconds are checked in milliseconds.

    ``on_sleep(n)`` runs after the n-th sleep (1-based): the test turns the server's faults
    off there, so the server refuses exactly as often as the schedule needs. Only
    ``synapse_nb._uploads`` sees this clock; the transport and the server keep real time.
    """

    def __init__(self, on_sleep=None):
        self.now = 100.0
        self.sleeps: list[float] = []
        self._on_sleep = on_sleep

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self._on_sleep is not None:
            self._on_sleep(len(self.sleeps))


@pytest.fixture
def virtual_clock(monkeypatch):
    from synapse_nb import _uploads

    def install(on_sleep=None):
        clock = VirtualClock(on_sleep)
        monkeypatch.setattr(_uploads, "time", clock)
        return clock

    return install


@pytest.fixture
def top_jitter(monkeypatch):
    """The uploader's poll jitter always picks the longest pause; returns the bounds asked."""
    from synapse_nb import _uploads

    bounds: list[tuple[float, float]] = []

    class Top:
        @staticmethod
        def uniform(low, high):
            bounds.append((low, high))
            return high

    monkeypatch.setattr(_uploads, "random", Top)
    return bounds


def _calls(srv, prefix="/chunked_upload/"):
    return [(e["method"], e["path"]) for e in srv.requests if e["path"].startswith(prefix)]


def test_resync_backoff_doubles_from_half_a_second_and_is_capped_at_ten(tmp_path, virtual_clock):
    # found by mutation testing: nothing pinned the backoff's base, growth or cap
    path = make_file(tmp_path / "x.bin", 1000, seed=11)
    with start() as srv:
        srv.set_faults(rate_503=1.0, retry_after=0, paths=("chunked_upload/",))
        clock = virtual_clock(lambda n: n == 7 and srv.set_faults())  # 7 refusals, then up
        with BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB)
        calls = _calls(srv)
    assert result["checksum"] == md5_of(path) and result["completed_at"]
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert calls[:8] == [("PUT", "/chunked_upload/")] * 8  # no upload yet: the PUT is retried


def test_first_resync_asks_the_server_at_once_and_logs_why(tmp_path, virtual_clock, caplog):
    # found by mutation testing: the immediate first GET and the debug line were unchecked
    path = make_file(tmp_path / "x.bin", 2 * MiB, seed=12)
    with start() as srv:

        def progress(sent, total):
            if sent == MiB:  # the first chunk is stored; the next requests get a 503
                srv.set_faults(rate_503=1.0, retry_after=0, paths=("chunked_upload/",))

        clock = virtual_clock(lambda n: srv.set_faults())  # the first wait ends the outage
        caplog.set_level("DEBUG", logger="synapse_nb.uploads")
        with BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB, progress=progress)
        calls = _calls(srv)
    upload = f"/chunked_upload/{result['id']}/"
    assert result["checksum"] == md5_of(path) and result["completed_at"]
    # the refused PUT is followed by a GET without any wait; only the refused GET waits,
    # and that wait already continues the backoff (1 s, not 0.5 s)
    assert calls[1:5] == [("PUT", upload), ("GET", upload), ("GET", upload), ("PUT", upload)]
    assert clock.sleeps == [1.0]
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("chunk at")]
    assert len(failed) == 1
    assert failed[0].startswith(f"chunk at {MiB} failed (")
    assert "503" in failed[0] and failed[0].endswith("); asking the server for its offset")


def test_waits_stop_exactly_at_resume_timeout_and_never_drop_below_50_ms(tmp_path, virtual_clock):
    # found by mutation testing: `elapsed > resume_timeout` (for >=) survived
    path = make_file(tmp_path / "x.bin", 1000, seed=13)
    cases = [
        (1.5, [0.5, 1.0]),  # stalled for exactly 1.5 s: that is the end, no 50 ms extra
        (0.75, [0.5, 0.25]),  # the 1 s backoff is cut to the 0.25 s that are left
        (0.51, [0.5, 0.05]),  # ... but never below 50 ms
    ]
    with start() as srv:
        srv.set_faults(rate_503=1.0, retry_after=0, paths=("chunked_upload/",))
        for resume_timeout, expected in cases:
            clock = virtual_clock()
            srv.requests.clear()
            with (
                BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c,
                pytest.raises(UploadInterruptedError) as info,
            ):
                c.create_chunked_upload(path, chunk_size=MiB, resume_timeout=resume_timeout)
            assert clock.sleeps == expected, resume_timeout
            assert _calls(srv) == [("PUT", "/chunked_upload/")] * 3
            assert info.value.status_code == 503 and info.value.offset == 0
        srv.set_faults()


def test_resume_timeout_zero_gives_up_at_the_first_failure(tmp_path):
    # real clock: with resume_timeout=0 the refused chunk is not followed by any request
    path = make_file(tmp_path / "x.bin", 2 * MiB, seed=15)
    with start() as srv:

        def progress(sent, total):
            if sent == MiB:
                srv.set_faults(rate_503=1.0, retry_after=0, paths=("chunked_upload/",))

        with (
            BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c,
            pytest.raises(UploadInterruptedError) as info,
        ):
            c.create_chunked_upload(path, chunk_size=MiB, progress=progress, resume_timeout=0)
        calls = _calls(srv)
        srv.set_faults()
    assert [m for m, _ in calls] == ["PUT", "PUT"]  # no GET, no second try
    assert info.value.offset == MiB and info.value.status_code == 503


def test_lost_finalize_reply_polls_five_times_with_doubling_jitter(
    tmp_path, virtual_clock, top_jitter
):
    # found by mutation testing: _poll_completed's count, pauses and stop rule were unchecked
    path = make_file(tmp_path / "x.bin", 1000, seed=16)
    with start() as srv:

        def progress(sent, total):
            if sent == total:  # the finalize POST comes next: its connection is dropped
                srv.set_faults(rate_drop=1.0, paths=("chunked_upload/",))

        # the first poll is dropped too; the server is back for the other four, which find
        # every byte sent but the upload not completed (the dropped POST never arrived)
        clock = virtual_clock(lambda n: srv.set_faults())
        with BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB, progress=progress)
        calls = _calls(srv)
    upload = f"/chunked_upload/{result['id']}/"
    assert result["checksum"] == md5_of(path) and result["completed_at"]
    assert calls[1:] == [("POST", upload)] + [("GET", upload)] * 5 + [("POST", upload)]
    assert top_jitter == [(0, 0.5), (0, 1.0), (0, 2.0), (0, 4.0)]  # none after the last poll
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_a_refused_finalize_looks_once_then_backs_off_and_posts_again(tmp_path, virtual_clock):
    # a 503 on the finalize is followed by one look at the upload (refused too here), then
    # by the finalize's own backoff (Retry-After: 0 means the default 0.5 s), then a new POST
    path = make_file(tmp_path / "x.bin", 1000, seed=17)
    with start() as srv:

        def progress(sent, total):
            if sent == total:
                srv.set_faults(rate_503=1.0, retry_after=0, paths=("chunked_upload/",))

        clock = virtual_clock(lambda n: srv.set_faults())
        with BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB, progress=progress)
        calls = _calls(srv)
    upload = f"/chunked_upload/{result['id']}/"
    assert result["completed_at"]
    assert calls[1:] == [("POST", upload), ("GET", upload), ("POST", upload)]
    assert clock.sleeps == [0.5]  # the finalize's own backoff, no poll pause


def test_a_lost_finalize_that_did_land_is_found_by_polling_not_posted_again(
    tmp_path, virtual_clock
):
    # found by mutation testing: no test had a poll find the upload completed
    path = make_file(tmp_path / "x.bin", 2 * MiB, seed=18)
    with start() as srv, BackendClient(srv.url, api_token=srv.token) as other:

        def progress(sent, total):
            if sent == total:
                # stands in for a finalize POST that is applied but whose reply is lost:
                # the upload is completed here, and our own POST's connection is dropped
                other._post(_calls(srv)[-1][1].lstrip("/"), {"md5": md5_of(path)})
                srv.set_faults(rate_drop=1.0, paths=("chunked_upload/",))

        clock = virtual_clock(lambda n: srv.set_faults())  # the first poll is dropped too
        with BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB, progress=progress)
        calls = _calls(srv)
    upload = f"/chunked_upload/{result['id']}/"
    assert result["checksum"] == md5_of(path) and result["completed_at"]
    # the other client's POST, our dropped POST, the dropped poll, the poll that finds it done
    assert calls[2:] == [("POST", upload)] * 2 + [("GET", upload)] * 2
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] <= 0.5  # one jittered pause


def test_finalize_polls_pause_no_later_than_60_s_after_polling_began(
    tmp_path, virtual_clock, top_jitter
):
    # found by mutation testing: the 60 s bound of the polls was unchecked
    path = make_file(tmp_path / "x.bin", 1000, seed=19)
    with start() as srv:

        def progress(sent, total):
            if sent == total:  # the finalize POST and its first poll are dropped
                srv.set_faults(rate_drop=1.0, paths=("chunked_upload/",))

        def on_sleep(n):
            if n == 1:  # stands in for polls that hung for a long time: 59 s have gone by
                srv.set_faults()
                clock.now += 58.5

        clock = virtual_clock(on_sleep)
        with BackendClient(srv.url, api_token=srv.token, retry={"total": 0}) as c:
            result = c.create_chunked_upload(path, chunk_size=MiB, progress=progress)
    assert result["completed_at"]
    assert len(top_jitter) == 4  # five polls in all
    assert clock.sleeps == [0.5, 1.0, 0.0, 0.0]  # 0.5 + 58.5 + 1.0 = the 60 s deadline


def test_an_upload_state_that_is_not_an_object_is_refused_by_name(hostile, tmp_path):
    # found by mutation testing: the error for a malformed upload state was unchecked
    hostile.on("GET", "/api/chunked_upload/u1/", json_reply(["not", "an", "upload"]))
    path = make_file(tmp_path / "x.bin", 10, seed=20)
    with (
        BackendClient(f"{hostile.url}/api", api_token=TOKEN, retry={"total": 0}) as c,
        pytest.raises(ClientError) as info,
    ):
        c.create_chunked_upload(path, upload_id="u1")
    err = info.value
    assert type(err) is ClientError and err.status_code is None
    assert "unexpected upload state: ['not', 'an', 'upload']" in str(err)
    assert [(r["method"], r["path"]) for r in hostile.requests] == [
        ("GET", "/api/chunked_upload/u1/")
    ]
