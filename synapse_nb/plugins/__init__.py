"""Workflows from the seed's plugin docs: export (BaseExporter and the built-in exporters)
and upload (steps and strategies), as library functions with notebook-friendly progress.

=====================================  ==================================================
:func:`export`                         tasks / assignments / ground-truth events to DM,
                                       COCO, Pascal VOC or YOLO, with originals and a report
:class:`BaseExporter`                  the seed's export hooks, for custom exporters
:func:`upload`                         a folder (+ Excel/CSV metadata) into a data
                                       collection, resumable from a manifest
:class:`ProgressCallback`              ``progress(current, total, category)``
=====================================  ==================================================

Example:
    >>> from synapse_nb.plugins import export, upload
    >>> report = upload(client, "photos/", collection_id=2)        # doctest: +SKIP
    >>> report = export(client, "task", "coco", "out", params={"project": 1})  # doctest: +SKIP
"""

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
