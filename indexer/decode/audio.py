"""Decode any audio PyAV reads (or the soundtrack of a video) to mono float32 at a fixed rate.

The signal is resampled while it streams (PyAV's ``AudioResampler``), so memory
is bounded by the duration cap at the analysis rate, never by the source rate
or channel count. Times are on the container's clock: when the first audio
frame starts after zero (a soundtrack that begins late) the gap is filled with
silence, so an offset in the signal is an offset in the video.
"""

from __future__ import annotations

import dataclasses
import logging

import av
import numpy as np

from indexer.errors import BadInputError, LimitExceededError
from indexer.decode.sources import MediaInput, decoder_message, open_av

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AudioDecodeConfig:
    sample_rate: int = 8000  # analysis rate in Hz; 8 kHz keeps telephone-band copies matchable
    max_duration_s: float = 4 * 3600.0  # longer inputs raise LimitExceededError
    max_leading_gap_s: float = 60.0  # a soundtrack starting later than this is not padded

    def __post_init__(self) -> None:
        if not 4000 <= self.sample_rate <= 48000:
            raise ValueError(f"expected sample_rate in [4000, 48000], got {self.sample_rate}")
        if self.max_duration_s <= 0:
            raise ValueError(f"expected max_duration_s > 0, got {self.max_duration_s}")


@dataclasses.dataclass(frozen=True)
class AudioSignal:
    """Mono audio: ``samples`` float32 (n,) in [-1, 1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.float32:
            raise ValueError(f"expected float32 (n,) samples, got {self.samples.dtype} {self.samples.shape}")
        if self.sample_rate <= 0:
            raise ValueError(f"expected sample_rate > 0, got {self.sample_rate}")

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def decode_audio(source: MediaInput, config: AudioDecodeConfig = AudioDecodeConfig()) -> AudioSignal:
    """Decode the first audio stream of ``source`` (path or bytes) to mono float32 at ``config.sample_rate``.

    Raises BadInputError for undecodable data, a file without an audio stream,
    or a stream that yields no samples; LimitExceededError past the duration cap.
    """
    container = open_av(source, "audio")
    try:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise BadInputError(f"expected an audio stream, got no audio stream (streams: {', '.join(kinds)})")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        declared = float(container.duration / 1e6) if container.duration else None
        if declared is not None and declared > config.max_duration_s + 1.0:
            raise LimitExceededError(
                f"expected audio of at most {config.max_duration_s:.0f} s, got {declared:.0f} s"
            )
        return _decode_stream(container, stream, config)
    finally:
        container.close()


def _decode_stream(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, config: AudioDecodeConfig
) -> AudioSignal:
    rate = config.sample_rate
    max_samples = int(config.max_duration_s * rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    chunks: list[np.ndarray] = []
    total = 0
    first_time: float | None = None

    def take(frames: list[av.AudioFrame]) -> None:
        nonlocal total
        for out in frames:
            data = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            chunks.append(data)
            total += data.shape[0]
        if total > max_samples:
            raise LimitExceededError(
                f"expected audio of at most {config.max_duration_s:.0f} s, got more than {total / rate:.0f} s"
            )

    try:
        for frame in container.decode(stream):
            if first_time is None and frame.time is not None:
                first_time = float(frame.time)
            take(resampler.resample(frame))
        take(resampler.resample(None))
    except av.FFmpegError as exc:
        if total == 0:
            raise BadInputError(f"expected decodable audio, got a decode error: {decoder_message(exc)}") from exc
        # A damaged tail: keep what decoded, as players do.
        LOG.warning("audio decode stopped after %.1f s: %s", total / rate, exc)
    if total == 0:
        raise BadInputError("expected audio samples, got none (empty audio stream)")
    samples = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    if first_time is not None and first_time != 0.0:
        shift = int(round(first_time * rate))
        if 0 < shift <= int(config.max_leading_gap_s * rate):
            samples = np.concatenate([np.zeros(shift, dtype=np.float32), samples])
        elif shift < 0:
            samples = samples[min(-shift, samples.shape[0] - 1) :]
    np.clip(samples, -1.0, 1.0, out=samples)
    return AudioSignal(samples=np.ascontiguousarray(samples, dtype=np.float32), sample_rate=rate)
