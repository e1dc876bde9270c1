"""Catalog: LMDB truth, FAISS derived, ids stable, deletes and replaces everywhere, mismatch refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.store.catalog import AssetRecord, Catalog, CatalogConfig, NewAsset, pool_windows
from indexer.errors import BadInputError, CatalogMismatchError, NotFoundError
from indexer.features.config import FeatureConfig
from indexer.media_types import MediaType
from indexer.store.vector_index import VectorIndexConfig

FEATURES = {"visual": {"model": "test", "dim": 512}}


def unit_vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, 512)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def image_record(asset_id: str, sha: str = "s") -> AssetRecord:
    return AssetRecord(asset_id=asset_id, media_type=MediaType.IMAGE, source=asset_id, sha256=sha,
                       metadata={"seller": asset_id.upper()})


def video_record(asset_id: str) -> AssetRecord:
    return AssetRecord(asset_id=asset_id, media_type=MediaType.VIDEO, source=asset_id, sha256="v")


def test_search_finds_each_stored_vector_and_video_frame_time(tmp_path: Path) -> None:
    vectors = unit_vectors(20, seed=0)
    with Catalog.open(tmp_path, FEATURES) as catalog:
        catalog.put_asset(image_record("img"), vectors[:1])
        catalog.put_asset(video_record("vid"), vectors[1:], np.arange(19) * 0.5)
        hits = catalog.search_frames(vectors[[0, 7]], k=1)
    assert hits[0][0].asset_id == "img" and hits[0][0].score == pytest.approx(1.0, abs=1e-5)
    assert (hits[1][0].asset_id, hits[1][0].frame_index, hits[1][0].time_s) == ("vid", 6, 3.0)


def test_put_assets_stores_a_batch_in_one_commit_and_replaces_in_place(tmp_path: Path) -> None:
    vectors = unit_vectors(6, seed=11)
    with Catalog.open(tmp_path, FEATURES) as catalog:
        catalog.put_asset(image_record("b", sha="old"), vectors[5:6])
        generation = catalog.generation()
        stored = catalog.put_assets([NewAsset(image_record("a"), vectors[0:1]),
                                     NewAsset(image_record("b", sha="new"), vectors[1:2]),
                                     NewAsset(video_record("v"), vectors[2:5], np.arange(3.0))])
        assert catalog.generation() == generation + 1
        assert [r.asset_id for r in stored] == ["a", "b", "v"]
        assert len({r.asset_num for r in stored}) == 3
        assert catalog.get("b").sha256 == "new"
        hits = catalog.search_frames(vectors[[0, 1, 3, 5]], k=1)
        assert [h[0].asset_id for h in hits[:3]] == ["a", "b", "v"]
        assert hits[3][0].score < 0.5  # b's old vector is gone from the index
        assert catalog.stats()["indexed_frames"] == 5


def test_put_assets_is_all_or_nothing(tmp_path: Path) -> None:
    vectors = unit_vectors(2, seed=12)
    bad = vectors[1:2].copy()
    bad[0, 0] = np.nan
    with Catalog.open(tmp_path, FEATURES) as catalog:
        with pytest.raises(BadInputError, match="finite"):
            catalog.put_assets([NewAsset(image_record("ok"), vectors[0:1]), NewAsset(image_record("bad"), bad)])
        with pytest.raises(ValueError, match="distinct"):
            catalog.put_assets([NewAsset(image_record("x"), vectors[0:1]), NewAsset(image_record("x"), vectors[0:1])])
        assert catalog.get("ok") is None and catalog.get("x") is None
        assert catalog.stats()["indexed_frames"] == 0


def test_reopen_keeps_everything_and_rebuilds_a_stale_index(tmp_path: Path) -> None:
    vectors = unit_vectors(5, seed=1)
    with Catalog.open(tmp_path, FEATURES) as catalog:
        for i in range(5):
            catalog.put_asset(image_record(f"a{i}"), vectors[i : i + 1])
    with Catalog.open(tmp_path, FEATURES) as catalog:
        assert catalog.get("a3").metadata == {"seller": "A3"}
        assert catalog.search_frames(vectors[[3]], 1)[0][0].asset_id == "a3"
        catalog.put_asset(image_record("late"), unit_vectors(1, seed=9))
        # Simulate a crash: LMDB committed, the FAISS file on disk still names the old generation.
        catalog.env.close()
        catalog.env = None
        for lock in (catalog._writer_lock, catalog._process_lock):  # the OS drops a dead process's locks
            lock.release()
    with Catalog.open(tmp_path, FEATURES) as catalog:
        assert catalog.stats()["indexed_frames"] == 6
        assert catalog.search_frames(unit_vectors(1, seed=9), 1)[0][0].asset_id == "late"


def test_missing_index_file_is_rebuilt_from_lmdb(tmp_path: Path) -> None:
    vectors = unit_vectors(3, seed=2)
    with Catalog.open(tmp_path, FEATURES) as catalog:
        catalog.put_asset(video_record("v"), vectors, np.array([0.0, 1.0, 2.0]))
    (tmp_path / "frames.faiss").unlink()
    (tmp_path / "windows.faiss").unlink()
    with Catalog.open(tmp_path, FEATURES) as catalog:
        assert catalog.search_frames(vectors[[2]], 1)[0][0].frame_index == 2
        assert catalog.search_windows(vectors.mean(0, keepdims=True), 1)[0][0].asset_id == "v"


def test_delete_removes_from_every_index_and_unknown_id_is_not_found(tmp_path: Path) -> None:
    vectors = unit_vectors(8, seed=3)
    with Catalog.open(tmp_path, FEATURES) as catalog:
        catalog.put_asset(video_record("v"), vectors, np.arange(8.0))
        catalog.put_asset(image_record("i"), unit_vectors(1, seed=4))
        catalog.delete("v")
        assert catalog.get("v") is None
        assert all(h.asset_id == "i" for h in catalog.search_frames(vectors, 5)[0])
        assert catalog.search_windows(vectors[:1], 5) == [[]]
        with pytest.raises(NotFoundError, match="unknown id 'v'"):
            catalog.delete("v")
        with pytest.raises(NotFoundError):
            catalog.frames("v")


def test_replace_swaps_content_under_the_same_id(tmp_path: Path) -> None:
    old, new = unit_vectors(2, seed=5)
    with Catalog.open(tmp_path, FEATURES) as catalog:
        first = catalog.put_asset(image_record("x", sha="old"), old[None])
        second = catalog.put_asset(image_record("x", sha="new"), new[None])
        assert second.first_frame_id != first.first_frame_id
        assert catalog.stats()["assets"] == 1 and catalog.stats()["indexed_frames"] == 1
        assert catalog.search_frames(new[None], 1)[0][0].score == pytest.approx(1.0, abs=1e-5)
        assert catalog.get("x").sha256 == "new"


def test_other_features_are_a_clear_error(tmp_path: Path) -> None:
    Catalog.open(tmp_path, FEATURES).close()
    other = {"visual": {"model": "other", "dim": 512}}
    with pytest.raises(CatalogMismatchError, match="model"):
        Catalog.open(tmp_path, other)


def test_a_catalog_from_an_older_preprocessing_names_the_setting(tmp_path: Path) -> None:
    current = FeatureConfig().record()
    older = {**current, "visual": {k: v for k, v in current["visual"].items() if k != "upscale"}}
    Catalog.open(tmp_path, older).close()
    with pytest.raises(CatalogMismatchError, match=r"visual\.upscale: catalog has None, got 'nearest'"):
        Catalog.open(tmp_path, current)
    with pytest.raises(CatalogMismatchError, match=r"visual\.upscale: catalog has None, got 'nearest'"):
        FeatureConfig.from_record(older)  # what `nearmatch search` does with a catalog's record


def test_opening_a_missing_catalog_without_create_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no catalog"):
        Catalog.open(tmp_path / "absent", None, create=False)


def test_hnsw_deletes_become_filtered_tombstones(tmp_path: Path) -> None:
    config = CatalogConfig(index=VectorIndexConfig("HNSW16"), rebuild_tombstone_fraction=10.0)
    vectors = unit_vectors(6, seed=6)
    with Catalog.open(tmp_path, FEATURES, config) as catalog:
        for i in range(6):
            catalog.put_asset(image_record(f"h{i}"), vectors[i : i + 1])
        catalog.delete("h2")
        hits = catalog.search_frames(vectors[[2]], 3)[0]
    assert len(hits) == 3 and "h2" not in {h.asset_id for h in hits}


def test_pool_windows_matches_a_plain_loop() -> None:
    embeddings = unit_vectors(11, seed=7)
    pooled, starts = pool_windows(embeddings, window_frames=4)
    assert list(starts) == [0, 2, 4, 6, 7]
    for window, start in zip(pooled, starts):
        expected = embeddings[start : start + 4].sum(axis=0)
        np.testing.assert_allclose(window, expected / np.linalg.norm(expected), atol=1e-5)


def test_quantised_index_uses_flat_until_it_can_train_then_trains_on_reopen(tmp_path: Path) -> None:
    config = CatalogConfig(index=VectorIndexConfig("IVF8,Flat", search_params="nprobe=8"))
    vectors = unit_vectors(1200, seed=8)
    with Catalog.open(tmp_path, FEATURES, config) as catalog:
        catalog.put_asset(video_record("few"), vectors[:10], np.arange(10.0))
        assert catalog.stats()["index_factory"] == "Flat"
        catalog.put_asset(video_record("many"), vectors[10:], np.arange(1190.0))
    with Catalog.open(tmp_path, FEATURES, config) as catalog:
        assert catalog.stats()["index_factory"] == "IVF8,Flat"
        hits = catalog.search_frames(vectors[[5, 600]], 1)
    assert [(h[0].asset_id, h[0].frame_index) for h in hits] == [("few", 5), ("many", 590)]


def test_the_index_choice_is_recorded_and_a_different_one_refused(tmp_path: Path) -> None:
    Catalog.open(tmp_path, FEATURES, CatalogConfig(index=VectorIndexConfig("HNSW16"))).close()
    with Catalog.open(tmp_path, FEATURES) as catalog:
        assert catalog.stats()["index_factory"] == "HNSW16"
    with pytest.raises(CatalogMismatchError, match="HNSW16"):
        Catalog.open(tmp_path, FEATURES, CatalogConfig(index=VectorIndexConfig("Flat")))
