"""``start()`` either returns a running backend or leaves nothing behind."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path

import pytest
import requests

from synapse_nb.server import FaultConfig, StartRefused, start
from synapse_nb.session import connect


def _leftovers() -> set[str]:
    root = Path(tempfile.gettempdir())
    return {p.name for p in root.iterdir() if p.name.startswith("synapse-nb")}


def test_a_start_that_fails_after_seeding_removes_its_data_dir_and_threads():
    before, threads = _leftovers(), threading.active_count()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            start(demo=False, port=port)  # the workspace is built, then the bind fails
    assert _leftovers() == before
    assert threading.active_count() == threads


@pytest.mark.parametrize("ray", [1, 2.5, object()])
def test_ray_must_be_an_address_true_local_or_a_head(ray):
    before = _leftovers()
    with pytest.raises(ValueError, match=r"ray = .* must be None, True, 'local'"):
        start(ray=ray)
    assert _leftovers() == before


@pytest.mark.parametrize("latency_ms", [float("nan"), float("inf")])
def test_a_latency_that_is_not_a_finite_duration_is_refused_before_anything_starts(latency_ms):
    before, threads = _leftovers(), threading.active_count()
    with pytest.raises(ValueError, match="latency_ms"):
        start(latency_ms=latency_ms)
    with pytest.raises(ValueError, match="latency_ms"):
        start(faults=FaultConfig(), latency_ms=latency_ms)
    assert _leftovers() == before
    assert threading.active_count() == threads


@pytest.mark.parametrize("token", ["a b", "tab\there", "line\nbreak", "caf\u00e9", "  ", "\n", 42])
def test_a_token_the_client_could_never_send_is_refused_without_showing_it(token):
    before = _leftovers()
    with pytest.raises(ValueError, match="token") as caught:
        start(token=token)
    if isinstance(token, str) and token.strip():
        assert token not in str(caught.value)
    assert _leftovers() == before


def test_a_token_with_surrounding_whitespace_is_registered_stripped_as_the_client_sends_it():
    with start(token=" file-token\n") as srv:
        assert srv.token == "file-token"
        headers = {"Synapse-Access-Token": "Token file-token"}
        assert requests.get(f"{srv.url}sdk/tasks/", headers=headers, timeout=10).status_code == 200
        connect(srv.url, api_token=" file-token\n")  # connect() checks the token with a request


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"port": -5}, "port"),
        ({"port": 99999}, "port"),
        ({"tasks": -3}, "tasks"),
        ({"seed": -1, "demo": True}, "seed"),
        ({"seed": "1"}, "seed"),
    ],
)
def test_out_of_range_numbers_are_refused_naming_the_argument(arguments, named):
    before = _leftovers()
    with pytest.raises(StartRefused, match=named):  # a ValueError: what the CLI reports
        start(**arguments)
    assert _leftovers() == before


def test_a_negative_seed_is_taken_for_scale_tasks():
    # only the demo workspace needs a seed >= 0; scale tasks take any int, as before
    with start(tasks=3, seed=-5) as srv:
        assert srv.url


def test_an_unknown_host_is_an_os_error_naming_it():
    with pytest.raises(OSError, match=r"host='not\.a\.host\.invalid'"):
        start(host="not.a.host.invalid")
