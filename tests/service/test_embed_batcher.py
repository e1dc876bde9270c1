"""The micro-batching queue in front of the embedder: same embeddings as direct calls, bounded queue,
and a server with batching on answering exactly like one with batching off."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer.errors import LimitExceededError
from indexer.features.extractor import FrameEmbedder
from search.service.client import NearmatchClient
from search.service.embed_batcher import BatchConfig, BatchingEmbedder
from search.service.server import ServerConfig, create_server, stop_server


def test_batched_embeddings_equal_direct_ones_under_concurrency(embedder: FrameEmbedder, photos) -> None:
    images = [photos[name] for name in ("astronaut", "coffee", "rocket", "chelsea", "camera", "retina")]
    images += [np.ascontiguousarray(image[::2, ::2]) for image in images]  # other shapes too
    expected = embedder.embed(images)
    batcher = BatchingEmbedder(embedder, BatchConfig(max_batch=8, max_wait_ms=20.0))
    got: dict[int, np.ndarray] = {}
    start = threading.Barrier(len(images))

    def one(i: int) -> None:
        start.wait()
        got[i] = batcher.embed([images[i]])[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    np.testing.assert_allclose(np.stack([got[i] for i in range(len(images))]), expected, atol=1e-5)
    assert batcher.images_embedded == len(images)


def test_one_call_of_same_shape_arrays_is_one_model_call(embedder: FrameEmbedder, photos) -> None:
    batcher = BatchingEmbedder(embedder, BatchConfig(max_batch=4, max_wait_ms=0.0))
    prepared = [embedder.preprocess(photos[name]) for name in ("astronaut", "coffee", "rocket")]
    square = [np.ascontiguousarray(Image.fromarray(p).resize((288, 288))) for p in prepared]
    out = batcher.embed_preprocessed(np.stack(square))
    batcher.close()
    assert out.shape == (3, 512) and batcher.model_calls == 1
    np.testing.assert_allclose(out, embedder.embed_preprocessed(np.stack(square)), atol=1e-5)


def test_queue_is_bounded(embedder: FrameEmbedder, photos) -> None:
    batcher = BatchingEmbedder(embedder, BatchConfig(max_queued=2))
    try:
        with pytest.raises(LimitExceededError):
            batcher.embed([photos["coffee"]] * 3)
    finally:
        batcher.close()


def test_server_with_batching_answers_like_without(tmp_path: Path, photos) -> None:
    def jpeg(image: np.ndarray, quality: int) -> bytes:
        out = io.BytesIO()
        Image.fromarray(image).save(out, "JPEG", quality=quality)
        return out.getvalue()

    answers = {}
    for mode in ("on", "off"):
        server, port = create_server(ServerConfig(catalog=tmp_path / mode, port=0, workers=4, batching=mode))
        try:
            with NearmatchClient(f"127.0.0.1:{port}") as client:
                for name in ("astronaut", "coffee", "rocket"):
                    client.ingest(name, jpeg(photos[name], 90))
                queries = [jpeg(np.ascontiguousarray(photos[n][40:-40, 30:-30]), 50) for n in ("coffee", "rocket")]
                results: list[list[tuple[str, float]]] = [[] for _ in queries]

                def ask(i: int) -> None:
                    found = client.search(queries[i], top_k=3)["results"]
                    results[i] = [(hit["asset_id"], hit["similarity_score"]) for hit in found]

                threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(queries))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                answers[mode] = results
        finally:
            stop_server(server, 2.0)
    assert answers["on"][0][0][0] == "coffee" and answers["on"][1][0][0] == "rocket"
    for on, off in zip(answers["on"], answers["off"]):
        assert [a for a, _ in on] == [a for a, _ in off]
        np.testing.assert_allclose([s for _, s in on], [s for _, s in off], atol=1e-3)
