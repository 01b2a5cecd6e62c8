"""Video probing and transcoding with the ``ffmpeg``/``ffprobe`` command-line tools.

The tools are run with :mod:`subprocess` (argument lists, never a shell). On Debian they
come from the ``ffmpeg`` package. Exceptions::

    VideoTranscodeError            base of everything raised here
    ├── UnsupportedFormatError     input extension is not a known video container
    ├── FFmpegNotFoundError        ffmpeg or ffprobe is not on PATH
    └── TranscodingFailedError     the tool ran and failed (message has its stderr tail)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import Any

from synapse_nb.exceptions import (
    FFmpegNotFoundError,
    TranscodingFailedError,
    UnsupportedFormatError,
    VideoTranscodeError,
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

#: Input container extensions accepted by :func:`transcode_video` (the Synapse SDK's list).
SUPPORTED_FORMATS = frozenset(
    {".mp4", ".m4v", ".avi", ".mov", ".mkv", ".webm", ".flv", ".wmv", ".mpeg", ".mpg", ".3gp"}
    | {".ogv"}
)
_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip
_RESOLUTION = re.compile(r"^(\d+)x(\d+)\Z")
_BITRATE = re.compile(r"^\d+(\.\d+)?[kKmM]?\Z")
_STDERR_TAIL = 2000


@dataclass
class TranscodeConfig:
    """Options for :func:`transcode_video` (the Synapse SDK's fields and defaults).

    Attributes:
        vcodec: Video encoder, e.g. ``"libx264"`` or ``"libx265"``.
        preset: Encoder speed/quality preset, ``"ultrafast"`` .. ``"placebo"``.
        crf: Constant rate factor 0-51; lower is better quality.
        acodec: Audio encoder, e.g. ``"aac"``.
        audio_bitrate: Audio bitrate such as ``"128k"``.
        movflags: MP4 muxer flags; ``"+faststart"`` moves the index to the front.
        resolution: Output size ``"WIDTHxHEIGHT"``, or None to keep it.
        fps: Output frame rate, or None to keep it.
        start_time: Seconds to skip at the start, or None.
        duration: Seconds to keep, or None for the rest.

    Example:
        >>> TranscodeConfig(preset="fast", crf=20, resolution="1280x720").crf
        20
    """

    vcodec: str = "libx264"
    preset: str = "medium"
    crf: int = 28
    acodec: str = "aac"
    audio_bitrate: str = "128k"
    movflags: str = "+faststart"
    resolution: str | None = None
    fps: int | None = None
    start_time: float | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        for field in ("vcodec", "acodec", "movflags"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip() or value.startswith("-"):
                raise ValueError(f"TranscodeConfig.{field} must be a non-empty name, got {value!r}")
        if self.preset not in _PRESETS:
            raise ValueError(
                f"TranscodeConfig.preset must be one of {_PRESETS}, got {self.preset!r}"
            )
        if isinstance(self.crf, bool) or not isinstance(self.crf, int) or not 0 <= self.crf <= 51:
            raise ValueError(f"TranscodeConfig.crf must be an integer 0-51, got {self.crf!r}")
        if not isinstance(self.audio_bitrate, str) or not _BITRATE.match(self.audio_bitrate):
            raise ValueError(
                f"TranscodeConfig.audio_bitrate must look like '128k', got {self.audio_bitrate!r}"
            )
        if self.resolution is not None:
            match = _RESOLUTION.match(self.resolution) if isinstance(self.resolution, str) else None
            if not match or int(match[1]) <= 0 or int(match[2]) <= 0:
                raise ValueError(
                    f"TranscodeConfig.resolution must be 'WIDTHxHEIGHT', got {self.resolution!r}"
                )
        if self.fps is not None and (
            isinstance(self.fps, bool) or not isinstance(self.fps, int | float) or self.fps <= 0
        ):
            raise ValueError(f"TranscodeConfig.fps must be a positive number, got {self.fps!r}")
        if self.start_time is not None and (
            not isinstance(self.start_time, int | float) or self.start_time < 0
        ):
            raise ValueError(f"TranscodeConfig.start_time must be >= 0, got {self.start_time!r}")
        if self.duration is not None and (
            not isinstance(self.duration, int | float) or self.duration <= 0
        ):
            raise ValueError(f"TranscodeConfig.duration must be > 0, got {self.duration!r}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FFmpegNotFoundError(
            f"{name} was not found on PATH; install FFmpeg (Debian: apt-get install ffmpeg)"
        )
    return path


def validate_video_format(video_path: str | PathLike[str]) -> bool:
    """Tell whether a file's extension is a supported video format.

    Only the extension is checked (case-insensitive); the file need not exist.

    Args:
        video_path: Path or file name.

    Returns:
        True for ``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm`` and the other
        :data:`SUPPORTED_FORMATS`.

    Example:
        >>> validate_video_format("clip.MOV")
        True
        >>> validate_video_format("notes.txt")
        False
    """
    return Path(video_path).suffix.lower() in SUPPORTED_FORMATS


def get_video_info(video_path: str | PathLike[str]) -> dict[str, Any]:
    """Probe a video with ``ffprobe``.

    Args:
        video_path: The video file.

    Returns:
        A dict with ``duration`` (s), ``size`` (bytes), ``bitrate`` (bit/s) and, when the
        file has a video stream, ``width``, ``height``, ``video_codec``, ``fps``; when it
        has an audio stream, ``audio_codec``, ``channels``, ``sample_rate``.

    Raises:
        FileNotFoundError: If the file does not exist.
        FFmpegNotFoundError: If ``ffprobe`` is not installed.
        TranscodingFailedError: If ``ffprobe`` cannot read the file.

    Example:
        >>> _ = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
        ...     "testsrc=size=320x240:rate=25:duration=0.4", tmp / "clip.mp4"], check=True)
        >>> info = get_video_info(tmp / "clip.mp4")
        >>> info["width"], info["height"], info["fps"], "audio_codec" in info
        (320, 240, 25.0, False)
    """
    path = Path(video_path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {str(path)!r}")
    cmd = [
        _tool("ffprobe"), "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", os.fspath(path),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise TranscodingFailedError(
            f"ffprobe could not read {str(path)!r}: {proc.stderr.strip()[-_STDERR_TAIL:]}"
        )
    probe = json.loads(proc.stdout or "{}")
    fmt = probe.get("format", {})
    info: dict[str, Any] = {
        "duration": float(fmt.get("duration") or 0.0),
        "size": int(fmt.get("size") or 0),
        "bitrate": int(fmt.get("bit_rate") or 0),
    }
    streams = probe.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is not None:
        info.update(
            width=int(video.get("width") or 0),
            height=int(video.get("height") or 0),
            video_codec=video.get("codec_name", ""),
            fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        )
    if audio is not None:
        info.update(
            audio_codec=audio.get("codec_name", ""),
            channels=int(audio.get("channels") or 0),
            sample_rate=int(audio.get("sample_rate") or 0),
        )
    return info


def _rate(text: str | None) -> float:
    try:
        return float(Fraction(text)) if text else 0.0
    except (ValueError, ZeroDivisionError):
        return 0.0


def _build_command(src: Path, dst: Path, config: TranscodeConfig) -> list[str]:
    cmd = [_tool("ffmpeg"), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    if config.start_time is not None:
        cmd += ["-ss", f"{config.start_time}"]
    cmd += ["-i", os.fspath(src)]
    if config.duration is not None:
        cmd += ["-t", f"{config.duration}"]
    filters = []
    if config.resolution:
        width, height = config.resolution.split("x")
        filters.append(f"scale={width}:{height}")
    if config.fps:
        filters.append(f"fps={config.fps}")
    if filters:
        cmd += ["-vf", ",".join(filters)]
    cmd += ["-c:v", config.vcodec, "-preset", config.preset, "-crf", str(config.crf)]
    cmd += ["-c:a", config.acodec, "-b:a", config.audio_bitrate, "-movflags", config.movflags]
    cmd += ["-progress", "pipe:1", "-nostats", os.fspath(dst)]
    return cmd


def transcode_video(
    input_path: str | PathLike[str],
    output_path: str | PathLike[str],
    config: TranscodeConfig | None = None,
    progress_callback: Callable[[float], None] | None = None,
) -> Path:
    """Transcode a video with ``ffmpeg``.

    The output is written to a temporary file beside ``output_path`` and moved into place
    only when ``ffmpeg`` succeeds, so a failure never leaves a truncated video.

    Args:
        input_path: Source video; its extension must be in :data:`SUPPORTED_FORMATS`.
        output_path: Destination; the container follows its extension (``.mp4`` ...).
        config: Encoding options (default :class:`TranscodeConfig()`).
        progress_callback: Called with the progress in percent (0-100, as in the Synapse SDK's
            docs) while ``ffmpeg`` reports it, and with 100.0 at the end.

    Returns:
        The output path.

    Raises:
        FileNotFoundError: If the input does not exist.
        UnsupportedFormatError: If the input extension is not supported.
        ValueError: If input and output are the same file.
        FFmpegNotFoundError: If ``ffmpeg`` is not installed.
        TranscodingFailedError: If ``ffmpeg`` fails.

    Example:
        >>> _ = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
        ...     "testsrc=size=320x240:rate=25:duration=0.4", tmp / "input.avi"], check=True)
        >>> seen = []
        >>> out = transcode_video(tmp / "input.avi", tmp / "output.mp4", TranscodeConfig(crf=20),
        ...                       progress_callback=seen.append)
        >>> out.name, seen[-1], get_video_info(out)["video_codec"]
        ('output.mp4', 100.0, 'h264')
    """
    src, dst = Path(input_path), Path(output_path)
    if not validate_video_format(src):
        raise UnsupportedFormatError(
            f"unsupported video format {src.suffix or 'none'!r} for input_path {str(src)!r}; "
            f"supported: {', '.join(sorted(SUPPORTED_FORMATS))}"
        )
    if not src.is_file():
        raise FileNotFoundError(f"video not found: {str(src)!r}")
    if dst.exists() and dst.resolve() == src.resolve():
        raise ValueError(f"output_path must differ from input_path, got {str(dst)!r} for both")
    config = config if config is not None else TranscodeConfig()
    _tool("ffmpeg")
    total = _expected_duration(src, config) if progress_callback else 0.0

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.{uuid.uuid4().hex[:8]}.part{dst.suffix}")
    try:
        _run_ffmpeg(_build_command(src, tmp, config), total, progress_callback)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    if progress_callback:
        progress_callback(100.0)
    return dst


def _expected_duration(src: Path, config: TranscodeConfig) -> float:
    try:
        full = get_video_info(src).get("duration", 0.0)
    except TranscodingFailedError:
        return 0.0  # ffmpeg itself will report the real problem
    remaining = max(full - (config.start_time or 0.0), 0.0)
    return min(remaining, config.duration) if config.duration else remaining


def _run_ffmpeg(
    cmd: list[str], total: float, progress_callback: Callable[[float], None] | None
) -> None:
    with tempfile.TemporaryFile() as stderr:
        # stderr goes to a file so a chatty ffmpeg can never block on a full pipe.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if progress_callback and total > 0 and key == "out_time_us" and value.isdigit():
                progress_callback(min(int(value) / 1e6 / total * 100.0, 100.0))
        returncode = proc.wait()
        if returncode != 0:
            stderr.seek(0)
            tail = stderr.read().decode("utf-8", "replace").strip()[-_STDERR_TAIL:]
            raise TranscodingFailedError(f"ffmpeg exited with status {returncode}: {tail}")


def optimize_for_web(video_path: str | PathLike[str], output_path: str | PathLike[str]) -> Path:
    """Transcode for web streaming: fast preset, CRF 23, fast-start fragmented MP4.

    Args:
        video_path: Source video.
        output_path: Destination, normally ``.mp4``.

    Returns:
        The output path.

    Raises:
        VideoTranscodeError: As :func:`transcode_video`.

    Example:
        >>> _ = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
        ...     "testsrc=size=320x240:rate=25:duration=0.4", tmp / "input.mov"], check=True)
        >>> optimize_for_web(tmp / "input.mov", tmp / "web.mp4").name
        'web.mp4'
    """
    config = TranscodeConfig(preset="fast", crf=23, movflags="+faststart+frag_keyframe+empty_moov")
    return transcode_video(video_path, output_path, config)


async def atranscode_video(
    input_path: str | PathLike[str],
    output_path: str | PathLike[str],
    config: TranscodeConfig | None = None,
) -> Path:
    """Async :func:`transcode_video`; the ``ffmpeg`` run happens in a worker thread.

    Args:
        input_path: Source video.
        output_path: Destination.
        config: Encoding options.

    Returns:
        The output path.

    Example:
        >>> _ = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
        ...     "testsrc=size=320x240:rate=25:duration=0.4", tmp / "a.mov"], check=True)
        >>> asyncio.run(atranscode_video(tmp / "a.mov", tmp / "a.mp4")).name
        'a.mp4'
    """
    return await asyncio.to_thread(transcode_video, input_path, output_path, config)


def transcode_batch(
    video_paths: list[Path],
    output_dir: Path,
    config: TranscodeConfig | None = None,
    max_workers: int = 4,
) -> list[Path]:
    """Transcode several videos concurrently to ``<output_dir>/<stem>_transcoded.mp4``.

    Args:
        video_paths: Source videos.
        output_dir: Destination directory (created if missing).
        config: Encoding options for all of them.
        max_workers: Concurrent ``ffmpeg`` processes.

    Returns:
        Output paths in the order of ``video_paths``.

    Raises:
        ValueError: If ``max_workers`` is not a positive integer.
        VideoTranscodeError: The first failure, after the others finished.

    Example:
        >>> inputs = [tmp / "a.avi", tmp / "b.mkv"]
        >>> for path in inputs:
        ...     _ = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
        ...         "testsrc=size=64x48:rate=25:duration=0.4", path], check=True)
        >>> [p.relative_to(tmp).as_posix() for p in transcode_batch(inputs, tmp / "out")]
        ['out/a_transcoded.mp4', 'out/b_transcoded.mp4']
    """
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ValueError(f"max_workers must be a positive integer, got {max_workers!r}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in video_paths]
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [
            pool.submit(transcode_video, p, out / f"{p.stem}_transcoded.mp4", config) for p in paths
        ]
        return [f.result() for f in futures]
