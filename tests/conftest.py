"""Shared fixtures: real photos (scikit-image's data), the real SSCD embedder, fresh catalogs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer.features.extractor import FrameEmbedder

# Real photographs shipped inside the scikit-image wheel (no download).
PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "retina", "hubble_deep_field", "immunohistochemistry",
               "camera")


def load_photo(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """name -> RGB uint8 (H, W, 3) real photograph."""
    return {name: load_photo(name) for name in PHOTO_NAMES}


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> Path:
    """A directory of the photos as JPEG files, ``NAME.jpg``."""
    directory = tmp_path_factory.mktemp("photos")
    for name, image in photos.items():
        Image.fromarray(image).save(directory / f"{name}.jpg", quality=92)
    return directory


@pytest.fixture(scope="session")
def embedder() -> FrameEmbedder:
    """The default (distilled SSCD) embedder, loaded once per test session."""
    return FrameEmbedder()
