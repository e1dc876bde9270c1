"""Landmark audio fingerprints: spectral peaks combined into 31-bit triplet hashes (Wang/Shazam, audfprint, Panako).

Pipeline: mono signal at the analysis rate -> Hann STFT -> log magnitude ->
local maxima over a time-frequency neighbourhood that are also louder than
their own running mean along time, the loudest kept up to a fixed density per
second -> each anchor peak with two of its next few peaks (a triplet, as in
Panako) -> hash = (anchor pitch, two pitch intervals, two time gaps), quantised.

Why loudness, not contrast: ranking peaks by the log magnitude minus its
running mean (audfprint's high-pass) favours quiet onsets, which noise and a
voice-over bury. On the development queries of ``benchmarks.audio_sweep``
(apart from the benchmark's calibration and report splits) ranking by loudness
alone (``hpf_weight`` 0), at the settings of the time, raised top-1 at 5 dB
SNR pink noise from 12 to 24 of 24 queries, at 0 dB from 8 to 43 of 54 and
under a voice-over from 15 to 50 of 54 (results/audio_sweep.md). The running
mean still gates peaks, so a steady hum does not fill the density budget.

Why triplets: measured on the real music of the benchmark, pair hashes of
tonal music fall into few effective buckets (notes of one key, beat-grid time
gaps), so unrelated tracks in the same key and tempo aligned by chance; the
second interval and gap make chance lines rare.

Pitch is measured in semitones (log frequency, sub-bin interpolated), so a
pitch shift moves only the anchor field and leaves the intervals unchanged.
A query can be hashed under a hypothesised pitch shift and time scale
(``hash_landmarks(..., pitch_shift_st, time_scale)``): ``search.align.audio``
uses a small grid of them to survive +-5 % speed, tempo and pitch changes
while the catalog holds one hash per landmark.

Silence and near-silence (frames under ``silence_dbfs``) give no peaks, so
silence never matches silence.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from scipy import ndimage

from indexer.decode.audio import AudioSignal

LOG = logging.getLogger(__name__)

VERSION = 4  # bump when hashes change: catalogs record it and refuse a mismatch


@dataclasses.dataclass(frozen=True)
class FingerprintConfig:
    sample_rate: int = 8000
    # 128 ms windows: against 64 ms, a sustained note's peak stands further above noise
    # spread over the band. On the development queries of both seeds at 0 dB SNR, top-1
    # under pink noise went 39 -> 47 of 54 and under a voice-over 41 -> 50 of 54; 256 ms
    # gave 45 and 50 at twice the FFT cost (benchmarks/audio_sweep.py).
    n_fft: int = 1024
    hop: int = 128  # 16 ms frames at 8 kHz
    f_min_hz: float = 150.0
    f_max_hz: float = 3800.0
    hpf_s: float = 0.5  # a peak must be louder than the running mean of its bin over this long
    hpf_weight: float = 0.0  # share of that running mean subtracted before ranking peaks (0: loudness)
    peak_time_s: float = 0.1  # half-size of the local-maximum neighbourhood in time
    peak_freq_hz: float = 80.0  # half-size of the neighbourhood in frequency
    peaks_per_s: int = 24  # density cap: strongest local maxima kept per second
    silence_dbfs: float = -60.0  # frames quieter than this (RMS) give no peaks
    # Targets per anchor; every two of them make a triplet (3 -> 3 hashes per peak, about
    # 69 postings rows per second of music: 5 MB per hour in the bucketed postings).
    fan_out: int = 3
    dt_min: int = 2  # pair time gap range, frames
    dt_max: int = 63
    interval_max_st: float = 12.0  # pair pitch interval range, semitones either way
    q_anchor_st: float = 0.5  # quantisation of the anchor pitch, semitones
    q_interval_st: float = 0.5  # quantisation of the pitch intervals, semitones
    q_dt: float = 2.0  # quantisation of the time gaps, frames
    chunk_s: float = 60.0  # STFT block length (bounded memory)

    def __post_init__(self) -> None:
        if not 0 < self.f_min_hz < self.f_max_hz <= self.sample_rate / 2:
            raise ValueError(f"expected 0 < f_min < f_max <= Nyquist, got {self.f_min_hz}, {self.f_max_hz}")
        if not 1 <= self.dt_min < self.dt_max:
            raise ValueError(f"expected 1 <= dt_min < dt_max, got {self.dt_min}, {self.dt_max}")
        if self.hash_bits() > 32:
            raise ValueError(f"expected hash fields to fit 32 bits, got {self.hash_bits()}")

    @property
    def frame_s(self) -> float:
        return self.hop / self.sample_rate

    def _field_sizes(self) -> tuple[int, int, int]:
        n_anchor = int(np.ceil(_semitones(self.f_max_hz) / self.q_anchor_st)) + 2
        n_interval = 2 * int(np.ceil(self.interval_max_st / self.q_interval_st)) + 3
        n_dt = int(np.ceil(self.dt_max * 1.1 / self.q_dt)) + 2
        return n_anchor, n_interval, n_dt

    def hash_bits(self) -> int:
        n_anchor, n_interval, n_dt = (int(np.ceil(np.log2(n))) for n in self._field_sizes())
        return n_anchor + 2 * n_interval + 2 * n_dt

    def record(self) -> dict[str, object]:
        """What a catalog stores to refuse opening with other fingerprint settings."""
        return {"name": "landmark", "version": VERSION, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class Landmarks:
    """Peak triplets before quantisation; all arrays (n,), sorted by ``t1``.

    t1: anchor time, frames (int64); pitch1_st: anchor pitch, semitones above
    ``REF_HZ`` (float32); interval_st / interval2_st: pitch of the first /
    second target minus the anchor's, semitones (float32); dt / dt2: their
    time gaps after the anchor, frames (int32), dt < dt2 or equal.
    """

    t1: np.ndarray
    pitch1_st: np.ndarray
    interval_st: np.ndarray
    dt: np.ndarray
    interval2_st: np.ndarray
    dt2: np.ndarray
    frame_s: float
    duration_s: float

    def __post_init__(self) -> None:
        n = self.t1.shape[0]
        if any(a.shape != (n,) for a in (self.pitch1_st, self.interval_st, self.dt, self.interval2_st, self.dt2)):
            raise ValueError("expected landmark arrays of one length")


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """Hashes uint32 (n,) with anchor times uint32 (n,) in frames of ``frame_s`` seconds."""

    hashes: np.ndarray
    times: np.ndarray
    frame_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if self.hashes.dtype != np.uint32 or self.times.dtype != np.uint32:
            raise ValueError(f"expected uint32 hashes and times, got {self.hashes.dtype}, {self.times.dtype}")
        if self.hashes.shape != self.times.shape or self.hashes.ndim != 1:
            raise ValueError(f"expected (n,) hashes and times, got {self.hashes.shape}, {self.times.shape}")

    def __len__(self) -> int:
        return int(self.hashes.shape[0])


REF_HZ = 100.0


def _semitones(freq_hz: np.ndarray | float) -> np.ndarray:
    return 12.0 * np.log2(np.asarray(freq_hz) / REF_HZ)


def _peaks_in_block(
    samples: np.ndarray, first_frame: int, n_frames: int, config: FingerprintConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral peaks of ``n_frames`` frames of ``samples`` (float32), frame 0 at ``first_frame``.

    Returns frame indices int64 (p,), fractional FFT bins float64 (p,), strengths float32 (p,).
    """
    n_fft, hop = config.n_fft, config.hop
    frames = np.lib.stride_tricks.as_strided(
        samples, shape=(n_frames, n_fft), strides=(hop * samples.strides[0], samples.strides[0]), writeable=False
    )
    window = np.hanning(n_fft + 2)[1:-1].astype(np.float32)
    spectrum = np.abs(np.fft.rfft(frames * window, axis=1)).astype(np.float32)
    lo = max(1, int(config.f_min_hz * n_fft / config.sample_rate))
    hi = min(n_fft // 2, int(np.ceil(config.f_max_hz * n_fft / config.sample_rate)))
    log_spec = np.log(spectrum[:, lo - 1 : hi + 2] + 1e-4)
    # Running mean along time: a peak must rise above it (a steady hum does not); ``hpf_weight``
    # of it is subtracted before peaks are ranked (0: by loudness alone).
    hpf = max(3, int(round(config.hpf_s / config.frame_s)) | 1)
    running = ndimage.uniform_filter1d(log_spec, hpf, axis=0, mode="nearest")
    above = log_spec > running  # louder than its own recent average
    contrast = log_spec - config.hpf_weight * running
    half_t = max(1, int(round(config.peak_time_s / config.frame_s)))
    half_f = max(1, int(round(config.peak_freq_hz * n_fft / config.sample_rate)))
    local_max = ndimage.maximum_filter(contrast, size=(2 * half_t + 1, 2 * half_f + 1), mode="nearest")
    is_peak = (contrast == local_max) & above
    is_peak[:, [0, -1]] = False  # keep a neighbour on each side for interpolation
    rms = np.sqrt(np.mean(frames.astype(np.float32) ** 2, axis=1))
    is_peak &= (20.0 * np.log10(rms + 1e-12) > config.silence_dbfs)[:, None]
    t, k = np.nonzero(is_peak)
    # Parabolic interpolation of the log magnitude gives the peak between bins.
    a, b, c = log_spec[t, k - 1], log_spec[t, k], log_spec[t, k + 1]
    denom = a - 2.0 * b + c
    delta = np.where(np.abs(denom) > 1e-9, 0.5 * (a - c) / np.where(denom == 0, 1.0, denom), 0.0)
    bins = k + (lo - 1) + np.clip(delta, -0.5, 0.5)
    return t.astype(np.int64) + first_frame, bins, contrast[t, k]


def find_peaks(signal: AudioSignal, config: FingerprintConfig = FingerprintConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Spectral peaks of a signal at a bounded density.

    Returns (times int64 (p,) in frames, pitches float32 (p,) in semitones
    above ``REF_HZ``), sorted by time then pitch.
    """
    if signal.sample_rate != config.sample_rate:
        raise ValueError(f"expected a signal at {config.sample_rate} Hz, got {signal.sample_rate} Hz")
    samples = signal.samples
    n_total = 0 if samples.shape[0] < config.n_fft else 1 + (samples.shape[0] - config.n_fft) // config.hop
    frames_per_s = max(1, int(round(1.0 / config.frame_s)))
    chunk = max(1, int(config.chunk_s)) * frames_per_s  # a whole number of density blocks
    margin = max(int(round(config.hpf_s / config.frame_s)), int(round(config.peak_time_s / config.frame_s))) + 2
    times, bins, strengths = [], [], []
    for start in range(0, n_total, chunk):
        lo = max(0, start - margin)
        hi = min(n_total, start + chunk + margin)
        block = samples[lo * config.hop : (hi - 1) * config.hop + config.n_fft]
        t, f, s = _peaks_in_block(block, lo, hi - lo, config)
        keep = (t >= start) & (t < start + chunk)
        times.append(t[keep])
        bins.append(f[keep])
        strengths.append(s[keep])
    if not times:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    t = np.concatenate(times)
    f = np.concatenate(bins)
    s = np.concatenate(strengths)
    # Density cap: the strongest peaks_per_s of every one-second block.
    block_id = t // frames_per_s
    order = np.lexsort((-s, block_id))
    sorted_blocks = block_id[order]
    first = np.searchsorted(sorted_blocks, sorted_blocks, side="left")
    rank = np.arange(order.shape[0]) - first
    kept = order[rank < config.peaks_per_s]
    t, f = t[kept], f[kept]
    pitch = _semitones(f * config.sample_rate / config.n_fft).astype(np.float32)
    order = np.lexsort((pitch, t))
    return t[order], pitch[order]


def pair_peaks(times: np.ndarray, pitches: np.ndarray, config: FingerprintConfig, duration_s: float) -> Landmarks:
    """Triplets: each anchor peak with every two of its next ``fan_out`` peaks in the target zone (time-sorted input)."""
    n = times.shape[0]
    fan = config.fan_out
    combos = [(a, b) for a in range(fan) for b in range(a + 1, fan)]
    if n == 0 or not combos:
        empty_i = np.zeros(0, np.int64)
        empty_f = np.zeros(0, np.float32)
        empty_d = np.zeros(0, np.int32)
        return Landmarks(empty_i, empty_f, empty_f, empty_d, empty_f, empty_d, config.frame_s, duration_s)
    look = 8 * fan
    idx = np.arange(n)[:, None] + np.arange(1, look + 1)[None, :]
    inside = idx < n
    idx = np.minimum(idx, n - 1)
    dt = times[idx] - times[:, None]
    interval = pitches[idx] - pitches[:, None]
    valid = inside & (dt >= config.dt_min) & (dt <= config.dt_max) & (np.abs(interval) <= config.interval_max_st)
    rank = np.cumsum(valid, axis=1)
    # Column of each anchor's k-th valid target (k < fan), -1 when it has fewer.
    target = np.full((n, fan), -1, dtype=np.int64)
    rows, cols = np.nonzero(valid & (rank <= fan))
    target[rows, rank[rows, cols] - 1] = cols
    first = np.concatenate([target[:, a] for a, _ in combos])
    second = np.concatenate([target[:, b] for _, b in combos])
    anchor = np.tile(np.arange(n), len(combos))
    ok = (first >= 0) & (second >= 0)
    anchor, first, second = anchor[ok], first[ok], second[ok]
    order = np.argsort(anchor, kind="stable")
    anchor, first, second = anchor[order], first[order], second[order]
    return Landmarks(
        t1=times[anchor],
        pitch1_st=pitches[anchor],
        interval_st=interval[anchor, first].astype(np.float32),
        dt=dt[anchor, first].astype(np.int32),
        interval2_st=interval[anchor, second].astype(np.float32),
        dt2=dt[anchor, second].astype(np.int32),
        frame_s=config.frame_s,
        duration_s=duration_s,
    )


def landmarks(signal: AudioSignal, config: FingerprintConfig = FingerprintConfig()) -> Landmarks:
    """Unquantised peak pairs of a signal (see ``Landmarks``)."""
    times, pitches = find_peaks(signal, config)
    return pair_peaks(times, pitches, config, signal.duration_s)


def hash_landmarks(
    marks: Landmarks, config: FingerprintConfig = FingerprintConfig(), pitch_shift_st: float = 0.0, time_scale: float = 1.0
) -> Fingerprint:
    """Quantise landmarks into 32-bit hashes, undoing a hypothesised transform first.

    ``pitch_shift_st``: how many semitones the signal is above the original;
    ``time_scale``: original duration / this signal's duration. Times in the
    result are this signal's frames (unscaled): the aligner applies the scale.
    """
    n_anchor, n_interval, n_dt = config._field_sizes()
    anchor = np.clip(np.floor((marks.pitch1_st - pitch_shift_st) / config.q_anchor_st).astype(np.int64), 0, n_anchor - 1)
    fields = [anchor]
    for interval_st, gap in ((marks.interval_st, marks.dt), (marks.interval2_st, marks.dt2)):
        fields.append(np.clip(np.round(interval_st / config.q_interval_st).astype(np.int64) + n_interval // 2, 0, n_interval - 1))
        fields.append(np.clip(np.floor(gap * time_scale / config.q_dt).astype(np.int64), 0, n_dt - 1))
    widths = [int(np.ceil(np.log2(n))) for n in (n_anchor, n_interval, n_dt, n_interval, n_dt)]
    hashes = np.zeros(marks.t1.shape[0], dtype=np.int64)
    for field, width in zip(fields, widths):
        hashes = (hashes << width) | field
    return Fingerprint(
        hashes=hashes.astype(np.uint32),
        times=marks.t1.astype(np.uint32),
        frame_s=marks.frame_s,
        duration_s=marks.duration_s,
    )


def fingerprint(signal: AudioSignal, config: FingerprintConfig = FingerprintConfig()) -> Fingerprint:
    """Catalog fingerprint of a signal: distinct (hash, time) pairs, sorted by time."""
    fp = hash_landmarks(landmarks(signal, config), config)
    if len(fp) == 0:
        return fp
    packed = np.unique((fp.times.astype(np.uint64) << np.uint64(32)) | fp.hashes.astype(np.uint64))
    return Fingerprint(
        hashes=(packed & np.uint64(0xFFFFFFFF)).astype(np.uint32),
        times=(packed >> np.uint64(32)).astype(np.uint32),
        frame_s=fp.frame_s,
        duration_s=fp.duration_s,
    )
