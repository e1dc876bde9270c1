"""Perceptual-hash baselines for the image benchmark: pHash (imagehash) and PDQ (pdqhash).

Both are searched by brute force over the whole catalog with Hamming distance;
the score is ``1 - distance / bits`` so it ranks like a similarity in [0, 1].
"""

from __future__ import annotations

import enum
from typing import Sequence

import numpy as np
from PIL import Image


class HashMethod(str, enum.Enum):
    PHASH = "phash"  # imagehash.phash: 64-bit DCT hash of a 32x32 greyscale thumbnail
    PDQ = "pdq"  # Meta's 256-bit PDQ hash

    @property
    def bits(self) -> int:
        return 64 if self is HashMethod.PHASH else 256


def hash_image(image: np.ndarray, method: HashMethod) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (bits,) bool hash."""
    if method is HashMethod.PHASH:
        import imagehash

        return np.asarray(imagehash.phash(Image.fromarray(image)).hash, dtype=bool).ravel()
    import pdqhash

    bits, _quality = pdqhash.compute(np.ascontiguousarray(image))
    return np.asarray(bits, dtype=bool)


def hash_images(images: Sequence[np.ndarray], method: HashMethod) -> np.ndarray:
    """n images -> (n, bits) bool."""
    return np.stack([hash_image(image, method) for image in images]) if images else np.zeros((0, method.bits), bool)


def search_hashes(queries: np.ndarray, catalog: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force nearest hashes by Hamming distance.

    queries: (q, bits) bool; catalog: (n, bits) bool. Returns (indices (q, k')
    int64, scores (q, k') float64 = 1 - distance / bits), best first, k' = min(k, n).
    """
    bits = catalog.shape[1]
    # Hamming distance = bits - agreements; agreements via two matrix products on 0/1 values.
    q = queries.astype(np.float32)
    c = catalog.astype(np.float32)
    agreements = q @ c.T + (1 - q) @ (1 - c).T
    scores = agreements / bits
    k = min(k, catalog.shape[0])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1).astype(np.float64)
