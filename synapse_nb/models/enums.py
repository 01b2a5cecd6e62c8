"""Enumerations of the Synapse platform (see docs/protocol.md).

Members are ``StrEnum``/``IntEnum``, so they compare equal to the wire values and serialize
as them. Lookups are forgiving where the Synapse SDK is: ``JobStatus("completed")`` is
``JobStatus.SUCCEEDED`` and ``StorageProvider("AMAZON_S3")`` is ``StorageProvider.AMAZON_S3``.

Example:
    >>> JobStatus("completed").value, JobStatus("running").value
    ('SUCCEEDED', 'RUNNING')
    >>> StorageCategory("INTERNAL")
    <StorageCategory.INTERNAL: 'internal'>
"""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "AnnotationSchema",
    "ChunkedUploadStatus",
    "FileType",
    "JobStatus",
    "LogLevel",
    "PluginCategory",
    "PluginRunMethod",
    "StorageCategory",
    "StorageProvider",
    "TagAction",
    "TaskPriority",
    "TaskStatus",
]


class _LenientStrEnum(StrEnum):
    """Looks members up by value or name, case-insensitively."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            key = value.strip().lower()
            for member in cls:
                if key in (member.value.lower(), member.name.lower()):
                    return member
        return None


class StorageCategory(_LenientStrEnum):
    """Whether a storage is managed by the platform or brought by the user.

    Example:
        >>> StorageCategory.EXTERNAL == "external"
        True
    """

    INTERNAL = "internal"
    EXTERNAL = "external"


_PROVIDER_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")


class StorageProvider(_LenientStrEnum):
    """Storage backends. The set is open: use :meth:`normalize` for wire values.

    The Synapse SDK lists eight providers; newer ones add ``synology`` and ``smb``; the real backend
    may know more, so unknown codes are passed through rather than rejected.

    Example:
        >>> StorageProvider.normalize("AMAZON_S3"), StorageProvider.normalize("wasabi")
        ('amazon_s3', 'wasabi')
    """

    AMAZON_S3 = "amazon_s3"
    AZURE = "azure"
    DIGITAL_OCEAN = "digital_ocean"
    FILE_SYSTEM = "file_system"
    FTP = "ftp"
    SFTP = "sftp"
    MINIO = "minio"
    GCP = "gcp"
    SYNOLOGY = "synology"
    SMB = "smb"

    @classmethod
    def normalize(cls, value: Any) -> str:
        """Return the wire code of a provider: a known member's value or a new code as-is.

        Raises:
            ValueError: ``value`` is not a provider member nor a lowercase code
                (letters, digits, ``_.-``).

        Example:
            >>> StorageProvider.normalize(StorageProvider.GCP)
            'gcp'
        """
        if isinstance(value, cls):
            return value.value
        if isinstance(value, str):
            try:
                return cls(value).value
            except ValueError:
                code = value.strip().lower()
                if _PROVIDER_CODE.match(code):
                    return code
        raise ValueError(
            f"provider must be one of {[m.value for m in cls]} or another provider code "
            f"(lowercase letters, digits, '_', '.', '-'), got {value!r}"
        )


class JobStatus(_LenientStrEnum):
    """Backend job status (uppercase on the wire).

    The Synapse SDK's lowercase examples map case-insensitively: ``running`` -> ``RUNNING`` and
    ``completed`` (also ``complete``/``success``) -> ``SUCCEEDED``; ``cancelled`` ->
    ``STOPPED``.

    Example:
        >>> JobStatus("Completed").value
        'SUCCEEDED'
    """

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        member = super()._missing_(value)
        if member is None and isinstance(value, str):
            member = _JOB_STATUS_ALIASES.get(value.strip().lower())
        return member


_JOB_STATUS_ALIASES = {
    "completed": JobStatus.SUCCEEDED,
    "complete": JobStatus.SUCCEEDED,
    "success": JobStatus.SUCCEEDED,
    "cancelled": JobStatus.STOPPED,
    "canceled": JobStatus.STOPPED,
}


class TaskStatus(_LenientStrEnum):
    """Task status filter values of the Synapse SDK."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class TaskPriority(_LenientStrEnum):
    """Task priority (Synapse SDK)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class TagAction(_LenientStrEnum):
    """What ``set_tags_*`` does with the given tags (default ``add``)."""

    ADD = "add"
    REMOVE = "remove"


class AnnotationSchema(_LenientStrEnum):
    """``?schema=`` of ``annotate_task_data``: validate as DM v1, or skip validation."""

    DM_SCHEMA_V1 = "dm_schema_v1"
    ANY = "any"


class ChunkedUploadStatus(IntEnum):
    """``status`` of a chunked upload record."""

    UPLOADING = 1
    COMPLETE = 2


class LogLevel(_LenientStrEnum):
    """Level of a job log entry."""

    DEBUG = "debug"
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    DANGER = "danger"
    ERROR = "error"
    CRITICAL = "critical"


class PluginCategory(_LenientStrEnum):
    """Plugin categories."""

    NEURAL_NET = "neural_net"
    EXPORT = "export"
    UPLOAD = "upload"
    SMART_TOOL = "smart_tool"
    PRE_ANNOTATION = "pre_annotation"
    POST_ANNOTATION = "post_annotation"
    DATA_VALIDATION = "data_validation"
    CONVERTER = "converter"
    CUSTOM = "custom"


class PluginRunMethod(_LenientStrEnum):
    """How a plugin action runs."""

    JOB = "job"
    TASK = "task"
    SERVE = "serve"
    RESTAPI = "restapi"


class FileType(_LenientStrEnum):
    """``file_type`` of a file specification / data collection."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    TEXT = "text"
    PCD = "pcd"
    DATA = "data"
