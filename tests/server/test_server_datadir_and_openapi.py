"""Data directory upgrades, log-safe paths and the OpenAPI description of the backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from synapse_nb.server.db import Database
from synapse_nb.server.http import redact_path

OLD_AGENTS = """
CREATE TABLE agents (
    id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, name TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '', token_hash TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'disconnected', last_seen TEXT, created TEXT NOT NULL);
INSERT INTO agents (tenant_id, name, token_hash, created)
    VALUES (1, 'kept', 'abc', '2026-01-01T00:00:00+00:00');
"""


def test_an_older_agents_table_gains_the_token_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "synapse.sqlite3"
    with sqlite3.connect(path) as con:
        con.executescript(OLD_AGENTS)
    db = Database(path)
    columns = {row[1] for row in db.all("PRAGMA table_info(agents)")}
    assert "token" in columns
    rows = db.all("SELECT name, token FROM agents")
    assert [(r["name"], r["token"]) for r in rows] == [("kept", None)]
    Database(path)  # opening again changes nothing (the column is there)
    assert {row[1] for row in db.all("PRAGMA table_info(agents)")} == columns


def test_agent_tokens_in_paths_are_masked_for_logs() -> None:
    token = "c5fdb9e830366dee98473c1759295bebddbaf09f"
    assert redact_path(f"/agents/{token}/connect/") == "/agents/***/connect/"
    assert redact_path(f"/agents/{token}/node_install_script") == "/agents/***/node_install_script"


def test_the_openapi_schema_documents_filters_and_bodies(api, server) -> None:
    spec = api.get("openapi.json").json()
    paths = spec["paths"]
    listings = [p for p, item in paths.items() if "get" in item and "{" not in p]
    agent_api = [p for p in listings if p.startswith("/agent/")]
    for path in set(listings) - set(agent_api):
        names = {p["name"] for p in paths[path]["get"].get("parameters", [])}
        assert {"page", "page_size"} <= names, path
    task_params = {p["name"]: p for p in paths["/sdk/tasks/"]["get"]["parameters"]}
    assert {"project", "status", "tags", "modified__gte", "is_discarded"} <= set(task_params)
    assert task_params["is_discarded"]["schema"] == {"type": "boolean"}
    body = paths["/tasks/set_tags/"]["post"]["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"ids", "tags", "action"} <= set(spec["components"]["schemas"][ref]["properties"])
    # every reference resolves
    text = str(spec)
    for name in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in spec["components"]["schemas"], name
