"""Pydantic request models and enums of the Synapse platform, one module per domain.

Example:
    >>> from synapse_nb.models import JobStatus
    >>> JobStatus("completed")
    <JobStatus.SUCCEEDED: 'SUCCEEDED'>
"""

from synapse_nb.models.annotation import (
    SetAssignmentTags,
    SetTaskTags,
    TaskBulkCreate,
    TaskCreate,
    TaskCreateItem,
)
from synapse_nb.models.data_collection import DataUnitCreate, DataUnitFile
from synapse_nb.models.enums import (
    AnnotationSchema,
    ChunkedUploadStatus,
    FileType,
    JobStatus,
    LogLevel,
    PluginCategory,
    PluginRunMethod,
    StorageCategory,
    StorageProvider,
    TagAction,
    TaskPriority,
    TaskStatus,
)
from synapse_nb.models.integration import (
    JobUpdate,
    PluginCreate,
    PluginReleaseCreate,
    PluginUpdate,
    RunPlugin,
    StorageCreate,
)
from synapse_nb.models.ml import ModelCreate

__all__ = [
    "AnnotationSchema",
    "ChunkedUploadStatus",
    "DataUnitCreate",
    "DataUnitFile",
    "FileType",
    "JobStatus",
    "JobUpdate",
    "LogLevel",
    "ModelCreate",
    "PluginCategory",
    "PluginCreate",
    "PluginReleaseCreate",
    "PluginRunMethod",
    "PluginUpdate",
    "RunPlugin",
    "SetAssignmentTags",
    "SetTaskTags",
    "StorageCategory",
    "StorageCreate",
    "StorageProvider",
    "TagAction",
    "TaskBulkCreate",
    "TaskCreate",
    "TaskCreateItem",
    "TaskPriority",
    "TaskStatus",
]
