"""Helpers of the workflow tests (importable by test modules, unlike conftest)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from PIL import Image

from synapse_nb.server import ServerHandle


def collection_id(client: Any, name: str) -> int:
    collections = client.list_data_collection()["results"]
    return next(c["id"] for c in collections if c["name"] == name)


def project_id(client: Any, title: str) -> int:
    projects = client._get("projects/", {"page_size": 100})["results"]
    return next(p["id"] for p in projects if p["title"] == title)


def make_images(
    folder: Path, n: int, *, start: int = 0, size=(16, 12), suffix=".png"
) -> list[Path]:
    """``n`` small, distinct images named ``img_0000.png``..."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        path = folder / f"img_{i:04d}{suffix}"
        Image.new("RGB", size, (i % 256, (7 * i) % 256, (13 * i) % 256)).save(path)
        paths.append(path)
    return paths


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def posts(srv: ServerHandle, path: str) -> list[dict[str, Any]]:
    """POST requests the server journalled for ``path`` (no leading slash, trailing slash)."""
    return [
        e for e in list(srv.requests)
        if e["method"] == "POST" and e["path"].strip("/") == path.strip("/")
    ]  # fmt: skip


def requests_to(srv: ServerHandle, method: str, prefix: str) -> list[dict[str, Any]]:
    return [
        e for e in list(srv.requests)
        if e["method"] == method and e["path"].lstrip("/").startswith(prefix)
    ]  # fmt: skip


def units_in(client: Any, collection: int) -> list[dict[str, Any]]:
    units, _ = client.list_data_units(
        {"data_collection": collection}, url_conversion=False, list_all=True
    )
    return list(units)


def body(entry: dict[str, Any]) -> Any:
    return json.loads(entry["body"]) if entry["body"] else None


def with_verify_checksums(client: Any) -> Any:
    """``client`` with ``data_files_verify_checksums`` (see docs/protocol.md) if it lacks it.

    The BackendClient does not offer the method yet; this stands in for it (same request,
    over real HTTP) so the upload's primary dedupe path is tested, not only its fallback.
    """
    if hasattr(client, "data_files_verify_checksums"):
        return client

    class Verifying(type(client)):  # type: ignore[misc]
        def data_files_verify_checksums(self, checksums: list[str]) -> dict[str, Any]:
            return self._post("data_files/verify_checksums/", {"checksums": list(checksums)})

    client.__class__ = Verifying
    return client
