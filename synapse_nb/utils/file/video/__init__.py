"""Video transcoding with FFmpeg (see :mod:`.transcode`).

Example:
    >>> from synapse_nb.utils.file.video import TranscodeConfig, transcode_video
"""

from .transcode import (
    SUPPORTED_FORMATS,
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

__all__ = [
    "SUPPORTED_FORMATS",
    "FFmpegNotFoundError",
    "TranscodeConfig",
    "TranscodingFailedError",
    "UnsupportedFormatError",
    "VideoTranscodeError",
    "atranscode_video",
    "get_video_info",
    "optimize_for_web",
    "transcode_batch",
    "transcode_video",
    "validate_video_format",
]
