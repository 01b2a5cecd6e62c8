"""Fixtures of the workflow tests: the demo backend over real HTTP on 127.0.0.1.

``demo`` is one demo workspace for the module's tests (they create their own folders and
read back only what they created); tests that stop the server or change faults start
their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_backends import backend_fixture, client_fixture
from wf_helpers import collection_id

from synapse_nb.clients import BackendClient

demo = backend_fixture()
client = client_fixture("demo", kind=BackendClient, cache="client-cache")


@pytest.fixture
def media_cache(tmp_path: Path) -> Path:
    """A private download cache, so each export really downloads its originals."""
    return tmp_path / "media-cache"


@pytest.fixture(scope="module")
def street_collection(client: BackendClient) -> int:
    """ "Street scenes": ``image_1`` (required image) and ``meta_json`` (optional data)."""
    return collection_id(client, "Street scenes")


@pytest.fixture(scope="module")
def incoming_collection(client: BackendClient) -> int:
    """ "Incoming uploads": ``image_1`` only."""
    return collection_id(client, "Incoming uploads")
