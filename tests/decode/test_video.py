"""Frame sampling on real encoded video made with PyAV from scikit-image photographs."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from benchmarks.video_transforms import Encoding, Shot, encode_frames, letterbox_portrait, pillarbox, render_shots, tone
from indexer.errors import BadInputError, LimitExceededError
from indexer.decode.sources import MediaSource
from indexer.decode.video import SampledVideo, VideoSamplingConfig, sample_frames

FPS = 10.0


@pytest.fixture(scope="module")
def shots(photos: dict[str, np.ndarray]) -> list[Shot]:
    return [Shot(photos["astronaut"], 4.0, "pan"), Shot(photos["coffee"], 4.0, "zoom"), Shot(photos["rocket"], 4.0)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, shots: list[Shot]) -> Path:
    """12 s, 320x180, 10 fps H.264 with an AAC soundtrack."""
    path = tmp_path_factory.mktemp("decode") / "clip.mp4"
    return encode_frames(render_shots(shots, (320, 180), FPS), path, Encoding(fps=FPS, audio_hz=22050), tone(12, 22050))


def test_samples_one_frame_per_second_with_times_and_facts(clip: Path) -> None:
    video = sample_frames(clip, VideoSamplingConfig(skip_nonref=False))
    assert video.n_frames == 12
    np.testing.assert_allclose(video.times_s, np.arange(12.0), atol=0.051)
    assert video.duration_s == pytest.approx(12.0, abs=0.2)
    assert (video.width, video.height) == (320, 180)
    assert video.has_audio
    assert video.frames[0].dtype == np.uint8 and video.frames[0].shape == (180, 320, 3)
    assert video.crop is None


def test_sampling_rate_is_configurable_and_frames_are_scaled_down(clip: Path) -> None:
    video = sample_frames(clip, VideoSamplingConfig(fps=2.0, working_pixels=160 * 90, skip_nonref=False))
    assert video.n_frames == 24
    assert video.frames[0].shape == (90, 160, 3)
    assert np.all(np.diff(video.times_s) == pytest.approx(0.5, abs=0.051))


def test_bytes_and_media_source_give_the_same_frames_as_a_path(clip: Path) -> None:
    from_path = sample_frames(clip)
    from_bytes = sample_frames(clip.read_bytes())
    from_source = sample_frames(MediaSource.from_path(clip))
    for other in (from_bytes, from_source):
        np.testing.assert_array_equal(other.times_s, from_path.times_s)
        np.testing.assert_array_equal(other.frames[5], from_path.frames[5])


def test_frames_follow_the_picture(clip: Path, shots: list[Shot]) -> None:
    """The sampled frame at 9 s shows the rocket shot (the third one), not the coffee one."""
    video = sample_frames(clip)
    rendered = list(render_shots(shots, (320, 180), FPS))
    frame = video.frames[9].astype(np.float32)
    same = np.abs(frame - rendered[90]).mean()
    other = np.abs(frame - rendered[50]).mean()
    assert same < 6.0 < other


def test_letterboxed_portrait_copy_comes_out_as_the_wide_picture(tmp_path: Path, shots: list[Shot]) -> None:
    frames = (letterbox_portrait(f) for f in render_shots(shots, (320, 180), FPS))
    path = encode_frames(frames, tmp_path / "portrait.mp4", Encoding(fps=FPS))
    video = sample_frames(path)
    height, width = video.frames[0].shape[:2]
    assert video.height > video.width  # the file is 9:16
    assert width / height == pytest.approx(16 / 9, rel=0.05)
    assert video.crop is not None


def test_pillarboxed_copy_is_trimmed_to_the_picture(tmp_path: Path, shots: list[Shot]) -> None:
    frames = (pillarbox(f) for f in render_shots(shots, (320, 180), FPS))
    video = sample_frames(encode_frames(frames, tmp_path / "pillar.mkv", Encoding(codec="libx265", fps=FPS)))
    height, width = video.frames[0].shape[:2]
    assert width / height == pytest.approx(16 / 9, rel=0.05)


@pytest.mark.parametrize(("codec", "suffix"), [("libsvtav1", ".mp4"), ("libx264", ".mov"), ("mpeg4", ".avi"),
                                              ("libvpx-vp9", ".webm"), ("libx265", ".mkv")])
def test_codecs_and_containers(tmp_path: Path, shots: list[Shot], codec: str, suffix: str) -> None:
    rendered = list(render_shots(shots, (320, 180), FPS))
    path = encode_frames(rendered, tmp_path / f"clip{suffix}", Encoding(codec=codec, fps=FPS))
    video = sample_frames(path)
    assert video.n_frames == 12 and video.frames[0].shape == (180, 320, 3)
    index = int(round(video.times_s[9] * FPS))
    assert np.abs(video.frames[9].astype(np.float32) - rendered[index]).mean() < 8.0


def test_skipping_nonreference_frames_keeps_times_close(clip: Path) -> None:
    exact = sample_frames(clip, VideoSamplingConfig(skip_nonref=False))
    fast = sample_frames(clip)
    assert fast.n_frames == exact.n_frames
    assert np.abs(fast.times_s - exact.times_s).max() <= 0.31


def test_zero_length_file_and_empty_bytes_are_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(BadInputError, match="zero-length"):
        sample_frames(empty)
    with pytest.raises(BadInputError, match="empty"):
        sample_frames(b"")


def test_corrupt_data_is_rejected(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    with pytest.raises(BadInputError):
        sample_frames(noise)


def test_truncated_file_is_rejected(clip: Path) -> None:
    data = clip.read_bytes()
    with pytest.raises(BadInputError):
        sample_frames(data[: len(data) // 3])


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=22050)
        stream.layout = "mono"
        samples = tone(1.0, 22050)
        for offset in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, offset : offset + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts = 22050, offset
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(BadInputError, match="expected a video stream"):
        sample_frames(path)


def test_duration_and_pixel_caps(clip: Path) -> None:
    with pytest.raises(LimitExceededError, match="at most 5 s"):
        sample_frames(clip, VideoSamplingConfig(max_duration_s=5.0))
    with pytest.raises(LimitExceededError, match="pixels"):
        sample_frames(clip, VideoSamplingConfig(max_pixels=320 * 100))


def test_sampled_video_validates_its_rows() -> None:
    frame = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="one time per frame"):
        SampledVideo((frame,), np.array([0.0, 1.0]), 2.0, 4, 4, False)
    with pytest.raises(ValueError, match="increasing"):
        SampledVideo((frame, frame), np.array([1.0, 1.0]), 2.0, 4, 4, False)


def _faststart_mp4(path: Path, seconds: int, fps: int = 10) -> Path:
    """An H.264 mp4 with its index in front, so a cut-off copy still opens and claims the full length."""
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_a_truncated_video_is_refused_and_a_slightly_short_one_records_what_decoded(tmp_path: Path) -> None:
    whole = _faststart_mp4(tmp_path / "whole.mp4", 32)
    assert sample_frames(whole).duration_s == pytest.approx(32.0, abs=0.2)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.4)])
    with pytest.raises(BadInputError, match=r"declared 32.0 s, got frames for only .*truncated"):
        sample_frames(cut)
    nearly = tmp_path / "nearly.mp4"
    nearly.write_bytes(data[: int(len(data) * 0.95)])
    video = sample_frames(nearly)
    assert video.duration_s < 31.5 and video.duration_s == pytest.approx(video.times_s[-1] + 0.1, abs=0.05)
