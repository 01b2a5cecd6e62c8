"""Plugin release archives: validate their ``config.yaml`` and unpack them safely.

A release archive is a zip holding a ``config.yaml`` at its root (or inside one top-level
folder), in the Synapse SDK's plugin-config convention::

    name: Hello            # optional, defaults to the code
    code: hello            # required: lowercase letters, digits, '-' and '_'
    version: 1.0.0         # optional, defaults to the release's version
    category: custom       # optional, one of the plugin categories
    requirements: [numpy]  # optional: distributions the backend's Python must provide
    actions:
      run:
        entrypoint: plugin.main:run      # module:callable_or_class (required to run)
        method: job                      # job | task | serve_application | restapi
        run_method: run                  # the method called on a class entrypoint
        params:                          # optional parameter schema
          epochs: {type: integer, default: 3, minimum: 1}

Nothing is written outside the target folder: absolute names, ``..`` parts, links and
device files are refused, and the sizes are counted while unpacking (a header cannot lie
its way past the limit).
"""

from __future__ import annotations

import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from synapse_nb.exceptions import ArchiveLimitError, UnsafeArchiveError
from synapse_nb.utils.file.archive import ArchiveLimits, unarchive

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}\Z")
ENTRYPOINT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
METHODS = ("job", "task", "serve_application", "restapi")
PARAM_TYPES = ("integer", "number", "string", "boolean", "array", "object")
CATEGORIES = (
    "neural_net",
    "export",
    "upload",
    "smart_tool",
    "pre_annotation",
    "post_annotation",
    "data_validation",
    "converter",
    "custom",
)


class ReleaseError(ValueError):
    """A release archive or config refused; ``field`` names what is wrong.

    Example:
        >>> str(ReleaseError("config.code", "is required"))
        'config.code: is required'
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Bounds on what a release may unpack to.

    Example:
        >>> Limits().max_files
        10000
    """

    max_archive_bytes: int = 200 * 2**20
    max_unpacked_bytes: int = 500 * 2**20
    max_files: int = 10000


# ---------------------------------------------------------------- config


