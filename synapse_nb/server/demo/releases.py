"""Real plugin releases in the demo workspace: the built-in plugins, published as archives.

The built-in numpy trainer is published as the plugin ``numpy-trainer``, the dataset export as
``dataset-export``, the model evaluation as ``model-evaluate`` and the upload of a storage's
folder as ``storage-upload`` (the demo's other plugins keep
their placeholder releases, which hold no code to run). Releases go through the
same validation and unpacking as ``POST plugin_releases/``.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

import yaml

from ..db import dumps, now
from ..executors.release import prepare_release

#: the built-in plugins (located by path: the server does not import the plugins package)
BUILTIN = Path(__file__).resolve().parents[2] / "plugins" / "builtin"
#: (plugin code, plugin name, built-in folder, release version, plugin category)
RELEASES = (
    ("numpy-trainer", "Numpy trainer", "trainer", "1.0.0", "neural_net"),
    ("dataset-export", "Dataset export", "export", "1.0.0", "export"),
    ("model-evaluate", "Model evaluation", "evaluate", "1.0.0", "neural_net"),
    ("storage-upload", "Storage upload", "upload", "1.0.0", "upload"),
)


def release_archive(folder: Path, code: str, version: str) -> bytes:
    """A zip of a built-in plugin folder, its config's code and version set to the release's.

    Example:
        >>> body = release_archive(BUILTIN / "trainer", "my-trainer", "2.0.0")
        >>> sorted(zipfile.ZipFile(io.BytesIO(body)).namelist())
        ['config.yaml', 'trainer.py']
    """
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    config.update(code=code, version=version)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.yaml", yaml.safe_dump(config, sort_keys=False))
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def publish(state: Any, plugin: Any, folder: Path, version: str) -> int:
    """Store, unpack and register one release of ``plugin``; returns the release id."""
    rel_path = f"releases/{plugin['code']}-{version}-{uuid.uuid4().hex[:8]}.zip"
    archive = state.store_path(rel_path)
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(release_archive(folder, plugin["code"], version))
    staging = state.config.data_dir / "release_code" / f"staging-{uuid.uuid4().hex}"
    config = prepare_release(
        archive, staging, code=plugin["code"], version=version, category=plugin["category"]
    )
    with state.db.write() as con:
        release_id = con.execute(
            "INSERT INTO plugin_releases (plugin_id, version, config, requirements, debug, "
            "rel_path, file_name, created) VALUES (?, ?, ?, '[]', 0, ?, ?, ?)",
            (plugin["id"], version, dumps(config), rel_path, archive.name, now()),
        ).lastrowid
    staging.rename(staging.with_name(str(release_id)))
    return int(release_id)


def seed_plugin_releases(state: Any, tenant_id: int) -> dict[str, int]:
    """Publish the built-in plugins into ``tenant_id``; returns plugin code -> release id."""
    published = {}
    for code, name, builtin, version, category in RELEASES:
        plugin = state.db.one(
            "SELECT * FROM plugins WHERE tenant_id = ? AND code = ?", (tenant_id, code)
        )
        if plugin is None:
            with state.db.write() as con:
                description = f"{name} (built-in, runs for real)"
                con.execute(
                    "INSERT INTO plugins (tenant_id, code, name, category, description, "
                    "created, modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (tenant_id, code, name, category, description, now(), now()),
                )
            plugin = state.db.one(
                "SELECT * FROM plugins WHERE tenant_id = ? AND code = ?", (tenant_id, code)
            )
        published[code] = publish(state, plugin, BUILTIN / builtin, version)
    return published
