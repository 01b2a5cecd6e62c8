"""``PATCH models/{pk}/`` (what ``push_metrics`` writes with) and ``update_model``'s checks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from demo_backends import backend_fixture

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client

rw = backend_fixture(
    doc="One writable demo backend for this module (each test states what it expects)."
)


def _headers(token: str) -> dict[str, str]:
    return {"Synapse-Access-Token": f"Token {token}"}


def _patch(srv: Any, path: str, body: Any, token: str | None = None) -> requests.Response:
    return requests.patch(urljoin(srv.url, path), json=body, headers=_headers(token or srv.token),
                          timeout=30)


def _model(srv: Any) -> dict[str, Any]:
    return requests.get(urljoin(srv.url, "models/3/"), headers=_headers(srv.token),
                        timeout=30).json()


def test_metrics_and_description_are_updated_and_nothing_else(rw: Any) -> None:
    done = _patch(rw, "models/3/", {"metrics": {"mAP": 0.5}, "description": "re-evaluated"})
    assert done.status_code == 200
    assert done.json()["metrics"] == {"mAP": 0.5}
    assert done.json()["description"] == "re-evaluated"
    assert done.json()["name"] == "yolo-v8n"


@pytest.mark.parametrize(("body", "field"), [
    ({"metrics": "high"}, "metrics"),
    ({"metrics": [1, 2]}, "metrics"),
    ({"name": "renamed"}, "name"),
    ({"metrics": {}, "file": "x.pt"}, "file"),
    ({}, "non_field_errors"),
    ([{"metrics": {}}], None),
    ({"description": None}, "description"),
])
def test_bad_bodies_are_400_naming_the_field(rw: Any, body: Any, field: str | None) -> None:
    before = _model(rw)
    answer = _patch(rw, "models/3/", body)
    assert answer.status_code == 400, answer.text
    if field is not None:
        assert field in answer.json()
    after = _model(rw)
    assert after["metrics"] == before["metrics"] and after["description"] == before["description"]


def test_unknown_and_foreign_models_are_404(rw: Any) -> None:
    assert _patch(rw, "models/999999/", {"description": "x"}).status_code == 404
    rw.state.ensure_user("outsider", "acme")
    outsider = rw.issue_token("outsider")
    assert _patch(rw, "models/3/", {"description": "x"}, token=outsider).status_code == 404


def test_update_model_refuses_bad_data_before_sending(rw: Any) -> None:
    rw_client = Client(rw.url, api_token=rw.token, progress=False)
    start = len(list(rw.requests))
    for data, shown in (({"name": "x"}, "data['name']='x'"),
                        ({"metrics": "high"}, "data['metrics']='high'"),
                        ({}, "data={}")):
        with pytest.raises(InvalidInputError, match=shown.replace("[", r"\[")):
            rw_client.update_model(3, data)
    with pytest.raises(InvalidInputError, match="pk=0"):
        rw_client.update_model(0, {"description": "x"})
    assert len(list(rw.requests)) == start
    rw_client.close()
