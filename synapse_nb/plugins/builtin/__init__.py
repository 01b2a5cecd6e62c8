"""Plugins shipped with synapse_nb, each a folder that is a release as it is.

``trainer/``: a small numpy classifier that shows the model lifecycle (train with per-epoch
metrics and checkpoints, stop, resume from the last saved epoch, register the model, predict).
The demo workspace publishes it as a real release.

Example:
    >>> (plugin_dir("trainer") / "config.yaml").is_file()
    True
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["plugin_dir"]


def plugin_dir(name: str) -> Path:
    """The folder of the built-in plugin ``name`` (holding its ``config.yaml``)."""
    folder = Path(__file__).parent / name
    if not (folder / "config.yaml").is_file():
        raise KeyError(f"no built-in plugin {name!r}")
    return folder
