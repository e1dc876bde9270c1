"""Detection and trimming of uniform borders: letterbox, pillarbox, screenshot padding.

A copy shown inside bars (16:9 in 9:16, a photo pasted on a plain canvas)
embeds far from its original unless the bars are cut off first, so images and
video frames are trimmed before embedding, identically at ingest and query time.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True)
class BorderConfig:
    """A row or column is border when its pixels barely vary and match the edge colour."""

    max_std: float = 6.0  # grey levels; JPEG noise on a flat bar stays well under this
    max_color_delta: float = 12.0  # grey levels between the line's mean and the edge colour
    min_keep_fraction: float = 0.25  # never trim a side to less than this share of the frame
    min_border_px: int = 2  # ignore trims thinner than this (noise, 1-px encoder edges)
    analysis_px: int = 256  # statistics are taken on a grid this many lines across the short side


@dataclasses.dataclass(frozen=True)
class Crop:
    """Pixel box kept after trimming: rows [top, bottom), columns [left, right)."""

    top: int
    bottom: int
    left: int
    right: int

    def apply(self, image: np.ndarray) -> np.ndarray:
        return image[self.top : self.bottom, self.left : self.right]


def _flat_run(lines: Callable[[int, int], np.ndarray], count: int, axis: int, config: BorderConfig) -> int:
    """How many leading lines are flat and of the first line's colour.

    ``lines(start, stop)`` gives the grey values of lines [start, stop) with the
    line running along ``axis``. Lines are read from the edge in chunks that
    grow 4x (1, 3, 12, ...), so a photo with no border costs one line per
    side, and a wide border a few chunks, not the whole image.
    """
    first_mean = None
    start = 0
    while start < count:
        stop = min(count, max(1, 4 * start))
        grey = lines(start, stop)
        mean, std = grey.mean(axis=axis), grey.std(axis=axis)
        if first_mean is None:
            if std[0] > config.max_std:
                return 0
            first_mean = mean[0]
        flat = (std <= config.max_std) & (np.abs(mean - first_mean) <= config.max_color_delta)
        if not flat.all():
            return start + int(np.argmin(flat))
        start = stop
    return count


def _grey(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 3:
        # Channel by channel: converting a strided (h, w, 3) view at once is several times slower.
        return (pixels[..., 0].astype(np.float32) + pixels[..., 1] + pixels[..., 2]) / 3.0
    return pixels.astype(np.float32)


def detect_border(image: np.ndarray | Image.Image, config: BorderConfig = BorderConfig()) -> Crop:
    """Box of ``image`` (H, W, 3) or (H, W) uint8, or an RGB Pillow image, that remains after cutting uniform borders.

    Statistics come from every ``step``-th row and column (a grid about
    ``analysis_px`` lines across), so a 4K photo costs what a thumbnail does;
    a bar's edge is then known to ``step`` pixels and is rounded towards
    keeping the picture. Only the lines next to each edge are read: from a
    Pillow image, only those lines are copied out of it.
    """
    is_picture = isinstance(image, Image.Image)
    width, height = image.size if is_picture else image.shape[1::-1]
    step = max(1, min(height, width) // config.analysis_px)
    if is_picture:

        def grid(top: int, bottom: int, left: int, right: int) -> np.ndarray:
            box = (left * step, top * step, (right - 1) * step + 1, (bottom - 1) * step + 1)
            return np.asarray(image.crop(box))[::step, ::step]
    else:
        sampled = image[::step, ::step]

        def grid(top: int, bottom: int, left: int, right: int) -> np.ndarray:
            return sampled[top:bottom, left:right]
    rows, cols = -(-height // step), -(-width // step)
    runs = (
        _flat_run(lambda a, b: _grey(grid(a, b, 0, cols)), rows, 1, config),
        _flat_run(lambda a, b: _grey(grid(rows - b, rows - a, 0, cols)[::-1]), rows, 1, config),
        _flat_run(lambda a, b: _grey(grid(0, rows, a, b)), cols, 0, config),
        _flat_run(lambda a, b: _grey(grid(0, rows, cols - b, cols - a)[:, ::-1]), cols, 0, config),
    )
    if runs[0] >= rows or runs[2] >= cols:
        return Crop(0, height, 0, width)  # a uniform image: nothing to trim towards
    # ``run`` flat sampled lines prove at least (run - 1) * step + 1 flat pixel lines.
    top, bottom, left, right = (0 if run == 0 else (run - 1) * step + 1 for run in runs)
    return _bounded_crop(height, width, top, bottom, left, right, config)


def detect_border_stack(frames: Sequence[np.ndarray], config: BorderConfig = BorderConfig()) -> Crop:
    """One box for a whole video: the least each side is trimmed over ``frames``.

    Taking the minimum keeps a dark or flat scene from cutting into the picture;
    real bars are present in every frame, so they survive the minimum.
    """
    if not frames:
        raise ValueError("expected at least one frame to detect borders on, got none")
    crops = [detect_border(frame, config) for frame in frames]
    return Crop(
        top=min(c.top for c in crops),
        bottom=max(c.bottom for c in crops),
        left=min(c.left for c in crops),
        right=max(c.right for c in crops),
    )


def _bounded_crop(height: int, width: int, top: int, bottom: int, left: int, right: int, config: BorderConfig) -> Crop:
    if top + bottom >= height or left + right >= width:
        return Crop(0, height, 0, width)  # a uniform image: nothing to trim towards
    top, bottom, left, right = (v if v >= config.min_border_px else 0 for v in (top, bottom, left, right))
    if height - top - bottom < config.min_keep_fraction * height:
        top = bottom = 0
    if width - left - right < config.min_keep_fraction * width:
        left = right = 0
    return Crop(top, height - bottom, left, width - right)

