"""Fixtures of the server tests.

Ground-truth datasets and agents have no create endpoint in the wire protocol (the platform makes
them), so :func:`ground_truth` and :func:`agent` write those rows straight into the session
server's database, as the demo seeding does. Everything else is created through the API.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from srv_helpers import Factory

from synapse_nb.server.db import dumps, now
from synapse_nb.server.executors.ray_head import LocalRayHead, _session_members
from synapse_nb.server.http import hash_token


def admin_tenant(server) -> int:
    return server.state.db.scalar("SELECT tenant_id FROM users WHERE username = 'admin'")


@pytest.fixture(scope="session")
def make(api, server) -> Factory:
    return Factory(api, server)


@dataclass
class GroundTruth:
    dataset: int
    versions: tuple[int, int]
    events: dict[int, list[int]]  # version -> event ids


@pytest.fixture(scope="session")
def ground_truth(server, api) -> GroundTruth:
    """A dataset with two versions (3 and 4 events) over data units of the seeded collection."""
    units = [u["id"] for u in api.get("data_units/", params={"page_size": 7}).json()["results"]]
    tenant = admin_tenant(server)
    stamp = now()
    events: dict[int, list[int]] = {}
    with server.state.db.write() as con:
        dataset = con.execute(
            "INSERT INTO ground_truth_datasets (tenant_id, name, project_id, created) "
            "VALUES (?, 'gt', 1, ?)",
            (tenant, stamp),
        ).lastrowid
        versions = []
        for version, count in (("v1", 3), ("v2", 4)):
            vid = con.execute(
                "INSERT INTO ground_truth_dataset_versions (dataset_id, version, created) "
                "VALUES (?, ?, ?)",
                (dataset, version, stamp),
            ).lastrowid
            versions.append(vid)
            events[vid] = [
                con.execute(
                    "INSERT INTO ground_truth_events (tenant_id, version_id, data_unit_id, data, "
                    "created, modified) VALUES (?, ?, ?, ?, ?, ?)",
                    (tenant, vid, unit, dumps({"version": version}), stamp, stamp),
                ).lastrowid
                for unit in units[:count]
            ]
    return GroundTruth(dataset, (versions[0], versions[1]), events)


@dataclass
class Agent:
    id: int
    token: str


@pytest.fixture(scope="session")
def agent(server) -> Agent:
    """An agent of the seeded tenant (token shaped like the real ones: 40 hex digits)."""
    token = secrets.token_hex(20)
    tenant = admin_tenant(server)
    with server.state.db.write() as con:
        agent_id = con.execute(
            "INSERT INTO agents (tenant_id, name, url, token_hash, token, created) "
            "VALUES (?, 'test agent', 'http://127.0.0.1:1/', ?, ?, ?)",
            (tenant, hash_token(token), token, now()),
        ).lastrowid
    return Agent(agent_id, token)


@pytest.fixture(scope="session")
def ray_head() -> Iterator[LocalRayHead]:
    """One local Ray head for the session (test_executor_ray, test_ray_sharding)."""
    # its own short folder under /tmp (removed by stop()): Ray's Unix socket paths below it
    # may not exceed 107 bytes, which a folder inside pytest's temp dirs already would
    head = LocalRayHead(num_cpus=1)
    try:
        head.start()  # raises with Ray's output: the tests fail, they are not skipped
        yield head
    finally:
        sid = head._sid
        head.stop()
        assert sid is None or not _session_members(sid), "the Ray head left processes behind"
        assert not head.temp_dir.exists()
