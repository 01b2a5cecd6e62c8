"""Structured-file loading (JSON/YAML) and the scratch directory for downloads."""

from __future__ import annotations

import json
import os
import tempfile
from os import PathLike
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import yaml

__all__ = ["TEMP_DIR_ENV", "get_dict_from_file", "get_temp_path"]

#: Environment variable that moves the scratch root (default: ``<system temp>/datamaker``).
TEMP_DIR_ENV = "SYNAPSE_NB_TEMP_DIR"

_YAML_SUFFIXES = {".yaml", ".yml"}
_JSON_SUFFIXES = {".json"}


def get_dict_from_file(file_path: str | PathLike[str]) -> dict[str, Any]:
    """Load a mapping from a JSON or YAML file, chosen by its extension.

    Args:
        file_path: A ``.json``, ``.yaml`` or ``.yml`` file. YAML is read with
            ``yaml.safe_load`` (no arbitrary Python objects).

    Returns:
        The top-level mapping of the file.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the extension is not supported, the content does not parse, or the
            top level is not a mapping.

    Example:
        >>> _ = (tmp / "config.yaml").write_text("name: my-plugin\\nversion: 0.1.0\\n")
        >>> config = get_dict_from_file(tmp / "config.yaml")
        >>> config["name"]
        'my-plugin'
    """
    path = Path(file_path)
    suffix = path.suffix.lower()
    if suffix not in _YAML_SUFFIXES | _JSON_SUFFIXES:
        raise ValueError(
            f"file_path must end in .json, .yaml or .yml, got {str(path)!r} "
            f"(extension {suffix or 'none'!r})"
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) if suffix in _YAML_SUFFIXES else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"could not parse {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(
            f"{str(path)!r} must hold a mapping at the top level, got {type(data).__name__}"
        )
    return data


def get_temp_path(sub_path: str | PathLike[str] | None = None) -> Path:
    """Return the SDK scratch directory, or a path below it.

    The root is ``<system temp dir>/datamaker`` (the Synapse SDK's ``/tmp/datamaker`` on Linux)
    unless the environment variable ``SYNAPSE_NB_TEMP_DIR`` names another directory.
    Nothing is created; callers ``mkdir`` what they need.

    Args:
        sub_path: Optional relative path below the root, e.g. ``"media"``.

    Returns:
        The root, or ``root / sub_path``.

    Raises:
        ValueError: If ``sub_path`` is absolute or climbs out of the root with ``..``.

    Example:
        >>> get_temp_path("media").name
        'media'
    """
    env_root = os.environ.get(TEMP_DIR_ENV)
    root = Path(env_root) if env_root else Path(tempfile.gettempdir()) / "datamaker"
    if sub_path is None:
        return root
    text = os.fspath(sub_path)
    pure = PurePosixPath(text.replace("\\", "/"))
    if not text or pure.is_absolute() or PureWindowsPath(text).drive or ".." in pure.parts:
        raise ValueError(f"sub_path must be a relative path inside the temp root, got {text!r}")
    return root / pure