def _require_mapping(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise ReleaseError(field, f"expected a mapping, got {type(value).__name__}")
    return value


def _optional_str(config: dict, key: str, field: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, (str, int, float)):
        raise ReleaseError(field, f"expected text, got {value!r:.60}")
    return None if value is None else str(value)


def validate_params_schema(schema: Any, field: str) -> dict:
    """Check an action's parameter schema: ``{name: {type?, default?, required?, ...}}``."""
    schema = _require_mapping(schema, field)
    for name, spec in schema.items():
        spec = _require_mapping(spec, f"{field}.{name}")
        kind = spec.get("type")
        if kind is not None and kind not in PARAM_TYPES:
            raise ReleaseError(f"{field}.{name}.type", f"{kind!r} is not one of {PARAM_TYPES}")
    return schema


def validate_action(name: str, action: Any, field: str) -> dict:
    action = _require_mapping(action, field)
    entrypoint = action.get("entrypoint")
    if not isinstance(entrypoint, str) or not ENTRYPOINT_RE.match(entrypoint):
        raise ReleaseError(
            f"{field}.entrypoint",
            f"expected 'module:callable_or_class', got {entrypoint!r:.80}",
        )
    method = action.get("method", "job")
    if method not in METHODS:
        raise ReleaseError(f"{field}.method", f"{method!r} is not one of {METHODS}")
    run_method = action.get("run_method", "run")
    if not isinstance(run_method, str) or not run_method.isidentifier():
        raise ReleaseError(f"{field}.run_method", f"not a method name: {run_method!r:.60}")
    out = {**action, "entrypoint": entrypoint, "method": method, "run_method": run_method}
    if "params" in action:
        out["params"] = validate_params_schema(action["params"], f"{field}.params")
    return out


def validate_config(config: Any, *, version: str, category: str) -> dict:
    """A release's plugin config, checked and completed; ReleaseError names the bad field.

    Example:
        >>> cfg = validate_config(
        ...     {"code": "hello", "actions": {"run": {"entrypoint": "main:run"}}},
        ...     version="1.0", category="custom")
        >>> cfg["name"], cfg["actions"]["run"]["method"]
        ('hello', 'job')
    """
    config = _require_mapping(config, "config")
    code = config.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise ReleaseError("config.code", f"expected a plugin code like 'my-plugin', got {code!r}")
    out = dict(config)
    out["name"] = _optional_str(config, "name", "config.name") or code
    out["version"] = _optional_str(config, "version", "config.version") or version
    out["category"] = config.get("category") or category
    if out["category"] not in CATEGORIES:
        raise ReleaseError("config.category", f"{out['category']!r} is not one of {CATEGORIES}")
    requirements = config.get("requirements") or []
    if not isinstance(requirements, list) or not all(isinstance(r, str) for r in requirements):
        raise ReleaseError("config.requirements", "expected a list of requirement strings")
    out["requirements"] = requirements
    actions = _require_mapping(config.get("actions"), "config.actions")
    if not actions:
        raise ReleaseError("config.actions", "a plugin needs at least one action")
    out["actions"] = {
        str(name): validate_action(str(name), action, f"config.actions.{name}")
        for name, action in actions.items()
    }
    return out


# ---------------------------------------------------------------- archive


def extract_archive(archive: Path, target: Path, limits: Limits = Limits()) -> Path:
    """Unpack ``archive`` into ``target`` (created) and return the folder holding config.yaml.

    The package's safe extractor does the work (all or nothing: names that escape, links,
    devices, duplicate names and the size limits are refused before anything is written);
    a release may not hold symlinks at all, since its code runs.

    Example:
        >>> extract_archive(Path("missing.zip"), Path("out"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        synapse_nb.server.executors.release.ReleaseError: file: ...
    """
    if not archive.is_file() or archive.stat().st_size > limits.max_archive_bytes:
        raise ReleaseError("file", "no archive, or larger than the size limit")
    bounds = ArchiveLimits(max_members=limits.max_files, max_total_size=limits.max_unpacked_bytes)
    try:
        unarchive(archive, target, limits=bounds, links=False)
    except ArchiveLimitError as exc:
        what = "size limit" if exc.limit != "max_members" else f"limit of {limits.max_files} files"
        raise ReleaseError("file", f"the archive unpacks to more than the {what} ({exc})") from None
    except UnsafeArchiveError as exc:
        raise ReleaseError("file", f"archive member {exc.member!r:.100} escapes the release or is"
                           f" a link ({exc.reason})") from None
    except (zipfile.BadZipFile, tarfile.TarError, OSError, RuntimeError, ValueError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ReleaseError("file", f"not a readable zip or tar archive ({exc})") from None
    return config_root(target)


def config_root(folder: Path) -> Path:
    """The folder holding ``config.yaml``: ``folder`` or its single top-level subfolder."""
    if (folder / "config.yaml").is_file():
        return folder
    entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and (entries[0] / "config.yaml").is_file():
        return entries[0]
    raise ReleaseError("file", "the archive has no config.yaml at its root")


def read_config(root: Path) -> Any:
    """Parse ``root/config.yaml`` (safe YAML)."""
    try:
        return yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ReleaseError("config", f"config.yaml is not valid YAML ({exc})") from None


# ---------------------------------------------------------------- run parameters

_CHECKS: dict[str, Any] = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _check_param(name: str, value: Any, spec: dict) -> None:
    kind = spec.get("type")
    if kind and not _CHECKS[kind](value):
        raise ReleaseError(f"params.{name}", f"expected {kind}, got {value!r:.60}")
    if "choices" in spec and value not in spec["choices"]:
        raise ReleaseError(f"params.{name}", f"{value!r:.60} is not one of {spec['choices']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in spec and value < spec["minimum"]:
            raise ReleaseError(f"params.{name}", f"{value} is below {spec['minimum']}")
        if "maximum" in spec and value > spec["maximum"]:
            raise ReleaseError(f"params.{name}", f"{value} is above {spec['maximum']}")


def validate_params(schema: dict | None, params: dict) -> dict:
    """Run parameters checked against an action's schema, defaults filled in.

    Parameters the schema does not name pass through unchanged.

    Example:
        >>> validate_params({"epochs": {"type": "integer", "default": 3}}, {})
        {'epochs': 3}
    """
    out = dict(params)
    for name, spec in (schema or {}).items():
        if name not in out:
            if spec.get("required"):
                raise ReleaseError(f"params.{name}", "this parameter is required")
            if "default" in spec:
                out[name] = spec["default"]
            continue
        _check_param(name, out[name], spec)
    return out


# ---------------------------------------------------------------- creating a release


def prepare_release(
    archive: Path, staging: Path, *, code: str, version: str, category: str
) -> dict:
    """Unpack an uploaded archive into ``staging`` and return its validated config.

    ``staging`` is removed again when the archive or its config is refused.
    """
    try:
        root = extract_archive(archive, staging)
        config = validate_config(read_config(root), version=version, category=category)
        if config["code"] != code:
            raise ReleaseError(
                "config.code", f"{config['code']!r} is not the plugin's code {code!r}"
            )
    except ReleaseError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return config
