"""Real-image videos and the video transformations of shared/BENCHMARK_DATA.md, made with PyAV.

Catalog-like videos are rendered from real photographs (slow pans and zooms
across a photo, hard cuts between photos) or from real clips; query videos are
composed from pieces of them (excerpts, speed change, out-of-order excerpts,
excerpts inside unrelated footage) with a per-frame edit and re-encoded with
another codec or container. Every composition returns the ground truth: which
seconds of the output show which seconds of which source.

Used by ``benchmarks/video_bench.py`` and by the video tests.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

FrameOp = Callable[[np.ndarray], np.ndarray]

# Encoder options that keep encoding fast on 2 cores; the quality is a parameter of the test.
CODECS: dict[str, dict[str, str]] = {
    "libx264": {"preset": "veryfast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
    "mpeg4": {},
    "libsvtav1": {"preset": "12"},
}


@dataclasses.dataclass(frozen=True)
class Shot:
    """``duration_s`` seconds of ``image`` (uint8 (H, W, 3)) with a slow pan or zoom."""

    image: np.ndarray
    duration_s: float
    motion: str = "pan"  # pan | zoom | still


@dataclasses.dataclass(frozen=True)
class Piece:
    """Seconds [start_s, end_s) of the video at ``path`` played at ``speed`` (1.1 = 10 % faster)."""

    path: Path
    start_s: float
    end_s: float
    speed: float = 1.0
    source_id: str | None = None  # the catalog asset shown, None for unrelated filler


@dataclasses.dataclass(frozen=True)
class TruthSegment:
    """Output seconds [query_start_s, query_end_s) show source seconds [source_start_s, source_end_s)."""

    source_id: str
    query_start_s: float
    query_end_s: float
    source_start_s: float
    source_end_s: float


@dataclasses.dataclass(frozen=True)
class Encoding:
    codec: str = "libx264"
    fps: float = 15.0
    crf: int | None = 23  # None: encoder default; bitrate drop uses bit_rate instead
    bit_rate: int | None = None
    audio_hz: int | None = None  # add a soundtrack of that sample rate when audio samples are given


def render_shots(shots: Sequence[Shot], size: tuple[int, int], fps: float) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) uint8 of ``size`` = (width, height) at ``fps`` for the shots in order."""
    width, height = size
    for shot in shots:
        n = max(1, int(round(shot.duration_s * fps)))
        src = Image.fromarray(shot.image)
        # Crop to the output aspect first, then move a window over it.
        img_w, img_h = src.size
        aspect = width / height
        base_w, base_h = (img_w, int(img_w / aspect)) if img_w / img_h < aspect else (int(img_h * aspect), img_h)
        for k in range(n):
            u = k / max(1, n - 1)
            if shot.motion == "zoom":
                scale = 1.0 - 0.3 * u
                box_w, box_h = base_w * scale, base_h * scale
                left, top = (img_w - box_w) / 2, (img_h - box_h) / 2
            elif shot.motion == "pan":
                box_w, box_h = base_w * 0.75, base_h * 0.75
                left = (img_w - box_w) * u
                top = (img_h - box_h) * (0.5 + 0.3 * math.sin(2 * math.pi * u)) if img_h > box_h else 0.0
            else:
                box_w, box_h = base_w, base_h
                left, top = (img_w - box_w) / 2, (img_h - box_h) / 2
            box = (left, top, left + box_w, top + box_h)
            yield np.asarray(src.resize((width, height), Image.BILINEAR, box=box))


