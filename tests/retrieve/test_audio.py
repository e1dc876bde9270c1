"""Audio search through the catalog's LMDB postings, video soundtracks, delete, and pairwise match_audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.audio_transforms import encode, music_like, pitch, tempo
from indexer.decode.audio import decode_audio
from indexer.features.audio_fingerprint import fingerprint
from indexer.store.catalog import AssetRecord, Catalog
from indexer.media_types import MediaType
from search.align.audio import AlignConfig
from search.retrieve.audio import AudioSearchConfig, match_audio, search_audio
from search.envelope import MatchType
from tests.av_media import video_bytes

RATE = 16000


@pytest.fixture(scope="module")
def songs() -> list[np.ndarray]:
    return [music_like(40.0, RATE, seed=s) for s in (21, 22, 23)]


@pytest.fixture()
def catalog(tmp_path: Path, songs: list[np.ndarray]) -> Catalog:
    cat = Catalog.open(tmp_path / "cat")
    for i, song in enumerate(songs[:2]):
        data = encode(song, RATE, "libopus", 64000)
        cat.put_asset(AssetRecord(asset_id=f"song{i}", media_type=MediaType.AUDIO, source=f"song{i}.ogg", sha256=f"{i}",
                                  metadata={"n": i}, duration_s=40.0, has_audio=True),
                      audio=fingerprint(decode_audio(data)))
    clip = video_bytes(len(songs[2]) / RATE, songs[2], RATE)
    cat.put_asset(AssetRecord(asset_id="clip", media_type=MediaType.VIDEO, source="clip.mp4", sha256="c",
                              duration_s=40.0, has_audio=True),
                  audio=fingerprint(decode_audio(clip)))
    yield cat
    cat.close()


def test_audio_query_finds_the_right_song_with_offsets(catalog: Catalog, songs: list[np.ndarray]) -> None:
    query = encode(songs[1][12 * RATE : 22 * RATE], RATE, "libmp3lame", 32000)
    hits = search_audio(catalog, query, top_k=3)
    assert hits and hits[0].asset_id == "song1" and hits[0].envelope.match
    assert hits[0].metadata == {"n": 1} and hits[0].rank == 1
    seg = hits[0].envelope.matched_segments[0]
    assert seg.target_start_s - seg.source_start_s == pytest.approx(12.0, abs=0.25)
    assert hits[0].envelope.match_type == MatchType.PARTIAL
    assert all(not h.envelope.match for h in hits[1:])


@pytest.mark.parametrize("unchanged_first", [True, False])
def test_pitch_shifted_query_is_found_through_the_hypothesis_grid(catalog: Catalog, songs: list[np.ndarray],
                                                                  unchanged_first: bool) -> None:
    # 5 % higher: no match at the query's own pitch, so the first pass falls through to the grid.
    query = encode(pitch(songs[0][8 * RATE : 18 * RATE], RATE, 1.05), RATE, "pcm_s16le")
    own_pitch_only = AudioSearchConfig(align=AlignConfig(pitch_shifts_st=(0.0,), time_scales=(1.0,)))
    assert not any(h.envelope.match for h in search_audio(catalog, query, top_k=2, config=own_pitch_only))
    hits = search_audio(catalog, query, top_k=2, config=AudioSearchConfig(unchanged_first=unchanged_first))
    assert hits[0].asset_id == "song0" and hits[0].envelope.match
    seg = hits[0].envelope.matched_segments[0]
    assert seg.target_start_s - seg.source_start_s == pytest.approx(8.0, abs=0.3)


def test_unchanged_first_gives_the_grid_answer_for_an_unchanged_query(catalog: Catalog, songs: list[np.ndarray]) -> None:
    query = encode(songs[1][3 * RATE : 13 * RATE], RATE, "libmp3lame", 64000)
    quick, full = (search_audio(catalog, query, top_k=1, config=AudioSearchConfig(unchanged_first=flag))[0]
                   for flag in (True, False))
    assert quick.asset_id == full.asset_id == "song1"
    assert quick.envelope.similarity_score == pytest.approx(full.envelope.similarity_score, abs=0.05)
    q, f = quick.envelope.matched_segments[0], full.envelope.matched_segments[0]
    assert q.target_start_s - q.source_start_s == pytest.approx(f.target_start_s - f.source_start_s, abs=0.1)


def test_tempo_changed_query_is_aligned_in_full_not_by_the_first_pass(catalog: Catalog, songs: list[np.ndarray]) -> None:
    # Without its time-scale hypothesis a 5 % tempo change lines up for a few seconds only;
    # that partial answer must not stand in for the grid's full alignment.
    query = encode(tempo(songs[1][10 * RATE : 22 * RATE], RATE, 0.95), RATE, "pcm_s16le")
    hit = search_audio(catalog, query, top_k=1)[0]
    assert hit.asset_id == "song1" and hit.envelope.match
    seg = max(hit.envelope.matched_segments, key=lambda s: s.source_end_s - s.source_start_s)
    query_s = 12.0 / 0.95
    assert seg.source_end_s - seg.source_start_s >= 0.7 * query_s
    assert (seg.target_end_s - seg.target_start_s) / (seg.source_end_s - seg.source_start_s) == pytest.approx(0.95, abs=0.02)


def test_audio_query_finds_a_video_soundtrack_on_the_video_clock(catalog: Catalog, songs: list[np.ndarray]) -> None:
    query = encode(songs[2][25 * RATE : 33 * RATE], RATE, "aac", 48000)
    hits = search_audio(catalog, query, top_k=3)
    assert hits[0].asset_id == "clip" and hits[0].envelope.match
    assert hits[0].envelope.media_type == MediaType.VIDEO
    seg = hits[0].envelope.matched_segments[0]
    assert seg.target_start_s - seg.source_start_s == pytest.approx(25.0, abs=0.25)


def test_negative_query_and_deleted_asset_return_no_match(catalog: Catalog, songs: list[np.ndarray]) -> None:
    stranger = encode(music_like(10.0, RATE, seed=99), RATE, "pcm_s16le")
    assert not any(h.envelope.match for h in search_audio(catalog, stranger, top_k=5))
    catalog.delete("song0")
    query = encode(songs[0][5 * RATE : 15 * RATE], RATE, "pcm_s16le")
    assert not any(h.asset_id == "song0" for h in search_audio(catalog, query, top_k=5))


def test_match_audio_pairwise(tmp_path: Path, songs: list[np.ndarray]) -> None:
    a = tmp_path / "a.mp3"
    b = tmp_path / "b.wav"
    a.write_bytes(encode(songs[0][10 * RATE : 20 * RATE], RATE, "libmp3lame", 32000))
    b.write_bytes(encode(songs[0], RATE, "pcm_s16le"))
    envelope = match_audio(a, b)
    assert envelope.match and envelope.match_type == MatchType.PARTIAL
    seg = envelope.matched_segments[0]
    assert seg.target_start_s - seg.source_start_s == pytest.approx(10.0, abs=0.25)
    assert envelope.to_dict()["media_type"] == "audio"
    assert match_audio(a, a).match_type == MatchType.EXACT
    whole = match_audio(b, tmp_path / "b.wav")
    assert whole.match_type == MatchType.EXACT
    other = tmp_path / "c.wav"
    other.write_bytes(encode(songs[1], RATE, "pcm_s16le"))
    assert not match_audio(a, other).match
    reencoded = tmp_path / "d.m4a"
    reencoded.write_bytes(encode(songs[1], RATE, "aac", 48000))
    near = match_audio(reencoded, other)
    assert near.match and near.match_type == MatchType.NEAR_DUPLICATE
    assert near.overlap_seconds >= 35.0
