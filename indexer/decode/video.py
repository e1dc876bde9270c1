"""Frame sampling of video files with PyAV: decode once, keep a few frames per second.

Decoding is the limit of video ingestion, so this module does no work on
frames it does not keep: every frame is decoded (inter-coded video cannot be
skipped into), but only kept frames are converted to RGB, and swscale scales
them to the working resolution in the same pass. Uniform borders (letterbox,
pillarbox, 16:9 shown as 9:16) are found once per video over all kept frames
and cut off every frame with that one box.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from fractions import Fraction
from typing import Iterator

import av
import numpy as np

from indexer.features.borders import BorderConfig, Crop, detect_border_stack
from indexer.errors import BadInputError, LimitExceededError
from indexer.decode.sources import MediaInput, open_av

LOG = logging.getLogger(__name__)

VideoSource = MediaInput


@dataclasses.dataclass(frozen=True)
class VideoSamplingConfig:
    """How frames are taken out of a video.

    ``fps`` is the sampling rate of kept frames. 1 fps meets the quality bar
    (benchmarks/results/video.md: test top-1 1.000, segment F1 0.952, p90
    boundary error 0.58 s); 2 fps gained little in an earlier run (video_fps2.md:
    F1 0.959 against 0.949, p90 0.22 s) for twice the embedding work and query latency.
    ``working_pixels`` bounds the size of kept frames (the aspect ratio is
    kept). 512 x 288 gives a 16:9 frame the embedder's input size, so swscale
    scales it once while converting to RGB and Pillow does nothing more. At
    320 x 320 every 640x360 frame was enlarged again to 288 px: with that and
    nearest-neighbour enlarging the test split lost a query (top-1 0.984,
    segment F1 0.944); at 512 x 288, 1.000 and 0.952 as with bilinear at
    320 x 320, query latency 170 ms against 194 ms and catalog ingest 62.9
    against 46.6 s of video per s (results/video.md).
    """

    fps: float = 1.0
    max_duration_s: float = 3600.0
    max_pixels: int = 4096 * 2304  # decoded frame size cap (a 4K frame passes)
    working_pixels: int = 512 * 288
    threads: int = 0  # 0: let FFmpeg pick
    # Frames no other frame refers to (B-frames) are not decoded: a kept frame may then be up to a
    # few frames later than the sampling instant, and its time is still its own exact time.
    skip_nonref: bool = True
    trim_borders: bool = True
    border_frames: int = 32  # kept frames, evenly spread, that the border box is measured on
    border: BorderConfig = BorderConfig()
    # A file whose decodable frames end this share or more before its declared duration is refused as
    # truncated; a shorter gap is accepted, and the duration recorded is what was decoded.
    max_missing_share: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_missing_share < 1.0:
            raise ValueError(f"expected 0 <= max_missing_share < 1, got {self.max_missing_share}")
        if self.border_frames < 1:
            raise ValueError(f"expected border_frames >= 1, got {self.border_frames}")
        if not 0.0 < self.fps <= 30.0:
            raise ValueError(f"expected 0 < fps <= 30, got {self.fps}")
        if self.max_duration_s <= 0 or self.max_pixels <= 0 or self.working_pixels < 64 * 64:
            raise ValueError(f"expected positive caps and working_pixels >= 4096, got {self}")

    def record(self) -> dict[str, object]:
        """What a catalog stores to refuse queries sampled differently."""
        return {"fps": self.fps, "working_pixels": self.working_pixels, "trim_borders": self.trim_borders}


@dataclasses.dataclass(frozen=True)
class SampledVideo:
    """Kept frames of one video: ``frames[i]`` uint8 (H, W, 3) RGB shown at ``times_s[i]`` seconds."""

    frames: tuple[np.ndarray, ...]
    times_s: np.ndarray  # float64 (n,), strictly increasing, from 0 at the first frame of the stream
    duration_s: float
    width: int  # display size of the source, before scaling and border trimming
    height: int
    has_audio: bool
    crop: Crop | None = None  # box cut off the working-resolution frames, None when untrimmed

    def __post_init__(self) -> None:
        times = np.asarray(self.times_s)
        if times.dtype != np.float64 or times.ndim != 1:
            raise ValueError(f"expected times_s float64 (n,), got {times.dtype} {times.shape}")
        if len(self.frames) != len(times):
            raise ValueError(f"expected one time per frame, got {len(self.frames)} frames and {len(times)} times")
        if len(times) == 0:
            raise ValueError("expected at least one frame, got none")
        if np.any(np.diff(times) <= 0):
            raise ValueError("expected strictly increasing times_s")
        for frame in self.frames:
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"expected uint8 (H, W, 3) frames, got {frame.dtype} {frame.shape}")
        if self.duration_s <= 0:
            raise ValueError(f"expected a positive duration, got {self.duration_s}")

    @property
    def n_frames(self) -> int:
        return len(self.frames)


def sample_frames(source: VideoSource, config: VideoSamplingConfig = VideoSamplingConfig()) -> SampledVideo:
    """Decode ``source`` (path, bytes or MediaSource) and keep ``config.fps`` frames per second, borders cut.

    Raises BadInputError for empty, corrupt or frame-less input and
    LimitExceededError past the duration or pixel caps.
    """
    try:
        return _sample(source, config)
    except _NoFramesError:
        if not config.skip_nonref:
            raise BadInputError("expected decodable video frames, got none") from None
        # A stream whose frames are all flagged disposable (some intra-only codecs): decode them all.
        LOG.info("no frames with non-reference skipping; decoding every frame")
        try:
            return _sample(source, dataclasses.replace(config, skip_nonref=False))
        except _NoFramesError:
            raise BadInputError("expected decodable video frames, got none") from None


class _NoFramesError(Exception):
    pass


def _sample(source: VideoSource, config: VideoSamplingConfig) -> SampledVideo:
    with open_av(source, "video") as container:
        if not container.streams.video:
            raise BadInputError(f"expected a video stream, got streams: {_stream_kinds(container)}")
        stream = container.streams.video[0]
        width, height = _display_size(stream)
        if width * height > config.max_pixels:
            raise LimitExceededError(f"expected at most {config.max_pixels} pixels per frame, got {width}x{height}")
        declared = _declared_duration(container, stream)
        if declared is not None and declared > config.max_duration_s:
            raise LimitExceededError(f"expected a video of at most {config.max_duration_s:g} s, got {declared:.1f} s")
        out_w, out_h = _working_size(width, height, config.working_pixels)
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = config.threads
        if config.skip_nonref:
            stream.codec_context.skip_frame = "NONREF"
        frames: list[np.ndarray] = []
        times: list[float] = []
        last_time = 0.0
        step = 1.0 / config.fps
        next_time = 0.0
        for frame, t in _decoded_frames(container, stream):
            if t > config.max_duration_s:
                raise LimitExceededError(f"expected a video of at most {config.max_duration_s:g} s, got more")
            last_time = max(last_time, t)
            if t + 1e-6 < next_time or (times and t <= times[-1]):
                continue
            frames.append(frame.to_ndarray(width=out_w, height=out_h, format="rgb24"))
            times.append(t)
            next_time = (math.floor(t / step + 1e-6) + 1) * step
        has_audio = bool(container.streams.audio)
        frame_step = _frame_step(stream)
    if not frames:
        raise _NoFramesError()
    duration = _checked_duration(declared, last_time + frame_step, frame_step, config)
    duration = max(duration, last_time + 1e-3)
    crop = None
    if config.trim_borders:
        probe = np.linspace(0, len(frames) - 1, min(len(frames), config.border_frames)).round().astype(int)
        crop = detect_border_stack([frames[i] for i in probe], config.border)
        if crop != Crop(0, out_h, 0, out_w):
            frames = [np.ascontiguousarray(crop.apply(f)) for f in frames]
        else:
            crop = None
    return SampledVideo(
        frames=tuple(frames),
        times_s=np.asarray(times, dtype=np.float64),
        duration_s=float(duration),
        width=width,
        height=height,
        has_audio=has_audio,
        crop=crop,
    )


def _checked_duration(declared: float | None, decoded: float, frame_step: float,
                      config: VideoSamplingConfig) -> float:
    """The duration to record: the declared one, unless the frames end early (truncated files).

    Decoding that stops short of the declared end by more than ``max_missing_share``
    is refused; a smaller gap (beyond two frames of slack) records the decoded length.
    """
    if declared is None or declared <= 0:
        return decoded
    missing = declared - decoded
    if missing > config.max_missing_share * declared:
        raise BadInputError(
            f"expected frames up to the declared {declared:.1f} s, got frames for only {decoded:.1f} s "
            f"({missing / declared:.0%} missing, at most {config.max_missing_share:.0%} accepted); "
            "the file is probably truncated")
    return decoded if missing > 2 * frame_step else declared


def _decoded_frames(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[tuple[av.VideoFrame, float]]:
    """Every decoded frame with its time in seconds from the stream start; bad packets are skipped."""
    start = stream.start_time if stream.start_time is not None else None
    time_base = stream.time_base or Fraction(1, 90000)
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    bad_packets = 0
    index = 0
    try:
        packets = container.demux(stream)
        for packet in packets:
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as err:  # one broken packet should not lose the video
                bad_packets += 1
                LOG.debug("skipping undecodable packet: %s", err)
                continue
            for frame in decoded:
                if frame.pts is not None:
                    if start is None:
                        start = frame.pts
                    t = float((frame.pts - start) * time_base)
                else:
                    t = float(index / rate)
                index += 1
                yield frame, max(t, 0.0)
    except av.error.FFmpegError as err:
        if index == 0:
            raise BadInputError(f"expected decodable video data, got {type(err).__name__}: {err}") from err
        LOG.warning("video data ends early after %d frames: %s", index, err)
    if bad_packets:
        LOG.warning("skipped %d undecodable packets", bad_packets)


def _display_size(stream: av.VideoStream) -> tuple[int, int]:
    """Width and height as shown, honouring a non-square sample aspect ratio."""
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise BadInputError(f"expected a positive frame size, got {width}x{height}")
    sar = stream.sample_aspect_ratio
    if sar and sar > 0 and sar != 1:
        width = max(1, round(width * float(sar)))
    return width, height


def _working_size(width: int, height: int, working_pixels: int) -> tuple[int, int]:
    """Size (even, aspect kept) with at most ``working_pixels`` pixels; never upscales."""
    scale = min(1.0, math.sqrt(working_pixels / (width * height)))
    out_w = max(2, int(round(width * scale / 2)) * 2)
    out_h = max(2, int(round(height * scale / 2)) * 2)
    return out_w, out_h


def _declared_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _frame_step(stream: av.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else 0.04


def _stream_kinds(container: av.container.InputContainer) -> str:
    kinds = [s.type for s in container.streams]
    return ", ".join(kinds) if kinds else "none"