def encode_frames(
    frames: Iterable[np.ndarray],
    path: Path,
    encoding: Encoding = Encoding(),
    audio: np.ndarray | None = None,
) -> Path:
    """Encode ``frames`` (uint8 (H, W, 3), constant size) to ``path``; ``audio`` float32 mono at ``encoding.audio_hz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(encoding.fps).limit_denominator(1001)
    n_frames = 0
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            n_frames += 1
            if stream is None:
                height, width = frame.shape[:2]
                stream = container.add_stream(encoding.codec, rate=rate)
                stream.width, stream.height = width - width % 2, height - height % 2
                stream.pix_fmt = "yuv420p"
                options = dict(CODECS.get(encoding.codec, {}))
                if encoding.bit_rate is not None:
                    stream.bit_rate = encoding.bit_rate
                elif encoding.crf is not None and encoding.codec != "mpeg4":
                    options["crf"] = str(encoding.crf)
                    if encoding.codec == "libvpx-vp9":
                        options["b"] = "0"
                stream.options = options
                if audio is not None and encoding.audio_hz:
                    audio_codec = "libopus" if path.suffix == ".webm" else "aac"
                    audio_hz = 48000 if audio_codec == "libopus" else encoding.audio_hz
                    audio_stream = container.add_stream(audio_codec, rate=audio_hz)
                    audio_stream.layout = "mono"
            frame = frame[: stream.height, : stream.width]
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        if stream is None:
            raise ValueError("expected at least one frame to encode, got none")
        for packet in stream.encode():
            container.mux(packet)
        if audio is not None and encoding.audio_hz:
            audio = audio[: int(n_frames / encoding.fps * encoding.audio_hz)]  # the soundtrack ends with the picture
            if audio_hz != encoding.audio_hz:
                positions = np.arange(int(len(audio) * audio_hz / encoding.audio_hz)) * encoding.audio_hz / audio_hz
                audio = np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)
            _encode_audio(container, audio_stream, audio, audio_hz)
    return path


def _encode_audio(container: av.container.OutputContainer, stream: av.AudioStream, audio: np.ndarray, hz: int) -> None:
    block = 1024
    samples = np.asarray(audio, dtype=np.float32)
    for offset in range(0, len(samples), block):
        chunk = samples[offset : offset + block]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
        frame.sample_rate = hz
        frame.pts = offset
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def read_audio(path: Path, seconds: float, hz: int = 44100) -> np.ndarray:
    """First ``seconds`` of the sound at ``path`` as float32 mono at ``hz``."""
    out: list[np.ndarray] = []
    need = int(seconds * hz)
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=hz)
        for frame in container.decode(audio=0):
            for resampled in resampler.resample(frame):
                out.append(resampled.to_ndarray().reshape(-1))
            if sum(len(a) for a in out) >= need:
                break
    samples = np.concatenate(out) if out else np.zeros(0, np.float32)
    return np.pad(samples, (0, max(0, need - len(samples))))[:need].astype(np.float32)


def tone(seconds: float, hz: int = 44100, pitch_hz: float = 440.0) -> np.ndarray:
    """A quiet sine tone, float32 mono: a soundtrack to remove or replace."""
    t = np.arange(int(seconds * hz)) / hz
    return (0.2 * np.sin(2 * np.pi * pitch_hz * t)).astype(np.float32)


def decoded_frames(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds from the first frame, uint8 (H, W, 3)) for every frame of ``path``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = None
        for frame in container.decode(stream):
            if start is None:
                start = frame.pts or 0
            yield float((frame.pts - start) * stream.time_base), frame.to_ndarray(format="rgb24")


def compose(pieces: Sequence[Piece], size: tuple[int, int], fps: float) -> tuple[Iterator[np.ndarray], list[TruthSegment]]:
    """Frames of ``pieces`` played one after another at ``fps``, resized to ``size``, with the truth.

    A piece at speed ``s`` shows source second ``start_s + s * u`` at output
    second ``u``; frames are taken by nearest-earlier time, as a player would.
    """
    truth: list[TruthSegment] = []
    offset = 0.0
    for piece in pieces:
        out_len = (piece.end_s - piece.start_s) / piece.speed
        n = int(round(out_len * fps))
        if piece.source_id is not None:
            truth.append(TruthSegment(piece.source_id, offset, offset + n / fps, piece.start_s, piece.start_s + n / fps * piece.speed))
        offset += n / fps

    def frames() -> Iterator[np.ndarray]:
        for piece in pieces:
            out_len = (piece.end_s - piece.start_s) / piece.speed
            n = int(round(out_len * fps))
            wanted = [piece.start_s + k / fps * piece.speed for k in range(n)]
            k = 0
            current = None
            for t, frame in decoded_frames(piece.path):
                while k < n and t > wanted[k] + 1e-6:
                    if current is not None:
                        yield fit_frame(current, size)
                    k += 1
                current = frame
                if k >= n:
                    break
            while k < n and current is not None:
                yield fit_frame(current, size)
                k += 1

    return frames(), truth


def fit_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` uint8 (H, W, 3) resized to ``size`` = (width, height), aspect not kept."""
    if frame.shape[1] == size[0] and frame.shape[0] == size[1]:
        return frame
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))


