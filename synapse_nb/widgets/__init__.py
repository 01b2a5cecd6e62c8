"""Notebook widgets (ipywidgets + ipytree) for Synapse frames and workspaces.

=======================  ============================================================
``FilterPanel``          facet filters, a paged sortable table, row selection
``TagEditor``            add/remove tags on rows, with confirmation and undo
``ResourceTree``         a lazily loaded tree of projects, collections, datasets...
``AnnotationPreview``    images with their annotations drawn on (single, gallery,
                         compare)
``UploadProgress``       per-file and total upload progress, cancel, retry
``JobMonitor``           a job's status, progress and console log tail, stop
``EvaluationPanel``      metrics, clickable confusion matrix -> tasks, preview, tags
``Explorer``/``explore`` all of the above linked in one layout
=======================  ============================================================

No widget talks to the server in ``__init__``: each loads on first display or on ``load()``
(the tree loads a node when it is opened). Importing this package registers the preview
with ``df.synapse.preview()``; the widget modules themselves load on first use.

Example:
    >>> from synapse_nb.widgets import FilterPanel, explore
    >>> ex = explore(client, project=1)
    >>> ex.panel.params
    {'project': 1}
    >>> isinstance(ex.panel, FilterPanel)
    True
"""

from __future__ import annotations

import importlib
from typing import Any

from synapse_nb.frames import register_previewer

# public name -> "module:attribute"
_LAZY = {
    "AnnotationPreview": "synapse_nb.widgets.preview:AnnotationPreview",
    "Criteria": "synapse_nb.widgets.filter:Criteria",
    "EvaluationPanel": "synapse_nb.widgets.evaluation:EvaluationPanel",
    "Explorer": "synapse_nb.widgets.explorer:Explorer",
    "FilterPanel": "synapse_nb.widgets.filter:FilterPanel",
    "JobMonitor": "synapse_nb.widgets.jobs:JobMonitor",
    "ResourceTree": "synapse_nb.widgets.tree:ResourceTree",
    "TagChange": "synapse_nb.widgets.tags:TagChange",
    "TagEditor": "synapse_nb.widgets.tags:TagEditor",
    "UNASSIGNED": "synapse_nb.widgets.filter:UNASSIGNED",
    "UploadCancelled": "synapse_nb.widgets.upload:UploadCancelled",
    "UploadProgress": "synapse_nb.widgets.upload:UploadProgress",
    "explore": "synapse_nb.widgets.explorer:explore",
    "preview": "synapse_nb.widgets.preview:preview",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'synapse_nb.widgets' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def _open_preview(frame: Any, client: Any = None, **options: Any) -> Any:
    """What ``df.synapse.preview()`` calls until the preview module is imported."""
    return importlib.import_module("synapse_nb.widgets.preview").preview(
        frame, client=client, **options
    )


register_previewer(_open_preview)
