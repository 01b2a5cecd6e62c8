"""Video utilities against the real ffmpeg/ffprobe on a tiny generated clip."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from synapse_nb.utils.file.video import (
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

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="ffmpeg/ffprobe not installed (Debian package 'ffmpeg'; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """1 s, 160x120, 10 fps test pattern with a sine tone, as AVI."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed (Debian package 'ffmpeg'; .ci/run installs it)")
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
            "-c:v", "mpeg4", "-c:a", "pcm_s16le", "-shortest", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def test_validate_video_format():
    assert validate_video_format("a.mp4") and validate_video_format(Path("b.MKV"))
    assert validate_video_format("c.webm") and validate_video_format("d.3gp")
    assert not validate_video_format("e.txt") and not validate_video_format("noext")


@needs_ffmpeg
def test_get_video_info(clip):
    info = get_video_info(clip)
    assert (info["width"], info["height"]) == (160, 120)
    assert info["fps"] == pytest.approx(10.0)
    assert info["duration"] == pytest.approx(1.0, abs=0.15)
    assert info["video_codec"] == "mpeg4"
    assert info["audio_codec"] == "pcm_s16le" and info["channels"] == 1
    assert info["size"] == clip.stat().st_size and info["bitrate"] > 0


@needs_ffmpeg
def test_transcode_with_config_and_progress(clip, tmp_path):
    seen: list[float] = []
    config = TranscodeConfig(preset="ultrafast", crf=30, resolution="80x60", fps=5)

    out = transcode_video(
        clip, tmp_path / "out" / "small.mp4", config, progress_callback=seen.append
    )

    info = get_video_info(out)
    assert (info["width"], info["height"]) == (80, 60)
    assert info["fps"] == pytest.approx(5.0)
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert seen and seen[-1] == 100.0
    assert all(0.0 <= p <= 100.0 for p in seen) and seen == sorted(seen)
    assert [p.name for p in out.parent.iterdir()] == ["small.mp4"]  # no temp file left


@needs_ffmpeg
def test_transcode_clip_start_and_duration(clip, tmp_path):
    config = TranscodeConfig(preset="ultrafast", start_time=0.2, duration=0.5)
    out = transcode_video(clip, tmp_path / "clip.mp4", config)
    assert get_video_info(out)["duration"] == pytest.approx(0.5, abs=0.15)


@needs_ffmpeg
def test_optimize_for_web_and_async_and_batch(clip, tmp_path):
    web = optimize_for_web(clip, tmp_path / "web.mp4")
    assert get_video_info(web)["video_codec"] == "h264"

    fast = TranscodeConfig(preset="ultrafast")
    out = asyncio.run(atranscode_video(clip, tmp_path / "async.mkv", fast))
    assert get_video_info(out)["video_codec"] == "h264"

    second = tmp_path / "second.avi"
    shutil.copy(clip, second)
    outs = transcode_batch([clip, second], tmp_path / "batch", fast, max_workers=2)
    assert [p.name for p in outs] == ["clip_transcoded.mp4", "second_transcoded.mp4"]
    assert all(p.is_file() for p in outs)


def test_unsupported_and_missing_inputs(tmp_path):
    with pytest.raises(UnsupportedFormatError, match=r"\.xyz"):
        transcode_video(tmp_path / "input.xyz", tmp_path / "o.mp4")
    with pytest.raises(FileNotFoundError):
        transcode_video(tmp_path / "missing.mp4", tmp_path / "o.mp4")
    with pytest.raises(FileNotFoundError):
        get_video_info(tmp_path / "missing.mp4")
    assert issubclass(UnsupportedFormatError, VideoTranscodeError)


@needs_ffmpeg
def test_corrupt_input_raises_transcoding_failed_with_stderr(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 10)
    with pytest.raises(TranscodingFailedError, match=r"broken\.mp4"):
        get_video_info(bad)
    with pytest.raises(TranscodingFailedError, match="status"):
        transcode_video(bad, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["broken.mp4"]


def test_ffmpeg_missing_from_path(tmp_path, monkeypatch):
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"x")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(FFmpegNotFoundError, match="ffmpeg"):
        transcode_video(clip, tmp_path / "o.mp4")
    with pytest.raises(FFmpegNotFoundError, match="ffprobe"):
        get_video_info(clip)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("crf", 52),
        ("crf", "20"),
        ("preset", "warp"),
        ("resolution", "1920*1080"),
        ("resolution", "0x10"),
        ("fps", 0),
        ("start_time", -1.0),
        ("duration", 0),
        ("audio_bitrate", "lots"),
        ("vcodec", "-evil"),
    ],
)
def test_transcode_config_validation_names_field_and_value(field, value):
    with pytest.raises(ValueError, match=field) as info:
        TranscodeConfig(**{field: value})
    assert repr(value) in str(info.value)
