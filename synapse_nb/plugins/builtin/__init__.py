"""Plugins shipped with synapse_nb, each a folder that is a release as it is.

* ``trainer/``: a small numpy classifier that shows the model lifecycle (train with per-epoch
  metrics and checkpoints, stop, resume from the last saved epoch, register the model, predict).
* ``export/``: the export workflow as a job (tasks, assignments or ground-truth events to DM,
  COCO, Pascal VOC or YOLO), its zip uploaded as a data file whose URL is in the job result.
* ``evaluate/``: a predictions dataset version against a ground-truth version with the COCO
  protocol; the summary logged as metrics, returned with AP per class, optionally written to
  a model.
* ``upload/``: the upload workflow run on the backend's side, from a folder of a
  ``file_system`` storage into a data collection (resumable; per-file counts in the result).

The demo workspace publishes them as real releases (``numpy-trainer``, ``dataset-export``,
``model-evaluate``, ``storage-upload``).

Example:
    >>> [(plugin_dir(name) / "config.yaml").is_file() for name in ("export", "upload")]
    [True, True]
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
