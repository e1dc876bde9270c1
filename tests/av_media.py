"""Small videos with or without a soundtrack, encoded with PyAV, for the audio tests."""

from __future__ import annotations

import io

import av
import numpy as np

from benchmarks.audio_transforms import write_mono

VIDEO_FPS = 10


def video_bytes(seconds: float, audio: np.ndarray | None = None, rate: int = 16000, container: str = "mp4") -> bytes:
    """A 64x48 H.264 mp4 (or VP9 webm) of ``seconds``, with ``audio`` (mono float32 at ``rate``) as AAC (or Opus)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        video = out.add_stream("libx264" if container == "mp4" else "libvpx-vp9", rate=VIDEO_FPS)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        if audio is not None:
            sound = out.add_stream("aac" if container == "mp4" else "libopus", rate=rate if container == "mp4" else 48000)
            sound.layout = "mono"
        for i in range(int(round(seconds * VIDEO_FPS))):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 10) % 255, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if audio is not None:
            write_mono(out, sound, audio, rate)
    return buf.getvalue()
