"""Typed DataFrames of Synapse resources, and the ``df.synapse`` accessor.

Importing this package registers the accessor. The usual entry point is
:class:`~synapse_nb.frames.client.Client`, a ``BackendClient`` whose listings are frames.

Example:
    >>> from synapse_nb.frames import Client, describe
    >>> describe("task")[2]
    ('status', 'category', 'task status')
"""

from synapse_nb.frames.accessor import FrameSummary, SynapseAccessor, register_previewer
from synapse_nb.frames.annotations import annotations_from_data
from synapse_nb.frames.build import SynapseFrame, build_frame, empty_frame
from synapse_nb.frames.cache import FrameCache
from synapse_nb.frames.client import Client, client_for
from synapse_nb.frames.models import compare_models, plot_models
from synapse_nb.frames.schemas import SCHEMAS, describe
from synapse_nb.frames.split import DatasetDetails, details, split
from synapse_nb.frames.writeback import PushConflictError, PushError

__all__ = [
    "SCHEMAS",
    "Client",
    "DatasetDetails",
    "FrameCache",
    "FrameSummary",
    "PushConflictError",
    "PushError",
    "SynapseAccessor",
    "SynapseFrame",
    "annotations_from_data",
    "build_frame",
    "client_for",
    "compare_models",
    "describe",
    "details",
    "empty_frame",
    "plot_models",
    "register_previewer",
    "split",
]
