"""Compaction: the LMDB file shrinks, every record and search answer stays, and it never runs beside a user."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.audio_transforms import music_like
from indexer.decode.audio import AudioSignal
from indexer.features.audio_fingerprint import fingerprint
from indexer.store.catalog import AssetRecord, Catalog
from indexer.store.lock import CatalogLock
from indexer.store.compact import compact_catalog
from indexer.errors import CatalogBusyError, NotFoundError
from indexer.media_types import MediaType
from search.retrieve.audio import search_audio
from search.cli.main import main

FEATURES = {"visual": {"model": "test", "dim": 512}}
RATE = 8000


def build(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """A catalog written the way ingest writes it: one transaction per asset, some deleted or replaced."""
    songs = [music_like(30.0, RATE, seed=s).astype(np.float32) for s in range(8)]
    vectors = np.random.default_rng(0).standard_normal((8, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Catalog.open(path, FEATURES) as catalog:
        for i, song in enumerate(songs):
            catalog.put_asset(AssetRecord(f"song{i}", MediaType.AUDIO, f"song{i}.wav", f"{i}", duration_s=30.0,
                                          has_audio=True), audio=fingerprint(AudioSignal(song, RATE)))
            catalog.put_asset(AssetRecord(f"img{i}", MediaType.IMAGE, f"img{i}.jpg", f"i{i}"), vectors[i : i + 1])
        catalog.delete("song3")
        catalog.delete("img3")
    return songs, vectors


def answers(path: Path, songs: list[np.ndarray], vectors: np.ndarray) -> tuple:
    with Catalog.open(path, FEATURES) as catalog:
        audio = [[(h.asset_id, round(h.envelope.similarity_score, 6)) for h in
                  search_audio(catalog, AudioSignal(song[5 * RATE : 15 * RATE], RATE), top_k=3)] for song in songs]
        frames = [[(h.asset_id, round(h.score, 5)) for h in row] for row in catalog.search_frames(vectors, k=2)]
        stats = catalog.stats()
        stats.pop("disk_bytes")  # what compaction changes: the file and the postings' pages
        stats["audio_postings"] = stats["audio_postings"]["rows"]
        return audio, frames, stats, catalog.get("song5"), catalog.get("song3")


def test_compaction_shrinks_the_file_and_keeps_every_answer(tmp_path: Path) -> None:
    songs, vectors = build(tmp_path / "cat")
    before = answers(tmp_path / "cat", songs, vectors)
    assert before[0][1][0][0] == "song1" and before[0][3] == [] and before[4] is None  # song3 was deleted
    report = compact_catalog(tmp_path / "cat")
    assert report.bytes_after < 0.75 * report.bytes_before
    assert (tmp_path / "cat" / "lmdb" / "data.mdb").stat().st_size == report.bytes_after
    assert answers(tmp_path / "cat", songs, vectors) == before
    with Catalog.open(tmp_path / "cat", FEATURES) as catalog:  # still writable afterwards
        catalog.put_asset(AssetRecord("song3", MediaType.AUDIO, "song3.wav", "3", duration_s=30.0, has_audio=True),
                          audio=fingerprint(AudioSignal(songs[3], RATE)))
        assert search_audio(catalog, AudioSignal(songs[3][5 * RATE : 15 * RATE], RATE), top_k=1)[0].asset_id == "song3"
    assert not (tmp_path / "cat" / "lmdb.compacting").exists()


def test_compaction_is_refused_while_the_catalog_is_open_and_opening_while_it_runs(tmp_path: Path) -> None:
    build(tmp_path / "cat")
    size = (tmp_path / "cat" / "lmdb" / "data.mdb").stat().st_size
    with Catalog.open(tmp_path / "cat", FEATURES):
        with pytest.raises(CatalogBusyError, match="open elsewhere"):
            compact_catalog(tmp_path / "cat")
        assert main(["compact", "--catalog", str(tmp_path / "cat")]) == 2
    assert (tmp_path / "cat" / "lmdb" / "data.mdb").stat().st_size == size
    compaction = CatalogLock(tmp_path / "cat", exclusive=True)
    try:
        with pytest.raises(CatalogBusyError, match="being compacted"):
            Catalog.open(tmp_path / "cat", FEATURES)
    finally:
        compaction.release()
    Catalog.open(tmp_path / "cat", FEATURES).close()


def test_a_leftover_of_an_interrupted_compaction_is_replaced_and_a_missing_catalog_is_not_found(tmp_path: Path,
                                                                                               capsys) -> None:
    build(tmp_path / "cat")
    (tmp_path / "cat" / "lmdb.compacting").mkdir()
    (tmp_path / "cat" / "lmdb.compacting" / "data.mdb").write_bytes(b"half a copy")
    assert main(["compact", "--catalog", str(tmp_path / "cat"), "--json"]) == 0
    assert '"bytes_after"' in capsys.readouterr().out
    with Catalog.open(tmp_path / "cat", FEATURES) as catalog:
        assert catalog.stats()["assets"] == 14
    with pytest.raises(NotFoundError, match="no catalog there"):
        compact_catalog(tmp_path / "nothing")
