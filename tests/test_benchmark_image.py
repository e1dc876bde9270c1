"""The image benchmark's building blocks: seeded transformations, hash search, scoring."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from benchmarks import image_eval, image_transforms
from benchmarks.image_baselines import HashMethod, hash_image, search_hashes


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(data.chelsea())  # a real photo, 451x300


@pytest.mark.parametrize("name", sorted(image_transforms.SINGLE))
def test_every_transformation_gives_a_decodable_changed_image(photo: Image.Image, name: str) -> None:
    query = image_transforms.apply_chain(photo, [name], np.random.default_rng(0))
    decoded = Image.open(io.BytesIO(query.data))
    decoded.load()
    assert decoded.format == {".jpg": "JPEG", ".webp": "WEBP", ".png": "PNG"}[query.suffix]
    assert query.steps == (name,)
    if decoded.size == photo.size:
        difference = np.abs(np.asarray(decoded.convert("RGB"), np.int16) - np.asarray(photo, np.int16))
        assert difference.mean() > 0.5  # something visibly changed


def test_transformations_are_deterministic_per_seed(photo: Image.Image) -> None:
    steps = ("crop", "text_overlay", "jpeg")
    first = image_transforms.apply_chain(photo, steps, np.random.default_rng(7)).data
    again = image_transforms.apply_chain(photo, steps, np.random.default_rng(7)).data
    other = image_transforms.apply_chain(photo, steps, np.random.default_rng(8)).data
    assert first == again and first != other


def test_crop_keeps_half_to_ninety_percent(photo: Image.Image) -> None:
    for seed in range(20):
        out = image_transforms.crop(photo, np.random.default_rng(seed))
        share = out.width * out.height / (photo.width * photo.height)
        assert 0.4 <= share <= 0.95, share


def test_combinations_put_encodings_last() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        steps = image_transforms.random_combination(rng, 3)
        assert len(set(steps)) == 3
        encodings = [i for i, s in enumerate(steps) if s in ("jpeg", "webp", "png_palette")]
        assert all(i >= len(steps) - len(encodings) for i in encodings)


def test_unknown_transformation_is_refused(photo: Image.Image) -> None:
    with pytest.raises(ValueError, match="expected a transformation"):
        image_transforms.apply_chain(photo, ["sepia"], np.random.default_rng(0))


def test_hash_search_matches_plain_hamming_reference() -> None:
    rng = np.random.default_rng(1)
    catalog = rng.random((40, 64)) < 0.5
    queries = rng.random((5, 64)) < 0.5
    indices, scores = search_hashes(queries, catalog, k=3)
    for q in range(5):
        distances = (queries[q] != catalog).sum(axis=1)
        expected = np.sort(1 - distances / 64)[::-1][:3]
        np.testing.assert_allclose(scores[q], expected)
        np.testing.assert_allclose(1 - distances[indices[q]] / 64, scores[q])


def test_hashes_survive_mild_jpeg_and_differ_across_photos(photo: Image.Image) -> None:
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=60)
    recompressed = np.asarray(Image.open(buffer).convert("RGB"))
    for method in HashMethod:
        original = hash_image(np.asarray(photo), method)
        assert original.shape == (method.bits,)
        same = (original != hash_image(recompressed, method)).mean()
        other = (original != hash_image(data.astronaut(), method)).mean()
        assert same < 0.1 < other


def test_scoring_counts_no_copy_queries_as_negatives_only() -> None:
    queries = [
        {"query_id": "a", "original": "x", "steps": ["jpeg"], "split": "test"},
        {"query_id": "b", "original": "y", "steps": ["crop", "mirror"], "split": "test"},
        {"query_id": "n", "original": None, "steps": ["blur"], "split": "test"},
    ]
    predictions = {"a": [("x", 0.9), ("y", 0.2)], "b": [("x", 0.5), ("y", 0.4)], "n": [("x", 0.6)]}
    summary = image_eval.summary(queries, predictions)
    # Ranked: x/a P .9, x/n N .6, x/b N .5, y/b P .4, y/a N .2 -> AP = (1 + 2/4) / 2.
    assert summary["micro_ap"] == pytest.approx(0.75)
    assert summary["top1_accuracy"] == 0.5
    at = image_eval.at_threshold(queries, predictions, 0.55)
    assert (at["precision"], at["recall"], at["no_copy_queries_with_a_match"]) == (0.5, 0.5, 1)
    per = image_eval.per_transform(queries, predictions, 0.35)
    assert per["jpeg"]["recall_at_threshold"] == 1.0 and per["combination of 2"]["recall_at_threshold"] == 1.0
