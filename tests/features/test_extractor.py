"""The embedder: what reaches the model, and that running calls side by side changes nothing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from indexer.features.extractor import ExtractorConfig, FrameEmbedder
from indexer.decode.image import decode_image, decode_picture


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("framed", [False, True])
def test_a_picture_and_its_array_give_the_same_model_input(photos, embedder, framed: bool) -> None:
    image = photos["astronaut"][:300, :400]
    if framed:  # letterboxed: the picture is cropped before resizing
        image = np.pad(image, ((60, 60), (0, 0), (0, 0)))
    data = encode_png(image)
    from_picture = embedder.preprocess(decode_picture(data))
    assert np.array_equal(from_picture, embedder.preprocess(decode_image(data)))
    assert from_picture.shape == (288, 384, 3)
    with pytest.raises(ValueError, match="expected an RGB image"):
        embedder.preprocess(Image.fromarray(image).convert("L"))


def test_small_pictures_are_enlarged_by_nearest_neighbour_and_large_ones_filtered(embedder) -> None:
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (144, 192, 3), dtype=np.uint8)  # exactly half the model input
    assert np.array_equal(embedder.preprocess(small), small.repeat(2, axis=0).repeat(2, axis=1))
    stripes = np.zeros((576, 768, 3), np.uint8)
    stripes[::2] = 255  # shrinking must average the stripes to grey, not pick every other line
    assert np.abs(embedder.preprocess(stripes).astype(int) - 128).max() <= 1


def test_calls_side_by_side_give_the_embeddings_of_one_call_at_a_time_in_order(photos) -> None:
    images = [photos[name] for name in ("astronaut", "coffee", "chelsea", "rocket", "astronaut")]
    one = FrameEmbedder(ExtractorConfig(batch_size=2, threads=2))
    two = FrameEmbedder(ExtractorConfig(batch_size=2, threads=2, concurrent_calls=2))
    prepared = np.stack([one.preprocess(image[:300, :300]) for image in images])  # 3 model calls
    expected, got = one.embed_preprocessed(prepared), two.embed_preprocessed(prepared)
    assert got.shape == (5, 512) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert float(got[0] @ got[4]) > 0.999 and float(got[0] @ got[1]) < 0.9
    assert two.embed_preprocessed(prepared[:0]).shape == (0, 512)


def test_concurrent_calls_must_fit_the_threads() -> None:
    with pytest.raises(ValueError, match="concurrent_calls"):
        ExtractorConfig(threads=2, concurrent_calls=3)
    assert ExtractorConfig(threads=2).for_bulk().concurrent_calls == 2
