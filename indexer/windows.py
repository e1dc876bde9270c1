"""Pooled windows of consecutive frame embeddings: the video index for fast candidate retrieval."""

from __future__ import annotations

import numpy as np


def pool_windows(embeddings: np.ndarray, window_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean-pool (n, d) frame embeddings over windows of ``window_frames`` with half overlap.

    Returns L2-normalised window embeddings (w, d) float32 and each window's
    first frame index (w,) int64; the last window always reaches the last frame.
    """
    n = len(embeddings)
    if n == 0:
        return np.zeros((0, embeddings.shape[1]), np.float32), np.zeros(0, np.int64)
    size = min(window_frames, n)
    stride = max(1, size // 2)
    starts = list(range(0, n - size + 1, stride))
    if starts[-1] != n - size:
        starts.append(n - size)
    cumulative = np.vstack([np.zeros((1, embeddings.shape[1])), np.cumsum(embeddings, axis=0, dtype=np.float64)])
    starts_arr = np.asarray(starts, dtype=np.int64)
    pooled = (cumulative[starts_arr + size] - cumulative[starts_arr]).astype(np.float32)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled, starts_arr
