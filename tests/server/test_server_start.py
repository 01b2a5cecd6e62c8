"""``start()`` either returns a running backend or leaves nothing behind."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path

import pytest

from synapse_nb.server import start


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
