"""File utilities from the Synapse SDK's file utilities, with the Synapse SDK's module layout.

==========================  ==================================================================
module                      functions
==========================  ==================================================================
``archive``                 :func:`archive`, :func:`unarchive` (ZIP or tar, all or nothing)
``checksum``                :func:`calculate_checksum`, :func:`get_checksum_from_file`
``chunking``                :func:`read_file_in_chunks` (50 MiB default)
``download``                :func:`download_file`, :func:`adownload_file`,
                            :func:`files_url_to_path` and friends (concurrent, cached, atomic)
``encoding``                :func:`convert_file_to_base64`
``io``                      :func:`get_dict_from_file` (JSON/YAML), :func:`get_temp_path`
``video``                   :func:`transcode_video`, :class:`TranscodeConfig`,
                            :func:`get_video_info`, :func:`optimize_for_web`, exceptions
==========================  ==================================================================

Everything is importable from this package as well as from its module. The ``download``
functions are loaded on first use: they bring the HTTP transport with them, which the other
utilities (used by the embedded backend too) do not need.

Example:
    >>> from synapse_nb.utils.file import read_file_in_chunks, download_file
    >>> from synapse_nb.utils.file.chunking import read_file_in_chunks
"""

from typing import Any

from .archive import ArchiveLimitError, ArchiveLimits, UnsafeArchiveError, archive, unarchive
from .checksum import calculate_checksum, get_checksum_from_file
from .chunking import DEFAULT_CHUNK_SIZE, read_file_in_chunks
from .encoding import convert_file_to_base64
from .io import get_dict_from_file, get_temp_path
from .video import (
    FFmpegNotFoundError,
    TranscodeConfig,
    TranscodingFailedError,
    UnsupportedFormatError,
    VideoTranscodeError,
    atranscode_video,
    get_video_info,
    optimize_for_web,
    transcode_batch,
    transcode_video,
    validate_video_format,
)

_DOWNLOAD_NAMES = (
    "adownload_file",
    "afiles_url_to_path",
    "afiles_url_to_path_from_objs",
    "download_file",
    "files_url_to_path",
    "files_url_to_path_from_objs",
)


def __getattr__(name: str) -> Any:
    if name in _DOWNLOAD_NAMES:
        from . import download

        return getattr(download, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ArchiveLimitError",
    "ArchiveLimits",
    "FFmpegNotFoundError",
    "TranscodeConfig",
    "TranscodingFailedError",
    "UnsafeArchiveError",
    "UnsupportedFormatError",
    "VideoTranscodeError",
    "adownload_file",
    "afiles_url_to_path",
    "afiles_url_to_path_from_objs",
    "archive",
    "atranscode_video",
    "calculate_checksum",
    "convert_file_to_base64",
    "download_file",
    "files_url_to_path",
    "files_url_to_path_from_objs",
    "get_checksum_from_file",
    "get_dict_from_file",
    "get_temp_path",
    "get_video_info",
    "optimize_for_web",
    "read_file_in_chunks",
    "transcode_batch",
    "transcode_video",
    "unarchive",
    "validate_video_format",
]
