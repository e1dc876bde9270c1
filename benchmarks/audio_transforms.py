"""Audio transformations of shared/BENCHMARK_DATA.md, built with PyAV (codecs and FFmpeg filters).

Used by ``benchmarks.audio_bench`` and the audio tests. Signals are mono
float32 arrays at a stated rate; codec transforms return encoded bytes (what a
platform would receive), to be decoded with ``indexer.decode.audio``.
"""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

# What each codec's container is called and which sample formats its encoder takes.
_CONTAINER = {"libmp3lame": "mp3", "aac": "adts", "libopus": "ogg", "pcm_s16le": "wav", "flac": "flac"}


def encode(samples: np.ndarray, rate: int, codec: str, bitrate: int | None = None, out_rate: int | None = None) -> bytes:
    """Encode mono float32 ``samples`` at ``rate`` Hz with ``codec`` (libmp3lame, aac, libopus, pcm_s16le, flac)."""
    out_rate = out_rate or (48000 if codec == "libopus" else rate)
    buf = io.BytesIO()
    with av.open(buf, "w", format=_CONTAINER[codec]) as container:
        stream = container.add_stream(codec, rate=out_rate)
        stream.layout = "mono"
        if bitrate:
            stream.bit_rate = bitrate
        write_mono(container, stream, samples, rate)
    return buf.getvalue()


def write_mono(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
               samples: np.ndarray, rate: int) -> None:
    """Encode mono float32 ``samples`` at ``rate`` Hz into ``stream`` (resampled to its rate and format), flushed."""
    formats = stream.codec_context.codec.audio_formats
    resampler = av.AudioResampler(format=formats[0].name if formats else "fltp", layout="mono", rate=stream.rate)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32)[None], format="flt", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
    for chunk in resampler.resample(frame) + resampler.resample(None):
        for packet in stream.encode(chunk):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def apply_filters(samples: np.ndarray, rate: int, chain: list[tuple[str, str]]) -> np.ndarray:
    """Run mono float32 ``samples`` through an FFmpeg filter chain [(name, args)]; output at ``rate`` Hz."""
    graph = av.filter.Graph()
    nodes = [graph.add_abuffer(sample_rate=rate, format="flt", layout="mono", time_base=Fraction(1, rate))]
    nodes += [graph.add(name, args) for name, args in chain]
    nodes.append(graph.add("aformat", f"sample_fmts=flt:channel_layouts=mono:sample_rates={rate}"))
    nodes.append(graph.add("abuffersink"))
    graph.link_nodes(*nodes).configure()
    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                out.append(graph.pull().to_ndarray().reshape(-1))
            except (av.BlockingIOError, av.EOFError, BlockingIOError, EOFError):
                return

    step = 8192
    for start in range(0, samples.shape[0], step):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[None, start : start + step], np.float32), format="flt", layout="mono"
        )
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def speed(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Play ``factor`` times faster, pitch following (tape / resample speed change)."""
    return apply_filters(samples, rate, [("asetrate", str(int(round(rate * factor)))), ("aresample", str(rate))])


def tempo(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Play ``factor`` times faster at the same pitch (FFmpeg atempo, WSOLA)."""
    return apply_filters(samples, rate, [("atempo", f"{factor:.4f}")])


def pitch(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Shift pitch by ``factor`` keeping the duration (speed change undone by atempo)."""
    chain = [("asetrate", str(int(round(rate * factor)))), ("aresample", str(rate)), ("atempo", f"{1.0 / factor:.4f}")]
    return apply_filters(samples, rate, chain)


def equalize(samples: np.ndarray, rate: int) -> np.ndarray:
    """Strong EQ: +10 dB low shelf at 200 Hz, -12 dB high shelf at 2 kHz."""
    return apply_filters(samples, rate, [("lowshelf", "g=10:f=200"), ("highshelf", "g=-12:f=2000")])


def mix_at_snr(signal: np.ndarray, other: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal`` plus ``other`` (looped or cut to length) scaled to ``snr_db``; peak-limited to [-1, 1]."""
    reps = int(np.ceil(signal.shape[0] / max(1, other.shape[0])))
    other = np.tile(other, reps)[: signal.shape[0]]
    p_sig = float(np.mean(signal.astype(np.float64) ** 2)) + 1e-12
    p_other = float(np.mean(other.astype(np.float64) ** 2)) + 1e-12
    mixed = signal + other * np.sqrt(p_sig / p_other / 10 ** (snr_db / 10.0))
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    return (mixed / peak * 0.9 if peak > 0.99 else mixed).astype(np.float32)


def pink_noise(n: int, seed: int) -> np.ndarray:
    """Pink-ish noise float32 (n,): white noise with a 1/f power spectrum."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.shape[0]), 1.0))
    noise = np.fft.irfft(spectrum, n)
    return (noise / (np.std(noise) + 1e-12) * 0.1).astype(np.float32)


def music_like(duration_s: float, rate: int, seed: int) -> np.ndarray:
    """A synthetic melody float32 (n,): random notes with harmonics, envelopes and a drum-like noise pulse."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * rate)
    out = np.zeros(n, np.float64)
    t_note = 0.0
    while t_note < duration_s:
        length = float(rng.choice([0.125, 0.25, 0.375, 0.5]))
        start = int(t_note * rate)
        stop = min(n, int((t_note + length) * rate))
        t = np.arange(stop - start) / rate
        envelope = np.exp(-t * rng.uniform(2.0, 8.0)) * np.minimum(1.0, t * 200)
        for _ in range(int(rng.integers(1, 4))):  # a chord of 1-3 notes
            f0 = 110.0 * 2 ** (int(rng.integers(0, 36)) / 12.0)
            for h in range(1, 5):
                if f0 * h < rate / 2:
                    out[start:stop] += envelope * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.28)) / h
        if rng.random() < 0.3:
            out[start : min(n, start + rate // 20)] += rng.standard_normal(min(n, start + rate // 20) - start) * 0.3
        t_note += length
    return (out / (np.max(np.abs(out)) + 1e-9) * 0.8).astype(np.float32)
