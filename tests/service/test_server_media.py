"""Video and audio through the gRPC service: ingest, search a clip / an excerpt, pairwise match.

Real encoded media made with PyAV: a video of scikit-image photographs with pans
and zooms, and a synthetic music signal encoded as WAV and MP3.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmarks.audio_transforms import encode, music_like
from benchmarks.video_transforms import Encoding, Piece, Shot, compose, encode_frames, render_shots
from search.service.client import NearmatchClient
from search.service.server import ServerConfig, create_server, stop_server

FPS = 10.0
SIZE = (320, 180)
RATE = 16000


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, np.ndarray]) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("server_media_av")
    shots = [Shot(photos[p], 6.0, m) for p, m in (("astronaut", "pan"), ("coffee", "zoom"), ("rocket", "pan"))]
    video = encode_frames(render_shots(shots, SIZE, FPS), folder / "first.mp4", Encoding("libx264", FPS))
    frames, _ = compose([Piece(video, 4.0, 14.0)], SIZE, FPS)
    clip = encode_frames(frames, folder / "clip.webm", Encoding("libvpx-vp9", FPS))
    song = music_like(40.0, RATE, seed=3)
    (folder / "song.wav").write_bytes(encode(song, RATE, "pcm_s16le"))
    (folder / "excerpt.mp3").write_bytes(encode(song[12 * RATE : 24 * RATE], RATE, "libmp3lame", 64000))
    (folder / "other.mp3").write_bytes(encode(music_like(12.0, RATE, seed=4), RATE, "libmp3lame", 64000))
    return {"video": video, "clip": clip, "song": folder / "song.wav", "excerpt": folder / "excerpt.mp3",
            "other": folder / "other.mp3"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, media: dict[str, Path]) -> Iterator[NearmatchClient]:
    catalog = tmp_path_factory.mktemp("server_av_catalog") / "catalog"
    server, port = create_server(ServerConfig(catalog=catalog, port=0, workers=2))
    # Small stream threshold: the video goes up as a streamed upload, the song in one message.
    with NearmatchClient(f"127.0.0.1:{port}", stream_above_bytes=64 * 1024) as c:
        assert c.ingest("first.mp4", media["video"])["asset"]["media_type"] == "video"
        song = c.ingest("song", media["song"], metadata={"isrc": "XX0000000001"})
        assert song["asset"]["media_type"] == "audio"
        yield c
    stop_server(server, 2.0)


def test_video_clip_search_finds_the_source_with_segments(client: NearmatchClient, media: dict[str, Path]) -> None:
    result = client.search(media["clip"], top_k=3)
    top = result["results"][0]
    assert top["asset_id"] == "first.mp4" and top["match"] and top["media_type"] == "video"
    segment = top["matched_segments"][0]
    assert abs(segment["target_start"] - 4.0) <= 1.0 and abs(segment["target_end"] - 14.0) <= 1.0


def test_video_pairwise_match(client: NearmatchClient, media: dict[str, Path]) -> None:
    envelope = client.match(media["clip"], media["video"])
    assert envelope["match"] and envelope["media_type"] == "video" and envelope["matched_segments"]
    assert envelope["overlap_seconds"] >= 6.0


def test_audio_excerpt_search_finds_the_song(client: NearmatchClient, media: dict[str, Path]) -> None:
    result = client.search(media["excerpt"], top_k=3)
    top = result["results"][0]
    assert top["asset_id"] == "song" and top["match"] and top["media_type"] == "audio"
    assert top["metadata"] == {"isrc": "XX0000000001"}
    segment = top["matched_segments"][0]
    assert abs(segment["target_start"] - 12.0) <= 1.0
    assert not any(hit["match"] for hit in client.search(media["other"], top_k=3)["results"])


def test_audio_pairwise_match(client: NearmatchClient, media: dict[str, Path]) -> None:
    assert client.match(media["excerpt"], media["song"])["match"] is True
    assert client.match(media["other"], media["song"])["match"] is False
