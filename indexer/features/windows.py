"""Pooled windows of consecutive frame embeddings: the video index for fast candidate retrieval."""

from __future__ import annotations

import numpy as np


def window_starts(n_frames: int, window_frames: int) -> np.ndarray:
    """First frame index (w,) int64 of each window of ``min(window_frames, n_frames)`` frames.

    Windows overlap by half; the last one always ends at the last frame.
    """
    if n_frames == 0:
        return np.zeros(0, np.int64)
    size = min(window_frames, n_frames)
    starts = list(range(0, n_frames - size + 1, max(1, size // 2)))
    if starts[-1] != n_frames - size:
        starts.append(n_frames - size)
    return np.asarray(starts, dtype=np.int64)


def pool_windows(embeddings: np.ndarray, window_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean-pool (n, d) frame embeddings over the windows of ``window_starts``.

    Returns L2-normalised window embeddings (w, d) float32 and each window's
    first frame index (w,) int64.
    """
    n = len(embeddings)
    starts = window_starts(n, window_frames)
    if n == 0:
        return np.zeros((0, embeddings.shape[1]), np.float32), starts
    size = min(window_frames, n)
    cumulative = np.vstack([np.zeros((1, embeddings.shape[1])), np.cumsum(embeddings, axis=0, dtype=np.float64)])
    pooled = (cumulative[starts + size] - cumulative[starts]).astype(np.float32)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled, starts