# Per-frame edits ----------------------------------------------------------


def letterbox_portrait(frame: np.ndarray) -> np.ndarray:
    """A 16:9 frame shown in a 9:16 canvas with black bars above and below."""
    height, width = frame.shape[:2]
    canvas_h = int(round(width * 16 / 9)) // 2 * 2
    canvas = np.zeros((canvas_h, width, 3), np.uint8)
    top = (canvas_h - height) // 2
    canvas[top : top + height] = frame
    return canvas


def pillarbox(frame: np.ndarray, bar_fraction: float = 0.15) -> np.ndarray:
    height, width = frame.shape[:2]
    bar = int(width * bar_fraction) // 2 * 2
    out = np.zeros((height, width + 2 * bar, 3), np.uint8)
    out[:, bar : bar + width] = frame
    return out


def mirror(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


def grayscale(frame: np.ndarray) -> np.ndarray:
    grey = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(grey.clip(0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def brightness_contrast(frame: np.ndarray, brightness: float = 30.0, contrast: float = 1.3) -> np.ndarray:
    out = (frame.astype(np.float32) - 128.0) * contrast + 128.0 + brightness
    return out.clip(0, 255).astype(np.uint8)


def blur(frame: np.ndarray, radius: float = 2.0) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).filter(ImageFilter.GaussianBlur(radius)))


def crop_center(frame: np.ndarray, keep: float = 0.75) -> np.ndarray:
    height, width = frame.shape[:2]
    h, w = int(height * keep) // 2 * 2, int(width * keep) // 2 * 2
    top, left = (height - h) // 2, (width - w) // 2
    return np.ascontiguousarray(frame[top : top + h, left : left + w])


def resize(frame: np.ndarray, factor: float = 0.5) -> np.ndarray:
    height, width = frame.shape[:2]
    size = (max(16, int(width * factor) // 2 * 2), max(16, int(height * factor) // 2 * 2))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))


def text_overlay(frame: np.ndarray, text: str = "nearmatch @user 2026") -> np.ndarray:
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    height, width = frame.shape[:2]
    draw.rectangle((0, int(height * 0.82), width, height), fill=(0, 0, 0))
    draw.text((8, int(height * 0.85)), text, fill=(255, 255, 255))
    draw.text((width // 3, height // 3), "WATERMARK", fill=(255, 255, 0))
    return np.asarray(image)


def logo_overlay(frame: np.ndarray, logo: np.ndarray, fraction: float = 0.22) -> np.ndarray:
    """``logo`` (uint8 (h, w, 3)) pasted in the top right corner at ``fraction`` of the width."""
    height, width = frame.shape[:2]
    w = max(8, int(width * fraction))
    h = max(8, int(w * logo.shape[0] / logo.shape[1]))
    out = frame.copy()
    out[8 : 8 + h, width - w - 8 : width - 8] = np.asarray(Image.fromarray(logo).resize((w, h)))
    return out


def rotate(frame: np.ndarray, degrees: float = 5.0) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).rotate(degrees, resample=Image.BILINEAR))


def autocontrast_saturation(frame: np.ndarray) -> np.ndarray:
    grey = grayscale(frame).astype(np.float32)
    out = grey + 1.6 * (frame.astype(np.float32) - grey)
    return np.asarray(ImageOps.autocontrast(Image.fromarray(out.clip(0, 255).astype(np.uint8))))


def chain(*ops: FrameOp) -> FrameOp:
    def apply(frame: np.ndarray) -> np.ndarray:
        for op in ops:
            frame = op(frame)
        return frame

    return apply


def apply_op(frames: Iterable[np.ndarray], op: FrameOp | None) -> Iterator[np.ndarray]:
    for frame in frames:
        yield frame if op is None else op(frame)
