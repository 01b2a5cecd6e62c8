"""Workflows from the Synapse SDK's plugins: export (BaseExporter and the built-in exporters)
and upload (steps and strategies), as library functions with notebook-friendly progress.

=====================================  ==================================================
:func:`export`                         tasks / assignments / ground-truth events to DM,
                                       COCO, Pascal VOC or YOLO, with originals and a report
:class:`BaseExporter`                  the Synapse SDK's export hooks, for custom exporters
:func:`upload`                         a folder (+ Excel/CSV metadata) into a data
                                       collection, resumable from a manifest
:class:`ProgressCallback`              ``progress(current, total, category)``
=====================================  ==================================================

Example:
    >>> from PIL import Image
    >>> from synapse_nb.plugins import export, upload
    >>> Path("photos").mkdir(); Image.new("RGB", (8, 8), (53, 0, 0)).save("photos/a.png")
    >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
    ...             if c["name"] == "Incoming uploads"][0]
    >>> upload(backend, "photos", incoming, progress=False).ok
    True
    >>> project = backend.list_projects()["results"][0]["id"]
    >>> report = export(backend, "task", "coco", "out", params={"project": project},
    ...                 save_original_file=False, progress=False)
    >>> (report.path / "instances.json").is_file()
    True
"""

from pathlib import Path  # noqa: F401  (docstring example)

from synapse_nb.plugins._progress import ProgressCallback
from synapse_nb.plugins.export import BaseExporter, ExportReport, export
from synapse_nb.plugins.upload import UploadReport, upload

__all__ = [
    "BaseExporter",
    "ExportReport",
    "ProgressCallback",
    "UploadReport",
    "export",
    "upload",
]
