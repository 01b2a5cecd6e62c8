"""The fault and latency option: the server itself answers 429/503 or drops connections."""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest
import requests

from synapse_nb.server import FaultConfig


def session_for(server) -> requests.Session:
    session = requests.Session()
    session.headers["Synapse-Access-Token"] = f"Token {server.token}"
    return session


def test_configured_rates_are_observed(fresh_server):
    fresh_server.set_faults(rate_429=0.2, rate_503=0.1, rate_drop=0.1, seed=1)
    session = session_for(fresh_server)
    seen: Counter[str] = Counter()
    retry_after = set()
    n = 500
    for _ in range(n):
        try:  # plain requests, no retries: every fault reaches us as it happened
            response = session.get(fresh_server.url + "projects/", timeout=10)
        except requests.ConnectionError:
            seen["drop"] += 1
            continue
        seen[str(response.status_code)] += 1
        if response.status_code == 429:
            retry_after.add(response.headers.get("Retry-After"))
            assert response.json() == {"detail": "Request was throttled."}
        elif response.status_code == 503:
            assert "Retry-After" in response.headers
    assert set(seen) == {"200", "429", "503", "drop"}
    for key, rate in (("429", 0.2), ("503", 0.1), ("drop", 0.1), ("200", 0.6)):
        assert abs(seen[key] / n - rate) < 0.06, (key, seen)
    assert retry_after == {"1"}
    # the client saw exactly what the server injected, with no hidden transport retries
    counts = fresh_server.fault_counts
    assert counts["requests"] == n
    assert (counts["429"], counts["503"], counts["drop"]) == (
        seen["429"],
        seen["503"],
        seen["drop"],
    )


def test_same_seed_same_faults(fresh_server):
    def run() -> list[int]:
        fresh_server.set_faults(rate_429=0.3, rate_503=0.3, seed=7)
        session = session_for(fresh_server)
        return [session.get(fresh_server.url + "projects/").status_code for _ in range(60)]

    first = run()
    assert first == run()
    assert {200, 429, 503} == set(first)


def test_latency_adds_at_least_the_configured_delay(fresh_server):
    session = session_for(fresh_server)
    fresh_server.set_faults(latency_ms=150)
    for _ in range(4):
        started = time.perf_counter()
        response = session.get(fresh_server.url + "projects/", timeout=10)
        assert response.status_code == 200
        assert time.perf_counter() - started >= 0.15


def test_faults_can_target_some_paths_and_be_switched_off(fresh_server):
    session = session_for(fresh_server)
    fresh_server.set_faults(rate_503=1.0, paths=("jobs",))
    assert session.get(fresh_server.url + "jobs/").status_code == 503
    assert session.get(fresh_server.url + "projects/").status_code == 200
    fresh_server.set_faults()
    assert session.get(fresh_server.url + "jobs/").status_code == 200


def test_faults_spare_file_downloads(fresh_server):
    session = session_for(fresh_server)
    created = session.post(fresh_server.url + "data_files/", files={"file": ("a.bin", b"abc")})
    fresh_server.set_faults(rate_503=1.0)
    assert session.get(fresh_server.url + "projects/").status_code == 503
    assert requests.get(created.json()["file"], timeout=10).content == b"abc"
    fresh_server.set_faults()


@pytest.mark.parametrize(
    "settings",
    [{"rate_429": 1.5}, {"rate_503": -0.1}, {"rate_429": 0.6, "rate_503": 0.6}, {"latency_ms": -1}],
)
def test_invalid_fault_settings_are_refused(settings, fresh_server):
    with pytest.raises(ValueError):
        fresh_server.set_faults(**settings)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("latency_ms", NAN),
        ("latency_ms", INF),
        ("latency_ms", 1e12),
        ("latency_ms", "20"),
        ("retry_after", NAN),
        ("retry_after", INF),
    ],
)
def test_nan_inf_huge_or_text_latency_and_retry_after_are_refused(setting, value, fresh_server):
    with pytest.raises(ValueError, match=setting):
        fresh_server.set_faults(**{setting: value})
    with pytest.raises(ValueError, match=setting):
        FaultConfig().replace(**{setting: value})
    # the refused setting was not applied: requests are still answered, quickly
    started = time.monotonic()
    assert session_for(fresh_server).get(f"{fresh_server.url}sdk/tasks/", timeout=10).ok
    assert time.monotonic() - started < 5


def test_dropped_connections_log_no_error_and_no_agent_token(fresh_server, caplog):
    """An injected drop is a debug event: no uvicorn ERROR, and the agent token is masked."""
    token = "a" * 40
    fresh_server.set_faults(rate_drop=1.0, seed=3)
    session = session_for(fresh_server)
    uvicorn_log = logging.getLogger("uvicorn.error")  # does not propagate to the root logger
    uvicorn_log.addHandler(caplog.handler)
    with caplog.at_level("DEBUG"):
        for _ in range(5):
            with pytest.raises(requests.ConnectionError):
                session.post(f"{fresh_server.url}agents/{token}/connect/", timeout=10)
        fresh_server.set_faults()
        time.sleep(0.2)  # let the server thread finish logging
    uvicorn_log.removeHandler(caplog.handler)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors == []
    dropped = [r.getMessage() for r in caplog.records if "dropping connection" in r.getMessage()]
    assert len(dropped) == 5
    assert all(token not in message and "/agents/***/connect/" in message for message in dropped)
